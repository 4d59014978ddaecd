/* rb_kernels.h: the C interface of the CUDA kernels (extern "C" launchers, callable from the
 * C11 harness). Every pointer passed here is a device pointer, including the ones inside
 * rb_qdq_params (rot, bounds, centroids). Launchers return the launch's cudaError_t
 * (cudaGetLastError after the launch); they never synchronize. */
#ifndef RB_KERNELS_H
#define RB_KERNELS_H

#include <cuda_runtime_api.h>

#include "qdq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The paper variant takes the IsoQuant paper's launch structure (a thread block per vector, a
 * thread per rotation block, linear nearest-centroid search), written by us. One thing differs
 * from the authors' public kernels: those quantize their input as if it were unit-norm, while
 * ours compute the row norm, divide by it and rescale the output (the pipeline of qdq.h), so the
 * MSE is the method's on any input. With a config's assume_unit_norm (rb_qdq_params.unit_norm)
 * both do the same work; on the H200 the norm costs the paper variant 4-19 % of its time at
 * N = 2^20 and the fast kernels 0-12 % (docs/PERF.md, target 6). */
typedef enum {
    RB_VARIANT_PAPER = 0, /* the paper's launch structure: a block per vector, a thread per rotation block */
    RB_VARIANT_FAST = 1,  /* ours: vectorized I/O, several vectors per block, boundary compares */
    RB_NUM_VARIANTS
} rb_variant;

const char *rb_variant_name(int variant); /* "paper" / "fast" */

/* Fused quantize -> dequantize of N rows of p->d values: x (fp32 or fp16, dtype 0 = fp32,
 * 1 = fp16, as rb_dtype) -> xh, same type. */
cudaError_t rb_launch_qdq(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh,
                          long N, cudaStream_t stream);

/* ---- HQMQ (hqmq.cu) ------------------------------------------------------------------------
 * HQMQ's parameters: p->rot = the q_s table (device, at least 4 * p->hq_S floats), p->hq_S,
 * p->hq_rbits, p->hq_sigma_inliers. thresh: device pointer to the Med3x threshold (what
 * rb_launch_hqmq_med3 leaves at rb_hqmq_med3_thresh(scratch)), or NULL for p->hq_thresh (+inf:
 * no outliers). rb_launch_qdq takes HQMQ too (thresh NULL; refused when p->hq_outliers is set).
 * paper: a thread block per vector, a thread per chunk, brute force over the 24 S codewords
 *        (built once per launch into a device table, as the paper's code builds its codebook);
 * fast:  a group of lanes per vector, several vectors per block, q_s in shared memory, the
 *        closed-form search, sigma by a group max; one read of x, one write of x-hat. */
cudaError_t rb_launch_hqmq(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                           const float *thresh, cudaStream_t stream);
/* The search that launch of the fast variant runs (p->hq_search, qdq.h), RB_HQ_SEARCH_TC,
 * _CELLS or _FP32 (also for the paper variant, which runs none of them). The cell search
 * (hqmq_cells.h) needs p->hq_cells and S <= 256; the tensor-core screen (hqmq_screen.h)
 * d = 128, 256 or 512 with x and xh aligned for vector loads, S <= 256. Same answers by each. */
int rb_hqmq_route(const rb_qdq_params *p, int variant, int dtype, const void *x, const void *xh);

/* The Med3x pre-pass: every chunk norm of the batch into scratch, then the median by a
 * three-level radix select on the norms' bits (11 + 11 + 10 bits, histograms in shared memory;
 * the ranks (n-1)/2 and n/2 together, averaged as the CPU does), then thresh = C * median. The
 * result stays on the device (no synchronization); the state is readable with cudaMemcpy. */
typedef struct {
    float median, thresh;
    unsigned long long n;        /* finite chunk norms */
    unsigned long long outliers; /* set by rb_launch_hqmq_count_outliers */
    unsigned int prefix[2];      /* internal: the two ranks' bit prefixes */
    unsigned long long rank[2];  /* internal: their ranks within the prefix */
} rb_hqmq_med3_state;

size_t rb_hqmq_med3_scratch_bytes(int d, long N);
const float *rb_hqmq_med3_thresh(const void *scratch); /* device address of state->thresh */
cudaError_t rb_launch_hqmq_med3(const void *x, int dtype, int d, long N, float C, void *scratch,
                                cudaStream_t stream);
/* After rb_launch_hqmq_med3: state->outliers = chunks with norm > thresh (not timed work). */
cudaError_t rb_launch_hqmq_count_outliers(int d, long N, void *scratch, cudaStream_t stream);

/* HQMQ's packed KV-cache paths (kernels/common/hqmq_pack.h; hqmq.cu, hqmq_kv.cu). The buffers
 * (device): rows (N records of rb_hqmq_row_bytes), sigma (N fp16), and with Med3x
 * (p->hq_outliers) side (room for side_cap entries of 4 fp16) and scratch
 * (rb_hqmq_kv_scratch_bytes(N): per-row counts, their prefix sum first[0..N], the scan's
 * temporary storage). */
typedef struct {
    void *rows;
    unsigned short *sigma;
    unsigned short *side;
    long side_cap;
    void *scratch;
} rb_hqmq_kv;

size_t rb_hqmq_kv_scratch_bytes(long N);
/* Device address of the side entries written (Med3x), first[N] in scratch, after an encode or
 * a decode: an unsigned long long. */
const unsigned long long *rb_hqmq_kv_side_count(const rb_hqmq_kv *kv, long N);
/* RB_VARIANT_ENCODE: x -> rows, sigma (and side: each row's outlier chunks after the prefix
 * sum of the rows' counts), the fast kernel's encode mode with its cell search when
 * p->hq_cells is given (S <= 256), else its fp32 search (never the tensor-core screen), so
 * the fast roundtrip with that search gives decode(encode(x)) bit for bit. thresh as for
 * rb_launch_hqmq. RB_VARIANT_DECODE: rows, sigma, side -> xh (x unused). Other variants, a
 * side array too small (the entries past side_cap are not written; first[N] says how many were
 * wanted) or missing buffers: cudaErrorInvalidValue. */
cudaError_t rb_launch_hqmq_kv(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                              const float *thresh, const rb_hqmq_kv *kv, cudaStream_t stream);
/* The encode mode's pass alone (hqmq.cu): records and sigma, no side entries. */
cudaError_t rb_launch_hqmq_encode_rows(const rb_qdq_params *p, int dtype, const void *x, long N,
                                       const float *thresh, void *rows, unsigned short *sigma, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
