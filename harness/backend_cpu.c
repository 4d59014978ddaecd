/* backend_cpu.c: the reference backend. Same inputs, same block math (rb_qdq_row), same
 * metrics as the GPU; its timings are CPU wall-clock timings and are labelled so. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_cpu.h"
#include "counts.h"
#include "method_hooks.h"
#include "reference.h"
#include "data.h"
#include "fp16.h"
#include "hostmem.h"
#include "kvattn_cpu.h"
#include "measure_cpu.h"


/* Buffers for (d, N): checked against host memory first. */
static int cpu_alloc(rb_cpu_state *s, int d, long N, rb_dtype dtype)
{
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
    return 0;
}

static int cpu_fits(rb_backend *b, int d, long N, rb_dtype dtype, char *why, size_t n)
{
    (void)b;
    return rb_cpu_load_check(d, N, dtype, why, n);
}

static int cpu_load(rb_backend *b, uint64_t seed, int d, long N, rb_dtype dtype)
{
    rb_cpu_state *s = b->state;
    if (cpu_alloc(s, d, N, dtype))
        return -1;
    char err[256];
    if (rb_data_generate(&b->dist, seed, d, N, dtype, s->x, err, sizeof err)) {
        fprintf(stderr, "rotorbench: %s\n", err);
        return -1;
    }
    return 0;
}

/* Rows given by the driver (a file's), kept as they are; fp16 runs round them as the GPU stores them. */
static int cpu_load_rows(rb_backend *b, const float *x, int d, long N, rb_dtype dtype)
{
    rb_cpu_state *s = b->state;
    if (cpu_alloc(s, d, N, dtype))
        return -1;
    for (size_t i = 0; i < (size_t)N * d; i++)
        s->x[i] = dtype == RB_FP16 ? rb_round_f16(x[i]) : x[i];
    return 0;
}

/* Quantize-dequantize every row of x into xh (fp16 runs store fp16, like the kernels). */
void rb_cpu_qdq_rows(const rb_qdq_params *p, const float *x, float *xh, long N, rb_dtype dtype)
{
#pragma omp parallel if (N >= 256) /* fewer rows: a team costs more than it saves */
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

void rb_cpu_metrics(rb_cpu_state *s, rb_record *rec)
{
#pragma omp parallel for schedule(static)
    for (long i = 0; i < s->N; i++)
        rb_row_stats_compute(s->x + i * (long)s->d, s->xh + i * (long)s->d, s->d, &s->rows[i]);
    rb_metrics_init(&rec->m, s->d);
    for (long i = 0; i < s->N; i++) /* serial: a fixed summation order, bit-stable results */
        rb_metrics_add(&rec->m, &s->rows[i]);
    rb_metrics_finish(&rec->m);
}

typedef struct {
    rb_cpu_state *s;
    const rb_qdq_params *p;
} qdq_pass;

static int qdq_rows(void *ctx)
{
    qdq_pass *c = ctx;
    rb_cpu_qdq_rows(c->p, c->s->x, c->s->xh, c->s->N, c->s->dtype);
    return 0;
}

static int cpu_run(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec)
{
    (void)variant;
    const rb_method_hooks *h = rb_method_hooks_of(p->method);
    if (rec->path == RB_PATH_ENCODE || rec->path == RB_PATH_DECODE)
        return h->cpu_kvpath ? h->cpu_kvpath(b, p, rec) : rb_cpu_run_kvpath(b, p, rec);
    if (h->cpu_run)
        return h->cpu_run(b, p, rec);
    rb_cpu_state *s = b->state;
    qdq_pass c = {s, p};
    if (rb_meas_cpu_time(b->profile, NULL, qdq_rows, &c, &rec->t))
        return -1;
    rb_cpu_metrics(s, rec);
    return 0;
}

/* The first line of a small file, without its newline; 0 when it cannot be read. */
static int first_line(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    int ok = f && fgets(buf, (int)n, f) != NULL;
    if (f)
        fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = 0;
    return ok && buf[0];
}

static int cpu_attention(rb_backend *b, const float *q, int nq, int T, const float *v, const float *vh, rb_attn *out)
{
    rb_cpu_state *s = b->state;
    const long G = rb_attn_groups(s->N, T);
    rb_attn_part *parts = calloc((size_t)nq * G, sizeof *parts);
    if (!parts) {
        fprintf(stderr, "rotorbench: out of host memory for the attention metrics\n");
        return -1;
    }
    rb_attn_parts_cpu(s->x, s->xh, v, vh, s->d, s->N, q, nq, T, parts);
    rb_attn_finish(parts, nq, G, T, out);
    free(parts);
    return 0;
}

/* Host, CPU model, threads and the machine's id: what tells one machine's wall-clock times
 * from another's (rotorbench compare). */
static void cpu_describe(rb_backend *b, cJSON *o)
{
    (void)b;
    char buf[512] = "unknown";
    gethostname(buf, sizeof buf - 1);
    rb_json_replace(o, "host", cJSON_CreateString(buf));
    rb_json_replace(o, "cpu_threads", cJSON_CreateNumber(omp_get_max_threads()));
    if (first_line("/etc/machine-id", buf, sizeof buf) || first_line("/proc/sys/kernel/random/boot_id", buf, sizeof buf))
        rb_json_replace(o, "machine_id", cJSON_CreateString(buf));
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(buf, sizeof buf, f)) {
        char *c = strchr(buf, ':');
        if (!strncmp(buf, "model name", 10) && c) {
            c += 1 + (c[1] == ' ');
            c[strcspn(c, "\n")] = 0;
            rb_json_replace(o, "cpu", cJSON_CreateString(c));
            break;
        }
    }
    if (f)
        fclose(f);
}

static void cpu_destroy(rb_backend *b)
{
    rb_cpu_state *s = b->state;
    free(s->x); free(s->xh); free(s->rows);
    free(s);
    free(b);
}

/* Decode attention over a KV cache (kvattn_cpu.h): the whole batch per pass, as the GPU launches it. */
typedef struct {
    const rb_kvattn_args *a;
    int fp16;
} kva_pass;

static int kva_run(void *ctx)
{
    const kva_pass *c = ctx;
    rb_kva_attend(c->a, c->fp16);
    return 0;
}

static int cpu_kv_attention(rb_backend *b, const rb_kvattn_args *a, int fp16, rb_timing *t)
{
    kva_pass c = {a, fp16};
    return rb_meas_cpu_time(b->profile, NULL, kva_run, &c, t);
}

static const rb_backend cpu_backend = {
    .name = "cpu",
    .nvariants = 1,
    .variants = {"ref"},
    .load_data = cpu_load,
    .load_rows = cpu_load_rows,
    .fits = cpu_fits,
    .attention = cpu_attention,
    .kv_attention = cpu_kv_attention,
    .run = cpu_run,
    .describe = cpu_describe,
    .destroy = cpu_destroy,
};

rb_backend *rb_backend_cpu_create(void)
{
    rb_cpu_state *s = calloc(1, sizeof *s);
    rb_backend *b = rb_backend_make(&cpu_backend, s);
    if (!b)
        free(s);
    return b;
}

/* Read access for tests and the GPU backend's validation. */
const float *rb_backend_cpu_input(rb_backend *b) { return ((rb_cpu_state *)b->state)->x; }
const float *rb_backend_cpu_output(rb_backend *b) { return ((rb_cpu_state *)b->state)->xh; }
