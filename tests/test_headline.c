/* test_headline.c: `rotorbench headline` (harness/headline.c). The README's headline table is
 * regenerated with the exact command the README shows and must equal the README's copy, so it
 * cannot go stale when a result file is refreshed; cells are checked against values read from
 * the committed files by hand; bad arguments and files exit 2 with one line. */
#include "check.h"
#include "headline.h"
#include "slurp.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define README "README.md"
#define BEGIN_MARK "<!-- headline:"
#define END_MARK "\n<!-- end headline -->"
#define CMD_PREFIX "build/rotorbench headline "

/* rb_headline_run on argv; stdout and stderr captured into *out / *err (caller frees). */
static int run(int argc, char **argv, char **out, char **err)
{
    size_t no = 0, ne = 0;
    *out = NULL;
    *err = NULL;
    FILE *fo = open_memstream(out, &no), *fe = open_memstream(err, &ne);
    if (!fo || !fe) {
        if (fo)
            fclose(fo);
        if (fe)
            fclose(fe);
        return -1;
    }
    int rc = rb_headline_run(argc, argv, fo, fe);
    fclose(fo);
    fclose(fe);
    return rc;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

TEST(headline_readme_table_is_what_its_command_prints)
{
    char *readme = rb_slurp(README, 64L << 20, "test_headline", NULL, NULL);
    CHECK(readme != NULL, "cannot read %s (the tests run from the repository root)", README);
    if (!readme)
        return;
    char *begin = strstr(readme, BEGIN_MARK);
    CHECK(begin != NULL, "no '%s' marker in %s", BEGIN_MARK, README);
    char *cmd = begin ? strstr(begin, "\n" CMD_PREFIX) : NULL;
    CHECK(cmd != NULL, "no '%s...' line after the marker", CMD_PREFIX);
    char *fence = cmd ? strstr(cmd + 1, "\n```\n\n") : NULL;
    char *end = fence ? strstr(fence, END_MARK) : NULL;
    CHECK(fence && end, "the command's code block, a blank line, the table and '%s' expected",
          END_MARK + 1);
    if (!cmd || !fence || !end) {
        free(readme);
        return;
    }
    /* argv from the README's own command line: build/rotorbench headline FILE ... */
    char *line = strndup(cmd + 1 + strlen("build/rotorbench "), (size_t)(fence - cmd - 1) -
                                                                     strlen("build/rotorbench "));
    char *shown_cmd = strdup(line);
    char *argv[32];
    int argc = 0;
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok && argc < 31;
         tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;
    char *out, *err;
    int rc = run(argc, argv, &out, &err);
    CHECK(rc == 0, "rc %d, stderr: %s", rc, err ? err : "");
    char *shown = strndup(fence + strlen("\n```\n\n"), (size_t)(end - fence) - strlen("\n```\n\n"));
    int same = out && shown && !strcmp(out, shown);
    CHECK(same, "the README's headline table differs from what `%.200s` prints now; paste this "
                "between the command's code block and the end marker:\n%s", shown_cmd ? shown_cmd : "",
          out ? out : "");
    free(shown);
    free(out);
    free(err);
    free(shown_cmd);
    free(line);
    free(readme);
}

/* Cells against the committed files' values (read with a JSON viewer, not with this code). */
TEST(headline_cells_are_the_files_values)
{
    char *argv[] = {"headline", "results/h200/structure-gpu.json", "results/h200/bench1m_rot-gpu.json",
                    "results/h200/bench1m_dense-gpu.json", "results/h200/hqmq_bench-gpu.json", NULL};
    char *out, *err;
    int rc = run(5, argv, &out, &err);
    CHECK(rc == 0, "rc %d: %s", rc, err ? err : "");
    if (!out) {
        free(err);
        return;
    }
    /* planarquant, d 128, 3 bits, N 2^20: fp16 fast 137.5 us at 93.3 % of copy, paper 687.3 us
     * (5.0x); fp32 fast 93.3 %; mse 2.654e-4 = the prediction; kv_demo rel_err 0.4556 / 0.4505. */
    CHECK(strstr(out, "| planarquant | 2.654e-04 (1.000) | 0.456 / 0.450 | 93 / 93 | 137 | 5.0× |\n") != NULL,
          "planarquant row: %s", out);
    /* rotorquant's MSE is 0.3 % under the prediction at this setting (2.647e-4). */
    CHECK(strstr(out, "| rotorquant | 2.647e-04 (0.997) |") != NULL, "rotorquant row: %s", out);
    /* HQMQ: no Lloyd-Max prediction; s24_r3 fp16 451.3 us (paper 9800.3: 21.7x), fp32 54.5 %. */
    CHECK(strstr(out, "| hqmq (s24_r3) | 3.558e-04 (–) | 0.046 / 0.048 | 28 / 54 | 451 | 21.7× |\n") != NULL,
          "hqmq row: %s", out);
    /* one row per method of the structure file (the registry's 8), in its order, header and rule */
    CHECK(count_lines(out) == 2 + 2 + 8 + 2, "%d lines: %s", count_lines(out), out);
    char *id = strstr(out, "| identity |"), *dense = strstr(out, "| turboquant-dense |");
    CHECK(id && dense && id < dense, "identity first, as in the structure file");
    CHECK(strstr(out, "`results/h200/bench1m_rot-gpu.json` (NVIDIA H200, e70a1a4d7cf5)") != NULL,
          "each file's device and revision: %s", out);
    free(out);
    free(err);
}

/* A file alone fills its own columns; the rest print as "–". */
TEST(headline_missing_cells_are_dashes)
{
    char *argv[] = {"headline", "results/h200/hqmq_bench-gpu.json", NULL};
    char *out, *err;
    int rc = run(2, argv, &out, &err);
    CHECK(rc == 0, "rc %d: %s", rc, err ? err : "");
    CHECK(out && strstr(out, "| hqmq (s24_r3) | 3.558e-04 (–) | – | 28 / 54 | 451 | 21.7× |\n"),
          "%s", out ? out : "");
    CHECK(count_lines(out) == 2 + 2 + 1 + 2, "one method: %s", out ? out : "");
    free(out);
    free(err);
}

static void expect_2(int argc, char **argv, const char *says)
{
    char *out, *err;
    int rc = run(argc, argv, &out, &err);
    CHECK(rc == 2, "%s: rc %d", argv[argc - 1], rc);
    CHECK(err && strstr(err, says) && count_lines(err) == 1, "one line saying '%s', got: %s", says,
          err ? err : "");
    CHECK(out && !out[0], "nothing on stdout: %s", out ? out : "");
    free(out);
    free(err);
}

TEST(headline_bad_arguments_and_files_exit_2)
{
    char *none[] = {"headline", NULL};
    expect_2(1, none, "no result file given");
    char *opt[] = {"headline", "--time-tol", NULL};
    expect_2(2, opt, "unknown option '--time-tol'");
    char *missing[] = {"headline", "results/h200/no-such-gpu.json", NULL};
    expect_2(2, missing, "results/h200/no-such-gpu.json: cannot open");
    char *notjson[] = {"headline", "results/h200/structure-gpu.json", README, NULL};
    expect_2(3, notjson, "README.md: not valid JSON");

    char path[] = "/tmp/rb_headline_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    fputs("{\"records\": []}", f);
    fclose(f);
    char *empty[] = {"headline", path, NULL};
    expect_2(2, empty, "no records");
    /* records, but none at the headline's setting (d = 64) */
    f = fopen(path, "w");
    fputs("{\"records\": [{\"method\": \"identity\", \"variant\": \"fast\", \"d\": 64, \"bits\": 3, "
          "\"dtype\": \"fp16\", \"N\": 1048576, \"distribution\": \"sphere\", \"mse\": 1}]}", f);
    fclose(f);
    char *other[] = {"headline", path, NULL};
    expect_2(2, other, "no record at d = 128, 3 bits");
    remove(path);
}
