/* test_resume.c: a sweep killed part-way and finished with --resume gives the same records as
 * an uninterrupted run: every metric and count identical in the final JSON (timings aside),
 * the settings already done skipped, not rerun, and every setting in the .jsonl afterwards,
 * even when the crash tore its last line. Runs build/rotorbench on a 16-setting CPU config of
 * its own, HQMQ's operating points (with Med3x) among them. */
#include "check.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "untimed.h"

#define NSET 16 /* 1 N x 1 d x 2 dtypes x (3 methods x 2 bits + HQMQ at 2 points) x 1 variant */

static const char *exe = "./build/rotorbench";

/* Start `rotorbench run cfg --backend cpu --out out [--resume]`, stderr to errp. */
static pid_t start(const char *cfg, const char *out, int resume, const char *errp)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int null = open("/dev/null", O_WRONLY), err = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (null < 0 || err < 0 || dup2(null, 1) < 0 || dup2(err, 2) < 0)
        _exit(127);
    execl(exe, exe, "run", cfg, "--backend", "cpu", "--out", out, resume ? "--resume" : NULL,
          (char *)NULL);
    _exit(127);
}

static int exit_code(pid_t pid)
{
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The whole file, NUL-terminated; NULL if unreadable. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf) {
        rewind(f);
        n = (long)fread(buf, 1, (size_t)n, f);
        buf[n] = '\0';
    }
    if (f)
        fclose(f);
    return buf;
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == c;
    return n;
}

static cJSON *records(const char *path)
{
    char *text = slurp(path);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    return doc;
}

TEST(resume_after_kill_matches_uninterrupted_run)
{
    if (access(exe, X_OK) != 0) {
        CHECK(0, "%s not built (run `make` first; `make test` builds it)", exe);
        return;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[256], cfg[320], a[320], b[320], errp[320], ja[400], jb[400], jl[400], cmd[700];
    snprintf(dir, sizeof dir, "%s/rb_resume_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return;
    }
    snprintf(cfg, sizeof cfg, "%s/resume.json", dir);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(errp, sizeof errp, "%s/stderr.txt", dir);
    snprintf(ja, sizeof ja, "%s/resume-cpu.json", a);
    snprintf(jb, sizeof jb, "%s/resume-cpu.json", b);
    snprintf(jl, sizeof jl, "%s/resume-cpu.jsonl", b);
    mkdir(a, 0755);
    mkdir(b, 0755);
    FILE *f = fopen(cfg, "w");
    if (f) { /* ~25 ms a setting on one core: slow enough to kill part-way, fast for CI */
        fprintf(f, "{\"name\": \"resume\", \"seed\": 11, \"N\": 8192, \"dims\": 64, \"bits\": [2, 3], "
                   "\"dtypes\": [\"fp16\", \"fp32\"], \"methods\": [\"identity\", \"rotorquant\", "
                   "\"isoquant-fast\", \"hqmq\"], \"hqmq\": {\"S\": [24], \"radius_bits\": [3, 4], "
                   "\"outliers\": \"med3\"}, \"output_dir\": \"%s\"}\n", dir);
        fclose(f);
    }

    /* A: uninterrupted. */
    int rc = exit_code(start(cfg, a, 0, errp));
    CHECK(rc == 0, "uninterrupted run: exit %d", rc);

    /* B: SIGKILL once the .jsonl holds two settings. */
    pid_t pid = start(cfg, b, 0, errp);
    int killed = 0, lines = 0, st = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *log = slurp(jl);
        lines = count_char(log, '\n');
        free(log);
        if (lines >= 2 && lines < NSET) {
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        if (waitpid(pid, &st, WNOHANG) == pid) {
            pid = -1; /* finished before it could be killed: a crash is simulated below */
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 30) {
            kill(pid, SIGKILL);
            CHECK(0, "the run wrote %d lines in 30 s", lines);
            break;
        }
        usleep(200);
    }
    rc = exit_code(pid);
    char *log = slurp(jl);
    int expect_done;
    if (killed) {
        CHECK(rc == 128 + SIGKILL, "killed run: status %d", rc);
        CHECK(access(jb, F_OK) != 0, "a killed run wrote %s", jb);
        expect_done = count_char(log, '\n'); /* a line torn by the kill does not count */
    } else {
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "run B: status %d", st);
        expect_done = 2;
        remove(jb);
        /* keep two complete lines; the torn third is appended below */
        char *second = log ? strchr(log, '\n') : NULL, *third = second ? strchr(second + 1, '\n') : NULL;
        CHECK(third && truncate(jl, (off_t)(third + 1 - log)) == 0, "cannot cut %s to two lines", jl);
    }
    /* A crash in the middle of a write: half a record, no newline. */
    f = fopen(jl, "a");
    if (f && log) {
        size_t first = strcspn(log, "\n");
        fwrite(log, 1, first / 2, f);
    }
    if (f)
        fclose(f);
    free(log);

    rc = exit_code(start(cfg, b, 1, errp));
    CHECK(rc == 0, "resumed run: exit %d", rc);
    char *err = slurp(errp);
    const char *said = err ? strstr(err, "--resume: ") : NULL;
    int done = -1, total = -1;
    CHECK(said && sscanf(said, "--resume: %d of %d settings already done", &done, &total) == 2,
          "the resumed run did not say what it skipped: %s", err ? err : "(no stderr)");
    CHECK(done == expect_done && total == NSET, "resumed with %d of %d done, want %d of %d (%s)",
          done, total, expect_done, NSET, killed ? "killed" : "simulated crash");
    int ran = 0; /* progress lines: "[k/n] method/variant ..." */
    for (const char *p = err; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "")
        ran += *p == '[';
    CHECK(ran == NSET - expect_done, "the resumed run ran %d settings, want %d", ran, NSET - expect_done);
    free(err);

    /* The .jsonl: every setting on a line of its own, the torn line aside. */
    log = slurp(jl);
    int parsed = 0;
    for (char *line = log ? strtok(log, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        parsed += cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "record"));
        cJSON_Delete(j);
    }
    free(log);
    CHECK(parsed == NSET, "%s holds %d readable records, want %d", jl, parsed, NSET);

    /* The final JSONs, setting by setting. */
    cJSON *da = records(ja), *db = records(jb);
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(da, "records");
    const cJSON *rb = cJSON_GetObjectItemCaseSensitive(db, "records");
    CHECK(cJSON_GetArraySize(ra) == NSET && cJSON_GetArraySize(rb) == NSET,
          "records: %d uninterrupted, %d resumed, want %d", cJSON_GetArraySize(ra),
          cJSON_GetArraySize(rb), NSET);
    int differ = 0, positive = 0;
    for (int i = 0; i < cJSON_GetArraySize(ra) && i < cJSON_GetArraySize(rb); i++) {
        const cJSON *x = cJSON_GetArrayItem(ra, i);
        char *sa = untimed_text(x), *sb = untimed_text(cJSON_GetArrayItem(rb, i));
        if (!sa || !sb || strcmp(sa, sb)) {
            if (!differ++)
                fprintf(stderr, "    setting %d differs:\n      %s\n      %s\n", i, sa, sb);
        }
        positive += cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "mse")) > 0;
        free(sa);
        free(sb);
    }
    CHECK(differ == 0, "%d of %d settings differ after --resume", differ, NSET);
    CHECK(positive == NSET, "%d of %d records have an MSE > 0", positive, NSET);
    cJSON_Delete(da);
    cJSON_Delete(db);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cannot remove %s", dir);
}

/* A fresh directory under TMPDIR holding NAME.json with `json`; its path, the config's and a
 * stderr file's into dir, cfg and errp (256, 320, 320 bytes). 0 on success. */
static int scratch(const char *name, const char *json, char *dir, char *cfg, char *errp)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, 256, "%s/rb_%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return -1;
    }
    snprintf(cfg, 320, "%s/%s.json", dir, name);
    snprintf(errp, 320, "%s/stderr.txt", dir);
    FILE *f = fopen(cfg, "w");
    if (!f || fputs(json, f) < 0) {
        CHECK(0, "cannot write %s", cfg);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

/* Ctrl-C: the setting under way finishes, the run stops with status 130 and says how to go on. */
TEST(ctrl_c_stops_and_names_resume)
{
    char dir[256], cfg[320], errp[320], jl[400], cmd[400];
    if (scratch("sigint", "{\"name\": \"sigint\", \"seed\": 11, \"N\": 8192, \"dims\": [64, 128], "
                          "\"bits\": [2, 3, 4], \"methods\": \"all\"}\n", dir, cfg, errp))
        return;
    snprintf(jl, sizeof jl, "%s/sigint-cpu.jsonl", dir);
    pid_t pid = start(cfg, dir, 0, errp);
    for (int i = 0; i < 30000; i++) { /* up to 30 s for the first record */
        char *log = slurp(jl);
        int lines = count_char(log, '\n');
        free(log);
        if (lines >= 1)
            break;
        usleep(1000);
    }
    kill(pid, SIGINT);
    int rc = exit_code(pid);
    char *err = slurp(errp), *log = slurp(jl);
    CHECK(rc == 130, "interrupted run: status %d, want 130", rc);
    CHECK(err && strstr(err, "interrupted after") && strstr(err, "--resume"), "stderr: %s", err ? err : "");
    CHECK(count_char(log, '\n') >= 1, "the finished settings are in %s", jl);
    free(err);
    free(log);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cannot remove %s", dir);
}

/* An environment knob that changes results is part of what --resume matches: records made
 * under RB_HQMQ_SEARCH=fp32 are not reused by a run without it. */
TEST(resume_does_not_reuse_records_of_other_knobs)
{
    char dir[256], cfg[320], errp[320], cmd[400];
    if (scratch("knobs", "{\"name\": \"knobs\", \"seed\": 3, \"N\": 64, \"dims\": 16, \"bits\": 2, "
                         "\"dtypes\": \"fp32\", \"methods\": [\"identity\", \"planarquant\"]}\n", dir, cfg, errp))
        return;
    setenv("RB_HQMQ_SEARCH", "fp32", 1);
    int rc = exit_code(start(cfg, dir, 0, errp));
    unsetenv("RB_HQMQ_SEARCH");
    CHECK(rc == 0, "run with the knob: exit %d", rc);
    rc = exit_code(start(cfg, dir, 1, errp));
    char *err = slurp(errp);
    CHECK(rc == 0 && err && strstr(err, "--resume: 0 of 2 settings already done"), "resume without it: %s",
          err ? err : "");
    free(err);
    rc = exit_code(start(cfg, dir, 1, errp));
    err = slurp(errp);
    CHECK(rc == 0 && err && strstr(err, "--resume: 2 of 2 settings already done"), "resume again: %s", err ? err : "");
    free(err);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cannot remove %s", dir);
}
