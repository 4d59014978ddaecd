/* fma_peak.cu: the device's achievable fp32 FMA rate, the compute roof that arithmetic-bound
 * kernels (TurboQuant-dense, HQMQ) are judged against, measured in the same run as the kernels
 * the way the D2D copy measures the memory roof.
 *
 * Every thread runs RB_FMA_PEAK_CHAINS independent chains x <- x * a + b (a, b chosen so x
 * converges: no overflow, no subnormals), unrolled so the loop's own instructions are a few
 * per cent of the issue slots; enough chains and warps per SM that the 4-cycle FMA latency is
 * hidden. The result is stored only when it equals an impossible value, so the compiler keeps
 * the chains but the kernel writes nothing. */
#include <cuda_runtime.h>

#include "rb_support.h"

__global__ void __launch_bounds__(RB_FMA_PEAK_THREADS)
fma_peak(float *sink, int iters, float a, float b)
{
    float x[RB_FMA_PEAK_CHAINS];
#pragma unroll
    for (int j = 0; j < RB_FMA_PEAK_CHAINS; j++)
        x[j] = (float)threadIdx.x * 1e-3f + (float)j;
#pragma unroll 16
    for (int i = 0; i < iters; i++)
#pragma unroll
        for (int j = 0; j < RB_FMA_PEAK_CHAINS; j++)
            x[j] = fmaf(x[j], a, b);
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < RB_FMA_PEAK_CHAINS; j++)
        s += x[j];
    if (s == -1.0f) /* never: every x[j] stays positive */
        sink[0] = s;
}

extern "C" cudaError_t rb_launch_fma_peak(float *sink, int blocks, int iters, cudaStream_t stream)
{
    fma_peak<<<blocks, RB_FMA_PEAK_THREADS, 0, stream>>>(sink, iters, 0.999f, 0.001f);
    return cudaGetLastError();
}
