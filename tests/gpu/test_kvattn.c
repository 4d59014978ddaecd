/* Decode attention kernels (kernels/kv_attention.cu) against a direct CPU computation in double
 * on the same inputs: the compressed cache (every rotation method, bits 1..8, d = 64, 128, 256
 * and odd, fp16 / fp32 / no norms) and the fp16 cache; T = 1, T not a multiple of the split,
 * one split of many tiles, grouped-query heads (2, 3, 8 per kv head), rows of any norm. The
 * caches are encoded on the host (kvcodec.h); the CPU computes the rotated-domain attention
 * exactly (softmax over all T at once, no splits) and, for the identity, through x^ (decode,
 * then attention in the original domain). The output is poisoned (NaN) before each launch.
 *
 * Tolerance: the output is a convex combination of value rows, so errors are measured against
 * the largest |value coordinate| Mv. fp32 scores carry about 1e-7 |s| of rounding, which the
 * softmax turns into relative weight errors of that size; the bound is 2e-6 (4 + max |s|) Mv
 * per output element, and the worst ratio error / bound seen is printed. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "../methods.h"
#include "backend.h"
#include "codebook.h"
#include "counts.h"
#include "data.h"
#include "fp16.h"
#include "gpu_backend.h"
#include "kvattn.h"
#include "kvcodec.h"
#include "run_options.h"

#define SEED 20261206ull

#define CUDA_OK(call)                                                                   \
    do {                                                                                \
        cudaError_t e_ = (call);                                                        \
        CHECK(e_ == cudaSuccess, "%s: %s", #call, cudaGetErrorString(e_));              \
        if (e_ != cudaSuccess)                                                          \
            goto done;                                                                  \
    } while (0)

/* ---- inputs ------------------------------------------------------------------------------- */
static uint64_t rng;

static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static double nrand(void) { return sqrt(-2.0 * log(urand())) * cos(6.283185307179586 * urand()); }

typedef struct {
    int B, Hq, Hkv, T, d, split;
} kshape;

/* q, K, V as the tests use them: normals; K and V rows scaled by log-uniform factors in
 * [1/4, 4] (row 0 of each (b, kv head) by 50), or unit rows when unit (no norms stored). */
static void make_inputs(const kshape *s, int unit, float *q, float *K, float *V)
{
    rng = SEED ^ ((uint64_t)s->d << 32) ^ ((uint64_t)s->T << 8) ^ (uint64_t)s->Hq;
    for (long i = 0; i < (long)s->B * s->Hq * s->d; i++)
        q[i] = (float)nrand();
    const long rows = (long)s->B * s->Hkv * s->T;
    for (int which = 0; which < 2; which++) {
        float *X = which ? V : K;
        for (long r = 0; r < rows; r++) {
            double n2 = 0.0;
            for (int j = 0; j < s->d; j++) {
                X[r * s->d + j] = (float)nrand();
                n2 += (double)X[r * s->d + j] * X[r * s->d + j];
            }
            double sc = unit ? 1.0 / sqrt(n2) : (r % s->T == 0 ? 50.0 : exp((urand() * 2.0 - 1.0) * log(4.0))) / sqrt(n2);
            for (int j = 0; j < s->d; j++)
                X[r * s->d + j] = (float)(X[r * s->d + j] * sc);
        }
    }
}

/* ---- the CPU computations, in double -------------------------------------------------------- */
/* Exact attention of q over rows K, V (original domain): o, and the largest |score|. */
static void attend_direct(const kshape *s, const float *q, const float *K, const float *V, double *o, double *smax)
{
    const int G = s->Hq / s->Hkv, d = s->d;
    double *sc = malloc(sizeof(double) * (size_t)s->T);
    *smax = 0.0;
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < s->Hq; h++) {
            const long r0 = ((long)b * s->Hkv + h / G) * s->T;
            const float *qq = q + ((long)b * s->Hq + h) * d;
            double m = -INFINITY, L = 0.0;
            for (int t = 0; t < s->T; t++) {
                double dot = 0.0;
                for (int j = 0; j < d; j++)
                    dot += (double)qq[j] * K[(r0 + t) * d + j];
                sc[t] = dot / sqrt((double)d);
                m = fmax(m, sc[t]);
                *smax = fmax(*smax, fabs(sc[t]));
            }
            double *oo = o + ((long)b * s->Hq + h) * d;
            for (int j = 0; j < d; j++)
                oo[j] = 0.0;
            for (int t = 0; t < s->T; t++) {
                const double p = exp(sc[t] - m);
                L += p;
                for (int j = 0; j < d; j++)
                    oo[j] += p * V[(r0 + t) * d + j];
            }
            for (int j = 0; j < d; j++)
                oo[j] /= L;
        }
    free(sc);
}

static double norm_at(const void *norms, int kind, long i)
{
    if (kind == RB_KV_NORM_FP16)
        return rb_f16_to_f32(((const uint16_t *)norms)[i]);
    if (kind == RB_KV_NORM_FP32)
        return ((const float *)norms)[i];
    return 1.0;
}

/* Attention over the compressed cache in the rotated domain: q' = Pi q_pad, scores
 * rho <q', c(code)> / sqrt(d), o = Pi^T sum p rho^v c(code^v). Also Mv, the largest |rho^v c|. */
static void attend_codes(const kshape *s, int dpad, int bits, int nk, const float *cent, const float *pi,
                         const float *q, const uint32_t *kc, const void *kn, const uint32_t *vc, const void *vn,
                         double *o, double *smax, double *mv)
{
    const int G = s->Hq / s->Hkv, d = s->d;
    const long rw = rb_kv_row_bytes(dpad, bits) / 4;
    double *qp = malloc(sizeof(double) * (size_t)dpad), *op = malloc(sizeof(double) * (size_t)dpad);
    double *sc = malloc(sizeof(double) * (size_t)s->T);
    double cmax = 0.0;
    for (int c = 0; c < (1 << bits); c++)
        cmax = fmax(cmax, fabs(cent[c]));
    *smax = 0.0;
    *mv = 0.0;
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < s->Hq; h++) {
            const long r0 = ((long)b * s->Hkv + h / G) * s->T;
            const float *qq = q + ((long)b * s->Hq + h) * d;
            for (int i = 0; i < dpad; i++) {
                double a = 0.0;
                for (int j = 0; j < d; j++)
                    a += (double)pi[(long)i * dpad + j] * qq[j];
                qp[i] = a;
            }
            double m = -INFINITY, L = 0.0;
            for (int t = 0; t < s->T; t++) {
                const uint32_t *row = kc + (r0 + t) * rw;
                double dot = 0.0;
                for (int j = 0; j < dpad; j++)
                    dot += qp[j] * cent[rb_kv_get(row, j, bits)];
                sc[t] = dot * norm_at(kn, nk, r0 + t) / sqrt((double)d);
                m = fmax(m, sc[t]);
                *smax = fmax(*smax, fabs(sc[t]));
            }
            for (int j = 0; j < dpad; j++)
                op[j] = 0.0;
            for (int t = 0; t < s->T; t++) {
                const double p = exp(sc[t] - m), rv = norm_at(vn, nk, r0 + t);
                const uint32_t *row = vc + (r0 + t) * rw;
                L += p;
                *mv = fmax(*mv, fabs(rv) * cmax);
                for (int j = 0; j < dpad; j++)
                    op[j] += p * rv * cent[rb_kv_get(row, j, bits)];
            }
            double *oo = o + ((long)b * s->Hq + h) * d;
            for (int i = 0; i < d; i++) {
                double a = 0.0;
                for (int j = 0; j < dpad; j++)
                    a += (double)pi[(long)j * dpad + i] * op[j];
                oo[i] = a / L;
            }
        }
    free(qp);
    free(op);
    free(sc);
}

/* Pi[i][j] = (rotate_fwd(e_j))_i from the method's CPU rotation (identity when it has none). */
static void build_pi(const rb_qdq_params *p, float *pi)
{
    const rb_method_desc *md = rb_method_get(p->method);
    const int n = p->dpad;
    float *v = malloc(sizeof(float) * (size_t)n), *tmp = malloc(sizeof(float) * (size_t)n);
    for (int j = 0; j < n; j++) {
        memset(v, 0, sizeof(float) * (size_t)n);
        v[j] = 1.0f;
        if (md->rotate_fwd)
            md->rotate_fwd(p, v, tmp);
        for (int i = 0; i < n; i++)
            pi[(long)i * n + j] = v[i];
    }
    free(v);
    free(tmp);
}

/* ---- comparison ----------------------------------------------------------------------------- */
static double worst_ratio; /* the largest error / bound over every case */

static int compare_out(const char *what, const kshape *s, const float *gpu, const double *ref, double smax, double mv)
{
    const double bound = 2e-6 * (4.0 + smax) * mv;
    long n = (long)s->B * s->Hq * s->d, bad = 0, nonfinite = 0;
    double worst = 0.0;
    for (long i = 0; i < n; i++) {
        if (!isfinite(gpu[i])) {
            nonfinite++;
            continue;
        }
        const double e = fabs(gpu[i] - ref[i]);
        worst = fmax(worst, e);
        bad += e > bound;
    }
    worst_ratio = fmax(worst_ratio, worst / bound);
    CHECK(nonfinite == 0 && bad == 0, "%s B=%d H=%d/%d T=%d d=%d split=%d: %ld non-finite, %ld over the bound "
          "%.3g (worst %.3g; max|s| %.3g, Mv %.3g)", what, s->B, s->Hq, s->Hkv, s->T, s->d, s->split, nonfinite, bad,
          bound, worst, smax, mv);
    return nonfinite == 0 && bad == 0;
}

/* ---- one compressed case -------------------------------------------------------------------- */
static long cases_codes, cases_fp16, skipped;

static void run_codes(rb_method m, const kshape *s, int bits, int nk)
{
    rb_qdq_params p;
    rb_qdq_params_shape(&p, m, s->d, bits);
    if (p.dpad > RB_KVATTN_MAX_DPAD || (rb_method_get(m)->check_d && rb_method_get(m)->check_d(s->d))) {
        skipped++;
        return;
    }
    const long rows = (long)s->B * s->Hkv * s->T, qn = (long)s->B * s->Hq * s->d;
    const size_t rb = (size_t)rb_kv_row_bytes(p.dpad, bits), nb = (size_t)rb_kv_norm_bytes(nk);
    static rb_codebook cb;
    float *rot = malloc(sizeof(float) * (size_t)(rb_param_count(m, s->d) + 1));
    float *q = malloc(sizeof(float) * (size_t)qn), *K = malloc(sizeof(float) * (size_t)rows * s->d),
          *V = malloc(sizeof(float) * (size_t)rows * s->d), *pi = malloc(sizeof(float) * (size_t)p.dpad * p.dpad);
    float *o = malloc(sizeof(float) * (size_t)qn);
    double *ref = malloc(sizeof(double) * (size_t)qn);
    void *kc = calloc(1, rows * rb), *vc = calloc(1, rows * rb), *kn = malloc(rows * nb + 4), *vn = malloc(rows * nb + 4);
    void *dkc = NULL, *dvc = NULL, *dkn = NULL, *dvn = NULL, *dq = NULL, *dout = NULL, *dcent = NULL, *dpi = NULL,
         *dwork = NULL;
    char err[256], what[160];
    snprintf(what, sizeof what, "%s b=%d norms=%s", rb_method_name(m), bits, rb_kv_norm_name(nk));
    CHECK(rb_params_generate(SEED, m, s->d, rot, err, sizeof err) == 0, "%s: %s", what, err);
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, s->d, bits, &cb) == 0, "%s: codebook", what);
    p.rot = rot;
    p.bounds = cb.bounds_f;
    p.centroids = cb.centroids_f;
    p.unit_norm = nk == RB_KV_NORM_NONE;
    make_inputs(s, p.unit_norm, q, K, V);
    CHECK(rb_cpu_encode_rows(&p, nk, K, rows, kc, nk == RB_KV_NORM_NONE ? NULL : kn) == 0 &&
              rb_cpu_encode_rows(&p, nk, V, rows, vc, nk == RB_KV_NORM_NONE ? NULL : vn) == 0,
          "%s: encode", what);
    build_pi(&p, pi);
    double smax, mv;
    attend_codes(s, p.dpad, bits, nk, cb.centroids_f, pi, q, kc, kn, vc, vn, ref, &smax, &mv);

    /* the rotated-domain identity: the same attention through x^ (decode, original domain) */
    if (rb_method_get(m)->rotate_fwd == NULL || s->T <= 150) {
        float *Kh = malloc(sizeof(float) * (size_t)rows * s->d), *Vh = malloc(sizeof(float) * (size_t)rows * s->d);
        double *ox = malloc(sizeof(double) * (size_t)qn), smx;
        CHECK(rb_cpu_decode_rows(&p, nk, kc, nk == RB_KV_NORM_NONE ? NULL : kn, rows, RB_FP32, Kh) == 0 &&
                  rb_cpu_decode_rows(&p, nk, vc, nk == RB_KV_NORM_NONE ? NULL : vn, rows, RB_FP32, Vh) == 0,
              "%s: decode", what);
        attend_direct(s, q, Kh, Vh, ox, &smx);
        long bad = 0;
        const double bound = 2e-6 * (4.0 + smax) * mv;
        for (long i = 0; i < qn; i++)
            bad += !(fabs(ox[i] - ref[i]) <= bound);
        CHECK(bad == 0, "%s d=%d T=%d: through x^ and in the rotated domain differ in %ld outputs", what, s->d, s->T,
              bad);
        free(Kh);
        free(Vh);
        free(ox);
    }

    rb_kvattn_args a = {.B = s->B, .Hq = s->Hq, .Hkv = s->Hkv, .T = s->T, .d = s->d, .dpad = p.dpad, .split = s->split,
                        .scale = 1.0f / sqrtf((float)s->d), .bits = bits, .norm_kind = nk};
    const size_t wb = rb_kvattn_work_bytes(&a);
    CUDA_OK(cudaMalloc(&dkc, rows * rb));
    CUDA_OK(cudaMalloc(&dvc, rows * rb));
    CUDA_OK(cudaMalloc(&dkn, rows * nb + 4));
    CUDA_OK(cudaMalloc(&dvn, rows * nb + 4));
    CUDA_OK(cudaMalloc(&dq, sizeof(float) * (size_t)qn));
    CUDA_OK(cudaMalloc(&dout, sizeof(float) * (size_t)qn));
    CUDA_OK(cudaMalloc(&dcent, sizeof(float) * (size_t)(1 << bits)));
    CUDA_OK(cudaMalloc(&dpi, sizeof(float) * (size_t)p.dpad * p.dpad));
    CUDA_OK(cudaMalloc(&dwork, wb));
    CUDA_OK(cudaMemcpy(dkc, kc, rows * rb, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dvc, vc, rows * rb, cudaMemcpyHostToDevice));
    if (nb) {
        CUDA_OK(cudaMemcpy(dkn, kn, rows * nb, cudaMemcpyHostToDevice));
        CUDA_OK(cudaMemcpy(dvn, vn, rows * nb, cudaMemcpyHostToDevice));
    }
    CUDA_OK(cudaMemcpy(dq, q, sizeof(float) * (size_t)qn, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dcent, cb.centroids_f, sizeof(float) * (size_t)(1 << bits), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dpi, pi, sizeof(float) * (size_t)p.dpad * p.dpad, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemset(dout, 0xFF, sizeof(float) * (size_t)qn));
    CUDA_OK(cudaMemset(dwork, 0xFF, wb));
    a.kcodes = dkc;
    a.vcodes = dvc;
    a.knorms = nb ? dkn : NULL;
    a.vnorms = nb ? dvn : NULL;
    a.centroids = dcent;
    a.pi = dpi;
    a.q = dq;
    a.o = dout;
    a.work = dwork;
    CUDA_OK((cudaError_t)rb_kvattn_launch(&a, NULL));
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(o, dout, sizeof(float) * (size_t)qn, cudaMemcpyDeviceToHost));
    compare_out(what, s, o, ref, smax, mv);
    cases_codes++;
done:
    cudaFree(dkc);
    cudaFree(dvc);
    cudaFree(dkn);
    cudaFree(dvn);
    cudaFree(dq);
    cudaFree(dout);
    cudaFree(dcent);
    cudaFree(dpi);
    cudaFree(dwork);
    free(rot);
    free(q);
    free(K);
    free(V);
    free(pi);
    free(o);
    free(ref);
    free(kc);
    free(vc);
    free(kn);
    free(vn);
}

/* ---- one fp16 case -------------------------------------------------------------------------- */
/* keep non-NULL: the output, B Hq d floats, copied there */
static void run_fp16(const kshape *s, float *keep)
{
    const long rows = (long)s->B * s->Hkv * s->T, qn = (long)s->B * s->Hq * s->d, n = rows * s->d;
    float *q = malloc(sizeof(float) * (size_t)qn), *K = malloc(sizeof(float) * (size_t)n),
          *V = malloc(sizeof(float) * (size_t)n), *o = malloc(sizeof(float) * (size_t)qn);
    uint16_t *k16 = malloc(2 * (size_t)n), *v16 = malloc(2 * (size_t)n);
    double *ref = malloc(sizeof(double) * (size_t)qn);
    void *dk = NULL, *dv = NULL, *dq = NULL, *dout = NULL, *dwork = NULL;
    make_inputs(s, 0, q, K, V);
    double mv = 0.0;
    for (long i = 0; i < n; i++) {
        k16[i] = rb_f32_to_f16(K[i]);
        v16[i] = rb_f32_to_f16(V[i]);
        K[i] = rb_f16_to_f32(k16[i]);
        V[i] = rb_f16_to_f32(v16[i]);
        mv = fmax(mv, fabs(V[i]));
    }
    double smax;
    attend_direct(s, q, K, V, ref, &smax);
    rb_kvattn_args a = {.B = s->B, .Hq = s->Hq, .Hkv = s->Hkv, .T = s->T, .d = s->d, .dpad = s->d, .split = s->split,
                        .scale = 1.0f / sqrtf((float)s->d)};
    const size_t wb = rb_kvattn_work_bytes(&a);
    CUDA_OK(cudaMalloc(&dk, 2 * (size_t)n));
    CUDA_OK(cudaMalloc(&dv, 2 * (size_t)n));
    CUDA_OK(cudaMalloc(&dq, sizeof(float) * (size_t)qn));
    CUDA_OK(cudaMalloc(&dout, sizeof(float) * (size_t)qn));
    CUDA_OK(cudaMalloc(&dwork, wb));
    CUDA_OK(cudaMemcpy(dk, k16, 2 * (size_t)n, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dv, v16, 2 * (size_t)n, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dq, q, sizeof(float) * (size_t)qn, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemset(dout, 0xFF, sizeof(float) * (size_t)qn));
    a.k16 = dk;
    a.v16 = dv;
    a.q = dq;
    a.o = dout;
    a.work = dwork;
    CUDA_OK((cudaError_t)rb_kvattn_fp16_launch(&a, NULL));
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(o, dout, sizeof(float) * (size_t)qn, cudaMemcpyDeviceToHost));
    compare_out("fp16 cache", s, o, ref, smax, mv);
    if (keep)
        memcpy(keep, o, sizeof(float) * (size_t)qn);
    cases_fp16++;
done:
    cudaFree(dk);
    cudaFree(dv);
    cudaFree(dq);
    cudaFree(dout);
    cudaFree(dwork);
    free(q);
    free(K);
    free(V);
    free(o);
    free(k16);
    free(v16);
    free(ref);
}

/* ---- the tests ------------------------------------------------------------------------------ */
static const int dims[] = {64, 128, 256, 97};

TEST(kvattn_every_method_bits_and_d)
{
    worst_ratio = 0.0;
    cases_codes = skipped = 0;
    FOR_EACH_ROTATION_METHOD(m)
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++)
        for (int bits = 1; bits <= 8; bits++) {
            /* GQA 2, T = 150 over splits of 64 (the last one 22 tokens; two of four warps idle) */
            const kshape s = {2, 4, 2, 150, dims[k], 64};
            run_codes(m, &s, bits, RB_KV_NORM_FP16);
        }
    CHECK(cases_codes > 0, "no compressed case ran");
    printf("    kvattn: %ld compressed cases (%ld method/d pairs skipped), worst error/bound %.3g\n", cases_codes,
           skipped, worst_ratio);
}

TEST(kvattn_shapes_and_norm_kinds)
{
    static const kshape shapes[] = {
        {1, 1, 1, 1, 128, 64},      /* T = 1 */
        {1, 8, 1, 1000, 128, 64},   /* 8 query heads per kv head; T not a multiple of the split */
        {3, 6, 2, 333, 128, 4096},  /* 3 per kv head; one split of 11 tiles (double buffering) */
        {1, 4, 4, 700, 256, 128},   /* d = 256 */
        {2, 2, 1, 65, 97, 64},      /* odd d, a split of one token */
        {1, 2, 1, 40, 20, 64},      /* d < 32: no whole 32-code chunk, lanes 20..31 own no V coordinate */
    };
    worst_ratio = 0.0;
    FOR_EACH_ROTATION_METHOD(m)
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        run_codes(m, &shapes[k], 3, RB_KV_NORM_FP16);
        run_codes(m, &shapes[k], 8, RB_KV_NORM_FP32);
        run_codes(m, &shapes[k], 2, RB_KV_NORM_NONE);
    }
    printf("    kvattn shapes: worst error/bound %.3g\n", worst_ratio);
}

/* The device's residency of the split kernels (rb_kvattn_resident, the "auto" split's on the GPU)
 * against kvattn.h's model of the H100/H200 SM at the shapes the model's test names: equal on a
 * 9.0 device for the compiled widths at 3 bits (shared memory binds: four, and three for
 * RotorQuant's 129 coordinates); at least the model's elsewhere, on every device. */
TEST(kvattn_resident_matches_the_model)
{
    rb_kvattn_args a = {.B = 1, .Hq = 32, .Hkv = 32, .T = 32768, .d = 128, .dpad = 128, .bits = 3,
                        .norm_kind = RB_KV_NORM_FP16};
    int dev = 0, major = 0, n = 0;
    CHECK(cudaGetDevice(&dev) == cudaSuccess &&
              cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess,
          "device attributes");
    static const int dpads[] = {128, 129};
    for (int i = 0; i < 2; i++)
        for (int bits = 2; bits <= 4; bits++) {
            a.dpad = dpads[i];
            a.bits = bits;
            CHECK(rb_kvattn_resident(&a, 0, &n) == 0, "dpad %d bits %d: residency query", a.dpad, bits);
            const int model = rb_kvattn_model_ctas(&a, 0);
            if (major == 9 && bits == 3)
                CHECK(n == model, "dpad %d, 3 bits: %d CTAs a SM, the model %d", a.dpad, n, model);
            else
                CHECK(n >= model, "dpad %d, %d bits: %d CTAs a SM, fewer than the model's %d", a.dpad, bits, n, model);
        }
    /* the fp16 cache: the staged kernel at d = 64, 128, 256 (registers bind at 64, shared memory
     * above), the register kernel at d = 100 */
    static const int fd[] = {64, 128, 256, 100};
    for (int i = 0; i < 4; i++) {
        a.d = fd[i];
        CHECK(rb_kvattn_resident(&a, 1, &n) == 0 && n >= 1, "fp16, d = %d: %d CTAs a SM", a.d, n);
        const int model = rb_kvattn_model_ctas(&a, 1);
        if (major == 9)
            CHECK(n == model, "fp16, d = %d: %d CTAs a SM, the model %d", a.d, n, model);
        else
            CHECK(n >= model, "fp16, d = %d: %d CTAs a SM, fewer than the model's %d", a.d, n, model);
    }
    a.d = 128;
    a.Hq = 33;
    CHECK(rb_kvattn_resident(&a, 0, &n) != 0 && n == 0, "a shape the kernels refuse is refused");
}

TEST(kvattn_default_split_fills_the_gpu)
{
    /* the headline shape scaled down in T: B = 1, H = 32, d = 128, the default split */
    kshape s = {1, 32, 32, 4096, 128, 0};
    s.split = rb_kvattn_default_split(s.B, s.Hkv, s.T, 132, 4);
    CHECK(rb_kvattn_nsplit(s.T, s.split) * s.Hkv * s.B >= 132, "split %d gives too few CTAs", s.split);
    run_codes(method_id("identity"), &s, 3, RB_KV_NORM_FP16);
    run_fp16(&s, NULL);
}

TEST(kvattn_fp16_cache)
{
    static const kshape shapes[] = {
        {2, 4, 2, 150, 64, 64}, {2, 4, 2, 150, 128, 64}, {2, 4, 2, 150, 256, 64}, {2, 4, 2, 150, 97, 64},
        {1, 1, 1, 1, 128, 64},  {1, 8, 1, 1000, 128, 64}, {3, 6, 2, 333, 128, 4096}, {1, 2, 1, 77, 2, 64},
        {1, 2, 1, 77, 1, 64},   {1, 3, 3, 129, 160, 32},
    };
    worst_ratio = 0.0;
    cases_fp16 = 0;
    /* each shape on the kernel it takes (the staged one where d is a multiple of 8), then on the
     * register kernel: the two take the same values in the same order, so the same bits */
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const kshape *sh = &shapes[k];
        const size_t qn = (size_t)sh->B * sh->Hq * sh->d;
        float *o1 = malloc(sizeof(float) * qn), *o2 = malloc(sizeof(float) * qn);
        memset(o1, 0, sizeof(float) * qn);
        memset(o2, 0xFF, sizeof(float) * qn);
        run_fp16(sh, o1);
        rb_kvattn_fp16_force_registers(1);
        run_fp16(sh, o2);
        rb_kvattn_fp16_force_registers(rb_run_options_get()->kva_fp16_regs);
        CHECK(!memcmp(o1, o2, sizeof(float) * qn), "d = %d, T = %d: the %s and register kernels differ", sh->d, sh->T,
              rb_kva_fp16_staged(sh->d) ? "staged" : "(again) register");
        free(o1);
        free(o2);
    }
    CHECK(cases_fp16 == 2 * (long)(sizeof shapes / sizeof shapes[0]), "only %ld fp16 cases ran", cases_fp16);
    printf("    kvattn fp16: worst error/bound %.3g\n", worst_ratio);
}

/* The backend's hook: host pointers in, the output back, a timing against the copy roof. */
TEST(kvattn_backend_hook)
{
    rb_backend *be = rb_test_gpu_backend();
    CHECK(be != NULL, "no GPU backend");
    if (!be)
        return;
    CHECK(be->kv_attention != NULL, "the GPU backend has no kv_attention");
    const int was = be->profile;
    be->profile = 0; /* the timing is checked too */
    const kshape s = {1, 4, 2, 1000, 128, 128};
    const rb_method m = method_id("identity");
    const int bits = 3, nk = RB_KV_NORM_FP16;
    rb_qdq_params p;
    rb_qdq_params_shape(&p, m, s.d, bits);
    static rb_codebook cb;
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, s.d, bits, &cb) == 0, "codebook");
    p.bounds = cb.bounds_f;
    p.centroids = cb.centroids_f;
    const long rows = (long)s.B * s.Hkv * s.T, qn = (long)s.B * s.Hq * s.d;
    const size_t rb = (size_t)rb_kv_row_bytes(p.dpad, bits);
    float *q = malloc(sizeof(float) * (size_t)qn), *K = malloc(sizeof(float) * (size_t)rows * s.d),
          *V = malloc(sizeof(float) * (size_t)rows * s.d), *pi = malloc(sizeof(float) * (size_t)p.dpad * p.dpad),
          *o = malloc(sizeof(float) * (size_t)qn);
    double *ref = malloc(sizeof(double) * (size_t)qn);
    uint32_t *kc = calloc(1, rows * rb), *vc = calloc(1, rows * rb);
    uint16_t *kn = malloc(2 * (size_t)rows), *vn = malloc(2 * (size_t)rows);
    make_inputs(&s, 0, q, K, V);
    CHECK(rb_cpu_encode_rows(&p, nk, K, rows, kc, kn) == 0 && rb_cpu_encode_rows(&p, nk, V, rows, vc, vn) == 0,
          "encode");
    build_pi(&p, pi);
    double smax, mv;
    attend_codes(&s, p.dpad, bits, nk, cb.centroids_f, pi, q, kc, kn, vc, vn, ref, &smax, &mv);
    rb_kvattn_args a = {.B = s.B, .Hq = s.Hq, .Hkv = s.Hkv, .T = s.T, .d = s.d, .dpad = p.dpad, .split = s.split,
                        .scale = 1.0f / sqrtf((float)s.d), .bits = bits, .norm_kind = nk, .kcodes = kc, .vcodes = vc,
                        .knorms = kn, .vnorms = vn, .centroids = cb.centroids_f, .pi = pi, .q = q, .o = o};
    rb_timing t;
    memset(&t, 0, sizeof t);
    CHECK(be->kv_attention(be, &a, 0, &t) == 0, "kv_attention failed");
    compare_out("backend hook", &s, o, ref, smax, mv);
    CHECK(t.median_us > 0 && t.cold_samples > 0 && t.cold_median_us > 0 && t.copy_us > 0,
          "timing: median %g us, %d cold samples (median %g), copy %g us", t.median_us, t.cold_samples,
          t.cold_median_us, t.copy_us);

    /* a cache that does not fit is refused before any allocation, with the bytes it needs */
    rb_kvattn_args big = a;
    big.B = 60000;
    big.Hq = big.Hkv = 8;
    big.T = 1 << 30;
    CHECK(be->kv_attention(be, &big, 0, &t) == -1, "a cache of %.3g bytes was not refused",
          rb_kvattn_cache_bytes(&big, 0));
    be->profile = was;
    free(q);
    free(K);
    free(V);
    free(pi);
    free(o);
    free(ref);
    free(kc);
    free(vc);
    free(kn);
    free(vn);
}
