/* The config's "path" and "kv_norm" keys and what carries them: parsing, defaults and errors;
 * a record's path, stored_bytes and bytes through JSON; compare and --resume keyed on the path;
 * and a CPU run of every path end to end. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "compare.h"
#include "config.h"
#include "counts.h"
#include "driver.h"
#include "kvcodec.h"
#include "methods.h"
#include "results.h"

static int parse(const char *text, rb_config *cfg, char *err, size_t n)
{
    return rb_config_parse("kv.json", text, strlen(text), cfg, err, n);
}

#define KV_BASE "\"name\": \"t\", \"seed\": 1, \"N\": 64, \"dims\": 128, \"bits\": 3, \"methods\": [\"identity\", \"rotorquant\"]"

TEST(kvpath_config_defaults_and_lists)
{
    rb_config cfg;
    char err[512] = "";
    CHECK(parse("{" KV_BASE "}", &cfg, err, sizeof err) == 0, "%s", err);
    CHECK(cfg.npaths == 1 && cfg.paths[0] == RB_PATH_ROUNDTRIP && cfg.kv_norm == RB_KV_NORM_FP16,
          "defaults: %d paths, path %d, kv_norm %d", cfg.npaths, cfg.paths[0], cfg.kv_norm);
    CHECK(parse("{" KV_BASE ", \"path\": \"decode\", \"kv_norm\": \"fp32\"}", &cfg, err, sizeof err) == 0, "%s", err);
    CHECK(cfg.npaths == 1 && cfg.paths[0] == RB_PATH_DECODE && cfg.kv_norm == RB_KV_NORM_FP32, "a string");
    CHECK(parse("{" KV_BASE ", \"path\": \"attention\"}", &cfg, err, sizeof err) == -1 &&
              strstr(err, "\"attention\" needs a \"kv_attention\" object"), "attention without its shapes: %s", err);
    CHECK(parse("{" KV_BASE ", \"path\": [\"encode\", \"roundtrip\", \"attention\", \"decode\"], "
                "\"kv_attention\": {\"H\": 2, \"T\": 8}}", &cfg, err, sizeof err) == 0,
          "%s", err);
    CHECK(cfg.npaths == 4 && cfg.paths[0] == RB_PATH_ENCODE && cfg.paths[1] == RB_PATH_ROUNDTRIP &&
              cfg.paths[2] == RB_PATH_ATTENTION && cfg.paths[3] == RB_PATH_DECODE,
          "a list keeps its order: %d paths", cfg.npaths);
    for (int p = 0; p < RB_NPATHS; p++)
        CHECK(rb_path_find(rb_path_name(p)) == p, "path %d's name %s", p, rb_path_name(p));
    CHECK(rb_path_find("prefill") == -1 && rb_path_find(NULL) == -1, "unknown names");
}

TEST(kvpath_config_errors_name_the_key)
{
    static const struct { const char *text, *need1, *need2; } bad[] = {
        {"{" KV_BASE ", \"path\": \"prefill\"}", "key 'path'", "\"prefill\""},
        {"{" KV_BASE ", \"path\": []}", "key 'path'", "non-empty array"},
        {"{" KV_BASE ", \"path\": [\"encode\", \"encode\"]}", "key 'path[1]'", "repeated"},
        {"{" KV_BASE ", \"path\": 3}", "key 'path'", "roundtrip"},
        {"{" KV_BASE ", \"kv_norm\": \"bf16\"}", "key 'kv_norm'", "\"fp16\" or \"fp32\""},
        {"{" KV_BASE ", \"kv_norm\": [\"fp16\"]}", "key 'kv_norm'", "fp32"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rb_config cfg;
        char err[512] = "";
        CHECK(parse(bad[i].text, &cfg, err, sizeof err) == -1, "accepted: %s", bad[i].text);
        CHECK(strstr(err, bad[i].need1) && strstr(err, bad[i].need2) && !strchr(err, '\n'),
              "err \"%s\" lacks \"%s\" / \"%s\"", err, bad[i].need1, bad[i].need2);
    }    /* every built-in method has the encode and decode paths (HQMQ its own format: hqmq_pack.h) */
    rb_config cfg;
    char err[512] = "";
    CHECK(parse("{\"name\": \"t\", \"seed\": 1, \"N\": 64, \"dims\": 128, \"bits\": 3, \"methods\": [\"hqmq\"], "
                "\"path\": [\"roundtrip\", \"decode\"]}", &cfg, err, sizeof err) == 0, "hqmq decode: %s", err);
}

TEST(kvpath_record_json_keeps_path_and_bytes)
{
    rb_config cfg;
    char err[512] = "";
    CHECK(parse("{" KV_BASE ", \"path\": [\"encode\"]}", &cfg, err, sizeof err) == 0, "%s", err);
    rb_record r = {0}, back;
    r.method = method_id("rotorquant");
    snprintf(r.variant, sizeof r.variant, "ref");
    r.d = 128; r.bits = 3; r.N = 64; r.dtype = RB_FP16; r.slice = -1;
    r.path = RB_PATH_DECODE;
    r.kv_norm = RB_KV_NORM_FP32;
    r.stored_bytes = (double)rb_kv_stored_bytes(r.method, 128, 3, RB_KV_NORM_FP32, 64);
    r.bytes = r.stored_bytes + 64.0 * 128 * 2;
    cJSON *o = rb_record_to_json(&r, &cfg);
    CHECK(o && rb_record_from_json(o, &back) == 0, "round trip through JSON");
    CHECK(back.path == RB_PATH_DECODE && back.kv_norm == RB_KV_NORM_FP32 && back.stored_bytes == r.stored_bytes &&
              back.bytes == r.bytes,
          "path %d kv_norm %d stored %g bytes %g", back.path, back.kv_norm, back.stored_bytes, back.bytes);
    /* rotorquant d=128 b=3: 129 codes x 3 bits = 387 bits -> 13 words = 52 bytes, + 4 */
    CHECK(r.stored_bytes == 64.0 * (52 + 4), "stored bytes %g", r.stored_bytes);
    /* a record from before the key reads as a roundtrip; an unknown path is refused */
    cJSON_DeleteItemFromObjectCaseSensitive(o, "path");
    CHECK(rb_record_from_json(o, &back) == 0 && back.path == RB_PATH_ROUNDTRIP, "no path: roundtrip (%d)", back.path);
    cJSON_AddStringToObject(o, "path", "prefill");
    CHECK(rb_record_from_json(o, &back) == -1, "an unknown path is refused");
    cJSON_Delete(o);
}

static char kv_tmp[64];

static void kv_cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", kv_tmp);
    if (kv_tmp[0] && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", kv_tmp);
}

static const char *kv_dir(void)
{
    if (!kv_tmp[0]) {
        snprintf(kv_tmp, sizeof kv_tmp, "/tmp/rb_kvpath_XXXXXX");
        if (!mkdtemp(kv_tmp))
            return "/tmp";
        atexit(kv_cleanup);
    }
    return kv_tmp;
}

TEST(kvpath_compare_keys_on_the_path)
{
    char path[256];
    snprintf(path, sizeof path, "%s/cmp.json", kv_dir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f)
        return;
    const char *r = "{\"method\": \"rotorquant\", \"variant\": \"fast\", \"d\": 128, \"bits\": 3, \"dtype\": \"fp16\", "
                    "\"N\": 8192, \"codebook\": \"gaussian\", \"mse\": 1e-3, %s\"time\": {\"clock\": \"cuda-events\", "
                    "\"median_us\": %d, \"noise\": 0.01}}";
    fprintf(f, "{\"tool\": \"rotorbench\", \"backend\": \"gpu\", \"machine\": {\"gpu_name\": \"H\"}, \"records\": [");
    fprintf(f, r, "", 10); /* no path: a roundtrip */
    fputc(',', f);
    fprintf(f, r, "\"path\": \"encode\", ", 5);
    fputc(',', f);
    fprintf(f, r, "\"path\": \"decode\", ", 4);
    fprintf(f, "]}\n");
    fclose(f);
    char *argv[] = {"compare", path, path, NULL};
    FILE *out = tmpfile(), *err = tmpfile();
    int rc = rb_compare_run(3, argv, out, err);
    static char rep[1 << 15];
    rewind(out);
    rep[fread(rep, 1, sizeof rep - 1, out)] = '\0';
    rewind(err);
    char e[512];
    e[fread(e, 1, sizeof e - 1, err)] = '\0';
    fclose(out);
    fclose(err);
    CHECK(rc == 0 && strstr(rep, "3 compared: 3 same") && strstr(rep, "N8192 encode") && strstr(rep, "N8192 decode") &&
              !strstr(e, "repeats"),
          "three paths, three settings: rc %d\n%s\n%s", rc, rep, e);
}

/* A CPU sweep of every path: the records carry their path and the bytes each moves; --resume
 * reuses each path's own record, none for another path. */
TEST(kvpath_cpu_run_every_path_and_resume)
{
    char cfgp[256], out[256], err[4096], args[700];
    snprintf(cfgp, sizeof cfgp, "%s/kv.json", kv_dir());
    snprintf(out, sizeof out, "%s/out", kv_dir());
    FILE *f = fopen(cfgp, "w");
    CHECK(f != NULL, "cannot write %s", cfgp);
    if (!f)
        return;
    fprintf(f, "{\"name\": \"kv\", \"seed\": 3, \"N\": 301, \"dims\": 37, \"bits\": 2, \"dtypes\": \"fp32\", "
               "\"methods\": [\"isoquant-full\"], \"path\": [\"roundtrip\", \"encode\", \"decode\"], "
               "\"kv_norm\": \"fp32\"}\n");
    fclose(f);
    snprintf(args, sizeof args, "%s --backend cpu --out %s", cfgp, out);
    int rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0, "rc %d: %s", rc, err);
    snprintf(args, sizeof args, "%s --backend cpu --out %s --resume", cfgp, out);
    rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0 && strstr(err, "3 of 3 settings already done"), "resume rc %d: %s", rc, err);
    char jp[300];
    snprintf(jp, sizeof jp, "%s/kv-cpu.json", out);
    static char text[1 << 18];
    read_text(jp, text, sizeof text);
    cJSON *doc = cJSON_Parse(text), *recs = cJSON_GetObjectItemCaseSensitive(doc, "records");
    CHECK(cJSON_GetArraySize(recs) == 3, "%d records", cJSON_GetArraySize(recs));
    const rb_method m = method_id("isoquant-full");
    const double stored = (double)rb_kv_stored_bytes(m, 37, 2, RB_KV_NORM_FP32, 301), xb = 301.0 * 37 * 4;
    const char *want[3] = {"roundtrip", "encode", "decode"};
    const double bytes[3] = {2 * xb, xb + stored, xb + stored};
    double mse[3] = {0};
    int i = 0;
    for (const cJSON *r = recs ? recs->child : NULL; r && i < 3; r = r->next, i++) {
        const cJSON *pa = cJSON_GetObjectItemCaseSensitive(r, "path");
        CHECK(cJSON_IsString(pa) && !strcmp(pa->valuestring, want[i]), "record %d: path %s", i,
              cJSON_IsString(pa) ? pa->valuestring : "?");
        CHECK(cJSON_GetObjectItemCaseSensitive(r, "bytes")->valuedouble == bytes[i] &&
                  cJSON_GetObjectItemCaseSensitive(r, "stored_bytes")->valuedouble == stored,
              "record %d: bytes %g stored %g", i, cJSON_GetObjectItemCaseSensitive(r, "bytes")->valuedouble,
              cJSON_GetObjectItemCaseSensitive(r, "stored_bytes")->valuedouble);
        mse[i] = cJSON_GetObjectItemCaseSensitive(r, "mse")->valuedouble;
    }
    /* fp32 norms: decode(encode(x)) is the roundtrip, so the three paths' metrics agree exactly */
    CHECK(mse[0] == mse[1] && mse[1] == mse[2] && mse[0] > 0, "MSE %.17g %.17g %.17g", mse[0], mse[1], mse[2]);
    cJSON_Delete(doc);
}

TEST(kvpath_bytes_per_token_table)
{
    rb_config cfg;
    char err[512] = "";
    CHECK(parse("{\"name\": \"t\", \"seed\": 1, \"N\": 64, \"dims\": [37, 128], \"bits\": [2, 3], "
                "\"methods\": [\"isoquant-full\", \"rotorquant\"], \"path\": [\"decode\"], \"kv_norm\": \"fp32\"}",
                &cfg, err, sizeof err) == 0, "%s", err);
    rb_run run = {.cfg = &cfg, .backend = "cpu"};
    FILE *f = tmpfile();
    rb_results_print_kv_bytes(&run, f);
    static char text[8192];
    rewind(f);
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    /* isoquant-full (k = 4) d = 37 b = 2: 40 codes x 2 bits = 80 bits -> 3 words, 12 bytes + 4 */
    CHECK(strstr(text, "| isoquant-full | 37 | 2 | 12 | 4 | 16 | 3.459 | 4.62x smaller |") != NULL, "table:\n%s", text);
    /* rotorquant (k = 3) d = 128 b = 3: 129 x 3 = 387 bits -> 13 words, 52 bytes + 4 */
    CHECK(strstr(text, "| rotorquant | 128 | 3 | 52 | 4 | 56 | 3.500 | 4.57x smaller |") != NULL, "table:\n%s", text);
    CHECK(count_lines(text) == 5 + 2 * 2 * 2, "%d lines", count_lines(text)); /* blank, title, blank, head, rule */
    /* a roundtrip-only config prints nothing */
    CHECK(parse("{" KV_BASE "}", &cfg, err, sizeof err) == 0, "%s", err);
    f = tmpfile();
    rb_results_print_kv_bytes(&run, f);
    CHECK(ftell(f) == 0, "a roundtrip config printed a KV table");
    fclose(f);
}

TEST(kvpath_shipped_config_kv_codec)
{
    rb_config cfg;
    char err[512] = "";
    CHECK(rb_config_load("configs/kv_codec.json", &cfg, err, sizeof err) == 0, "%s", err);
    CHECK(cfg.npaths == 3 && cfg.paths[0] == RB_PATH_ROUNDTRIP && cfg.paths[1] == RB_PATH_ENCODE &&
              cfg.paths[2] == RB_PATH_DECODE && cfg.kv_norm == RB_KV_NORM_FP16 && cfg.N[0] == 1L << 20 &&
              cfg.ndims == 1 && cfg.dims[0] == 128 && cfg.nbits == 3 && cfg.ndtypes == 2,
          "kv_codec.json: %d paths, N %ld", cfg.npaths, cfg.N[0]);
    int rot = 0;
    for (int i = 0; i < cfg.nmethods; i++)
        rot += is_rotation_method(cfg.methods[i]);
    CHECK(rot == cfg.nmethods && rot >= 7, "every rotation method: %d of %d", rot, cfg.nmethods);
}

/* The GPU backend runs a method's encode and decode settings where its descriptor says it has
 * the kernels (harness/main.c runs_path; otherwise one line says they are skipped): every
 * built-in rotation method with a GPU launcher has both, so kv_codec.json skips none on the GPU. */
TEST(kvpath_every_builtin_rotation_method_has_gpu_encode_decode)
{
    int n = 0;
    FOR_EACH_ROTATION_METHOD(m) {
        const rb_method_desc *d = rb_method_get(m);
        if (m >= rb_methods_builtin_count() || !d->launch)
            continue;
        n++;
        CHECK((d->variants & RB_VARIANT_BIT_ENCODE) && (d->variants & RB_VARIANT_BIT_DECODE),
              "%s: no GPU encode/decode (variants 0x%x)", d->name, d->variants);
    }
    CHECK(n >= 7, "%d built-in rotation methods with a GPU launcher", n);
}
