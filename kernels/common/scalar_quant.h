/* scalar_quant.h: the Lloyd-Max scalar quantizer shared by every rotation method.
 * The index is the number of boundaries y exceeds (branch-free, 2^b - 1 compares); a value
 * exactly on a boundary goes to the lower cell. */
#ifndef RB_SCALAR_QUANT_H
#define RB_SCALAR_QUANT_H

#include "rb_hd.h"

RB_HD int rb_sq_index(float y, const float *bounds, int nbounds)
{
    int idx = 0;
    for (int k = 0; k < nbounds; k++)
        idx += (y > bounds[k]);
    return idx;
}

RB_HD float rb_sq_qdq(float y, const float *bounds, const float *centroids, int nbounds)
{
    return centroids[rb_sq_index(y, bounds, nbounds)];
}

/* rb_sq_qdq for at most 3 boundaries as a select tree, b padded with +inf to 3 and c to 4
 * entries: for sorted boundaries y > b1 implies y > b0 and y <= b1 implies y <= b2, so the tree
 * picks centroid (y > b0) + (y > b1) + (y > b2); NaN takes c0 either way. The tensor-core
 * kernel's register route: two compares deep, no index arithmetic, no indexed load. */
RB_HD float rb_sq_qdq3(float y, const float b[3], const float c[4])
{
    return y > b[1] ? (y > b[2] ? c[3] : c[2]) : (y > b[0] ? c[1] : c[0]);
}

/* ---- the cell table: the same index in a handful of instructions, whatever the bits ---------
 * RB_SQ_CELLS cells over [bounds[0], bounds[n-1]], by a map that costs two FMAs and no
 * conversion instruction (F2I and FRND run at 1/8 of the FMA rate on sm_90 and were the
 * quantizer's largest cost):
 *     u = sat(fma(y, m.a, m.b))               (clamped to [0, 1]; NaN -> 0, as FFMA.SAT does)
 *     f = fma(u, RB_SQ_CELLS - 1, 2^23)        (a float in [2^23, 2^23 + 127]: its low bits are
 *     cell = bits(f) - bits(2^23)               the nearest integer to 127 u, ties to even)
 * Each step is a correctly rounded monotone function, so cell() is monotone in y and every
 * cell is an interval of floats; the boundaries that can split a cell are exactly those k with
 * cell(B_k) == cell(next float above B_k) == t. When at most one does, the cell's entry
 * {threshold, c_lo, c_hi} gives centroids[rb_sq_index(y)] as y > threshold ? c_hi : c_lo,
 * bit for bit, whatever m.a and m.b are (they only decide how evenly the cells fall; host and
 * device compute the same map, fmaf being exact on both). tests/test_quant.c and
 * tests/test_sq_cells.c check every boundary's and every cell edge's neighbours. Lloyd-Max
 * codebooks of up to 6 bits always build; a cell holding two boundaries makes
 * rb_sq_cell_entry return -1 and the caller keeps rb_sq_index. 128 cells (not more): the GPU
 * holds 8 copies of the table in shared memory (16 KiB; kernels/qdq_common.cuh says why). */
#define RB_SQ_CELLS 128
#define RB_SQ_CELL_MAGIC 8388608.0f /* 2^23: adding it leaves the nearest integer in the low bits */

typedef struct {
    float a, b; /* u = sat(fma(y, a, b)) */
} rb_sq_cellmap;

RB_HD rb_sq_cellmap rb_sq_cell_map(const float *bounds, int nbounds)
{
    rb_sq_cellmap m = {0.0f, 0.0f};
    float w = bounds[nbounds - 1] - bounds[0];
    if (w > 0.0f) {
        m.a = 1.0f / w;
        m.b = -bounds[0] * m.a;
    }
    return m;
}

RB_HD float rb_sat(float t)
{
#ifdef __CUDA_ARCH__
    return __saturatef(t); /* the same: NaN -> 0 */
#else
    return t > 0.0f ? (t < 1.0f ? t : 1.0f) : 0.0f; /* NaN -> 0 */
#endif
}

RB_HD int rb_sq_cell(float y, rb_sq_cellmap m)
{
    float f = fmaf(rb_sat(fmaf(y, m.a, m.b)), (float)(RB_SQ_CELLS - 1), RB_SQ_CELL_MAGIC);
    return (int)(rb_f32_bits(f) - 0x4b000000u);
}

/* The index of cell t's low centroid: #{k : cell(B_k) < t}, by bisection (monotone in k). */
RB_HD int rb_sq_cell_base(const float *bounds, int nbounds, int t)
{
    const rb_sq_cellmap m = rb_sq_cell_map(bounds, nbounds);
    int base = 0, hi = nbounds;
    while (base < hi) {
        int mid = (base + hi) / 2;
        if (rb_sq_cell(bounds[mid], m) < t)
            base = mid + 1;
        else
            hi = mid;
    }
    return base;
}

/* Entry of cell t into e[0..2]; 0, or -1 when two boundaries split the cell. */
RB_HD int rb_sq_cell_entry(const float *bounds, const float *centroids, int nbounds, int t, float *e)
{
    const rb_sq_cellmap m = rb_sq_cell_map(bounds, nbounds);
    const int base = rb_sq_cell_base(bounds, nbounds, t);
    int nsplit = 0;
    for (int k = base; k < nbounds && k < base + 2; k++)
        nsplit += rb_sq_cell(bounds[k], m) == t && rb_sq_cell(nextafterf(bounds[k], INFINITY), m) == t;
    e[0] = nsplit ? bounds[base] : INFINITY;
    e[1] = centroids[base];
    e[2] = centroids[nsplit ? base + 1 : base];
    return nsplit <= 1 ? 0 : -1;
}

/* The whole table, 4 floats a cell {threshold, c_lo, c_hi, lo} (the kernels' float4 layout;
 * lo = rb_sq_cell_base, the low centroid's index as a float, so an encoder gets the index
 * rb_sq_index(y) = lo + (y > threshold) from the same load): 0, or -1 when some cell holds two
 * boundaries (then the table must not be used). */
RB_HD int rb_sq_cell_table(const float *bounds, const float *centroids, int nbounds, float *tab)
{
    int rc = 0;
    for (int t = 0; t < RB_SQ_CELLS; t++) {
        rc |= rb_sq_cell_entry(bounds, centroids, nbounds, t, tab + 4 * t);
        tab[4 * t + 3] = (float)rb_sq_cell_base(bounds, nbounds, t);
    }
    return rc;
}

/* rb_sq_index(y) from y's cell entry (of a table that rb_sq_cell_table accepted). */
RB_HD int rb_sq_cell_index(float y, const float *e) { return (int)e[3] + (y > e[0]); }

RB_HD float rb_sq_cell_qdq(float y, const float *e /* the entry of rb_sq_cell(y, m) */)
{
    return y > e[0] ? e[2] : e[1];
}

#endif
