/* Methods added the way docs/adding-a-method.md allows, registered into this test binary before
 * any test runs, so that every test that loops over the registry (config "all", the descriptor
 * checks, the CPU reference pipeline: orthogonality, Lloyd-Max MSE, seeds, zero and NaN rows)
 * also runs over shapes of registry the built-ins alone do not have:
 *   - test-givens-all: in "all" (in_all = 1), placed after hqmq, which is not: "all" is then not
 *     the registry's first n indices;
 *   - test-signs-cpu: CPU only (launch = NULL, variants = 0), with 3-blocks, so d = 7 or 128
 *     leaves a zero-padded last block.
 * Neither has a GPU launcher (this file is C, built by gcc): the GPU backend skips them and the
 * GPU tests do not see them (they are linked into test_cpu only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "givens.h"
#include "methods.h"

/* ---- test-givens-all: a Givens rotation per 2-block, as PlanarQuant, in "all" ------------ */
static int givens_block(int d) { (void)d; return 2; }
static long givens_params(int d) { return 2L * ((d + 1) / 2); }
static long givens_fma(int d) { return 4L * ((d + 1) / 2); }
static void givens_fwd(const rb_qdq_params *p, float *v, float *tmp)
{
    (void)tmp;
    for (int b = 0; b < p->nblocks; b++)
        rb_givens_fwd(p->rot[2 * b], p->rot[2 * b + 1], v + 2 * b);
}
static void givens_inv(const rb_qdq_params *p, float *v, float *tmp)
{
    (void)tmp;
    for (int b = 0; b < p->nblocks; b++)
        rb_givens_inv(p->rot[2 * b], p->rot[2 * b + 1], v + 2 * b);
}

static const rb_method_desc test_givens_all = {
    .abi = RB_METHOD_ABI,
    .name = "test-givens-all",
    .paper_name = NULL,
    .summary = "a Givens rotation per 2-block (test: a CPU-only method in \"all\")",
    .in_all = 1,
    .block = givens_block,
    .param_count = givens_params,
    .fma = givens_fma,
    .check_d = NULL,
    .param_kind = RB_PARAMS_UNIT_GROUPS,
    .param_group = 2,
    .rotate_fwd = givens_fwd,
    .rotate_inv = givens_inv,
    .launch = NULL,
    .variants = 0,
    .hooks = NULL,
    .fast_ybound = NULL,
};

/* ---- test-signs-cpu: a sign per coordinate over 3-blocks, CPU only, not in "all" ---------- */
static int signs3_block(int d) { (void)d; return 3; }
static long signs3_params(int d) { return 3L * ((d + 2) / 3); }
static long signs3_fma(int d) { return d; }
static void signs3_rotate(const rb_qdq_params *p, float *v, float *tmp)
{
    (void)tmp;
    for (int j = 0; j < p->dpad; j++)
        v[j] *= p->rot[j];
}

static const rb_method_desc test_signs_cpu = {
    .abi = RB_METHOD_ABI,
    .name = "test-signs-cpu",
    .paper_name = NULL,
    .summary = "random signs per coordinate in 3-blocks (test: a CPU-only method)",
    .in_all = 0,
    .block = signs3_block,
    .param_count = signs3_params,
    .fma = signs3_fma,
    .check_d = NULL,
    .param_kind = RB_PARAMS_SIGNS,
    .param_group = 0,
    .rotate_fwd = signs3_rotate,
    .rotate_inv = signs3_rotate,
    .launch = NULL,
    .variants = 0,
    .hooks = NULL,
    .fast_ybound = NULL,
};

/* Before main, so before any test (and before run_tests.c loads --plugin libraries). */
__attribute__((constructor)) static void register_added_methods(void)
{
    char err[512];
    if (rb_method_register(&test_givens_all, "tests/test_added_methods.c", err, sizeof err) ||
        rb_method_register(&test_signs_cpu, "tests/test_added_methods.c", err, sizeof err)) {
        fprintf(stderr, "tests: %s\n", err);
        exit(2);
    }
}

/* "all" is every in_all method in registry order, wherever it sits: here built-ins 0-6, then
 * test-givens-all after hqmq (which is not in "all"), never test-signs-cpu. */
TEST(added_methods_all_follows_in_all_not_positions)
{
    rb_config c;
    char err[1024] = "";
    const char *text = "{\"name\": \"t\", \"seed\": 1, \"N\": 8, \"dims\": 16, \"bits\": 2, \"methods\": \"all\"}";
    int rc = rb_config_parse("mem.json", text, strlen(text), &c, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc)
        return;
    rb_method g = method_id("test-givens-all"), s = method_id("test-signs-cpu"), h = method_id("hqmq");
    CHECK(h < g, "hqmq (%d) before test-givens-all (%d)", (int)h, (int)g);
    int has_g = 0, has_s = 0, has_h = 0, contiguous = 1;
    for (int i = 0; i < c.nmethods; i++) {
        has_g += c.methods[i] == g;
        has_s += c.methods[i] == s;
        has_h += c.methods[i] == h;
        contiguous &= c.methods[i] == (rb_method)i;
    }
    CHECK(has_g == 1 && has_s == 0 && has_h == 0, "\"all\": test-givens-all %d, test-signs-cpu %d, hqmq %d", has_g,
          has_s, has_h);
    CHECK(!contiguous, "\"all\" is registry indices 0..%d here, so this test shows nothing", c.nmethods - 1);
}

/* The registry-driven tests see both (a loop that skipped them would test nothing new). */
TEST(added_methods_are_rotation_methods_of_the_registry)
{
    int seen = 0;
    FOR_EACH_ROTATION_METHOD(m)
    {
        const rb_method_desc *d = rb_method_get(m);
        seen += d == &test_givens_all || d == &test_signs_cpu;
    }
    CHECK(seen == 2, "FOR_EACH_ROTATION_METHOD visits %d of the 2 added methods", seen);
    CHECK(strcmp(rb_method_origin(method_id("test-signs-cpu")), "tests/test_added_methods.c") == 0, "origin %s",
          rb_method_origin(method_id("test-signs-cpu")));
}
