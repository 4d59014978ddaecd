/* measure_gpu.h: how rotorbench times GPU work, in one place (NVBench's rules, MEASUREMENT.md).
 * A backend hands over what to enqueue; this module owns everything about timing it:
 *
 *   cold: L2 flushed by a memset over 2x the L2 size, then one launch between two events,
 *         enqueued while a spin kernel holds the stream (host launch latency stays out);
 *   hot:  B launches back to back between two events (same blocking kernel), divided by B,
 *         with B sized from a warm-up so one sample is about 1 ms of GPU time;
 *   stop: at least 10 samples; then relative std <= 0.5 % with >= 0.1 s of GPU time
 *         ("noise"), or 100 samples ("max-samples"), or about 1 s of wall time per loop
 *         ("timeout"); cold first, then hot;
 *   roofs: the D2D copy of the same bytes, timed the same way once per data set, a 1 GiB
 *         copy and the fp32 FMA rate once per run;
 *   clock: the SM clock probed (clock64 against %globaltimer) before and after every timed
 *         setting; a warning under 75 % of the rated clock, counted for the run's record.
 *
 * Each timed region sits in an NVTX range of the domain "rotorbench". */
#ifndef RB_MEASURE_GPU_H
#define RB_MEASURE_GPU_H

#include <cjson/cJSON.h>
#include <cuda_runtime_api.h>
#include <stddef.h>

#include "backend.h"

typedef struct rb_meas_gpu rb_meas_gpu;

/* Enqueue one unit of the work on st; 0, or -1 with the error reported. */
typedef int (*rb_enqueue_fn)(void *ctx, cudaStream_t st);

/* On stream st of the current device: events, the flush buffer, the blocking kernel's flags;
 * then the run's roofs (a large D2D copy, the fp32 FMA rate). NULL on failure (reported). */
rb_meas_gpu *rb_meas_gpu_create(cudaStream_t st);
void rb_meas_gpu_destroy(rb_meas_gpu *m);

/* NVTX ranges (the load of a data set, profile-mode launches, each timed setting). */
void rb_meas_range_push(rb_meas_gpu *m, const char *name);
void rb_meas_range_pop(rb_meas_gpu *m);

/* The copy roof of the data set loaded now: the D2D copy dst <- src of bytes, timed as the
 * kernels are; every later rb_meas_gpu_time reports against it. */
int rb_meas_gpu_copy_roof(rb_meas_gpu *m, void *dst, const void *src, size_t bytes);

/* Time fn as every setting is timed and fill *t entirely: hot and cold statistics, the stop
 * reason, the copy and FMA roofs. pre (or NULL): a part of fn that is also timed on its own
 * (HQMQ's Med3x pre-pass: t->prepass_us). label names the setting in the NVTX range and in
 * the throttle warning. 0, or -1 on a CUDA failure (reported). */
int rb_meas_gpu_time(rb_meas_gpu *m, const char *label, rb_enqueue_fn fn, void *ctx, rb_enqueue_fn pre,
                     void *prectx, rb_timing *t);

/* What a profile-mode record says instead of a timing. */
void rb_meas_profile_timing(rb_timing *t);

/* The measured roofs, the clocks seen over the run, the count of settings timed and of those
 * under 75 % of the rated clock, and the timing rules, into the machine description. */
void rb_meas_gpu_describe(rb_meas_gpu *m, cJSON *o);

#endif
