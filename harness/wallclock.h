/* wallclock.h: the monotonic wall clock every host-side duration is read from (the CPU
 * backend's samples, the GPU loops' time limits, the sweep's progress estimate). */
#ifndef RB_WALLCLOCK_H
#define RB_WALLCLOCK_H

/* Seconds since an arbitrary start (CLOCK_MONOTONIC): only differences mean anything. */
double rb_wallclock_s(void);

#endif
