/* The agreement rule (harness/agree.h) on hand-made rows: what agrees, what is a flip at a tie,
 * what is a disagreement. The in-run check and `make test-gpu` both use it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agree.h"
#include "check.h"
#include "codebook.h"
#include "counts.h"
#include "fp16.h"
#include "methods.h"
#include "data.h"
#include "driver.h"
#include "method_hooks.h"
#include "rb_kernels.h"
#include "reference.h"
#include "scalar_quant.h"
#include "tensor_file.h"
#include "wht.h"

/* identity at d = 4, 2 bits: the reference of x, and a copy to perturb as the "GPU" output */
typedef struct {
    rb_qdq_params p;
    rb_codebook cb;
    float x[2 * 4], ref[2 * 4], gpu[2 * 4];
} rows2;

static void make(rows2 *r, int bits, rb_dtype dt)
{
    memset(r, 0, sizeof *r);
    rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 4, bits, &r->cb);
    rb_qdq_params_shape(&r->p, method_id("identity"), 4, bits);
    r->p.bounds = r->cb.bounds_f;
    r->p.centroids = r->cb.centroids_f;
    const float x[8] = {0.9f, -0.3f, 0.2f, 0.25f, -0.1f, 0.7f, 0.45f, -0.5f};
    memcpy(r->x, x, sizeof x);
    rb_cpu_qdq_rows(&r->p, r->x, r->ref, 2, dt);
    memcpy(r->gpu, r->ref, sizeof r->ref);
}

static int agrees(rows2 *r, rb_dtype dt, rb_agree_stats *st)
{
    rb_agree_init(st);
    rb_agree_rows(&r->p, RB_VARIANT_FAST, dt, r->x, r->ref, r->gpu, 2, st);
    return rb_agree_ok(st);
}

TEST(agree_exact_and_within_tolerance)
{
    rows2 r;
    rb_agree_stats st;
    make(&r, 2, RB_FP32);
    CHECK(agrees(&r, RB_FP32, &st) && st.rows == 2 && st.flips == 0 && st.max_abs == 0, "exact copy");
    r.gpu[1] += 9e-6f;
    CHECK(agrees(&r, RB_FP32, &st) && st.max_abs > 8e-6, "fp32 9e-6 off agrees (max %.3g)", st.max_abs);
    r.gpu[1] += 2e-5f;
    CHECK(!agrees(&r, RB_FP32, &st) && st.bad_rows == 1 && st.first_row == 0 && st.first_col == 1,
          "fp32 3e-5 off disagrees at row 0 col 1 (row %ld col %d)", st.first_row, st.first_col);

    make(&r, 2, RB_FP16);
    float v = r.ref[5], up = rb_f16_to_f32((uint16_t)(rb_f32_to_f16(v) + 1));
    r.gpu[5] = up; /* the next fp16 value: 1 ulp */
    CHECK(agrees(&r, RB_FP16, &st), "fp16 1 ulp off agrees (%.9g vs %.9g)", up, v);
    r.gpu[5] = rb_f16_to_f32((uint16_t)(rb_f32_to_f16(v) + 2));
    CHECK(!agrees(&r, RB_FP16, &st) && st.first_row == 1, "fp16 2 ulps off disagrees");
    CHECK(rb_f16_ulp(1.0) == ldexp(1.0, -10) && rb_f16_ulp(1e-6) == ldexp(1.0, -24), "fp16 ulp");
    /* fp32: the tolerance scales with the row's norm (rows of a file keep theirs) */
    const float x40[4] = {40, 0, 0, 0}, x1[4] = {1, 0, 0, 0};
    rb_agree_tol t40 = rb_agree_row_tol(&r.p, RB_FP32, x40, r.ref), t1 = rb_agree_row_tol(&r.p, RB_FP32, x1, r.ref);
    CHECK(rb_agree_elem(&t40, 35.7002602, 35.7002716) && !rb_agree_elem(&t1, 35.7002602, 35.7002716) &&
              !rb_agree_elem(&t40, 35.70, 35.71),
          "fp32 tolerance 1e-5 x max(1, |x|)");
}

TEST(agree_special_rows)
{
    rows2 r;
    rb_agree_stats st;
    make(&r, 2, RB_FP32);
    r.gpu[6] = NAN; /* an element the kernel left unwritten */
    CHECK(!agrees(&r, RB_FP32, &st) && st.unwritten == 1 && st.bad_rows == 1, "unwritten element");

    make(&r, 2, RB_FP32);
    r.x[4] = NAN; /* a non-finite input row: all NaN out */
    rb_cpu_qdq_rows(&r.p, r.x, r.ref, 2, RB_FP32);
    memcpy(r.gpu, r.ref, sizeof r.ref);
    CHECK(agrees(&r, RB_FP32, &st) && st.nan_rows == 1, "NaN row, all NaN");
    r.gpu[7] = 0.0f;
    CHECK(!agrees(&r, RB_FP32, &st), "NaN row with a finite output element");

    make(&r, 2, RB_FP32);
    memset(r.x, 0, 4 * sizeof(float)); /* a zero row: all zero out */
    rb_cpu_qdq_rows(&r.p, r.x, r.ref, 2, RB_FP32);
    memcpy(r.gpu, r.ref, sizeof r.ref);
    CHECK(agrees(&r, RB_FP32, &st) && st.zero_rows == 1, "zero row, all zero");
    r.gpu[2] = 1e-7f;
    CHECK(!agrees(&r, RB_FP32, &st), "zero row with a non-zero output, even within 1e-5");
}

/* A coordinate on a quantizer boundary may legitimately land on either side: a flip, within the
 * budget of 1 % of the rows (at least 1); the same difference away from a boundary is not. */
TEST(agree_boundary_flips_and_budget)
{
    rows2 r;
    rb_agree_stats st;
    make(&r, 1, RB_FP32); /* 1 bit: the boundary is 0 */
    CHECK(r.p.nbounds == 1 && r.cb.bounds_f[0] == 0.0f, "1-bit boundary at 0");
    r.x[0] = 1e-7f; /* y_0 within 1e-5 of the boundary */
    rb_cpu_qdq_rows(&r.p, r.x, r.ref, 2, RB_FP32);
    memcpy(r.gpu, r.ref, sizeof r.ref);
    r.gpu[0] = -r.ref[0]; /* the other cell */
    CHECK(agrees(&r, RB_FP32, &st) && st.flips == 1 && st.bad_rows == 0, "one flip in 2 rows: within budget");
    r.x[4] = -2e-7f; /* row 1 at the boundary too, and flipped */
    rb_cpu_qdq_rows(&r.p, r.x, r.ref, 2, RB_FP32);
    memcpy(r.gpu, r.ref, sizeof r.ref);
    r.gpu[0] = -r.ref[0];
    r.gpu[4] = -r.ref[4];
    CHECK(!agrees(&r, RB_FP32, &st) && st.flips == 2 && st.bad_rows == 0, "two flips in 2 rows: over budget");
    char why[400];
    rb_agree_describe(&st, why, sizeof why);
    CHECK(strstr(why, "more than the 1 allowed") != NULL, "%s", why);

    make(&r, 1, RB_FP32);
    r.gpu[0] = -r.ref[0]; /* y_0 = 0.9 / |x|: far from the boundary */
    CHECK(!agrees(&r, RB_FP32, &st) && st.flips == 0 && st.bad_rows == 1, "a flip far from a boundary");
    rb_agree_describe(&st, why, sizeof why);
    CHECK(strstr(why, "not at a tie") != NULL && strstr(why, "row 0 col 0") != NULL, "%s", why);
}

/* A lower-precision fast route (method.h fast_ybound: TurboQuant-dense on the tensor cores at
 * d = 128): an output within 2 ybound |x| of the reference agrees on the fast variant and not on
 * the paper variant (which has no such bound); beyond it, a row agrees only as a flip when some
 * reference y lies within ybound of a boundary, and such flips are not budgeted. */
TEST(agree_lowprec_route)
{
    const int d = 128, bits = 3;
    const rb_method m = method_id("turboquant-dense");
    rb_codebook cb;
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, bits, &cb) == 0, "codebook");
    rb_qdq_params p;
    rb_qdq_params_shape(&p, m, d, bits);
    float *rot = malloc(sizeof(float) * (size_t)(d * d));
    char err[256];
    CHECK(rb_params_generate(11, m, d, rot, err, sizeof err) == 0, "%s", err);
    p.rot = rot;
    p.bounds = cb.bounds_f;
    p.centroids = cb.centroids_f;
    const float yb = rb_method_get(m)->fast_ybound(&p);
    CHECK(yb > 5e-4f && yb < 2e-3f, "ybound(128) = %g, about 2^-10", yb);
    p.unit_norm = 1;
    CHECK(rb_method_get(m)->fast_ybound(&p) == 0.0f, "no bound under assume_unit_norm (the fp32 kernel runs)");
    p.unit_norm = 0;
    enum { N = 64 };
    float *x = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N)), *ref = malloc(sizeof(float) * N * d),
          *g = malloc(sizeof(float) * N * d);
    CHECK(rb_data_sphere(3, d, N, RB_FP32, x, err, sizeof err) == 0, "%s", err);
    for (long i = 0; i < (long)N * d; i++)
        x[i] *= 4.0f; /* rows of norm 4: the bound scales with |x| */
    rb_cpu_qdq_rows(&p, x, ref, N, RB_FP32);
    for (long i = 0; i < (long)N * d; i++)
        g[i] = ref[i] + ((i & 1) ? 1.0f : -1.0f) * 1.5f * yb * 4.0f;
    rb_agree_stats st;
    rb_agree_init(&st);
    rb_agree_rows(&p, RB_VARIANT_FAST, RB_FP32, x, ref, g, N, &st);
    CHECK(rb_agree_ok(&st) && st.bad_rows == 0 && st.lowprec_flips == 0, "within 2 ybound |x|: %ld bad rows", st.bad_rows);
    rb_agree_init(&st);
    rb_agree_rows(&p, RB_VARIANT_PAPER, RB_FP32, x, ref, g, N, &st);
    CHECK(!rb_agree_ok(&st), "the paper variant has no such tolerance");
    /* one coordinate of every row far off: agrees only in the rows the bound's ties explain */
    memcpy(g, ref, sizeof(float) * N * d);
    for (int i = 0; i < N; i++)
        g[(long)i * d + 5] += 0.1f;
    rb_agree_init(&st);
    rb_agree_rows(&p, RB_VARIANT_FAST, RB_FP32, x, ref, g, N, &st);
    CHECK(st.lowprec_flips + st.bad_rows == N && st.flips == 0, "%ld explained + %ld bad of %d rows", st.lowprec_flips,
          st.bad_rows, N);
    CHECK(st.lowprec_flips > N / 2, "most rows sit within ybound of a boundary somewhere (%ld of %d)", st.lowprec_flips, N);
    CHECK(rb_agree_ok(&st) == (st.bad_rows == 0), "explained flips are not budgeted");
    free(x);
    free(ref);
    free(g);
    free(rot);
}

/* Norms 1..100, log-spaced over the rows; x rounded to fp16 as fp16 runs store it. */
static void large_norm_rows(int d, long N, float *x)
{
    char err[256];
    if (rb_data_sphere(29, d, N, RB_FP32, x, err, sizeof err))
        abort();
    for (long i = 0; i < N; i++) {
        const float rho = (float)pow(100.0, (double)i / (double)(N - 1));
        for (int j = 0; j < d; j++)
            x[i * d + j] = rb_round_f16(x[i * d + j] * rho);
    }
}

/* The case: a real model's K (norm 15), fp16, TurboQuant-WHT, 2 bits. A coordinate the
 * CPU's order cancels to 0 comes out 3 subnormal ulps (1.79e-7) from the GPU: within the rule
 * (1 ulp alone refused it). A real bug stays a disagreement at norm 15: 1e-3 where the CPU
 * has 0, or 2 ulps on a row's largest element. */
TEST(agree_fp16_large_norm_row)
{
    const int d = 128, bits = 2;
    const rb_method m = method_id("turboquant-wht");
    rb_codebook cb;
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, bits, &cb) == 0, "codebook");
    rb_qdq_params p;
    rb_qdq_params_shape(&p, m, d, bits);
    float rot[128];
    char err[256];
    CHECK(rb_params_generate(11, m, d, rot, err, sizeof err) == 0, "%s", err);
    p.rot = rot;
    p.bounds = cb.bounds_f;
    p.centroids = cb.centroids_f;
    enum { N = 16 };
    float *x = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N)), ref[N * 128], g[N * 128];
    CHECK(rb_data_sphere(5, d, N, RB_FP32, x, err, sizeof err) == 0, "%s", err);
    for (long i = 0; i < (long)N * d; i++)
        x[i] = rb_round_f16(15.0f * x[i]);
    rb_cpu_qdq_rows(&p, x, ref, N, RB_FP16);
    int row = -1; /* a row with no coordinate near a cell edge: no flip can explain it */
    for (int i = 0; i < N && row < 0; i++)
        if (!rb_agree_near_boundary(&p, RB_VARIANT_FAST, RB_FP16, x + i * d, ref + i * d, ref + i * d))
            row = i;
    CHECK(row >= 0, "a row away from every cell edge");
    if (row < 0)
        row = 0;
    CHECK(rb_agree_depth(&p) == 7, "TurboQuant-WHT's depth at d = 128 is log2 d = 7, not %d", rb_agree_depth(&p));
    float *r = ref + row * d;
    r[29] = 0.0f; /* the CPU's order cancelled this coordinate */
    rb_agree_stats st;
    memcpy(g, ref, sizeof g);
    g[row * d + 29] = 1.78813934e-07f;
    CHECK(1.78813934e-07 > rb_f16_ulp(1.78813934e-07), "1 fp16 ulp alone refuses 1.79e-7 against 0");
    rb_agree_init(&st);
    rb_agree_rows(&p, RB_VARIANT_FAST, RB_FP16, x, ref, g, N, &st);
    CHECK(rb_agree_ok(&st) && st.bad_rows == 0 && st.flips == 0, "the residue at norm 15 agrees: %ld bad rows", st.bad_rows);

    g[row * d + 29] = 1e-3f;
    rb_agree_init(&st);
    rb_agree_rows(&p, RB_VARIANT_FAST, RB_FP16, x, ref, g, N, &st);
    char why[400];
    rb_agree_describe(&st, why, sizeof why);
    CHECK(!rb_agree_ok(&st) && st.bad_rows == 1 && st.first_row == row && st.first_col == 29 &&
              strstr(why, "not at a tie") != NULL, "1e-3 against 0 at norm 15 disagrees: %s", why);

    memcpy(g, ref, sizeof g);
    int big = 0;
    for (int j = 1; j < d; j++)
        if (fabsf(r[j]) > fabsf(r[big]))
            big = j;
    uint16_t h = rb_f32_to_f16(r[big]);
    g[row * d + big] = rb_f16_to_f32((uint16_t)(h + 2)); /* away from zero in magnitude */
    rb_agree_init(&st);
    rb_agree_rows(&p, RB_VARIANT_FAST, RB_FP16, x, ref, g, N, &st);
    CHECK(!rb_agree_ok(&st) && st.bad_rows == 1 && st.first_col == big, "2 fp16 ulps on %.6g at norm 15 disagree",
          (double)r[big]);
    free(x);
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

/* Every method, every bit width 1..4 (HQMQ: the paper's operating points), rows of norms 1..100:
 * the fp32 reference with a GPU-order summation residue added (each element moved by up to
 * 2 (D + 2) u |ref row|, one coordinate per row set to the CPU's cancelled 0 and the GPU's
 * residue, every output scaled by a norm off by up to d u), then rounded to fp16, agrees with
 * the fp16 reference, with no flips. The residue is what 1 ulp alone refused at the larger
 * norms; 2 fp16 ulps (of the larger) on each row's largest element still disagree. */
TEST(agree_fp16_residue_every_method_norms_1_to_100)
{
    const int d = 128;
    enum { N = 48 };
    const char *json = "{\"name\": \"t\", \"seed\": 1, \"N\": 48, \"dims\": [128], \"bits\": [1, 2, 3, 4], \"dtypes\": [\"fp16\"], "
                       "\"methods\": \"all\"}";
    rb_config cfg;
    char err[256];
    if (rb_config_parse("residue.json", json, strlen(json), &cfg, err, sizeof err)) {
        CHECK(0, "%s", err);
        return;
    }
    rb_codebook cbs[4];
    for (int k = 0; k < 4; k++)
        CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, cfg.bits[k], &cbs[k]) == 0, "codebook");
    float *x = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N));
    float *r32 = malloc(sizeof(float) * N * d), *ref = malloc(sizeof(float) * N * d), *g = malloc(sizeof(float) * N * d);
    large_norm_rows(d, N, x);
    const double u = ldexp(1.0, -24);
    uint64_t seed = 99;
    long settings = 0, refused_by_1ulp = 0;
    for (rb_method m = 0; m < rb_methods_count(); m++) {
        const rb_method_hooks *h = rb_method_hooks_of(m);
        float *rot = malloc(sizeof(float) * (size_t)(rb_param_count(m, d) + 1));
        CHECK(rb_params_generate(7, m, d, rot, err, sizeof err) == 0, "%s", err);
        for (int i = 0; i < h->nsettings(&cfg); i++) {
            rb_qdq_params p;
            rb_record rec = {0};
            rec.method = m;
            h->setting(&cfg, i, d, cbs, &p, &rec);
            p.rot = rot;
            const int D = rb_agree_depth(&p);
            rb_cpu_qdq_rows(&p, x, r32, N, RB_FP32);
            for (long k = 0; k < (long)N * d; k++)
                ref[k] = rb_round_f16(r32[k]);
            int tight = 1;
            for (long row = 0; row < N; row++) {
                float *a = r32 + row * d, *b = ref + row * d, *o = g + row * d;
                int zc = 0; /* the smallest coordinate: where orders of summation cancel */
                for (int j = 1; j < d; j++)
                    if (fabsf(a[j]) < fabsf(a[zc]))
                        zc = j;
                b[zc] = 0.0f; /* the CPU's order cancelled it; the GPU's leaves a residue */
                const double S = rb_agree_row_norm(b, d) / (1.0 + ldexp(1.0, -10)); /* <= |r32 row| */
                const double B = 2.0 * (D + 2) * u * S;
                const double scale = 1.0 + (double)d * u * ((double)(lcg(&seed) % 2001) / 1000.0 - 1.0);
                for (int j = 0; j < d; j++) {
                    const double e = B * ((double)(lcg(&seed) % 2001) / 1000.0 - 1.0);
                    o[j] = rb_round_f16((float)((double)a[j] * scale + e));
                }
                o[zc] = rb_round_f16((float)(B * (0.5 + (double)(lcg(&seed) % 1001) / 2000.0)));
                for (int j = 0; j < d; j++)
                    refused_by_1ulp += fabs((double)o[j] - b[j]) > fmax(rb_f16_ulp(o[j]), rb_f16_ulp(b[j]));
                int big = 0;
                for (int j = 1; j < d; j++)
                    if (fabsf(b[j]) > fabsf(b[big]))
                        big = j;
                const rb_agree_tol t = rb_agree_row_tol(&p, RB_FP16, x + row * d, b);
                /* 2 ulps of the larger of the two, even across a binade */
                const double two = b[big] + copysign(2.0 * rb_f16_ulp(2.0 * b[big]), b[big]);
                if (rb_agree_elem(&t, two, b[big]) && tight) {
                    fprintf(stderr, "    row %ld: %.9g against %.9g agrees (depth %d, S %.4g)\n", row, two, (double)b[big],
                            D, S);
                    tight = 0;
                }
            }
            rb_agree_stats st;
            rb_agree_init(&st);
            rb_agree_rows(&p, RB_VARIANT_FAST, RB_FP16, x, ref, g, N, &st);
            char why[400];
            rb_agree_describe(&st, why, sizeof why);
            CHECK(st.bad_rows == 0 && st.flips == 0 && st.rows == N, "%s setting %d (bits %d, depth %d): %s",
                  rb_method_name(m), i, p.bits, D, why);
            CHECK(tight, "%s setting %d: 2 fp16 ulps on a row's largest element must disagree", rb_method_name(m), i);
            settings++;
        }
        free(rot);
    }
    CHECK(settings >= 4 * 7 + 5, "%ld settings: every rotation method at 4 bit widths, HQMQ at 5 points", settings);
    CHECK(refused_by_1ulp >= settings * N / 2, "the simulated residue is what 1 ulp alone refuses (%ld elements)",
          refused_by_1ulp);
    free(x);
    free(r32);
    free(ref);
    free(g);
}

/* configs/largenorm.json, the GPU's agreement test on rows of large norm (tests/gpu/test_backend.c):
 * its file holds 256 rows of d = 128 with norms 1..100, it names every built-in method, and it
 * runs on the CPU backend: every setting, both dtypes. */
TEST(agree_largenorm_config_runs_on_cpu)
{
    rb_config cfg;
    char err[4096];
    if (rb_config_load("configs/largenorm.json", &cfg, err, sizeof err)) {
        CHECK(0, "%s", err);
        return;
    }
    for (rb_method m = 0; m < rb_methods_builtin_count(); m++) { /* not the test-registered */
        int in = 0;
        for (int k = 0; k < cfg.nmethods; k++)
            in |= cfg.methods[k] == m;
        CHECK(in, "configs/largenorm.json lacks %s", rb_method_name(m));
    }
    rb_tensor_file t;
    CHECK(rb_tensor_open("tests/data/largenorm.npy", NULL, &t, err, sizeof err) == 0, "%s", err);
    CHECK(t.h.rows == 256 && t.h.d == 128, "largenorm.npy: %ld rows of d = %ld", t.h.rows, t.h.d);
    double lo = INFINITY, hi = 0;
    float row[128];
    for (long i = 0; i < t.h.rows && t.h.d == 128; i++) {
        rb_tensor_row(&t, i, row);
        const double n = rb_agree_row_norm(row, 128);
        lo = fmin(lo, n);
        hi = fmax(hi, n);
    }
    rb_tensor_close(&t);
    CHECK(fabs(lo - 1) < 1e-5 && fabs(hi - 100) < 1e-3, "row norms %.6g .. %.6g, expected 1 .. 100", lo, hi);
    int settings = 0;
    for (int k = 0; k < cfg.nmethods; k++)
        settings += rb_method_hooks_of(cfg.methods[k])->nsettings(&cfg) * cfg.ndtypes;
    static char log[1 << 16]; /* a progress line per setting */
    const int rc = run_driver("configs/largenorm.json --backend cpu --profile", log, sizeof log);
    char want[64];
    snprintf(want, sizeof want, "%d kernels run", settings);
    CHECK(rc == 0 && strstr(log, want) != NULL, "largenorm on the CPU: exit %d, expected '%s':\n%.1500s", rc, want,
          log + (strlen(log) > 1500 ? strlen(log) - 1500 : 0));
}

/* TurboQuant-WHT as another order of summation computes it: the squares summed pairwise, the
 * butterfly stages widest first, the 1/sqrt(d) scale before the inverse transform. Same math
 * as the reference, other roundings, like a GPU kernel's. */
static void wht_other_order(const rb_qdq_params *p, const float *x, float *out)
{
    const int d = p->d;
    float v[128], s[128];
    for (int j = 0; j < d; j++)
        s[j] = x[j] * x[j];
    for (int w = d / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++)
            s[j] += s[j + w];
    const float rho = sqrtf(s[0]), inv = rb_inv_norm(rho), sc = 1.0f / sqrtf((float)d);
    for (int j = 0; j < d; j++)
        v[j] = x[j] * inv * p->rot[j];
    for (int h = d / 2; h >= 1; h /= 2)
        for (int i = 0; i < d; i += 2 * h)
            for (int j = i; j < i + h; j++)
                rb_butterfly(&v[j], &v[j + h]);
    for (int j = 0; j < d; j++)
        v[j] = rb_sq_qdq(v[j] * sc, p->bounds, p->centroids, p->nbounds) * sc;
    for (int h = d / 2; h >= 1; h /= 2)
        for (int i = 0; i < d; i += 2 * h)
            for (int j = i; j < i + h; j++)
                rb_butterfly(&v[j], &v[j + h]);
    for (int j = 0; j < d; j++)
        out[j] = rb_round_f16(rho * (v[j] * p->rot[j]));
}

/* The method in another order of summation, on the committed rows of norms 1..100
 * (tests/data/largenorm.npy), fp16, 1..4 bits: the rule accepts every row but flips at ties
 * (within the budget), where 1 fp16 ulp alone refuses rows at the larger norms. */
TEST(agree_fp16_wht_other_order_largenorm_rows)
{
    const int d = 128;
    const rb_method m = method_id("turboquant-wht");
    rb_tensor_file t;
    char err[256];
    if (rb_tensor_open("tests/data/largenorm.npy", NULL, &t, err, sizeof err)) {
        CHECK(0, "%s", err);
        return;
    }
    const long N = t.h.rows;
    float *x = malloc(sizeof(float) * (size_t)N * d), *ref = malloc(sizeof(float) * (size_t)N * d),
          *g = malloc(sizeof(float) * (size_t)N * d), rot[128];
    for (long i = 0; i < N; i++) {
        rb_tensor_row(&t, i, x + i * d);
        for (int j = 0; j < d; j++)
            x[i * d + j] = rb_round_f16(x[i * d + j]); /* as an fp16 run stores them */
    }
    rb_tensor_close(&t);
    CHECK(rb_params_generate(20261206, m, d, rot, err, sizeof err) == 0, "%s", err);
    long old_rule_rows = 0;
    for (int bits = 1; bits <= 4; bits++) {
        rb_codebook cb;
        CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, bits, &cb) == 0, "codebook");
        rb_qdq_params p;
        rb_qdq_params_shape(&p, m, d, bits);
        p.rot = rot;
        p.bounds = cb.bounds_f;
        p.centroids = cb.centroids_f;
        rb_cpu_qdq_rows(&p, x, ref, N, RB_FP16);
        for (long i = 0; i < N; i++)
            wht_other_order(&p, x + i * d, g + i * d);
        for (long i = 0; i < N; i++) {
            int off = 0;
            for (int j = 0; j < d; j++)
                off |= fabs((double)g[i * d + j] - ref[i * d + j]) >
                       fmax(rb_f16_ulp(g[i * d + j]), rb_f16_ulp(ref[i * d + j]));
            old_rule_rows += off;
        }
        rb_agree_stats st;
        rb_agree_init(&st);
        rb_agree_rows(&p, RB_VARIANT_FAST, RB_FP16, x, ref, g, N, &st);
        char why[400];
        rb_agree_describe(&st, why, sizeof why);
        CHECK(rb_agree_ok(&st) && st.bad_rows == 0, "%d bits: %s", bits, why);
    }
    CHECK(old_rule_rows > 0, "the other order differs by more than 1 fp16 ulp somewhere (%ld rows)", old_rule_rows);
    free(x);
    free(ref);
    free(g);
}
