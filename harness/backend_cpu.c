/* backend_cpu.c: the reference backend. Same inputs, same block math (rb_qdq_row), same
 * metrics as the GPU; its timings are CPU wall-clock timings and are labelled so. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "data.h"
#include "fp16.h"
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
    s->d = d; s->N = N; s->dtype = dtype;
    s->x = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N));
    s->xh = malloc(sizeof(float) * (size_t)N * d);
    s->rows = malloc(sizeof(rb_row_stats) * (size_t)N);
    if (!s->x || !s->xh || !s->rows) {
        fprintf(stderr, "rotorbench: out of host memory for N=%ld d=%d (%.1f MB)\n", N, d,
                (double)N * d * 8 / 1e6);
        return -1;
    }
    char err[256];
    if (rb_data_sphere(seed, d, N, dtype, s->x, err, sizeof err)) {
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

static int cpu_run(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec)
{
    (void)variant;
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
