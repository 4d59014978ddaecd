/* HQMQ's GPU encode and decode (rb_launch_hqmq_kv; the format of kernels/common/hqmq_pack.h)
 * against the GPU roundtrip and the CPU codec (harness/hqmq_codec.h) on the same inputs:
 *   - decode(encode(x)) is the GPU fast roundtrip with the same search (fp32 or cells) bit for
 *     bit, with and without Med3x (the threshold from the device pre-pass in both);
 *   - the CPU decode of the GPU's records, sigma and side entries is the GPU decode bit for bit;
 *   - against the CPU encode under the GPU's threshold: sigma, the outlier flags, the side
 *     entries and the side count equal exactly; fields differ only in chunks where the
 *     direction search flipped between two codewords that tie within rounding (the GPU decode
 *     then agrees with the CPU roundtrip under agree.h's rule); record padding bits zero;
 *   - nothing written past the records, sigma or a side array that is too small;
 * fp16 and fp32 rows, d = 6, 37, 128, 133, 256, s192_r4, s192_r6, s24_r6, s24_r3, N = 1, 7,
 * 997, 40000, rows of norm 0 to 1e3 with a NaN and an Inf row. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "../methods.h"
#include "../../kernels/rb_kernels.h"
#include "agree.h"
#include "backend.h"
#include "data.h"
#include "fp16.h"
#include "hqmq_celltab.h"
#include "hqmq_codec.h"
#include "hqmq_method.h"
#include "hqmq_pack.h"
#include "kv_rows.h"

#define HQKV_SEED 20261207ull

typedef struct {
    long cases, rows, field_diffs, flips, outliers;
} hqkv_stats;

static void to_host_floats(const void *h, rb_dtype dt, size_t n, float *out)
{
    for (size_t k = 0; k < n; k++)
        out[k] = dt == RB_FP16 ? rb_f16_to_f32(((const uint16_t *)h)[k]) : ((const float *)h)[k];
}

/* One case: search 0 = fp32, 1 = cells. */
static void hqkv_case(const float *qs, const float *dqs, int d, int S, int rbits, int med3, int inliers, rb_dtype dt,
                      long N, int cells, hqkv_stats *st)
{
    rb_qdq_params hp, dp;
    rb_hqmq_params_shape(&hp, d, S, rbits, med3, 3.0, inliers);
    hp.rot = qs;
    dp = hp;
    dp.rot = dqs;
    dp.hq_search = cells ? RB_HQ_SEARCH_CELLS : RB_HQ_SEARCH_FP32;
    const size_t n = (size_t)N * d, es = dt == RB_FP16 ? 2 : 4;
    const long rb = rb_hqmq_row_bytes(d, S, rbits, med3), nw = rb / 4, cw = rb_hqmq_code_words(d, S, rbits);
    const int g = rb_hqmq_chunks(d), F = rb_hqmq_field_bits(S, rbits);
    char what[160];
    snprintf(what, sizeof what, "hqmq d=%d s%d_r%d%s%s %s N=%ld %s", d, S, rbits, med3 ? "+med3" : "",
             inliers ? "+sigma-inliers" : "", rb_dtype_name(dt), N, cells ? "cells" : "fp32");
    float *x = kv_test_rows(HQKV_SEED, d, N, dt, 0, 30.0f), *rt = malloc(4 * n), *dec = malloc(4 * n), *cdec = malloc(4 * n),
          *ref = malloc(4 * n), *r = malloc(sizeof(float) * (size_t)g);
    void *hx = malloc(n * es), *hy = malloc(n * es);
    uint32_t *rows = malloc((size_t)(N * rb) + 64), *crows = malloc((size_t)(N * rb) + 64);
    uint16_t *sig = malloc(2 * (size_t)N + 16), *csig = malloc(2 * (size_t)N + 16);
    const long cap = (long)N * g; /* room for every chunk; the count is checked against the CPU's */
    uint16_t *side = malloc(8 * (size_t)cap + 64), *cside = malloc(8 * (size_t)cap + 64);
    void *dx = NULL, *dy = NULL, *pre = NULL;
    unsigned short *dtab = NULL;
    rb_hqmq_kv kv = {0};
    rb_hqmq_med3_state ms;
    memset(&ms, 0, sizeof ms);
    if (!x || !rt || !dec || !cdec || !ref || !r || !hx || !hy || !rows || !crows || !sig || !csig || !side || !cside ||
        cudaMalloc(&dx, n * es) != cudaSuccess || cudaMalloc(&dy, n * es) != cudaSuccess ||
        cudaMalloc(&kv.rows, (size_t)(N * rb) + 64) != cudaSuccess ||
        cudaMalloc((void **)&kv.sigma, 2 * (size_t)N + 16) != cudaSuccess ||
        (med3 && (cudaMalloc((void **)&kv.side, 8 * (size_t)cap + 64) != cudaSuccess ||
                  cudaMalloc(&kv.scratch, rb_hqmq_kv_scratch_bytes(N)) != cudaSuccess ||
                  cudaMalloc(&pre, rb_hqmq_med3_scratch_bytes(d, N)) != cudaSuccess))) {
        CHECK(0, "%s: allocation", what);
        goto out;
    }
    kv.side_cap = med3 ? cap : 0;
    if (cells) {
        CHECK(rb_hqmq_cells_upload(qs, S, &dtab, &dp.hq_cells_g) == 0, "%s: cell table", what);
        dp.hq_cells = dtab;
    }
    for (size_t k = 0; k < n; k++) {
        if (dt == RB_FP16)
            ((uint16_t *)hx)[k] = rb_f32_to_f16(x[k]);
        else
            ((float *)hx)[k] = x[k];
    }
    const float *thr = med3 ? rb_hqmq_med3_thresh(pre) : NULL;
    unsigned long long nout = 0;
    int ok = cudaMemcpy(dx, hx, n * es, cudaMemcpyHostToDevice) == cudaSuccess &&
             cudaMemset(dy, 0xFF, n * es) == cudaSuccess &&
             (!med3 || rb_launch_hqmq_med3(dx, (int)dt, d, N, dp.hq_C, pre, 0) == cudaSuccess) &&
             rb_launch_hqmq(&dp, RB_VARIANT_FAST, (int)dt, dx, dy, N, thr, 0) == cudaSuccess &&
             cudaMemcpy(hy, dy, n * es, cudaMemcpyDeviceToHost) == cudaSuccess;
    if (ok)
        to_host_floats(hy, dt, n, rt);
    ok = ok && cudaMemset(dy, 0xFF, n * es) == cudaSuccess && cudaMemset(kv.rows, 0xFF, (size_t)(N * rb) + 64) == cudaSuccess &&
         cudaMemset(kv.sigma, 0xFF, 2 * (size_t)N + 16) == cudaSuccess &&
         (!med3 || cudaMemset(kv.side, 0xFF, 8 * (size_t)cap + 64) == cudaSuccess) &&
         rb_launch_hqmq_kv(&dp, RB_VARIANT_ENCODE, (int)dt, dx, NULL, N, thr, &kv, 0) == cudaSuccess &&
         rb_launch_hqmq_kv(&dp, RB_VARIANT_DECODE, (int)dt, NULL, dy, N, thr, &kv, 0) == cudaSuccess &&
         cudaDeviceSynchronize() == cudaSuccess && cudaMemcpy(hy, dy, n * es, cudaMemcpyDeviceToHost) == cudaSuccess &&
         cudaMemcpy(rows, kv.rows, (size_t)(N * rb) + 64, cudaMemcpyDeviceToHost) == cudaSuccess &&
         cudaMemcpy(sig, kv.sigma, 2 * (size_t)N + 16, cudaMemcpyDeviceToHost) == cudaSuccess &&
         (!med3 || (cudaMemcpy(side, kv.side, 8 * (size_t)cap + 64, cudaMemcpyDeviceToHost) == cudaSuccess &&
                    cudaMemcpy(&nout, rb_hqmq_kv_side_count(&kv, N), sizeof nout, cudaMemcpyDeviceToHost) == cudaSuccess &&
                    cudaMemcpy(&ms, pre, sizeof ms, cudaMemcpyDeviceToHost) == cudaSuccess));
    CHECK(ok, "%s: launches: %s", what, cudaGetErrorString(cudaGetLastError()));
    if (!ok)
        goto out;
    to_host_floats(hy, dt, n, dec);
    size_t at = 0;
    CHECK(kv_same_bits(dec, rt, n, &at), "%s: decode(encode(x)) row %zu col %zu = %.9g, the GPU roundtrip %.9g", what,
          at / (size_t)d, at % (size_t)d, dec[at], rt[at]);
    /* nothing past the records and sigma */
    long spill = 0;
    for (int k = 0; k < 64; k++)
        spill += ((unsigned char *)rows)[N * rb + k] != 0xFF;
    for (int k = 0; k < 8; k++)
        spill += sig[N + k] != 0xFFFF;
    for (int k = 0; med3 && (long)k < 64 && nout <= (unsigned long long)cap; k++)
        spill += ((unsigned char *)side)[8 * nout + (unsigned long long)k] != 0xFF;
    CHECK(spill == 0, "%s: %ld bytes written past the records, sigma or side entries", what, spill);
    /* the CPU decode of the GPU's records */
    CHECK(rb_cpu_hqmq_decode_rows(&hp, rows, sig, side, (long)nout, N, dt, cdec) == 0 && kv_same_bits(cdec, dec, n, &at),
          "%s: the CPU decode of the GPU's records row %zu col %zu = %.9g, the GPU decode %.9g", what, at / (size_t)d,
          at % (size_t)d, cdec[at], dec[at]);
    /* the CPU encode under the GPU's threshold */
    hp.hq_thresh = med3 ? ms.thresh : hp.hq_thresh;
    long cnout = -1;
    CHECK(rb_cpu_hqmq_encode_rows(&hp, x, N, crows, csig, cside, cap, &cnout) == 0, "%s: CPU encode", what);
    CHECK((long)nout == cnout, "%s: %llu side entries, the CPU's %ld", what, nout, cnout);
    long bad_sig = 0, bad_flags = 0, bad_pad = 0;
    const long used = (long)g * F - 32 * (cw - 1);
    for (long i = 0; i < N; i++) {
        bad_sig += sig[i] != csig[i] && !(isnan(rb_f16_to_f32(sig[i])) && isnan(rb_f16_to_f32(csig[i])));
        for (long w = cw; w < nw; w++)
            bad_flags += rows[i * nw + w] != crows[i * nw + w];
        bad_pad += used < 32 && (rows[i * nw + cw - 1] >> used) != 0;
        for (int b = 0; b < g; b++)
            st->field_diffs += rb_kv_get(rows + i * nw, b, F) != rb_kv_get(crows + i * nw, b, F);
    }
    CHECK(bad_sig == 0 && bad_flags == 0 && bad_pad == 0, "%s: %ld sigma, %ld flag words, %ld paddings differ", what,
          bad_sig, bad_flags, bad_pad);
    CHECK(cnout <= 0 || memcmp(side, cside, 8 * (size_t)cnout) == 0, "%s: side entries differ from the CPU's", what);
    /* field differences are direction flips at ties: the GPU's x^ against the CPU roundtrip */
    for (long i = 0; i < N; i++) {
        rb_hqmq_row(qs, S, rbits, hp.hq_thresh, inliers, d, x + i * (long)d, ref + i * (long)d, r);
        for (int j = 0; dt == RB_FP16 && j < d; j++)
            ref[i * (long)d + j] = rb_round_f16(ref[i * (long)d + j]);
    }
    rb_agree_stats a;
    rb_agree_init(&a);
    rb_agree_rows(&hp, RB_VARIANT_FAST, dt, x, ref, dec, N, &a);
    char why[400];
    rb_agree_describe(&a, why, sizeof why);
    CHECK(rb_agree_ok(&a), "%s: GPU decode vs the CPU roundtrip: %s", what, why);
    st->cases++;
    st->rows += a.rows;
    st->flips += a.flips;
    st->outliers += cnout;
out:
    free(x); free(rt); free(dec); free(cdec); free(ref); free(r); free(hx); free(hy);
    free(rows); free(crows); free(sig); free(csig); free(side); free(cside);
    cudaFree(dx); cudaFree(dy); cudaFree(pre); cudaFree(dtab);
    cudaFree(kv.rows); cudaFree(kv.sigma); cudaFree(kv.side); cudaFree(kv.scratch);
}

static float *hqkv_qs(float **dqs)
{
    float *qs = malloc(sizeof(float) * 4 * RB_HQMQ_MAX_S);
    char err[256];
    *dqs = NULL;
    if (!qs || rb_params_generate(HQKV_SEED, method_id("hqmq"), 128, qs, err, sizeof err) ||
        cudaMalloc((void **)dqs, sizeof(float) * 4 * RB_HQMQ_MAX_S) != cudaSuccess ||
        cudaMemcpy(*dqs, qs, sizeof(float) * 4 * RB_HQMQ_MAX_S, cudaMemcpyHostToDevice) != cudaSuccess) {
        free(qs);
        return NULL;
    }
    return qs;
}

TEST(hqmq_kv_gpu_vs_roundtrip_and_cpu)
{
    float *dqs, *qs = hqkv_qs(&dqs);
    CHECK(qs != NULL, "q_s");
    if (!qs)
        return;
    static const int ops[][2] = {{192, 4}, {192, 6}, {24, 6}, {24, 3}};
    static const int dims[] = {6, 37, 128, 133, 256};
    hqkv_stats st = {0};
    for (size_t oi = 0; oi < sizeof ops / sizeof ops[0]; oi++)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
            for (int dt = 0; dt <= 1; dt++)
                for (int cells = 0; cells <= 1; cells++) {
                    const int d = dims[di], S = ops[oi][0], rb = ops[oi][1];
                    hqkv_case(qs, dqs, d, S, rb, 0, 0, (rb_dtype)dt, 997, cells, &st);
                    hqkv_case(qs, dqs, d, S, rb, 1, di % 2, (rb_dtype)dt, 997, cells, &st);
                    if (d == 128 && cells == 0) {
                        hqkv_case(qs, dqs, d, S, rb, 0, 0, (rb_dtype)dt, 1, 0, &st);
                        hqkv_case(qs, dqs, d, S, rb, 1, 0, (rb_dtype)dt, 7, 0, &st);
                    }
                }
    /* grid stride over many blocks; d = 4096: the encode's fields past 48 KB of shared memory with S = 1024 */
    for (int dt = 0; dt <= 1; dt++) {
        hqkv_case(qs, dqs, 128, 192, 4, 1, 0, (rb_dtype)dt, 40000, 1, &st);
        hqkv_case(qs, dqs, 128, 24, 6, 0, 0, (rb_dtype)dt, 40000, 0, &st);
        hqkv_case(qs, dqs, 4096, 1024, 16, 1, 0, (rb_dtype)dt, 40, 0, &st);
    }
    printf("     hqmq encode/decode: %ld cases, %ld rows, %ld fields differ from the CPU's, %ld near-tie flips, "
           "%ld outlier chunks\n", st.cases, st.rows, st.field_diffs, st.flips, st.outliers);
    CHECK(st.outliers > 0, "the Med3x cases had no outliers");
    free(qs);
    cudaFree(dqs);
}

/* Through the descriptor's launcher (rb_launch_qdq, kv_codes = records, kv_norms = sigma):
 * the same records as rb_launch_hqmq_kv; refusals: another variant, missing buffers, Med3x
 * there; a side array too small is not overrun and first[N] says how many were wanted. */
TEST(hqmq_kv_gpu_launcher_and_refusals)
{
    float *dqs, *qs = hqkv_qs(&dqs);
    CHECK(qs != NULL, "q_s");
    if (!qs)
        return;
    const int d = 128;
    const long N = 300;
    rb_qdq_params dp;
    rb_hqmq_params_shape(&dp, d, 24, 6, 0, 3.0, 0);
    dp.rot = dqs;
    float *x = kv_test_rows(HQKV_SEED, d, N, RB_FP32, 0, 30.0f);
    const long rb = rb_hqmq_row_bytes(d, 24, 6, 0);
    void *dx = NULL, *dy = NULL, *r1 = NULL, *r2 = NULL, *s1 = NULL, *s2 = NULL;
    CHECK(x && cudaMalloc(&dx, 4 * (size_t)N * d) == cudaSuccess && cudaMalloc(&dy, 4 * (size_t)N * d) == cudaSuccess &&
              cudaMalloc(&r1, (size_t)(N * rb)) == cudaSuccess && cudaMalloc(&r2, (size_t)(N * rb)) == cudaSuccess &&
              cudaMalloc(&s1, 2 * (size_t)N) == cudaSuccess && cudaMalloc(&s2, 2 * (size_t)N) == cudaSuccess &&
              cudaMemcpy(dx, x, 4 * (size_t)N * d, cudaMemcpyHostToDevice) == cudaSuccess,
          "setup");
    rb_hqmq_kv kv = {.rows = r1, .sigma = s1};
    dp.kv_codes = r2;
    dp.kv_norms = s2;
    CHECK(rb_launch_hqmq_kv(&dp, RB_VARIANT_ENCODE, 0, dx, NULL, N, NULL, &kv, 0) == cudaSuccess &&
              rb_launch_qdq(&dp, RB_VARIANT_ENCODE, 0, dx, NULL, N, 0) == cudaSuccess &&
              cudaDeviceSynchronize() == cudaSuccess,
          "encodes");
    char *h1 = malloc((size_t)(N * rb)), *h2 = malloc((size_t)(N * rb));
    CHECK(h1 && h2 && cudaMemcpy(h1, r1, (size_t)(N * rb), cudaMemcpyDeviceToHost) == cudaSuccess &&
              cudaMemcpy(h2, r2, (size_t)(N * rb), cudaMemcpyDeviceToHost) == cudaSuccess &&
              memcmp(h1, h2, (size_t)(N * rb)) == 0,
          "the descriptor's launcher writes other records");
    CHECK(rb_launch_hqmq_kv(&dp, RB_VARIANT_FAST, 0, dx, dy, N, NULL, &kv, 0) == cudaErrorInvalidValue, "variant fast");
    kv.rows = NULL;
    CHECK(rb_launch_hqmq_kv(&dp, RB_VARIANT_ENCODE, 0, dx, NULL, N, NULL, &kv, 0) == cudaErrorInvalidValue, "no rows");
    kv.rows = r1;
    CHECK(rb_launch_hqmq_kv(&dp, RB_VARIANT_DECODE, 0, NULL, NULL, N, NULL, &kv, 0) == cudaErrorInvalidValue,
          "decode without an output");
    dp.hq_outliers = 1;
    CHECK(rb_launch_hqmq_kv(&dp, RB_VARIANT_ENCODE, 0, dx, NULL, N, NULL, &kv, 0) == cudaErrorInvalidValue,
          "Med3x without scratch");
    CHECK(rb_launch_qdq(&dp, RB_VARIANT_ENCODE, 0, dx, NULL, N, 0) == cudaErrorInvalidValue,
          "Med3x through the descriptor's launcher");
    /* Med3x with a threshold of 0 (every nonzero chunk an outlier) and room for 10 entries */
    void *pre = NULL, *side = NULL, *scr = NULL, *rm = NULL;
    CHECK(cudaMalloc(&side, 80 + 64) == cudaSuccess && cudaMalloc(&scr, rb_hqmq_kv_scratch_bytes(N)) == cudaSuccess &&
              cudaMalloc(&rm, (size_t)(N * rb_hqmq_row_bytes(d, 24, 6, 1))) == cudaSuccess &&
              cudaMemset(side, 0xFF, 80 + 64) == cudaSuccess,
          "Med3x buffers");
    dp.hq_thresh = 0.0f;
    rb_hqmq_kv km = {.rows = rm, .sigma = s1, .side = side, .side_cap = 10, .scratch = scr};
    unsigned long long want = 0;
    unsigned char tail[64];
    CHECK(rb_launch_hqmq_kv(&dp, RB_VARIANT_ENCODE, 0, dx, NULL, N, NULL, &km, 0) == cudaSuccess &&
              cudaMemcpy(&want, rb_hqmq_kv_side_count(&km, N), sizeof want, cudaMemcpyDeviceToHost) == cudaSuccess &&
              cudaMemcpy(tail, (char *)side + 80, 64, cudaMemcpyDeviceToHost) == cudaSuccess,
          "Med3x encode");
    int spill = 0;
    for (int k = 0; k < 64; k++)
        spill += tail[k] != 0xFF;
    CHECK(want > 10 && spill == 0, "side count %llu, %d bytes past room for 10", want, spill);
    free(h1); free(h2); free(x); free(qs);
    cudaFree(dx); cudaFree(dy); cudaFree(r1); cudaFree(r2); cudaFree(s1); cudaFree(s2);
    cudaFree(pre); cudaFree(side); cudaFree(scr); cudaFree(rm); cudaFree(dqs);
}
