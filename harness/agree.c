/* agree.c: the agreement rule (agree.h). */
#include "agree.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method_hooks.h"
#include "reference.h"
#include "rb_kernels.h"

double rb_f16_ulp(double v)
{
    v = fabs(v);
    if (v < 6.103515625e-05)
        return 5.9604644775390625e-08;
    int e;
    frexp(v, &e); /* v = f 2^e, f in [0.5, 1) */
    return ldexp(1.0, e - 11);
}

/* fp32 unit roundoff: the rounding of one fp32 operation, relative */
#define U32 5.9604644775390625e-08

int rb_agree_depth(const rb_qdq_params *p)
{
    const rb_method_hooks *h = rb_method_hooks_of(p->method);
    if (h && h->sum_depth)
        return h->sum_depth(p);
    const rb_method_desc *m = rb_method_get(p->method);
    long f = m ? m->fma(p->d) : 0;
    return f > 0 ? (int)((f + p->d - 1) / p->d) : 0;
}

double rb_agree_row_norm(const float *x, int d)
{
    double ss = 0;
    for (int j = 0; j < d; j++)
        ss += (double)x[j] * x[j];
    return isfinite(ss) ? sqrt(ss) : 0;
}

rb_agree_tol rb_agree_row_tol(const rb_qdq_params *p, rb_dtype dt, const float *x, const float *ref)
{
    rb_agree_tol t = {dt, RB_AGREE_F32_ABS * fmax(1.0, rb_agree_row_norm(x, p->d)), 0, 0};
    if (dt == RB_FP16) {
        const double S = (1.0 + ldexp(1.0, -10)) * rb_agree_row_norm(ref, p->d);
        t.resid = 2.0 * U32 * (rb_agree_depth(p) + 2) * S;
        t.rel = p->d * U32;
    }
    return t;
}

double rb_agree_elem_tol(const rb_agree_tol *t, double gpu, double ref)
{
    if (t->dt != RB_FP16)
        return t->abs32;
    const double big = fmax(fabs(gpu), fabs(ref));
    return RB_AGREE_F16_ULPS * rb_f16_ulp(big) + t->resid + t->rel * big;
}

int rb_agree_elem(const rb_agree_tol *t, double gpu, double ref)
{
    return fabs(gpu - ref) <= rb_agree_elem_tol(t, gpu, ref); /* NaN on either side: not <= */
}

/* The fast variant's derived bound on |y_gpu - y_ref| (method.h fast_ybound), or 0. */
static double fast_ybound(const rb_qdq_params *p, int variant)
{
    const rb_method_desc *m = rb_method_get(p->method);
    return variant == RB_VARIANT_FAST && m && m->fast_ybound ? (double)m->fast_ybound(p) : 0.0;
}

/* An element within the derived bound of a lower-precision route: 2 ybound rho covers the
 * output bound at the same indices (|y-hat| <= 1 for a unit row), plus the usual tolerance
 * for the final rounding. */
static int lowprec_elem(const rb_agree_tol *t, double gpu, double ref, double rho, double yb)
{
    return yb > 0 && fabs(gpu - ref) <= 2.0 * yb * rho + rb_agree_elem_tol(t, gpu, ref);
}

void rb_agree_init(rb_agree_stats *st)
{
    memset(st, 0, sizeof *st);
    st->first_row = -1;
}

long rb_agree_near_boundary(const rb_qdq_params *p, int variant, rb_dtype dt, const float *x, const float *ref,
                            const float *gpu)
{
    (void)dt;
    (void)ref;
    (void)gpu;
    float *v = calloc(2 * (size_t)p->dpad, sizeof(float));
    if (!v)
        return 0;
    float ss = 0.0f;
    for (int j = 0; j < p->d; j++)
        ss += x[j] * x[j];
    float inv = p->unit_norm ? 1.0f : rb_inv_norm(sqrtf(ss));
    for (int j = 0; j < p->d; j++)
        v[j] = x[j] * inv;
    rb_rotate_fwd(p, v, v + p->dpad);
    long hit = 0;
    const double tol = fmax(RB_AGREE_FLIP_TOL, fast_ybound(p, variant));
    for (int j = 0; j < p->dpad && !hit; j++)
        for (int k = 0; k < p->nbounds && !hit; k++) {
            if (fabsf(v[j] - p->bounds[k]) <= tol)
                hit = 1;
            if (variant == RB_VARIANT_PAPER &&
                fabsf(fabsf(v[j] - p->centroids[k]) - fabsf(v[j] - p->centroids[k + 1])) <= 2 * RB_AGREE_FLIP_TOL)
                hit = 1;
        }
    free(v);
    return hit;
}

static void first(rb_agree_stats *st, long i, int j, double g, double r, const char *why)
{
    st->bad_rows++;
    if (st->first_row >= 0)
        return;
    st->first_row = i;
    st->first_col = j;
    st->first_gpu = g;
    st->first_ref = r;
    st->first_why = why;
}

static int all_zero(const float *x, int d)
{
    for (int j = 0; j < d; j++)
        if (x[j] != 0.0f)
            return 0;
    return 1;
}

void rb_agree_rows(const rb_qdq_params *p, int variant, rb_dtype dt, const float *x, const float *ref,
                   const float *gpu, long N, rb_agree_stats *st)
{
    const int d = p->d;
    const rb_method_hooks *h = rb_method_hooks_of(p->method);
    const double yb = fast_ybound(p, variant);
    for (long i = 0; i < N; i++) {
        const float *xr = x + i * d, *r = ref + i * d, *g = gpu + i * d;
        st->rows++;
        if (p->unit_norm && !(rb_agree_row_norm(xr, d) > 0 || all_zero(xr, d))) {
            st->nan_rows++; /* assume_unit_norm: a non-finite row's output is not defined */
            continue;
        }
        if (isnan(r[0])) { /* the reference marks a non-finite row all NaN */
            st->nan_rows++;
            for (int j = 0; j < d; j++)
                if (!isnan(g[j])) {
                    first(st, i, j, g[j], r[j], "a non-finite input row must come out all NaN");
                    break;
                }
            continue;
        }
        int zero_in = !p->unit_norm; /* assume_unit_norm quantizes a zero row like any other */
        for (int j = 0; j < d; j++)
            zero_in &= xr[j] == 0.0f;
        st->zero_rows += zero_in;
        int over = -1, unwritten = -1;
        double worst = 0;
        const double rho = rb_agree_row_norm(xr, d);
        const rb_agree_tol tol = rb_agree_row_tol(p, dt, xr, r);
        for (int j = 0; j < d; j++) {
            if (isnan(g[j])) {
                unwritten = j;
                break;
            }
            if ((zero_in && g[j] != 0.0f) || !(rb_agree_elem(&tol, g[j], r[j]) || lowprec_elem(&tol, g[j], r[j], rho, yb))) {
                if (over < 0)
                    over = j;
            } else if (fabs((double)g[j] - r[j]) > worst) {
                worst = fabs((double)g[j] - r[j]);
            }
        }
        if (unwritten >= 0) {
            st->unwritten++;
            first(st, i, unwritten, g[unwritten], r[unwritten], "NaN output where the reference is finite");
            continue;
        }
        if (over < 0) {
            if (worst > st->max_abs)
                st->max_abs = worst;
            continue;
        }
        long flips = zero_in ? 0 : h->explain(p, variant, dt, xr, r, g);
        if (flips > 0 && yb > 0)
            st->lowprec_flips += flips; /* a worst-case bound: every near row may flip */
        else if (flips > 0)
            st->flips += flips;
        else
            first(st, i, over, g[over], r[over], zero_in ? "a zero input row must come out zero"
                                                         : "beyond the tolerance, not at a tie");
    }
}

static long flip_budget(const rb_agree_stats *st)
{
    long b = (long)(RB_AGREE_FLIP_FRAC * (double)st->rows);
    return b > 1 ? b : 1;
}

int rb_agree_ok(const rb_agree_stats *st) { return st->bad_rows == 0 && st->flips <= flip_budget(st); }

void rb_agree_describe(const rb_agree_stats *st, char *buf, size_t n)
{
    if (st->bad_rows)
        snprintf(buf, n, "%ld of %ld rows disagree with the CPU reference; first: row %ld col %d, gpu %.9g cpu %.9g "
                 "(|diff| %.3g): %s", st->bad_rows, st->rows, st->first_row, st->first_col, st->first_gpu,
                 st->first_ref, fabs(st->first_gpu - st->first_ref), st->first_why);
    else if (st->flips > flip_budget(st))
        snprintf(buf, n, "%ld flips at ties in %ld rows, more than the %ld allowed (1 %%)", st->flips, st->rows,
                 flip_budget(st));
    else
        snprintf(buf, n, "%ld rows agree (%ld flips at ties, %ld within the low-precision route's bound, max |diff| %.3g)",
                 st->rows, st->flips, st->lowprec_flips, st->max_abs);
}
