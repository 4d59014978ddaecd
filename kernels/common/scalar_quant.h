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

/* ---- the cell table: the same index in a handful of instructions, whatever the bits ---------
 * A uniform grid of RB_SQ_CELLS cells over [bounds[0], bounds[n-1]]: cell(y) = clamp(floor((y -
 * lo) * scale)). cell() is monotone in y (each fp32 step rounds monotonically), so each cell is
 * an interval of floats, and the boundaries that can split a cell are exactly those k with
 * cell(B_k) == cell(next float above B_k) == t. When at most one does, the cell's entry
 * {threshold, c_lo, c_hi} gives centroids[rb_sq_index(y)] as y > threshold ? c_hi : c_lo,
 * bit for bit (tests/test_quant.c checks every boundary's neighbours). Lloyd-Max codebooks of up
 * to 6 bits always build; a cell holding two boundaries makes rb_sq_cell_entry return -1 and the
 * caller keeps rb_sq_index. The fast kernels build the table in shared memory per thread block. */
#define RB_SQ_CELLS 256

RB_HD float rb_sq_cell_scale(const float *bounds, int nbounds)
{
    float w = bounds[nbounds - 1] - bounds[0];
    return w > 0.0f ? (float)(RB_SQ_CELLS - 1) / w : 0.0f;
}

RB_HD int rb_sq_cell(float y, float lo, float scale)
{
    float t = floorf((y - lo) * scale);
    return (int)fminf(fmaxf(t, 0.0f), (float)(RB_SQ_CELLS - 1));
}

/* Entry of cell t into e[0..2]; 0, or -1 when two boundaries split the cell. */
RB_HD int rb_sq_cell_entry(const float *bounds, const float *centroids, int nbounds, int t, float *e)
{
    const float lo = bounds[0], scale = rb_sq_cell_scale(bounds, nbounds);
    int base = 0, hi = nbounds; /* base = #{k : cell(B_k) < t}, by bisection (monotone in k) */
    while (base < hi) {
        int mid = (base + hi) / 2;
        if (rb_sq_cell(bounds[mid], lo, scale) < t)
            base = mid + 1;
        else
            hi = mid;
    }
    int nsplit = 0;
    for (int k = base; k < nbounds && k < base + 2; k++)
        nsplit += rb_sq_cell(bounds[k], lo, scale) == t &&
                  rb_sq_cell(nextafterf(bounds[k], INFINITY), lo, scale) == t;
    e[0] = nsplit ? bounds[base] : INFINITY;
    e[1] = centroids[base];
    e[2] = centroids[nsplit ? base + 1 : base];
    return nsplit <= 1 ? 0 : -1;
}

/* The whole table, 4 floats a cell {threshold, c_lo, c_hi, 0} (the kernels' float4 layout):
 * 0, or -1 when some cell holds two boundaries (then the table must not be used). */
RB_HD int rb_sq_cell_table(const float *bounds, const float *centroids, int nbounds, float *tab)
{
    int rc = 0;
    for (int t = 0; t < RB_SQ_CELLS; t++) {
        rc |= rb_sq_cell_entry(bounds, centroids, nbounds, t, tab + 4 * t);
        tab[4 * t + 3] = 0.0f;
    }
    return rc;
}

RB_HD float rb_sq_cell_qdq(float y, const float *e /* the entry of rb_sq_cell(y, lo, scale) */)
{
    return y > e[0] ? e[2] : e[1];
}

#endif
