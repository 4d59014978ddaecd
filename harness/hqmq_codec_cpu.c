/* hqmq_codec_cpu.c: HQMQ's packed encode and decode on the CPU (hqmq_codec.h): the reference the
 * GPU kernels are checked against, and the CPU backend's encode / decode settings. */
#include "hqmq_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cpu.h"
#include "fp16.h"
#include "hqmq_pack.h"
#include "measure_cpu.h"

/* Below this many rows one thread does it: a team's start costs more than the rows. */
#define HQ_OMP_MIN_ROWS 256

long rb_hqmq_kv_stored_bytes(const rb_qdq_params *p, long N, long nout)
{
    return rb_hqmq_stored_bytes(p->d, p->hq_S, p->hq_rbits, p->hq_outliers, N, nout);
}

long rb_cpu_hqmq_count_outliers(const rb_qdq_params *p, const float *x, long N)
{
    if (!p->hq_outliers)
        return 0;
    const int d = p->d, g = rb_hqmq_chunks(d);
    long n = 0;
#pragma omp parallel for reduction(+ : n) schedule(static) if (N >= HQ_OMP_MIN_ROWS)
    for (long i = 0; i < N; i++) {
        float v[4], fin = 0.0f;
        long k = 0;
        for (int b = 0; b < g; b++) { /* a non-finite row stores none (rb_hqmq_encode_row) */
            rb_hqmq_load_chunk(x + i * d, d, b, v);
            const float r = rb_hqmq_chunk_norm(v);
            fin = rb_hqmq_sigma_acc(fin, r, p->hq_thresh, 0);
            k += r > p->hq_thresh;
        }
        n += fin <= 3.402823466e38f ? k : 0;
    }
    return n;
}

int rb_cpu_hqmq_encode_rows(const rb_qdq_params *p, const float *x, long N, void *rows, uint16_t *sigma,
                            uint16_t *side, long side_cap, long *nout)
{
    const int d = p->d, g = rb_hqmq_chunks(d), med3 = p->hq_outliers;
    const long nw = rb_hqmq_row_bytes(d, p->hq_S, p->hq_rbits, med3) / 4;
    uint32_t *rec = rows;
    long *cnt = med3 ? malloc(sizeof(long) * (size_t)(N + 1)) : NULL;
    int oom = med3 && !cnt;
#pragma omp parallel reduction(| : oom) if (N >= HQ_OMP_MIN_ROWS && !oom)
    { /* every record and sigma; Med3x: each row's count, its entries to scratch */
        float *r = malloc(sizeof(float) * (size_t)g);
        uint16_t *tmp = malloc(sizeof(uint16_t) * 4 * (size_t)g);
        oom |= !r || !tmp;
#pragma omp for schedule(static)
        for (long i = 0; i < N; i++) {
            if (!r || !tmp || (med3 && !cnt))
                continue;
            const int n = rb_hqmq_encode_row(p->rot, p->hq_S, p->hq_rbits, p->hq_thresh, p->hq_sigma_inliers, med3,
                                             d, x + i * d, rec + i * nw, sigma + i, tmp, r);
            if (cnt)
                cnt[i] = n;
        }
        free(r);
        free(tmp);
    }
    if (oom) {
        free(cnt);
        fprintf(stderr, "rotorbench: hqmq encode: out of host memory for scratch rows\n");
        return -1;
    }
    *nout = 0;
    if (!med3)
        return 0;
    long tot = 0;
    for (long i = 0; i < N; i++) { /* each row's first entry: the side array is in row order */
        const long c = cnt[i];
        cnt[i] = tot;
        tot += c;
    }
    if (tot > side_cap || (tot > 0 && !side)) {
        fprintf(stderr, "rotorbench: hqmq encode: %ld outlier chunks, room for %ld\n", tot, side ? side_cap : 0);
        free(cnt);
        return -1;
    }
#pragma omp parallel for schedule(static) if (N >= HQ_OMP_MIN_ROWS)
    for (long i = 0; i < N; i++)
        rb_hqmq_side_row(p->hq_S, p->hq_rbits, d, rec + i * nw, x + i * d, side + 4 * cnt[i]);
    free(cnt);
    *nout = tot;
    return 0;
}

int rb_cpu_hqmq_decode_rows(const rb_qdq_params *p, const void *rows, const uint16_t *sigma, const uint16_t *side,
                            long nside, long N, rb_dtype dtype, float *xh)
{
    const int d = p->d, med3 = p->hq_outliers;
    const long nw = rb_hqmq_row_bytes(d, p->hq_S, p->hq_rbits, med3) / 4;
    const uint32_t *rec = rows;
    long *first = med3 ? malloc(sizeof(long) * (size_t)(N + 1)) : NULL;
    if (med3 && !first) {
        fprintf(stderr, "rotorbench: hqmq decode: out of host memory for %ld row offsets\n", N);
        return -1;
    }
    long tot = 0;
    for (long i = 0; med3 && i < N; i++) { /* row i's entries follow those of rows 0 .. i-1 */
        first[i] = tot;
        tot += rb_hqmq_row_outliers(rec + i * nw, d, p->hq_S, p->hq_rbits, med3);
    }
    if (tot != (med3 ? nside : 0) || (tot > 0 && !side)) {
        fprintf(stderr, "rotorbench: hqmq decode: the records flag %ld outlier chunks, the side array holds %ld\n",
                tot, nside);
        free(first);
        return -1;
    }
#pragma omp parallel for schedule(static) if (N >= HQ_OMP_MIN_ROWS)
    for (long i = 0; i < N; i++) {
        float *out = xh + i * d;
        rb_hqmq_decode_row(p->rot, p->hq_S, p->hq_rbits, med3, d, rec + i * nw, sigma[i],
                           first ? side + 4 * first[i] : NULL, out);
        if (dtype == RB_FP16)
            for (int j = 0; j < d; j++)
                out[j] = rb_round_f16(out[j]);
    }
    free(first);
    return 0;
}

/* ---- the CPU backend's encode and decode settings ------------------------------------------- */
typedef struct {
    rb_cpu_state *s;
    rb_qdq_params p;
    void *rows;
    uint16_t *sigma, *side;
    long cap, nout;
    float *norms; /* Med3x pre-pass scratch */
} hq_kv;

static int hq_kv_pre(void *ctx)
{
    hq_kv *c = ctx;
    float med;
    if (rb_hqmq_batch_median(c->s->x, c->s->d, c->s->N, c->norms, &med))
        return -1;
    c->p.hq_thresh = rb_hqmq_threshold(c->p.hq_C, med);
    return 0;
}

static int hq_kv_encode(void *ctx)
{
    hq_kv *c = ctx;
    return rb_cpu_hqmq_encode_rows(&c->p, c->s->x, c->s->N, c->rows, c->sigma, c->side, c->cap, &c->nout);
}

static int hq_kv_decode(void *ctx)
{
    hq_kv *c = ctx;
    return rb_cpu_hqmq_decode_rows(&c->p, c->rows, c->sigma, c->side, c->nout, c->s->N, c->s->dtype, c->s->xh);
}

/* encode: the Med3x pre-pass (when asked) and the encode timed, as the roundtrip times its
 * pre-pass and quantize pass; decode timed alone. The other half runs once, untimed. */
int rb_cpu_run_hqmq_kvpath(rb_backend *b, const rb_qdq_params *p, rb_record *rec)
{
    rb_cpu_state *s = b->state;
    const int g = rb_hqmq_chunks(s->d), med3 = p->hq_outliers;
    hq_kv c = {.s = s, .p = *p};
    const size_t rbytes = (size_t)s->N * (size_t)rb_hqmq_row_bytes(s->d, p->hq_S, p->hq_rbits, med3);
    int rc = -1;
    c.rows = malloc(rbytes ? rbytes : 1);
    c.sigma = malloc(sizeof(uint16_t) * (size_t)(s->N + 1));
    c.norms = med3 ? malloc(sizeof(float) * (size_t)s->N * g + 1) : NULL;
    if (!c.rows || !c.sigma || (med3 && !c.norms)) {
        fprintf(stderr, "rotorbench: out of host memory for the packed cache (%zu bytes)\n", rbytes);
        goto out;
    }
    if (med3) { /* the side array's size: the outliers under this batch's threshold */
        if (hq_kv_pre(&c))
            goto out;
        c.cap = rb_cpu_hqmq_count_outliers(&c.p, s->x, s->N);
        if (!(c.side = malloc(8 * (size_t)c.cap + 1))) {
            fprintf(stderr, "rotorbench: out of host memory for %ld outlier chunks\n", c.cap);
            goto out;
        }
    }
    if (rec->path == RB_PATH_ENCODE)
        rc = rb_meas_cpu_time(b->profile, med3 ? hq_kv_pre : NULL, hq_kv_encode, &c, &rec->t) || hq_kv_decode(&c);
    else if (rec->path == RB_PATH_DECODE)
        rc = hq_kv_encode(&c) || rb_meas_cpu_time(b->profile, NULL, hq_kv_decode, &c, &rec->t);
    else
        fprintf(stderr, "rotorbench: cpu: path %s is not an encode or decode path\n", rb_path_name(rec->path));
    if (rc)
        goto out;
    rb_cpu_metrics(s, rec);
    rec->outlier_frac = rec->m.finite_rows ? (double)c.nout / ((double)rec->m.finite_rows * g) : 0;
    rec->stored_bytes = (double)rb_hqmq_kv_stored_bytes(p, s->N, c.nout);
    rec->bytes = (double)s->N * s->d * (s->dtype == RB_FP16 ? 2 : 4) + rec->stored_bytes;
    rc = 0;
out:
    free(c.rows);
    free(c.sigma);
    free(c.side);
    free(c.norms);
    return rc ? -1 : 0;
}
