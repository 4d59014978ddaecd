/* measure_cpu.c: the CPU backend's timing (measure_cpu.h). */
#include "measure_cpu.h"

#include <string.h>

#include "stats.h"
#include "wallclock.h"

#define CPU_MAX_SAMPLES 10

int rb_meas_cpu_time(int profile, rb_cpu_pass_fn pre, rb_cpu_pass_fn pass, void *ctx, rb_timing *t)
{
    double samples[CPU_MAX_SAMPLES], pres[CPU_MAX_SAMPLES], total = 0;
    int n = 0;
    memset(t, 0, sizeof *t);
    for (int first = 1; first || (!profile && n < CPU_MAX_SAMPLES && (n < 3 || total < 0.2)); first = 0) {
        double t0 = rb_wallclock_s();
        if (pre && pre(ctx))
            return -1;
        double t1 = rb_wallclock_s();
        if (pass(ctx))
            return -1;
        if (first) /* the first pass warms the caches, untimed */
            continue;
        samples[n] = (rb_wallclock_s() - t0) * 1e6;
        pres[n] = (t1 - t0) * 1e6;
        total += samples[n] * 1e-6;
        n++;
        if (total > 2.0)
            break;
    }
    rb_summary sm, sp;
    rb_summarize(samples, n, &sm);
    rb_summarize(pres, n, &sp);
    t->clock = profile ? "profile" : "cpu-wall";
    t->samples = n;
    t->batch = 1;
    rb_timing_set_hot(t, &sm);
    t->prepass_us = pre ? sp.median : 0;
    t->stop_reason = profile ? "profile" : n >= CPU_MAX_SAMPLES ? "max-samples" : "time";
    return 0;
}
