/* hqmq_cells.h: HQMQ's cell search, the same answer as rb_hqmq_search (so brute force's) from a
 * short list of candidate codewords instead of all S secondaries.
 *
 * Symmetry: the codebook {q_p q_s} is closed under left multiplication by 2T, so a direction u
 * and g u (g in 2T) have their best codewords in the same secondary s. The search maps u by the
 * axis unit g = +-e_k of its largest |u_k| to z = conj(g) u (a signed permutation: exact), which
 * has z0 = |u_k| >= |z_j|, so x = (z1, z2, z3) / z0 lies in the cube [-1, 1]^3 (gnomonic
 * coordinates). The cube is cut into G^3 cells; harness/hqmq_celltab.c lists for each cell every
 * codeword q_p' q_s that can be within RB_HQMQ_CELL_DELTA of the best score of some direction of
 * the (slightly enlarged) cell, by the triangle inequality on the sphere. The best codeword of
 * u is then g q_p' q_s for a listed (p', s).
 *
 * Exactness: the listed codewords' scores <z, q_p' q_s> are formed in fp32 (4 FMA each, error
 * below 1e-6 of |z|); every listed codeword within RB_HQMQ_CELL_WINDOW |z| of the largest is a
 * possible answer. One of them: that is brute force's codeword (the reference's codeword scores within
 * 2e-6 of the true best, so it is listed and inside the window). Several: each one's secondary
 * is scored exactly as rb_hqmq_search does (rb_hqmq_best_unit of u conj(q_s)) and the order of
 * rb_hqmq_search (score, then smaller p, then smaller s) decides. A cell whose list does not fit
 * a record, and a chunk with r <= 1e-8 (u then short of unit; a zero chunk scores 0 everywhere
 * and brute force takes codeword 0), go to rb_hqmq_search_ps. The search runs on the chunk v
 * itself (scores r times those of u = v / r): u, four divisions, is formed only on those paths. */
#ifndef RB_HQMQ_CELLS_H
#define RB_HQMQ_CELLS_H

#include "hqmq.h"

#define RB_HQMQ_CELL_SLOTS 16               /* uint16 per record: the count, then up to 15 ids */
#define RB_HQMQ_CELL_IDS (RB_HQMQ_CELL_SLOTS - 1)
#define RB_HQMQ_CELL_OVERFLOW 0xFFFFu       /* count of a cell whose list does not fit */
#define RB_HQMQ_CELL_MAX_S 256              /* ids are codeword indices p' S + s < 2^16 */
#define RB_HQMQ_CELL_WINDOW 7.62939453125e-06f /* 2^-17: a listed score this close to the largest may win */
#define RB_HQMQ_CELL_DELTA 1e-5             /* the lists' reach below the best score (errors: 1e-6) */
#define RB_HQMQ_CELL_MARGIN 6.103515625e-05 /* 2^-14: each cell enlarged by this in x (rounding of x) */

/* Load 4 floats (16-byte aligned on the device: one LDS.128 / LDG.128). */
RB_HD void rb_hqmq_ld4(const float *p, float o[4])
{
#ifdef __CUDA_ARCH__
    const float4 t = *reinterpret_cast<const float4 *>(p);
    o[0] = t.x; o[1] = t.y; o[2] = t.z; o[3] = t.w;
#else
    o[0] = p[0]; o[1] = p[1]; o[2] = p[2]; o[3] = p[3];
#endif
}

/* z = conj(g) u for g = +-e_k, k the first largest |u_k|, sign that of u_k: then z0 = |u_k|.
 * Returns g's index in 2T (2 k, + 1 for -e_k). */
RB_HD int rb_hqmq_cell_reduce(const float u[4], float z[4])
{
    const float a0 = fabsf(u[0]), a1 = fabsf(u[1]), a2 = fabsf(u[2]), a3 = fabsf(u[3]);
    int k = 0;
    float m = a0;
    if (a1 > m) { m = a1; k = 1; }
    if (a2 > m) { m = a2; k = 2; }
    if (a3 > m) { k = 3; }
    /* conj(e_k) (a + b i + c j + d k): e_0 = 1: (a, b, c, d); i: (b, -a, d, -c); j: (c, -d, -a, b);
     * k: (d, c, -b, -a) */
    float t0 = u[0], t1 = u[1], t2 = u[2], t3 = u[3];
    if (k == 1) { t0 = u[1]; t1 = -u[0]; t2 = u[3]; t3 = -u[2]; }
    if (k == 2) { t0 = u[2]; t1 = -u[3]; t2 = -u[0]; t3 = u[1]; }
    if (k == 3) { t0 = u[3]; t1 = u[2]; t2 = -u[1]; t3 = -u[0]; }
    const bool neg = t0 < 0.0f; /* t0 = u_k */
    z[0] = neg ? -t0 : t0;
    z[1] = neg ? -t1 : t1;
    z[2] = neg ? -t2 : t2;
    z[3] = neg ? -t3 : t3;
    return 2 * k + (neg ? 1 : 0);
}

/* The cell of a reduced z: cell i_j of axis j holds x_j = z_j / z0 in [2 i_j / G - 1, 2 (i_j + 1) / G - 1];
 * index (i1 G + i2) G + i3. Clamped, and 0 for a NaN (fmaxf keeps the number). The index only
 * says which list to read, and every cell's list covers its box enlarged by RB_HQMQ_CELL_MARGIN,
 * so the device may take the approximate reciprocal (2 ulp): a point that lands in the
 * neighbouring cell through it lies within 1e-6 of that cell's box. */
RB_HD int rb_hqmq_cell_of(const float z[4], int G)
{
#ifdef __CUDA_ARCH__
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(z[0]));
#else
    const float r = 1.0f / z[0];
#endif
    const float h = 0.5f * (float)G, top = (float)(G - 1);
    int c = 0;
    for (int j = 1; j < 4; j++) /* (x + 1) G / 2, clamped before the conversion (an infinite x: z0 tiny) */
        c = c * G + (int)fminf(fmaxf(fmaf(z[j] * r, h, h), 0.0f), top);
    return c;
}

/* Index in 2T of a unit of 2T (exact entries 0, +-1/2, +-1). */
RB_HD int rb_hqmq_unit_index(const float q[4])
{
    for (int k = 0; k < 4; k++)
        if (fabsf(q[k]) == 1.0f)
            return 2 * k + (q[k] < 0.0f ? 1 : 0);
    return 8 + ((q[0] < 0.0f) << 3) + ((q[1] < 0.0f) << 2) + ((q[2] < 0.0f) << 1) + (q[3] < 0.0f);
}

/* t[24 g + p] = the index of q_g q_p for the axis units g < 8 (the reduction's g). */
RB_HD void rb_hqmq_pmul_entry(int i, unsigned char *t)
{
    float a[4], b[4], c[4];
    rb_hqmq_unit(i / RB_HQMQ_NP, a);
    rb_hqmq_unit(i % RB_HQMQ_NP, b);
    rb_quat_mul(a, b, c); /* exact */
    t[i] = (unsigned char)rb_hqmq_unit_index(c);
}

/* Codeword index idx = p S + s (< 24 S <= 6144) into (p, s) without an integer division:
 * (idx + 1/2) / S has its fraction in [1 / (2 S), 1 - 1 / (2 S)], at least 1/512 from an
 * integer, and the float product errs by less than 1e-5 there. inv_s = 1.0f / S. */
RB_HD int rb_hqmq_cell_split(int idx, int S, float inv_s, int *s)
{
    const int p = (int)(((float)idx + 0.5f) * inv_s);
    *s = idx - p * S;
    return p;
}

RB_HD float rb_hqmq_fmin(float a, float b)
{
#ifdef __CUDA_ARCH__
    return fminf(a, b);
#else
    return b < a ? b : a;
#endif
}

/* <z, codeword idx> in fp32, the screen of a listed codeword. */
RB_HD float rb_hqmq_cell_score(const float *cw, int idx, const float z[4])
{
    float c[4];
    rb_hqmq_ld4(cw + 4 * idx, c);
    return fmaf(z[3], c[3], fmaf(z[2], c[2], fmaf(z[1], c[1], z[0] * c[0])));
}

/* u = v / max(r, eps): the reference's direction (rb_hqmq_chunk). */
RB_HD void rb_hqmq_cell_dir(const float v[4], float r, float u[4])
{
    const float rr = r > RB_HQMQ_R_EPS ? r : RB_HQMQ_R_EPS;
    for (int k = 0; k < 4; k++)
        u[k] = v[k] / rr;
}

/* The search of chunk v (norm r = rb_hqmq_chunk_norm(v)) given the cell record of z
 * (rb_hqmq_cell_reduce of v, g its unit) and the tables: cw[4 (p S + s) ..] = q_p q_s
 * (rb_hqmq_codeword_ps), pmul (rb_hqmq_pmul_entry). Brute force's codeword for the reference's
 * direction u = v / max(r, eps) as its secondary (returned) and unit (*p). The cells and the
 * screens do not need u: a cell is a cone, and the screens <z, q> are r times u's, so the
 * window is r RB_HQMQ_CELL_WINDOW; u (four divisions) is formed only on the rare paths. One
 * pass keeps the two largest screens; only when the second is inside the window does a second
 * pass score the window's secondaries exactly. rec and rec_mem hold the same record: the
 * kernel's copy in registers (read at fixed slots only) and the table's, which the rare second
 * pass indexes. A chunk with r <= eps (zero: every score 0) takes the full search. */
RB_HD int rb_hqmq_cells_pick(const float *cw, const float *qs, int S, float inv_s, const unsigned char *pmul,
                             const unsigned short *rec, const unsigned short *rec_mem, const float v[4], float r,
                             int g, const float z[4], int *p)
{
    const int n = rec[0];
    float u[4];
    if (n > RB_HQMQ_CELL_IDS || !(r > RB_HQMQ_R_EPS)) {
        rb_hqmq_cell_dir(v, r, u);
        return rb_hqmq_search_ps(qs, S, u, p);
    }
    float V = -3.402823466e38f, V2 = -3.402823466e38f;
    int vi = 0;
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
    for (int i = 0; i < RB_HQMQ_CELL_IDS; i++) {
        if (i >= n)
            break;
        const float sc = rb_hqmq_cell_score(cw, rec[1 + i], z);
        V2 = rb_hqmq_fmax(V2, rb_hqmq_fmin(V, sc));
        if (sc > V) {
            V = sc;
            vi = rec[1 + i];
        }
    }
    const float cut = fmaf(-RB_HQMQ_CELL_WINDOW, r, V);
    int s;
    if (V2 < cut) {
        *p = pmul[RB_HQMQ_NP * g + rb_hqmq_cell_split(vi, S, inv_s, &s)];
        return s;
    }
    rb_hqmq_cell_dir(v, r, u);
    /* near-ties: rb_hqmq_search's order (score, then smaller p, then smaller s) over the
     * secondaries of the window, scored as it scores them */
    float best = -3.402823466e38f;
    int bp = RB_HQMQ_NP, bs = S;
    for (int i = 0; i < n; i++) {
        const int id = rec_mem[1 + i];
        if (!(rb_hqmq_cell_score(cw, id, z) >= cut))
            continue;
        rb_hqmq_cell_split(id, S, inv_s, &s);
        float w[4], sc;
        rb_hqmq_wprod(u, qs + 4 * s, w);
        const int q = rb_hqmq_best_unit(w, &sc);
        if (sc > best || (sc == best && (q < bp || (q == bp && s < bs)))) {
            best = sc;
            bp = q;
            bs = s;
        }
    }
    *p = bp;
    return bs;
}

#endif
