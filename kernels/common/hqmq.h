/* hqmq.h: HQMQ (Hurwitz quaternion multiplicative quantization, docs/methods.md section "HQMQ").
 * Each 4-element chunk v of a vector is split into r = |v| and u = v / max(r, 1e-8); u is coded
 * as the Hamilton product q_p * q_s of one of the 24 units of 2T (q_p) and one of S secondary
 * unit quaternions (q_s), code idx = p * S + s; r by a uniform quantizer on [0, sigma] with
 * sigma the vector's largest chunk norm, stored as fp16. Reconstruction r_hat * (q_p * q_s).
 *
 * The search never builds the 24 * S codewords: <u, q_p q_s> = <u conj(q_s), q_p> (right
 * multiplication by a unit quaternion is an isometry), so per s one product w = u conj(q_s)
 * and the best q_p in closed form. Exact ties go as the paper's brute force (argmax over idx,
 * first maximum): smallest p first, then smallest s. The CPU reference (rb_hqmq_row) and the
 * CUDA kernels call these same functions. */
#ifndef RB_HQMQ_H
#define RB_HQMQ_H

#include <stdbool.h>

#include "fp16.h"
#include "quat.h"
#include "rb_hd.h"

#define RB_HQMQ_NP 24        /* |2T| */
#define RB_HQMQ_MAX_S 1024   /* secondaries drawn per (seed, d); an S uses the first S */
#define RB_HQMQ_R_EPS 1e-8f  /* the paper's clamp of r before dividing */
#define RB_HQMQ_F16_MAX 65504.0f

/* The HQMQ fast kernel's search (rb_qdq_params.hq_search, qdq.h). AUTO: the cell search
 * (hqmq_cells.h) where the host gave its table (hq_cells), else the tensor-core screen
 * (hqmq_screen.h) where it applies and S >= RB_HQ_TC_AUTO_S, else the fp32 closed form (on the
 * H100 the screen beats the closed form at S = 96 and 192, not at 24:
 * docs/perf-log/2026-11-23-h100.md). TC, FP32, CELLS: that search wherever it applies (CELLS
 * needs the table), the closed form elsewhere. */
#define RB_HQ_SEARCH_AUTO 0
#define RB_HQ_SEARCH_TC 1
#define RB_HQ_SEARCH_FP32 2
#define RB_HQ_SEARCH_CELLS 3
#define RB_HQ_TC_AUTO_S 64

/* Element p (0..23) of 2T in the paper's order: +-1, +-i, +-j, +-k (+ before -), then the 16
 * (+-1 +-i +-j +-k)/2 with signs in lexicographic order, + before -, last component fastest. */
RB_HD void rb_hqmq_unit(int p, float q[4])
{
    if (p < 8) { /* selects, not q[p >> 1] =: a variable index sends q to local memory on the device */
        const float v = (p & 1) ? -1.0f : 1.0f;
        for (int c = 0; c < 4; c++)
            q[c] = c == p >> 1 ? v : 0.0f;
        return;
    }
    int t = p - 8;
    for (int c = 0; c < 4; c++)
        q[c] = ((t >> (3 - c)) & 1) ? -0.5f : 0.5f;
}

/* The best q_p for w = u conj(q_s): score <w, q_p> into *score, p returned.
 * Axis units score +-w_k: the best is max |w_k| (first k on equal |w_k|; + when w_k >= 0, as
 * +e_k precedes -e_k). Half units score sum(+-w_k)/2: the best takes the signs of w (+ for a
 * zero component: + precedes -). A half unit wins only with a strictly larger score, since all
 * axis units precede it. */
RB_HD int rb_hqmq_best_unit(const float w[4], float *score)
{
    float a0 = fabsf(w[0]), a1 = fabsf(w[1]), a2 = fabsf(w[2]), a3 = fabsf(w[3]);
    int k = 0; /* the sign travels with k: w[k] with a variable k would go to local memory */
    float best = a0;
    bool neg = w[0] < 0.0f;
    if (a1 > best) { best = a1; k = 1; neg = w[1] < 0.0f; }
    if (a2 > best) { best = a2; k = 2; neg = w[2] < 0.0f; }
    if (a3 > best) { best = a3; k = 3; neg = w[3] < 0.0f; }
    int p = 2 * k + (neg ? 1 : 0);
    float h = ((a0 + a1) + (a2 + a3)) * 0.5f;
    if (h > best) {
        best = h;
        p = 8 + ((w[0] < 0.0f) << 3) + ((w[1] < 0.0f) << 2) + ((w[2] < 0.0f) << 1) + (w[3] < 0.0f);
    }
    *score = best;
    return p;
}

/* w = u conj(q): the product every search forms (one source, so the same bits everywhere). */
RB_HD void rb_hqmq_wprod(const float u[4], const float q[4], float w[4])
{
    float c[4];
    rb_quat_conj(q, c);
    rb_quat_mul(u, c, w);
}

/* The best unit p for secondary s (rb_hqmq_best_unit of w = u conj(q_s)). */
RB_HD int rb_hqmq_unit_of(const float *qs, int s, const float u[4])
{
    float w[4], sc;
    rb_hqmq_wprod(u, qs + 4 * s, w);
    return rb_hqmq_best_unit(w, &sc);
}

/* Does candidate (score, p) at a later s beat the best so far? Brute force's order is
 * idx = p * S + s, so on an exact tie the smaller p wins; equal p keeps the earlier s. */
RB_HD int rb_hqmq_better(float score, int p, float best, int best_p)
{
    return score > best || (score == best && p < best_p);
}

/* Closed-form search over all 24 * S codewords: brute force's codeword as its secondary
 * (returned) and unit (*p). qs: S unit quaternions. */
RB_HD int rb_hqmq_search_ps(const float *qs, int S, const float u[4], int *p)
{
    float best = -3.402823466e38f;
    int bp = 0, bs = 0;
    for (int s = 0; s < S; s++) {
        float w[4], sc;
        rb_hqmq_wprod(u, qs + 4 * s, w);
        int q = rb_hqmq_best_unit(w, &sc);
        if (rb_hqmq_better(sc, q, best, bp)) {
            best = sc;
            bp = q;
            bs = s;
        }
    }
    *p = bp;
    return bs;
}

/* The same as brute force's index idx = p * S + s. */
RB_HD int rb_hqmq_search(const float *qs, int S, const float u[4])
{
    int p;
    const int s = rb_hqmq_search_ps(qs, S, u, &p);
    return p * S + s;
}

/* ---- the fast search: the same answer as rb_hqmq_search, a third of the work ----------------
 * The secondaries go in blocks of RB_HQMQ_U = 4 (the last S % 4 one by one). A block's score is
 * max(max over its s and k of |w_k|, 0.5 * max over its s of ((|w0| + |w1|) + (|w2| + |w3|))):
 * exactly max over its s of rb_hqmq_best_unit's score (max is exact, and x -> 0.5 x rounds
 * monotonically). Across blocks the search keeps the best score, the first block that reached
 * it, and a flag raised when a block's score equals the best so far. After the loop that one
 * block is searched again with rb_hqmq_best_unit for the s that reached the best score, and p.
 * Without an exact tie that is brute force's answer: the first maximum is the only one. On a
 * tie (the flag, or two s of the block at the best score) rb_hqmq_search decides, as brute
 * force does. rb_hqmq_search_fast searches one direction; the CUDA kernel runs the same
 * functions on several chunks per q_s load. */
#define RB_HQMQ_U 4

/* max of two non-NaN floats: one FMNMX on the device */
RB_HD float rb_hqmq_fmax(float a, float b)
{
#ifdef __CUDA_ARCH__
    return fmaxf(a, b);
#else
    return b > a ? b : a;
#endif
}

/* max of three non-negative, non-NaN floats: on sm_90 one VIMNMX3 (such floats order as their
 * bits do, read as signed ints). */
RB_HD float rb_hqmq_fmax3(float a, float b, float c)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    return __int_as_float(__vimax3_s32(__float_as_int(a), __float_as_int(b), __float_as_int(c)));
#else
    return rb_hqmq_fmax(rb_hqmq_fmax(a, b), c);
#endif
}

/* The parts of rb_hqmq_best_unit's score of a product w: returns the sum ((|w0| + |w1|) +
 * (|w2| + |w3|)) (before its * 0.5f), and the axis maxima max(|w0|, |w1|), max(|w2|, |w3|) in
 * *m01, *m23. */
RB_HD float rb_hqmq_parts_w(const float w[4], float *m01, float *m23)
{
    const float a0 = fabsf(w[0]), a1 = fabsf(w[1]), a2 = fabsf(w[2]), a3 = fabsf(w[3]);
    *m01 = rb_hqmq_fmax(a0, a1);
    *m23 = rb_hqmq_fmax(a2, a3);
    return (a0 + a1) + (a2 + a3);
}

/* rb_hqmq_parts_w of w = u conj(q), the product rb_hqmq_search forms (the same source, so the
 * same bits). */
RB_HD float rb_hqmq_parts(const float u[4], const float q[4], float *m01, float *m23)
{
    float w[4];
    rb_hqmq_wprod(u, q, w);
    return rb_hqmq_parts_w(w, m01, m23);
}

/* rb_hqmq_best_unit's score of one secondary q. */
RB_HD float rb_hqmq_score1(const float u[4], const float q[4])
{
    float m01, m23;
    const float h = rb_hqmq_parts(u, q, &m01, &m23);
    return rb_hqmq_fmax(rb_hqmq_fmax(m01, m23), h * 0.5f);
}

/* The score of a block of 4 secondaries q[0..15]: max of their rb_hqmq_best_unit scores. */
RB_HD float rb_hqmq_score4(const float u[4], const float *q)
{
    float m01, m23, mx, sm;
    float h0 = rb_hqmq_parts(u, q, &m01, &m23);
    mx = rb_hqmq_fmax(m01, m23);
    float h1 = rb_hqmq_parts(u, q + 4, &m01, &m23);
    mx = rb_hqmq_fmax3(mx, m01, m23);
    sm = rb_hqmq_fmax(h0, h1);
    h0 = rb_hqmq_parts(u, q + 8, &m01, &m23);
    mx = rb_hqmq_fmax3(mx, m01, m23);
    h1 = rb_hqmq_parts(u, q + 12, &m01, &m23);
    mx = rb_hqmq_fmax3(mx, m01, m23);
    sm = rb_hqmq_fmax3(sm, h0, h1);
    return rb_hqmq_fmax(mx, sm * 0.5f);
}

/* A block's score sc against the best so far: raise *tie on equality, keep the first block
 * (starting at s0) on a strictly larger score. */
RB_HD void rb_hqmq_track(float sc, int s0, float *best, int *bs, bool *tie)
{
    if (sc == *best)
        *tie = true;
    if (sc > *best) {
        *best = sc;
        *bs = s0;
    }
}

/* The block starting at s0 (4 secondaries, or 1 past the last whole block) holds the best
 * score: its s with that score (its unit into *p), or -1 when none or several have it. Scores
 * first (rb_hqmq_score1, the value rb_hqmq_best_unit returns), then p for the one s that
 * reached the best: the full unit bookkeeping once per chunk instead of once per s (in the
 * d = 128 kernel's SASS it had cost about as many instructions as the search at S = 24). */
RB_HD int rb_hqmq_finish(const float *qs, int S, int s0, float best, const float u[4], int *p)
{
    const int n = s0 + RB_HQMQ_U <= S - S % RB_HQMQ_U ? RB_HQMQ_U : 1;
    int j = -1, hits = 0;
    for (int t = 0; t < RB_HQMQ_U; t++) {
        if (t < n && rb_hqmq_score1(u, qs + 4 * (s0 + t)) == best) {
            j = hits ? j : t;
            hits++;
        }
    }
    if (hits != 1)
        return -1;
    *p = rb_hqmq_unit_of(qs, s0 + j, u);
    return s0 + j;
}

/* The block scan of one direction: the best block score, its first block, the tie flag. */
RB_HD void rb_hqmq_scan(const float *qs, int S, const float u[4], float *best, int *bs, bool *tie)
{
    int s0 = 0;
    *best = -3.402823466e38f;
    *bs = 0;
    *tie = false;
    for (; s0 + RB_HQMQ_U <= S; s0 += RB_HQMQ_U)
        rb_hqmq_track(rb_hqmq_score4(u, qs + 4 * s0), s0, best, bs, tie);
    for (; s0 < S; s0++)
        rb_hqmq_track(rb_hqmq_score1(u, qs + 4 * s0), s0, best, bs, tie);
}

/* rb_hqmq_search's answer (so brute force's), computed as the kernel does. */
RB_HD int rb_hqmq_search_fast(const float *qs, int S, const float u[4])
{
    float best;
    int bs;
    bool tie;
    rb_hqmq_scan(qs, S, u, &best, &bs, &tie);
    int p = 0;
    const int s = tie ? -1 : rb_hqmq_finish(qs, S, bs, best, u, &p);
    return s >= 0 ? p * S + s : rb_hqmq_search(qs, S, u);
}

/* Codeword q_p * q_s. */
RB_HD void rb_hqmq_codeword_ps(const float *qs, int p, int s, float c[4])
{
    float qp[4];
    rb_hqmq_unit(p, qp);
    rb_quat_mul(qp, qs + 4 * s, c);
}

/* Codeword idx = p S + s. */
RB_HD void rb_hqmq_codeword(const float *qs, int S, int idx, float c[4])
{
    rb_hqmq_codeword_ps(qs, idx / S, idx % S, c);
}

/* The paper's search, for tests: argmax over idx of <u, q_p q_s>, first maximum wins. */
RB_HD int rb_hqmq_search_brute(const float *qs, int S, const float u[4])
{
    float best = -3.402823466e38f;
    int bi = 0;
    for (int idx = 0; idx < RB_HQMQ_NP * S; idx++) {
        float c[4];
        rb_hqmq_codeword(qs, S, idx, c);
        float sc = u[0] * c[0] + u[1] * c[1] + u[2] * c[2] + u[3] * c[3];
        if (sc > best) {
            best = sc;
            bi = idx;
        }
    }
    return bi;
}

/* The same argmax over a precomputed table cb of K = 24 S codewords (cb[4 idx..]): faster for
 * tests that search many directions. */
RB_HD int rb_hqmq_search_brute_table(const float *cb, int K, const float u[4])
{
    float best = -3.402823466e38f;
    int bi = 0;
    for (int idx = 0; idx < K; idx++) {
        const float *c = cb + 4 * idx;
        float sc = u[0] * c[0] + u[1] * c[1] + u[2] * c[2] + u[3] * c[3];
        if (sc > best) {
            best = sc;
            bi = idx;
        }
    }
    return bi;
}

/* Chunk norm with explicit fma so that every backend (and the Med3x pre-pass) gets the same
 * bits: outlier flags and sigma depend on exact comparisons of r. */
RB_HD float rb_hqmq_chunk_norm(const float v[4])
{
    return sqrtf(fmaf(v[3], v[3], fmaf(v[2], v[2], fmaf(v[1], v[1], v[0] * v[0]))));
}

/* Running max for sigma that keeps a NaN (the row then comes out NaN). With inliers_only,
 * chunks above thresh (the Med3x outliers) do not count. */
RB_HD float rb_hqmq_sigma_acc(float sig, float r, float thresh, int inliers_only)
{
    if (inliers_only && r > thresh)
        return sig;
    return (r > sig || r != r) ? r : sig;
}

/* sigma as stored: fp16, saturated at the largest finite half (so a huge row still gets a
 * finite scale; its largest chunks then clamp at the top level). */
RB_HD float rb_hqmq_sigma_store(float sig)
{
    float s = rb_round_f16(sig);
    return s > RB_HQMQ_F16_MAX ? RB_HQMQ_F16_MAX : s;
}

/* Radius code: clamp(round(r (2^b - 1) / sigma), 0, 2^b - 1); 0 when sigma is 0. rintf rounds
 * half to even, as torch.round does in the paper's code. */
RB_HD int rb_hqmq_radius_code(float r, float sig, int qmax)
{
    if (!(sig > 0.0f))
        return 0;
    float t = rintf(r * (float)qmax / sig);
    return t < 0.0f ? 0 : t > (float)qmax ? qmax : (int)t;
}

/* r_hat = sigma * r_q / (2^b - 1): exactly sigma for the top code. */
RB_HD float rb_hqmq_radius_hat(int rq, float sig, int qmax)
{
    return sig * ((float)rq / (float)qmax);
}

/* An inlier chunk's codes (what the packed format stores, hqmq_pack.h): the direction index
 * idx = p S + s into *idx, the radius code into *rq. r is rb_hqmq_chunk_norm(v), sig the stored
 * sigma. */
RB_HD void rb_hqmq_chunk_code(const float *qs, int S, int qmax, float sig, const float v[4], float r, int *idx,
                              int *rq)
{
    float rr = r > RB_HQMQ_R_EPS ? r : RB_HQMQ_R_EPS;
    float u[4] = {v[0] / rr, v[1] / rr, v[2] / rr, v[3] / rr};
    *idx = rb_hqmq_search_fast(qs, S, u);
    *rq = rb_hqmq_radius_code(r, sig, qmax);
}

/* An inlier chunk from its codes: r_hat(rq) times codeword idx. Encode + this is rb_hqmq_chunk. */
RB_HD void rb_hqmq_chunk_decode(const float *qs, int S, int qmax, float sig, int idx, int rq, float out[4])
{
    float c[4];
    rb_hqmq_codeword(qs, S, idx, c);
    float rh = rb_hqmq_radius_hat(rq, sig, qmax);
    for (int k = 0; k < 4; k++)
        out[k] = rh * c[k];
}

/* One chunk (4 values, zero-padded past the row's end): v -> out. r is rb_hqmq_chunk_norm(v),
 * sig the stored sigma. A chunk with r > thresh (Med3x) is kept in fp16; returns 1 then. */
RB_HD int rb_hqmq_chunk(const float *qs, int S, int qmax, float sig, float thresh, const float v[4],
                        float r, float out[4])
{
    if (r > thresh) {
        for (int k = 0; k < 4; k++)
            out[k] = rb_round_f16(v[k]);
        return 1;
    }
    int idx, rq;
    rb_hqmq_chunk_code(qs, S, qmax, sig, v, r, &idx, &rq);
    rb_hqmq_chunk_decode(qs, S, qmax, sig, idx, rq, out);
    return 0;
}

/* Chunk b of row x (d values) into v, zero-padded past d. */
RB_HD void rb_hqmq_load_chunk(const float *x, int d, int b, float v[4])
{
    for (int k = 0; k < 4; k++)
        v[k] = 4 * b + k < d ? x[4 * b + k] : 0.0f;
}

/* The CPU reference for one row: x (d values) -> out (d values). thresh: +inf without outliers,
 * else C * the batch's median chunk norm. sigma from every chunk, or from the inliers (chunks
 * with r <= thresh) when sigma_inliers. Returns the number of outlier chunks; a row with a
 * non-finite value comes out all NaN and counts none. r (g floats) is scratch. */
RB_HD int rb_hqmq_row(const float *qs, int S, int rbits, float thresh, int sigma_inliers, int d,
                      const float *x, float *out, float *r)
{
    const int g = (d + 3) / 4, qmax = (1 << rbits) - 1;
    float sig = 0.0f, fin = 0.0f, v[4], o[4];
    for (int b = 0; b < g; b++) {
        rb_hqmq_load_chunk(x, d, b, v);
        r[b] = rb_hqmq_chunk_norm(v);
        fin = rb_hqmq_sigma_acc(fin, r[b], thresh, 0); /* any NaN / Inf chunk poisons the row */
        sig = rb_hqmq_sigma_acc(sig, r[b], thresh, sigma_inliers);
    }
    if (!(fin <= 3.402823466e38f)) {
        for (int j = 0; j < d; j++)
            out[j] = rb_bits_f32(0x7fc00000u);
        return 0;
    }
    sig = rb_hqmq_sigma_store(sig);
    int nout = 0;
    for (int b = 0; b < g; b++) {
        rb_hqmq_load_chunk(x, d, b, v);
        nout += rb_hqmq_chunk(qs, S, qmax, sig, thresh, v, r[b], o);
        for (int k = 0; k < 4 && 4 * b + k < d; k++)
            out[4 * b + k] = o[k];
    }
    return nout;
}

/* Stored bits per coordinate: per chunk log2(24 S) + b_r code bits, per vector an fp16 sigma;
 * with Med3x an outlier fraction p of the chunks stores 4 fp16 values instead and every chunk
 * a 1-bit flag: (1 - p) (log2(24 S) + b_r) / 4 + 16 p + 1/4, plus 16 / d for sigma. (The
 * paper's figures leave out the 16 / d.) For d not a multiple of 4 the padded chunk counts. */
RB_HD double rb_hqmq_bits_per_coord(int d, int S, int rbits, int med3, double p)
{
    const int g = (d + 3) / 4;
    double code = log2(24.0 * S) + rbits;
    double per_chunk = med3 ? (1.0 - p) * code + 64.0 * p + 1.0 : code;
    return (per_chunk * g + 16.0) / d;
}

#endif
