/* Decode-attention records in the result files (harness/kvattn_record.c, main.c's sink,
 * compare.c), the memory they need (kvattn_mem.c, kvattn_sweep.c's check) and their % of copy:
 * a run of configs/kv_attention_small.json cut short and finished with --resume recomputes only
 * the settings not done and ends with the records of an uninterrupted run, and so does one
 * stopped by Ctrl-C; records over changed K/V/q files are not reused; compare pairs attention
 * records by their shape (two shapes of one N, two file slices: distinct settings) and fails on a
 * changed error or a missing setting; a cache too large for host memory is refused with the
 * bytes, exit 2, nothing written; the device layout's copy roof moves what one attention reads,
 * and % of copy, with a fake timing on the CPU backend, is the rate of the bytes read against
 * the copy's rate of the bytes it reads and writes. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "compare.h"
#include "driver.h"
#include "hostmem.h"
#include "kvattn_cpu.h"
#include "kvattn_mem.h"
#include "kvattn_record.h"
#include "kvattn_sweep.h"
#include "npy_f32.h"
#include "results.h"
#include "scratch.h"
#include "untimed.h"

static char dir[64];

/* A path in this file's scratch directory (four live at a time). */
static const char *tmp(const char *name) { return scratch_path(dir, sizeof dir, "/tmp/rb_kvr_XXXXXX", name); }

static cJSON *load_json(const char *path)
{
    static char buf[1 << 20];
    read_text(path, buf, sizeof buf);
    return cJSON_Parse(buf);
}

static int save_json(const char *path, const cJSON *j)
{
    char *t = cJSON_Print(j);
    FILE *f = t ? fopen(path, "w") : NULL;
    int ok = f && fputs(t, f) >= 0;
    if (f)
        fclose(f);
    free(t);
    return ok ? 0 : -1;
}

static int count_of(const char *s, const char *what)
{
    int n = 0;
    for (; s && (s = strstr(s, what)); s++)
        n++;
    return n;
}

/* Keep the first n lines of path, then half a line more (a write torn by a crash). */
static int cut_lines(const char *path, int n)
{
    static char buf[1 << 20];
    read_text(path, buf, sizeof buf);
    char *p = buf;
    for (int i = 0; i < n && p; i++)
        p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
    FILE *f = p ? fopen(path, "w") : NULL;
    if (!f)
        return -1;
    fwrite(buf, 1, (size_t)(p - buf), f);
    fwrite(p, 1, strcspn(p, "\n") / 2, f); /* half the next line, no newline */
    fclose(f);
    return 0;
}

#define SMALL_RECORDS 10 /* 2 shapes x (the fp16 cache + 2 methods x 2 bits) */

TEST(kvattn_resume_recomputes_only_what_is_not_done)
{
    char args[512], err[8192], ja[300], jb[300], jl[300];
    snprintf(ja, sizeof ja, "%s", tmp("a/kv_attention_small-cpu.json"));
    snprintf(jb, sizeof jb, "%s", tmp("b/kv_attention_small-cpu.json"));
    snprintf(jl, sizeof jl, "%s", tmp("b/kv_attention_small-cpu.jsonl"));
    snprintf(args, sizeof args, "configs/kv_attention_small.json --backend cpu --out %s", tmp("a"));
    int rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0, "uninterrupted run: rc %d: %s", rc, err);
    snprintf(args, sizeof args, "configs/kv_attention_small.json --backend cpu --out %s", tmp("b"));
    rc = run_driver(args, err, sizeof err);
    static char log[1 << 20];
    read_text(jl, log, sizeof log);
    CHECK(rc == 0 && count_of(log, "\n") == SMALL_RECORDS, "run B: rc %d, %d lines in the .jsonl, want %d: %s", rc,
          count_of(log, "\n"), SMALL_RECORDS, err);

    /* cut short: the first shape done (5 records) and the second's fp16 cache, then a torn line */
    const int kept = 6;
    CHECK(cut_lines(jl, kept) == 0 && unlink(jb) == 0, "cannot cut %s", jl);
    snprintf(args, sizeof args, "configs/kv_attention_small.json --backend cpu --out %s --resume", tmp("b"));
    rc = run_driver(args, err, sizeof err);
    char want[128];
    snprintf(want, sizeof want, "--resume: %d of %d settings already done", kept, SMALL_RECORDS);
    CHECK(rc == 0 && strstr(err, want), "resumed run: rc %d, want '%s': %s", rc, want, err);
    CHECK(count_of(err, "[attention] ") == SMALL_RECORDS - kept, "the resumed run computed %d settings, want %d: %s",
          count_of(err, "[attention] "), SMALL_RECORDS - kept, err);
    CHECK(!strstr(err, "T=1 split"), "a setting of the done shape (T = 1) was computed again: %s", err);

    /* the .jsonl holds every setting again; the final records are the uninterrupted run's */
    read_text(jl, log, sizeof log);
    int parsed = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        parsed += cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "record"));
        cJSON_Delete(j);
    }
    CHECK(parsed == SMALL_RECORDS, "%s holds %d readable records, want %d", jl, parsed, SMALL_RECORDS);
    cJSON *da = load_json(ja), *db = load_json(jb);
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(da, "records"), *rb = cJSON_GetObjectItemCaseSensitive(db, "records");
    CHECK(cJSON_GetArraySize(ra) == SMALL_RECORDS && cJSON_GetArraySize(rb) == SMALL_RECORDS, "records: %d and %d",
          cJSON_GetArraySize(ra), cJSON_GetArraySize(rb));
    int differ = 0, speedups = 0;
    for (int i = 0; i < cJSON_GetArraySize(ra) && i < cJSON_GetArraySize(rb); i++) {
        char *sa = untimed_text(cJSON_GetArrayItem(ra, i)), *sb = untimed_text(cJSON_GetArrayItem(rb, i));
        if (!sa || !sb || strcmp(sa, sb))
            if (!differ++)
                fprintf(stderr, "    record %d differs:\n      %s\n      %s\n", i, sa, sb);
        free(sa);
        free(sb);
        speedups += cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rb, i), "speedup"));
    }
    CHECK(differ == 0, "%d of %d records differ after --resume", differ, SMALL_RECORDS);
    CHECK(speedups == SMALL_RECORDS, "%d of %d resumed records have a speedup over the fp16 cache", speedups,
          SMALL_RECORDS);

    /* everything done: nothing computed */
    rc = run_driver(args, err, sizeof err);
    snprintf(want, sizeof want, "--resume: %d of %d settings already done", SMALL_RECORDS, SMALL_RECORDS);
    CHECK(rc == 0 && strstr(err, want) && count_of(err, "[attention] ") == 0, "resumed again: rc %d: %s", rc, err);
    cJSON_Delete(da);
    cJSON_Delete(db);
}

/* rotorbench compare BASE NEW on attention records: report into a file, exit status back. */
static int compare(const char *base, const char *cur, char *out, size_t n)
{
    char *argv[] = {"compare", (char *)base, (char *)cur};
    FILE *o = fopen(tmp("cmp.md"), "w+"), *e = fopen(tmp("cmp.err"), "w+");
    if (!o || !e) {
        if (o)
            fclose(o);
        if (e)
            fclose(e);
        return -1;
    }
    const int rc = rb_compare_run(3, argv, o, e);
    fclose(o);
    fclose(e);
    read_text(tmp("cmp.md"), out, n);
    static char errs[4096];
    read_text(tmp("cmp.err"), errs, sizeof errs);
    if (errs[0]) /* a repeated key is said on stderr: attention keys must not repeat */
        snprintf(out + strlen(out), n - strlen(out), "\nSTDERR: %s", errs);
    return rc;
}

/* The record of `method` with kv_attention.T == T in the records of doc. */
static cJSON *record_of(cJSON *doc, const char *method, int bits, long T)
{
    cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "records"))
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(r, "kv_attention");
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "method")), method) &&
            cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "bits")) == bits &&
            cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(k, "T")) == T)
            return r;
    }
    return NULL;
}

TEST(kvattn_compare_gates_attention_records)
{
    char args[512], err[8192], json[300];
    static char md[1 << 16];
    snprintf(json, sizeof json, "%s", tmp("c/kv_attention_small-cpu.json"));
    snprintf(args, sizeof args, "configs/kv_attention_small.json --backend cpu --out %s", tmp("c"));
    int rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0, "run: rc %d: %s", rc, err);

    rc = compare(json, json, md, sizeof md);
    CHECK(rc == 0 && strstr(md, "10 compared: 10 same") && !strstr(md, "STDERR"), "against itself: rc %d:\n%s", rc, md);
    CHECK(strstr(md, "identity ref d64 b2 fp32 N1200 attention B2 H4 kv2 T300 split128 synthetic norms fp16") != NULL,
          "the key names the attention shape:\n%s", md);

    /* an error of one record changed by 1e-5 relative: beyond the 1e-6 rule */
    cJSON *doc = load_json(json);
    cJSON *r = record_of(doc, "rotorquant", 2, 300);
    cJSON *kl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "attention"), "kl");
    CHECK(r && cJSON_GetNumberValue(kl) > 0, "rotorquant b2 T300's KL: %g", cJSON_GetNumberValue(kl));
    if (kl)
        cJSON_SetNumberValue(kl, kl->valuedouble * (1 + 1e-5));
    save_json(tmp("kl.json"), doc);
    rc = compare(json, tmp("kl.json"), md, sizeof md);
    CHECK(rc == 1 && strstr(md, "**ERROR-CHANGED** (kl)") && strstr(md, "REGRESSION"), "KL changed: rc %d:\n%s", rc, md);
    cJSON_Delete(doc);

    /* ... and by 1e-7: the same */
    doc = load_json(json);
    r = record_of(doc, "identity", 4, 300);
    cJSON *mx = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "kv_attention"), "max_rel_err");
    if (mx)
        cJSON_SetNumberValue(mx, mx->valuedouble * (1 + 1e-7));
    save_json(tmp("small.json"), doc);
    rc = compare(json, tmp("small.json"), md, sizeof md);
    CHECK(rc == 0 && strstr(md, "10 same"), "max_rel_err within 1e-6: rc %d:\n%s", rc, md);
    cJSON_Delete(doc);

    /* another split is another setting: the base's is missing */
    doc = load_json(json);
    r = record_of(doc, "fp16-cache", 16, 1);
    cJSON *sp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "kv_attention"), "split");
    if (sp)
        cJSON_SetNumberValue(sp, 64);
    save_json(tmp("split.json"), doc);
    rc = compare(json, tmp("split.json"), md, sizeof md);
    CHECK(rc == 1 && strstr(md, "9 compared") && strstr(md, "FAIL: MISSING SETTINGS"), "split changed: rc %d:\n%s", rc,
          md);
    cJSON_Delete(doc);
}

/* B = 1, H = 4 and B = 2, H = 2 cache the same rows (N = 4 T): two settings, in compare and in
 * --resume alike. */
TEST(kvattn_shapes_of_one_N_are_distinct_settings)
{
    FILE *f = fopen(tmp("bh.json"), "w");
    if (f) {
        fputs("{\"name\": \"bh\", \"seed\": 5, \"dims\": 32, \"bits\": 2, \"methods\": [\"identity\"], "
              "\"kv_attention\": {\"B\": [1, 2], \"H\": [4, 2], \"T\": 16, \"split\": 8}}\n", f);
        fclose(f);
    }
    char args[512], err[8192], json[300];
    static char md[1 << 16];
    snprintf(json, sizeof json, "%s", tmp("bh/bh-cpu.json"));
    snprintf(args, sizeof args, "%s --backend cpu --out %s", tmp("bh.json"), tmp("bh"));
    int rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0 && count_of(err, "[attention] ") == 8, "run: rc %d: %s", rc, err);
    rc = compare(json, json, md, sizeof md);
    CHECK(rc == 0 && strstr(md, "8 compared: 8 same") && !strstr(md, "STDERR"), "against itself: rc %d:\n%s", rc, md);
    snprintf(args, sizeof args, "%s --backend cpu --out %s --resume", tmp("bh.json"), tmp("bh"));
    rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0 && strstr(err, "--resume: 8 of 8 settings already done") && count_of(err, "[attention] ") == 0,
          "resume: rc %d: %s", rc, err);
}

/* A T whose caches cannot fit host memory: one line with the bytes the sweep would take (as
 * rb_kva_host_bytes counts them, plus the margin), exit 2, nothing written. */
TEST(kvattn_cache_too_large_for_host_memory_refused)
{
    FILE *f = fopen(tmp("hugeT.json"), "w");
    if (f) {
        fputs("{\"name\": \"hugeT\", \"seed\": 5, \"dims\": 128, \"bits\": [2, 4], \"methods\": [\"identity\"], "
              "\"kv_attention\": {\"B\": 1, \"H\": 32, \"T\": [1024, 16777216]}}\n", f);
        fclose(f);
    }
    char args[512], err[4096], want[256];
    snprintf(args, sizeof args, "%s --backend cpu --out %s", tmp("hugeT.json"), tmp("hugeT"));
    const int rc = run_driver(args, err, sizeof err);
    rb_kvattn_args a = {.B = 1, .Hq = 32, .Hkv = 32, .T = 16777216, .d = 128};
    snprintf(want, sizeof want, "kv_attention: B = 1, H = 32, kv_heads = 32, T = 16777216, d = 128 needs %.0f bytes of "
             "host memory", rb_kva_host_bytes(&a, 128) + RB_HOSTMEM_MARGIN);
    CHECK(rc == 2 && strstr(err, want) && strstr(err, "are available") && count_lines(err) == 1,
          "rc %d, want '%s': %s", rc, want, err);
    char *j = (char *)tmp("hugeT/hugeT-cpu.jsonl");
    struct stat st;
    CHECK(stat(j, &st) != 0, "%s was written", j);
    CHECK(stat(tmp("hugeT/hugeT-cpu.json"), &st) != 0, "the result file was written");
}

/* The device layout (what the GPU backend allocates and kv_fits checks): the parts in order
 * without overlap, the cache as rb_kvattn_cache_bytes counts it, a copy roof that moves the
 * bytes one attention reads (half of them copied: read and written), need = allocation + roof +
 * margin; on odd shapes, both caches. */
TEST(kvattn_device_layout_counts_every_part)
{
    const struct {
        int B, H, kv, T, d, dpad, bits, norm;
    } sh[] = {{1, 32, 32, 4096, 128, 128, 3, RB_KV_NORM_FP16}, {3, 6, 2, 1001, 80, 82, 2, RB_KV_NORM_FP32},
              {2, 4, 4, 1, 64, 64, 8, RB_KV_NORM_NONE}};
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++)
        for (int fp16 = 0; fp16 < 2; fp16++) {
            rb_kvattn_args a = {.B = sh[i].B, .Hq = sh[i].H, .Hkv = sh[i].kv, .T = sh[i].T, .d = sh[i].d,
                                .dpad = fp16 ? sh[i].d : sh[i].dpad, .bits = sh[i].bits, .norm_kind = sh[i].norm};
            a.split = rb_kvattn_default_split(a.B, a.Hkv, a.T, 132, 4);
            rb_kva_dev_layout l;
            rb_kva_dev_layout_of(&a, fp16, &l);
            const double rows = (double)a.B * a.Hkv * a.T;
            CHECK(l.cache == (size_t)rb_kvattn_cache_bytes(&a, fp16), "shape %zu fp16 %d: cache %zu, %.0f", i, fp16,
                  l.cache, rb_kvattn_cache_bytes(&a, fp16));
            CHECK(2 * l.roof == l.cache, "shape %zu fp16 %d: the copy moves %zu bytes, one attention reads %zu", i, fp16,
                  2 * l.roof, l.cache);
            CHECK(l.kb == (size_t)(rows * (fp16 ? 2.0 * a.d : (double)rb_kv_row_bytes(a.dpad, a.bits))),
                  "shape %zu fp16 %d: K bytes %zu", i, fp16, l.kb);
            CHECK(l.nb == (fp16 ? 0 : (size_t)(rows * rb_kv_norm_bytes(a.norm_kind))), "norm bytes %zu", l.nb);
            CHECK(l.qb == sizeof(float) * (size_t)a.B * a.Hq * a.d, "q bytes %zu", l.qb);
            CHECK(l.off_v >= l.kb && l.off_kn >= l.off_v + l.kb && l.off_vn >= l.off_kn + l.nb &&
                      l.off_q >= l.off_vn + l.nb && l.off_o >= l.off_q + l.qb && l.off_c >= l.off_o + l.qb &&
                      l.off_pi >= l.off_c + l.centb && l.off_w >= l.off_pi + l.pib && l.total >= l.off_w + l.workb,
                  "shape %zu fp16 %d: parts overlap", i, fp16);
            CHECK(l.off_v % 256 == 0 && l.off_q % 256 == 0 && l.off_w % 256 == 0, "parts not 256-byte aligned");
            CHECK(l.need == (double)l.total + l.roof + RB_KVA_DEV_MARGIN, "need %.0f", l.need);
            char text[512], want[96];
            rb_kva_dev_need_text(&a, fp16, &l, text, sizeof text);
            snprintf(want, sizeof want, "needs %.0f bytes of device memory", l.need);
            CHECK(strstr(text, want) && !strchr(text, '\n'), "text: %s", text);
        }
}

/* ---- % of copy on a read-only path, with a fake timing on the CPU backend ------------------- */

static int (*cpu_kv)(rb_backend *, const rb_kvattn_args *, int, rb_timing *);

/* The CPU's attention (for the outputs and metrics), then the timing of an H100 as docs/PERF.md
 * saw it: the cache streamed at 2766 GB/s, and the GPU glue's copy roof (the layout's: half the
 * cache copied, the cache's bytes moved) at 3020 GB/s counting what it reads and writes. */
static int fake_kv(rb_backend *b, const rb_kvattn_args *a, int fp16, rb_timing *t)
{
    if (cpu_kv(b, a, fp16, t))
        return -1;
    rb_kva_dev_layout l;
    rb_kva_dev_layout_of(a, fp16, &l);
    t->median_us = rb_kvattn_cache_bytes(a, fp16) / 2766e3;
    t->copy_bytes = 2.0 * (double)l.roof;
    t->copy_us = t->copy_bytes / 3020e3;
    return 0;
}

typedef struct {
    rb_record r[16];
    int n;
} kept_records;

static int keep(void *ctx, const rb_record *r, int reused)
{
    kept_records *k = ctx;
    (void)reused;
    if (k->n < 16)
        k->r[k->n++] = *r;
    return 0;
}

TEST(kvattn_pct_of_copy_counts_what_the_copy_moves)
{
    static rb_config cfg;
    char err[512];
    CHECK(rb_config_load("configs/kv_attention_small.json", &cfg, err, sizeof err) == 0, "%s", err);
    rb_backend *be = rb_backend_cpu_create();
    if (!be)
        return;
    cpu_kv = be->kv_attention;
    be->kv_attention = fake_kv;
    kept_records k = {.n = 0};
    const rb_kva_sink sink = {keep, NULL, &k};
    fflush(stderr); /* the progress lines: away */
    const int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    const int rc = rb_kvattn_sweep(&cfg, be, &sink);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(null);
    CHECK(rc == 0 && k.n == SMALL_RECORDS, "sweep: rc %d, %d records", rc, k.n);
    const double want = 100.0 * 2766 / 3020; /* 91.6 %, where bytes read over a copy of the same count gave 183 % */
    for (int i = 0; i < k.n; i++) {
        const rb_record *r = &k.r[i];
        CHECK(r->bytes == r->kva.cache_bytes && r->t.copy_bytes == r->bytes, "record %d: bytes %.0f, cache %.0f, the "
              "copy moved %.0f", i, r->bytes, r->kva.cache_bytes, r->t.copy_bytes);
        CHECK_REL(rb_record_pct_of_copy(r), want, 1e-12);
        cJSON *j = rb_record_to_json(r, &cfg);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "pct_of_copy_bw");
        const cJSON *cb = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "time"), "copy_bytes");
        CHECK(cJSON_IsNumber(p) && fabs(p->valuedouble - want) < 1e-9 && cJSON_GetNumberValue(cb) == r->t.copy_bytes,
              "record %d: pct_of_copy_bw %g, time.copy_bytes %g", i, cJSON_GetNumberValue(p), cJSON_GetNumberValue(cb));
        rb_record back;
        CHECK(rb_record_from_json(j, &back) == 0 && back.t.copy_bytes == r->t.copy_bytes, "copy_bytes read back");
        cJSON_Delete(j);
    }
    /* the definition does not depend on the copy's size: a copy of the whole cache (twice the
     * bytes, twice the time) gives the same %; a file without copy_bytes means a copy that moved
     * the record's bytes */
    rb_record r = k.r[0];
    r.t.copy_bytes *= 2;
    r.t.copy_us *= 2;
    CHECK_REL(rb_record_pct_of_copy(&r), want, 1e-12);
    r = k.r[0];
    r.t.copy_bytes = 0;
    CHECK_REL(rb_record_pct_of_copy(&r), want, 1e-12);
    be->destroy(be);
}

/* A float32 .npy of [slices, rows, d] values, value i = scale * sin(i + 1). */
static void npy(const char *path, int slices, long rows, int d, float scale)
{
    char shape[80];
    snprintf(shape, sizeof shape, "(%d, %ld, %d)", slices, rows, d);
    FILE *f = npy_f32_create(path, shape);
    if (!f)
        return;
    for (long i = 0; i < slices * rows * d; i++) {
        const float x = scale * (float)sin((double)i + 1);
        fwrite(&x, 4, 1, f);
    }
    fclose(f);
}

/* Caches from files with split_axis: a record per slice, each its own setting in compare and
 * --resume; and the K, V and q files' contents are part of what --resume matches: records over
 * a K file that changed since are computed again. */
TEST(kvattn_resume_does_not_reuse_records_of_changed_files)
{
    char k[256], v[256], q[256], cfg[1024], args[512], err[8192];
    snprintf(k, sizeof k, "%s", tmp("rk.npy"));
    snprintf(v, sizeof v, "%s", tmp("rv.npy"));
    snprintf(q, sizeof q, "%s", tmp("rq.npy"));
    npy(k, 2, 32, 16, 1.0f);
    npy(v, 2, 32, 16, 0.5f);
    npy(q, 1, 4, 16, 2.0f);
    snprintf(cfg, sizeof cfg, "{\"name\": \"rf\", \"seed\": 1, \"bits\": 2, \"methods\": [\"identity\"], \"kv_attention\": "
             "{\"H\": 4, \"kv_heads\": 2, \"split\": 8, \"inputs\": {\"k\": {\"path\": \"%s\", \"split_axis\": 0}, "
             "\"v\": {\"path\": \"%s\", \"split_axis\": 0}, \"q\": {\"path\": \"%s\", \"split_axis\": 0}}}}\n", k, v, q);
    FILE *f = fopen(tmp("rf.json"), "w");
    if (f) {
        fputs(cfg, f);
        fclose(f);
    }
    snprintf(args, sizeof args, "%s --backend cpu --out %s --resume", tmp("rf.json"), tmp("rf"));
    int rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0 && strstr(err, "--resume: 0 of 4 settings already done") && count_of(err, "[attention] ") == 4,
          "first run: rc %d: %s", rc, err);
    static char md[1 << 16];
    char json[300];
    snprintf(json, sizeof json, "%s", tmp("rf/rf-cpu.json"));
    rc = compare(json, json, md, sizeof md);
    CHECK(rc == 0 && strstr(md, "4 compared: 4 same") && strstr(md, "T16 split8 files[1] norms fp16") &&
              !strstr(md, "STDERR"), "the two slices against themselves: rc %d:\n%s", rc, md);
    read_text(tmp("rf/rf-cpu.csv"), md, sizeof md);
    CHECK(count_of(md, ",rk.npy[0],") == 2 && count_of(md, ",rk.npy[1],") == 2, "the CSV's input column:\n%s", md);
    rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0 && strstr(err, "--resume: 4 of 4 settings already done") && count_of(err, "[attention] ") == 0,
          "same files: rc %d: %s", rc, err);
    npy(k, 2, 32, 16, 1.5f); /* same shape, other values */
    rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0 && strstr(err, "--resume: 0 of 4 settings already done") && count_of(err, "[attention] ") == 4,
          "K changed: rc %d: %s", rc, err);
}

/* Ctrl-C in the attention path: the setting under way finishes and is kept, the run stops with
 * status 130 and says how to go on, and --resume runs only the rest. */
TEST(kvattn_ctrl_c_keeps_what_is_done)
{
    FILE *f = fopen(tmp("int.json"), "w");
    if (f) {
        fputs("{\"name\": \"int\", \"seed\": 5, \"dims\": 32, \"bits\": [2, 3, 4], \"methods\": [\"identity\", "
              "\"rotorquant\"], \"kv_attention\": {\"B\": 1, \"H\": 4, \"T\": [1000, 1001, 1002]}}\n", f);
        fclose(f);
    }
    const int total = 3 * (1 + 2 * 3);
    char errp[256], jl[256];
    snprintf(errp, sizeof errp, "%s", tmp("int.err"));
    snprintf(jl, sizeof jl, "%s", tmp("int/int-cpu.jsonl"));
    pid_t pid = fork();
    if (pid == 0) {
        const int null = open("/dev/null", O_WRONLY), e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (null < 0 || e < 0 || dup2(null, 1) < 0 || dup2(e, 2) < 0)
            _exit(127);
        execl("build/rotorbench", "build/rotorbench", "run", tmp("int.json"), "--backend", "cpu", "--out", tmp("int"),
              (char *)NULL);
        _exit(127);
    }
    static char buf[1 << 16];
    int lines = 0;
    for (int i = 0; i < 60000 && lines < 1; i++) { /* up to 60 s for the first record */
        read_text(jl, buf, sizeof buf);
        lines = count_of(buf, "\n");
        if (!lines)
            usleep(1000);
    }
    kill(pid, SIGINT);
    int st = 0;
    waitpid(pid, &st, 0);
    read_text(jl, buf, sizeof buf);
    const int kept = count_of(buf, "\n");
    static char err[8192];
    read_text(errp, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 130 && strstr(err, "interrupted after") && strstr(err, "--resume"),
          "interrupted: status %d: %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, err);
    CHECK(kept >= 1 && kept < total && count_of(err, "[attention] ") == kept, "%d records kept, %d computed, of %d", kept,
          count_of(err, "[attention] "), total);
    char args[512], want[96];
    snprintf(args, sizeof args, "%s --backend cpu --out %s --resume", tmp("int.json"), tmp("int"));
    const int rc = run_driver(args, err, sizeof err);
    snprintf(want, sizeof want, "--resume: %d of %d settings already done", kept, total);
    CHECK(rc == 0 && strstr(err, want) && count_of(err, "[attention] ") == total - kept, "resumed: rc %d, want '%s': %s",
          rc, want, err);
}

/* The attention table names each record's cache where it comes from files: the K file and its
 * split_axis slice, so two slices' rows do not look alike; synthetic caches have no such column. */
TEST(kvattn_markdown_names_the_file_slice)
{
    rb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kva.input = RB_KVA_FILES;
    snprintf(cfg.kva.k.path, sizeof cfg.kva.k.path, "%s", "/data/model/k_cache.npy");
    rb_record recs[2];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 2; i++) {
        recs[i].kva.on = recs[i].kva.fp16_cache = 1;
        recs[i].bits = 16;
        recs[i].slice = i;
        recs[i].kva.T = 300;
    }
    rb_run run = {.cfg = &cfg, .backend = "cpu", .recs = recs, .nrecs = 2};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f != NULL, "open_memstream");
    if (!f)
        return;
    rb_kvattn_print_markdown(&run, f);
    fclose(f);
    CHECK(strstr(text, "| method | input | bits |") != NULL, "no input column: %s", text);
    CHECK(strstr(text, "| fp16-cache | k_cache.npy[0] | 16 |") && strstr(text, "| fp16-cache | k_cache.npy[1] | 16 |"),
          "slices not named: %s", text);
    free(text);
    cfg.kva.input = RB_KVA_SYNTHETIC;
    recs[0].slice = recs[1].slice = -1;
    f = open_memstream(&text, &len);
    CHECK(f != NULL, "open_memstream");
    if (!f)
        return;
    rb_kvattn_print_markdown(&run, f);
    fclose(f);
    CHECK(strstr(text, "| method | bits |") != NULL && !strstr(text, "input"), "synthetic caches: %s", text);
    free(text);
}
