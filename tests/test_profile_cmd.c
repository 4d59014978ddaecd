/* test_profile_cmd.c: `make profile-ncu` prints an ncu command whose NVTX filter selects the
 * kernel asked for. ncu silently profiles nothing when the filter does not match (a plain
 * 'rotorbench@rotorquant/fast*' did exactly that), so the filter is checked here as ncu reads
 * it: a regex over "domain@range/" with '/' escaped, which glibc's ERE reads the same way. */
#include "check.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

/* The command `make profile-ncu KERNEL=kernel` prints, without building anything. */
static int profile_cmd(const char *kernel, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -o build/rotorbench "
             "profile-ncu KERNEL='%s' 2>&1", kernel);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    return pclose(p);
}

/* The regex inside --nvtx-include 'regex:...'. */
static int nvtx_regex(const char *cmd, char *re, size_t cap)
{
    const char *a = strstr(cmd, "--nvtx-include 'regex:");
    if (!a)
        return -1;
    a += strlen("--nvtx-include 'regex:");
    const char *b = strchr(a, '\'');
    if (!b || (size_t)(b - a) >= cap)
        return -1;
    memcpy(re, a, b - a);
    re[b - a] = '\0';
    return 0;
}

static int matches(const char *re, const char *s)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        return -1;
    int m = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return m;
}

TEST(profile_ncu_filter_selects_the_kernel)
{
    char out[2048], re[512];
    int st = profile_cmd("rotorquant/fast d=128 b=3 fp16", out, sizeof out);
    CHECK(st == 0, "make profile-ncu: status %d: %s", st, out);
    CHECK(strstr(out, "--clock-control none") != NULL, "ncu may lock the clocks: %s", out);
    CHECK(nvtx_regex(out, re, sizeof re) == 0, "no --nvtx-include 'regex:...' in: %s", out);
    CHECK(strcmp(re, "rotorbench@rotorquant\\/fast d=128 b=3 fp16.*/") == 0,
          "filter %s is not the form verified with ncu on the H100", re);
    /* the ranges the GPU backend pushes (backend_gpu.c): "method/variant d= b= dtype N=" */
    CHECK(matches(re, "rotorbench@rotorquant/fast d=128 b=3 fp16 N=8192/") == 1, "%s misses its range", re);
    CHECK(matches(re, "rotorbench@rotorquant/paper d=128 b=3 fp16 N=8192/") == 0, "%s takes the paper variant", re);
    CHECK(matches(re, "rotorbench@rotorquant/fast d=128 b=3 fp32 N=8192/") == 0, "%s takes fp32", re);
    CHECK(strstr(out, "-o build/profile-rotorquant-fast_d128_b3_fp16 ") != NULL,
          "report name has spaces or '=': %s", out);
}
