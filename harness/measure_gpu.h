/* measure_gpu.h: how rotorbench times GPU work, in one place (NVBench's rules). A backend or a
 * standalone check hands over what to enqueue; this module owns everything about timing it. By
 * default (rb_meas_opts_default; rb_meas_gpu_time always):
 *
 *   cold: L2 flushed by a memset over 2x the L2 size, then one launch between two events,
 *         enqueued while a spin kernel holds the stream (host launch latency stays out);
 *   hot:  B launches back to back between two events (same blocking kernel), divided by B,
 *         with B sized from a warm-up so one sample is about 1 ms of GPU time;
 *   stop: at least 10 samples; then relative std <= 0.5 % with >= 0.1 s of GPU time
 *         ("noise <= 0.5%"), or 100 samples ("100 samples"), or about 1 s of wall time per
 *         loop ("time limit"); cold first, then hot;
 *   roofs: a D2D copy moving the same bytes (it reads and writes each byte it copies: half
 *         the bytes of a path that reads them all), timed the same way; a copy of up
 *         to 1 GiB, the fp32 FMA rate and the tensor-core rate once per module (create);
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
#include "stats.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* The copy roof: the D2D copy dst <- src of bytes, timed as the kernels are; every later
 * rb_meas_gpu_time reports against it (copy_us, and copy_bytes = 2 bytes: what it read and
 * wrote). A path that moves M bytes takes a copy of M / 2. */
int rb_meas_gpu_copy_roof(rb_meas_gpu *m, void *dst, const void *src, size_t bytes);

/* Time fn as every setting is timed and fill *t entirely: hot and cold statistics, the stop
 * reason, the copy and FMA roofs. pre (or NULL): a part of fn that is also timed on its own
 * (HQMQ's Med3x pre-pass: t->prepass_us). label names the setting in the NVTX range and in
 * the throttle warning. 0, or -1 on a CUDA failure (reported). */
int rb_meas_gpu_time(rb_meas_gpu *m, const char *label, rb_enqueue_fn fn, void *ctx, rb_enqueue_fn pre,
                     void *prectx, rb_timing *t);

/* The limits of one measurement; rb_meas_opts_default gives the ones above, which every
 * setting of a run is timed with. The stop reason says which limit ended each loop. */
#define RB_MEAS_MAX_SAMPLES 1000
typedef struct {
    int min_samples;         /* 10: per loop, before any other rule may stop it */
    int max_samples;         /* 100 (at most RB_MEAS_MAX_SAMPLES): "N samples" */
    double min_time_s;       /* 0.1: GPU time a loop must hold before the noise rule may stop it */
    double max_noise;        /* 0.005: relative std that stops a loop ("noise <= 0.5%") */
    double loop_timeout_s;   /* 1.0: wall time per loop ("time limit") */
    double target_sample_us; /* 1000: a hot sample's GPU time, which sizes its batch */
    int batch;               /* 0: sized from the warm-up to target_sample_us; else launches per hot sample */
    int warmup;              /* 1: one launch before anything is timed (and the batch sized) */
    int cold;                /* 1: the cold loop (one launch per sample) */
    int hot;                 /* 1: the hot loop (batches of back-to-back launches) */
    int flush_l2;            /* 1: the cold samples start with L2 flushed */
} rb_meas_opts;

void rb_meas_opts_default(rb_meas_opts *o);

/* One measurement's statistics, per launch, in microseconds. */
typedef struct {
    rb_summary hot, cold;            /* all 0 for a loop not run */
    int hot_samples, cold_samples;
    int batch;                       /* launches per hot sample (after any shrink) */
    double hot_clock_khz, cold_clock_khz, clock_min_khz; /* SM 0's clock over the samples */
    int clock_samples, clock_low_samples; /* stamped samples; those under 75 % of the rated clock */
    char stop_reason[96];            /* "cold: noise <= 0.5%, hot: 100 samples", from the options */
} rb_meas_result;

/* The stop reason of a measurement under o whose cold and hot loops ended by the limits given
 * (RB_MEAS_STOP_*; a loop o leaves out is not named): "cold: noise <= 0.5%, hot: 100 samples". */
#define RB_MEAS_STOP_NOISE 0
#define RB_MEAS_STOP_MAX 1
#define RB_MEAS_STOP_TIME 2
void rb_meas_stop_reason(const rb_meas_opts *o, int cold_stop, int hot_stop, char *buf, size_t n);

/* Time fn (enqueueing one launch on the stream given) on the module's stream under o (NULL:
 * the defaults) into *r. 0, or -1 on a CUDA failure or bad options (reported). */
int rb_meas_gpu_run(rb_meas_gpu *m, const rb_meas_opts *o, rb_enqueue_fn fn, void *ctx, rb_meas_result *r);

/* The stream the module times on (rb_meas_gpu_create's). */
cudaStream_t rb_meas_gpu_stream(const rb_meas_gpu *m);

/* The run's roofs as measured at create: the large D2D copy (GB/s, read + written), the fp32
 * FMA rate and the tensor-core rate (per second). */
void rb_meas_gpu_roofs(const rb_meas_gpu *m, double *copy_gbps, double *fma_per_s, double *tc_flops_per_s);

/* What a profile-mode record says instead of a timing. */
void rb_meas_profile_timing(rb_timing *t);

/* The measured roofs, the clocks seen over the run, the count of settings timed and of those
 * under 75 % of the rated clock, and the timing rules, into the machine description. */
void rb_meas_gpu_describe(rb_meas_gpu *m, cJSON *o);

#ifdef __cplusplus
}
#endif

#endif
