#include "hostmem.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data.h"
#include "metrics.h"

double rb_hostmem_available(void)
{
    /* MemAvailable counts reclaimable page cache; free pages alone would refuse too much. */
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
    if (f)
        fclose(f);
    if (found)
        return (double)kb * 1024;
    long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    return pages > 0 && psz > 0 ? (double)pages * psz : 0;
}

static double input_bytes(int d, long N) { return 4.0 * (double)rb_data_alloc_len(d, N); }

double rb_cpu_load_bytes(int d, long N)
{
    /* cpu_load: x (rb_data_alloc_len floats), xh (N d floats), rows (N rb_row_stats) */
    return input_bytes(d, N) + 4.0 * d * N + (double)sizeof(rb_row_stats) * N;
}

int rb_cpu_load_check(int d, long N, rb_dtype dtype, char *msg, size_t msglen)
{
    double need = rb_cpu_load_bytes(d, N) + RB_HOSTMEM_MARGIN, avail = rb_hostmem_available();
    if (avail <= 0 || need <= avail)
        return 0;
    snprintf(msg, msglen,
             "cpu: d=%d N=%ld %s needs %.0f bytes of host memory (input %.0f, output %.0f, row "
             "stats %.0f, plus a %.0f margin); %.0f are available",
             d, N, rb_dtype_name(dtype), need, input_bytes(d, N), 4.0 * d * N,
             (double)sizeof(rb_row_stats) * N, RB_HOSTMEM_MARGIN, avail);
    return -1;
}
