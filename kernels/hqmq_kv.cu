/* hqmq_kv.cu: HQMQ's packed KV-cache paths on the GPU (rb_launch_hqmq_kv, rb_kernels.h), in the
 * format of kernels/common/hqmq_pack.h.
 * encode: the fast kernel's encode mode (hqmq.cu: its search, sigma and fields as in its
 *         roundtrip, the record's words packed by the group's lanes); with Med3x then each row's
 *         outlier count, their exclusive prefix sum (CUB) and the side entries, a thread a chunk.
 * decode: a thread a chunk: its field (the one or two words holding it), sigma, and
 *         rb_hqmq_chunk_decode, the roundtrip's reconstruction, with the q_s in shared memory;
 *         with Med3x the counts and prefix sum first, and an outlier chunk's 4 fp16 values from
 *         the side array at its row's offset plus its rank among the row's flags. */
#include <cub/device/device_scan.cuh>

#include "hqmq_pack.h"
#include "qdq_common.cuh"

#define HQKV_THREADS 256

typedef unsigned long long hq_ull;

/* Scratch: counts[N + 1], first[N + 1], then the scan's temporary storage (256-byte aligned). */
static size_t hqkv_arr_bytes(long N) { return ((sizeof(hq_ull) * (size_t)(N + 1)) + 255) & ~(size_t)255; }

static size_t hqkv_scan_tmp(long N)
{
    size_t b = 0;
    if (cub::DeviceScan::ExclusiveSum(nullptr, b, (const hq_ull *)nullptr, (hq_ull *)nullptr, (int)(N + 1)) !=
        cudaSuccess)
        return 0;
    return b;
}

extern "C" size_t rb_hqmq_kv_scratch_bytes(long N) { return 2 * hqkv_arr_bytes(N) + hqkv_scan_tmp(N) + 256; }

extern "C" const unsigned long long *rb_hqmq_kv_side_count(const rb_hqmq_kv *kv, long N)
{
    return reinterpret_cast<const hq_ull *>(static_cast<const char *>(kv->scratch) + hqkv_arr_bytes(N)) + N;
}

/* A record's outlier chunks before chunk b: its rank in the side entries of its row. */
static __device__ __forceinline__ int hqkv_rank(const uint32_t *flags, int b)
{
    int n = 0;
    for (int w = 0; w < (b >> 5); w++)
        n += __popc(flags[w]);
    return n + __popc(flags[b >> 5] & ((1u << (b & 31)) - 1u));
}

/* counts[i] = row i's flags; counts[N] = 0 (so first[N] is the total). */
__global__ void hqkv_counts(const uint32_t *__restrict__ rows, long N, int nw, int cw, int fw, hq_ull *__restrict__ counts)
{
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i <= N; i += (long)gridDim.x * blockDim.x) {
        hq_ull n = 0;
        for (int w = 0; i < N && w < fw; w++)
            n += __popc(__ldg(rows + i * nw + cw + w));
        counts[i] = n;
    }
}

/* Each flagged chunk's 4 values as fp16 at first[row] + its rank; none past cap. */
template <typename T>
__global__ void hqkv_side(const T *__restrict__ x, const uint32_t *__restrict__ rows, const hq_ull *__restrict__ first,
                          long N, int d, int nw, int cw, uint16_t *__restrict__ side, long cap)
{
    const int g = rb_hqmq_chunks(d);
    for (long t = (long)blockIdx.x * blockDim.x + threadIdx.x; t < N * g; t += (long)gridDim.x * blockDim.x) {
        const long i = t / g;
        const int b = (int)(t - i * g);
        const uint32_t *flags = rows + i * nw + cw;
        if (!rb_hqmq_flag(flags, b))
            continue;
        const hq_ull e = first[i] + (hq_ull)hqkv_rank(flags, b);
        if (e >= (hq_ull)cap)
            continue;
        for (int k = 0; k < 4; k++)
            side[4 * e + k] = rb_f32_to_f16(4 * b + k < d ? RbIO<T>::ld1(x + i * d + 4 * b + k) : 0.0f);
    }
}

/* decode: a thread a chunk. */
template <typename T>
__global__ void __launch_bounds__(HQKV_THREADS)
hqkv_decode(const uint32_t *__restrict__ rows, const uint16_t *__restrict__ sigma, const uint16_t *__restrict__ side,
            const hq_ull *__restrict__ first, long cap, T *__restrict__ xh, long N, int d, const float *__restrict__ qs,
            int S, int qmax, int med3, int nw, int cw, int F)
{
    extern __shared__ float s_qs[];
    for (int i = threadIdx.x; i < 4 * S; i += blockDim.x)
        s_qs[i] = __ldg(qs + i);
    __syncthreads();
    const int g = rb_hqmq_chunks(d);
    for (long t = (long)blockIdx.x * blockDim.x + threadIdx.x; t < N * g; t += (long)gridDim.x * blockDim.x) {
        const long i = t / g;
        const int b = (int)(t - i * g);
        const uint32_t *rec = rows + i * nw;
        const float sig = rb_f16_to_f32(__ldg(sigma + i));
        float o[4];
        if (sig != sig) {
            o[0] = o[1] = o[2] = o[3] = rbk_nan();
        } else if (med3 && rb_hqmq_flag(rec + cw, b)) {
            const hq_ull e = first[i] + (hq_ull)hqkv_rank(rec + cw, b);
            for (int k = 0; k < 4; k++)
                o[k] = e < (hq_ull)cap ? rb_f16_to_f32(__ldg(side + 4 * e + k)) : rbk_nan();
        } else {
            const uint32_t f = rb_kv_get(rec, b, F);
            rb_hqmq_chunk_decode(s_qs, S, qmax, sig, rb_hqmq_field_idx(S, f), rb_hqmq_field_rq(S, f), o);
        }
        for (int k = 0; k < 4 && 4 * b + k < d; k++)
            RbIO<T>::st1(xh + i * d + 4 * b + k, o[k]);
    }
}

/* Med3x: counts of rows' flags, then first = their exclusive prefix sum. */
static cudaError_t hqkv_scan(const rb_hqmq_kv *kv, long N, int nw, int cw, int fw, hq_ull **first, cudaStream_t st)
{
    char *sc = static_cast<char *>(kv->scratch);
    hq_ull *counts = reinterpret_cast<hq_ull *>(sc);
    *first = reinterpret_cast<hq_ull *>(sc + hqkv_arr_bytes(N));
    size_t tb = hqkv_scan_tmp(N);
    hqkv_counts<<<rbk_grid(8, (N + 1 + HQKV_THREADS - 1) / HQKV_THREADS), HQKV_THREADS, 0, st>>>(
        static_cast<const uint32_t *>(kv->rows), N, nw, cw, fw, counts);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return e;
    return cub::DeviceScan::ExclusiveSum(sc + 2 * hqkv_arr_bytes(N), tb, counts, *first, (int)(N + 1), st);
}

template <typename T>
static cudaError_t hqkv_decode_T(const rb_qdq_params *p, void *xhv, long N, const rb_hqmq_kv *kv, int nw, int cw,
                                 int fw, cudaStream_t st)
{
    const int med3 = p->hq_outliers != 0, g = rb_hqmq_chunks(p->d);
    hq_ull *first = nullptr;
    if (med3) {
        const cudaError_t e = hqkv_scan(kv, N, nw, cw, fw, &first, st);
        if (e != cudaSuccess)
            return e;
    }
    auto kern = hqkv_decode<T>;
    static const int occ = rbk_occupancy(kern, HQKV_THREADS, sizeof(float) * 4 * RB_HQMQ_MAX_S);
    kern<<<rbk_grid(occ, (N * g + HQKV_THREADS - 1) / HQKV_THREADS), HQKV_THREADS, sizeof(float) * 4 * (size_t)p->hq_S,
           st>>>(static_cast<const uint32_t *>(kv->rows), kv->sigma, kv->side, first, kv->side_cap,
                 static_cast<T *>(xhv), N, p->d, p->rot, p->hq_S, (1 << p->hq_rbits) - 1, med3, nw, cw,
                 rb_hqmq_field_bits(p->hq_S, p->hq_rbits));
    return cudaGetLastError();
}

template <typename T>
static cudaError_t hqkv_side_T(const rb_qdq_params *p, const void *xv, long N, const rb_hqmq_kv *kv, int nw, int cw,
                               int fw, cudaStream_t st)
{
    hq_ull *first = nullptr;
    cudaError_t e = hqkv_scan(kv, N, nw, cw, fw, &first, st);
    if (e != cudaSuccess)
        return e;
    const long work = N * rb_hqmq_chunks(p->d);
    static const int occ = rbk_occupancy(hqkv_side<T>, HQKV_THREADS, 0);
    hqkv_side<T><<<rbk_grid(occ, (work + HQKV_THREADS - 1) / HQKV_THREADS), HQKV_THREADS, 0, st>>>(
        static_cast<const T *>(xv), static_cast<const uint32_t *>(kv->rows), first, N, p->d, nw, cw, kv->side,
        kv->side_cap);
    return cudaGetLastError();
}

extern "C" cudaError_t rb_launch_hqmq_kv(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh,
                                         long N, const float *thresh, const rb_hqmq_kv *kv, cudaStream_t stream)
{
    const int med3 = p && p->hq_outliers != 0;
    if (!p || !kv || (variant != RB_VARIANT_ENCODE && variant != RB_VARIANT_DECODE) || (dtype != 0 && dtype != 1) ||
        p->d < 2 || p->d > 4096 || p->hq_S < 1 || p->hq_S > RB_HQMQ_MAX_S || p->hq_rbits < 1 || p->hq_rbits > 16 ||
        !p->rot || N < 0 || N > (1L << 31) - 2 ||
        (N > 0 && (!kv->rows || !kv->sigma || (variant == RB_VARIANT_ENCODE ? !x : !xh) ||
                   (med3 && (!kv->scratch || kv->side_cap < 0 || (kv->side_cap > 0 && !kv->side))))))
        return cudaErrorInvalidValue;
    if (N == 0)
        return cudaSuccess;
    const int nw = (int)(rb_hqmq_row_bytes(p->d, p->hq_S, p->hq_rbits, med3) / 4);
    const int cw = (int)rb_hqmq_code_words(p->d, p->hq_S, p->hq_rbits), fw = (int)rb_hqmq_flag_words(p->d, med3);
    if (variant == RB_VARIANT_DECODE)
        return dtype == 0 ? hqkv_decode_T<float>(p, xh, N, kv, nw, cw, fw, stream)
                          : hqkv_decode_T<__half>(p, xh, N, kv, nw, cw, fw, stream);
    cudaError_t e = rb_launch_hqmq_encode_rows(p, dtype, x, N, thresh, kv->rows, kv->sigma, stream);
    if (e != cudaSuccess || !med3)
        return e;
    return dtype == 0 ? hqkv_side_T<float>(p, x, N, kv, nw, cw, fw, stream)
                      : hqkv_side_T<__half>(p, x, N, kv, nw, cw, fw, stream);
}
