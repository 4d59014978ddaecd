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

#ifdef __cplusplus
}
#endif

#endif
