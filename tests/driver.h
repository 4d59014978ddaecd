/* driver.h: run build/rotorbench as a user would, for the tests that check its exit status and
 * its one-line messages. */
#ifndef RB_TEST_DRIVER_H
#define RB_TEST_DRIVER_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(err, 1, errlen - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
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
