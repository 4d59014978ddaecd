/* tc_dense_check.cu: standalone check and timing of the tensor-core TurboQuant-dense kernel
 * (kernels/dense_tc.cuh) against the fp32 CPU reference (the pipeline of harness/reference.c
 * with kernels/common/dense.h), the D2D copy, the tensor-core roof of the instruction in use
 * (kernels/tc_peak.cu: wgmma or mma.sync) and an unfused cuBLAS anchor (two cublasGemmEx, fp16
 * in, fp32 compute, quantize kernel between).
 *
 * Build: `make build/tc_dense_check` (sm_90a and RBTC_WGMMA for the wgmma route, linked against
 * build/librotorbench.a for the measurement module and the roof). Times are the harness's
 * (harness/measure_gpu.h, default rules: the hot median per launch); the roof is the module's.
 * RB_DENSE_TC=mma takes the mma.sync route, as in rotorbench.
 * Run: build/tc_dense_check [--quick] [--san] [--d=D]   (exit status 0 when every check passed;
 *      --quick: bits 2 and 4 only; --san: N = 4096 and no timing, for compute-sanitizer;
 *      --time-only: timings alone; --b2b: also per-launch times of 1-100 launches back to back;
 *      --fp32 / --fp16: one input type)
 *
 * Checks, per d in {128, 256, 512}, fp32 and fp16, bits 1..4 (and 8, and 3 without the host cell
 * table: the other quantizer routes): every output coordinate of the checked rows (the first and
 * last rows of N = 2^20, plus special rows: zero, Inf, NaN, tiny, overflowing) is within
 * rb_dense_tc_xbound of the reference, or its row has a reference y within rb_dense_tc_ybound(d)
 * of a boundary (exempt: an index may flip); non-finite rows are NaN everywhere; the MSE over
 * the checked rows is within 0.5 % of the reference's. A short batch (N not a multiple of the
 * tiles) is checked whole, with a guard zone after the output that must stay untouched, and
 * bad arguments must be refused. */
#include <cublas_v2.h>
#include <curand.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuda_check.h"
#include "meas_lambda.h"
extern "C" {
#include "run_options.h"
}
#include "qdq_common.cuh"
#include "dense_tc.cuh"
#include "dense.h"
#include "rb_support.h"

#define CB(x)                                                                                                \
    do {                                                                                                     \
        cublasStatus_t s_ = (x);                                                                             \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                                   \
            fprintf(stderr, "%s:%d: %s: cublas status %d\n", __FILE__, __LINE__, #x, (int)s_);               \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

static int g_fail = 0;
static bool g_time_only = false;
static bool g_b2b = false; /* --b2b: also time runs of back-to-back launches (hot, as the harness) */

/* ---- host helpers ------------------------------------------------------------------------------ */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static double urand()
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double nrand() { return sqrt(-2.0 * log(urand())) * cos(6.283185307179586 * urand()); }

/* A random orthogonal d x d matrix (rows orthonormal): Gram-Schmidt twice in double on a Gaussian
 * matrix (Haar up to the signs, which do not matter here). */
static std::vector<float> make_orthogonal(int d)
{
    std::vector<double> Q((size_t)d * d);
    for (auto &v : Q)
        v = nrand();
    for (int i = 0; i < d; i++) {
        double *qi = &Q[(size_t)i * d];
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < i; j++) {
                const double *qj = &Q[(size_t)j * d];
                double dot = 0;
                for (int k = 0; k < d; k++)
                    dot += qi[k] * qj[k];
                for (int k = 0; k < d; k++)
                    qi[k] -= dot * qj[k];
            }
        double n = 0;
        for (int k = 0; k < d; k++)
            n += qi[k] * qi[k];
        n = 1.0 / sqrt(n);
        for (int k = 0; k < d; k++)
            qi[k] *= n;
    }
    std::vector<float> P((size_t)d * d);
    for (size_t e = 0; e < P.size(); e++)
        P[e] = (float)Q[e];
    return P;
}

/* Lloyd-Max for N(0, 1), scaled to N(0, 1/d): bounds = midpoints, centroids = conditional means. */
static void make_codebook(int bits, int d, std::vector<float> &bounds, std::vector<float> &cents)
{
    const int K = 1 << bits;
    std::vector<double> c(K), b(K - 1);
    for (int k = 0; k < K; k++)
        c[k] = -3.0 + 6.0 * (k + 0.5) / K;
    auto phi = [](double x) { return exp(-0.5 * x * x) / sqrt(2 * M_PI); };
    auto Phi = [](double x) { return 0.5 * erfc(-x / sqrt(2.0)); };
    for (int it = 0; it < 2000; it++) {
        for (int k = 0; k < K - 1; k++)
            b[k] = 0.5 * (c[k] + c[k + 1]);
        for (int k = 0; k < K; k++) {
            double lo = k ? b[k - 1] : -40.0, hi = k < K - 1 ? b[k] : 40.0;
            double p = Phi(hi) - Phi(lo);
            if (p > 1e-300)
                c[k] = (phi(lo) - phi(hi)) / p;
        }
    }
    const double s = 1.0 / sqrt((double)d);
    cents.resize(K);
    bounds.resize(K - 1);
    for (int k = 0; k < K; k++)
        cents[k] = (float)(c[k] * s);
    for (int k = 0; k < K - 1; k++)
        bounds[k] = 0.5f * (cents[k] + cents[k + 1]); /* midpoints of the fp32 centroids */
}

/* ---- device helpers ----------------------------------------------------------------------------- */
__global__ void to_half(const float *a, __half *b, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        b[i] = __float2half_rn(a[i]);
}

/* anchor: x -> (x-bar fp16, rho), a warp per row */
template <typename T>
__global__ void anchor_norm(const T *x, __half *xb, float *rho, long N, int d)
{
    const long row = (blockIdx.x * (long)blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (row >= N)
        return;
    const T *xr = x + row * d;
    float ss = 0.f;
    for (int j = lane; j < d; j += 32) {
        float f = (float)xr[j];
        ss = fmaf(f, f, ss);
    }
    for (int o = 16; o; o >>= 1)
        ss += __shfl_xor_sync(0xffffffffu, ss, o);
    const float r = sqrtf(ss), inv = rb_inv_norm(r);
    for (int j = lane; j < d; j += 32)
        xb[row * d + j] = __float2half_rn((float)xr[j] * inv);
    if (lane == 0)
        rho[row] = r;
}
/* anchor: Y (fp32) -> Yh (fp16 centroids), bounds in shared memory, a linear count */
__global__ void anchor_quant(const float *y, __half *yh, size_t n, const float *bounds, const float *cents, int nb)
{
    __shared__ float sb[256], sc[256];
    for (int k = threadIdx.x; k <= nb; k += blockDim.x) {
        sc[k] = cents[k];
        if (k < nb)
            sb[k] = bounds[k];
    }
    __syncthreads();
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const float v = y[i];
        int idx = 0;
        for (int k = 0; k < nb; k++)
            idx += v > sb[k];
        yh[i] = __float2half_rn(sc[idx]);
    }
}
template <typename T>
__global__ void anchor_scale(const float *xh32, const float *rho, T *out, long N, int d)
{
    const size_t n = (size_t)N * d;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const float r = rho[i / d];
        out[i] = (T)(rb_row_is_finite(r) ? r * xh32[i] : rbk_nan());
    }
}

/* ---- reference and comparison ------------------------------------------------------------------- */
struct CheckResult {
    long rows = 0, exempt_rows = 0, flipped_rows = 0, bad_rows = 0, nan_bad = 0;
    double max_diff = 0, max_ratio = 0; /* over the rows with every coordinate within the bound */
    double mse_gpu = 0, mse_ref = 0;
    long mse_rows = 0;
};

/* rows xs (n x d floats, the input as the kernel read it), gpu (its output as floats) */
static void check_rows(const float *P, const std::vector<float> &bounds, const std::vector<float> &cents, int d,
                       bool fp16, const float *xs, const float *gpu, long n, CheckResult &R)
{
    const int nb = (int)bounds.size();
    const float yb = rb_dense_tc_ybound(d);
    long exempt = 0, flipped = 0, bad = 0, nanbad = 0, mrows = 0;
    double mg = 0, mr = 0, maxd = 0, maxr = 0;
#pragma omp parallel for schedule(dynamic, 16) reduction(+ : exempt, flipped, bad, nanbad, mrows, mg, mr) \
    reduction(max : maxd, maxr)
    for (long r = 0; r < n; r++) {
        std::vector<float> v(d), y(d), out(d);
        const float *x = xs + (size_t)r * d, *o = gpu + (size_t)r * d;
        float ss = 0.0f;
        for (int j = 0; j < d; j++)
            ss += x[j] * x[j];
        const float rho = sqrtf(ss);
        if (!rb_row_is_finite(rho)) {
            for (int j = 0; j < d; j++)
                if (!std::isnan(o[j])) {
                    nanbad++;
                    break;
                }
            continue;
        }
        const float inv = rb_inv_norm(rho);
        for (int j = 0; j < d; j++)
            v[j] = x[j] * inv;
        rb_dense_fwd(P, v.data(), y.data(), d);
        bool near = false;
        double yn = 0;
        for (int i = 0; i < d; i++) {
            for (int k = 0; k < nb; k++)
                near |= fabsf(y[i] - bounds[k]) <= yb;
            y[i] = rb_sq_qdq(y[i], bounds.data(), cents.data(), nb);
            yn += (double)y[i] * y[i];
        }
        rb_dense_inv(P, y.data(), v.data(), d);
        for (int j = 0; j < d; j++) {
            out[j] = rho * v[j];
            if (fp16)
                out[j] = rb_round_f16(out[j]);
        }
        bool outside = false;
        double rmaxd = 0, rmaxr = 0;
        for (int j = 0; j < d; j++) {
            const double diff = fabs((double)o[j] - out[j]);
            const double b = rb_dense_tc_xbound(d, rho, (float)sqrt(yn), out[j], fp16);
            if (!(diff <= b)) /* NaN counts as outside */
                outside = true;
            rmaxd = std::max(rmaxd, diff);
            rmaxr = std::max(rmaxr, b > 0 ? diff / b : 0.0);
        }
        if (!outside) { /* the rows whose indices all agree (a flipped row says nothing of the bound) */
            maxd = std::max(maxd, rmaxd);
            maxr = std::max(maxr, rmaxr);
        }
        exempt += near;
        if (outside) {
            if (near)
                flipped++;
            else
                bad++;
        }
        double eg = 0, er = 0;
        for (int j = 0; j < d; j++) {
            eg += ((double)x[j] - o[j]) * ((double)x[j] - o[j]);
            er += ((double)x[j] - out[j]) * ((double)x[j] - out[j]);
        }
        if (ss > 0) { /* relative MSE per row, as the harness reports it */
            mg += eg / ss;
            mr += er / ss;
            mrows++;
        }
    }
    R.rows += n;
    R.exempt_rows += exempt;
    R.flipped_rows += flipped;
    R.bad_rows += bad;
    R.nan_bad += nanbad;
    R.max_diff = std::max(R.max_diff, maxd);
    R.max_ratio = std::max(R.max_ratio, maxr);
    R.mse_gpu += mg;
    R.mse_ref += mr;
    R.mse_rows += mrows;
}

template <typename T> static void to_float(const T *src, float *dst, size_t n);
template <> void to_float<float>(const float *s, float *d, size_t n) { memcpy(d, s, n * 4); }
template <> void to_float<__half>(const __half *s, float *d, size_t n)
{
    const uint16_t *h = reinterpret_cast<const uint16_t *>(s);
    for (size_t i = 0; i < n; i++)
        d[i] = rb_f16_to_f32(h[i]);
}

static rb_meas_gpu *g_meas;

/* the time per launch of f() in ms: the hot median under the harness's rules; k > 0: hot
 * batches of exactly k launches, no cold loop */
template <class F> static float time_ms(F &&f, int k = 0)
{
    rb_meas_opts o;
    rb_meas_opts_default(&o);
    if (k > 0) {
        o.batch = k;
        o.cold = 0;
    }
    return (float)(rb_meas_lambda_us(g_meas, &o, f) * 1e-3);
}

/* "k1 t1, k2 t2, ..." for f() run k times back to back, in us per launch */
template <class F> static void print_b2b(const char *what, F &&f)
{
    printf("  b2b %s:", what);
    for (int k : {1, 2, 3, 10, 100})
        printf(" k=%d %.1f", k, time_ms(f, k) * 1e3);
    printf(" us per launch\n");
}

struct Dev {
    float *P = nullptr, *bounds = nullptr, *cents = nullptr, *cells = nullptr;
};

static void free_all(Dev &D, void *x, void *xh)
{
    CK(cudaFree(x));
    CK(cudaFree(xh));
    CK(cudaFree(D.P));
    CK(cudaFree(D.bounds));
    CK(cudaFree(D.cents));
    CK(cudaFree(D.cells));
}

/* ---- one (d, dtype) -------------------------------------------------------------------------------- */
template <typename T>
static void run_d(int d, long N, const float *xf_dev, bool quick, double tc_rate, cublasHandle_t cb)
{
    const bool fp16 = sizeof(T) == 2;
    const char *dt = fp16 ? "fp16" : "fp32";
    std::vector<float> P = make_orthogonal(d);
    Dev D;
    CK(cudaMalloc(&D.P, P.size() * 4));
    CK(cudaMemcpy(D.P, P.data(), P.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMalloc(&D.bounds, 256 * 4));
    CK(cudaMalloc(&D.cents, 256 * 4));
    CK(cudaMalloc(&D.cells, RB_SQ_CELLS * 16));

    const size_t n = (size_t)N * d;
    T *x, *xh;
    const size_t guard = 4096; /* elements after the output that must stay untouched */
    CK(cudaMalloc(&x, n * sizeof(T)));
    CK(cudaMalloc(&xh, (n + guard) * sizeof(T)));
    if (fp16)
        to_half<<<1024, 256>>>(xf_dev, reinterpret_cast<__half *>(x), n);
    else
        CK(cudaMemcpy(x, xf_dev, n * 4, cudaMemcpyDeviceToDevice));
    CK(cudaDeviceSynchronize());

    /* the checked rows: the first C and the last C */
    const long C = d >= 512 ? 1024 : 2048;
    std::vector<T> hx(2 * C * d), ho(2 * C * d);
    std::vector<float> fx(2 * C * d), fo(2 * C * d);
    CK(cudaMemcpy(hx.data(), x, C * d * sizeof(T), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hx.data() + C * d, x + (N - C) * d, C * d * sizeof(T), cudaMemcpyDeviceToHost));
    to_float<T>(hx.data(), fx.data(), fx.size());

    struct Case {
        int bits;
        bool cells;
    };
    std::vector<Case> cases = {{1, true}, {2, true}, {3, true}, {4, true}, {3, false}, {8, false}};
    if (quick)
        cases = {{2, true}, {4, true}};
    if (g_time_only)
        cases.clear();
    for (const Case &cs : cases) {
        std::vector<float> bounds, cents, tab(RB_SQ_CELLS * 4);
        make_codebook(cs.bits, d, bounds, cents);
        const int nb = (int)bounds.size();
        CK(cudaMemcpy(D.bounds, bounds.data(), nb * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(D.cents, cents.data(), (nb + 1) * 4, cudaMemcpyHostToDevice));
        bool use_cells = cs.cells && nb > 3 && rb_sq_cell_table(bounds.data(), cents.data(), nb, tab.data()) == 0;
        if (use_cells)
            CK(cudaMemcpy(D.cells, tab.data(), tab.size() * 4, cudaMemcpyHostToDevice));
        RbArgs a = {D.P, D.bounds, D.cents, use_cells ? D.cells : nullptr, d, nb};
        CK(cudaMemset(xh, 0x7f, (n + guard) * sizeof(T)));
        CK(rbk_dense_tc_launch<T>(a, x, xh, N, 0));
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(ho.data(), xh, C * d * sizeof(T), cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(ho.data() + C * d, xh + (N - C) * d, C * d * sizeof(T), cudaMemcpyDeviceToHost));
        std::vector<T> hg(guard);
        CK(cudaMemcpy(hg.data(), xh + n, guard * sizeof(T), cudaMemcpyDeviceToHost));
        bool guard_ok = true;
        for (size_t i = 0; i < guard; i++) {
            unsigned char b[sizeof(T)];
            memcpy(b, &hg[i], sizeof(T));
            for (size_t k = 0; k < sizeof(T); k++)
                guard_ok &= b[k] == 0x7f;
        }
        to_float<T>(ho.data(), fo.data(), fo.size());
        CheckResult R;
        check_rows(P.data(), bounds, cents, d, fp16, fx.data(), fo.data(), 2 * C, R);
        const double rel = R.mse_gpu / R.mse_ref - 1.0;
        const bool ok = R.bad_rows == 0 && R.nan_bad == 0 && fabs(rel) <= 0.005 && guard_ok;
        g_fail += !ok;
        printf("check d=%d %s bits=%d %s: rows %ld, max|dxh| %.3g (max diff/bound %.3f), ybound %.3g, rows near a "
               "boundary %ld, flipped %ld, outside the bound %ld, NaN-row errors %ld, mse %.6e vs ref %.6e (%+.4f%%)%s "
               "%s\n",
               d, dt, cs.bits, use_cells ? "cells" : (nb <= 3 ? "reg" : "any"), R.rows, R.max_diff, R.max_ratio,
               rb_dense_tc_ybound(d), R.exempt_rows, R.flipped_rows, R.bad_rows, R.nan_bad, R.mse_gpu / R.mse_rows,
               R.mse_ref / R.mse_rows, 100 * rel, guard_ok ? "" : " GUARD OVERWRITTEN", ok ? "OK" : "FAIL");
    }

    /* a short batch, checked whole, tiles partly past N */
    if (!g_time_only) {
        const long Ns = 3001;
        std::vector<float> bounds, cents;
        make_codebook(4, d, bounds, cents);
        const int nb = (int)bounds.size();
        CK(cudaMemcpy(D.bounds, bounds.data(), nb * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(D.cents, cents.data(), (nb + 1) * 4, cudaMemcpyHostToDevice));
        RbArgs a = {D.P, D.bounds, D.cents, nullptr, d, nb};
        CK(cudaMemset(xh, 0x7f, (Ns * d + guard) * sizeof(T)));
        CK(rbk_dense_tc_launch<T>(a, x, xh, Ns, 0));
        CK(cudaDeviceSynchronize());
        std::vector<T> sx(Ns * d), so(Ns * d + guard);
        CK(cudaMemcpy(sx.data(), x, Ns * d * sizeof(T), cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(so.data(), xh, (Ns * d + guard) * sizeof(T), cudaMemcpyDeviceToHost));
        bool guard_ok = true;
        for (size_t i = Ns * d; i < so.size(); i++) {
            unsigned char b[sizeof(T)];
            memcpy(b, &so[i], sizeof(T));
            for (size_t k = 0; k < sizeof(T); k++)
                guard_ok &= b[k] == 0x7f;
        }
        std::vector<float> sfx(Ns * d), sfo(Ns * d);
        to_float<T>(sx.data(), sfx.data(), sfx.size());
        to_float<T>(so.data(), sfo.data(), sfo.size());
        CheckResult R;
        check_rows(P.data(), bounds, cents, d, fp16, sfx.data(), sfo.data(), Ns, R);
        const double rel = R.mse_gpu / R.mse_ref - 1.0;
        const bool ok = R.bad_rows == 0 && R.nan_bad == 0 && fabs(rel) <= 0.005 && guard_ok;
        g_fail += !ok;
        printf("check d=%d %s bits=4 N=%ld (whole, no cell table): outside the bound %ld, flipped %ld, NaN-row "
               "errors %ld, mse %+.4f%%, guard %s: %s\n",
               d, dt, Ns, R.bad_rows, R.flipped_rows, R.nan_bad, 100 * rel, guard_ok ? "intact" : "OVERWRITTEN",
               ok ? "OK" : "FAIL");
        /* refusals */
        RbArgs bad = a;
        bad.d = 64;
        const bool r1 = rbk_dense_tc_launch<T>(bad, x, xh, Ns, 0) == cudaErrorInvalidValue;
        const bool r2 = rbk_dense_tc_launch<T>(a, x + 1, xh, Ns, 0) == cudaErrorInvalidValue;
        cudaGetLastError();
        g_fail += !(r1 && r2);
        printf("check d=%d %s refusals (d=64, misaligned x): %s\n", d, dt, r1 && r2 ? "OK" : "FAIL");
    }

    if (tc_rate <= 0) { /* --san: checks only */
        free_all(D, x, xh);
        return;
    }
    /* ---- timing at N ---- */
    const double bytes = 2.0 * n * sizeof(T);
    const float ms_copy = time_ms([&] { CK(cudaMemcpyAsync(xh, x, n * sizeof(T), cudaMemcpyDeviceToDevice, 0)); });
    const double floor_ms = 4.0 * N * d * (double)d / tc_rate * 1e3;
    for (int bits : {2, 4}) {
        std::vector<float> bounds, cents, tab(RB_SQ_CELLS * 4);
        make_codebook(bits, d, bounds, cents);
        const int nb = (int)bounds.size();
        CK(cudaMemcpy(D.bounds, bounds.data(), nb * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(D.cents, cents.data(), (nb + 1) * 4, cudaMemcpyHostToDevice));
        bool use_cells = nb > 3 && rb_sq_cell_table(bounds.data(), cents.data(), nb, tab.data()) == 0;
        if (use_cells)
            CK(cudaMemcpy(D.cells, tab.data(), tab.size() * 4, cudaMemcpyHostToDevice));
        RbArgs a = {D.P, D.bounds, D.cents, use_cells ? D.cells : nullptr, d, nb};
        const float ms = time_ms([&] { CK(rbk_dense_tc_launch<T>(a, x, xh, N, 0)); });
        printf("time d=%d %s bits=%d N=%ld (%d blocks/SM): tc %.1f us (%.0f GB/s, %.2fx the copy), copy D2D %.1f us (%.0f GB/s), "
               "mma floor %.1f us (%.1f%% of the roof rate)\n",
               d, dt, bits, N, rbk_dense_tc_blocks_per_sm<T>(d, nb, a.cells), ms * 1e3, bytes / ms * 1e-6, ms / ms_copy, ms_copy * 1e3, bytes / ms_copy * 1e-6,
               floor_ms * 1e3, 100 * floor_ms / ms);
        if (g_b2b) {
            print_b2b("copy", [&] { CK(cudaMemcpyAsync(xh, x, n * sizeof(T), cudaMemcpyDeviceToDevice, 0)); });
            print_b2b("tc", [&] { CK(rbk_dense_tc_launch<T>(a, x, xh, N, 0)); });
        }
    }

    /* ---- the unfused cuBLAS anchor ---- */
    if (cb && !g_time_only) {
        std::vector<float> bounds, cents;
        make_codebook(4, d, bounds, cents);
        const int nb = (int)bounds.size();
        CK(cudaMemcpy(D.bounds, bounds.data(), nb * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(D.cents, cents.data(), (nb + 1) * 4, cudaMemcpyHostToDevice));
        __half *P16, *xb, *yh;
        float *y32, *rho;
        CK(cudaMalloc(&P16, (size_t)d * d * 2));
        to_half<<<256, 256>>>(D.P, P16, (size_t)d * d);
        CK(cudaMalloc(&xb, n * 2));
        CK(cudaMalloc(&yh, n * 2));
        CK(cudaMalloc(&y32, n * 4));
        CK(cudaMalloc(&rho, N * 4));
        const float one = 1.f, zero = 0.f;
        auto norm = [&] { anchor_norm<T><<<(unsigned)((N * 32 + 255) / 256), 256>>>(x, xb, rho, N, d); };
        /* row-major Y (N x d) = Xb P^T is column-major Y^T = P Xb^T; P16 read column-major is P^T */
        auto gemm1 = [&] {
            CB(cublasGemmEx(cb, CUBLAS_OP_T, CUBLAS_OP_N, d, (int)N, d, &one, P16, CUDA_R_16F, d, xb, CUDA_R_16F, d,
                            &zero, y32, CUDA_R_32F, d, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        };
        auto quant = [&] { anchor_quant<<<4096, 256>>>(y32, yh, n, D.bounds, D.cents, nb); };
        /* Xh (N x d) = Yh P: column-major Xh^T = P^T Yh^T */
        auto gemm2 = [&] {
            CB(cublasGemmEx(cb, CUBLAS_OP_N, CUBLAS_OP_N, d, (int)N, d, &one, P16, CUDA_R_16F, d, yh, CUDA_R_16F, d,
                            &zero, y32, CUDA_R_32F, d, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        };
        auto scale = [&] { anchor_scale<T><<<4096, 256>>>(y32, rho, xh, N, d); };
        const float t_all = time_ms([&] { norm(); gemm1(); quant(); gemm2(); scale(); });
        const float t_g1 = time_ms(gemm1), t_g2 = time_ms(gemm2);
        /* its quality on the checked rows */
        std::vector<float> bb = bounds, cc = cents;
        CK(cudaMemcpy(ho.data(), xh, C * d * sizeof(T), cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(ho.data() + C * d, xh + (N - C) * d, C * d * sizeof(T), cudaMemcpyDeviceToHost));
        to_float<T>(ho.data(), fo.data(), fo.size());
        CheckResult R;
        check_rows(P.data(), bb, cc, d, fp16, fx.data(), fo.data(), 2 * C, R);
        printf("anchor d=%d %s bits=4: cuBLAS pipeline %.1f us (%.2fx the copy; GEMMs alone %.1f + %.1f us), mse vs "
               "ref %+.4f%%, rows outside the tc bound %ld\n",
               d, dt, t_all * 1e3, t_all / ms_copy, t_g1 * 1e3, t_g2 * 1e3,
               100 * (R.mse_gpu / R.mse_ref - 1.0), R.bad_rows);
        CK(cudaFree(P16));
        CK(cudaFree(xb));
        CK(cudaFree(yh));
        CK(cudaFree(y32));
        CK(cudaFree(rho));
    }
    free_all(D, x, xh);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    bool quick = false, san = false;
    int only_t = -1; /* 0 fp32, 1 fp16 */
    int only_d = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--san")) /* small N, no timing: for compute-sanitizer */
            san = quick = true;
        else if (!strcmp(argv[i], "--time-only")) /* no checks, no anchor (the experiment builds) */
            g_time_only = true;
        else if (!strcmp(argv[i], "--b2b"))
            g_b2b = true;
        else if (!strcmp(argv[i], "--fp32"))
            only_t = 0;
        else if (!strcmp(argv[i], "--fp16"))
            only_t = 1;
        else if (!strncmp(argv[i], "--d=", 4))
            only_d = atoi(argv[i] + 4);
        else {
            fprintf(stderr, "usage: %s [--quick] [--san] [--time-only] [--b2b] [--fp32|--fp16] [--d=128|256|512]\n", argv[0]);
            return 2;
        }
    }
    /* RB_DENSE_TC, read as rotorbench reads it */
    char oerr[160];
    rb_run_options ro;
    if (rb_run_options_read(&ro, oerr, sizeof oerr)) {
        fprintf(stderr, "tc_dense_check: %s\n", oerr);
        return 2;
    }
    rb_dense_tc_force_mma(ro.dense_mma);
    if (!san)
        g_meas = rb_meas_standalone(); /* before any other CUDA call */
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    int clk = 0;
    cudaDeviceGetAttribute(&clk, cudaDevAttrClockRate, 0);
    printf("device: %s, %d SMs, %.0f MHz (max), %d-bit memory bus\n", prop.name, prop.multiProcessorCount, clk * 1e-3,
           prop.memoryBusWidth);

    /* the roof of the tensor-core instruction the kernel uses */
    const int blocks = rbk_num_sms() * 8, iters = 4096;
    double tc_rate = -1.0;
    cublasHandle_t cb = nullptr;
    if (!san) {
        rb_meas_gpu_roofs(g_meas, nullptr, nullptr, &tc_rate); /* measured at create, on these blocks and iters */
        const double ms_peak = tc_rate > 0 ? rb_tc_peak_flops(blocks, iters) / tc_rate * 1e3 : 0;
        if (rb_tc_peak_is_wgmma())
            printf("tc_peak: wgmma m64n128k16 fp16->fp32 (the kernel's route at d = 128, 256), %d warpgroups: "
                   "%.1f TFLOP/s (%.3f ms)\n",
                   blocks, tc_rate * 1e-12, ms_peak);
        else
            printf("tc_peak: mma.sync m16n8k16 fp16->fp32, %d blocks x %d threads, %d MMAs per warp: %.1f TFLOP/s "
                   "(%.3f ms)\n",
                   blocks, RB_TC_PEAK_THREADS, iters * RB_TC_PEAK_CHAINS, tc_rate * 1e-12, ms_peak);
        if (cublasCreate(&cb) != CUBLAS_STATUS_SUCCESS)
            cb = nullptr;
    }

    const long N = san ? 4096 : 1L << 20;
    for (int d : {128, 256, 512}) {
        if (only_d && d != only_d)
            continue;
        /* N x d Gaussian rows (cuRAND), with special rows */
        const size_t n = (size_t)N * d;
        float *xf;
        CK(cudaMalloc(&xf, n * 4));
        curandGenerator_t gen;
        curandCreateGenerator(&gen, CURAND_RNG_PSEUDO_PHILOX4_32_10);
        curandSetPseudoRandomGeneratorSeed(gen, 1234 + d);
        curandGenerateNormal(gen, xf, n, 0.0f, 1.0f);
        curandDestroyGenerator(gen);
        std::vector<float> row(d);
        auto put = [&](long r) { CK(cudaMemcpy(xf + r * d, row.data(), d * 4, cudaMemcpyHostToDevice)); };
        std::fill(row.begin(), row.end(), 0.f);
        put(3); /* zero row */
        for (int j = 0; j < d; j++)
            row[j] = (float)nrand();
        row[7] = INFINITY;
        put(5);
        row[7] = NAN;
        put(6);
        for (int j = 0; j < d; j++)
            row[j] = 1e-15f * (float)nrand();
        put(9); /* tiny (zeros in fp16) */
        for (int j = 0; j < d; j++)
            row[j] = 3e37f * (float)nrand();
        put(11); /* the sum of squares overflows: NaN row (Inf in fp16) */
        for (int j = 0; j < d; j++)
            row[j] = 1e-3f * (float)nrand();
        put(N - 2); /* small but normal */
        if (only_t != 1)
            run_d<float>(d, N, xf, quick, tc_rate, cb);
        if (only_t != 0)
            run_d<__half>(d, N, xf, quick, tc_rate, cb);
        CK(cudaFree(xf));
    }
    if (cb)
        cublasDestroy(cb);
    rb_meas_gpu_destroy(g_meas);
    printf("%s: %d check(s) failed\n", g_fail ? "FAIL" : "PASS", g_fail);
    return g_fail ? 1 : 0;
}
