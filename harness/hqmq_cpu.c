/* hqmq_cpu.c: HQMQ on the CPU backend (its hook, hqmq_method.c): rows with the outlier count,
 * the Med3x median by selection, and the run. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend_cpu.h"
#include "fp16.h"
#include "hqmq.h"
#include "measure_cpu.h"

long rb_cpu_hqmq_rows(const rb_qdq_params *p, const float *x, float *xh, long N, rb_dtype dtype)
{
    long nout = 0;
    const int g = (p->d + 3) / 4;
#pragma omp parallel reduction(+ : nout)
    {
        float *r = malloc(sizeof(float) * (size_t)g);
#pragma omp for schedule(static)
        for (long i = 0; i < N; i++) {
            float *out = xh + i * (long)p->d;
            nout += rb_hqmq_row(p->rot, p->hq_S, p->hq_rbits, p->hq_thresh, p->hq_sigma_inliers, p->d,
                                x + i * (long)p->d, out, r);
            if (dtype == RB_FP16)
                for (int j = 0; j < p->d; j++)
                    out[j] = rb_round_f16(out[j]);
        }
        free(r);
    }
    return nout;
}

float rb_hqmq_threshold(float C, float median) { return C * median; }

/* Hoare-partition quickselect: a[k] in its sorted place, a[0..k) <= a[k] <= a(k..n). */
static void select_kth(float *a, long n, long k)
{
    long lo = 0, hi = n - 1;
    while (hi > lo) {
        long mid = lo + (hi - lo) / 2; /* median of three: sorted input stays linear */
        if (a[mid] < a[lo]) { float t = a[mid]; a[mid] = a[lo]; a[lo] = t; }
        if (a[hi] < a[lo]) { float t = a[hi]; a[hi] = a[lo]; a[lo] = t; }
        if (a[hi] < a[mid]) { float t = a[hi]; a[hi] = a[mid]; a[mid] = t; }
        float piv = a[mid];
        long i = lo, j = hi;
        while (i <= j) {
            while (a[i] < piv) i++;
            while (a[j] > piv) j--;
            if (i <= j) {
                float t = a[i]; a[i] = a[j]; a[j] = t;
                i++; j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return; /* j < k < i: a[k] == piv, in place */
    }
}

int rb_hqmq_batch_median(const float *x, int d, long N, float *norms, float *median)
{
    const int g = (d + 3) / 4;
    float *a = norms ? norms : malloc(sizeof(float) * (size_t)N * g + 1);
    if (!a)
        return -1;
    long n = 0;
    for (long i = 0; i < N; i++) /* serial: the kept norms' order does not matter, their count does */
        for (int b = 0; b < g; b++) {
            float v[4];
            rb_hqmq_load_chunk(x + i * (long)d, d, b, v);
            float r = rb_hqmq_chunk_norm(v);
            if (r <= 3.402823466e38f) /* NaN and Inf chunks come out NaN: not counted */
                a[n++] = r;
        }
    float med = 0.0f;
    if (n > 0) {
        long k = (n - 1) / 2;
        select_kth(a, n, k);
        float lo = a[k], hi = lo;
        if (n % 2 == 0) { /* the next rank: the smallest of the upper part */
            hi = a[k + 1];
            for (long j = k + 2; j < n; j++)
                hi = a[j] < hi ? a[j] : hi;
        }
        med = lo + 0.5f * (hi - lo);
    }
    if (!norms)
        free(a);
    *median = med;
    return 0;
}

/* HQMQ: the Med3x pre-pass (median, then threshold) and the single quantize pass, timed
 * together; the pre-pass alone goes to t.prepass_us. */
typedef struct {
    rb_cpu_state *s;
    rb_qdq_params p;
    float *norms;
    long nout;
} hq_pass;

static int hq_pre(void *ctx)
{
    hq_pass *c = ctx;
    float med;
    if (rb_hqmq_batch_median(c->s->x, c->s->d, c->s->N, c->norms, &med))
        return -1;
    c->p.hq_thresh = rb_hqmq_threshold(c->p.hq_C, med);
    return 0;
}

static int hq_rows(void *ctx)
{
    hq_pass *c = ctx;
    c->nout = rb_cpu_hqmq_rows(&c->p, c->s->x, c->s->xh, c->s->N, c->s->dtype);
    return 0;
}

int rb_cpu_run_hqmq(rb_backend *b, const rb_qdq_params *p, rb_record *rec)
{
    rb_cpu_state *s = b->state;
    const int g = (s->d + 3) / 4;
    hq_pass c = {s, *p, NULL, 0};
    if (p->hq_outliers && !(c.norms = malloc(sizeof(float) * (size_t)s->N * g + 1))) {
        fprintf(stderr, "rotorbench: out of host memory for %ld chunk norms\n", s->N * g);
        return -1;
    }
    int rc = rb_meas_cpu_time(b->profile, p->hq_outliers ? hq_pre : NULL, hq_rows, &c, &rec->t);
    free(c.norms);
    if (rc)
        return -1;
    rb_cpu_metrics(s, rec);
    rec->outlier_frac = rec->m.finite_rows ? (double)c.nout / ((double)rec->m.finite_rows * g) : 0;
    return 0;
}
