/* The attention-level metrics (kernels/common/attn.h, harness/attention.c): exact values on a
 * hand-computed case, the tie and non-finite rules, and on uniform unit vectors with Gaussian
 * queries the relation theory gives between inner-product error and per-element MSE. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "backend.h"
#include "check.h"
#include "codebook.h"
#include "counts.h"
#include "data.h"
#include "methods.h"

static void metrics(const float *x, const float *xh, int d, long N, const float *q, int nq, int T, rb_attn *out)
{
    const long G = rb_attn_groups(N, T);
    rb_attn_part *parts = calloc((size_t)nq * G, sizeof *parts);
    rb_attn_parts_cpu(x, xh, NULL, NULL, d, N, q, nq, T, parts);
    rb_attn_finish(parts, nq, G, T, out);
    free(parts);
}

TEST(attention_exact_small_case)
{
    /* d = 2, keys (1, 0), (0, 1) quantized to (1, 0), (1, 0); query (1, 0), T = 2 */
    const float x[4] = {1, 0, 0, 1}, xh[4] = {1, 0, 1, 0}, q[2] = {1, 0};
    rb_attn a;
    metrics(x, xh, 2, 2, q, 1, 2, &a);
    const double c = 1 / sqrt(2.0), z = exp(c) + 1, p0 = exp(c) / z, p1 = 1 / z;
    const double kl = p0 * log(p0 / 0.5) + p1 * log(p1 / 0.5);
    CHECK(a.computed && a.nq == 1 && a.T == 2 && a.groups == 1, "shape");
    CHECK(a.ip_err == 1.0 && a.ip_bias == 0.5, "ip_err %.17g (1), bias %.17g (0.5)", a.ip_err, a.ip_bias);
    CHECK(fabs(a.kl - kl) <= 1e-15, "KL %.17g, by hand %.17g", a.kl, kl);
    CHECK(a.top1 == 1.0 && a.top5 == 1.0, "the tie in p^ goes to the lower row: top-1 %g, top-5 (k = 2) %g", a.top1, a.top5);
    CHECK(fabs(a.out_cos - p0 / sqrt(p0 * p0 + p1 * p1)) <= 1e-15, "out cos %.17g", a.out_cos);

    /* the second key is the larger: top-1 disagrees, both of the 2 are in both top-k */
    const float x2[4] = {0.5f, 0, 2, 0}, xh2[4] = {0.5f, 0, 0.25f, 0};
    metrics(x2, xh2, 2, 2, q, 1, 2, &a);
    CHECK(a.top1 == 0.0 && a.top5 == 1.0, "top-1 %g (0), top-5 %g (1)", a.top1, a.top5);
    CHECK(fabs(a.ip_err - (1.75 * 1.75) / (0.25 + 4.0)) <= 1e-15 && fabs(a.ip_bias + 0.875) <= 1e-15,
          "ip_err %.17g, bias %.17g", a.ip_err, a.ip_bias);
}

TEST(attention_groups_and_nonfinite_rows)
{
    CHECK(rb_attn_groups(10, 4) == 2 && rb_attn_groups(3, 4) == 1 && rb_attn_groups(8, 4) == 2, "groups");
    float x[3 * 2] = {1, 0, 0, 1, 1, 1}, xh[3 * 2] = {1, 0, 0, 1, 1, 1}, q[2] = {0.5f, -1};
    rb_attn a, b;
    metrics(x, xh, 2, 2, q, 1, 4, &a); /* N < T: one group of 2 */
    x[4] = NAN;                        /* row 2 takes no part */
    metrics(x, xh, 2, 3, q, 1, 4, &b);
    CHECK(a.ip_err == 0 && a.kl == 0 && a.top1 == 1 && a.top5 == 1 && fabs(a.out_cos - 1) < 1e-15, "exact copy");
    CHECK(b.ip_err == a.ip_err && b.kl == a.kl && b.out_cos == a.out_cos && b.ip_bias == a.ip_bias,
          "a NaN row is left out (cos %.17g vs %.17g)", b.out_cos, a.out_cos);
}

/* With q ~ N(0, I) independent of the rows, E<q, e>^2 = E|e|^2 and E<q, x>^2 = E|x|^2 = 1, so for
 * unit rows the inner-product error estimates sum |e|^2 / sum |x|^2 = d x the per-element MSE
 * (= the relative error): the queries' sampling noise (64 of them, d = 128) and the anisotropy
 * of 8192 rows' errors stay within 3 %, measured at 0.1-0.7 % for these methods. */
TEST(attention_ip_error_matches_mse_on_sphere)
{
    const int d = 128, nq = 64;
    const long N = 8192;
    rb_backend *be = rb_backend_cpu_create();
    be->profile = 1;
    CHECK(be->load_data(be, 11, d, N, RB_FP32) == 0, "load");
    float *q = malloc(sizeof(float) * nq * d);
    char err[256];
    CHECK(rb_data_queries(11, d, nq, q, err, sizeof err) == 0, "%s", err);
    const char *names[] = {"identity", "turboquant-wht", "isoquant-full", "planarquant"};
    for (int k = 0; k < 4; k++) {
        rb_method m = method_id(names[k]);
        rb_codebook cb;
        rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, 3, &cb);
        rb_qdq_params p;
        rb_qdq_params_shape(&p, m, d, 3);
        float *rot = malloc(sizeof(float) * (size_t)(rb_param_count(m, d) + 1));
        rb_params_generate(11, m, d, rot, err, sizeof err);
        p.rot = rot;
        p.bounds = cb.bounds_f;
        p.centroids = cb.centroids_f;
        rb_record r;
        memset(&r, 0, sizeof r);
        CHECK(be->run(be, &p, 0, &r) == 0 && be->attention(be, q, nq, 1024, NULL, NULL, &r.attn) == 0, "%s run", names[k]);
        const double dmse = d * r.m.mse;
        CHECK(fabs(r.attn.ip_err / dmse - 1) <= 0.03, "%s: IP error %.5g, d x MSE %.5g (%+.2f %%)", names[k],
              r.attn.ip_err, dmse, 100 * (r.attn.ip_err / dmse - 1));
        CHECK(fabs(r.attn.ip_bias) <= 0.01 && r.attn.top1 > 0.5 && r.attn.out_cos > 0.95, "%s: bias %.3g, top-1 %.3f",
              names[k], r.attn.ip_bias, r.attn.top1);
        free(rot);
    }
    free(q);
    be->destroy(be);
}

/* Values paired with the keys (distribution.values): the outputs are taken over v and v^, the
 * scores still over the keys. Hand case: the exact small case above with values (0, 1), (2, 0)
 * and v^ = v: o = (2 p1, p0), o^ = (2 p^1, p^0). Then v = -x, v^ = x^ flips the cosine of the
 * unpaired run, and a non-finite value row drops its row as a non-finite key does. */
TEST(attention_values_paired_with_keys)
{
    const float x[4] = {1, 0, 0, 1}, xh[4] = {1, 0, 1, 0}, q[2] = {1, 0}, v[4] = {0, 1, 2, 0};
    rb_attn_part part;
    rb_attn a;
    rb_attn_parts_cpu(x, xh, v, v, 2, 2, q, 1, 2, &part);
    rb_attn_finish(&part, 1, 1, 2, &a);
    const double c = 1 / sqrt(2.0), z = exp(c) + 1, p0 = exp(c) / z, p1 = 1 / z;
    const double o0 = 2 * p1, o1 = p0, h0 = 2 * 0.5, h1 = 0.5;
    const double cs = (o0 * h0 + o1 * h1) / sqrt((o0 * o0 + o1 * o1) * (h0 * h0 + h1 * h1));
    CHECK(fabs(a.out_cos - cs) <= 1e-15, "paired out cos %.17g, by hand %.17g", a.out_cos, cs);
    CHECK(a.ip_err == 1.0 && a.ip_bias == 0.5, "scores stay the keys': ip_err %.17g, bias %.17g", a.ip_err, a.ip_bias);

    enum { d = 16, N = 64, T = 32, nq = 3 };
    float xs[N * d], xq[N * d], vn[N * d], qs[nq * d];
    for (int i = 0; i < N * d; i++) {
        xs[i] = sinf(0.37f * i) + 0.1f * cosf(1.7f * i);
        xq[i] = roundf(xs[i] * 4) / 4;
        vn[i] = -xs[i];
    }
    for (int i = 0; i < nq * d; i++)
        qs[i] = cosf(0.91f * i);
    rb_attn_part pu[nq * 2], pp[nq * 2];
    rb_attn u, p;
    rb_attn_parts_cpu(xs, xq, NULL, NULL, d, N, qs, nq, T, pu);
    rb_attn_finish(pu, nq, 2, T, &u);
    rb_attn_parts_cpu(xs, xq, vn, xq, d, N, qs, nq, T, pp);
    rb_attn_finish(pp, nq, 2, T, &p);
    CHECK(fabs(p.out_cos + u.out_cos) <= 1e-12 && u.out_cos > 0.9, "v = -x, v^ = x^: cos %.15g, unpaired %.15g", p.out_cos,
          u.out_cos);
    CHECK(p.kl == u.kl && p.top1 == u.top1 && p.ip_err == u.ip_err, "the score metrics do not depend on the values");
    vn[5 * d + 3] = NAN; /* row 5 drops out: one fewer row in the inner-product sums */
    rb_attn_parts_cpu(xs, xq, vn, xq, d, N, qs, nq, T, pp);
    CHECK(pp[0].rows == pu[0].rows - 1 && pp[1].rows == pu[1].rows, "a non-finite value row: rows %g of %g", pp[0].rows,
          pu[0].rows);
}
