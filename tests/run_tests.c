/* run_tests.c: runs every TEST registered by the linked test files, in file order, or only
 * those whose name contains FILTER (=NAME: only the test of that name). Ends with the line
 * "N passed, N failed".
 *
 * usage: test_cpu [--plugin LIB.so ...] [--list] [FILTER | =NAME]
 * --plugin registers a plugin's methods first, as `rotorbench run --plugin` does, so every test
 * that loops over the registry tests them too (make test PLUGIN=lib.so). --list prints the names
 * the filter selects, one a line, in run order, and runs nothing: a runner with short leases of
 * a GPU takes the suite a test at a time (tests/gpu/run_kv.sh, step testgpu). */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#include "registry.h"

#define MAX_TESTS 512

static struct { const char *name, *file; rb_test_fn fn; } tests[MAX_TESTS];
static int ntests, npassed, nfailed;
static const char *cur_test;
int rb_check_verbose;

void rb_test_register(const char *name, const char *file, rb_test_fn fn)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "too many tests (raise MAX_TESTS)\n");
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests].file = file;
    tests[ntests].fn = fn;
    ntests++;
}

void rb_check_record(int ok, const char *file, int line, const char *expr)
{
    if (ok) {
        npassed++;
        return;
    }
    nfailed++;
    fprintf(stderr, "FAIL %s (%s:%d): %s\n", cur_test, file, line, expr);
}

static int by_file(const void *a, const void *b)
{
    const char *fa = *(const char *const *)a, *fb = *(const char *const *)b;
    return strcmp(fa, fb);
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    int list = 0;
    for (int i = 1; i < argc; i++) {
        char err[1024];
        if (!strcmp(argv[i], "--plugin")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tests: --plugin needs a library\n");
                return 2;
            }
            if (rb_plugin_load(argv[++i], err, sizeof err)) {
                fprintf(stderr, "tests: %s\n", err);
                return 2;
            }
        } else if (!strcmp(argv[i], "--list")) {
            list = 1;
        } else if (argv[i][0] == '-' || filter) {
            fprintf(stderr, "tests: unexpected argument %s (usage: [--plugin LIB.so ...] [--list] [FILTER | =NAME])\n",
                    argv[i]);
            return 2;
        } else {
            filter = argv[i];
        }
    }
    /* registration order within a file is source order; sort files for a stable run */
    int order[MAX_TESTS];
    for (int i = 0; i < ntests; i++)
        order[i] = i;
    for (int i = 1; i < ntests; i++) /* insertion sort keeps in-file order stable */
        for (int j = i; j > 0 && by_file(&tests[order[j - 1]].file, &tests[order[j]].file) > 0; j--) {
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    int ran = 0;
    for (int k = 0; k < ntests; k++) {
        int i = order[k];
        if (filter && (filter[0] == '=' ? strcmp(tests[i].name, filter + 1) : !strstr(tests[i].name, filter)))
            continue;
        if (list) {
            printf("%s\n", tests[i].name);
            ran++;
            continue;
        }
        cur_test = tests[i].name;
        int before = nfailed;
        tests[i].fn();
        ran++;
        printf("%-4s %s\n", nfailed == before ? "ok" : "FAIL", tests[i].name);
        fflush(stdout);
    }
    if (ran == 0)
        fprintf(stderr, "no test matched\n");
    if (list)
        return ran == 0 ? 1 : 0;
    printf("%d passed, %d failed\n", npassed, nfailed);
    return (nfailed || ran == 0) ? 1 : 0;
}
