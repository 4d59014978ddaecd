/* hqmq_screen.h: HQMQ's screened search, the same answer as rb_hqmq_search with most of the
 * products formed in reduced precision (the tensor-core route of the fast kernel, hqmq.cu).
 *
 * Screen: every secondary's score is formed from an approximate product w~ = u conj(q_s),
 * |screen_s - score_s| <= RB_HQMQ_SCREEN_ERR (score_s: rb_hqmq_score1, exact fp32). The kernel
 * gets w~ from one fp16 MMA per 2 components on a two-term fp16 split of u and of the product
 * matrix (u = u_hi + u_lo, M = M_hi + M_lo; all four cross terms, fp32 accumulation): the
 * split leaves about 2^-22 relative, fp32 accumulation of 16 exact products a few 2^-24, so
 * the bound 2^-14 has a margin of about 30x (the CPU model below measures it in the tests).
 *
 * Subsets: secondary s belongs to subset (s mod 4) J + ((s div 4) mod J), 4 J subsets (the
 * kernel's lane q = s mod 4 keeps J running maxima, one per batch of 4 secondaries mod J).
 * Only the subsets' largest screens are kept. With V the largest of them, every secondary whose
 * exact score can reach the best one lies in a subset whose largest screen is >= V - 2 ERR:
 * score_s >= best >= score of V's secondary >= V - ERR, and screen_s >= score_s - ERR. Those
 * subsets are searched exactly (rb_hqmq_score1, then rb_hqmq_best_unit for the one winner), so
 * the answer is brute force's; an exact tie among them goes to rb_hqmq_search, as in
 * rb_hqmq_search_fast. */
#ifndef RB_HQMQ_SCREEN_H
#define RB_HQMQ_SCREEN_H

#ifdef __CUDACC__
#include <cuda_fp16.h>
#endif

#include "hqmq.h"

#define RB_HQMQ_SCREEN_ERR 6.103515625e-05f /* 2^-14: the bound the screen must keep */
#define RB_HQMQ_SCREEN_MAXJ 8                /* 4 J subsets fit a 32-bit mask */

/* M with (u conj q)_c = sum_j M[c][j] u_j: column j is e_j conj(q), entries +-q_k (exact). */
RB_HD void rb_hqmq_wmat(const float q[4], float M[4][4])
{
    for (int j = 0; j < 4; j++) {
        float e[4] = {0.0f, 0.0f, 0.0f, 0.0f}, col[4];
        e[j] = 1.0f;
        rb_hqmq_wprod(e, q, col);
        for (int k = 0; k < 4; k++)
            M[k][j] = col[k];
    }
}

/* x = hi + lo + O(2^-22 |x|) with hi, lo fp16 values (as floats); hi = fp16(x). */
RB_HD void rb_hqmq_split16(float x, float *hi, float *lo)
{
#ifdef __CUDA_ARCH__
    *hi = __half2float(__float2half_rn(x));
    *lo = __half2float(__float2half_rn(x - *hi));
#else
    *hi = rb_round_f16(x);
    *lo = rb_round_f16(x - *hi);
#endif
}

/* The subset that secondary s belongs to. */
RB_HD int rb_hqmq_subset(int s, int J) { return (s & 3) * J + (s >> 2) % J; }

/* Running maxima of one subset: the kernel's per-product update (mx, sm start at 0). */
RB_HD void rb_hqmq_screen_track(const float w[4], float *mx, float *sm)
{
    float m01, m23;
    const float h = rb_hqmq_parts_w(w, &m01, &m23);
    *mx = rb_hqmq_fmax3(*mx, m01, m23);
    *sm = rb_hqmq_fmax(*sm, h);
}

/* A subset's largest screen from its maxima (as rb_hqmq_score4 combines them). */
RB_HD float rb_hqmq_screen_value(float mx, float sm) { return rb_hqmq_fmax(mx, sm * 0.5f); }

/* The cut: a subset whose largest screen is below it cannot hold the best secondary. V - 2^-13
 * is exact for V >= 2^-10 (every unit direction has V >= 1/2 - ERR), and a rounding below
 * that is far inside the bound's margin. */
RB_HD float rb_hqmq_screen_cut(float v) { return v - 2.0f * RB_HQMQ_SCREEN_ERR; }

/* Subsets that may hold the best secondary: bit i set when sub[i] >= the cut of V = their max
 * (a NaN value sets no bit). n <= 32 = 4 RB_HQMQ_SCREEN_MAXJ: every caller passes 4 J with
 * J <= RB_HQMQ_SCREEN_MAXJ; the clamp says so to the compiler (a mask has 32 bits). The kernel
 * forms its mask itself; this is the CPU model's. */
RB_HD uint32_t rb_hqmq_screen_mask(const float *sub, int n)
{
    n = n < 4 * RB_HQMQ_SCREEN_MAXJ ? n : 4 * RB_HQMQ_SCREEN_MAXJ;
    float v = 0.0f;
    for (int i = 0; i < n; i++)
        v = rb_hqmq_fmax(v, sub[i]);
    const float t = rb_hqmq_screen_cut(v);
    uint32_t m = 0;
    for (int i = 0; i < n; i++)
        m |= (uint32_t)(sub[i] >= t) << i;
    return m;
}

RB_HD int rb_hqmq_ctz(uint32_t m)
{
#ifdef __CUDA_ARCH__
    return __ffs((int)m) - 1;
#else
    return __builtin_ctz(m);
#endif
}

/* The exact search over the secondaries of the subsets in mask: the one secondary s with the
 * best rb_hqmq_score1 (its unit by rb_hqmq_best_unit into *p), or -1 on an exact tie between
 * secondaries (or an empty mask). */
RB_HD int rb_hqmq_rescore(const float *qs, int S, int J, uint32_t mask, const float u[4], int *p)
{
    float best = -3.402823466e38f;
    int bs = -1;
    bool tie = false;
    while (mask) {
        const int sid = rb_hqmq_ctz(mask), q = sid / J;
        mask &= mask - 1u;
        for (int s = 4 * (sid % J) + q; s < S; s += 4 * J) {
            const float sc = rb_hqmq_score1(u, qs + 4 * s);
            tie = tie || sc == best;
            if (sc > best) {
                best = sc;
                bs = s;
                tie = false;
            }
        }
    }
    if (tie || bs < 0)
        return -1;
    *p = rb_hqmq_unit_of(qs, bs, u);
    return bs;
}

/* rb_hqmq_rescore's answer, or on a tie rb_hqmq_search's: brute force's codeword as its
 * secondary (returned) and unit (*p), so that the kernel never divides idx by S. */
RB_HD int rb_hqmq_search_mask(const float *qs, int S, int J, uint32_t mask, const float u[4], int *p)
{
    const int s = rb_hqmq_rescore(qs, S, J, mask, u, p);
    return s >= 0 ? s : rb_hqmq_search_ps(qs, S, u, p); /* exact ties: rare */
}

/* The screened search given every secondary's screen value (screen[s], S of them): the CPU
 * model of the kernel's route, for tests. */
RB_HD int rb_hqmq_search_screened(const float *qs, int S, int J, const float u[4], const float *screen)
{
    J = J < RB_HQMQ_SCREEN_MAXJ ? J : RB_HQMQ_SCREEN_MAXJ; /* callers pass 1..8: sub holds 4 J */
    float sub[4 * RB_HQMQ_SCREEN_MAXJ];
    for (int i = 0; i < 4 * J; i++)
        sub[i] = 0.0f;
    for (int s = 0; s < S; s++) {
        const int i = rb_hqmq_subset(s, J);
        sub[i] = rb_hqmq_fmax(sub[i], screen[s]);
    }
    int p = 0;
    const int s = rb_hqmq_search_mask(qs, S, J, rb_hqmq_screen_mask(sub, 4 * J), u, &p);
    return p * S + s;
}

/* CPU model of the kernel's product: the fp16 splits of u and M, all four cross terms summed
 * exactly (double) and rounded once to fp32. The tensor core's fp32 accumulation differs from
 * it by a few 2^-24, inside RB_HQMQ_SCREEN_ERR. */
RB_HD void rb_hqmq_screen_product(const float u[4], const float q[4], float w[4])
{
    float M[4][4], uh[4], ul[4];
    rb_hqmq_wmat(q, M);
    for (int j = 0; j < 4; j++)
        rb_hqmq_split16(u[j], &uh[j], &ul[j]);
    for (int c = 0; c < 4; c++) {
        double acc = 0.0;
        for (int j = 0; j < 4; j++) {
            float mh, ml;
            rb_hqmq_split16(M[c][j], &mh, &ml);
            acc += ((double)mh + ml) * ((double)uh[j] + ul[j]);
        }
        w[c] = (float)acc;
    }
}

/* The screen value of one secondary from a product w (rb_hqmq_score1's formula). */
RB_HD float rb_hqmq_screen_of(const float w[4])
{
    float mx = 0.0f, sm = 0.0f;
    rb_hqmq_screen_track(w, &mx, &sm);
    return rb_hqmq_screen_value(mx, sm);
}

#endif
