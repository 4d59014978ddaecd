/* driver.h: run build/rotorbench as a user would, for the tests that check its exit status and
 * its one-line messages. */
#ifndef RB_TEST_DRIVER_H
#define RB_TEST_DRIVER_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* The text of path into buf (cap bytes, NUL-terminated, cut at cap - 1): "" when it cannot be
 * opened. The bytes read. */
static inline size_t read_text(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return n;
}

/* `rotorbench run ARGS` with stdout dropped and stderr captured into err; the exit status, or -1. */
static inline int run_driver(const char *args, char *err, size_t errlen)
{
    char log[] = "/tmp/rb_driver_errXXXXXX";
    int fd = mkstemp(log);
    if (fd < 0)
        return -1;
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "build/rotorbench run %s > /dev/null 2> %s", args, log);
    int st = system(cmd);
    read_text(log, err, errlen);
    unlink(log);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static inline int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

#endif
