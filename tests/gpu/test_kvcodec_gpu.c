/* The GPU encode and decode kernels (launch variants RB_VARIANT_ENCODE / _DECODE) of every
 * method that has them, against the CPU codec (harness/kvcodec.h) and the GPU roundtrip:
 *   - with fp32 norms decode(encode(x)) is the GPU fused roundtrip's x^ bit for bit;
 *   - the norms are the CPU's (fp32 within 1e-6 relative, fp16 the same or the next half: the
 *     norm's summation order differs), the codes decode to the CPU decode of the CPU codes
 *     under agree.h's rule (a code may differ only where its coordinate ties a boundary);
 *   - every code word is written (codes poisoned with 0xFF first) and padding bits are zero;
 * for fp16 and fp32 rows, odd d, N = 1, 7, 997, bits 1..8, fp16 / fp32 / no norms; at d = 128
 * every width on both fast shapes (small and large batch, forced) with N = 40009 rows, more than
 * a wave of groups holds, so each group packs several rows (the encoder's shared rows of words
 * are reused). Every built-in rotation method has them (a plugin may not). TurboQuant-dense's
 * routes: the fp32 kernel (odd d, assume_unit_norm), the tensor cores at d = 128, 256 (wgmma on a
 * 9.0 device, and mma.sync forced there too) and d = 512 (streamed), each quantizer route (bits
 * 1-2 registers, odd bits the host's cell table, others the kernel's own). */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "../methods.h"
#include "../../kernels/rb_kernels.h"
#include "rb_support.h"
#include "agree.h"
#include "codebook.h"
#include "counts.h"
#include "data.h"
#include "fp16.h"
#include "kvcodec.h"
#include "kv_rows.h"

#define KV_SEED 20261206ull

typedef struct {
    rb_qdq_params hp, dp;
    rb_codebook cb;
    float *rot, *drot, *dbounds, *dcent, *dcells;
} kv_gsetup;

static int kv_gsetup_make(kv_gsetup *s, rb_method m, int d, int bits, int host_cells)
{
    memset(s, 0, sizeof *s);
    const long len = rb_param_count(m, d);
    char err[256];
    s->rot = malloc(sizeof(float) * (size_t)(len + 1));
    if (!s->rot || rb_params_generate(KV_SEED, m, d, s->rot, err, sizeof err) ||
        rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, bits, &s->cb))
        return -1;
    rb_qdq_params_shape(&s->hp, m, d, bits);
    s->hp.rot = s->rot;
    s->hp.bounds = s->cb.bounds_f;
    s->hp.centroids = s->cb.centroids_f;
    if ((len > 0 && (cudaMalloc((void **)&s->drot, sizeof(float) * (size_t)len) != cudaSuccess ||
                     cudaMemcpy(s->drot, s->rot, sizeof(float) * (size_t)len, cudaMemcpyHostToDevice) != cudaSuccess)) ||
        cudaMalloc((void **)&s->dbounds, sizeof(float) * RB_MAX_LEVELS) != cudaSuccess ||
        cudaMalloc((void **)&s->dcent, sizeof(float) * RB_MAX_LEVELS) != cudaSuccess ||
        cudaMalloc((void **)&s->dcells, sizeof(float) * 4 * RB_SQ_CELLS) != cudaSuccess ||
        cudaMemcpy(s->dbounds, s->cb.bounds_f, sizeof(float) * (size_t)s->hp.nbounds, cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaMemcpy(s->dcent, s->cb.centroids_f, sizeof(float) * (size_t)(s->hp.nbounds + 1), cudaMemcpyHostToDevice) != cudaSuccess)
        return -1;
    s->dp = s->hp;
    s->dp.rot = s->drot;
    s->dp.bounds = s->dbounds;
    s->dp.centroids = s->dcent;
    float tab[4 * RB_SQ_CELLS];
    if (host_cells && s->hp.nbounds > 1 && rb_sq_cell_table(s->cb.bounds_f, s->cb.centroids_f, s->hp.nbounds, tab) == 0) {
        if (cudaMemcpy(s->dcells, tab, sizeof tab, cudaMemcpyHostToDevice) != cudaSuccess)
            return -1;
        s->dp.cells = s->dcells;
    }
    return 0;
}

static void kv_gsetup_free(kv_gsetup *s)
{
    free(s->rot);
    cudaFree(s->drot);
    cudaFree(s->dbounds);
    cudaFree(s->dcent);
    cudaFree(s->dcells);
}

typedef struct {
    long cases, rows, flips, code_diffs;
} kv_gstats;

/* One (setup, dtype, N, norm kind): GPU roundtrip, encode, decode; the checks of the header. */
static void kv_gcase(kv_gsetup *s, rb_dtype dt, long N, int nk, kv_gstats *st)
{
    const int d = s->hp.d;
    const size_t n = (size_t)N * d, es = dt == RB_FP16 ? 2 : 4;
    const long rb = rb_kv_row_bytes(s->hp.dpad, s->hp.bits), rw = rb / 4;
    const size_t cb = (size_t)N * rb, nb = (size_t)N * rb_kv_norm_bytes(nk);
    float *x = kv_test_rows(KV_SEED, d, N, dt, nk == RB_KV_NORM_NONE, 1.0f), *rt = malloc(4 * n), *dec = malloc(4 * n), *ref = malloc(4 * n);
    void *hx = malloc(n * es), *hy = malloc(n * es);
    uint32_t *codes = malloc(cb), *ccodes = malloc(cb);
    void *norms = malloc(N * 4 + 4), *cnorms = malloc(N * 4 + 4);
    void *dx = NULL, *dy = NULL, *dc = NULL, *dn = NULL;
    char what[160];
    snprintf(what, sizeof what, "%s d=%d b=%d %s N=%ld norms %s shape %d", rb_method_name(s->hp.method), d, s->hp.bits,
             rb_dtype_name(dt), N, rb_kv_norm_name(nk), s->dp.fast_shape);
    if (!x || !rt || !dec || !ref || !hx || !hy || !codes || !ccodes || !norms || !cnorms ||
        cudaMalloc(&dx, n * es) != cudaSuccess || cudaMalloc(&dy, n * es) != cudaSuccess ||
        cudaMalloc(&dc, cb) != cudaSuccess || cudaMalloc(&dn, nb + 4) != cudaSuccess) {
        CHECK(0, "%s: allocation", what);
        goto out;
    }
    for (size_t k = 0; k < n; k++) {
        if (dt == RB_FP16)
            ((uint16_t *)hx)[k] = rb_f32_to_f16(x[k]);
        else
            ((float *)hx)[k] = x[k];
    }
    s->hp.unit_norm = s->dp.unit_norm = nk == RB_KV_NORM_NONE;
    s->dp.kv_codes = dc;
    s->dp.kv_norms = dn;
    s->dp.kv_norm = nk;
    int ok = cudaMemcpy(dx, hx, n * es, cudaMemcpyHostToDevice) == cudaSuccess &&
             cudaMemset(dy, 0xFF, n * es) == cudaSuccess && cudaMemset(dc, 0xFF, cb) == cudaSuccess &&
             rb_launch_qdq(&s->dp, RB_VARIANT_FAST, (int)dt, dx, dy, N, 0) == cudaSuccess &&
             cudaMemcpy(hy, dy, n * es, cudaMemcpyDeviceToHost) == cudaSuccess;
    for (size_t k = 0; ok && k < n; k++)
        rt[k] = dt == RB_FP16 ? rb_f16_to_f32(((uint16_t *)hy)[k]) : ((float *)hy)[k];
    ok = ok && cudaMemset(dy, 0xFF, n * es) == cudaSuccess &&
         rb_launch_qdq(&s->dp, RB_VARIANT_ENCODE, (int)dt, dx, NULL, N, 0) == cudaSuccess &&
         rb_launch_qdq(&s->dp, RB_VARIANT_DECODE, (int)dt, NULL, dy, N, 0) == cudaSuccess &&
         cudaDeviceSynchronize() == cudaSuccess && cudaMemcpy(hy, dy, n * es, cudaMemcpyDeviceToHost) == cudaSuccess &&
         cudaMemcpy(codes, dc, cb, cudaMemcpyDeviceToHost) == cudaSuccess &&
         (!nb || cudaMemcpy(norms, dn, nb, cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(ok, "%s: launches: %s", what, cudaGetErrorString(cudaGetLastError()));
    if (!ok)
        goto out;
    for (size_t k = 0; k < n; k++)
        dec[k] = dt == RB_FP16 ? rb_f16_to_f32(((uint16_t *)hy)[k]) : ((float *)hy)[k];
    size_t at = 0;
    if (nk != RB_KV_NORM_FP16) /* fp32 norms, or none: the roundtrip split in two, bit for bit */
        CHECK(kv_same_bits(dec, rt, n, &at), "%s: decode(encode(x)) row %zu col %zu = %.9g, the GPU roundtrip %.9g", what,
              at / d, at % d, dec[at], rt[at]);
    /* padding bits zero (and so the last word written) */
    const long used = (long)s->hp.dpad * s->hp.bits;
    long badpad = 0;
    for (long i = 0; i < N && used % 32; i++)
        badpad += (codes[i * rw + used / 32] >> (used % 32)) != 0;
    CHECK(badpad == 0, "%s: %ld rows with padding bits set", what, badpad);
    /* the CPU codec: norms near, codes equal except where agree.h explains the difference */
    CHECK(rb_cpu_encode_rows(&s->hp, nk, x, N, ccodes, cnorms) == 0, "%s: CPU encode", what);
    long badnorm = 0;
    for (long i = 0; i < N && nb; i++) {
        if (nk == RB_KV_NORM_FP16) {
            const uint16_t g = ((uint16_t *)norms)[i], c = ((uint16_t *)cnorms)[i];
            badnorm += abs((int)g - (int)c) > 1 && !(isnan(rb_f16_to_f32(g)) && isnan(rb_f16_to_f32(c)));
        } else {
            const float g = ((float *)norms)[i], c = ((float *)cnorms)[i];
            badnorm += !(fabsf(g - c) <= 1e-6f * fabsf(c)) && !(isnan(g) && isnan(c));
        }
    }
    CHECK(badnorm == 0, "%s: %ld norms differ from the CPU's", what, badnorm);
    for (long k = 0; k < N * rw; k++)
        st->code_diffs += codes[k] != ccodes[k];
    CHECK(rb_cpu_decode_rows(&s->hp, nk, ccodes, nb ? norms : cnorms, N, dt, ref) == 0, "%s: CPU decode", what);
    rb_agree_stats a;
    rb_agree_init(&a);
    rb_agree_rows(&s->hp, RB_VARIANT_FAST, dt, x, ref, dec, N, &a);
    char why[400];
    rb_agree_describe(&a, why, sizeof why);
    CHECK(rb_agree_ok(&a), "%s: GPU decode vs the CPU codec: %s", what, why);
    st->cases++;
    st->rows += a.rows;
    st->flips += a.flips;
out:
    s->hp.unit_norm = s->dp.unit_norm = 0;
    free(x); free(rt); free(dec); free(ref); free(hx); free(hy); free(codes); free(ccodes); free(norms); free(cnorms);
    cudaFree(dx); cudaFree(dy); cudaFree(dc); cudaFree(dn);
}

static int has_codec(rb_method m)
{
    const unsigned v = rb_method_get(m)->variants;
    return (v & RB_VARIANT_BIT_ENCODE) && (v & RB_VARIANT_BIT_DECODE);
}

TEST(kvcodec_gpu_every_method_vs_cpu_and_roundtrip)
{
    const int dims[] = {37, 64, 128, 133, 256, 512};
    int methods = 0;
    FOR_EACH_ROTATION_METHOD(m) {
        CHECK(has_codec(m) || m >= rb_methods_builtin_count(), "%s: a built-in rotation method without GPU encode/decode",
              rb_method_name(m));
        if (!has_codec(m))
            continue;
        methods++;
        kv_gstats st = {0};
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            const int d = dims[di];
            const rb_method_desc *md = rb_method_get(m);
            if (md->check_d && md->check_d(d))
                continue;
            for (int bits = 1; bits <= 8; bits++) {
                if ((d != 128 && bits != 2 && bits != 3 && bits != 8) || (d == 512 && bits != 3))
                    continue;
                kv_gsetup s;
                CHECK(kv_gsetup_make(&s, m, d, bits, bits % 2) == 0, "%s d=%d b=%d: setup", rb_method_name(m), d, bits);
                for (int dt = RB_FP32; dt <= RB_FP16; dt++) {
                    kv_gcase(&s, (rb_dtype)dt, 997, RB_KV_NORM_FP32, &st);
                    kv_gcase(&s, (rb_dtype)dt, 997, RB_KV_NORM_FP16, &st);
                    if (bits == 3) {
                        kv_gcase(&s, (rb_dtype)dt, 997, RB_KV_NORM_NONE, &st);
                        kv_gcase(&s, (rb_dtype)dt, 1, RB_KV_NORM_FP32, &st);
                        kv_gcase(&s, (rb_dtype)dt, 7, RB_KV_NORM_FP16, &st);
                    }
                    for (int sh = 1; d == 128 && sh <= 2; sh++) { /* the small and the large shape */
                        s.dp.fast_shape = sh;
                        kv_gcase(&s, (rb_dtype)dt, 40009, RB_KV_NORM_FP32, &st);
                        if (bits == 3)
                            kv_gcase(&s, (rb_dtype)dt, 997, RB_KV_NORM_FP16, &st);
                        s.dp.fast_shape = 0;
                    }
                }
                kv_gsetup_free(&s);
            }
        }
        printf("     %-16s encode/decode: %ld cases, %ld rows, %ld flips, %ld code words differ from the CPU's\n",
               rb_method_name(m), st.cases, st.rows, st.flips, st.code_diffs);
        CHECK(st.cases > 0, "%s: no case ran", rb_method_name(m));
    }
    CHECK(methods >= 5, "only %d methods have GPU encode/decode", methods);
}

/* TurboQuant-dense on the mma.sync route of its tensor-core kernel where a 9.0 device would take
 * wgmma (elsewhere the test above ran it already): the same checks, every quantizer route. */
TEST(kvcodec_gpu_dense_mma_route)
{
    const rb_method m = method_id("turboquant-dense");
    int dev = 0, major = 0, minor = 0;
    CHECK(cudaGetDevice(&dev) == cudaSuccess &&
              cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
              cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess,
          "device query");
    if (major != 9 || minor != 0) {
        printf("     turboquant-dense mma.sync route: the only one on this device (tested above)\n");
        return;
    }
    rb_dense_tc_force_mma(1);
    kv_gstats st = {0};
    const int dims[] = {128, 256};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
        for (int bits = 1; bits <= 4; bits++) {
            kv_gsetup s;
            CHECK(kv_gsetup_make(&s, m, dims[di], bits, bits % 2) == 0, "d=%d b=%d: setup", dims[di], bits);
            for (int dt = RB_FP32; dt <= RB_FP16; dt++) {
                kv_gcase(&s, (rb_dtype)dt, 997, RB_KV_NORM_FP32, &st);
                kv_gcase(&s, (rb_dtype)dt, 997, RB_KV_NORM_FP16, &st);
            }
            kv_gsetup_free(&s);
        }
    rb_dense_tc_force_mma(0);
    printf("     turboquant-dense mma.sync route: %ld cases, %ld rows, %ld flips, %ld code words differ from the CPU's\n",
           st.cases, st.rows, st.flips, st.code_diffs);
    CHECK(st.cases == 32, "%ld of 32 cases ran", st.cases);
}

TEST(kvcodec_gpu_refuses_what_it_cannot_do)
{
    FOR_EACH_ROTATION_METHOD(m) {
        kv_gsetup s;
        CHECK(kv_gsetup_make(&s, m, 64, 3, 1) == 0, "setup");
        void *dx = NULL, *dc = NULL, *dn = NULL;
        CHECK(cudaMalloc(&dx, 64 * 4 * 8) == cudaSuccess && cudaMalloc(&dc, 1024) == cudaSuccess &&
                  cudaMalloc(&dn, 64) == cudaSuccess, "alloc");
        s.dp.kv_codes = NULL;
        s.dp.kv_norms = dn;
        CHECK(rb_launch_qdq(&s.dp, RB_VARIANT_ENCODE, 0, dx, NULL, 8, 0) == cudaErrorInvalidValue, "%s: no codes buffer",
              rb_method_name(m));
        s.dp.kv_codes = dc;
        s.dp.kv_norm = RB_KV_NORM_NONE; /* without assume_unit_norm */
        cudaError_t e = rb_launch_qdq(&s.dp, RB_VARIANT_ENCODE, 0, dx, NULL, 8, 0);
        CHECK(e == cudaErrorInvalidValue, "%s: norm kind none without unit norm: %s", rb_method_name(m), cudaGetErrorString(e));
        s.dp.kv_norm = RB_KV_NORM_FP16;
        e = rb_launch_qdq(&s.dp, RB_VARIANT_DECODE, 0, NULL, NULL, 8, 0);
        CHECK(e == cudaErrorInvalidValue, "%s: decode without an output: %s", rb_method_name(m), cudaGetErrorString(e));
        s.dp.kv_codes = (char *)dc + 4; /* the fast kernels store codes as 8-byte vectors */
        e = rb_launch_qdq(&s.dp, RB_VARIANT_ENCODE, 0, dx, NULL, 8, 0);
        CHECK(e == cudaErrorInvalidValue, "%s: codes not 16-byte aligned: %s", rb_method_name(m), cudaGetErrorString(e));
        s.dp.kv_codes = dc;
        e = rb_launch_qdq(&s.dp, RB_VARIANT_ENCODE, 0, dx, NULL, 8, 0);
        CHECK(has_codec(m) ? e == cudaSuccess : e == cudaErrorInvalidValue, "%s: encode %s (codec %d)", rb_method_name(m),
              cudaGetErrorString(e), has_codec(m));
        cudaGetLastError();
        cudaFree(dx); cudaFree(dc); cudaFree(dn);
        kv_gsetup_free(&s);
    }
}
