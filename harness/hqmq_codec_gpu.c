/* hqmq_codec_gpu.c: HQMQ's encode and decode settings on the GPU backend (its hook gpu_kvpath;
 * kernels: rb_launch_hqmq_kv). One checked pass x -> records, sigma, side -> x^; x^ checked
 * against the CPU roundtrip (rb_gpu_check, agree.h's rule: a chunk may take the other of two
 * codewords that tie within rounding), and the first rows' records decoded on the CPU
 * (rb_cpu_hqmq_decode_rows) equal to the GPU's x^ bit for bit; the metrics; then the path's
 * launch timed (encode: with the Med3x pre-pass, as the roundtrip is) against a D2D copy of half
 * the bytes it moves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_gpu.h"
#include "fp16.h"
#include "gpu_check.h"
#include "hqmq_celltab.h"
#include "hqmq_codec.h"
#include "hqmq_pack.h"
#include "rb_kernels.h"
#include "run_options.h"

#define HQ_KV_CHECK_ROWS 256

typedef struct {
    rb_qdq_params dp; /* device q_s, cell table */
    int variant, dtype, med3, d;
    const void *x;
    void *xh;
    long N;
    void *pre;        /* Med3x: the pre-pass's scratch (its threshold on the device) */
    rb_hqmq_kv kv;
} hq_kv_ctx;

static int enq_pre(void *ctx, cudaStream_t st)
{
    hq_kv_ctx *c = ctx;
    cudaError_t e = rb_launch_hqmq_med3(c->x, c->dtype, c->d, c->N, c->dp.hq_C, c->pre, st);
    return e == cudaSuccess ? 0 : rb_gpu_report(e, "rb_launch_hqmq_med3", __FILE__, __LINE__);
}

static int enq_path(void *ctx, cudaStream_t st)
{
    hq_kv_ctx *c = ctx;
    if (c->variant == RB_VARIANT_ENCODE && c->med3 && enq_pre(ctx, st))
        return -1;
    cudaError_t e = rb_launch_hqmq_kv(&c->dp, c->variant, c->dtype, c->x, c->xh, c->N,
                                      c->med3 ? rb_hqmq_med3_thresh(c->pre) : NULL, &c->kv, st);
    return e == cudaSuccess ? 0 : rb_gpu_report(e, "rb_launch_hqmq_kv", __FILE__, __LINE__);
}

/* The first rows' records, sigma and side entries decoded on the CPU against the GPU's x^. */
static int check_decode(rb_gpu_state *s, const rb_qdq_params *hp, const hq_kv_ctx *c, const char *label)
{
    const long rows = s->N < HQ_KV_CHECK_ROWS ? s->N : HQ_KV_CHECK_ROWS;
    const long rb = rb_hqmq_row_bytes(s->d, hp->hq_S, hp->hq_rbits, c->med3);
    const size_t n = (size_t)rows * s->d;
    void *rec = malloc((size_t)(rows * rb) + 1);
    uint16_t *sig = malloc(sizeof(uint16_t) * (size_t)rows + 1), *side = NULL;
    float *gpu = malloc(sizeof(float) * n), *cpu = malloc(sizeof(float) * n);
    int rc = -1;
    long ns = 0;
    if (!rec || !sig || !gpu || !cpu) {
        fprintf(stderr, "rotorbench: gpu: out of host memory\n");
        goto fail;
    }
    CK(cudaMemcpy(rec, c->kv.rows, (size_t)(rows * rb), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(sig, c->kv.sigma, sizeof(uint16_t) * (size_t)rows, cudaMemcpyDeviceToHost));
    for (long i = 0; i < rows; i++) /* rows 0 .. rows-1 own the side array's first entries */
        ns += rb_hqmq_row_outliers((const uint32_t *)((const char *)rec + i * rb), s->d, hp->hq_S, hp->hq_rbits,
                                   c->med3);
    if (ns > c->kv.side_cap) {
        fprintf(stderr, "rotorbench: gpu %s: the first %ld records flag %ld outliers, room for %ld\n", label, rows,
                ns, c->kv.side_cap);
        goto fail;
    }
    if (!(side = malloc(8 * (size_t)ns + 1))) {
        fprintf(stderr, "rotorbench: gpu: out of host memory\n");
        goto fail;
    }
    if (ns)
        CK(cudaMemcpy(side, c->kv.side, 8 * (size_t)ns, cudaMemcpyDeviceToHost));
    if (rb_gpu_get_rows(s, 1, 0, rows, gpu) || rb_cpu_hqmq_decode_rows(hp, rec, sig, side, ns, rows, s->dtype, cpu))
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&gpu[i], &cpu[i], sizeof(float)) && !(gpu[i] != gpu[i] && cpu[i] != cpu[i])) {
            fprintf(stderr, "rotorbench: gpu %s: row %ld col %ld: decoded %.9g, the CPU decode of the same record %.9g\n",
                    label, (long)(i / (size_t)s->d), (long)(i % (size_t)s->d), gpu[i], cpu[i]);
            goto fail;
        }
    rc = 0;
fail:
    free(rec); free(sig); free(side); free(gpu); free(cpu);
    return rc;
}

int rb_gpu_run_hqmq_kvpath(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec)
{
    rb_gpu_state *s = b->state;
    hq_kv_ctx c;
    memset(&c, 0, sizeof c);
    unsigned short *cells = NULL;
    int rc = -1;
    (void)variant; /* the fast kernels: the record says "fast" */
    if (!s->loaded || p->d != s->d || (rec->path != RB_PATH_ENCODE && rec->path != RB_PATH_DECODE)) {
        fprintf(stderr, "rotorbench: gpu: hqmq kv path: no data loaded for d=%d, or not an encode/decode path\n", p->d);
        return -1;
    }
    c.dtype = (int)s->dtype;
    c.med3 = p->hq_outliers;
    c.d = s->d;
    c.x = s->x;
    c.xh = s->xh;
    c.N = s->N;
    if (rb_gpu_upload_params(s, p, &c.dp))
        return -1;
    const rb_run_options *ro = rb_run_options_get();
    c.dp.hq_search = ro->hqmq_search;
    if (p->hq_S <= RB_HQMQ_CELL_MAX_S && (ro->hqmq_search == RB_HQ_SEARCH_AUTO || ro->hqmq_search == RB_HQ_SEARCH_CELLS)) {
        int G = ro->hqmq_cells_g; /* the roundtrip's cell table (hqmq_gpu.c) */
        const int e = rb_hqmq_cells_upload(p->rot, p->hq_S, &cells, &G);
        if (e) {
            fprintf(stderr, "rotorbench: gpu: HQMQ cell table (S=%d): %s\n", p->hq_S,
                    e == -1 ? "out of host memory" : cudaGetErrorString(cudaGetLastError()));
            return -1;
        }
        c.dp.hq_cells = cells;
        c.dp.hq_cells_g = G;
    }
    snprintf(rec->route, sizeof rec->route, "%s", c.dp.hq_cells ? "cells" : "fp32");
    rb_hqmq_med3_state st;
    memset(&st, 0, sizeof st);
    if (c.med3) { /* the side array's room: the chunks over this batch's threshold */
        CK(cudaMalloc(&c.pre, rb_hqmq_med3_scratch_bytes(s->d, s->N)));
        if (enq_pre(&c, s->st))
            goto fail;
        CK(rb_launch_hqmq_count_outliers(s->d, s->N, c.pre, s->st));
        CK(cudaMemcpyAsync(&st, c.pre, sizeof st, cudaMemcpyDeviceToHost, s->st));
        CK(cudaStreamSynchronize(s->st));
        c.kv.side_cap = (long)st.outliers;
        CK(cudaMalloc((void **)&c.kv.side, 8 * (size_t)c.kv.side_cap + 8));
        CK(cudaMalloc(&c.kv.scratch, rb_hqmq_kv_scratch_bytes(s->N)));
    }
    CK(cudaMalloc(&c.kv.rows, (size_t)s->N * (size_t)rb_hqmq_row_bytes(s->d, p->hq_S, p->hq_rbits, c.med3) + 4));
    CK(cudaMalloc((void **)&c.kv.sigma, sizeof(uint16_t) * (size_t)s->N + 4));
    char label[200];
    snprintf(label, sizeof label, "%s/fast %s d=%d s%d_r%d%s %s N=%ld", rb_method_name(p->method),
             rb_path_name(rec->path), p->d, p->hq_S, p->hq_rbits, c.med3 ? "+med3" : "", rb_dtype_name(s->dtype),
             s->N);
    hq_kv_ctx dec = c;
    c.variant = RB_VARIANT_ENCODE;
    dec.variant = RB_VARIANT_DECODE;
    for (int i = 0; i < (b->profile ? 4 : 1); i++)
        if (enq_path(&c, s->st) || enq_path(&dec, s->st))
            goto fail;
    unsigned long long nout = 0;
    if (c.med3)
        CK(cudaMemcpyAsync(&nout, rb_hqmq_kv_side_count(&c.kv, s->N), sizeof nout, cudaMemcpyDeviceToHost, s->st));
    CK(cudaStreamSynchronize(s->st));
    if ((long)nout > c.kv.side_cap) {
        fprintf(stderr, "rotorbench: gpu %s: %llu outlier chunks, room for %ld\n", label, nout, c.kv.side_cap);
        goto fail;
    }
    rb_qdq_params hp = *p; /* the CPU reference with the GPU's threshold */
    if (c.med3)
        hp.hq_thresh = st.thresh;
    if (check_decode(s, &hp, &c, label) || rb_gpu_check(s, &hp, RB_VARIANT_FAST, rec, label) ||
        rb_gpu_fill_metrics(s, rec))
        goto fail;
    rec->outlier_frac = rec->m.finite_rows ? (double)nout / ((double)rec->m.finite_rows * ((s->d + 3) / 4)) : 0;
    rec->stored_bytes = (double)rb_hqmq_kv_stored_bytes(p, s->N, (long)nout);
    rec->bytes = (double)s->N * s->d * s->esz + rec->stored_bytes;
    if (b->profile) {
        rb_meas_profile_timing(&rec->t);
        rc = 0;
        goto fail;
    }
    if (rb_gpu_time_kv_path(s, rec, label, enq_path, rec->path == RB_PATH_ENCODE ? (void *)&c : (void *)&dec,
                            rec->path == RB_PATH_ENCODE && c.med3 ? enq_pre : NULL, &c))
        goto fail;
    rc = 0;
fail:
    cudaFree(c.pre);
    cudaFree(c.kv.side);
    cudaFree(c.kv.scratch);
    cudaFree(c.kv.rows);
    cudaFree(c.kv.sigma);
    cudaFree(cells);
    return rc;
}
