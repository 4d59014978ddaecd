/* kvpath_gpu.c: the GPU backend's encode and decode settings (config "path"). One checked pass
 * x -> codes + norms -> x^ (launch variants RB_VARIANT_ENCODE, _DECODE), x^ checked against the
 * CPU reference codec (kvcodec.h, same norm kind) under agree.h's rule, the metrics of x against
 * x^, then the path's own launch timed by the measurement module against a D2D copy of half the
 * bytes it moves (a copy reads and writes them: the same traffic). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend_gpu.h"
#include "counts.h"
#include "fp16.h"
#include "gpu_check.h"
#include "kvcodec.h"
#include "rb_kernels.h"

#define KV_CHECK_ROWS 256

/* The first rows: the GPU's norms against the CPU codec's (the norm's summation order differs:
 * fp32 within 1e-6 relative, fp16 the same or the neighbouring half), then x^ against the CPU
 * decode of the CPU's codes scaled by the GPU's norms, under agree.h's rule (so an fp16 norm
 * that rounded the other way is not taken for a wrong code). */
static int kv_check(rb_gpu_state *s, const rb_qdq_params *hp, int norm_kind, const void *dnorms, rb_record *rec,
                    const char *label)
{
    const long rows = s->N < KV_CHECK_ROWS ? s->N : KV_CHECK_ROWS;
    const size_t n = (size_t)rows * s->d;
    float *xin = malloc(sizeof(float) * n), *gpu = malloc(sizeof(float) * n), *ref = malloc(sizeof(float) * n);
    void *codes = malloc((size_t)rows * (size_t)rb_kv_row_bytes(hp->dpad, hp->bits));
    void *norms = malloc((size_t)rows * 4), *gnorms = malloc((size_t)rows * 4);
    const size_t nb = (size_t)rows * (size_t)rb_kv_norm_bytes(norm_kind);
    int rc = -1;
    if (!xin || !gpu || !ref || !codes || !norms || !gnorms) {
        fprintf(stderr, "rotorbench: gpu: out of host memory\n");
        goto out;
    }
    if (rb_gpu_get_rows(s, 0, 0, rows, xin) || rb_gpu_get_rows(s, 1, 0, rows, gpu))
        goto out;
    if (nb) {
        cudaError_t e = cudaMemcpy(gnorms, dnorms, nb, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess) {
            rb_gpu_report(e, "cudaMemcpy(norms)", __FILE__, __LINE__);
            goto out;
        }
    }
    if (rb_cpu_encode_rows(hp, norm_kind, xin, rows, codes, norms))
        goto out;
    for (long i = 0; i < rows && nb; i++) {
        const float c = norm_kind == RB_KV_NORM_FP16 ? rb_f16_to_f32(((uint16_t *)norms)[i]) : ((float *)norms)[i];
        const float g = norm_kind == RB_KV_NORM_FP16 ? rb_f16_to_f32(((uint16_t *)gnorms)[i]) : ((float *)gnorms)[i];
        const int near = norm_kind == RB_KV_NORM_FP16
                             ? abs((int)((uint16_t *)norms)[i] - (int)((uint16_t *)gnorms)[i]) <= 1
                             : fabsf(g - c) <= 1e-6f * fabsf(c);
        if (!(near || (isnan(c) && isnan(g)) || c == g)) {
            fprintf(stderr, "rotorbench: gpu %s: row %ld: norm %.9g, the CPU's %.9g\n", label, i, g, c);
            goto out;
        }
    }
    if (rb_cpu_decode_rows(hp, norm_kind, codes, nb ? gnorms : norms, rows, s->dtype, ref))
        goto out;
    if (rb_gpu_agree(hp, 1 /* fast */, s->dtype, xin, ref, gpu, rows, rec, label))
        goto out;
    rc = 0;
out:
    free(xin); free(gpu); free(ref); free(codes); free(norms); free(gnorms);
    return rc;
}

int rb_gpu_time_kv_path(rb_gpu_state *s, rb_record *rec, const char *label, rb_enqueue_fn fn, void *ctx,
                        rb_enqueue_fn pre, void *pre_ctx)
{
    const size_t xbytes = (size_t)s->N * s->d * s->esz, half = (size_t)(rec->bytes / 2);
    if (rb_meas_gpu_copy_roof(s->meas, s->xh, s->x, half < xbytes ? half : xbytes) ||
        rb_meas_gpu_time(s->meas, label, fn, ctx, pre, pre_ctx, &rec->t) ||
        rb_meas_gpu_copy_roof(s->meas, s->xh, s->x, xbytes))
        return -1;
    return 0;
}

int rb_gpu_run_kvpath(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec)
{
    rb_gpu_state *s = b->state;
    void *codes = NULL, *norms = NULL;
    int rc = -1;
    if (!s->loaded || p->d != s->d || (rec->path != RB_PATH_ENCODE && rec->path != RB_PATH_DECODE)) {
        fprintf(stderr, "rotorbench: gpu: kv path: no data loaded for d=%d, or not an encode/decode path\n", p->d);
        return -1;
    }
    const size_t cbytes = (size_t)s->N * (size_t)rb_kv_row_bytes(p->dpad, p->bits);
    const size_t nbytes = (size_t)s->N * (size_t)rb_kv_norm_bytes(rec->kv_norm);
    rb_gpu_qdq_ctx enc = {.variant = RB_VARIANT_ENCODE, .dtype = (int)s->dtype, .x = s->x, .xh = NULL, .N = s->N};
    if (rb_gpu_upload_params(s, p, &enc.dp))
        return -1;
    CK(cudaMalloc(&codes, cbytes ? cbytes : 4));
    CK(cudaMalloc(&norms, nbytes ? nbytes : 4));
    enc.dp.kv_codes = codes;
    enc.dp.kv_norms = norms;
    enc.dp.kv_norm = rec->kv_norm;
    rb_gpu_qdq_ctx dec = enc;
    dec.variant = RB_VARIANT_DECODE;
    dec.x = NULL;
    dec.xh = s->xh;
    char label[200];
    snprintf(label, sizeof label, "%s/%s %s d=%d b=%d %s N=%ld", rb_method_name(p->method), b->variants[variant],
             rb_path_name(rec->path), p->d, p->bits, rb_dtype_name(s->dtype), s->N);
    for (int i = 0; i < (b->profile ? 4 : 1); i++)
        if (rb_gpu_enq_qdq(&enc, s->st) || rb_gpu_enq_qdq(&dec, s->st))
            goto fail;
    CK(cudaStreamSynchronize(s->st));
    if (kv_check(s, p, rec->kv_norm, norms, rec, label) || rb_gpu_fill_metrics(s, rec))
        goto fail;
    if (b->profile) {
        rb_meas_profile_timing(&rec->t);
        rc = 0;
        goto fail;
    }
    if (rb_gpu_time_kv_path(s, rec, label, rb_gpu_enq_qdq, rec->path == RB_PATH_ENCODE ? (void *)&enc : (void *)&dec,
                            NULL, NULL))
        goto fail;
    rc = 0;
fail:
    cudaFree(codes);
    cudaFree(norms);
    return rc;
}
