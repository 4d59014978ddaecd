/* test_compare.c: the regression gate (harness/compare.c). Small result files are written to a
 * temporary directory and compared; the exit status says 0 no regression, 1 regression, 2 a bad
 * file, and the report names what it found. */
#include "check.h"
#include "compare.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];
static char made[64][256]; /* files written, removed at exit with the directory */
static int nmade;

static void cleanup(void)
{
    for (int i = 0; i < nmade; i++)
        remove(made[i]);
    if (strcmp(tmpdir, "/tmp") != 0)
        rmdir(tmpdir);
}

static const char *dir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/rb_compare_XXXXXX");
        if (!mkdtemp(tmpdir))
            snprintf(tmpdir, sizeof tmpdir, "/tmp");
        atexit(cleanup);
    }
    return tmpdir;
}

static FILE *create(const char *path)
{
    if (nmade < 64)
        snprintf(made[nmade++], sizeof made[0], "%s", path);
    return fopen(path, "w");
}

/* One record as JSON text; mse NULL writes null. */
static char *rec(char *buf, size_t n, const char *method, int d, int bits, const char *mse,
                 double median_us, double noise)
{
    snprintf(buf, n,
             "{\"method\": \"%s\", \"variant\": \"fast\", \"d\": %d, \"bits\": %d, "
             "\"dtype\": \"fp16\", \"N\": 8192, \"codebook\": \"gaussian\", \"mse\": %s, "
             "\"time\": {\"clock\": \"cuda-events\", \"median_us\": %.17g, \"noise\": %.17g}}",
             method, d, bits, mse ? mse : "null", median_us, noise);
    return buf;
}

/* rec's record with the hot samples' SM clock (time.hot_sm_clock_khz) as well. */
static char *rec_clock(char *buf, size_t n, const char *method, double median_us, double clock_khz)
{
    snprintf(buf, n,
             "{\"method\": \"%s\", \"variant\": \"fast\", \"d\": 256, \"bits\": 3, "
             "\"dtype\": \"fp16\", \"N\": 8192, \"codebook\": \"gaussian\", \"mse\": 5e-4, "
             "\"time\": {\"clock\": \"cuda-events\", \"median_us\": %.17g, \"noise\": 0.01, "
             "\"hot_sm_clock_khz\": %.17g}}",
             method, median_us, clock_khz);
    return buf;
}

/* A result file of `backend` with this machine block, up to three records (NULL ends the list). */
static const char *write_result_on(const char *name, const char *backend, const char *machine, const char *r1,
                                   const char *r2, const char *r3)
{
    static char paths[8][256];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 256, "%s/%s.json", dir(), name);
    FILE *f = create(path);
    if (!f)
        return path;
    fprintf(f, "{\"tool\": \"rotorbench\", \"backend\": \"%s\", \"machine\": %s, \"records\": [", backend,
            machine);
    const char *r[3] = {r1, r2, r3};
    for (int i = 0, k = 0; i < 3; i++)
        if (r[i])
            fprintf(f, "%s%s", k++ ? ", " : "", r[i]);
    fprintf(f, "]}\n");
    fclose(f);
    return path;
}

/* A GPU result file on `gpu`. */
static const char *write_result(const char *name, const char *gpu, const char *r1, const char *r2,
                                const char *r3)
{
    char machine[256];
    snprintf(machine, sizeof machine, "{\"gpu_name\": \"%s\"}", gpu);
    return write_result_on(name, "gpu", machine, r1, r2, r3);
}

#define H100 "NVIDIA H100 80GB HBM3"

/* A result file on the H100 with one record (rec's arguments). */
static const char *write_one(const char *name, const char *method, int d, int bits, const char *mse,
                             double median_us, double noise)
{
    char r[512];
    return write_result(name, H100, rec(r, sizeof r, method, d, bits, mse, median_us, noise), NULL, NULL);
}

static char report[1 << 16];

/* rb_compare_run on (base, new, flags...); the report lands in `report`. */
static int compare_flags(const char *base, const char *cur, const char *f1, const char *f2)
{
    char *argv[] = {"compare", (char *)base, (char *)cur, (char *)f1, (char *)f2, NULL};
    int argc = 3 + (f1 != NULL) + (f1 && f2);
    FILE *out = tmpfile(), *err = tmpfile();
    if (!out || !err)
        return -1;
    int rc = rb_compare_run(argc, argv, out, err);
    rewind(out);
    size_t n = fread(report, 1, sizeof report - 1, out);
    report[n] = '\0';
    fclose(out);
    fclose(err);
    return rc;
}

/* rb_compare_run on (base, new[, "--time-tol", tol]). */
static int compare(const char *base, const char *cur, const char *tol)
{
    return compare_flags(base, cur, tol ? "--time-tol" : NULL, tol);
}


TEST(compare_identical)
{
    char a[512], b[512];
    const char *p = write_result("same", H100, rec(a, sizeof a, "rotorquant", 128, 2, "1e-3", 30, 0.01),
                                 rec(b, sizeof b, "isoquant-fast", 128, 2, "9e-4", 8, 0.01), NULL);
    int rc = compare(p, p, NULL);
    CHECK(rc == 0, "rc %d\n%s", rc, report);
    CHECK(strstr(report, "| SAME |") != NULL, "no SAME row:\n%s", report);
    CHECK(strstr(report, "2 compared: 2 same") != NULL, "summary:\n%s", report);
}

TEST(compare_mse_changed)
{
    const char *p = write_one("mse_base", "rotorquant", 128, 2, "1e-3", 30, 0.01);
    const char *q = write_one("mse_new", "rotorquant", 128, 2, "1.00001e-3", 30, 0.01);
    int rc = compare(p, q, NULL);
    CHECK(rc == 1, "1e-5 relative MSE change: rc %d\n%s", rc, report);
    CHECK(strstr(report, "MSE-CHANGED") != NULL, "no MSE-CHANGED:\n%s", report);
    /* within 1e-6: rounding, not a change */
    q = write_one("mse_tiny", "rotorquant", 128, 2, "1.0000001e-3", 30, 0.01);
    rc = compare(p, q, NULL);
    CHECK(rc == 0, "1e-7 relative MSE change: rc %d\n%s", rc, report);
    /* null on one side only is a change; null on both is not */
    q = write_one("mse_null", "rotorquant", 128, 2, NULL, 30, 0.01);
    rc = compare(p, q, NULL);
    CHECK(rc == 1, "number -> null: rc %d\n%s", rc, report);
    rc = compare(q, p, NULL);
    CHECK(rc == 1, "null -> number: rc %d\n%s", rc, report);
    rc = compare(q, q, NULL);
    CHECK(rc == 0, "null -> null: rc %d\n%s", rc, report);
}

TEST(compare_slower)
{
    const char *p = write_one("slow_base", "isoquant-fast", 256, 3, "5e-4", 10, 0.01);
    const char *q = write_one("slow_new", "isoquant-fast", 256, 3, "5e-4", 12, 0.01);
    int rc = compare(p, q, NULL);
    CHECK(rc == 1, "20%% slower, 1%% noise: rc %d\n%s", rc, report);
    CHECK(strstr(report, "SLOWER") != NULL, "no SLOWER:\n%s", report);
    /* a looser tolerance lets it through */
    rc = compare(p, q, "0.25");
    CHECK(rc == 0, "20%% slower, --time-tol 0.25: rc %d\n%s", rc, report);
}

/* A slower setting at a lower SM clock stays SLOWER (the gate fails) and the report says the
 * clock dropped; at the base's clock, or without clocks, it says nothing of clocks. */
TEST(compare_slower_at_a_lower_clock)
{
    char a[512], b[512], c[512];
    const char *p = write_result("clk_base", H100, rec_clock(a, sizeof a, "isoquant-fast", 10, 1980000), NULL, NULL);
    const char *q = write_result("clk_low", H100, rec_clock(b, sizeof b, "isoquant-fast", 12, 1500000), NULL, NULL);
    int rc = compare(p, q, NULL);
    CHECK(rc == 1, "20%% slower at 1500 MHz: rc %d\n%s", rc, report);
    CHECK(strstr(report, "**SLOWER** at a lower clock (1980 -> 1500 MHz)") != NULL, "no clock note:\n%s", report);
    CHECK(strstr(report, "1 of the slower setting ran its hot samples at an SM clock 5 % or more below") != NULL,
          "no summary of the clocks:\n%s", report);
    const char *r = write_result("clk_same", H100, rec_clock(c, sizeof c, "isoquant-fast", 12, 1960000), NULL, NULL);
    rc = compare(p, r, NULL);
    CHECK(rc == 1 && strstr(report, "SLOWER") && !strstr(report, "lower clock") && !strstr(report, "SM clock"),
          "20%% slower at 1960 MHz (1 %% lower): rc %d\n%s", rc, report);
    const char *s = write_one("clk_none", "isoquant-fast", 256, 3, "5e-4", 12, 0.01);
    rc = compare(p, s, NULL);
    CHECK(rc == 1 && !strstr(report, "lower clock"), "no clock in NEW: rc %d\n%s", rc, report);
    rc = compare(q, p, NULL); /* faster at a higher clock: no note */
    CHECK(rc == 0 && strstr(report, "FASTER") && !strstr(report, "lower clock"), "faster: rc %d\n%s", rc, report);
}

TEST(compare_slower_within_noise)
{
    /* noise 10 % on the new side: the threshold is 3 x 10 % = 30 % */
    const char *p = write_one("noisy_base", "isoquant-fast", 256, 3, "5e-4", 10, 0.02);
    const char *q = write_one("noisy_new", "isoquant-fast", 256, 3, "5e-4", 12, 0.10);
    int rc = compare(p, q, NULL);
    CHECK(rc == 0, "20%% slower, 10%% noise: rc %d\n%s", rc, report);
    CHECK(strstr(report, "| SAME |") != NULL, "not SAME:\n%s", report);
    CHECK(strstr(report, "10.0%") != NULL, "noise column lacks the larger noise:\n%s", report);
}

/* A few-microsecond kernel: one run-to-run step (0.18 us on 2.92, the H200 smoke gate's) is
 * 6 %, over the tolerance with no noise in either record; the floor keeps it SAME, and a
 * smaller floor or a larger step is SLOWER. */
TEST(compare_slower_within_floor)
{
    const char *p = write_one("floor_base", "identity", 256, 2, "4.5e-4", 2.92, 0.0);
    const char *q = write_one("floor_new", "identity", 256, 2, "4.5e-4", 3.10, 0.0);
    int rc = compare(p, q, NULL);
    CHECK(rc == 0, "+0.18 us on 2.92: rc %d\n%s", rc, report);
    CHECK(strstr(report, "| SAME |") != NULL, "not SAME:\n%s", report);
    rc = compare_flags(p, q, "--time-floor-us", "0.1");
    CHECK(rc == 1, "+0.18 us, floor 0.1: rc %d\n%s", rc, report);
    rc = compare_flags(p, q, "--time-floor-us=0.1", NULL);
    CHECK(rc == 1, "+0.18 us, --time-floor-us=0.1: rc %d\n%s", rc, report);
    q = write_one("floor_new2", "identity", 256, 2, "4.5e-4", 3.30, 0.0);
    rc = compare(p, q, NULL);
    CHECK(rc == 1, "+0.38 us on 2.92: rc %d\n%s", rc, report);
    rc = compare(q, p, NULL); /* and the other way, FASTER */
    CHECK(rc == 0 && strstr(report, "FASTER") != NULL, "-0.38 us: rc %d\n%s", rc, report);
    CHECK(compare_flags(p, q, "--time-floor-us", "-1") == 2, "negative --time-floor-us");
    CHECK(compare_flags(p, q, "--time-floor-us", NULL) == 2, "--time-floor-us without a value");
}

TEST(compare_faster)
{
    const char *p = write_one("fast_base", "planarquant", 512, 4, "2e-5", 20, 0.01);
    const char *q = write_one("fast_new", "planarquant", 512, 4, "2e-5", 10, 0.01);
    int rc = compare(p, q, NULL);
    CHECK(rc == 0, "2x faster: rc %d\n%s", rc, report);
    CHECK(strstr(report, "FASTER") != NULL, "no FASTER:\n%s", report);
}

TEST(compare_different_devices)
{
    char b[512];
    const char *p = write_one("dev_base", "rotorquant", 128, 2, "1e-3", 10, 0.01);
    const char *q = write_result("dev_new", "NVIDIA H200", rec(b, sizeof b, "rotorquant", 128, 2, "1e-3", 20, 0.01), NULL, NULL);
    int rc = compare(p, q, NULL);
    CHECK(rc == 0, "slower on another device: rc %d\n%s", rc, report);
    CHECK(strstr(report, "different devices: timings not compared") != NULL, "no note:\n%s", report);
    q = write_result("dev_new_mse", "NVIDIA H200", rec(b, sizeof b, "rotorquant", 128, 2, "1.1e-3", 20, 0.01), NULL, NULL);
    rc = compare(p, q, NULL);
    CHECK(rc == 1, "MSE change on another device: rc %d\n%s", rc, report);
}

TEST(compare_one_sided)
{
    char a[512], b[512], c[512];
    const char *p = write_result("one_base", H100, rec(a, sizeof a, "rotorquant", 128, 2, "1e-3", 10, 0.01),
                                 rec(b, sizeof b, "isoquant-full", 128, 2, "9e-4", 5, 0.01), NULL);
    const char *q = write_result("one_new", H100, rec(a, sizeof a, "rotorquant", 128, 2, "1e-3", 10, 0.01),
                                 rec(c, sizeof c, "planarquant", 128, 2, "9.1e-4", 4, 0.01), NULL);
    int rc = compare(p, q, NULL);
    CHECK(rc == 1 && strstr(report, "1 setting of BASE is missing from NEW"), "a base setting missing: rc %d\n%s",
          rc, report);
    rc = compare_flags(p, q, "--allow-missing", NULL);
    CHECK(rc == 0, "a base setting missing, --allow-missing: rc %d\n%s", rc, report);
    CHECK(strstr(report, "Only in BASE") && strstr(report, "- isoquant-full fast d128 b2 fp16 N8192"),
          "base-only setting not listed:\n%s", report);
    CHECK(strstr(report, "Only in NEW") && strstr(report, "- planarquant fast d128 b2 fp16 N8192"),
          "new-only setting not listed:\n%s", report);
}

TEST(compare_bad_files)
{
    char path[256];
    const char *good = write_one("bad_good", "rotorquant", 128, 2, "1e-3", 10, 0.01);
    snprintf(path, sizeof path, "%s/missing.json", dir());
    CHECK(compare(path, good, NULL) == 2, "missing base file");
    CHECK(compare(good, path, NULL) == 2, "missing new file");
    static const char *const bad[] = {"not json at all", "{\"records\": [1, 2", "[]",
                                      "{\"records\": []}", "{\"backend\": \"gpu\"}",
                                      "{\"records\": [{\"method\": \"x\"}]}", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/bad%zu.json", dir(), i);
        FILE *f = create(path);
        if (f) {
            fputs(bad[i], f);
            fclose(f);
        }
        int rc = compare(good, path, NULL);
        CHECK(rc == 2, "bad file '%s': rc %d", bad[i], rc);
    }
    CHECK(compare(good, good, "-1") == 2, "negative --time-tol");
    CHECK(compare(good, good, "abc") == 2, "--time-tol abc");
    char *argv[] = {"compare", (char *)good, NULL};
    FILE *out = tmpfile(), *err = tmpfile();
    CHECK(rb_compare_run(2, argv, out, err) == 2, "one file only");
    if (out)
        fclose(out);
    if (err)
        fclose(err);
}

/* Two files with no setting in common: the gate compared nothing and must not pass. */
TEST(compare_disjoint_files_fail)
{
    const char *p = write_one("disj_base", "rotorquant", 128, 2, "1e-3", 10, 0.01);
    const char *q = write_one("disj_new", "rotorquant", 256, 2, "1e-3", 10, 0.01);
    int rc = compare(p, q, NULL);
    CHECK(rc == 1 && strstr(report, "nothing was compared") && strstr(report, "FAIL: NOTHING COMPARED"),
          "disjoint: rc %d\n%s", rc, report);
    rc = compare_flags(p, q, "--allow-missing", NULL);
    CHECK(rc == 1, "disjoint with --allow-missing still fails: rc %d\n%s", rc, report);
    rc = compare_flags(p, q, "--mse-only", "--allow-missing");
    CHECK(rc == 1, "disjoint, --mse-only --allow-missing: rc %d", rc);
}

/* CPU results: wall-clock times only with --cpu-times, and only from one machine (the model,
 * thread count and machine id tell machines apart; the host name "vm" does not). */
TEST(compare_cpu_times_only_when_asked_on_one_machine)
{
    char a[512], b[512];
    const char *m1 = "{\"host\": \"vm\", \"cpu\": \"Xeon X\", \"cpu_threads\": 2, \"machine_id\": \"aaaa1111\"}";
    const char *m2 = "{\"host\": \"vm\", \"cpu\": \"Xeon X\", \"cpu_threads\": 2, \"machine_id\": \"bbbb2222\"}";
    const char *p = write_result_on("cpu_base", "cpu", m1, rec(a, sizeof a, "rotorquant", 128, 2, "1e-3", 100, 0.01),
                                    NULL, NULL);
    const char *q = write_result_on("cpu_new", "cpu", m1, rec(b, sizeof b, "rotorquant", 128, 2, "1e-3", 1000, 0.01),
                                    NULL, NULL);
    int rc = compare(p, q, NULL);
    CHECK(rc == 0 && strstr(report, "CPU wall-clock timings not compared") && strstr(report, "the same device"),
          "10x slower CPU run, default: rc %d\n%s", rc, report);
    rc = compare_flags(p, q, "--cpu-times", NULL);
    CHECK(rc == 1 && strstr(report, "SLOWER"), "10x slower CPU run, --cpu-times: rc %d\n%s", rc, report);
    q = write_result_on("cpu_other", "cpu", m2, rec(b, sizeof b, "rotorquant", 128, 2, "1e-3", 1000, 0.01), NULL,
                        NULL);
    rc = compare_flags(p, q, "--cpu-times", NULL);
    CHECK(rc == 0 && strstr(report, "not the same device") && strstr(report, "machine bbbb2222"),
          "another machine, --cpu-times: rc %d\n%s", rc, report);
    q = write_result_on("cpu_old", "cpu", "{\"host\": \"vm\", \"cpu\": \"Xeon X\"}",
                        rec(b, sizeof b, "rotorquant", 128, 2, "1e-3", 1000, 0.01), NULL, NULL);
    rc = compare_flags(p, q, "--cpu-times", NULL);
    CHECK(rc == 0 && strstr(report, "unknown (cpu)"), "a file without the machine id: rc %d\n%s", rc, report);
}

/* Records that differ only in their input (a list of distributions, a file's slices) are
 * different settings, not repeats. */
TEST(compare_keys_include_the_input)
{
    char a[640], b[640];
    rec(a, sizeof a, "rotorquant", 128, 2, "1e-3", 10, 0.01);
    rec(b, sizeof b, "rotorquant", 128, 2, "2e-3", 10, 0.01);
    /* the same key with an input: insert "distribution" and "input" before the closing brace */
    char b2[700];
    snprintf(b2, sizeof b2, "%.*s, \"distribution\": \"file\", \"input\": {\"index\": 1, \"slice\": 3}}", (int)strlen(b) - 1, b);
    const char *p = write_result("in_base", H100, a, b2, NULL);
    int rc = compare(p, p, NULL);
    CHECK(rc == 0 && strstr(report, "2 compared: 2 same") && strstr(report, "rotorquant file#1[3] fast"),
          "two inputs, two settings: rc %d\n%s", rc, report);
}
