/* cuda_check.h: CK(call) for the standalone GPU programs (latency_floor.cu, tc_dense_check.cu):
 * a failing CUDA call prints where and why, and the program exits 1. */
#ifndef RB_TESTS_CUDA_CHECK_H
#define RB_TESTS_CUDA_CHECK_H

#include <cstdio>
#include <cstdlib>

#include <cuda_runtime.h>

#define CK(x)                                                                                    \
    do {                                                                                         \
        cudaError_t e_ = (x);                                                                    \
        if (e_ != cudaSuccess) {                                                                 \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));  \
            exit(1);                                                                             \
        }                                                                                        \
    } while (0)

#endif
