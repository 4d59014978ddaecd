/* gpu_check.h: how the GPU parts of the harness check CUDA and cuRAND calls. CK / CR print
 * file:line, the call and the error, remember it (rb_gpu_last_error), then goto fail: every
 * function that uses them cleans up there and returns -1. */
#ifndef RB_GPU_CHECK_H
#define RB_GPU_CHECK_H

#include <cuda_runtime_api.h>
#include <curand.h>

int rb_gpu_report(cudaError_t e, const char *call, const char *file, int line); /* -1 */
int rb_gpu_report_curand(curandStatus_t st, const char *call, const char *file, int line); /* -1 */
const char *rb_gpu_last_error(void); /* "" when none */
void rb_gpu_clear_error(void);

#define CK(call)                                                                  \
    do {                                                                          \
        cudaError_t e_ = (call);                                                  \
        if (e_ != cudaSuccess) {                                                  \
            rb_gpu_report(e_, #call, __FILE__, __LINE__);                         \
            goto fail;                                                            \
        }                                                                         \
    } while (0)

#define CR(call)                                                                  \
    do {                                                                          \
        curandStatus_t st_ = (call);                                              \
        if (st_ != CURAND_STATUS_SUCCESS) {                                       \
            rb_gpu_report_curand(st_, #call, __FILE__, __LINE__);                 \
            goto fail;                                                            \
        }                                                                         \
    } while (0)

#endif
