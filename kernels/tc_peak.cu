/* tc_peak.cu: the device's achievable dense tensor-core rate for the instruction the tensor-core
 * TurboQuant-dense kernel uses (mma.sync.aligned.m16n8k16, fp16 operands, fp32 accumulation),
 * measured in the same run as the kernels, the way fma_peak.cu measures the fp32 FMA roof.
 *
 * Every warp runs RB_TC_PEAK_CHAINS independent accumulators, each c <- A B + c with the same A
 * and B fragments (registers, no memory traffic in the loop), so back-to-back MMAs never wait on
 * one another once there are enough chains and warps to cover the MMA latency. The operands are
 * small non-zero fp16 values (2^-8 and 2^-9, in every lane), so the accumulators grow by
 * 16 * 2^-17 per step and stay far from overflow for any iteration count in use; the result is
 * stored only if it equals an impossible value, so the compiler keeps the chains but the kernel
 * writes nothing. FLOP per launch: rb_tc_peak_flops(). */
#include <cuda_runtime.h>
#include <stdint.h>

#include "rb_support.h"

__global__ void __launch_bounds__(RB_TC_PEAK_THREADS)
tc_peak(float *sink, int iters, uint32_t av, uint32_t bv)
{
    float c[RB_TC_PEAK_CHAINS][4];
#pragma unroll
    for (int j = 0; j < RB_TC_PEAK_CHAINS; j++)
        c[j][0] = c[j][1] = c[j][2] = c[j][3] = (float)j;
    /* launder through threadIdx so the operands are not compile-time constants */
    const uint32_t a = av ^ (threadIdx.x >> 10), b = bv ^ (threadIdx.x >> 10);
#pragma unroll 4
    for (int i = 0; i < iters; i++)
#pragma unroll
        for (int j = 0; j < RB_TC_PEAK_CHAINS; j++)
            asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
                         "{%8,%9}, {%0,%1,%2,%3};"
                         : "+f"(c[j][0]), "+f"(c[j][1]), "+f"(c[j][2]), "+f"(c[j][3])
                         : "r"(a), "r"(a), "r"(a), "r"(a), "r"(b), "r"(b));
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < RB_TC_PEAK_CHAINS; j++)
        s += c[j][0] + c[j][1] + c[j][2] + c[j][3];
    if (s == -1.0f) /* never: every accumulator stays positive */
        sink[0] = s;
}

extern "C" cudaError_t rb_launch_tc_peak(float *sink, int blocks, int iters, cudaStream_t stream)
{
    /* fp16 2^-8 = 0x1c00, 2^-9 = 0x1800, in both halves of each register */
    tc_peak<<<blocks, RB_TC_PEAK_THREADS, 0, stream>>>(sink, iters, 0x1c001c00u, 0x18001800u);
    return cudaGetLastError();
}

extern "C" double rb_tc_peak_flops(int blocks, int iters)
{
    return (double)blocks * (RB_TC_PEAK_THREADS / 32) * (double)iters * RB_TC_PEAK_CHAINS * (2.0 * 16 * 8 * 16);
}
