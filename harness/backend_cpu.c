/* backend_cpu.c: the reference backend. Same inputs, same block math (rb_qdq_row), same
 * metrics as the GPU; its timings are CPU wall-clock timings and are labelled so. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "counts.h"
#include "method_hooks.h"
#include "reference.h"
#include "data.h"
#include "fp16.h"
#include "hqmq.h"
#include "hostmem.h"
#include "stats.h"

typedef struct {
    int d;
    long N;
    rb_dtype dtype;
    float *x, *xh;
    rb_row_stats *rows;
} cpu_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cpu_load(rb_backend *b, uint64_t seed, int d, long N, rb_dtype dtype)
{
    cpu_state *s = b->state;
    free(s->x); free(s->xh); free(s->rows);
    s->x = s->xh = NULL; s->rows = NULL;
    s->d = d; s->N = N; s->dtype = dtype;
    char why[512];
    if (rb_cpu_load_check(d, N, dtype, why, sizeof why)) {
        fprintf(stderr, "rotorbench: %s\n", why);
        return -1;
    }
    s->x = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N));
    s->xh = malloc(sizeof(float) * (size_t)N * d);
    s->rows = malloc(sizeof(rb_row_stats) * (size_t)N);
    if (!s->x || !s->xh || !s->rows) {
        fprintf(stderr, "rotorbench: out of host memory for N=%ld d=%d (%.1f MB)\n", N, d,
                (double)N * d * 8 / 1e6);
        return -1;
    }
    char err[256];
    if (rb_data_generate(&b->dist, seed, d, N, dtype, s->x, err, sizeof err)) {
        fprintf(stderr, "rotorbench: %s\n", err);
        return -1;
    }
    return 0;
}

/* Quantize-dequantize every row of x into xh (fp16 runs store fp16, like the kernels). */
void rb_cpu_qdq_rows(const rb_qdq_params *p, const float *x, float *xh, long N, rb_dtype dtype)
{
#pragma omp parallel
    {
        float *v = malloc(sizeof(float) * 2 * (size_t)p->dpad);
        float *tmp = v + p->dpad;
#pragma omp for schedule(static)
        for (long i = 0; i < N; i++) {
            float *out = xh + i * (long)p->d;
            rb_qdq_row(p, x + i * (long)p->d, out, v, tmp);
            if (dtype == RB_FP16)
                for (int j = 0; j < p->d; j++)
                    out[j] = rb_round_f16(out[j]);
        }
        free(v);
    }
}

/* ---- HQMQ --------------------------------------------------------------------------------- */
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
int rb_cpu_run_hqmq(rb_backend *b, const rb_qdq_params *p0, rb_record *rec)
{
    cpu_state *s = b->state;
    rb_qdq_params p = *p0;
    const int g = (s->d + 3) / 4;
    float *norms = p.hq_outliers ? malloc(sizeof(float) * (size_t)s->N * g + 1) : NULL;
    if (p.hq_outliers && !norms) {
        fprintf(stderr, "rotorbench: out of host memory for %ld chunk norms\n", s->N * g);
        return -1;
    }
    double samples[10], pre[10];
    int n = 0;
    double total = 0;
    long nout = 0;
    for (int first = 1; first || (!b->profile && n < 10 && (n < 3 || total < 0.2)); first = 0) {
        double t0 = now_s(), t1 = t0;
        if (p.hq_outliers) {
            float med;
            rb_hqmq_batch_median(s->x, s->d, s->N, norms, &med);
            p.hq_thresh = rb_hqmq_threshold(p.hq_C, med);
            t1 = now_s();
        }
        nout = rb_cpu_hqmq_rows(&p, s->x, s->xh, s->N, s->dtype);
        if (first) /* the first pass warms the caches, untimed */
            continue;
        samples[n] = (now_s() - t0) * 1e6;
        pre[n] = (t1 - t0) * 1e6;
        total += samples[n] * 1e-6;
        n++;
        if (total > 2.0)
            break;
    }
    free(norms);
    rb_summary sm, sp;
    rb_summarize(samples, n, &sm);
    rb_summarize(pre, n, &sp);
    rec->t.clock = b->profile ? "profile" : "cpu-wall";
    rec->t.samples = n;
    rec->t.batch = 1;
    rec->t.median_us = sm.median; rec->t.min_us = sm.min; rec->t.max_us = sm.max;
    rec->t.q1_us = sm.q1; rec->t.q3_us = sm.q3; rec->t.noise = sm.noise;
    rec->t.prepass_us = p.hq_outliers ? sp.median : 0;
    rec->t.stop_reason = b->profile ? "profile" : n >= 10 ? "max-samples" : "time";

#pragma omp parallel for schedule(static)
    for (long i = 0; i < s->N; i++)
        rb_row_stats_compute(s->x + i * (long)s->d, s->xh + i * (long)s->d, s->d, &s->rows[i]);
    rb_metrics_init(&rec->m, s->d);
    for (long i = 0; i < s->N; i++)
        rb_metrics_add(&rec->m, &s->rows[i]);
    rb_metrics_finish(&rec->m);
    rec->outlier_frac = rec->m.finite_rows ? (double)nout / ((double)rec->m.finite_rows * g) : 0;
    return 0;
}

static int cpu_run(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec)
{
    (void)variant;
    const rb_method_hooks *h = rb_method_hooks_of(p->method);
    if (h->cpu_run)
        return h->cpu_run(b, p, rec);
    cpu_state *s = b->state;
    /* Time whole passes until 0.2 s or 10 samples; the first pass also warms the caches. */
    double samples[10];
    int n = 0;
    double total = 0;
    rb_cpu_qdq_rows(p, s->x, s->xh, s->N, s->dtype);
    while (!b->profile && n < 10 && (n < 3 || total < 0.2)) {
        double t0 = now_s();
        rb_cpu_qdq_rows(p, s->x, s->xh, s->N, s->dtype);
        samples[n] = (now_s() - t0) * 1e6;
        total += samples[n] * 1e-6;
        n++;
        if (total > 2.0)
            break; /* the dense method at large d: a couple of samples say enough */
    }
    rb_summary sm;
    rb_summarize(samples, n, &sm);
    rec->t.clock = b->profile ? "profile" : "cpu-wall";
    rec->t.samples = n;
    rec->t.batch = 1;
    rec->t.median_us = sm.median; rec->t.min_us = sm.min; rec->t.max_us = sm.max;
    rec->t.q1_us = sm.q1; rec->t.q3_us = sm.q3; rec->t.noise = sm.noise;
    rec->t.stop_reason = b->profile ? "profile" : n >= 10 ? "max-samples" : "time";

#pragma omp parallel for schedule(static)
    for (long i = 0; i < s->N; i++)
        rb_row_stats_compute(s->x + i * (long)s->d, s->xh + i * (long)s->d, s->d, &s->rows[i]);
    rb_metrics_init(&rec->m, s->d);
    for (long i = 0; i < s->N; i++) /* serial: a fixed summation order, bit-stable results */
        rb_metrics_add(&rec->m, &s->rows[i]);
    rb_metrics_finish(&rec->m);
    return 0;
}

static void cpu_describe(rb_backend *b, cJSON *o)
{
    (void)b;
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    cJSON_AddStringToObject(o, "host", host);
    cJSON_AddNumberToObject(o, "cpu_threads", omp_get_max_threads());
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c += 2;
                c[strcspn(c, "\n")] = 0;
                cJSON_AddStringToObject(o, "cpu", c);
            }
            break;
        }
    }
    if (f)
        fclose(f);
}

static void cpu_destroy(rb_backend *b)
{
    cpu_state *s = b->state;
    free(s->x); free(s->xh); free(s->rows);
    free(s);
    free(b);
}

rb_backend *rb_backend_cpu_create(void)
{
    rb_backend *b = calloc(1, sizeof *b);
    cpu_state *s = calloc(1, sizeof *s);
    if (!b || !s) {
        free(b); free(s);
        return NULL;
    }
    b->name = "cpu";
    b->nvariants = 1;
    b->variants[0] = "ref";
    b->state = s;
    b->load_data = cpu_load;
    b->run = cpu_run;
    b->describe = cpu_describe;
    b->destroy = cpu_destroy;
    return b;
}

/* Read access for tests and the GPU backend's validation. */
const float *rb_backend_cpu_input(rb_backend *b) { return ((cpu_state *)b->state)->x; }
const float *rb_backend_cpu_output(rb_backend *b) { return ((cpu_state *)b->state)->xh; }
