/* test_help.c: what a newcomer types first. `rotorbench help`, `--help`, `run --help` print the
 * usage on stdout and exit 0; `--backend gpu` on a machine without a usable GPU says so in one
 * line that points to --backend cpu, exits 2 and creates no output directory. */
#include "check.h"
#include "backend.h"
#include "driver.h"

#include <string.h>
#include <sys/stat.h>

/* build/rotorbench ARGS with stdout into out and stderr into err; the exit status, or -1. */
static int rotorbench(const char *args, char *out, size_t outlen, char *err, size_t errlen)
{
    char o[] = "/tmp/rb_help_outXXXXXX", e[] = "/tmp/rb_help_errXXXXXX";
    int fo = mkstemp(o), fe = mkstemp(e);
    if (fo >= 0)
        close(fo);
    if (fe >= 0)
        close(fe);
    if (fo < 0 || fe < 0)
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "build/rotorbench %s > %s 2> %s", args, o, e);
    int st = system(cmd);
    read_text(o, out, outlen);
    read_text(e, err, errlen);
    unlink(o);
    unlink(e);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

TEST(help_prints_usage)
{
    static const char *const forms[] = {"help", "--help", "-h", "run --help", "run -h",
                                        "run configs/smoke.json --help"};
    static char out[8192], err[8192];
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        int rc = rotorbench(forms[i], out, sizeof out, err, sizeof err);
        CHECK(rc == 0, "rotorbench %s: exit %d, want 0 (stderr: %s)", forms[i], rc, err);
        CHECK(strstr(out, "usage: rotorbench run CONFIG.json") != NULL, "rotorbench %s: no usage on stdout: %s",
              forms[i], out);
        CHECK(err[0] == '\0', "rotorbench %s: stderr not empty: %s", forms[i], err);
    }
    /* a real mistake is still one: usage on stderr, exit 2 */
    int rc = rotorbench("halp", out, sizeof out, err, sizeof err);
    CHECK(rc == 2 && strstr(err, "unknown command: halp"), "rotorbench halp: exit %d, stderr %s", rc, err);
}

TEST(backend_gpu_without_gpu_points_to_cpu)
{
    char why[256];
    if (rb_gpu_probe(why, sizeof why) == 0) {
        printf("     (skipped: a GPU is usable here, so --backend gpu is not refused)\n");
        return;
    }
    const char *dir = "/tmp/rb_backend_gpu_nodir";
    int st = system("rm -rf /tmp/rb_backend_gpu_nodir");
    CHECK(st == 0, "cannot remove %s", dir);
    char err[4096], args[256];
    snprintf(args, sizeof args, "configs/smoke.json --backend gpu --out %s", dir);
    int rc = run_driver(args, err, sizeof err);
    CHECK(rc == 2, "--backend gpu without a GPU: exit %d, want 2", rc);
    CHECK(count_lines(err) == 1, "want one line, got: %s", err);
    CHECK(strstr(err, "no usable GPU (") && strstr(err, "use --backend cpu"), "message: %s", err);
    struct stat sb;
    CHECK(stat(dir, &sb) != 0, "--backend gpu without a GPU created %s", dir);
}
