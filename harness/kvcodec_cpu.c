/* kvcodec_cpu.c: the CPU reference of the packed encode and decode (kvcodec.h). Each row runs
 * the steps of reference.c's rotation_row in the same order, so the split pipeline reproduces
 * the fused one exactly. */
#include "kvcodec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fp16.h"
#include "method_hooks.h"
#include "reference.h"

int rb_kv_method_packs(rb_method m)
{
    return rb_method_get(m) != NULL && rb_method_hooks_of(m) == &rb_rotation_hooks;
}

int rb_kv_method_has_paths(rb_method m)
{
    return rb_kv_method_packs(m) || (rb_method_get(m) != NULL && rb_method_hooks_of(m)->kv_stored_bytes);
}

int rb_kv_norm_kind(int unit_norm, int kv_norm)
{
    return unit_norm ? RB_KV_NORM_NONE : kv_norm == RB_KV_NORM_FP32 ? RB_KV_NORM_FP32 : RB_KV_NORM_FP16;
}

const char *rb_kv_norm_name(int norm_kind)
{
    return norm_kind == RB_KV_NORM_FP16 ? "fp16" : norm_kind == RB_KV_NORM_FP32 ? "fp32" : "none";
}

/* Below this many rows one thread does it: a team's start and barrier cost more than the rows. */
#define RB_KV_OMP_MIN_ROWS 256

static int check_args(const rb_qdq_params *p, int norm_kind, const void *norms, const char *what)
{
    if (!rb_kv_method_packs(p->method)) {
        fprintf(stderr, "rotorbench: %s: method %s has no packed scalar format\n", what,
                rb_method_name(p->method));
        return -1;
    }
    if (p->bits < 1 || p->bits > 8) {
        fprintf(stderr, "rotorbench: %s: bits %d outside 1..8\n", what, p->bits);
        return -1;
    }
    if (norm_kind != RB_KV_NORM_FP16 && norm_kind != RB_KV_NORM_FP32 && norm_kind != RB_KV_NORM_NONE) {
        fprintf(stderr, "rotorbench: %s: unknown norm kind %d\n", what, norm_kind);
        return -1;
    }
    if ((norm_kind == RB_KV_NORM_NONE) != (p->unit_norm != 0)) {
        fprintf(stderr, "rotorbench: %s: norm kind %s with assume_unit_norm %d (none goes with unit norm only)\n",
                what, rb_kv_norm_name(norm_kind), p->unit_norm);
        return -1;
    }
    if (norm_kind != RB_KV_NORM_NONE && !norms) {
        fprintf(stderr, "rotorbench: %s: no norms buffer for %s norms\n", what, rb_kv_norm_name(norm_kind));
        return -1;
    }
    return 0;
}

static void put_norm(void *norms, int norm_kind, long i, float rho)
{
    if (norm_kind == RB_KV_NORM_FP16)
        ((uint16_t *)norms)[i] = rb_f32_to_f16(rho);
    else if (norm_kind == RB_KV_NORM_FP32)
        ((float *)norms)[i] = rho;
}

static float get_norm(const void *norms, int norm_kind, long i)
{
    if (norm_kind == RB_KV_NORM_FP16)
        return rb_f16_to_f32(((const uint16_t *)norms)[i]);
    if (norm_kind == RB_KV_NORM_FP32)
        return ((const float *)norms)[i];
    return 1.0f;
}

static void encode_row(const rb_qdq_params *p, int norm_kind, const float *x, uint32_t *words,
                       long nwords, void *norms, long i, float *v, float *tmp)
{
    memset(words, 0, sizeof(uint32_t) * (size_t)nwords);
    const float rho = rb_rotate_row_in(p, x, v, tmp);
    const int finite = rb_row_is_finite(rho);
    if (!p->unit_norm) /* assume_unit_norm: nothing stored */
        put_norm(norms, norm_kind, i, finite ? rho : rb_bits_f32(0x7fc00000u));
    if (!finite)
        return; /* zero codes */
    for (int j = 0; j < p->dpad; j++)
        rb_kv_put(words, j, p->bits, (unsigned)rb_sq_index(v[j], p->bounds, p->nbounds));
}

static void decode_row(const rb_qdq_params *p, int norm_kind, const uint32_t *words, const void *norms,
                       long i, rb_dtype dtype, float *out, float *v, float *tmp)
{
    float rho = get_norm(norms, norm_kind, i);
    if (!rb_row_is_finite(rho)) {
        for (int j = 0; j < p->d; j++)
            out[j] = rb_bits_f32(0x7fc00000u);
        return;
    }
    for (int j = 0; j < p->dpad; j++)
        v[j] = p->centroids[rb_kv_get(words, j, p->bits)];
    rb_rotate_inv(p, v, tmp);
    for (int j = 0; j < p->d; j++)
        out[j] = dtype == RB_FP16 ? rb_round_f16(rho * v[j]) : rho * v[j];
}

/* One call's arguments, for rows_parallel. */
typedef struct {
    const rb_qdq_params *p;
    int norm_kind;
    rb_dtype dtype;
    const float *x;       /* encode: in */
    char *codes;          /* encode: out */
    void *norms;          /* encode: out */
    const char *codes_in; /* decode: in */
    const void *norms_in; /* decode: in */
    float *xh;            /* decode: out */
    long row_bytes;
} kv_job;

static void encode_job_row(const kv_job *j, long i, float *v)
{
    encode_row(j->p, j->norm_kind, j->x + i * (long)j->p->d, (uint32_t *)(j->codes + i * j->row_bytes),
               j->row_bytes / 4, j->norms, i, v, v + j->p->dpad);
}

static void decode_job_row(const kv_job *j, long i, float *v)
{
    decode_row(j->p, j->norm_kind, (const uint32_t *)(j->codes_in + i * j->row_bytes), j->norms_in, i, j->dtype,
               j->xh + i * (long)j->p->d, v, v + j->p->dpad);
}

/* row(job, i, scratch) for rows [0, N), over threads when there are enough rows; each thread
 * has its own 2 * dpad floats of scratch. */
static int rows_parallel(const kv_job *job, long N, void (*row)(const kv_job *, long, float *), const char *what)
{
    int oom = 0;
#pragma omp parallel reduction(| : oom) if (N >= RB_KV_OMP_MIN_ROWS)
    {
        float *v = malloc(sizeof(float) * 2 * (size_t)job->p->dpad);
        oom = v == NULL;
#pragma omp for schedule(static)
        for (long i = 0; i < N; i++)
            if (v)
                row(job, i, v);
        free(v);
    }
    if (oom) {
        fprintf(stderr, "rotorbench: %s: out of host memory for scratch rows\n", what);
        return -1;
    }
    return 0;
}

int rb_cpu_encode_rows(const rb_qdq_params *p, int norm_kind, const float *x, long N, void *codes,
                       void *norms)
{
    if (check_args(p, norm_kind, norms, "encode"))
        return -1;
    const kv_job job = {.p = p, .norm_kind = norm_kind, .x = x, .codes = codes, .norms = norms,
                        .row_bytes = rb_kv_row_bytes(p->dpad, p->bits)};
    return rows_parallel(&job, N, encode_job_row, "encode");
}

int rb_cpu_decode_rows(const rb_qdq_params *p, int norm_kind, const void *codes, const void *norms,
                       long N, rb_dtype dtype, float *xh)
{
    if (check_args(p, norm_kind, norms, "decode"))
        return -1;
    const kv_job job = {.p = p, .norm_kind = norm_kind, .dtype = dtype, .codes_in = codes, .norms_in = norms,
                        .xh = xh, .row_bytes = rb_kv_row_bytes(p->dpad, p->bits)};
    return rows_parallel(&job, N, decode_job_row, "decode");
}
