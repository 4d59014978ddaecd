/* test_results.c: the derived rates a record's JSON carries (harness/results.c): GB/s and the
 * nominal FMA rate from the median time, % of the FMA roof only when the backend measured one,
 * and the roof read back from the file. */
#include "check.h"
#include "methods.h"
#include "results.h"

#include <string.h>

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1.0;
}

static void record(rb_record *r, double fma_peak)
{
    memset(r, 0, sizeof *r);
    r->method = method_id("rotorquant");
    snprintf(r->variant, sizeof r->variant, "fast");
    r->d = 128;
    r->bits = 3;
    r->N = 1000000;
    r->fma_nominal = 2408;
    r->bytes = 2.0 * r->N * r->d * 2;
    r->t.clock = "cuda-events";
    r->t.median_us = 250.0;
    r->t.fma_peak_per_s = fma_peak;
}

TEST(record_fma_rate_and_roof)
{
    rb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    rb_record r, back;
    record(&r, 3.2e13);
    cJSON *o = rb_record_to_json(&r, &cfg);
    /* 2408 FMA x 1e6 vectors in 250 us = 9.632e12 FMA/s = 30.1 % of 3.2e13 */
    CHECK_NEAR(num(o, "fma_per_s"), 9.632e12, 1.0);
    CHECK_NEAR(num(o, "pct_of_fma_peak"), 30.1, 1e-9);
    CHECK_NEAR(num(o, "gbps"), 2048.0, 1e-9); /* 512e6 bytes / 250 us */
    CHECK(rb_record_from_json(o, &back) == 0, "record reads back");
    CHECK_NEAR(back.t.fma_peak_per_s, 3.2e13, 0.0);
    cJSON_Delete(o);

    record(&r, 0.0); /* CPU backend: no roof measured, so no percentage of one */
    o = rb_record_to_json(&r, &cfg);
    CHECK_NEAR(num(o, "fma_per_s"), 9.632e12, 1.0);
    CHECK(!cJSON_GetObjectItemCaseSensitive(o, "pct_of_fma_peak"), "no pct_of_fma_peak without a roof");
    cJSON_Delete(o);

    record(&r, 3.2e13);
    r.fma_nominal = 0; /* the identity: nothing to rate */
    o = rb_record_to_json(&r, &cfg);
    CHECK(!cJSON_GetObjectItemCaseSensitive(o, "fma_per_s"), "no fma_per_s for zero nominal FMA");
    cJSON_Delete(o);
}

/* Markdown: a GPU run's table has the % of copy column and the paper's Table 2 layout; a CPU
 * run's has neither (wall-clock times of the reference are not kernel times). The route a
 * kernel took is its own field, shown beside the variant and read back from the JSON. */
static void markdown(const char *backend, rb_record *r, char *buf, size_t n)
{
    rb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.baseline = method_id("rotorquant");
    rb_run run = {.cfg = &cfg, .backend = backend, .recs = r, .nrecs = 1};
    FILE *f = tmpfile();
    rb_results_print_markdown(&run, f);
    rb_paper_table_print(&run, r->variant, f);
    rewind(f);
    size_t k = fread(buf, 1, n - 1, f);
    buf[k] = '\0';
    fclose(f);
}

TEST(markdown_gpu_only_columns_and_route)
{
    static char buf[1 << 14];
    rb_record r;
    record(&r, 3.2e13);
    r.t.copy_us = 125;
    markdown("gpu", &r, buf, sizeof buf);
    CHECK(strstr(buf, "% copy BW") && strstr(buf, "| 50.0 |") && strstr(buf, "### Table 2 layout"), "GPU:\n%s", buf);
    snprintf(r.variant, sizeof r.variant, "ref");
    r.t.copy_us = 0;
    markdown("cpu", &r, buf, sizeof buf);
    CHECK(!strstr(buf, "% copy BW") && !strstr(buf, "| 0.0 |") && !strstr(buf, "### Table 2 layout") &&
              strstr(buf, "printed for GPU results only"),
          "CPU:\n%s", buf);

    rb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    rb_record h, back;
    record(&h, 3.2e13);
    snprintf(h.route, sizeof h.route, "cells");
    cJSON *o = rb_record_to_json(&h, &cfg);
    CHECK(rb_record_from_json(o, &back) == 0 && !strcmp(back.variant, "fast") && !strcmp(back.route, "cells"),
          "variant %s route %s", back.variant, back.route);
    cJSON_Delete(o);
    markdown("gpu", &h, buf, sizeof buf);
    CHECK(strstr(buf, "| fast (cells) |") != NULL, "route beside the variant:\n%s", buf);
}

/* Markdown on file inputs: an input column (a file's slices, several inputs) so that rows of
 * different inputs tell apart; the Lloyd-Max prediction only beside unit-norm synthetic
 * inputs ("—" beside a file's rows, which keep their norms); "—" where the speedup is the
 * JSON's null (no baseline time, e.g. HQMQ). A sphere-only run keeps the plain table. */
TEST(markdown_input_column_pred_and_null_speedup)
{
    static char buf[1 << 14];
    static rb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.baseline = method_id("rotorquant");
    cfg.ndists = 2;
    cfg.dists[0].kind = RB_DIST_SPHERE;
    cfg.dists[1].kind = RB_DIST_FILE;
    snprintf(cfg.dists[1].path, sizeof cfg.dists[1].path, "data/kv.npy");
    rb_record r[3];
    for (int i = 0; i < 3; i++) {
        record(&r[i], 0.0);
        snprintf(r[i].variant, sizeof r[i].variant, "ref");
        r[i].pred_mse = 3.4567e-2;
        r[i].m.mse = 1.25;
        r[i].slice = -1;
    }
    r[0].speedup = 1.5;
    r[1].dist = 1;
    r[1].slice = 3;
    r[2].dist = 1;
    r[2].slice = 4; /* speedup 0: null in the JSON */
    rb_run run = {.cfg = &cfg, .backend = "cpu", .recs = r, .nrecs = 3};
    FILE *f = tmpfile();
    rb_results_print_markdown(&run, f);
    rewind(f);
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = '\0';
    fclose(f);
    CHECK(strstr(buf, "| method | variant | input | d |") != NULL, "input column:\n%s", buf);
    CHECK(strstr(buf, "| rotorquant | ref | sphere | 128 | 3 | fp32 | 1000000 | 1.2500e+00 | 3.4567e-02 |") != NULL,
          "the sphere's row keeps LM pred:\n%s", buf);
    CHECK(strstr(buf, "| 1.50 |\n") != NULL, "a measured speedup:\n%s", buf);
    CHECK(strstr(buf, "| rotorquant | ref | kv.npy[3] | 128 | 3 | fp32 | 1000000 | 1.2500e+00 | — |") != NULL &&
              strstr(buf, "| kv.npy[4] |") != NULL,
          "file slices named, no LM pred beside their MSE:\n%s", buf);
    CHECK(strstr(buf, "| — |\n") != NULL && strstr(buf, "0.00 |\n") == NULL, "a null speedup is —:\n%s", buf);

    cfg.ndists = 1; /* the default input alone: no input column */
    run.nrecs = 1;
    f = tmpfile();
    rb_results_print_markdown(&run, f);
    rewind(f);
    k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = '\0';
    fclose(f);
    CHECK(strstr(buf, "| method | variant | d |") != NULL && strstr(buf, "sphere") == NULL, "sphere only:\n%s", buf);
}
