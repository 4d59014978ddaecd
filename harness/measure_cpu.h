/* measure_cpu.h: how the CPU backend times its passes, in one place. One untimed pass warms the
 * caches; then whole passes until 10 samples, or at least 3 samples and 0.2 s, or 2 s in all
 * (the dense method at large d: a couple of samples say enough). Times are wall-clock
 * ("cpu-wall"): they time the reference implementation, not a kernel. */
#ifndef RB_MEASURE_CPU_H
#define RB_MEASURE_CPU_H

#include "backend.h"

/* One pass of the work (or of its pre-pass); 0, or -1 on failure. */
typedef int (*rb_cpu_pass_fn)(void *ctx);

/* Time pre (or NULL) followed by pass, as one sample, and pre alone (t->prepass_us); fill *t.
 * profile: one pass each, not timed. */
int rb_meas_cpu_time(int profile, rb_cpu_pass_fn pre, rb_cpu_pass_fn pass, void *ctx, rb_timing *t);

#endif
