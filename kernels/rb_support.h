/* rb_support.h: the GPU backend's support kernels (extern "C" launchers, callable from the
 * C11 harness): input normalization after cuRAND (data_gen.cu), per-row metrics reduced on
 * the device (metrics.cu), and the measurement helpers (a stream-blocking spin kernel and an
 * SM-clock probe, also in metrics.cu; the fp32 FMA roof in fma_peak.cu). Pointers are device
 * pointers unless said otherwise.
 * Launchers return cudaGetLastError() after the launch and never synchronize.
 *
 * The last section declares test hooks of the GPU backend (harness/backend_gpu.c). */
#ifndef RB_SUPPORT_H
#define RB_SUPPORT_H

#include <cuda_runtime_api.h>

#include "attn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data_gen.cu ---------------------------------------------------------------------- */

/* Normalize N rows of d Philox normals g[] exactly as rb_data_normalize_row does (one thread
 * per row, double accumulation with explicit fma, 1/sqrt, multiply, round to float) and store
 * them in x: dtype 0 = float (x may alias g), 1 = half (__float2half_rn, = rb_round_f16). */
cudaError_t rb_launch_normalize(const float *g, void *x, int dtype, int d, long N, cudaStream_t stream);

/* ---- metrics.cu ----------------------------------------------------------------------- */

/* Sums and counts with rb_metrics_add's semantics (harness/metrics.h). */
typedef struct {
    double sum_err2, sum_rel, sum_cos;
    long long rows, finite_rows, nonzero_rows, cos_rows, nonfinite_rows, tiny_rows;
} rb_dev_metrics;

/* partials[] must hold this many entries (one per block of the first pass). */
#define RB_METRICS_MAX_PARTIALS 1024

/* Per-row err2, x2, xh2, dot and finite flag computed exactly as rb_row_stats_compute (same
 * order, no contraction: bit-identical per row), reduced in a fixed order (deterministic run
 * to run, not the CPU's order) into *out. x and xh hold N*d values of dtype (0 float, 1 half). */
cudaError_t rb_launch_metrics(const void *x, const void *xh, int dtype, int d, long N,
                              rb_dev_metrics *partials, rb_dev_metrics *out, cudaStream_t stream);

/* One thread spins until *release (host-mapped memory) becomes non-zero, or until timeout_ns
 * of %globaltimer have passed, in which case it sets *timed_out = 1. Holds the stream while
 * the host enqueues event -> work -> event (NVBench's blocking kernel). */
cudaError_t rb_launch_block_stream(const volatile int *release, int *timed_out,
                                   unsigned long long timeout_ns, cudaStream_t stream);

/* One thread spins spin_ns of %globaltimer and writes out[0] = clock64 cycles elapsed,
 * out[1] = nanoseconds elapsed: out[0] / out[1] is the SM clock in GHz during the spin. */
cudaError_t rb_launch_clock_probe(unsigned long long spin_ns, unsigned long long *out,
                                  cudaStream_t stream);

/* A launch of one block per SM (sms) whose block on SM 0 writes out[0] = %globaltimer (ns) and
 * out[1] = that SM's clock64; out is left as it was when no block ran on SM 0. */
cudaError_t rb_launch_sm0_stamp(unsigned long long *out, int sms, cudaStream_t stream);

/* ---- attention.cu ---------------------------------------------------------------------- */

/* The attention metrics' parts (kernels/common/attn.h) of nq queries q (device, nq x d floats)
 * over N rows of keys x and xh with values v and vh paired row by row (NULL: the keys' rows)
 * (dtype 0 float, 1 half): parts[qi * groups + g], groups = N / T (1 when N < T), T <= RB_ATTN_MAX_T. */
cudaError_t rb_launch_attn(const void *x, const void *xh, const void *v, const void *vh, int dtype, int d, long N,
                           const float *q, int nq, int T, rb_attn_part *parts, cudaStream_t stream);

/* ---- fma_peak.cu ---------------------------------------------------------------------- */

/* blocks x RB_FMA_PEAK_THREADS threads, each doing iters x RB_FMA_PEAK_CHAINS dependent-chain
 * fp32 FMAs (sink is never written): time it and divide to get the device's FMA rate. */
#define RB_FMA_PEAK_THREADS 256
#define RB_FMA_PEAK_CHAINS 8
cudaError_t rb_launch_fma_peak(float *sink, int blocks, int iters, cudaStream_t stream);

/* ---- tc_peak.cu ------------------------------------------------------------------------ */

/* blocks x RB_TC_PEAK_THREADS threads; each warp issues iters x RB_TC_PEAK_CHAINS independent
 * mma.sync.m16n8k16 (fp16 in, fp32 accumulation; sink is never written): time it and divide
 * rb_tc_peak_flops(blocks, iters) (2 x 16 x 8 x 16 FLOP per MMA) by the time to get the dense
 * tensor-core rate of the instruction the tc dense kernel uses. Where that kernel uses wgmma
 * (rb_tc_peak_is_wgmma() = 1) the roof is blocks warpgroups of wgmma.m64n128k16 instead, and
 * rb_tc_peak_flops counts its FLOP. */
#define RB_TC_PEAK_THREADS 256
#define RB_TC_PEAK_CHAINS 8
cudaError_t rb_launch_tc_peak(float *sink, int blocks, int iters, cudaStream_t stream);
double rb_tc_peak_flops(int blocks, int iters);
int rb_tc_peak_is_wgmma(void);
/* 1: TurboQuant-dense's tensor-core kernel and this roof take mma.sync even where wgmma is
 * built and the device is 9.0 (RB_DENSE_TC=mma, run_options.h); 0 (the default): wgmma there.
 * The GPU backend sets it once, before anything is launched. */
void rb_dense_tc_force_mma(int on);

/* ---- test hooks of the GPU backend (harness/backend_gpu.c) ---------------------------- */

struct rb_backend;
/* Copy rows [row0, row0 + nrows) of the loaded input (which = 0) or output (which = 1) to
 * host floats (fp16 data converted exactly), or write host floats into them (fp16 data
 * rounded with rb_f32_to_f16). 0 on success. */
int rb_backend_gpu_get_rows(struct rb_backend *b, int which, long row0, long nrows, float *host);
int rb_backend_gpu_set_rows(struct rb_backend *b, int which, long row0, long nrows, const float *host);
/* The device metrics (sums and counts) of the loaded input against the current output. */
int rb_backend_gpu_metrics(struct rb_backend *b, rb_dev_metrics *out);

#ifdef __cplusplus
}
#endif

#endif
