/* wht_smem.h: the shared-memory layout of TQ-WHT's lane-group path (RbkWhtSmem in
 * kernels/turboquant_wht.cu: G = 4..16 lanes a row, each lane holding whole lane groups),
 * usable on the host and the device.
 *
 * Lane l of a row's group holds NV vectors of VW values (VW = 4 at fp32, 8 at fp16); value
 * (vector i, lane l, element e) is coordinate (i G + l) VW + e. The row is stored in 4-value
 * quads: quad (i, e / 4) of lane l at word
 *     i IS + (e / 4) HS + 4 l + e % 4,   HS = 4 G + 4, IS = (VW / 4) HS = (G + 1) VW,
 * and a thread block's rows S words apart, S = NV IS rounded up to G mod 32. At VW = 8 a lane's
 * two quads of a vector lie HS words apart, so a quarter-warp's 16-byte stores and loads (8 lanes
 * of one row at G >= 8) cover 128 contiguous bytes; stored contiguously, they spanned 256 bytes,
 * two lanes to a bank group (ncu, H100, fp16, N = 2^20: 8.9 M bank conflicts of TQ-WHT's decode).
 * The lane stages' scalar loads and stores, lane gl taking value (i, g, e) for g = 0..G-1 with
 * i = gl / VW + (G / VW) t and e = gl % VW, meet 32 different banks: HS = 4 and IS = 8 mod 32 put
 * a row's G lanes in G consecutive banks, and S = G mod 32 puts the warp's 32 / G rows side by
 * side. At G = 4 (two rows in a quarter-warp) the quads still meet two to a bank group: S would
 * need 16 mod 32, the scalar loads 4. tests/test_wht_smem.c checks these claims and that every
 * value has its own word below S. */
#ifndef RB_WHT_SMEM_H
#define RB_WHT_SMEM_H

#define RB_WHT_SMEM_HS(G) (4 * (G) + 4)
#define RB_WHT_SMEM_IS(G, VW) ((VW) / 4 * RB_WHT_SMEM_HS(G))
#define RB_WHT_SMEM_S0(G, NV, VW) ((NV) * RB_WHT_SMEM_IS(G, VW))
#define RB_WHT_SMEM_S(G, NV, VW) (RB_WHT_SMEM_S0(G, NV, VW) + (((G) - RB_WHT_SMEM_S0(G, NV, VW)) % 32 + 32) % 32)
/* word of (vector i, lane l, element e) */
#define RB_WHT_SMEM_WORD(G, VW, i, l, e) \
    ((i) * RB_WHT_SMEM_IS(G, VW) + ((e) >> 2) * RB_WHT_SMEM_HS(G) + (l) * 4 + ((e) & 3))
/* word of value g of lane gl's group t in the lane stages' layout */
#define RB_WHT_SMEM_LANE_WORD(G, VW, gl, t, g) \
    RB_WHT_SMEM_WORD(G, VW, (gl) / (VW) + (G) / (VW) * (t), g, (gl) % (VW))

#endif
