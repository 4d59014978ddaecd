/* kvattn_split.h: how decode attention's kernels (kernels/kv_attention.cu) cut a split into warps
 * and tiles and in which order they take their sums: one definition for the kernels and for the
 * CPU reference (harness/kvattn_cpu.c), which takes the same order so that the backends differ by
 * expf's last ulps, not by two summation orders over thousands of tokens (kvattn.h has the
 * math, the layout and the split).
 *
 * A split is one CTA of RB_KVA_NW warps; warp w works alone until the merge.
 *   compressed  warp w takes the RB_KVA_TT-token tiles w, w + NW, ... of its split. Per tile,
 *               lane i scores token i: sc = sum over the coordinates in order of a table entry
 *               (rb_kva_table: 2, fmaf(q'_{2p+1}, c[b], q'_{2p} c[a]) per pair of coordinates;
 *               1, q'_j c[code] per coordinate) or sc = fmaf(q'_j, c[code], sc) (no table);
 *               s = sc rho_k scale. The warp's running max m goes to m' = max(m, the tile's),
 *               f = exp(m - m'), each lane's own sum l = fmaf(l, f, p_i), and each coordinate's
 *               accumulator is scaled by f and then takes acc = fmaf(p_t rho_v, c, acc) token by
 *               token. At the end the 32 lanes' l are summed by a butterfly.
 *   fp16        warp w takes steps of U tokens (rb_kva_fp16_u) at w U, (w + NW) U, ...; a
 *               token's score is the lanes' fmaf chains over their slots (rb_kva_fp16_kp slots a
 *               lane, 2 coordinates a slot for even d) summed by a butterfly, times scale; then
 *               l = l f, acc = acc f, and token by token l += p, acc = fmaf(p, v, acc).
 *   merge       M = max of the warps' m, then x = fmaf(x_w, exp(m_w - M), x) over the warps in
 *               order for l and every acc; the combine does the same over the splits, then
 *               o' = acc / L and o = Pi^T o' as one fmaf chain per coordinate.
 *   q'          q' = Pi q_pad: for each coordinate, lane i's fmaf chain over j = i, i + 32, ...
 *               then a butterfly.
 * A butterfly sums v over 32 lanes as v_i += v_{i xor o} for o = 16, 8, 4, 2, 1. exp(-inf - M)
 * is taken as 0 (an empty state). */
#ifndef RB_KVATTN_SPLIT_H
#define RB_KVATTN_SPLIT_H

#include "rb_hd.h"

#define RB_KVA_NW 4            /* warps per split CTA */
#define RB_KVA_TT 32           /* tokens per warp tile (compressed) */
#define RB_KVA_U_MAX 8         /* tokens per warp step (fp16): 8 up to 2 query heads a kv head, else 4 */
#define RB_KVA_KM 8            /* coordinates (or fp16 slots) per lane at most: dpad <= 256 */
#define RB_KVA_PAIR_BYTES 32768
#define RB_KVA_TABLE_BYTES 32768

/* Query heads a kernel instance handles (the next power of two of G, up to 8). */
RB_HD int rb_kva_gm(int G) { return G <= 1 ? 1 : G <= 2 ? 2 : G <= 4 ? 4 : 8; }

/* The compiled width of the compressed split kernel: 32-coordinate chunks a row, for 2..4 bits,
 * one or two query heads a kv head and d = 64, 96, 128, 256 (RotorQuant's 66, 129 too); 0: the
 * run-time width. */
RB_HD int rb_kva_nch(int bits, int G, int dpad)
{
    if (bits < 2 || bits > 4 || G > 2)
        return 0;
    const int n = (dpad + 31) / 32;
    return n == 2 || n == 3 || n == 4 || n == 5 || n == 8 ? n : 0;
}

/* The score table: 2, centroid pairs scaled by q' (compiled widths, where it fits); 1, single
 * centroids scaled by q'; 0, none (q'_j c[code] per coordinate). */
RB_HD int rb_kva_table(int bits, int nch, int G, int dpad)
{
    const long nc = 1L << bits, W = nch > 0 ? 32L * nch : dpad;
    if (nch > 0 && G * (W / 2) * nc * nc * 4 <= RB_KVA_PAIR_BYTES)
        return 2;
    return nc <= 32 && G * W * nc * 4 <= RB_KVA_TABLE_BYTES ? 1 : 0;
}

/* exp(a - m), 0 when a state was empty (a = -inf): keeps -inf - -inf from making a NaN. */
RB_HD float rb_kva_rescale(float a, float m) { return a == -INFINITY ? 0.0f : expf(a - m); }

/* fp16 cache: slots a lane (2 coordinates a slot for even d, 1 for odd d) and tokens a step. */
RB_HD int rb_kva_fp16_kp(int d) { return d & 1 ? RB_KVA_KM : d / 2 <= 32 ? 1 : d / 2 <= 64 ? 2 : 4; }
RB_HD int rb_kva_fp16_u(int G) { return rb_kva_gm(G) <= 2 ? RB_KVA_U_MAX : RB_KVA_U_MAX / 2; }

/* ---- the compressed split kernel's shared memory -------------------------------------------- */
#define RB_KVA_KSTRIDE 33 /* words between a K tile's columns (column-major: lanes hit 32 banks) */
#define RB_KVA_VSLACK 8   /* words after a V tile: the last lanes' second word (compiled widths) */

RB_HD int rb_kva_align4(int x) { return (x + 3) & ~3; }

/* Offsets and sizes in 4-byte words: the centroids, q' (G rows of W), the score table, the V
 * pair table (compiled widths up to 3 bits: 16 replicas of the centroid pairs), then per warp
 * its K and V tiles, double-buffered, and its weights w[G][TT], then the warps' merge states. */
typedef struct {
    int cent, qs, tab, vtab, warp0, warp_words, merge, total;
    int ktile_words, vtile_words, table; /* table: 2 pairs, 1 single, 0 none */
} rb_kva_smem_plan;

/* nch: rb_kva_nch (0: the run-time width); rw: a code row's 4-byte words. */
RB_HD rb_kva_smem_plan rb_kva_smem(int bits, int nch, int G, int dpad, int rw)
{
    rb_kva_smem_plan p;
    const int nc = 1 << bits, W = nch > 0 ? 32 * nch : dpad;
    const int vpair = nch > 0 && bits <= 3;
    p.table = rb_kva_table(bits, nch, G, dpad);
    p.ktile_words = rb_kva_align4((nch > 0 ? nch * bits : rw) * RB_KVA_KSTRIDE);
    p.vtile_words = rb_kva_align4(RB_KVA_TT * rw + (nch > 0 ? RB_KVA_VSLACK : 0));
    p.cent = 0;
    p.qs = rb_kva_align4(nc);
    p.tab = p.qs + rb_kva_align4(G * W);
    p.vtab = p.tab + (p.table == 2   ? rb_kva_align4(G * (W / 2) * nc * nc)
                      : p.table == 1 ? rb_kva_align4(G * W * nc)
                                     : 0);
    p.warp0 = p.vtab + (vpair ? 2 * 16 * nc * nc : 0);
    p.warp_words = 2 * p.ktile_words + 2 * p.vtile_words + rb_kva_align4(G * RB_KVA_TT);
    p.merge = p.warp0 + RB_KVA_NW * p.warp_words;
    p.total = p.merge + RB_KVA_NW * G * (dpad + 2);
    return p;
}

/* The fp16 split kernel over rows of 16-byte pieces (d a multiple of 8) stages each warp's steps
 * in shared memory: RB_KVA_FP16_STAGES buffers of U tokens' K and V rows, the next ones' copies
 * in flight while one is computed. Other d take the register kernel. */
#define RB_KVA_FP16_STAGES 3
RB_HD int rb_kva_fp16_staged(int d) { return d % 8 == 0; }
RB_HD int rb_kva_fp16_stage_words(int G, int d) { return rb_kva_fp16_u(G) * d; /* K and V: U d / 2 words each */ }

/* The fp16 split kernel's shared memory in words: with staged = 1 the warps' stage buffers
 * first, then q (G rows of d), then the warps' merge states. */
RB_HD int rb_kva_fp16_smem_words(int G, int d, int staged)
{
    const int stages = staged ? RB_KVA_NW * RB_KVA_FP16_STAGES * rb_kva_fp16_stage_words(G, d) : 0;
    return stages + rb_kva_align4(G * d) + RB_KVA_NW * G * (d + 2);
}

#endif
