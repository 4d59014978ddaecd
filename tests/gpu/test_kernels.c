/* The fused quantize -> dequantize kernels against the CPU reference (rb_qdq_row), for every
 * method x variant x d x bits x dtype, on unit vectors from rb_data_sphere plus a zero row, a
 * NaN row and an Inf row. The output buffer is poisoned (0xFF bytes = NaN) before each launch,
 * so an element the kernel forgot to write shows up.
 *
 * Agreement is harness/agree.h's rule, the one the in-run check of every GPU setting applies:
 * one tolerance, one flip test per method, one flip budget. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "../methods.h"
#include "../../kernels/rb_kernels.h"
#include "backend.h"
#include "codebook.h"
#include "hqmq_celltab.h"
#include "counts.h"
#include "hqmq_method.h"
#include "agree.h"
#include "reference.h"
#include "data.h"
#include "fp16.h"

#define SEED 20260328ull

#define CUDA_OK(call)                                                                   \
    do {                                                                                \
        cudaError_t e_ = (call);                                                        \
        CHECK(e_ == cudaSuccess, "%s: %s", #call, cudaGetErrorString(e_));              \
    } while (0)

/* ---- one (method, d) rotation and one (d, bits) codebook, on host and device -------------- */
typedef struct {
    rb_method m;
    int d, bits;
    rb_qdq_params hp, dp; /* host pointers / device pointers */
    rb_codebook cb;
    float *rot, *drot, *dbounds, *dcent, *dcells;
} setup;

static int setup_rot(setup *s, rb_method m, int d)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    s->d = d;
    long len = rb_param_count(m, d);
    s->rot = malloc(sizeof(float) * (size_t)(len + 1));
    char err[256];
    if (rb_params_generate(SEED, m, d, s->rot, err, sizeof err)) {
        fprintf(stderr, "    rb_params_generate: %s\n", err);
        return -1;
    }
    if (len > 0) {
        if (cudaMalloc((void **)&s->drot, sizeof(float) * (size_t)len) != cudaSuccess ||
            cudaMemcpy(s->drot, s->rot, sizeof(float) * (size_t)len, cudaMemcpyHostToDevice) != cudaSuccess)
            return -1;
    }
    if (cudaMalloc((void **)&s->dbounds, sizeof(float) * RB_MAX_LEVELS) != cudaSuccess ||
        cudaMalloc((void **)&s->dcent, sizeof(float) * RB_MAX_LEVELS) != cudaSuccess ||
        cudaMalloc((void **)&s->dcells, sizeof(float) * 4 * RB_SQ_CELLS) != cudaSuccess)
        return -1;
    return 0;
}

static int setup_bits(setup *s, int bits)
{
    s->bits = bits;
    if (rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, s->d, bits, &s->cb))
        return -1;
    rb_qdq_params_shape(&s->hp, s->m, s->d, bits);
    s->hp.rot = s->rot;
    s->hp.bounds = s->cb.bounds_f;
    s->hp.centroids = s->cb.centroids_f;
    s->dp = s->hp;
    s->dp.rot = s->drot;
    s->dp.bounds = s->dbounds;
    s->dp.centroids = s->dcent;
    /* the fast kernels' cell table: from the host (as the GPU backend passes it) at odd bits,
     * built by each thread block at even bits, so both routes meet the reference */
    float tab[4 * RB_SQ_CELLS];
    s->dp.cells = NULL;
    if (bits % 2 && rb_sq_cell_table(s->cb.bounds_f, s->cb.centroids_f, (1 << bits) - 1, tab) == 0) {
        if (cudaMemcpy(s->dcells, tab, sizeof tab, cudaMemcpyHostToDevice) != cudaSuccess)
            return -1;
        s->dp.cells = s->dcells;
    }
    int nb = s->hp.nbounds;
    if (cudaMemcpy(s->dbounds, s->cb.bounds_f, sizeof(float) * (size_t)nb, cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaMemcpy(s->dcent, s->cb.centroids_f, sizeof(float) * (size_t)(nb + 1), cudaMemcpyHostToDevice) != cudaSuccess)
        return -1;
    return 0;
}

static void setup_free(setup *s)
{
    free(s->rot);
    cudaFree(s->drot);
    cudaFree(s->dbounds);
    cudaFree(s->dcent);
    cudaFree(s->dcells);
}

/* ---- inputs ------------------------------------------------------------------------------- */
/* N unit rows (fp16-rounded for fp16), then special rows when N is large enough:
 * row 5 zero, row 17 one NaN, row 29 one +Inf. */
static float *make_input(int d, long N, rb_dtype dt)
{
    float *x = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N));
    char err[256];
    if (rb_data_sphere(SEED + (uint64_t)d, d, N, dt, x, err, sizeof err)) {
        fprintf(stderr, "    rb_data_sphere: %s\n", err);
        free(x);
        return NULL;
    }
    if (N > 29) {
        memset(x + 5 * (long)d, 0, sizeof(float) * (size_t)d);
        x[17 * (long)d + 3 % d] = NAN;
        x[29 * (long)d] = INFINITY;
    }
    return x;
}

/* CPU reference for all rows (rounded through fp16 for fp16 runs). */
static void cpu_reference(const setup *s, rb_dtype dt, const float *x, long N, float *ref)
{
    int d = s->d;
    float *v = malloc(sizeof(float) * (size_t)s->hp.dpad), *tmp = malloc(sizeof(float) * (size_t)s->hp.dpad);
    for (long i = 0; i < N; i++) {
        rb_qdq_row(&s->hp, x + i * d, ref + i * d, v, tmp);
        if (dt == RB_FP16)
            for (int j = 0; j < d; j++)
                ref[i * d + j] = rb_round_f16(ref[i * d + j]);
    }
    free(v);
    free(tmp);
}

/* ---- the GPU run ---------------------------------------------------------------------------- */
/* Upload x (N rows, starting `offset` elements into the buffer), poison, launch, download. */
static int gpu_run(const setup *s, int variant, rb_dtype dt, const float *x, long N, long offset, float *out)
{
    size_t n = (size_t)N * (size_t)s->d, es = dt == RB_FP16 ? 2 : 4;
    void *dx = NULL, *dy = NULL;
    int rc = -1;
    void *hbuf = malloc((n + (size_t)offset) * es);
    if (cudaMalloc(&dx, (n + (size_t)offset) * es) != cudaSuccess || cudaMalloc(&dy, (n + (size_t)offset) * es) != cudaSuccess)
        goto done;
    if (dt == RB_FP16) {
        uint16_t *h = hbuf;
        for (size_t k = 0; k < n; k++)
            h[k + (size_t)offset] = rb_f32_to_f16(x[k]);
    } else {
        memcpy((float *)hbuf + offset, x, n * es);
    }
    if (cudaMemcpy(dx, hbuf, (n + (size_t)offset) * es, cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaMemset(dy, 0xFF, (n + (size_t)offset) * es) != cudaSuccess)
        goto done;
    cudaError_t e = rb_launch_qdq(&s->dp, variant, (int)dt, (char *)dx + (size_t)offset * es,
                                  (char *)dy + (size_t)offset * es, N, 0);
    cudaError_t e2 = cudaDeviceSynchronize();
    CHECK(e == cudaSuccess && e2 == cudaSuccess, "%s/%s d=%d b=%d %s N=%ld: launch %s, sync %s",
          rb_method_name(s->m), rb_variant_name(variant), s->d, s->bits, rb_dtype_name(dt), N,
          cudaGetErrorString(e), cudaGetErrorString(e2));
    if (e != cudaSuccess || e2 != cudaSuccess)
        goto done;
    if (cudaMemcpy(hbuf, dy, (n + (size_t)offset) * es, cudaMemcpyDeviceToHost) != cudaSuccess)
        goto done;
    if (dt == RB_FP16) {
        const uint16_t *h = hbuf;
        for (size_t k = 0; k < n; k++)
            out[k] = rb_f16_to_f32(h[k + (size_t)offset]);
    } else {
        memcpy(out, (float *)hbuf + offset, n * es);
    }
    rc = 0;
done:
    free(hbuf);
    cudaFree(dx);
    cudaFree(dy);
    return rc;
}

/* ---- comparison ------------------------------------------------------------------------------ */
typedef struct {
    long cases, rows, flips, bad_rows, unwritten, nan_rows, zero_rows;
    double max_abs32;
    long lowprec_cases, lowprec_flips; /* a lower-precision route: MSE cases, flips its bound explains */
    double lowprec_worst;              /* its largest relative MSE difference */
} stats;

static void compare(const setup *s, int variant, rb_dtype dt, const float *x, const float *ref, const float *gpu,
                    long N, stats *st)
{
    rb_agree_stats a;
    rb_agree_init(&a);
    rb_agree_rows(&s->hp, variant, dt, x, ref, gpu, N, &a);
    st->cases++;
    st->rows += a.rows;
    st->flips += a.flips;
    st->lowprec_flips += a.lowprec_flips;
    st->bad_rows += a.bad_rows;
    st->unwritten += a.unwritten;
    st->nan_rows += a.nan_rows;
    st->zero_rows += a.zero_rows;
    if (dt == RB_FP32 && a.max_abs > st->max_abs32)
        st->max_abs32 = a.max_abs;
    char why[400];
    rb_agree_describe(&a, why, sizeof why);
    CHECK(rb_agree_ok(&a), "%s/%s d=%d b=%d %s N=%ld: %s", rb_method_name(s->m), rb_variant_name(variant), s->d,
          s->bits, rb_dtype_name(dt), N, why);
    /* a lower-precision route (method.h fast_ybound): its MSE within 0.5 % of the reference's */
    const rb_method_desc *md = rb_method_get(s->m);
    if (variant == RB_VARIANT_FAST && md->fast_ybound && md->fast_ybound(&s->hp) > 0 && N >= 256 && s->bits <= 4) {
        double eg = 0, er = 0;
        for (long i = 0; i < N; i++) {
            double ss = rb_agree_row_norm(x + i * s->d, s->d);
            if (!(ss > 0))
                continue;
            for (int j = 0; j < s->d; j++) {
                double xg = (double)gpu[i * s->d + j] - x[i * s->d + j], xr = (double)ref[i * s->d + j] - x[i * s->d + j];
                eg += xg * xg;
                er += xr * xr;
            }
        }
        st->lowprec_cases++;
        CHECK(fabs(eg - er) <= 0.005 * er, "%s/fast d=%d b=%d %s N=%ld: MSE %.6g against the reference's %.6g (%+.3f %%)",
              rb_method_name(s->m), s->d, s->bits, rb_dtype_name(dt), N, eg, er, 100 * (eg - er) / er);
        if (er > 0 && fabs(eg - er) / er > st->lowprec_worst)
            st->lowprec_worst = fabs(eg - er) / er;
    }
}

/* One (setup with bits, dtype, N): reference once, both variants compared against it. */
static void run_case(setup *s, rb_dtype dt, long N, const int *variants, int nvar, long offset, stats *st)
{
    float *x = make_input(s->d, N, dt);
    CHECK(x != NULL, "input");
    if (!x)
        return;
    size_t n = (size_t)N * (size_t)s->d;
    float *ref = malloc(sizeof(float) * n), *gpu = malloc(sizeof(float) * n);
    cpu_reference(s, dt, x, N, ref);
    for (int k = 0; k < nvar; k++) {
        if (gpu_run(s, variants[k], dt, x, N, offset, gpu) == 0)
            compare(s, variants[k], dt, x, ref, gpu, N, st);
    }
    free(x);
    free(ref);
    free(gpu);
}

static const int both_variants[2] = {RB_VARIANT_PAPER, RB_VARIANT_FAST};

static void report(const char *what, rb_method m, const stats *st)
{
    printf("     %-16s %-18s %4ld cases %7ld rows: %ld flips, max|err| fp32 %.2g, %ld NaN rows, %ld zero rows\n",
           rb_method_name(m), what, st->cases, st->rows, st->flips, st->max_abs32, st->nan_rows, st->zero_rows);
    if (st->lowprec_cases)
        printf("     %-16s %-18s low-precision route: %ld rows within its bound's ties, MSE within %.3f %% of the "
               "reference in %ld cases\n", rb_method_name(m), what, st->lowprec_flips, 100 * st->lowprec_worst,
               st->lowprec_cases);
}

/* Every variant x d x bits x dtype of one method at N = 1000 (fewer rows for dense at d >= 256:
 * the CPU reference is the slow part), bits 1 and 8 at d = 128, and N = 1, 7. */
/* The GPU variants m's launcher implements, into v; their count. */
static int method_variants(rb_method m, int v[2])
{
    int n = 0;
    for (int k = 0; k < 2; k++)
        if (rb_method_get(m)->variants & (1u << both_variants[k]))
            v[n++] = both_variants[k];
    return n;
}

static void sweep_method(rb_method m)
{
    const rb_method_desc *md = rb_method_get(m);
    const int odd = md->check_d && md->check_d(100) ? 64 : 100; /* 64: a method that needs 2^k */
    int variants[2], nv = method_variants(m, variants);
    const int dims[4] = {128, 256, 512, odd};
    stats st = {0}, su = {0};
    for (int di = 0; di < 4; di++) {
        int d = dims[di];
        setup s;
        int ok = setup_rot(&s, m, d) == 0;
        CHECK(ok, "%s d=%d: setup", rb_method_name(m), d);
        if (!ok)
            continue;
        long N = rb_nominal_fma(m, d) > 32768 ? 256 : 1000; /* dense at d >= 256: the CPU side is slow */
        int bits_list[5] = {2, 3, 4, 1, 8}, nbits = d == 128 ? 5 : 3;
        for (int bi = 0; bi < nbits; bi++) {
            if (setup_bits(&s, bits_list[bi])) {
                CHECK(0, "%s d=%d b=%d: codebook", rb_method_name(m), d, bits_list[bi]);
                continue;
            }
            for (int dt = 0; dt < 2; dt++) {
                run_case(&s, (rb_dtype)dt, N, variants, nv, 0, &st);
                if (bits_list[bi] <= 3) { /* assume_unit_norm: every kernel skips the norm */
                    s.hp.unit_norm = s.dp.unit_norm = 1;
                    run_case(&s, (rb_dtype)dt, N, variants, nv, 0, &su);
                    s.hp.unit_norm = s.dp.unit_norm = 0;
                }
                if (bits_list[bi] == 3 && (d == 128 || d == odd)) {
                    run_case(&s, (rb_dtype)dt, 1, variants, nv, 0, &st);
                    run_case(&s, (rb_dtype)dt, 7, variants, nv, 0, &st);
                }
            }
        }
        setup_free(&s);
    }
    CHECK(st.bad_rows == 0, "%s: %ld rows disagree with the CPU reference (%ld unwritten)", rb_method_name(m),
          st.bad_rows, st.unwritten);
    CHECK(st.nan_rows > 0 && st.zero_rows > 0, "special rows were exercised");
    report("all shapes", m, &st);
    CHECK(!rb_method_get(m)->fast_ybound || st.lowprec_cases > 0, "%s: the low-precision route's MSE was checked",
          rb_method_name(m));
    CHECK(su.bad_rows == 0 && su.cases > 0, "%s assume_unit_norm: %ld rows disagree with the CPU reference",
          rb_method_name(m), su.bad_rows);
    report("assume_unit_norm", m, &su);
}

/* Every registered rotation method (plugins included, when loaded), so a new one is tested
 * without editing this file. */
TEST(kernels_every_method_vs_cpu)
{
    FOR_EACH_ROTATION_METHOD(m)
        if (rb_method_get(m)->launch)
            sweep_method(m);
}

/* Enough rows that every fast kernel's grid strides over rows several times, at d = 128 and
 * 256: 40000 rows take the large-batch shapes (16 coordinates per lane), where sweep_method's
 * 1000 rows take the small-batch ones (one 16-byte vector per lane); and buffers offset by one
 * element (not 16-byte aligned), which must take the scalar paths. */
TEST(kernels_grid_stride_and_unaligned)
{
    FOR_EACH_ROTATION_METHOD(m)
        for (int d = 128; d <= 256 && rb_method_get(m)->launch; d *= 2) { /* CPU-only methods: no kernel */
            if (rb_nominal_fma(m, d) > 16384) /* dense: one shape only; its CPU reference is the slow part */
                continue;
            stats st = {0};
            setup s;
            int ok = setup_rot(&s, (rb_method)m, d) == 0 && setup_bits(&s, 4) == 0;
            CHECK(ok, "setup");
            if (!ok)
                continue;
            const int fast[1] = {RB_VARIANT_FAST};
            int variants[2], nv = method_variants(m, variants);
            for (int dt = 0; dt < 2; dt++) {
                run_case(&s, (rb_dtype)dt, 40000, fast, 1, 0, &st);
                run_case(&s, (rb_dtype)dt, 77, variants, nv, 1, &st);
            }
            CHECK(st.bad_rows == 0, "%s d=%d: %ld rows disagree (%ld unwritten)", rb_method_name((rb_method)m), d,
                  st.bad_rows, st.unwritten);
            report("stride/unaligned", (rb_method)m, &st);
            setup_free(&s);
        }
}

/* rb_qdq_params.fast_shape (RB_FAST_SHAPE, read once by the driver) forces one shape at every
 * N: the large shape at 1000 rows and the small one at 40000, where the choice by N takes the
 * other; both must still agree with the CPU reference. */
TEST(kernels_forced_shape_vs_cpu)
{
    FOR_EACH_ROTATION_METHOD(m)
        for (int d = 128; d <= 256; d *= 2) {
            if (!rb_method_get(m)->launch || rb_nominal_fma(m, d) > 16384) /* dense: no shape choice */
                continue;
            stats st = {0};
            setup s;
            int ok = setup_rot(&s, (rb_method)m, d) == 0 && setup_bits(&s, 3) == 0;
            CHECK(ok, "setup");
            if (!ok)
                continue;
            const int fast[1] = {RB_VARIANT_FAST};
            for (int dt = 0; dt < 2; dt++) {
                s.dp.fast_shape = 2;
                run_case(&s, (rb_dtype)dt, 1000, fast, 1, 0, &st);
                s.dp.fast_shape = 1;
                run_case(&s, (rb_dtype)dt, 40000, fast, 1, 0, &st);
            }
            s.dp.fast_shape = 0;
            CHECK(st.bad_rows == 0 && st.cases == 4, "%s d=%d forced shapes: %ld rows disagree (%ld unwritten), %ld cases",
                  rb_method_name((rb_method)m), d, st.bad_rows, st.unwritten, st.cases);
            report("forced shapes", (rb_method)m, &st);
            setup_free(&s);
        }
}

/* Shapes the kernels cannot do are refused, not run wrong. */
TEST(kernels_refuse_bad_shapes)
{
    setup s;
    int ok = setup_rot(&s, method_id("turboquant-wht"), 128) == 0 && setup_bits(&s, 3) == 0;
    CHECK(ok, "setup");
    if (!ok)
        return;
    void *dx = NULL, *dy = NULL;
    CUDA_OK(cudaMalloc(&dx, 4096 * sizeof(float)));
    CUDA_OK(cudaMalloc(&dy, 4096 * sizeof(float)));
    rb_qdq_params p = s.dp;
    p.d = 96; /* not a power of two */
    CHECK(rb_launch_qdq(&p, RB_VARIANT_FAST, 0, dx, dy, 1, 0) == cudaErrorInvalidValue, "WHT d=96 refused");
    p = s.dp;
    p.bits = 9;
    CHECK(rb_launch_qdq(&p, RB_VARIANT_FAST, 0, dx, dy, 1, 0) == cudaErrorInvalidValue, "bits=9 refused");
    p = s.dp;
    CHECK(rb_launch_qdq(&p, 7, 0, dx, dy, 1, 0) == cudaErrorInvalidValue, "variant 7 refused");
    CHECK(rb_launch_qdq(&p, RB_VARIANT_FAST, 2, dx, dy, 1, 0) == cudaErrorInvalidValue, "dtype 2 refused");
    CHECK(strcmp(rb_variant_name(RB_VARIANT_PAPER), "paper") == 0 && strcmp(rb_variant_name(RB_VARIANT_FAST), "fast") == 0,
          "variant names");
    cudaGetLastError();
    cudaFree(dx);
    cudaFree(dy);
    setup_free(&s);
}

/* ---- HQMQ ------------------------------------------------------------------------------------
 * rb_launch_hqmq (paper, fast) and the Med3x pre-pass against rb_hqmq_row and
 * rb_hqmq_batch_median. The norms are computed with explicit fma on both sides, so the median,
 * the threshold, sigma, the outlier flags and the radius codes agree exactly; only the
 * direction search may differ, where two codewords score within rounding (the kernels'
 * products contract to FMA): agree.h's rule, HQMQ's flip test (hqmq_method.c). */
typedef struct {
    long rows, flips, bad, nan_rows;
} hq_stats;

static int hq_gpu(const rb_qdq_params *dp, int variant, rb_dtype dt, const float *x, long N, long offset,
                  float *out, rb_hqmq_med3_state *st)
{
    const int d = dp->d;
    size_t n = (size_t)N * d, es = dt == RB_FP16 ? 2 : 4, tot = (n + (size_t)offset) * es;
    void *dx = NULL, *dy = NULL, *scr = NULL;
    int rc = -1;
    char *hbuf = malloc(tot);
    if (!hbuf || cudaMalloc(&dx, tot) != cudaSuccess || cudaMalloc(&dy, tot) != cudaSuccess ||
        (dp->hq_outliers && cudaMalloc(&scr, rb_hqmq_med3_scratch_bytes(d, N)) != cudaSuccess))
        goto done;
    for (size_t k = 0; k < n; k++) {
        if (dt == RB_FP16)
            ((uint16_t *)hbuf)[k + (size_t)offset] = rb_f32_to_f16(x[k]);
        else
            ((float *)hbuf)[k + (size_t)offset] = x[k];
    }
    if (cudaMemcpy(dx, hbuf, tot, cudaMemcpyHostToDevice) != cudaSuccess || cudaMemset(dy, 0xFF, tot) != cudaSuccess)
        goto done;
    void *xi = (char *)dx + (size_t)offset * es, *xo = (char *)dy + (size_t)offset * es;
    cudaError_t e0 = scr ? rb_launch_hqmq_med3(xi, (int)dt, d, N, dp->hq_C, scr, 0) : cudaSuccess;
    cudaError_t e1 = rb_launch_hqmq(dp, variant, (int)dt, xi, xo, N, scr ? rb_hqmq_med3_thresh(scr) : NULL, 0);
    cudaError_t e2 = scr ? rb_launch_hqmq_count_outliers(d, N, scr, 0) : cudaSuccess;
    cudaError_t e3 = cudaDeviceSynchronize();
    CHECK(e0 == cudaSuccess && e1 == cudaSuccess && e2 == cudaSuccess && e3 == cudaSuccess,
          "hqmq/%s d=%d s%d_r%d %s N=%ld: %s %s %s %s", rb_variant_name(variant), d, dp->hq_S, dp->hq_rbits,
          rb_dtype_name(dt), N, cudaGetErrorString(e0), cudaGetErrorString(e1), cudaGetErrorString(e2),
          cudaGetErrorString(e3));
    if (e0 != cudaSuccess || e1 != cudaSuccess || e2 != cudaSuccess || e3 != cudaSuccess)
        goto done;
    if (cudaMemcpy(hbuf, dy, tot, cudaMemcpyDeviceToHost) != cudaSuccess ||
        (scr && cudaMemcpy(st, scr, sizeof *st, cudaMemcpyDeviceToHost) != cudaSuccess))
        goto done;
    for (size_t k = 0; k < n; k++)
        out[k] = dt == RB_FP16 ? rb_f16_to_f32(((uint16_t *)hbuf)[k + (size_t)offset])
                               : ((float *)hbuf)[k + (size_t)offset];
    rc = 0;
done:
    free(hbuf);
    cudaFree(dx);
    cudaFree(dy);
    cudaFree(scr);
    return rc;
}

#define HQ_FAST_TC RB_NUM_VARIANTS /* hq_case: RB_VARIANT_FAST with the tensor-core screen */
#define HQ_FAST_CELLS (RB_NUM_VARIANTS + 1) /* hq_case: RB_VARIANT_FAST with the cell search */

static void hq_case(const float *qs_host, const float *qs_dev, int d, int S, int rbits, int med3, int inliers,
                    rb_dtype dt, const float *x, long N, long offset, int variant, hq_stats *hs)
{
    rb_qdq_params hp, dp;
    rb_hqmq_params_shape(&hp, d, S, rbits, med3, 3.0, inliers);
    hp.rot = qs_host;
    dp = hp;
    dp.rot = qs_dev;
    /* the fast kernel with each search forced: the default picks by S */
    dp.hq_search = variant == HQ_FAST_TC ? RB_HQ_SEARCH_TC : variant == HQ_FAST_CELLS ? RB_HQ_SEARCH_CELLS
                                                                                    : RB_HQ_SEARCH_FP32;
    unsigned short *dtab = NULL;
    if (variant == HQ_FAST_CELLS) { /* the table as the driver builds it */
        CHECK(rb_hqmq_cells_upload(qs_host, S, &dtab, &dp.hq_cells_g) == 0, "cell table S=%d", S);
        dp.hq_cells = dtab;
    }
    const char *route = variant == HQ_FAST_TC ? "+tc" : variant == HQ_FAST_CELLS ? "+cells" : "";
    if (variant == HQ_FAST_TC || variant == HQ_FAST_CELLS)
        variant = RB_VARIANT_FAST;
    float *gpu = malloc(sizeof(float) * (size_t)N * d), *ref = malloc(sizeof(float) * (size_t)N * d);
    float *r = malloc(sizeof(float) * (size_t)(d + 3) / 4 + sizeof(float));
    rb_hqmq_med3_state st;
    memset(&st, 0, sizeof st);
    const int failed = !gpu || !ref || !r || hq_gpu(&dp, variant, dt, x, N, offset, gpu, &st);
    cudaFree(dtab);
    if (failed) {
        CHECK(0, "hqmq run failed");
        free(gpu); free(ref); free(r);
        return;
    }
    long nout = 0;
    if (med3) {
        float med = -1;
        CHECK(rb_hqmq_batch_median(x, d, N, NULL, &med) == 0 && med == st.median,
              "d=%d %s N=%ld: GPU median %.9g, CPU %.9g", d, rb_dtype_name(dt), N, st.median, med);
        CHECK(st.thresh == rb_hqmq_threshold(3.0f, med), "threshold %.9g", st.thresh);
        hp.hq_thresh = st.thresh;
    }
    for (long i = 0; i < N; i++) {
        nout += rb_hqmq_row(hp.rot, S, rbits, hp.hq_thresh, inliers, d, x + i * (long)d, ref + i * (long)d, r);
        if (dt == RB_FP16)
            for (int j = 0; j < d; j++)
                ref[i * (long)d + j] = rb_round_f16(ref[i * (long)d + j]);
    }
    rb_agree_stats a;
    rb_agree_init(&a);
    rb_agree_rows(&hp, variant, dt, x, ref, gpu, N, &a);
    char why[400];
    rb_agree_describe(&a, why, sizeof why);
    CHECK(rb_agree_ok(&a), "hqmq/%s%s d=%d s%d_r%d%s %s N=%ld: %s", rb_variant_name(variant), route, d, S, rbits,
          med3 ? "+med3" : "", rb_dtype_name(dt), N, why);
    hs->rows += a.rows;
    hs->flips += a.flips;
    hs->bad += a.bad_rows;
    hs->nan_rows += a.nan_rows;
    if (med3)
        CHECK((long)st.outliers == nout, "d=%d: GPU counts %llu outlier chunks, CPU %ld", d,
              (unsigned long long)st.outliers, nout);
    free(gpu);
    free(ref);
    free(r);
}

TEST(kernels_hqmq_vs_cpu)
{
    float *qs = malloc(sizeof(float) * (size_t)rb_param_count(method_id("hqmq"), 128)), *dqs = NULL;
    char err[256];
    CHECK(qs && rb_params_generate(SEED, method_id("hqmq"), 128, qs, err, sizeof err) == 0, "q_s");
    CUDA_OK(cudaMalloc((void **)&dqs, sizeof(float) * 4 * RB_HQMQ_MAX_S));
    CUDA_OK(cudaMemcpy(dqs, qs, sizeof(float) * 4 * RB_HQMQ_MAX_S, cudaMemcpyHostToDevice));
    static const int ops[][2] = {{24, 3}, {96, 4}, {192, 6}};
    static const int dims[] = {64, 128, 256, 98, 6};
    hq_stats hs = {0};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
        for (int dt = 0; dt < 2; dt++) {
            const int d = dims[di];
            const long N = 1000;
            float *x = make_input(d, N, (rb_dtype)dt); /* unit rows + a zero, a NaN and an Inf row */
            rb_data_dist co = {.kind = RB_DIST_CHANNEL_OUTLIERS, .channels = d < 8 ? 1 : 4, .scale = 20.0f};
            float *xo = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N));
            CHECK(x && xo && rb_data_generate(&co, SEED, d, N, (rb_dtype)dt, xo, err, sizeof err) == 0, "inputs");
            for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
                for (int v = 0; v <= HQ_FAST_CELLS; v++) {
                    hq_case(qs, dqs, d, ops[o][0], ops[o][1], 0, 0, (rb_dtype)dt, x, N, 0, v, &hs);
                    hq_case(qs, dqs, d, ops[o][0], ops[o][1], 1, 0, (rb_dtype)dt, xo, N, 0, v, &hs);
                    hq_case(qs, dqs, d, ops[o][0], ops[o][1], 1, 1, (rb_dtype)dt, xo, N, 0, v, &hs);
                }
            free(x);
            free(xo);
        }
    /* grid stride (fast) and an unaligned buffer (scalar paths), Med3x over many blocks */
    for (int dt = 0; dt < 2; dt++) {
        float *x = make_input(128, 40000, (rb_dtype)dt);
        hq_case(qs, dqs, 128, 96, 4, 1, 0, (rb_dtype)dt, x, 40000, 0, RB_VARIANT_FAST, &hs);
        hq_case(qs, dqs, 128, 24, 3, 0, 0, (rb_dtype)dt, x, 77, 1, RB_VARIANT_FAST, &hs);
        hq_case(qs, dqs, 128, 24, 3, 1, 0, (rb_dtype)dt, x, 77, 1, RB_VARIANT_PAPER, &hs);
        hq_case(qs, dqs, 128, 192, 4, 0, 0, (rb_dtype)dt, x, 40000, 0, HQ_FAST_TC, &hs);
        hq_case(qs, dqs, 128, 24, 3, 1, 0, (rb_dtype)dt, x, 77, 1, HQ_FAST_TC, &hs); /* unaligned: fp32 route */
        free(x);
        /* the tensor-core route's other shapes: d = 512 (4 passes of 32 chunks), S past a whole
         * group of J steps (S = 101: 26 steps), and S = 256 (its largest table) */
        x = make_input(512, 3000, (rb_dtype)dt);
        hq_case(qs, dqs, 512, 24, 3, 0, 0, (rb_dtype)dt, x, 3000, 0, HQ_FAST_TC, &hs);
        hq_case(qs, dqs, 512, 101, 4, 0, 0, (rb_dtype)dt, x, 3000, 0, HQ_FAST_TC, &hs);
        hq_case(qs, dqs, 512, 256, 4, 0, 1, (rb_dtype)dt, x, 3000, 0, HQ_FAST_TC, &hs);
        /* the cell search: its largest table (S = 256), d = 512 (16 chunks a lane), few secondaries */
        hq_case(qs, dqs, 512, 256, 4, 0, 1, (rb_dtype)dt, x, 3000, 0, HQ_FAST_CELLS, &hs);
        hq_case(qs, dqs, 512, 7, 3, 1, 0, (rb_dtype)dt, x, 3000, 0, HQ_FAST_CELLS, &hs);
        free(x);
        x = make_input(128, 40000, (rb_dtype)dt);
        hq_case(qs, dqs, 128, 192, 4, 0, 0, (rb_dtype)dt, x, 40000, 0, HQ_FAST_CELLS, &hs);
        hq_case(qs, dqs, 128, 24, 3, 1, 0, (rb_dtype)dt, x, 77, 1, HQ_FAST_CELLS, &hs); /* unaligned */
        free(x);
    }
    CHECK(hs.bad == 0, "hqmq: %ld rows disagree with the CPU reference", hs.bad);
    CHECK(hs.nan_rows > 0, "the NaN / Inf rows were not exercised");
    fprintf(stderr, "    hqmq: %ld rows, %ld near-tie flips (chunks), %ld NaN rows\n", hs.rows, hs.flips, hs.nan_rows);

    /* refused: Med3x through the generic entry (it needs the pre-pass), bad S and b_r */
    rb_qdq_params p;
    rb_hqmq_params_shape(&p, 128, 96, 4, 1, 3.0, 0);
    p.rot = dqs;
    CHECK(rb_launch_qdq(&p, RB_VARIANT_FAST, 0, dqs, dqs, 1, 0) == cudaErrorInvalidValue, "med3 via rb_launch_qdq");
    p.hq_outliers = 0;
    p.hq_S = 0;
    CHECK(rb_launch_hqmq(&p, RB_VARIANT_FAST, 0, dqs, dqs, 1, NULL, 0) == cudaErrorInvalidValue, "S=0 refused");
    p.hq_S = 96;
    p.hq_rbits = 17;
    CHECK(rb_launch_hqmq(&p, RB_VARIANT_FAST, 0, dqs, dqs, 1, NULL, 0) == cudaErrorInvalidValue, "b_r=17 refused");
    cudaGetLastError();
    cudaFree(dqs);
    free(qs);
}

/* The example plugin's kernel (the block skeleton of qdq_common.cuh, built as a plugin) against
 * its own CPU reference, as every built-in kernel is. make test-gpu loads it with --plugin, so
 * kernels_every_method_vs_cpu has already swept it; a bare build/test_gpu loads it here (last in
 * this file: once loaded it stays in the registry). */
TEST(kernels_example_plugin_vs_cpu)
{
    const rb_method_desc *loaded = rb_method_get(rb_method_find("example-signs"));
    if (loaded) { /* swept by kernels_every_method_vs_cpu; here only that it was there to sweep */
        CHECK(loaded->launch != NULL, "the example plugin registered without a GPU launcher");
        return;
    }
    char err[512];
    int ok = rb_plugin_load("build/examples/libexample_signs.so", err, sizeof err) == 0;
    CHECK(ok, "%s (make examples)", err);
    if (ok)
        sweep_method(rb_method_find("example-signs"));
}
