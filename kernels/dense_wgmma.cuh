/* dense_wgmma.cuh: the Hopper warpgroup MMA (wgmma, sm_90a) pieces of the tensor-core
 * TurboQuant-dense kernel (dense_tc.cuh): the instruction with A in registers and B read by the
 * tensor cores straight from shared memory, its fences, the shared-memory layout of P that
 * serves both products, and the host's choice of the route.
 *
 * Why wgmma: with mma.sync every warp loads every B fragment of P itself (ldmatrix), and one
 * 512-byte load feeds two m16n8k16 MMAs, so at d = 128, 256 the shared-memory pipe, not the
 * tensor cores, set the time (docs/tc_dense_notes.md). wgmma.m64nNk16 reads each B element
 * once for the 64 rows of a warpgroup: a quarter of the shared-memory traffic per FLOP.
 *
 * One copy of P in shared memory (its layout and the descriptors' offsets: kernels/common/
 * wg_layout.h, checked by tests/test_wg_layout.c) is both products' B: K-major for Y = Xb P^T
 * (B[k][n] = P[n][k]), MN-major, the transposed-B form, for Xh = Yh P (B[k][n] = P[k][n]).
 * The register fragments are those of mma.m16n8k16 per warp: warp w of the warpgroup supplies A
 * rows 16 w .. 16 w + 15 and receives the same rows of the accumulator, n8 tile j in d[j][0..3].
 *
 * The instructions exist only in sm_90a code: compiled elsewhere (the portable PTX) the
 * wrappers trap, and the host takes this route only where RBTC_WGMMA is defined (the Makefile
 * does so where it builds sm_90a code) and the device is 9.0 (rbtc_use_wgmma). */
#ifndef RB_DENSE_WGMMA_CUH
#define RB_DENSE_WGMMA_CUH

#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wg_layout.h"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define RBTC_WG_DEVICE 1
#else
#define RBTC_WG_DEVICE 0
#endif

/* 1: the mma.sync route forced (RB_DENSE_TC=mma, set through rb_dense_tc_force_mma; defined in
 * tc_peak.cu, whose roof follows the same route). */
extern "C" int rbtc_force_mma;

/* The wgmma route of the tensor-core kernel (d = 128, 256) and of its roof: built (RBTC_WGMMA),
 * a compute capability 9.0 device, and the mma.sync route not forced (rbtc_force_mma, an
 * experiment knob recorded in every result's knobs). */
static inline bool rbtc_use_wgmma()
{
#ifdef RBTC_WGMMA
    static const bool dev90 = [] {
        int dev = 0, major = 0, minor = 0;
        if (cudaGetDevice(&dev) != cudaSuccess ||
            cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
            cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess)
            return false;
        return major == 9 && minor == 0;
    }();
    return dev90 && !rbtc_force_mma;
#else
    return false;
#endif
}

/* A shared-memory matrix descriptor: start address, leading and stride byte offsets (16-byte
 * units, 14 bits each), 128-byte swizzle (layout type 1 in bits 62-63). */
static __device__ __forceinline__ uint64_t rbtc_wg_desc(uint32_t saddr, uint32_t lbo, uint32_t sbo)
{
    return (uint64_t)((saddr >> 4) & 0x3fffu) | (uint64_t)((lbo >> 4) & 0x3fffu) << 16 |
           (uint64_t)((sbo >> 4) & 0x3fffu) << 32 | 1ull << 62;
}

/* Generic-proxy writes to shared memory (P) made visible to the wgmma (async) proxy: every
 * writing thread, before the barrier that precedes the first wgmma. */
static __device__ __forceinline__ void rbtc_wg_proxy_fence()
{
#if RBTC_WG_DEVICE
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
#endif
}

/* Orders this thread's register writes (A fragments, accumulators) before the wgmmas that follow. */
static __device__ __forceinline__ void rbtc_wg_fence()
{
#if RBTC_WG_DEVICE
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#endif
}

/* Closes the group of wgmmas issued since the last commit. */
static __device__ __forceinline__ void rbtc_wg_commit()
{
#if RBTC_WG_DEVICE
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
#endif
}

/* Waits until at most K committed groups are still in flight. */
template <int K> static __device__ __forceinline__ void rbtc_wg_wait()
{
#if RBTC_WG_DEVICE
    asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(K) : "memory");
#endif
}

static __device__ __forceinline__ void rbtc_wg_commit_wait()
{
    rbtc_wg_commit();
    rbtc_wg_wait<0>();
}

/* Pins the accumulators after the wait: the compiler may not move their reads above it. */
template <int NT> static __device__ __forceinline__ void rbtc_wg_pin(float (&d)[NT][4])
{
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
        for (int k = 0; k < 4; k++)
            asm volatile("" : "+f"(d[j][k])::"memory");
}

/* d (+)= A B, m64n(8 NT)k16 (NT = 16 or 8), fp16 operands, fp32 accumulation; A from registers
 * (this warp's 16 rows), B from the descriptor; TB = 1: B is MN-major. accumulate = 0 overwrites d. */
template <int TB, int NT>
static __device__ __forceinline__ void rbtc_wgmma(float (&d)[NT][4], const uint32_t a[4], uint64_t desc, int accumulate)
{
    static_assert(NT == 16 || NT == 8, "n = 128 or 64");
#if RBTC_WG_DEVICE
/* The accumulator operands of n8 tiles j .. j + 7 (the asm's outputs, 32 registers). */
#define RBTC_WG_D1(j) "+f"(d[j][0]), "+f"(d[j][1]), "+f"(d[j][2]), "+f"(d[j][3])
#define RBTC_WG_D8(j) RBTC_WG_D1(j), RBTC_WG_D1(j + 1), RBTC_WG_D1(j + 2), RBTC_WG_D1(j + 3), \
                      RBTC_WG_D1(j + 4), RBTC_WG_D1(j + 5), RBTC_WG_D1(j + 6), RBTC_WG_D1(j + 7)
    if constexpr (NT == 16)
        asm volatile(
            "{\n.reg .pred p;\nsetp.ne.b32 p, %68, 0;\n"
            "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {"
            "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
            "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
            "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
            "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
            "{%64, %65, %66, %67}, %69, p, 1, 1, %70;\n}\n"
            : RBTC_WG_D8(0), RBTC_WG_D8(8)
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(accumulate), "l"(desc), "n"(TB));
    else
        asm volatile(
            "{\n.reg .pred p;\nsetp.ne.b32 p, %36, 0;\n"
            "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {"
            "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
            "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
            "{%32, %33, %34, %35}, %37, p, 1, 1, %38;\n}\n"
            : RBTC_WG_D8(0)
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(accumulate), "l"(desc), "n"(TB));
#undef RBTC_WG_D8
#undef RBTC_WG_D1
#else
    (void)d, (void)a, (void)desc, (void)accumulate;
    __trap();
#endif
}

#endif
