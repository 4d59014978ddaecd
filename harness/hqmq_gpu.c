/* hqmq_gpu.c: HQMQ's run on the GPU backend (its hook, hqmq_method.c): the Med3x pre-pass when
 * asked, the fast kernel's search (the cell table built on the host), the in-run check against
 * rb_hqmq_row with the GPU's own threshold, and the timing of pre-pass + quantize pass (what a
 * user of HQMQ pays per batch), with the pre-pass also timed on its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_gpu.h"
#include "gpu_check.h"
#include "hqmq_celltab.h"
#include "results.h"
#include "rb_kernels.h"
#include "run_options.h"

typedef struct {
    rb_qdq_params dp; /* device q_s */
    int variant, med3, dtype, d;
    const void *x;
    void *xh;
    long N;
    void *scratch;         /* Med3x: norms, histograms and the threshold (rb_hqmq_med3_state) */
    unsigned short *cells; /* the cell search's table (device), or NULL */
} hq_ctx;

static int enq_hq_pre(void *ctx, cudaStream_t st)
{
    hq_ctx *c = ctx;
    cudaError_t e = rb_launch_hqmq_med3(c->x, c->dtype, c->d, c->N, c->dp.hq_C, c->scratch, st);
    return e == cudaSuccess ? 0 : rb_gpu_report(e, "rb_launch_hqmq_med3", __FILE__, __LINE__);
}

/* Med3x pre-pass (when asked) + the quantize pass. */
static int enq_hq(void *ctx, cudaStream_t st)
{
    hq_ctx *c = ctx;
    if (c->med3 && enq_hq_pre(ctx, st))
        return -1;
    cudaError_t e = rb_launch_hqmq(&c->dp, c->variant, c->dtype, c->x, c->xh, c->N,
                                   c->med3 ? rb_hqmq_med3_thresh(c->scratch) : NULL, st);
    return e == cudaSuccess ? 0 : rb_gpu_report(e, "rb_launch_hqmq", __FILE__, __LINE__);
}

/* Med3x: the GPU's median against the CPU's, when the batch is small enough to copy. */
static int check_median(rb_gpu_state *s, const rb_hqmq_med3_state *st, const char *label)
{
    if ((long)((s->d + 3) / 4) * s->N > (1L << 22))
        return 0;
    float med = 0, *all = malloc(sizeof(float) * (size_t)s->N * s->d);
    int rc = -1;
    if (!all)
        fprintf(stderr, "rotorbench: gpu: out of host memory\n");
    else if (!rb_gpu_get_rows(s, 0, 0, s->N, all) && !rb_hqmq_batch_median(all, s->d, s->N, NULL, &med)) {
        rc = med == st->median ? 0 : -1;
        if (rc)
            fprintf(stderr, "rotorbench: gpu %s: Med3x median %.9g, the CPU's %.9g\n", label, st->median, med);
    }
    free(all);
    return rc;
}

int rb_gpu_run_hqmq(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec)
{
    rb_gpu_state *s = b->state;
    int pushed = 0, rc = -1;
    hq_ctx c;
    memset(&c, 0, sizeof c);
    c.variant = variant;
    c.med3 = p->hq_outliers;
    if (!s->loaded || p->d != s->d) {
        fprintf(stderr, "rotorbench: gpu: run: no data loaded for d=%d\n", p->d);
        return -1;
    }
    c.dtype = (int)s->dtype;
    c.d = s->d;
    c.x = s->x;
    c.xh = s->xh;
    c.N = s->N;
    /* the fast kernel's search (RB_HQMQ_SEARCH: the same answers by each; the record's route says
     * which ran) and the cell table's cells per axis (RB_HQMQ_CELLS_G, 0: rb_hqmq_cells_grid(S)) */
    const rb_run_options *ro = rb_run_options_get();
    const int search = ro->hqmq_search, cells_g = ro->hqmq_cells_g;
    if (rb_gpu_upload_params(s, p, &c.dp))
        return -1;
    c.dp.hq_search = search;
    if (variant == RB_VARIANT_FAST && p->hq_S <= RB_HQMQ_CELL_MAX_S &&
        (search == RB_HQ_SEARCH_AUTO || search == RB_HQ_SEARCH_CELLS)) {
        /* the cell search's table, built here from the host's q_s (hqmq_celltab.c) */
        int G = cells_g;
        const int e = rb_hqmq_cells_upload(p->rot, p->hq_S, &c.cells, &G);
        if (e) {
            fprintf(stderr, "rotorbench: gpu: HQMQ cell table (S=%d): %s\n", p->hq_S,
                    e == -1 ? "out of host memory" : cudaGetErrorString(cudaGetLastError()));
            goto fail;
        }
        c.dp.hq_cells = c.cells;
        c.dp.hq_cells_g = G;
    }
    if (variant == RB_VARIANT_FAST) {
        const int route = rb_hqmq_route(&c.dp, variant, c.dtype, s->x, s->xh);
        snprintf(rec->route, sizeof rec->route, "%s", route == RB_HQ_SEARCH_CELLS ? "cells"
                                                      : route == RB_HQ_SEARCH_TC  ? "tc"
                                                                                  : "fp32");
    }
    if (c.med3)
        CK(cudaMalloc(&c.scratch, rb_hqmq_med3_scratch_bytes(s->d, s->N)));
    char label[200];
    snprintf(label, sizeof label, "%s/%s d=%d s%d_r%d%s %s N=%ld", rb_method_name(p->method), rec->variant, p->d,
             p->hq_S, p->hq_rbits, c.med3 ? "+med3" : "", rb_dtype_name(s->dtype), s->N);
    if (b->profile) {
        rb_meas_range_push(s->meas, label);
        pushed = 1;
    }
    for (int i = 0; i < (b->profile ? 4 : 1); i++)
        if (enq_hq(&c, s->st))
            goto fail;
    CK(cudaStreamSynchronize(s->st));
    if (pushed) {
        pushed = 0;
        rb_meas_range_pop(s->meas);
    }
    rb_hqmq_med3_state st;
    memset(&st, 0, sizeof st);
    if (c.med3) {
        if (rb_launch_hqmq_count_outliers(s->d, s->N, c.scratch, s->st) != cudaSuccess)
            goto fail;
        CK(cudaMemcpyAsync(&st, c.scratch, sizeof st, cudaMemcpyDeviceToHost, s->st));
        CK(cudaStreamSynchronize(s->st));
        if (check_median(s, &st, label))
            goto fail;
    }
    rb_qdq_params hp = *p; /* the CPU reference with the GPU's threshold */
    if (c.med3)
        hp.hq_thresh = st.thresh;
    if (rb_gpu_check(s, &hp, variant, rec, label) || rb_gpu_fill_metrics(s, rec))
        goto fail;
    /* outliers are counted over finite chunk norms; inputs with NaN rows may count a few more */
    rec->outlier_frac =
        rec->m.finite_rows ? (double)st.outliers / ((double)rec->m.finite_rows * ((s->d + 3) / 4)) : 0;
    if (b->profile)
        rb_meas_profile_timing(&rec->t);
    else if (rb_meas_gpu_time(s->meas, label, enq_hq, &c, c.med3 ? enq_hq_pre : NULL, &c, &rec->t))
        goto fail;
    rc = 0;
fail:
    if (pushed)
        rb_meas_range_pop(s->meas);
    if (c.scratch)
        cudaFree(c.scratch);
    if (c.cells)
        cudaFree(c.cells);
    return rc;
}
