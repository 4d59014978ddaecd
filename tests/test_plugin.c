/* Plugins: the example plugin (examples/plugin/signs.cu, built by `make examples`) runs through
 * `rotorbench run` like a built-in method, and its broken builds are refused with one line and
 * exit status 2 before any work. Each run is a child process with a registry of its own; this
 * binary's registry holds whatever make test loaded into it (PLUGIN=), and the checks on every
 * descriptor run over all of it. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "driver.h"
#include "methods.h"

#define PLUGIN_DIR "build/examples/"

static double mse_of(const cJSON *recs, const char *method, int d, int bits, const char *dtype)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, recs)
    {
        const cJSON *m = cJSON_GetObjectItem(r, "method"), *dt = cJSON_GetObjectItem(r, "dtype");
        if (cJSON_IsString(m) && !strcmp(m->valuestring, method) && cJSON_IsString(dt) &&
            !strcmp(dt->valuestring, dtype) && cJSON_GetObjectItem(r, "d")->valueint == d &&
            cJSON_GetObjectItem(r, "bits")->valueint == bits)
            return cJSON_GetObjectItem(r, "mse")->valuedouble;
    }
    return -1;
}

TEST(plugin_example_runs_like_a_builtin_method)
{
    char dir[] = "/tmp/rb_pluginXXXXXX", args[512], err[4096];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(args, sizeof args, "examples/plugin/signs.json --backend cpu --out %s --plugin %slibexample_signs.so", dir,
             PLUGIN_DIR);
    int rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0, "exit status %d, stderr:\n%s", rc, err);
    char path[600];
    snprintf(path, sizeof path, "%s/plugin_signs-cpu.json", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "no %s", path);
    if (!f)
        return;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    const cJSON *recs = cJSON_GetObjectItem(j, "records");
    CHECK(cJSON_GetArraySize(recs) == 16, "%d records, want 2 methods x 2 d x 2 bits x 2 dtypes",
          cJSON_GetArraySize(recs));
    /* A sign flip per coordinate and a symmetric codebook: exactly the control's error. */
    const int dims[2] = {64, 128};
    const char *dts[2] = {"fp32", "fp16"};
    for (int di = 0; di < 2; di++)
        for (int bits = 2; bits <= 3; bits++)
            for (int t = 0; t < 2; t++) {
                double a = mse_of(recs, "identity", dims[di], bits, dts[t]);
                double b = mse_of(recs, "example-signs", dims[di], bits, dts[t]);
                CHECK(a > 0 && a == b, "d=%d b=%d %s: identity MSE %.9g, example-signs %.9g", dims[di], bits, dts[t],
                      a, b);
            }
    cJSON_Delete(j);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    CHECK(system(args) == 0, "cannot remove %s", dir);
}

TEST(plugin_bad_builds_are_refused_with_one_line)
{
    static const struct {
        const char *lib, *want;
    } cases[] = {
        /* tests/plugins/broken.c, built by make test */
        {"build/tests/plugins/libbroken_abi99.so", "built for method ABI 99, this rotorbench needs"},
        {"build/tests/plugins/libbroken_nosym.so", "no symbol rb_plugin_abi"},
        {"build/tests/plugins/libbroken_clash.so", "method name 'identity' is already taken (built-in)"},
        {"build/examples/libnot_there.so", "cannot load"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512], err[4096];
        snprintf(args, sizeof args, "examples/plugin/signs.json --backend cpu --out /nonexistent --plugin %s",
                 cases[i].lib);
        int rc = run_driver(args, err, sizeof err);
        CHECK(rc == 2, "%s: exit status %d, want 2", cases[i].lib, rc);
        CHECK(strstr(err, cases[i].want) != NULL && strstr(err, cases[i].lib) != NULL && count_lines(err) == 1,
              "%s: stderr is not one line naming it and saying '%s':\n%s", cases[i].lib, cases[i].want, err);
    }
}

/* Without the plugin the config's method name is unknown: the config error, not a crash. */
TEST(plugin_method_unknown_without_the_plugin)
{
    char err[4096];
    int rc = run_driver("examples/plugin/signs.json --backend cpu --out /tmp", err, sizeof err);
    CHECK(rc == 2 && strstr(err, "example-signs") != NULL, "exit %d, stderr: %s", rc, err);
}

/* Every registered descriptor (built in, added by tests/test_added_methods.c, from --plugin)
 * passes the checks a plugin's must pass; the built-ins come first and say so. A method may be
 * CPU only (no launcher, no variants) or implement one GPU variant or both. */
TEST(registry_descriptors_are_valid)
{
    char err[256];
    CHECK(rb_methods_builtin_count() >= 8 && rb_methods_count() >= rb_methods_builtin_count(), "%d built-ins of %d",
          rb_methods_builtin_count(), rb_methods_count());
    for (rb_method m = 0; m < rb_methods_count(); m++) {
        const rb_method_desc *d = rb_method_get(m);
        CHECK(rb_method_check(d, err, sizeof err) == 0, "%s: %s", d->name, err);
        CHECK(rb_method_find(d->name) == m, "%s found at %d", d->name, rb_method_find(d->name));
        CHECK(!d->paper_name || rb_method_find_paper(d->paper_name) == m, "%s: paper name %s", d->name,
              d->paper_name);
        CHECK(d->block(128) >= 1 && d->param_count(128) >= 0 && d->fma(128) >= 0, "%s counts", d->name);
        CHECK(d->launch ? d->variants != 0 && !(d->variants & ~(RB_VARIANT_BIT_PAPER | RB_VARIANT_BIT_FAST | RB_VARIANT_BIT_ENCODE | RB_VARIANT_BIT_DECODE))
                        : d->variants == 0,
              "%s: variants 0x%x with %s launcher", d->name, d->variants, d->launch ? "a" : "no");
        CHECK((m < rb_methods_builtin_count()) == !strcmp(rb_method_origin(m), "built-in"), "%s: origin %s",
              d->name, rb_method_origin(m));
    }
    const int n = rb_methods_count();
    CHECK(rb_method_get(-1) == NULL && rb_method_get(n) == NULL, "out of range");
    rb_method_desc bad = *rb_method_get(0);
    bad.abi = RB_METHOD_ABI + 1;
    CHECK(rb_method_check(&bad, err, sizeof err) != 0 && strstr(err, "ABI"), "ABI: %s", err);
    bad = *rb_method_get(0);
    bad.fma = NULL;
    CHECK(rb_method_check(&bad, err, sizeof err) != 0 && strstr(err, "no fma"), "fma: %s", err);
    bad = *rb_method_get(0);
    bad.name = "Has Space";
    CHECK(rb_method_check(&bad, err, sizeof err) != 0 && strstr(err, "name"), "name: %s", err);
    bad = *rb_method_get(0);
    bad.launch = NULL; /* variants without a launcher */
    CHECK(rb_method_check(&bad, err, sizeof err) != 0 && strstr(err, "variants"), "variants: %s", err);
    bad = *rb_method_get(0);
    CHECK(rb_method_register(&bad, "test", err, sizeof err) != 0 && strstr(err, "already taken"), "clash: %s",
          err);
    CHECK(rb_methods_count() == n, "a refused method is not registered");
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char bufs[3][1 << 16];
    static int k;
    char *b = bufs[k++ % 3];
    size_t n = fread(b, 1, sizeof bufs[0] - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* The C shown in docs/adding-a-method.md is the code of the files it names, verbatim, so that
 * the doc cannot drift from what builds (its shell lines are run by .ci/run). */
TEST(docs_adding_a_method_code_is_the_source)
{
    const char *doc = slurp("docs/adding-a-method.md"), *planar = slurp("kernels/planarquant.cu"),
               *signs = slurp("examples/plugin/signs.cu");
    CHECK(doc && planar && signs, "cannot read the doc or its sources (run from the repo root)");
    if (!doc || !planar || !signs)
        return;
    int blocks = 0;
    for (const char *p = strstr(doc, "```c\n"); p; p = strstr(p, "```c\n")) {
        p += 5;
        const char *e = strstr(p, "```");
        if (!e)
            break;
        char block[4096];
        int n = (int)(e - p) < (int)sizeof block - 1 ? (int)(e - p) : (int)sizeof block - 1;
        memcpy(block, p, (size_t)n);
        block[n] = '\0';
        CHECK(strstr(planar, block) || strstr(signs, block),
              "this C block of docs/adding-a-method.md is in neither planarquant.cu nor signs.cu:\n%s", block);
        blocks++;
        p = e + 3;
    }
    CHECK(blocks == 2, "%d C blocks in the doc, want the descriptor and the plugin's exports", blocks);
}
