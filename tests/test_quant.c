/* The CPU backend end to end: every method's MSE on unit vectors meets the Lloyd-Max
 * prediction, results are deterministic, and zero / NaN rows have their defined outcome. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check.h"
#include "methods.h"
#include "codebook.h"
#include "counts.h"
#include "data.h"
#include "fp16.h"
#include "reference.h"
#include "driver.h"
#include "qdq_setup.h"

TEST(every_method_meets_lloyd_max_at_d128)
{
    const int d = 128;
    const long N = 8192;
    rb_backend *be = rb_backend_cpu_create();
    be->profile = 1; /* one pass, no timing loop */
    CHECK(be->load_data(be, 20260328, d, N, RB_FP32) == 0, "load_data");
    FOR_EACH_ROTATION_METHOD(m)
        for (int bits = 2; bits <= 4; bits++) {
            setup s;
            CHECK(setup_make(&s, (rb_method)m, d, bits, 20260328) == 0, "setup");
            rb_record rec = {0};
            CHECK(be->run(be, &s.p, 0, &rec) == 0, "run");
            double pred = rb_codebook_mse_under(&s.cb, RB_CODEBOOK_BETA, d);
            CHECK(fabs(rec.m.mse / pred - 1) <= 0.03, "%s b=%d: MSE %.5g vs Lloyd-Max %.5g (%.2f%%)",
                  rb_method_name((rb_method)m), bits, rec.m.mse, pred, 100 * (rec.m.mse / pred - 1));
            /* unit inputs: relative error is d * MSE per vector, and cosine is close to 1 */
            CHECK(fabs(rec.m.rel_err / (d * rec.m.mse) - 1) < 1e-3, "rel_err %.5g vs d*mse %.5g",
                  rec.m.rel_err, d * rec.m.mse);
            CHECK(rec.m.cosine > 1 - rec.m.rel_err && rec.m.cosine < 1, "cosine %.6f", rec.m.cosine);
            free(s.rot);
        }
    be->destroy(be);
}

TEST(fp16_runs_stay_near_fp32)
{
    const int d = 128;
    const long N = 2048;
    rb_backend *be = rb_backend_cpu_create();
    be->profile = 1;
    setup s;
    CHECK(setup_make(&s, method_id("isoquant-full"), d, 3, 5) == 0, "setup");
    rb_record r32 = {0}, r16 = {0};
    CHECK(be->load_data(be, 5, d, N, RB_FP32) == 0 && be->run(be, &s.p, 0, &r32) == 0, "fp32");
    CHECK(be->load_data(be, 5, d, N, RB_FP16) == 0 && be->run(be, &s.p, 0, &r16) == 0, "fp16");
    /* fp16 inputs and outputs: every value is representable in fp16 */
    const float *x = rb_backend_cpu_input(be), *xh = rb_backend_cpu_output(be);
    int off = 0;
    for (long i = 0; i < N * d; i++)
        off += rb_round_f16(x[i]) != x[i] || rb_round_f16(xh[i]) != xh[i];
    CHECK(off == 0, "%d values not on the fp16 grid", off);
    CHECK(fabs(r16.m.mse / r32.m.mse - 1) < 0.01, "fp16 MSE %.5g vs fp32 %.5g", r16.m.mse, r32.m.mse);
    free(s.rot);
    be->destroy(be);
}

TEST(same_seed_same_bits)
{
    const int d = 64;
    const long N = 300;
    float *a = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N));
    float *b = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N));
    char err[128];
    CHECK(rb_data_sphere(11, d, N, RB_FP32, a, err, sizeof err) == 0, "%s", err);
    CHECK(rb_data_sphere(11, d, N, RB_FP32, b, err, sizeof err) == 0, "%s", err);
    CHECK(memcmp(a, b, sizeof(float) * (size_t)N * d) == 0, "inputs differ between two runs");
    CHECK(rb_data_sphere(12, d, N, RB_FP32, b, err, sizeof err) == 0 &&
              memcmp(a, b, sizeof(float) * (size_t)N * d) != 0,
          "another seed gives the same inputs");
    double worst = 0;
    for (long i = 0; i < N; i++) {
        double n = 0;
        for (int j = 0; j < d; j++)
            n += (double)a[i * d + j] * a[i * d + j];
        worst = fmax(worst, fabs(n - 1));
    }
    CHECK(worst < 1e-6, "rows are not unit vectors: |n^2 - 1| = %.3g", worst);
    FOR_EACH_ROTATION_METHOD(m) {
        setup s1, s2;
        setup_make(&s1, (rb_method)m, d, 3, 11);
        setup_make(&s2, (rb_method)m, d, 3, 11);
        long len = rb_param_count((rb_method)m, d);
        CHECK(memcmp(s1.rot, s2.rot, sizeof(float) * (size_t)len) == 0, "%s params differ",
              rb_method_name((rb_method)m));
        float *o1 = malloc(sizeof(float) * (size_t)N * d), *o2 = malloc(sizeof(float) * (size_t)N * d);
        rb_cpu_qdq_rows(&s1.p, a, o1, N, RB_FP32);
        rb_cpu_qdq_rows(&s2.p, a, o2, N, RB_FP32);
        CHECK(memcmp(o1, o2, sizeof(float) * (size_t)N * d) == 0, "%s outputs differ",
              rb_method_name((rb_method)m));
        free(o1); free(o2); free(s1.rot); free(s2.rot);
    }
    free(a); free(b);
}

TEST(zero_rows_give_zero_and_nan_rows_are_reported)
{
    const int d = 32;
    const long N = 4;
    float x[4 * 32], xh[4 * 32];
    for (int j = 0; j < N * d; j++)
        x[j] = (float)sin(0.37 * j);
    for (int j = 0; j < d; j++)
        x[j] = 0.0f;             /* row 0: zero */
    x[1 * d + 5] = NAN;          /* row 1: a NaN */
    x[2 * d + 7] = INFINITY;     /* row 2: an Inf */
    FOR_EACH_ROTATION_METHOD(m) {
        setup s;
        setup_make(&s, (rb_method)m, d, 2, 3);
        rb_cpu_qdq_rows(&s.p, x, xh, N, RB_FP32);
        int zero = 1, nan1 = 1, nan2 = 1, fin3 = 1;
        for (int j = 0; j < d; j++) {
            zero &= xh[j] == 0.0f;
            nan1 &= isnan(xh[d + j]);
            nan2 &= isnan(xh[2 * d + j]);
            fin3 &= isfinite(xh[3 * d + j]);
        }
        const char *name = rb_method_name((rb_method)m);
        CHECK(zero, "%s: zero row does not reconstruct to zero", name);
        CHECK(nan1 && nan2, "%s: non-finite rows must come out all NaN", name);
        CHECK(fin3, "%s: a finite row came out non-finite", name);
        rb_metrics mt;
        rb_metrics_init(&mt, d);
        for (long i = 0; i < N; i++) {
            rb_row_stats rs;
            rb_row_stats_compute(x + i * d, xh + i * d, d, &rs);
            rb_metrics_add(&mt, &rs);
        }
        rb_metrics_finish(&mt);
        CHECK(mt.nonfinite_rows == 2, "%s: %ld non-finite rows reported, want 2", name, mt.nonfinite_rows);
        CHECK(isfinite(mt.mse) && mt.finite_rows == 2, "%s: MSE over the finite rows: %g", name, mt.mse);
        CHECK(mt.nonzero_rows == 1, "%s: zero row has no relative error", name);
        free(s.rot);
    }
}

/* assume_unit_norm: a row of norm exactly 1 (a basis vector) comes out bit for bit as without
 * it (rho = 1, 1 / rho = 1), for every rotation method; a row of norm 1/2 does not (nothing
 * rescales it, so the quantizer sees half the coordinates), and a zero row is quantized rather
 * than passed through. */
TEST(assume_unit_norm_skips_only_the_norm)
{
    const int d = 128, bits = 3;
    rb_codebook cb;
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, bits, &cb) == 0, "codebook");
    float x[128], a[128], b[128], v[256], tmp[256];
    FOR_EACH_ROTATION_METHOD(m) {
        float *rot = malloc(sizeof(float) * (size_t)(rb_param_count(m, d) + 1));
        char err[256];
        if (rb_params_generate(7, m, d, rot, err, sizeof err)) {
            CHECK(0, "%s: %s", rb_method_name(m), err);
            free(rot);
            continue;
        }
        rb_qdq_params p;
        rb_qdq_params_shape(&p, m, d, bits);
        p.rot = rot;
        p.bounds = cb.bounds_f;
        p.centroids = cb.centroids_f;
        int same = 1, half_differs = 0;
        for (int k = 0; k < d; k += 17) {
            memset(x, 0, sizeof x);
            x[k] = 1.0f;
            p.unit_norm = 0;
            rb_qdq_row(&p, x, a, v, tmp);
            p.unit_norm = 1;
            rb_qdq_row(&p, x, b, v, tmp);
            same &= memcmp(a, b, sizeof a) == 0;
            x[k] = 0.5f;
            p.unit_norm = 0;
            rb_qdq_row(&p, x, a, v, tmp);
            p.unit_norm = 1;
            rb_qdq_row(&p, x, b, v, tmp);
            half_differs |= memcmp(a, b, sizeof a) != 0;
        }
        CHECK(same, "%s: unit rows differ with assume_unit_norm", rb_method_name(m));
        CHECK(half_differs, "%s: a row of norm 1/2 came out as if normalized", rb_method_name(m));
        memset(x, 0, sizeof x);
        rb_qdq_row(&p, x, b, v, tmp);
        int nonzero = 0;
        for (int j = 0; j < d; j++)
            nonzero |= b[j] != 0.0f;
        CHECK(nonzero, "%s: a zero row is quantized (3 bits: no zero centroid)", rb_method_name(m));
        free(rot);
    }
}

/* The key travels into every record: JSON and CSV of a CPU run say assume_unit_norm. */
TEST(assume_unit_norm_is_recorded)
{
    const char *cfg = "/tmp/rb_unit_norm_test.json";
    FILE *f = fopen(cfg, "w");
    CHECK(f != NULL, "write %s", cfg);
    if (!f)
        return;
    fputs("{\"name\": \"unitnorm\", \"seed\": 3, \"N\": 64, \"dims\": 64, \"bits\": 2, \"dtypes\": \"fp32\", "
          "\"methods\": [\"identity\", \"planarquant\"], \"assume_unit_norm\": true, "
          "\"output_dir\": \"/tmp/rb_unit_norm_out\"}\n", f);
    fclose(f);
    char err[4096];
    int rc = run_driver("/tmp/rb_unit_norm_test.json --backend cpu", err, sizeof err);
    CHECK(rc == 0, "exit %d: %s", rc, err);
    char *json = NULL, *csv = NULL;
    size_t n;
    FILE *j = fopen("/tmp/rb_unit_norm_out/unitnorm-cpu.json", "r"), *c = fopen("/tmp/rb_unit_norm_out/unitnorm-cpu.csv", "r");
    if (j) {
        json = calloc(1, 1 << 20);
        n = fread(json, 1, (1 << 20) - 1, j);
        (void)n;
        fclose(j);
    }
    if (c) {
        csv = calloc(1, 1 << 20);
        n = fread(csv, 1, (1 << 20) - 1, c);
        (void)n;
        fclose(c);
    }
    int recs = 0;
    for (const char *s = json; s && (s = strstr(s, "\"assume_unit_norm\":\ttrue")); s++)
        recs++;
    CHECK(recs == 3, "%d of the config and its 2 records say \"assume_unit_norm\": true", recs);
    CHECK(csv && strstr(csv, ",assume_unit_norm\n") && strstr(csv, ",1\n"), "CSV column assume_unit_norm");
    free(json);
    free(csv);
    remove(cfg);
}
