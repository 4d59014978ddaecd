/* wallclock.c: see wallclock.h. */
#include "wallclock.h"

#include <time.h>

double rb_wallclock_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
