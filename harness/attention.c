/* attention.c: the attention-level metrics on the CPU (attention.h, kernels/common/attn.h). */
#include "attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

long rb_attn_groups(long N, int T) { return N < T ? 1 : N / T; }

static int row_finite(const float *a, int d)
{
    for (int j = 0; j < d; j++)
        if (!isfinite(a[j]))
            return 0;
    return 1;
}

/* Indices of the k largest of v over the finite rows (ties: the lower index first). */
void rb_attn_top_k(const double *v, const char *ok, int n, int k, int *out)
{
    for (int r = 0; r < k; r++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            if (!ok[i])
                continue;
            int taken = 0;
            for (int t = 0; t < r; t++)
                taken |= out[t] == i;
            if (!taken && (best < 0 || v[i] > v[best]))
                best = i;
        }
        out[r] = best;
    }
}

/* One (query, group): keys x[0, n), xh[0, n); values v[0, n), vh[0, n) (the keys' rows when unpaired). */
static void part(const float *x, const float *xh, const float *v, const float *vh, int d, int n, const float *q,
                 rb_attn_part *p, double *s, double *sh, char *ok, double *o, double *oh)
{
    memset(p, 0, sizeof *p);
    const double scale = 1.0 / sqrt((double)d);
    double m = -INFINITY, mh = -INFINITY;
    int nok = 0;
    for (int i = 0; i < n; i++) {
        const float *a = x + (long)i * d, *b = xh + (long)i * d;
        ok[i] = (char)(row_finite(a, d) && row_finite(b, d) && row_finite(v + (long)i * d, d) &&
                       row_finite(vh + (long)i * d, d));
        if (!ok[i])
            continue;
        double acc = 0, acch = 0;
        for (int j = 0; j < d; j++) {
            acc += (double)q[j] * (double)a[j];
            acch += (double)q[j] * (double)b[j];
        }
        s[i] = acc;
        sh[i] = acch;
        p->err2 += (acc - acch) * (acc - acch);
        p->ref2 += acc * acc;
        p->bias += acch - acc;
        p->rows += 1;
        m = fmax(m, acc * scale);
        mh = fmax(mh, acch * scale);
        nok++;
    }
    if (!nok)
        return;
    double z = 0, zh = 0;
    for (int i = 0; i < n; i++)
        if (ok[i]) {
            z += exp(s[i] * scale - m);
            zh += exp(sh[i] * scale - mh);
        }
    const double lz = log(z), lzh = log(zh);
    double kl = 0;
    for (int i = 0; i < n; i++)
        if (ok[i]) {
            const double lp = s[i] * scale - m - lz, lph = sh[i] * scale - mh - lzh;
            kl += exp(lp) * (lp - lph);
        }
    p->kl = kl;
    int k = nok < RB_ATTN_TOPK ? nok : RB_ATTN_TOPK, t[RB_ATTN_TOPK], th[RB_ATTN_TOPK];
    rb_attn_top_k(s, ok, n, k, t);
    rb_attn_top_k(sh, ok, n, k, th);
    p->top1 = t[0] == th[0];
    int both = 0;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++)
            both += t[a] == th[b];
    p->top5 = (double)both / k;
    double dot = 0, no = 0, noh = 0;
    for (int j = 0; j < d; j++)
        o[j] = oh[j] = 0;
    for (int i = 0; i < n; i++) /* rows in order, as the kernel sums them */
        if (ok[i]) {
            const double pi = exp(s[i] * scale - m - lz), phi = exp(sh[i] * scale - mh - lzh);
            for (int j = 0; j < d; j++) {
                o[j] += pi * v[(long)i * d + j];
                oh[j] += phi * vh[(long)i * d + j];
            }
        }
    for (int j = 0; j < d; j++) {
        dot += o[j] * oh[j];
        no += o[j] * o[j];
        noh += oh[j] * oh[j];
    }
    p->cos = no > 0 && noh > 0 ? dot / sqrt(no * noh) : 0;
}

void rb_attn_parts_cpu(const float *x, const float *xh, const float *v, const float *vh, int d, long N, const float *q,
                       int nq, int T, rb_attn_part *parts)
{
    if (!v || !vh) { /* unpaired: the keys' rows serve as values */
        v = x;
        vh = xh;
    }
    const long G = rb_attn_groups(N, T);
    const int n = N < T ? (int)N : T;
#pragma omp parallel
    {
        double *s = malloc(sizeof(double) * (size_t)n), *sh = malloc(sizeof(double) * (size_t)n);
        double *o = malloc(sizeof(double) * (size_t)d), *oh = malloc(sizeof(double) * (size_t)d);
        char *ok = malloc((size_t)n);
#pragma omp for schedule(dynamic)
        for (long w = 0; w < (long)nq * G; w++) {
            const long qi = w / G, g = w % G;
            if (s && sh && o && oh && ok)
                part(x + g * T * (long)d, xh + g * T * (long)d, v + g * T * (long)d, vh + g * T * (long)d, d, n,
                     q + qi * d, &parts[w], s, sh, ok, o, oh);
        }
        free(s); free(sh); free(o); free(oh); free(ok);
    }
}

void rb_attn_finish(const rb_attn_part *parts, int nq, long groups, int T, rb_attn *out)
{
    memset(out, 0, sizeof *out);
    out->computed = 1;
    out->nq = nq;
    out->T = T;
    out->groups = groups;
    double err2 = 0, ref2 = 0, bias = 0, rows = 0, kl = 0, t1 = 0, t5 = 0, cs = 0, n = 0;
    for (long w = 0; w < (long)nq * groups; w++) {
        const rb_attn_part *p = &parts[w];
        err2 += p->err2;
        ref2 += p->ref2;
        bias += p->bias;
        rows += p->rows;
        if (p->rows > 0) {
            kl += p->kl;
            t1 += p->top1;
            t5 += p->top5;
            cs += p->cos;
            n++;
        }
    }
    out->ip_err = ref2 > 0 ? err2 / ref2 : NAN;
    out->ip_bias = rows > 0 ? bias / rows : NAN;
    out->kl = n > 0 ? kl / n : NAN;
    out->top1 = n > 0 ? t1 / n : NAN;
    out->top5 = n > 0 ? t5 / n : NAN;
    out->out_cos = n > 0 ? cs / n : NAN;
}
