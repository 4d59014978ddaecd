/* test_hostmem.c: an N too large for host memory is refused before anything is allocated, with
 * one line giving the bytes needed and available: by the check itself, by the CPU backend's
 * load_data (no crash, and the backend stays usable), and by the driver (exit 2, no files). */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "hostmem.h"

#define HUGE_N (1L << 40) /* 2^40 rows of d = 128: a pebibyte of floats */

TEST(hostmem_available_is_known)
{
    double avail = rb_hostmem_available();
    CHECK(avail > 64.0 * 1024 * 1024, "available host memory %.0f bytes: not read?", avail);
}

TEST(hostmem_refuses_absurd_N_with_the_bytes)
{
    char msg[512] = "", want[128];
    CHECK(rb_cpu_load_check(128, HUGE_N, RB_FP32, msg, sizeof msg) == -1, "N = 2^40 was not refused");
    snprintf(want, sizeof want, "needs %.0f bytes of host memory",
             rb_cpu_load_bytes(128, HUGE_N) + 64.0 * 1024 * 1024);
    CHECK(strstr(msg, want) != NULL, "message lacks '%s': %s", want, msg);
    CHECK(strstr(msg, "are available") != NULL, "message lacks the available bytes: %s", msg);
    CHECK(strstr(msg, "d=128 N=1099511627776 fp32") != NULL, "message lacks the setting: %s", msg);
    CHECK(strchr(msg, '\n') == NULL, "message is not one line: %s", msg);
    msg[0] = '\0';
    CHECK(rb_cpu_load_check(128, 1024, RB_FP32, msg, sizeof msg) == 0, "1024 rows refused: %s", msg);
}

/* load_data with N = 2^40 says so on stderr and fails cleanly; a small load afterwards works
 * (the refused load must not leave freed buffers behind for the next one to free again). */
TEST(hostmem_cpu_backend_refuses_absurd_N)
{
    rb_backend *be = rb_backend_cpu_create();
    CHECK(be != NULL, "rb_backend_cpu_create failed");
    if (!be)
        return;
    CHECK(be->load_data(be, 1, 16, 64, RB_FP32) == 0, "a small load failed");

    char path[] = "/tmp/rb_hostmem_XXXXXX", msg[1024] = "";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
    if (fd < 0) {
        be->destroy(be);
        return;
    }
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = be->load_data(be, 1, 128, HUGE_N, RB_FP16);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, msg, sizeof msg - 1, 0);
    msg[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);

    CHECK(rc == -1, "load_data(N = 2^40) returned %d", rc);
    CHECK(strstr(msg, "rotorbench: cpu: d=128 N=1099511627776 fp16 needs ") == msg,
          "stderr does not start with the message: %s", msg);
    CHECK(strstr(msg, "bytes of host memory") && strstr(msg, "are available"),
          "stderr lacks the bytes: %s", msg);
    CHECK(be->load_data(be, 1, 16, 64, RB_FP32) == 0, "a small load after the refusal failed");
    CHECK(rb_backend_cpu_input(be)[0] != 0.0f, "no data after the small load");
    be->destroy(be);
}

/* The driver checks every batch of the config before the sweep: exit 2, the message, and no
 * .jsonl (nothing ran). 2^28 rows of d = 4096 need 8 TiB. */
TEST(hostmem_driver_exits_2_before_the_sweep)
{
    const char *exe = "./build/rotorbench";
    if (access(exe, X_OK) != 0) {
        CHECK(0, "%s not built (run `make` first; `make test` builds it)", exe);
        return;
    }
    char dir[] = "/tmp/rb_hostmem_drv_XXXXXX", cfg[64], errp[64], jsonl[96], cmd[512], msg[2048] = "";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return;
    }
    snprintf(cfg, sizeof cfg, "%s/big.json", dir);
    snprintf(errp, sizeof errp, "%s/stderr.txt", dir);
    snprintf(jsonl, sizeof jsonl, "%s/big-cpu.jsonl", dir);
    FILE *f = fopen(cfg, "w");
    if (f) {
        fprintf(f, "{\"name\": \"big\", \"seed\": 1, \"N\": [64, 268435456], \"dims\": 4096, "
                   "\"bits\": 1, \"dtypes\": \"fp32\", \"methods\": [\"identity\"], "
                   "\"output_dir\": \"%s\"}\n", dir);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "%s run %s --backend cpu >/dev/null 2>%s", exe, cfg, errp);
    int st = system(cmd);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 2, "`%s`: status %d, want exit 2", cmd,
          st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    FILE *e = fopen(errp, "r");
    if (e) {
        size_t n = fread(msg, 1, sizeof msg - 1, e);
        msg[n] = '\0';
        fclose(e);
    }
    CHECK(strstr(msg, "d=4096 N=268435456 fp32 needs ") && strstr(msg, "bytes of host memory"),
          "stderr lacks the message: %s", msg);
    struct stat sb;
    CHECK(stat(jsonl, &sb) != 0, "%s was written: the sweep started", jsonl);
    unlink(cfg);
    unlink(errp);
    CHECK(rmdir(dir) == 0, "%s not empty afterwards: the driver wrote something", dir);
}
