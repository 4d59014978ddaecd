/* test_record_fields.c: the table of record fields (harness/record_fields.h) round-trips. Every
 * field the reader reads comes back from the JSON with the value it was written with; every CSV
 * column stands where the table puts it, under its name, and shows the value the JSON holds
 * (through the column's view: x 100, kHz to MHz). The table drives the writer and the reader, so
 * a field added to it is covered here without editing this file. */
#include "check.h"
#include "methods.h"
#include "record_fields.h"
#include "results.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A value per type for field number i: distinct per field, and making every field's "when" hold
 * (positive numbers, a named stop reason, a route). */
#define SET_NUM(v, i) v = 3 + (i)
#define SET_NUMNULL(v, i) v = 3 + (i) + 0.25
#define SET_POSNULL SET_NUMNULL
#define SET_FLAG(v, i) v = 1
#define SET_TEXT(v, i) snprintf(v, sizeof v, "t%d", i)
#define SET_NAME(v, i) v = "noise"
#define SET_METHOD(v, i) v = method_id("rotorquant")
#define SET_PATH(v, i) v = RB_PATH_DECODE
#define SET_DTYPE(v, i) v = RB_FP16
#define SET_KVNORM(v, i) v = RB_KV_NORM_FP32

#define SAME_NUM(a, b) ((a) == (b))
#define SAME_NUMNULL SAME_NUM
#define SAME_POSNULL SAME_NUM
#define SAME_FLAG SAME_NUM
#define SAME_TEXT(a, b) (!strcmp(a, b))
#define SAME_NAME SAME_TEXT
#define SAME_METHOD SAME_NUM
#define SAME_PATH SAME_NUM
#define SAME_DTYPE SAME_NUM
#define SAME_KVNORM SAME_NUM

/* Only the fields the reader reads (io REQ or RW) are set and checked. */
#define SET_IO_REQ(type, v, i) SET_##type(v, i);
#define SET_IO_RW SET_IO_REQ
#define SET_IO_W(type, v, i)
#define SET_IO_EXT SET_IO_W
#define SET_IO_CALL SET_IO_W
#define SET_IO_NOJSON SET_IO_W
/* val names r: evaluated on the record written, then on the record read */
#define WANT_NUM double
#define WANT_NUMNULL double
#define WANT_POSNULL double
#define WANT_FLAG double
#define WANT_TEXT const char *
#define WANT_NAME const char *
#define WANT_METHOD double
#define WANT_PATH double
#define WANT_DTYPE double
#define WANT_KVNORM double
#define CHECK_IO_REQ(type, key, v)                                        \
    {                                                                     \
        const rb_record *r = &rec;                                        \
        WANT_##type want_ = v;                                            \
        r = &got;                                                         \
        CHECK(SAME_##type(v, want_), "%s does not read back", key);      \
    }
#define CHECK_IO_RW CHECK_IO_REQ
#define CHECK_IO_W(type, key, v)
#define CHECK_IO_EXT CHECK_IO_W
#define CHECK_IO_CALL CHECK_IO_W
#define CHECK_IO_NOJSON CHECK_IO_W

static void fill(rb_record *r, int kva)
{
    memset(r, 0, sizeof *r);
    r->slice = -1; /* the whole input, no file slice */
    r->attn.computed = 1;
    r->check_rows = 1;
    r->kva.on = kva;
    int i = 0;
#define X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp) SET_IO_##io(type, val, i++)
    RB_RECORD_FIELDS(X)
#undef X
    r->kva.B = 2, r->kva.H = 8, r->kva.kv_heads = 4, r->kva.split = 3, r->kva.T = 4096; /* written, not read */
    r->kva.cache_bytes = 1e6, r->kva.bytes_per_token = 12.5, r->kva.max_rel_err = 1.5e-3;
    r->speedup = 1.75;
}

TEST(record_fields_every_read_field_round_trips_json)
{
    rb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ndists = 1;
    rb_record rec, got;
    const rb_record *r = &rec;
    fill(&rec, 0);
    cJSON *o = rb_record_to_json(r, &cfg);
    CHECK(rb_record_from_json(o, &got) == 0, "the record reads back");
#define X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp) CHECK_IO_##io(type, key, val)
    RB_RECORD_FIELDS(X)
#undef X
    /* every written field stands in its group under its key */
#define X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp)                                                  \
    if (strcmp(#io, "EXT") && strcmp(#io, "CALL") && strcmp(#io, "NOJSON") && (when)) {                              \
        const cJSON *g_ = RB_G_##grp == RB_G_TOP ? o : cJSON_GetObjectItemCaseSensitive(o, rb_record_group_key(RB_G_##grp)); \
        CHECK(cJSON_GetObjectItemCaseSensitive(g_, key) != NULL, "%s.%s is not written", #grp, key);                  \
    }
    RB_RECORD_FIELDS(X)
#undef X
    cJSON_Delete(o);

    /* a required field absent: the record is refused */
    o = rb_record_to_json(r, &cfg);
#define X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp)                                       \
    if (!strcmp(#io, "REQ")) {                                                                             \
        cJSON *c_ = cJSON_Duplicate(o, 1);                                                                 \
        cJSON_DeleteItemFromObjectCaseSensitive(c_, key);                                                  \
        CHECK(rb_record_from_json(c_, &got) == -1, "a record without %s is read", key);                    \
        cJSON_Delete(c_);                                                                                  \
    }
    RB_RECORD_FIELDS(X)
#undef X
    cJSON_Delete(o);
}

#define RB_XF_none(r, v) (v) /* no column: never shown */

/* The digits a CSV format keeps: %.9g 1e-8 relative, %.0f 0.5 absolute, %d exact. */
static int csv_agrees(const char *fmt, double cell, double want)
{
    if (isnan(want))
        return isnan(cell);
    const char *g = strstr(fmt, "g");
    if (g && fmt[1] == '.')
        return fabs(cell - want) <= pow(10, 1 - atoi(fmt + 2)) * fabs(want);
    if (!strcmp(fmt, "%.0f"))
        return fabs(cell - want) <= 0.5;
    return cell == want;
}

/* The CSV of one record: its header and its row, split at the commas. */
static int csv_of(const rb_run *run, char *text, size_t n, char **head, char **row, int max)
{
    char path[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/rb_fields_%d.csv", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    if (rb_results_write_csv(run, path))
        return -1;
    FILE *f = fopen(path, "r");
    size_t len = f ? fread(text, 1, n - 1, f) : 0;
    if (f)
        fclose(f);
    remove(path);
    text[len] = '\0';
    char *nl = strchr(text, '\n');
    if (!nl)
        return -1;
    *nl = '\0';
    int nh = 0, nr = 0;
    for (char *s = text, *t; s && nh < max; s = t) {
        t = strchr(s, ',');
        if (t)
            *t++ = '\0';
        head[nh++] = s;
    }
    char *end = strchr(nl + 1, '\n');
    if (end)
        *end = '\0';
    for (char *s = nl + 1, *t; s && nr < max; s = t) {
        t = strchr(s, ',');
        if (t)
            *t++ = '\0';
        row[nr++] = s;
    }
    return nh == nr ? nh : -1;
}

TEST(record_fields_csv_columns_show_the_json_values)
{
    rb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ndists = 1;
    cfg.baseline = method_id("rotorquant");
    for (int kva = 0; kva < 2; kva++) {
        rb_record rec;
        const rb_record *r = &rec;
        fill(&rec, kva);
        rb_run run = {.cfg = &cfg, .backend = "gpu", .recs = &rec, .nrecs = 1};
        static char text[1 << 14];
        char *head[128], *row[128];
        const int n = csv_of(&run, text, sizeof text, head, row, 128);
        int cols = 0, seen[128] = {0};
#define X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp)                                    \
    CHECK((col >= 0) == (strcmp(#xf, "none") != 0), "%s: a column needs a view and a view a column", #id); \
    if (col >= 0 && col < 128)                                                                          \
        cols++, seen[col]++;
        RB_RECORD_FIELDS(X)
#undef X
        CHECK(n == cols && n > 50, "%d CSV columns, %d in the table", n, cols);
        if (n != cols || n <= 50)
            continue;
        for (int c = 0; c < cols && c < 128; c++)
            CHECK(seen[c] == 1, "column %d is named %d times", c, seen[c]);
        cJSON *o = rb_record_to_json(r, &cfg);
        /* each column with a JSON field shows that field's value; the others their texts */
#define X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp)                                                  \
    if (col >= 0 && col < n) {                                                                                        \
        CHECK(!strcmp(head[col], csv), "column %d is %s, not %s", col, head[col], csv);                              \
        const cJSON *g_ = RB_G_##grp == RB_G_TOP ? o : cJSON_GetObjectItemCaseSensitive(o, rb_record_group_key(RB_G_##grp)); \
        const cJSON *v_ = key[0] ? cJSON_GetObjectItemCaseSensitive(g_, key) : NULL;                                 \
        if (cJSON_IsNumber(v_))                                                                                       \
            CHECK(csv_agrees(fmt, strtod(row[col], NULL), RB_XF_##xf(r, v_->valuedouble)), "%s: CSV %s, JSON %.17g",   \
                  csv, row[col], v_->valuedouble);                                                                    \
        else if (cJSON_IsString(v_))                                                                                  \
            CHECK(!strcmp(row[col], v_->valuestring), "%s: CSV %s, JSON %s", csv, row[col], v_->valuestring);          \
        else if (cJSON_IsBool(v_))                                                                                    \
            CHECK(!strcmp(row[col], cJSON_IsTrue(v_) ? "1" : "0"), "%s: CSV %s", csv, row[col]);                     \
        else                                                                                                          \
            CHECK(!strcmp(#io, "EXT") || !strcmp(#io, "NOJSON") || !(when), "%s: in the CSV, not in the JSON", csv);    \
    }
        RB_RECORD_FIELDS(X)
#undef X
        CHECK(!strcmp(row[0], "gpu") && !strcmp(row[27], "") && !strcmp(row[33], kva ? "synthetic" : "sphere"),
              "backend %s, op '%s', input %s", row[0], row[27], row[33]);
        CHECK(!strcmp(row[7], rb_codebook_name(cfg.codebook)), "codebook %s", row[7]);
        CHECK(strtod(row[28], NULL) == r->outlier_frac, "outlier_frac %s", row[28]);
        CHECK(kva || !strcmp(row[49], "nan"), "no attention over a cache: attn_max_rel_err %s", row[49]);
        cJSON_Delete(o);
    }
}

/* The keys of o in order, groups as "group.key", comma-separated. */
static void key_list(const cJSON *o, const char *prefix, char *out, size_t n)
{
    for (const cJSON *c = o->child; c; c = c->next) {
        size_t l = strlen(out);
        if (cJSON_IsObject(c)) {
            char p[64];
            snprintf(p, sizeof p, "%s%s.", prefix, c->string);
            key_list(c, p, out, n);
        } else {
            snprintf(out + l, n - l, "%s%s%s", l ? "," : "", prefix, c->string);
        }
    }
}

/* What files already hold stays as it is: the keys and their order, the CSV's header. */
TEST(record_fields_key_order_and_csv_header_as_in_committed_results)
{
    rb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ndists = 1;
    cfg.baseline = method_id("rotorquant");
    static const char *want[2] = {
        "method,variant,path,route,d,bits,dtype,N,assume_unit_norm,codebook,distribution,mse,attention.queries,"
        "attention.T,attention.groups,attention.ip_err,attention.ip_bias,attention.kl,attention.top1,attention.top5,"
        "attention.out_cos,pred_mse,rel_err,cosine,rows,nonfinite_rows,tiny_rows,fma_nominal,params,bits_per_coord,"
        "bytes,stored_bytes,kv_norm,time.clock,time.samples,time.batch,time.median_us,time.min_us,time.max_us,"
        "time.q1_us,time.q3_us,time.noise,time.stop_reason,time.cold_samples,time.cold_median_us,time.cold_min_us,"
        "time.cold_max_us,time.cold_noise,time.prepass_median_us,time.hot_sm_clock_khz,time.cold_sm_clock_khz,"
        "time.sm_clock_min_khz,time.samples_under_75pct_clock,time.copy_us,time.copy_cold_us,time.copy_bytes,"
        "time.fma_peak_per_s,"
        "time.tc_peak_flops_per_s,gbps,pct_of_copy_bw,fma_per_s,pct_of_fma_peak,check_vs_cpu.rows,"
        "check_vs_cpu.max_abs_diff,check_vs_cpu.boundary_flips,baseline,speedup",
        "method,variant,path,route,d,bits,dtype,N,assume_unit_norm,codebook,distribution,mse,attention.queries,"
        "attention.T,attention.groups,attention.ip_err,attention.ip_bias,attention.kl,attention.top1,attention.top5,"
        "attention.out_cos,pred_mse,rel_err,cosine,rows,nonfinite_rows,tiny_rows,fma_nominal,params,bits_per_coord,"
        "bytes,stored_bytes,kv_norm,time.clock,time.samples,time.batch,time.median_us,time.min_us,time.max_us,"
        "time.q1_us,time.q3_us,time.noise,time.stop_reason,time.cold_samples,time.cold_median_us,time.cold_min_us,"
        "time.cold_max_us,time.cold_noise,time.prepass_median_us,time.hot_sm_clock_khz,time.cold_sm_clock_khz,"
        "time.sm_clock_min_khz,time.samples_under_75pct_clock,time.copy_us,time.copy_cold_us,time.copy_bytes,"
        "time.fma_peak_per_s,"
        "time.tc_peak_flops_per_s,gbps,pct_of_copy_bw,fma_per_s,pct_of_fma_peak,check_vs_cpu.rows,"
        "check_vs_cpu.max_rel_diff,check_vs_cpu.boundary_flips,kv_attention.fp16_cache,kv_attention.B,"
        "kv_attention.H,kv_attention.kv_heads,kv_attention.T,kv_attention.split,kv_attention.input,"
        "kv_attention.cache_bytes,"
        "kv_attention.bytes_per_token,kv_attention.max_rel_err,baseline,speedup"};
    for (int kva = 0; kva < 2; kva++) {
        rb_record r;
        fill(&r, kva);
        cJSON *o = rb_record_to_json(&r, &cfg);
        static char keys[1 << 13];
        keys[0] = '\0';
        key_list(o, "", keys, sizeof keys);
        CHECK(!strcmp(keys, want[kva]), "keys (kva %d):\n    %s", kva, keys);
        cJSON_Delete(o);
    }
    rb_record r;
    fill(&r, 0);
    rb_run run = {.cfg = &cfg, .backend = "cpu", .recs = &r, .nrecs = 1};
    static char text[1 << 14];
    char *head[128], *row[128];
    const int n = csv_of(&run, text, sizeof text, head, row, 128);
    char got[2048] = "";
    for (int c = 0; c < n; c++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", c ? "," : "", head[c]);
    CHECK(!strcmp(got, "backend,method,variant,d,bits,dtype,N,codebook,mse,pred_mse,rel_err,cosine,nonfinite_rows,"
                       "fma_nominal,params,bits_per_coord,bytes,time_median_us,time_min_us,time_max_us,time_noise_pct,"
                       "cold_median_us,hot_clock_mhz,copy_us,gbps,pct_of_copy_bw,speedup,op,outlier_frac,prepass_us,"
                       "fma_per_s,pct_of_fma_peak,route,input,ip_err,ip_bias,attn_kl,attn_top1,attn_top5,attn_out_cos,"
                       "path,stored_bytes,kv_B,kv_H,kv_heads,kv_T,kv_split,cache_bytes,bytes_per_token,"
                       "attn_max_rel_err,assume_unit_norm"),
          "CSV header:\n    %s", got);
}
