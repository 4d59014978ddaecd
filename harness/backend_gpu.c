/* backend_gpu.c: placeholder until the GPU backend lands: reports why no GPU is used. */
#include <cuda_runtime_api.h>
#include <stdio.h>

#include "backend.h"

rb_backend *rb_backend_gpu_create(char *why, size_t whylen)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess)
        snprintf(why, whylen, "%s", cudaGetErrorString(e));
    else if (n == 0)
        snprintf(why, whylen, "no CUDA device");
    else
        snprintf(why, whylen, "the GPU backend is not built yet");
    return NULL;
}
