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
#include "rb_kernels.h"
#include "reference.h"

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
    CHECK(rb_agree_elem(RB_FP32, 35.7002602, 35.7002716, 40.0) && !rb_agree_elem(RB_FP32, 35.7002602, 35.7002716, 1.0) &&
              !rb_agree_elem(RB_FP32, 35.70, 35.71, 40.0),
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
