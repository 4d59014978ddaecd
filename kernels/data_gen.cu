// data_gen.cu: row normalization of the device-generated Philox normals, bit-identical to
// the host path (rb_data_sphere -> rb_data_normalize_row, then rb_round_f16 for fp16).
// Every double operation is an explicit round-to-nearest intrinsic, so nvcc can neither
// contract nor approximate anything the host does not.
#include <cuda_fp16.h>

#include "rb_support.h"

template <typename T> __device__ __forceinline__ void store(T *x, long k, float v);
template <> __device__ __forceinline__ void store<float>(float *x, long k, float v) { x[k] = v; }
template <> __device__ __forceinline__ void store<__half>(__half *x, long k, float v)
{
    x[k] = __float2half_rn(v);
}

// One thread per row, the same sequence as rb_data_normalize_row:
//   ss = fma(v, v, ss) over j;  inv = ss > 0 ? 1 / sqrt(ss) : 0;  row[j] = (float)(row[j] * inv)
template <typename T>
__global__ void normalize_rows(const float *__restrict__ g, T *x, int d, long N)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N)
        return;
    const float *row = g + i * (long)d;
    double ss = 0.0;
    for (int j = 0; j < d; j++) {
        double v = (double)row[j];
        ss = __fma_rn(v, v, ss);
    }
    double inv = ss > 0.0 ? __ddiv_rn(1.0, __dsqrt_rn(ss)) : 0.0;
    // x may alias g (fp32): each element is read before it is overwritten, by this thread only
    for (int j = 0; j < d; j++)
        store<T>(x, i * (long)d + j, __double2float_rn(__dmul_rn((double)row[j], inv)));
}

extern "C" cudaError_t rb_launch_normalize(const float *g, void *x, int dtype, int d, long N,
                                           cudaStream_t stream)
{
    if (N <= 0)
        return cudaSuccess;
    const int threads = 128;
    long blocks = (N + threads - 1) / threads;
    if (blocks > 0x7fffffffL)
        return cudaErrorInvalidValue;
    if (dtype == 1)
        normalize_rows<__half><<<(unsigned)blocks, threads, 0, stream>>>(g, (__half *)x, d, N);
    else
        normalize_rows<float><<<(unsigned)blocks, threads, 0, stream>>>(g, (float *)x, d, N);
    return cudaGetLastError();
}
