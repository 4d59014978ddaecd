/* tc_peak.cu: the device's achievable dense tensor-core rate for the instruction the tensor-core
 * TurboQuant-dense kernel uses (mma.sync.aligned.m16n8k16, or wgmma.m64n128k16 where that kernel
 * runs on wgmma; fp16 operands, fp32 accumulation), measured in the same run as the kernels, the
 * way fma_peak.cu measures the fp32 FMA roof. The mma.sync kernel:
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
#include "dense_wgmma.cuh"

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

/* The same roof for wgmma.m64n128k16 (fp16 operands, fp32 accumulation, A in registers, B from
 * shared memory: the instruction of the tensor-core kernel's sm_90a route, kernels/dense_wgmma.cuh).
 * The kernel issues it as 64-column groups, m64n64k16, at the same rate on the H200 (docs/perf-log/
 * 2026-12-06-experiment-switches.md).
 * A warpgroup issues RB_TC_WG_STEPS wgmmas into one accumulator back to back (a GEMM's k loop:
 * the hardware pipelines them), then waits; four warpgroups per SM keep the pipe fed during the
 * waits. B is 16 KiB of one fp16 value, so the 128-byte swizzle does not change what is read. */
#define RB_TC_WG_STEPS 8
#define RB_TC_WG_NT 16 /* n / 8 of the roof's wgmma: m64n128k16 */
__global__ void __launch_bounds__(128, 4) tc_peak_wg(float *sink, int iters, uint32_t av, uint32_t bv)
{
    __shared__ __align__(1024) uint32_t bs[128 * 32]; /* n = 128 rows of 128 bytes (k = 16 uses 32) */
    for (int i = threadIdx.x; i < 128 * 32; i += blockDim.x)
        bs[i] = bv;
    rbtc_wg_proxy_fence();
    __syncthreads();
    const uint64_t desc = rbtc_wg_desc((uint32_t)__cvta_generic_to_shared(bs), 16, RB_WG_SBO);
    const uint32_t a = av ^ (threadIdx.x >> 10), frag[4] = {a, a, a, a};
    float c[RB_TC_WG_NT][4];
#pragma unroll
    for (int j = 0; j < RB_TC_WG_NT; j++)
        c[j][0] = c[j][1] = c[j][2] = c[j][3] = (float)j;
    for (int i = 0; i < iters; i++) {
        rbtc_wg_fence();
#pragma unroll
        for (int k = 0; k < RB_TC_WG_STEPS; k++)
            rbtc_wgmma<0>(c, frag, desc, 1);
        rbtc_wg_commit_wait();
        rbtc_wg_pin(c);
    }
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < RB_TC_WG_NT; j++)
        s += c[j][0] + c[j][1] + c[j][2] + c[j][3];
    if (s == -1.0f)
        sink[0] = s;
}

/* The wgmma roof stands in for the mma.sync one where the tensor-core kernel uses wgmma
 * (rbtc_use_wgmma: built with sm_90a code, a 9.0 device, mma.sync not forced: rb_dense_tc_force_mma). It runs iters / 8
 * rounds of RB_TC_WG_STEPS wgmmas per 128-thread block: about as long as the mma.sync kernel. */
static int wg_rounds(int iters) { return iters / 8 > 0 ? iters / 8 : 1; }

int rbtc_force_mma = 0; /* extern "C" by its declaration (dense_wgmma.cuh) */

extern "C" void rb_dense_tc_force_mma(int on) { rbtc_force_mma = on ? 1 : 0; }

extern "C" int rb_tc_peak_is_wgmma(void) { return rbtc_use_wgmma() ? 1 : 0; }

extern "C" cudaError_t rb_launch_tc_peak(float *sink, int blocks, int iters, cudaStream_t stream)
{
    /* fp16 2^-8 = 0x1c00, 2^-9 = 0x1800, in both halves of each register */
    if (rbtc_use_wgmma())
        tc_peak_wg<<<blocks, 128, 0, stream>>>(sink, wg_rounds(iters), 0x1c001c00u, 0x18001800u);
    else
        tc_peak<<<blocks, RB_TC_PEAK_THREADS, 0, stream>>>(sink, iters, 0x1c001c00u, 0x18001800u);
    return cudaGetLastError();
}

extern "C" double rb_tc_peak_flops(int blocks, int iters)
{
    if (rbtc_use_wgmma())
        return (double)blocks * wg_rounds(iters) * RB_TC_WG_STEPS * (2.0 * 64 * 8 * RB_TC_WG_NT * 16);
    return (double)blocks * (RB_TC_PEAK_THREADS / 32) * (double)iters * RB_TC_PEAK_CHAINS * (2.0 * 16 * 8 * 16);
}
