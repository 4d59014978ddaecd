/* test_config.c: the config loader (harness/config.c) accepts the shipped configs, fills
 * defaults, and rejects every malformed config with -1 and one line naming the key and what was
 * expected; the driver turns that into exit status 2 before creating any output. */
#include "check.h"
#include "methods.h"
#include "config.h"
#include "results.h"
#include "run_options.h"
#include "hqmq.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A valid config with `key` set to the JSON text `val` (added when it is not a base key), or
 * removed when val is NULL. One static buffer: use the result before the next call. */
static const char *with(const char *key, const char *val)
{
    static const char *const base[][2] = {
        {"name", "\"t\""},     {"seed", "1"},      {"N", "64"},
        {"dims", "[128, 256]"}, {"bits", "[2, 4]"}, {"methods", "\"all\""},
    };
    static char buf[8192];
    size_t o = 0;
    int found = 0;
    o += (size_t)snprintf(buf + o, sizeof buf - o, "{");
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        const char *v = base[i][1];
        if (key && strcmp(key, base[i][0]) == 0) {
            found = 1;
            if (!val)
                continue;
            v = val;
        }
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"%s\": %s", o > 1 ? ", " : "",
                              base[i][0], v);
    }
    if (key && !found && val)
        o += (size_t)snprintf(buf + o, sizeof buf - o, ", \"%s\": %s", key, val);
    snprintf(buf + o, sizeof buf - o, "}");
    return buf;
}

/* rb_config_parse must fail, leave cfg alone, and write one line holding need1 and need2. */
static void expect_fail_n(const char *text, size_t len, const char *need1, const char *need2)
{
    rb_config cfg;
    char err[1024];
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.name, sizeof cfg.name, "untouched");
    memset(err, 'x', sizeof err);
    int rc = rb_config_parse("mem.json", text, len, &cfg, err, sizeof err);
    err[sizeof err - 1] = '\0';
    CHECK(rc == -1, "rc %d for input: %.*s", rc, (int)len, text);
    CHECK(strncmp(err, "mem.json: ", 10) == 0, "err does not start with the path: %s", err);
    CHECK(!strchr(err, '\n') && !strchr(err, '\r'), "err is not one line: %s", err);
    CHECK(strcmp(cfg.name, "untouched") == 0, "cfg changed on failure (name %s)", cfg.name);
    CHECK(!need1 || strstr(err, need1), "err \"%s\" lacks \"%s\" (input %.*s)", err, need1,
          (int)len, text);
    CHECK(!need2 || strstr(err, need2), "err \"%s\" lacks \"%s\" (input %.*s)", err, need2,
          (int)len, text);
}

static void expect_fail(const char *text, const char *need1, const char *need2)
{
    expect_fail_n(text, strlen(text), need1, need2);
}

static int parse_ok(const char *text, rb_config *cfg)
{
    char err[1024] = "";
    int rc = rb_config_parse("mem.json", text, strlen(text), cfg, err, sizeof err);
    CHECK(rc == 0, "rejected: %s\n    err: %s", text, err);
    return rc;
}

/* "methods": "all" is the registry's in_all methods in registry order, wherever they sit among
 * the others (hqmq is not in "all"; a method added after it may be). */
static void check_all_methods(const rb_config *c)
{
    CHECK(c->nmethods == methods_in_all(), "\"all\": %d methods, the registry has %d in_all", c->nmethods,
          methods_in_all());
    int k = 0;
    for (rb_method m = 0; m < rb_methods_count(); m++)
        if (rb_method_get(m)->in_all) {
            CHECK(k < c->nmethods && c->methods[k] == m, "\"all\"[%d] is %s, want %s", k,
                  k < c->nmethods ? rb_method_name(c->methods[k]) : "(none)", rb_method_name(m));
            k++;
        }
}

TEST(config_paper18_file)
{
    rb_config c;
    char err[1024] = "";
    int rc = rb_config_load("configs/paper18.json", &c, err, sizeof err);
    CHECK(rc == 0, "configs/paper18.json: %s (run the tests from the repo root)", err);
    if (rc)
        return;
    CHECK(strcmp(c.name, "paper18") == 0, "name %s", c.name);
    CHECK(strcmp(c.path, "configs/paper18.json") == 0, "path %s", c.path);
    CHECK(c.seed == 20260328u, "seed %llu", (unsigned long long)c.seed);
    CHECK(c.nN == 1 && c.N[0] == 8192, "N %d %ld", c.nN, c.N[0]);
    CHECK(c.ndims == 3 && c.dims[0] == 128 && c.dims[1] == 256 && c.dims[2] == 512, "dims");
    CHECK(c.nbits == 3 && c.bits[0] == 2 && c.bits[1] == 3 && c.bits[2] == 4, "bits");
    CHECK(c.ndtypes == 2 && c.dtypes[0] == RB_FP16 && c.dtypes[1] == RB_FP32, "dtypes");
    check_all_methods(&c);
    CHECK(c.codebook == RB_CODEBOOK_GAUSSIAN, "codebook");
    CHECK(c.dists[0].kind == RB_DIST_SPHERE, "distribution");
    CHECK(c.baseline == method_id("rotorquant"), "baseline %d", (int)c.baseline);
    CHECK(strcmp(c.output_dir, "out") == 0, "output_dir %s", c.output_dir);
    /* the paper's 18 settings: 3 dims x 3 bits x 2 dtypes */
    CHECK(c.ndims * c.nbits * c.ndtypes == 18, "settings %d", c.ndims * c.nbits * c.ndtypes);
}

TEST(config_smoke_file)
{
    rb_config c;
    char err[1024] = "";
    int rc = rb_config_load("configs/smoke.json", &c, err, sizeof err);
    CHECK(rc == 0, "configs/smoke.json: %s (run the tests from the repo root)", err);
    if (rc)
        return;
    CHECK(strcmp(c.name, "smoke") == 0, "name %s", c.name);
    CHECK(c.seed == 7, "seed %llu", (unsigned long long)c.seed);
    CHECK(c.nN == 1 && c.N[0] == 512, "N");
    CHECK(c.ndims == 2 && c.dims[0] == 128 && c.dims[1] == 256, "dims");
    CHECK(c.nbits == 2 && c.bits[0] == 2 && c.bits[1] == 4, "bits");
    CHECK(c.ndtypes == 2 && c.dtypes[0] == RB_FP16 && c.dtypes[1] == RB_FP32, "dtypes");
    check_all_methods(&c);
    CHECK(c.codebook == RB_CODEBOOK_GAUSSIAN, "codebook");
    CHECK(c.baseline == method_id("rotorquant"), "baseline (default)");
    CHECK(strcmp(c.output_dir, "out") == 0, "output_dir %s", c.output_dir);
}

TEST(config_defaults)
{
    rb_config c;
    if (parse_ok("{\"name\": \"t\", \"seed\": 0, \"N\": 1, \"dims\": 2, \"bits\": 1, "
                 "\"methods\": [\"planarquant\", \"identity\"]}",
                 &c))
        return;
    CHECK(strcmp(c.path, "mem.json") == 0, "path %s", c.path);
    CHECK(c.seed == 0 && c.nN == 1 && c.N[0] == 1, "seed/N");
    CHECK(c.ndims == 1 && c.dims[0] == 2 && c.nbits == 1 && c.bits[0] == 1, "scalar dims/bits");
    CHECK(c.ndtypes == 2 && c.dtypes[0] == RB_FP16 && c.dtypes[1] == RB_FP32, "default dtypes");
    CHECK(c.nmethods == 2 && c.methods[0] == method_id("planarquant") && c.methods[1] == method_id("identity"),
          "methods keep file order");
    CHECK(c.codebook == RB_CODEBOOK_GAUSSIAN && c.dists[0].kind == RB_DIST_SPHERE, "defaults");
    CHECK(c.baseline == method_id("rotorquant"), "default baseline, even when not in methods");
    CHECK(strcmp(c.output_dir, "out") == 0, "default output_dir %s", c.output_dir);
}

TEST(config_accepted_forms)
{
    rb_config c;
    if (parse_ok("{\"comment\": \"x\", \"name\": \"A-z_0.9\", \"seed\": 9007199254740992, "
                 "\"N\": [268435456, 1], \"dims\": [4096, 96, 3], \"bits\": [8, 1.0e0], "
                 "\"dtypes\": \"fp32\", \"methods\": [\"isoquant-full\"], \"codebook\": \"beta\", "
                 "\"distribution\": {\"kind\": \"sphere\"}, \"baseline\": \"turboquant-wht\", "
                 "\"output_dir\": \"/tmp/r b\"}",
                 &c) == 0) {
        CHECK(c.seed == 9007199254740992ull, "seed 2^53");
        CHECK(c.nN == 2 && c.N[0] == 268435456L && c.N[1] == 1, "N");
        CHECK(c.ndims == 3 && c.dims[1] == 96 && c.dims[2] == 3, "non-power-of-two d without wht");
        CHECK(c.nbits == 2 && c.bits[0] == 8 && c.bits[1] == 1, "1.0e0 is the integer 1");
        CHECK(c.ndtypes == 1 && c.dtypes[0] == RB_FP32, "dtypes as one string");
        CHECK(c.codebook == RB_CODEBOOK_BETA, "codebook beta");
        CHECK(c.baseline == method_id("turboquant-wht"), "baseline outside methods (wht, d = 96 is fine then)");
        CHECK(strcmp(c.output_dir, "/tmp/r b") == 0, "output_dir %s", c.output_dir);
    }
    if (parse_ok(with("distribution", "\"sphere\""), &c) == 0)
        CHECK(c.dists[0].kind == RB_DIST_SPHERE, "distribution string form");
    parse_ok(with("methods", "[\"turboquant-wht\"]"), &c); /* 128 and 256 are powers of two */
}

TEST(config_rejects_unknown_and_duplicate_keys)
{
    expect_fail(with("frobnicate", "1"), "unknown key 'frobnicate'", "expected one of name, seed");
    expect_fail(with("Seed", "1"), "unknown key 'Seed'", "expected one of");
    expect_fail("{\"name\": \"a\", \"seed\": 1, \"name\": \"b\", \"N\": 64, \"dims\": 128, "
                "\"bits\": 2, \"methods\": \"all\"}",
                "key 'name'", "expected each key once");
    expect_fail(with("distribution", "{\"kind\": \"sphere\", \"sigma\": 1}"),
                "key 'distribution.sigma'", "expected only with kind \"anisotropic\"");
    expect_fail(with("distribution", "{\"kind\": \"sphere\", \"sigmas\": 1}"),
                "unknown key 'distribution.sigmas'", "expected one of kind, channels, scale, sigma");
    expect_fail(with("distribution", "{\"kind\": \"sphere\", \"kind\": \"sphere\"}"),
                "key 'distribution.kind'", "expected each key once");
    /* a control character in a key must not break the one-line message */
    expect_fail(with("a\\nb", "1"), "unknown key 'a\\x0ab'", "expected one of");
}

TEST(config_rejects_wrong_types)
{
    expect_fail(with("name", "5"), "key 'name'", "expected a string of 1..63 characters");
    expect_fail(with("seed", "\"7\""), "key 'seed'", "expected an integer in 0..9007199254740992");
    expect_fail(with("N", "\"8192\""), "key 'N'", "expected an integer in 1..268435456");
    expect_fail(with("dims", "true"), "key 'dims'", "expected an integer in 2..4096");
    expect_fail(with("bits", "null"), "key 'bits'", "expected an integer in 1..8");
    expect_fail(with("dtypes", "16"), "key 'dtypes'", "expected \"fp16\" or \"fp32\"");
    expect_fail(with("methods", "3"), "key 'methods'", "expected \"all\" or a non-empty array");
    expect_fail(with("methods", "\"rotorquant\""), "key 'methods'", "expected \"all\" or");
    expect_fail(with("methods", "\"ALL\""), "key 'methods'", "expected \"all\" or");
    expect_fail(with("codebook", "1"), "key 'codebook'", "expected \"gaussian\" or \"beta\"");
    expect_fail(with("distribution", "2"), "key 'distribution'", "expected \"sphere\"");
    expect_fail(with("baseline", "3"), "key 'baseline'", "expected one of \"identity\"");
    expect_fail(with("output_dir", "[]"), "key 'output_dir'", "expected a non-empty path");
    expect_fail(with("comment", "5"), "key 'comment'", "expected a string");
    /* nested wrong types */
    expect_fail(with("dims", "[[128]]"), "key 'dims[0]'", "got an array");
    expect_fail(with("N", "[{}]"), "key 'N[0]'", "got an object");
    expect_fail(with("dtypes", "[16]"), "key 'dtypes[0]'", "expected \"fp16\" or \"fp32\"");
    expect_fail(with("methods", "[[\"identity\"]]"), "key 'methods[0]'", "expected one of");
    expect_fail("[1, 2]", "expected a JSON object", "got an array");
    expect_fail("\"name\"", "expected a JSON object", NULL);
}

TEST(config_rejects_out_of_range)
{
    expect_fail(with("bits", "0"), "key 'bits'", "expected an integer in 1..8, got 0");
    expect_fail(with("bits", "[2, 9]"), "key 'bits[1]'", "expected an integer in 1..8, got 9");
    expect_fail(with("dims", "[1]"), "key 'dims[0]'", "expected an integer in 2..4096, got 1");
    expect_fail(with("dims", "4097"), "key 'dims'", "2..4096, got 4097");
    expect_fail(with("N", "0"), "key 'N'", "expected an integer in 1..268435456, got 0");
    expect_fail(with("N", "268435457"), "key 'N'", "got 268435457");
    expect_fail(with("N", "2.5"), "key 'N'", "expected an integer in 1..268435456, got 2.5");
    expect_fail(with("bits", "[2.5]"), "key 'bits[0]'", "got 2.5");
    expect_fail(with("seed", "2.5"), "key 'seed'", "got 2.5");
    expect_fail(with("seed", "-1"), "key 'seed'", "got -1");
    expect_fail(with("seed", "9007199254740994"), "key 'seed'", "expected an integer in 0..");
    expect_fail(with("seed", "1e300"), "key 'seed'", "got 1e+300");
    expect_fail(with("N", "[1e300]"), "key 'N[0]'", "expected an integer in 1..268435456");
    expect_fail(with("seed", "1e999"), "key 'seed'", "too large");
    expect_fail(with("name", "\"a b\""), "key 'name'", "A-Z a-z 0-9 _ . -");
    expect_fail(with("name", "\"\""), "key 'name'", "expected a string of 1..63");
    expect_fail(with("name", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""),
                "key 'name'", "1..63 characters"); /* 64 characters */
    expect_fail(with("name", "\"..\""), "key 'name'", "other than");
    expect_fail(with("output_dir", "\"\""), "key 'output_dir'", "expected a non-empty path");
    expect_fail(with("output_dir", "\"a\\nb\""), "key 'output_dir'", "control characters");
    char long_dir[1100];
    memset(long_dir, 'a', sizeof long_dir);
    long_dir[0] = '"';
    snprintf(long_dir + 1025, sizeof long_dir - 1025, "\""); /* 1024 characters */
    expect_fail(with("output_dir", long_dir), "key 'output_dir'", "under 1024 bytes");
}

TEST(config_rejects_bad_lists)
{
    expect_fail(with("dims", "[]"), "key 'dims'", "non-empty array");
    expect_fail(with("N", "[]"), "key 'N'", "non-empty array");
    expect_fail(with("dtypes", "[]"), "key 'dtypes'", "non-empty array");
    expect_fail(with("methods", "[]"), "key 'methods'", "non-empty array");
    expect_fail(with("bits", "[2, 3, 2]"), "key 'bits[2]'", "expected no repeated values");
    expect_fail(with("dtypes", "[\"fp16\", \"fp16\"]"), "key 'dtypes[1]'", "no repeated");
    expect_fail(with("dtypes", "[\"fp16\", \"fp32\", \"fp16\"]"), "key 'dtypes'", "at most 2");
    expect_fail(with("dtypes", "[\"fp64\"]"), "key 'dtypes[0]'", "got \"fp64\"");
    expect_fail(with("methods", "[\"planarquant\", \"planarquant\"]"), "key 'methods[1]'",
                "no repeated");
    expect_fail(with("methods", "[\"rotorquant\", \"foo\"]"), "key 'methods[1]'",
                "expected one of \"identity\", \"turboquant-wht\"");
    expect_fail(with("baseline", "\"rotor\""), "key 'baseline'", "expected one of \"identity\"");
    expect_fail(with("codebook", "\"uniform\""), "key 'codebook'", "got \"uniform\"");
    expect_fail(with("distribution", "{\"kind\": \"gaussian\"}"), "key 'distribution.kind'",
                "expected one of \"sphere\"");
    expect_fail(with("distribution", "{}"), "key 'distribution.kind'", "got nothing");
    expect_fail(with("distribution", "\"ball\""), "key 'distribution'", "expected one of \"sphere\"");
    char many[512];
    size_t o = (size_t)snprintf(many, sizeof many, "[");
    for (int i = 1; i <= RB_MAX_LIST + 1; i++)
        o += (size_t)snprintf(many + o, sizeof many - o, "%s%d", i > 1 ? ", " : "", i);
    snprintf(many + o, sizeof many - o, "]");
    expect_fail(with("N", many), "key 'N'", "expected at most 32 values, got 33");
}

TEST(config_rejects_wht_with_non_power_of_two)
{
    expect_fail(with("dims", "[128, 96]"), "key 'dims[1]'",
                "expected a power of two (the Walsh-Hadamard transform needs one) because methods include "
                "turboquant-wht, got 96");
    expect_fail("{\"name\": \"t\", \"seed\": 1, \"N\": 64, \"dims\": 96, \"bits\": 2, "
                "\"methods\": [\"rotorquant\", \"turboquant-wht\"]}",
                "key 'dims'", "a power of two");
}

TEST(config_rejects_missing_required)
{
    const char *req[] = {"name", "seed", "N", "dims", "bits", "methods"};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        char need[64];
        snprintf(need, sizeof need, "key '%s'", req[i]);
        expect_fail(with(req[i], NULL), need, "the key is required");
    }
}

TEST(config_rejects_bad_text)
{
    expect_fail("", "mem.json: empty file", NULL);
    expect_fail(" \n\t ", "empty file", NULL);
    char bom[256];
    snprintf(bom, sizeof bom, "\xEF\xBB\xBF%s", with(NULL, NULL));
    expect_fail(bom, "byte-order mark", "save it without one");
    expect_fail("{\"name\": \"t\", \"seed\": 1", "not valid JSON near byte", "(line 1)");
    expect_fail("{\n\"name\": \"t\",\n\"seed\": ,\n}", "not valid JSON near byte", "(line 3)");
    char trail[256];
    snprintf(trail, sizeof trail, "%s x", with(NULL, NULL));
    expect_fail(trail, "not valid JSON", NULL);
    snprintf(trail, sizeof trail, "%s{}", with(NULL, NULL));
    expect_fail(trail, "not valid JSON", NULL);
    expect_fail("{'name': 't'}", "not valid JSON", NULL);
    expect_fail("{\"name\": \"t\",}", "not valid JSON", NULL);
    /* a NUL would make cJSON stop early and ignore the rest */
    char nul[256];
    int n = snprintf(nul, sizeof nul, "%s", with(NULL, NULL));
    memcpy(nul + n, "\0junk", 5);
    expect_fail_n(nul, (size_t)n + 5, "NUL byte", NULL);
    /* cJSON's nesting limit, not the stack, ends this */
    static char deep[20001];
    memset(deep, '[', 20000);
    expect_fail_n(deep, 20000, "not valid JSON", NULL);
    /* text need not be NUL-terminated: parse only the first len bytes */
    const char *ok = with(NULL, NULL);
    char padded[256];
    snprintf(padded, sizeof padded, "%sGARBAGE", ok);
    rb_config c;
    char err[256] = "";
    CHECK(rb_config_parse("mem.json", padded, strlen(ok), &c, err, sizeof err) == 0,
          "len not honoured: %s", err);
}

TEST(config_err_buffer_edges)
{
    rb_config c;
    char small[12];
    memset(small, 'x', sizeof small);
    CHECK(rb_config_parse("mem.json", "{", 1, &c, small, sizeof small) == -1, "rc");
    CHECK(memchr(small, '\0', sizeof small) != NULL, "small err not terminated");
    CHECK(rb_config_parse("mem.json", "{", 1, &c, NULL, 0) == -1, "NULL err");
    CHECK(rb_config_parse(NULL, "{", 1, &c, small, sizeof small) == -1, "NULL path");
    CHECK(rb_config_parse("mem.json", NULL, 0, &c, small, sizeof small) == -1, "NULL text");
}

TEST(config_load_errors)
{
    rb_config c;
    char err[1024] = "";
    CHECK(rb_config_load("configs/does-not-exist.json", &c, err, sizeof err) == -1, "rc");
    CHECK(strstr(err, "configs/does-not-exist.json: cannot open: ") != NULL, "err: %s", err);
    CHECK(rb_config_load("configs", &c, err, sizeof err) == -1, "directory accepted");
    CHECK(strstr(err, "configs: ") == err, "err: %s", err);

    char path[] = "/tmp/rb_cfg_big_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    fputs("{\"comment\": \"", f);
    for (int i = 0; i < (1 << 20); i++)
        fputc('a', f);
    fputs("\"}", f);
    fclose(f);
    CHECK(rb_config_load(path, &c, err, sizeof err) == -1, "1 MiB file accepted");
    CHECK(strstr(err, "larger than 1 MiB") != NULL, "err: %s", err);
    unlink(path);
}

TEST(config_names)
{
    for (rb_method m = 0; m < rb_methods_count(); m++)
        CHECK(rb_method_find(rb_method_name(m)) == m, "method %d", m);
    CHECK(strcmp(rb_method_name(method_id("turboquant-wht")), "turboquant-wht") == 0, "wht");
    CHECK(strcmp(rb_method_name(method_id("planarquant")), "planarquant") == 0, "planar");
    CHECK(rb_method_find("nope") == -1 && rb_method_find(NULL) == -1, "unknown");
    CHECK(rb_method_find("all") == -1, "\"all\" is not a method");
    CHECK(strcmp(rb_dtype_name(RB_FP16), "fp16") == 0 && strcmp(rb_dtype_name(RB_FP32), "fp32") == 0,
          "dtype names");
    CHECK(strcmp(rb_codebook_name(RB_CODEBOOK_BETA), "beta") == 0 &&
              strcmp(rb_codebook_name(RB_CODEBOOK_GAUSSIAN), "gaussian") == 0,
          "codebook names");
}

/* Every prefix and many random byte edits of a real config: never a crash, always 0 or -1 with
 * a one-line message. */
TEST(config_never_crashes)
{
    static const char *text =
        "{\"comment\": \"c\", \"name\": \"p\", \"seed\": 3, \"N\": [8192, 16], \"dims\": [128, 256],"
        " \"bits\": [2, 3, 4], \"dtypes\": [\"fp16\", \"fp32\"], \"methods\": \"all\","
        " \"codebook\": \"beta\", \"distribution\": {\"kind\": \"sphere\"},"
        " \"baseline\": \"rotorquant\", \"output_dir\": \"results\"}";
    size_t len = strlen(text);
    rb_config c;
    char err[512];
    int bad = 0;
    for (size_t n = 0; n <= len; n++) {
        int rc = rb_config_parse("mem.json", text, n, &c, err, sizeof err);
        if (rc != (n == len ? 0 : -1) || (rc && (strchr(err, '\n') || !err[0])))
            bad++;
    }
    CHECK(bad == 0, "%d prefixes misbehaved", bad);
    char buf[1024];
    uint64_t s = 0x9e3779b97f4a7c15ull;
    static const char alphabet[] = "{}[]\",:0123456789.-eE \\ntfu\xEF\x80";
    for (int t = 0; t < 5000; t++) {
        memcpy(buf, text, len);
        for (int k = 0; k < 1 + t % 4; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            buf[(s >> 33) % len] = alphabet[(s >> 20) % (sizeof alphabet - 1)];
        }
        int rc = rb_config_parse("mem.json", buf, len, &c, err, sizeof err);
        if (!(rc == 0 || rc == -1) || (rc && (strchr(err, '\n') || !err[0])))
            bad++;
    }
    CHECK(bad == 0, "%d edits misbehaved", bad);
}

/* The driver (harness/main.c) must exit 2 on a bad config, print the loader's line, and create
 * nothing: a bad config caught after the output directory exists leaves litter. */
TEST(config_driver_exits_2_on_bad_config)
{
    const char *exe = "./build/rotorbench";
    if (access(exe, X_OK) != 0) {
        CHECK(0, "%s not built (run `make` first; `make test` builds it)", exe);
        return;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[512], out_dir[600], cfg_path[600], err_path[600], cmd[2048];
    snprintf(dir, sizeof dir, "%s/rb_cfgtest_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return;
    }
    snprintf(out_dir, sizeof out_dir, "%s/results", dir); /* must never be created */
    snprintf(cfg_path, sizeof cfg_path, "%s/bad_XXXXXX.json", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", dir);
    int fd = mkstemps(cfg_path, 5);
    CHECK(fd >= 0, "mkstemps: %s", strerror(errno));
    if (fd < 0) {
        rmdir(dir);
        return;
    }
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "{\"name\": \"bad\", \"output_dir\": \"%s\", \"seed\": 1, \"N\": 64, "
            "\"dims\": [128], \"bits\": [2, 9], \"methods\": \"all\"}\n",
            out_dir);
    fclose(f);

    snprintf(cmd, sizeof cmd, "%s run '%s' --backend cpu >/dev/null 2>'%s'", exe, cfg_path,
             err_path);
    int st = system(cmd);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 2, "`%s`: status %d, want exit 2", cmd,
          st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);

    char msg[2048] = "";
    FILE *e = fopen(err_path, "r");
    if (e) {
        size_t n = fread(msg, 1, sizeof msg - 1, e);
        msg[n] = '\0';
        fclose(e);
    }
    CHECK(strstr(msg, "bits[1]") != NULL, "stderr lacks the key 'bits[1]': %s", msg);
    CHECK(strstr(msg, "expected an integer in 1..8") != NULL, "stderr lacks the reason: %s", msg);
    struct stat sb;
    CHECK(stat(out_dir, &sb) != 0, "%s was created for a bad config", out_dir);

    unlink(cfg_path);
    unlink(err_path);
    rmdir(out_dir); /* only if the driver wrongly made it (empty) */
    CHECK(rmdir(dir) == 0, "%s not empty afterwards: the driver wrote something", dir);
}

/* HQMQ's block and the channel-outliers distribution: defaults, accepted forms, every bad value
 * named by its key. */
TEST(config_hqmq_block)
{
    rb_config c;
    if (parse_ok(with("methods", "[\"hqmq\", \"isoquant-fast\"]"), &c) == 0) {
        CHECK(c.nmethods == 2 && c.methods[0] == method_id("hqmq"), "hqmq is a method name");
        /* the paper's operating points s24_r3, s96_r4, s192_r4, s192_r6, s24_r6 */
        static const int want[5][2] = {{24, 3}, {96, 4}, {192, 4}, {192, 6}, {24, 6}};
        CHECK(c.hqmq.nops == 5, "default operating points: %d", c.hqmq.nops);
        for (int i = 0; i < 5 && i < c.hqmq.nops; i++)
            CHECK(c.hqmq.ops[i].S == want[i][0] && c.hqmq.ops[i].rbits == want[i][1], "op %d: s%d_r%d", i,
                  c.hqmq.ops[i].S, c.hqmq.ops[i].rbits);
        CHECK(c.hqmq.outliers == 0 && c.hqmq.sigma_inliers == 0 && c.hqmq.C == 3.0, "defaults none/all/3");
    }
    if (parse_ok(with("methods", "\"all\""), &c) == 0)
        check_all_methods(&c);
    if (parse_ok(with("hqmq", "{\"S\": [24, 96], \"radius_bits\": 4, \"outliers\": \"med3\", \"C\": 2.5, "
                              "\"sigma_from\": \"inliers\"}"),
                 &c) == 0) {
        CHECK(c.hqmq.nops == 2 && c.hqmq.ops[0].S == 24 && c.hqmq.ops[1].S == 96 &&
                  c.hqmq.ops[1].rbits == 4, "S x radius_bits");
        CHECK(c.hqmq.outliers == 1 && c.hqmq.sigma_inliers == 1 && c.hqmq.C == 2.5, "med3 inliers 2.5");
    }
    if (parse_ok(with("hqmq", "{\"S\": [1, 1024], \"radius_bits\": [1, 16]}"), &c) == 0)
        CHECK(c.hqmq.nops == 4 && c.hqmq.ops[3].S == 1024 && c.hqmq.ops[3].rbits == 16, "cross product, range ends");
    if (parse_ok(with("hqmq", "{\"outliers\": \"med3\"}"), &c) == 0)
        CHECK(c.hqmq.nops == 5 && c.hqmq.outliers == 1, "med3 on the paper's points");

    expect_fail(with("hqmq", "[24]"), "key 'hqmq'", "expected an object");
    expect_fail(with("hqmq", "{\"s\": 24}"), "unknown key 'hqmq.s'", "expected one of S, radius_bits");
    expect_fail(with("hqmq", "{\"C\": 3, \"C\": 3}"), "key 'hqmq.C'", "expected each key once");
    expect_fail(with("hqmq", "{\"S\": 0, \"radius_bits\": 4}"), "key 'hqmq.S'", "1..1024");
    expect_fail(with("hqmq", "{\"S\": 1025, \"radius_bits\": 4}"), "key 'hqmq.S'", "got 1025");
    expect_fail(with("hqmq", "{\"S\": [24, 24], \"radius_bits\": 4}"), "key 'hqmq.S[1]'", "no repeated");
    expect_fail(with("hqmq", "{\"S\": 24, \"radius_bits\": [4, 17]}"), "key 'hqmq.radius_bits[1]'", "1..16");
    expect_fail(with("hqmq", "{\"S\": 24}"), "key 'hqmq.radius_bits'", "got nothing");
    expect_fail(with("hqmq", "{\"radius_bits\": 4}"), "key 'hqmq.S'", "got nothing");
    expect_fail(with("hqmq", "{\"outliers\": \"med5\"}"), "key 'hqmq.outliers'", "\"none\" or \"med3\"");
    expect_fail(with("hqmq", "{\"outliers\": \"med3\", \"C\": 0}"), "key 'hqmq.C'", "a number > 0");
    expect_fail(with("hqmq", "{\"outliers\": \"med3\", \"C\": \"3\"}"), "key 'hqmq.C'", "got \"3\"");
    expect_fail(with("hqmq", "{\"outliers\": \"med3\", \"C\": 1e9}"), "key 'hqmq.C'", "<= 1000");
    expect_fail(with("hqmq", "{\"sigma_from\": \"max\"}"), "key 'hqmq.sigma_from'", "\"all\" or \"inliers\"");
    expect_fail(with("hqmq", "{\"sigma_from\": \"inliers\"}"), "key 'hqmq.sigma_from'", "med3");
    expect_fail(with("methods", "[\"hqmq\", \"hqmq\"]"), "key 'methods[1]'", "no repeated");
    expect_fail(with("baseline", "\"hqmq\""), "key 'baseline'", "expected one of");
}

TEST(config_channel_outliers_distribution)
{
    rb_config c;
    if (parse_ok(with("distribution", "{\"kind\": \"channel-outliers\", \"channels\": 4, \"scale\": 20}"), &c) == 0)
        CHECK(c.dists[0].kind == RB_DIST_CHANNEL_OUTLIERS && c.dists[0].channels == 4 && c.dists[0].scale == 20.0,
              "channel-outliers 4 x 20");
    if (parse_ok(with("distribution", "{\"kind\": \"channel-outliers\", \"channels\": 128, \"scale\": 0.5}"), &c) == 0)
        CHECK(c.dists[0].channels == 128 && c.dists[0].scale == 0.5, "every channel of the smallest d, scale < 1");
    if (parse_ok(with("distribution", "\"channel-outliers\""), &c) == 0) {
        CHECK(c.dists[0].kind == RB_DIST_CHANNEL_OUTLIERS && c.dists[0].channels == 4 && c.dists[0].scale == 20.0,
              "string form takes the defaults 4 and 20");
        rb_data_dist d = c.dists[0];
        CHECK(c.ndists == 1 && d.kind == RB_DIST_CHANNEL_OUTLIERS && d.channels == 4 && d.scale == 20.0f, "dists[0]");
    }
    CHECK(strcmp(rb_distribution_name(RB_DIST_CHANNEL_OUTLIERS), "channel-outliers") == 0, "name");
    expect_fail(with("distribution", "{\"kind\": \"channel-outliers\", \"channels\": 129}"),
                "key 'distribution.channels'", "expected at most 128");
    expect_fail(with("distribution", "{\"kind\": \"channel-outliers\", \"channels\": 0}"),
                "key 'distribution.channels'", "1..4096");
    expect_fail(with("distribution", "{\"kind\": \"channel-outliers\", \"channels\": 2.5}"),
                "key 'distribution.channels'", "got 2.5");
    expect_fail(with("distribution", "{\"kind\": \"channel-outliers\", \"scale\": -1}"),
                "key 'distribution.scale'", "a number > 0");
    expect_fail(with("distribution", "{\"kind\": \"channel-outliers\", \"scale\": \"big\"}"),
                "key 'distribution.scale'", "got \"big\"");
    expect_fail(with("distribution", "{\"kind\": \"sphere\", \"scale\": 2}"), "key 'distribution.scale'",
                "only with kind \"channel-outliers\"");
    expect_fail(with("distribution", "{\"kind\": \"channel-outliers\", \"channels\": 1, \"channels\": 2}"),
                "key 'distribution.channels'", "expected each key once");
    expect_fail(with("distribution", "\"outliers\""), "key 'distribution'", "\"channel-outliers\"");
}

TEST(config_assume_unit_norm)
{
    rb_config c;
    if (parse_ok(with("assume_unit_norm", "true"), &c) == 0)
        CHECK(c.unit_norm == 1, "assume_unit_norm true");
    if (parse_ok(with("assume_unit_norm", "false"), &c) == 0)
        CHECK(c.unit_norm == 0, "assume_unit_norm false");
    if (parse_ok(with("comment", "\"absent\""), &c) == 0)
        CHECK(c.unit_norm == 0, "assume_unit_norm defaults to false");
    expect_fail(with("assume_unit_norm", "1"), "key 'assume_unit_norm'", "expected true or false");
    expect_fail(with("assume_unit_norm", "\"yes\""), "key 'assume_unit_norm'", "expected true or false");
}

/* The environment knobs are checked before any work: a bad value is one line naming the knob. */
TEST(config_rejects_bad_env_knobs)
{
    static const char *const bad[][2] = {
        {"RB_HQMQ_SEARCH", "brute"}, {"RB_HQMQ_CELLS_G", "1"},   {"RB_HQMQ_CELLS_G", "129"},
        {"RB_HQMQ_CELLS_G", "64x"},  {"RB_FAST_SHAPE", "medium"}, {"RB_GPU_DEVICE_RNG", "yes"},
        {"RB_DENSE_TC", "hmma"},     {"RB_KVA_FP16", "smem"},
    };
    static const char *const good[][2] = {
        {"RB_HQMQ_SEARCH", "cells"}, {"RB_HQMQ_CELLS_G", "80"}, {"RB_FAST_SHAPE", "large"}, {"RB_GPU_DEVICE_RNG", "1"},
        {"RB_DENSE_TC", "mma"},      {"RB_DENSE_TC", "wgmma"},  {"RB_KVA_FP16", "registers"}, {"RB_KVA_FP16", "staged"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *old = getenv(bad[i][0]);
        char *keep = old ? strdup(old) : NULL;
        setenv(bad[i][0], bad[i][1], 1);
        err[0] = '\0';
        CHECK(rb_run_knobs_check(err, sizeof err) == -1 && strstr(err, bad[i][0]) && strstr(err, bad[i][1]),
              "%s=%s accepted (or not named): '%s'", bad[i][0], bad[i][1], err);
        if (keep)
            setenv(bad[i][0], keep, 1);
        else
            unsetenv(bad[i][0]);
        free(keep);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *old = getenv(good[i][0]);
        char *keep = old ? strdup(old) : NULL;
        setenv(good[i][0], good[i][1], 1);
        CHECK(rb_run_knobs_check(err, sizeof err) == 0, "%s=%s refused: %s", good[i][0], good[i][1], err);
        if (keep)
            setenv(good[i][0], keep, 1);
        else
            unsetenv(good[i][0]);
        free(keep);
    }
}

/* The knobs are read into one struct, the values the launchers take (and the record's knobs). */
TEST(run_options_hold_the_knobs)
{
    static const char *const names[] = {"RB_HQMQ_SEARCH", "RB_HQMQ_CELLS_G", "RB_GPU_DEVICE_RNG", "RB_FAST_SHAPE",
                                         "RB_DENSE_TC",    "RB_KVA_FP16"};
    char *keep[6];
    for (int i = 0; i < 6; i++) {
        const char *v = getenv(names[i]);
        keep[i] = v ? strdup(v) : NULL;
        unsetenv(names[i]);
    }
    rb_run_options o;
    char err[256];
    CHECK(rb_run_options_read(&o, err, sizeof err) == 0 && o.nset == 0 && !o.joined[0] && o.fast_shape == 0 &&
              o.dense_mma == 0 && o.hqmq_search == RB_HQ_SEARCH_AUTO && o.hqmq_cells_g == 0 && o.gpu_device_rng == 0 &&
              o.kva_fp16_regs == 0,
          "defaults: nset %d, '%s'", o.nset, o.joined);
    setenv("RB_FAST_SHAPE", "large", 1);
    setenv("RB_DENSE_TC", "mma", 1);
    setenv("RB_HQMQ_SEARCH", "fp32", 1);
    setenv("RB_HQMQ_CELLS_G", "40", 1);
    setenv("RB_GPU_DEVICE_RNG", "1", 1);
    setenv("RB_KVA_FP16", "registers", 1);
    CHECK(rb_run_options_read(&o, err, sizeof err) == 0 && o.fast_shape == 2 && o.dense_mma == 1 &&
              o.hqmq_search == RB_HQ_SEARCH_FP32 && o.hqmq_cells_g == 40 && o.gpu_device_rng == 1 &&
              o.kva_fp16_regs == 1 && o.nset == 6,
          "all set: shape %d mma %d search %d g %d rng %d", o.fast_shape, o.dense_mma, o.hqmq_search, o.hqmq_cells_g,
          o.gpu_device_rng);
    CHECK(!strcmp(o.joined, "RB_HQMQ_SEARCH=fp32;RB_HQMQ_CELLS_G=40;RB_GPU_DEVICE_RNG=1;RB_FAST_SHAPE=large;"
                            "RB_DENSE_TC=mma;RB_KVA_FP16=registers"),
          "joined '%s'", o.joined);
    setenv("RB_FAST_SHAPE", "small", 1);
    setenv("RB_DENSE_TC", "wgmma", 1);
    setenv("RB_KVA_FP16", "staged", 1);
    CHECK(rb_run_options_read(&o, err, sizeof err) == 0 && o.fast_shape == 1 && o.dense_mma == 0 &&
              o.kva_fp16_regs == 0,
          "small / wgmma / staged");
    setenv("RB_FAST_SHAPE", "tiny", 1);
    CHECK(rb_run_options_read(&o, err, sizeof err) == -1 && o.nset == 0 && strstr(err, "RB_FAST_SHAPE"),
          "a bad value: refused, defaults kept ('%s')", err);
    for (int i = 0; i < 6; i++) {
        if (keep[i])
            setenv(names[i], keep[i], 1);
        else
            unsetenv(names[i]);
        free(keep[i]);
    }
    CHECK(rb_run_knobs_check(err, sizeof err) == 0, "the environment as it was: %s", err);
}

/* --device takes a device number; anything else is exit 2 and one line naming it, before any work. */
TEST(config_driver_refuses_a_bad_device)
{
    const char *exe = "./build/rotorbench";
    if (access(exe, X_OK) != 0) {
        CHECK(0, "%s not built (run `make` first; `make test` builds it)", exe);
        return;
    }
    static const char *const bad[] = {"x", "-1", "1x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[512], line[512] = "";
        snprintf(cmd, sizeof cmd, "%s run configs/smoke.json --device '%s' --out /nonexistent/rb 2>&1 >/dev/null; echo $?",
                 exe, bad[i]);
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL, "popen %s", cmd);
        if (!p)
            continue;
        char first[512] = "", last[512] = "";
        if (fgets(first, sizeof first, p))
            while (fgets(line, sizeof line, p))
                snprintf(last, sizeof last, "%s", line);
        pclose(p);
        CHECK(strstr(first, "--device must be a device number") && strstr(first, bad[i]) && atoi(last) == 2,
              "--device '%s': first line '%s', status %s", bad[i], first, last);
    }
}
