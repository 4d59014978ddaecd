/* wht_half.h: the shared-memory layout of TQ-WHT's half-group path at d = 512 (RbkWhtHalf in
 * kernels/turboquant_wht.cu), usable on the host and the device.
 *
 * A warp holds one row: lane l has NV vectors of VW values (VW = 4 at fp32, 8 at fp16), value
 * (vector i, lane l, element e) being coordinate (i 32 + l) VW + e. The row is stored in
 * 4-value quads: quad (i, e / 4) of lane l at word
 *     i IS + (e / 4) QS + (l / 16) HS + (l % 16) 4 + e % 4,   HS = 68, QS = 136, IS = (VW / 4) QS,
 * so a quarter-warp's 16-byte stores and loads of the load layout cover 128 contiguous bytes.
 * Then lane L = (i, h, e) = (L / (2 VW), L / VW % 2, L % VW) reads the 16 values of lanes
 * 16 h .. 16 h + 15 at (i, e) with scalar loads: HS = 4, QS = 8 and IS = 8 (fp32) or 16 (fp16)
 * mod 32 put each such load's 32 lanes in 32 different banks. tests/test_wht_half.c checks both
 * claims and that every value has its own word below RB_WHT_HALF_WORDS. */
#ifndef RB_WHT_HALF_H
#define RB_WHT_HALF_H

#define RB_WHT_HALF_HS 68
#define RB_WHT_HALF_QS (2 * RB_WHT_HALF_HS)
#define RB_WHT_HALF_IS(VW) ((VW) / 4 * RB_WHT_HALF_QS)
#define RB_WHT_HALF_WORDS(NV, VW) ((NV) * RB_WHT_HALF_IS(VW))
#define RB_WHT_HALF_WORD(VW, i, l, e)                                                            \
    ((i) * RB_WHT_HALF_IS(VW) + ((e) >> 2) * RB_WHT_HALF_QS + ((l) >> 4) * RB_WHT_HALF_HS +      \
     ((l) & 15) * 4 + ((e) & 3))

#endif
