// latency_floor.cu: where the N = 8192 latency floor of the fused kernels comes from.
//
// A microbenchmark, not a test (`make latency-floor`, needs a GPU): each line times
// back-to-back launches with the GPU backend's timer (harness/measure_gpu.h: a spin kernel holds
// the stream while the host enqueues batches of 100 launches, so the GPU never waits on the
// host; the hot median per launch under the backend's stopping rule). The rungs add, one at a time, what every fused
// kernel must do before it can store a row: nothing (empty launch), move the bytes (a copy
// kernel shaped like the fast kernels: 8 lanes per 256-byte row, two 16-byte vectors per lane),
// load a codebook and pass a barrier, reduce the row's norm across its 8 lanes. The D2D
// cudaMemcpyAsync of the same bytes is the reference the target (<= 1.25x) is stated against.
// `latency_floor --once N` launches each rung once at N rows, untimed, for ncu.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda_check.h"
#include "meas_lambda.h"

constexpr int THREADS = 256, LANES = 8; // 8 lanes x 2 x 16 B = one 256-byte row (fp16, d = 128)

__global__ void k_empty() {}

// STAGE 0: copy; 1: + codebook load and barrier; 2: + the row's norm over its 8 lanes, applied.
template <int STAGE>
__global__ void k_rung(const float4 *__restrict__ x, float4 *__restrict__ y, long rows, const float *cb)
{
    __shared__ float s_cb[64];
    const int lane = threadIdx.x % LANES;
    long row = ((long)blockIdx.x * THREADS + threadIdx.x) / LANES;
    const long rstride = (long)gridDim.x * THREADS / LANES;
    float4 a = {}, b = {};
    if (row < rows) { // the first row's load goes out before the prologue, as in the kernels
        a = x[row * 16 + lane];
        b = x[row * 16 + lane + LANES];
    }
    if (STAGE >= 1) {
        if (threadIdx.x < 64)
            s_cb[threadIdx.x] = __ldg(cb + threadIdx.x);
        __syncthreads();
    }
    for (; row < rows; row += rstride) {
        if (STAGE >= 2) {
            float ss = 0.0f;
            const __half2 *ha = reinterpret_cast<const __half2 *>(&a), *hb = reinterpret_cast<const __half2 *>(&b);
            for (int k = 0; k < 4; k++) {
                const float2 fa = __half22float2(ha[k]), fb = __half22float2(hb[k]);
                ss += fa.x * fa.x + fa.y * fa.y + fb.x * fb.x + fb.y * fb.y;
            }
            for (int o = LANES / 2; o; o >>= 1)
                ss += __shfl_xor_sync(0xffffffffu, ss, o);
            a.x += s_cb[lane] * rsqrtf(ss) * 0.0f; // keeps the dependence; x * 0 is not folded
        } else if (STAGE == 1) {
            a.x += s_cb[lane] * 0.0f;
        }
        y[row * 16 + lane] = a;
        y[row * 16 + lane + LANES] = b;
        if (row + rstride < rows) {
            a = x[(row + rstride) * 16 + lane];
            b = x[(row + rstride) * 16 + lane + LANES];
        }
    }
}

int main(int argc, char **argv)
{
    const long once = argc == 3 && !strcmp(argv[1], "--once") ? atol(argv[2]) : 0;
    if (argc > 1 && once < 1) {
        fprintf(stderr, "usage: latency_floor [--once ROWS]\n");
        return 2;
    }
    rb_meas_gpu *m = once ? nullptr : rb_meas_standalone(); // ncu sees no timing kernels under --once
    rb_meas_opts o;
    rb_meas_opts_default(&o);
    o.cold = 0;
    o.batch = 100;
    auto per_launch_us = [&](auto launch) { return (float)rb_meas_lambda_us(m, &o, launch); };
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    int occ = 0;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, k_rung<2>, THREADS, 0));
    printf("%s, %d SMs: back-to-back launches in batches of 100, hot median, us per launch (fp16, d = 128 rows)\n",
           prop.name, prop.multiProcessorCount);
    printf("%8s %8s %8s %8s %10s %10s %8s\n", "N", "D2D", "empty", "copy", "+codebook", "+norm", "ratio");
    const long sweep[3] = {1024, 8192, 65536};
    for (int k = 0; k < (once ? 1 : 3); k++) {
        const long rows = once ? once : sweep[k];
        const size_t bytes = (size_t)rows * 256;
        float4 *x, *y;
        float *cb;
        CK(cudaMalloc(&x, bytes));
        CK(cudaMalloc(&y, bytes));
        CK(cudaMalloc(&cb, 64 * sizeof(float)));
        CK(cudaMemset(x, 0x3c, bytes)); // fp16 0x3c3c: finite, non-zero norms
        CK(cudaMemset(cb, 0, 64 * sizeof(float)));
        const long need = (rows * LANES + THREADS - 1) / THREADS;
        const int grid = (int)(need < (long)occ * prop.multiProcessorCount ? need : (long)occ * prop.multiProcessorCount);
        if (once) {
            k_empty<<<grid, THREADS>>>();
            k_rung<0><<<grid, THREADS>>>(x, y, rows, cb);
            k_rung<1><<<grid, THREADS>>>(x, y, rows, cb);
            k_rung<2><<<grid, THREADS>>>(x, y, rows, cb);
            CK(cudaDeviceSynchronize());
            printf("%ld rows: each rung launched once (grid %d x %d)\n", rows, grid, THREADS);
            return 0;
        }
        const float t_copy = per_launch_us([&] { CK(cudaMemcpyAsync(y, x, bytes, cudaMemcpyDeviceToDevice)); });
        const float t_empty = per_launch_us([&] { k_empty<<<grid, THREADS>>>(); });
        const float t0 = per_launch_us([&] { k_rung<0><<<grid, THREADS>>>(x, y, rows, cb); });
        const float t1 = per_launch_us([&] { k_rung<1><<<grid, THREADS>>>(x, y, rows, cb); });
        const float t2 = per_launch_us([&] { k_rung<2><<<grid, THREADS>>>(x, y, rows, cb); });
        printf("%8ld %8.2f %8.2f %8.2f %10.2f %10.2f %8.2f\n", rows, t_copy, t_empty, t0, t1, t2, t2 / t_copy);
        CK(cudaFree(x));
        CK(cudaFree(y));
        CK(cudaFree(cb));
    }
    printf("ratio: +norm / D2D (the fused kernels' target is <= 1.25 at N = 8192)\n");
    rb_meas_gpu_destroy(m);
    return 0;
}
