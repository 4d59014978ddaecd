/* The cell table of scalar_quant.h (what the fast kernels quantize with) gives exactly the
 * centroid of rb_sq_index: at every boundary and its float neighbours, at every cell edge, and
 * on random values, for both codebook kinds, several d and 1..8 bits. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "codebook.h"
#include "scalar_quant.h"

static float step(float y, int k) /* k floats above (k > 0) or below y */
{
    for (; k > 0; k--)
        y = nextafterf(y, INFINITY);
    for (; k < 0; k++)
        y = nextafterf(y, -INFINITY);
    return y;
}

/* Floats in order as unsigned keys, and back. */
static uint32_t key_of(float y)
{
    uint32_t u;
    memcpy(&u, &y, sizeof u);
    return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

static float float_of(uint32_t k)
{
    uint32_t u = (k & 0x80000000u) ? k & 0x7fffffffu : ~k;
    float y;
    memcpy(&y, &u, sizeof y);
    return y;
}

/* The smallest float in [lo, hi] whose cell is >= t (cell() is monotone). */
static float first_in_cell(rb_sq_cellmap m, int t, float lo, float hi)
{
    uint32_t a = key_of(lo), b = key_of(hi);
    while (a < b) {
        uint32_t mid = a + (b - a) / 2;
        if (rb_sq_cell(float_of(mid), m) >= t)
            b = mid;
        else
            a = mid + 1;
    }
    return float_of(a);
}

/* 1 when the table's answer for y is bit-identical to the reference's. */
static int agrees(float y, const rb_codebook *cb, const float *tab)
{
    const int n = cb->nlevels - 1;
    float a = rb_sq_cell_qdq(y, tab + 3 * rb_sq_cell(y, rb_sq_cell_map(cb->bounds_f, n)));
    float b = rb_sq_qdq(y, cb->bounds_f, cb->centroids_f, n);
    return memcmp(&a, &b, sizeof a) == 0;
}

/* The select tree of the tensor-core kernel's register route (rb_sq_qdq3) against the boundary
 * count, for 1..3 boundaries (2-bit and 1-bit codebooks, padded with +inf), at every boundary and
 * its float neighbours, on random values, at the signed zeros, the infinities and NaN. */
TEST(sq_select_tree_matches_boundary_count)
{
    static const rb_codebook_kind kinds[] = {RB_CODEBOOK_GAUSSIAN, RB_CODEBOOK_BETA};
    static const int dims[] = {64, 128, 256, 512};
    for (int ki = 0; ki < 2; ki++)
        for (int di = 0; di < 4; di++)
            for (int bits = 1; bits <= 2; bits++) {
                rb_codebook cb;
                if (rb_codebook_solve(kinds[ki], dims[di], bits, &cb)) {
                    CHECK(0, "codebook kind %d d=%d b=%d did not solve", ki, dims[di], bits);
                    continue;
                }
                const int n = cb.nlevels - 1;
                float b[3], c[4];
                for (int k = 0; k < 3; k++)
                    b[k] = k < n ? cb.bounds_f[k] : INFINITY;
                for (int k = 0; k < 4; k++)
                    c[k] = k <= n ? cb.centroids_f[k] : 0.0f;
                long tried = 0, wrong = 0;
                float ys[64];
                int ny = 0;
                const float sp[] = {0.0f, -0.0f, 1.0f, -1.0f, 1e30f, -1e30f, INFINITY, -INFINITY};
                for (int i = 0; i < 8; i++)
                    ys[ny++] = sp[i];
                for (int k = 0; k < n; k++)
                    for (int s = -3; s <= 3; s++)
                        ys[ny++] = step(cb.bounds_f[k], s);
                for (int i = 0; i < ny; i++, tried++) {
                    const float a = rb_sq_qdq3(ys[i], b, c), r = rb_sq_qdq(ys[i], cb.bounds_f, cb.centroids_f, n);
                    wrong += memcmp(&a, &r, sizeof a) != 0;
                }
                uint32_t lcg = 77u + (uint32_t)bits;
                for (int i = 0; i < 20000; i++, tried++) {
                    lcg = lcg * 1664525u + 1013904223u;
                    const float y = 0.5f * ((float)(lcg >> 8) / 16777216.0f - 0.5f);
                    const float a = rb_sq_qdq3(y, b, c), r = rb_sq_qdq(y, cb.bounds_f, cb.centroids_f, n);
                    wrong += memcmp(&a, &r, sizeof a) != 0;
                }
                const float nan = NAN, an = rb_sq_qdq3(nan, b, c);
                wrong += memcmp(&an, &c[0], sizeof an) != 0; /* the count is 0 for NaN too */
                CHECK(wrong == 0, "kind %d d=%d b=%d: %ld of %ld values select another centroid", ki, dims[di],
                      bits, wrong, tried + 1);
            }
}

TEST(sq_cell_table_matches_boundary_count)
{
    static const rb_codebook_kind kinds[] = {RB_CODEBOOK_GAUSSIAN, RB_CODEBOOK_BETA};
    static const int dims[] = {64, 128, 256, 512};
    float tab[3 * RB_SQ_CELLS];
    for (int ki = 0; ki < 2; ki++)
        for (int di = 0; di < 4; di++)
            for (int bits = 1; bits <= 8; bits++) {
                rb_codebook cb;
                if (rb_codebook_solve(kinds[ki], dims[di], bits, &cb)) {
                    CHECK(0, "codebook kind %d d=%d b=%d did not solve", ki, dims[di], bits);
                    continue;
                }
                const int n = cb.nlevels - 1;
                int bad_cells = 0;
                for (int t = 0; t < RB_SQ_CELLS; t++)
                    bad_cells += rb_sq_cell_entry(cb.bounds_f, cb.centroids_f, n, t, tab + 3 * t) != 0;
                if (bits <= 6)
                    CHECK(bad_cells == 0, "kind %d d=%d b=%d: %d cells hold two boundaries", ki, dims[di],
                          bits, bad_cells);
                if (bad_cells)
                    continue; /* the kernels fall back to the boundary count */
                long tried = 0, wrong = 0;
                for (int k = 0; k < n; k++)
                    for (int s = -3; s <= 3; s++, tried++)
                        wrong += !agrees(step(cb.bounds_f[k], s), &cb, tab);
                /* cell edges: the first float of each cell (bisection over the floats' order)
                 * and its neighbours */
                const rb_sq_cellmap m = rb_sq_cell_map(cb.bounds_f, n);
                int edges = 0;
                for (int t = 1; t < RB_SQ_CELLS && m.a > 0.0f; t++) {
                    float y = first_in_cell(m, t, -2.0f, 2.0f);
                    edges += rb_sq_cell(y, m) == t && rb_sq_cell(nextafterf(y, -INFINITY), m) == t - 1;
                    for (int s = -2; s <= 2; s++, tried++)
                        wrong += !agrees(step(y, s), &cb, tab);
                }
                if (m.a > 0.0f)
                    CHECK(edges == RB_SQ_CELLS - 1, "kind %d d=%d b=%d: %d of %d cell edges found", ki,
                          dims[di], bits, edges, RB_SQ_CELLS - 1);
                uint32_t lcg = 2026u + (uint32_t)bits;
                const float span = 1.5f * (cb.bounds_f[n - 1] - cb.bounds_f[0]) + 0.1f;
                for (int i = 0; i < 20000; i++, tried++) {
                    lcg = lcg * 1664525u + 1013904223u;
                    wrong += !agrees(span * ((float)(lcg >> 8) / 16777216.0f - 0.5f), &cb, tab);
                }
                wrong += !agrees(0.0f, &cb, tab) + !agrees(-0.0f, &cb, tab) + !agrees(1.0f, &cb, tab) +
                         !agrees(-1.0f, &cb, tab) + !agrees(1e30f, &cb, tab) + !agrees(-1e30f, &cb, tab);
                CHECK(wrong == 0, "kind %d d=%d b=%d: %ld of %ld values quantize differently", ki,
                      dims[di], bits, wrong, tried + 6);
            }
}
