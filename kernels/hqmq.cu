/* hqmq.cu: HQMQ's fused quantize -> dequantize kernels and the Med3x pre-pass (rb_kernels.h).
 * The per-chunk math is kernels/common/hqmq.h, as in the CPU reference (rb_hqmq_row).
 *
 * paper: one thread block per vector, one thread per 4-chunk, sigma by a block max, brute
 *        force over the 24 S codewords, which a small kernel builds first into a device table
 *        (the paper's code builds its joint codebook the same way, then takes the argmax).
 * fast:  a group of G lanes per vector (G = the chunk count rounded up to a power of two, at
 *        most 32; CPL chunks per lane beyond d = 128), 256 / G vectors per thread block, a grid
 *        sized to the SM count striding over rows; q_s in shared memory, the closed-form
 *        search (16 FMA per secondary instead of 24 dot products), sigma by a group max in
 *        registers; one read of x (16-byte fp32 / 8-byte fp16 chunk loads) and one write.
 * Med3x: chunk norms to scratch with the level-0 histogram, then a radix select on the norms'
 *        bits (11 + 11 + 10): a one-block scan per level picks the bins holding ranks (n-1)/2
 *        and n/2, a histogram kernel refines inside them. Seven launches, no host round trip;
 *        the quantize kernel reads the threshold from the device. */
#include <float.h>

#include "hqmq.h"
#include "qdq_common.cuh"

#define HQ_THREADS 256
#define HQ_BINS 2048
#define HQ_HIST_OFF 256                                /* bytes: after the state */
#define HQ_NORMS_OFF (HQ_HIST_OFF + 2 * HQ_BINS * 4)  /* bytes: after two histograms */

/* The paper variant's joint codebook (24 * S codewords), rebuilt at every paper launch. */
__device__ float4 g_hq_cb[RB_HQMQ_NP * RB_HQMQ_MAX_S];

/* ---- helpers -------------------------------------------------------------------------------- */
/* max that keeps a NaN (a NaN chunk makes the row NaN, as on the CPU) */
static __device__ __forceinline__ float hq_max(float a, float b) { return (b > a || b != b) ? b : a; }

template <int G> static __device__ __forceinline__ float hq_group_max(float v, unsigned mask)
{
#pragma unroll
    for (int o = G / 2; o > 0; o >>= 1)
        v = hq_max(v, __shfl_xor_sync(mask, v, o));
    return v;
}

/* Max over the thread block, every thread gets it. s_red holds 33 floats; reusable at once. */
static __device__ __forceinline__ float hq_block_max(float v, float *s_red)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = hq_group_max<32>(v, 0xffffffffu);
    if (lane == 0)
        s_red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float t = lane < nw ? s_red[lane] : 0.0f;
        t = hq_group_max<32>(t, 0xffffffffu);
        if (lane == 0)
            s_red[32] = t;
    }
    __syncthreads();
    float r = s_red[32];
    __syncthreads();
    return r;
}

/* One chunk (4 consecutive values starting at p) in and out: vec = 16-byte fp32 / 8-byte fp16
 * accesses (d % 4 == 0, aligned); otherwise element by element, zero-padded past the row. */
template <typename T> struct HqIO;
template <> struct HqIO<float> {
    static __device__ __forceinline__ void load4(const float *p, float *v)
    {
        float4 q = __ldg(reinterpret_cast<const float4 *>(p));
        v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
    }
    static __device__ __forceinline__ void store4(float *p, const float *v)
    {
        *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
    }
};
template <> struct HqIO<__half> {
    static __device__ __forceinline__ void load4(const __half *p, float *v)
    {
        uint2 q = __ldg(reinterpret_cast<const uint2 *>(p));
        float2 a = __half22float2(*reinterpret_cast<const __half2 *>(&q.x));
        float2 b = __half22float2(*reinterpret_cast<const __half2 *>(&q.y));
        v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
    }
    static __device__ __forceinline__ void store4(__half *p, const float *v)
    {
        __half2 a = __floats2half2_rn(v[0], v[1]), b = __floats2half2_rn(v[2], v[3]);
        uint2 q;
        q.x = *reinterpret_cast<uint32_t *>(&a);
        q.y = *reinterpret_cast<uint32_t *>(&b);
        *reinterpret_cast<uint2 *>(p) = q;
    }
};

template <typename T>
static __device__ __forceinline__ void hq_load(const T *xr, int d, int b, bool vec, float *v)
{
    if (vec) {
        HqIO<T>::load4(xr + 4 * b, v);
        return;
    }
#pragma unroll
    for (int k = 0; k < 4; k++)
        v[k] = 4 * b + k < d ? RbIO<T>::ld1(xr + 4 * b + k) : 0.0f;
}

template <typename T>
static __device__ __forceinline__ void hq_store(T *or_, int d, int b, bool vec, const float *v)
{
    if (vec) {
        HqIO<T>::store4(or_ + 4 * b, v);
        return;
    }
#pragma unroll
    for (int k = 0; k < 4; k++)
        if (4 * b + k < d)
            RbIO<T>::st1(or_ + 4 * b + k, v[k]);
}

static bool hq_vec_ok(int d, int esz, const void *x, const void *xh)
{
    const uintptr_t a = (uintptr_t)4 * esz - 1;
    return d % 4 == 0 && ((uintptr_t)x & a) == 0 && ((uintptr_t)xh & a) == 0;
}

/* ---- paper variant --------------------------------------------------------------------------- */
__global__ void hq_build_codebook(const float *__restrict__ qs, int S)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < RB_HQMQ_NP * S) {
        float c[4];
        rb_hqmq_codeword(qs, S, idx, c);
        g_hq_cb[idx] = make_float4(c[0], c[1], c[2], c[3]);
    }
}

template <typename T>
__global__ void hq_paper(const T *__restrict__ x, T *__restrict__ xh, int d, int S, int qmax, int inliers,
                         float thresh0, const float *__restrict__ thr)
{
    __shared__ float s_red[33];
    const int g = (d + 3) / 4, b = threadIdx.x, K = RB_HQMQ_NP * S;
    const T *xr = x + (long)blockIdx.x * d;
    T *or_ = xh + (long)blockIdx.x * d;
    const float thresh = thr ? __ldg(thr) : thresh0;
    float v[4] = {0.0f, 0.0f, 0.0f, 0.0f}, r = 0.0f;
    if (b < g) {
        hq_load<T>(xr, d, b, false, v);
        r = rb_hqmq_chunk_norm(v);
    }
    const float fin = hq_block_max(r, s_red);
    float sig = hq_block_max(b < g ? rb_hqmq_sigma_acc(0.0f, r, thresh, inliers) : 0.0f, s_red);
    if (b >= g)
        return;
    float o[4];
    if (!(fin <= FLT_MAX)) {
        o[0] = o[1] = o[2] = o[3] = rbk_nan();
    } else if (r > thresh) {
#pragma unroll
        for (int k = 0; k < 4; k++)
            o[k] = rb_round_f16(v[k]);
    } else {
        sig = rb_hqmq_sigma_store(sig);
        const float rr = r > RB_HQMQ_R_EPS ? r : RB_HQMQ_R_EPS;
        const float u[4] = {v[0] / rr, v[1] / rr, v[2] / rr, v[3] / rr};
        float best = -FLT_MAX;
        int bi = 0;
        for (int idx = 0; idx < K; idx++) { /* every thread reads the same codeword: a broadcast */
            const float4 c = g_hq_cb[idx];
            const float sc = u[0] * c.x + u[1] * c.y + u[2] * c.z + u[3] * c.w;
            if (sc > best) {
                best = sc;
                bi = idx;
            }
        }
        const float4 c = g_hq_cb[bi];
        const float rh = rb_hqmq_radius_hat(rb_hqmq_radius_code(r, sig, qmax), sig, qmax);
        o[0] = rh * c.x; o[1] = rh * c.y; o[2] = rh * c.z; o[3] = rh * c.w;
    }
    hq_store<T>(or_, d, b, false, o);
}

/* ---- fast variant ---------------------------------------------------------------------------- */
/* rb_hqmq_search_fast (hqmq.h) on C chunks at once: each q_s read from shared memory (a 16-byte
 * broadcast: every lane reads the same s) feeds C products. Per secondary and chunk: 16 FMA, 3
 * adds, 2 FMNMX and 1 VIMNMX3 (plus one per 2 secondaries); per block of 4 secondaries: a multiply
 * by 0.5, one max and the comparison with the best. live[c]: chunk c is searched (idx[c] is
 * set); other chunks run along with whatever u they hold, and their result is dropped. */
template <int C>
static __device__ __forceinline__ void hq_search(const float4 *sq, const float *s_qs, int S, const float (*u)[4],
                                                 const bool *live, int *idx)
{
    float best[C];
    int bs[C];
    bool tie[C];
#pragma unroll
    for (int c = 0; c < C; c++) {
        best[c] = -FLT_MAX;
        bs[c] = 0;
        tie[c] = false;
    }
    int s0 = 0;
#pragma unroll 2
    for (; s0 + RB_HQMQ_U <= S; s0 += RB_HQMQ_U) {
        float q[4 * RB_HQMQ_U];
#pragma unroll
        for (int j = 0; j < RB_HQMQ_U; j++) {
            const float4 t = sq[s0 + j];
            q[4 * j] = t.x; q[4 * j + 1] = t.y; q[4 * j + 2] = t.z; q[4 * j + 3] = t.w;
        }
#pragma unroll
        for (int c = 0; c < C; c++)
            rb_hqmq_track(rb_hqmq_score4(u[c], q), s0, &best[c], &bs[c], &tie[c]);
    }
#pragma unroll 1
    for (; s0 < S; s0++) {
        const float4 t = sq[s0];
        const float q[4] = {t.x, t.y, t.z, t.w};
#pragma unroll
        for (int c = 0; c < C; c++)
            rb_hqmq_track(rb_hqmq_score1(u[c], q), s0, &best[c], &bs[c], &tie[c]);
    }
#pragma unroll
    for (int c = 0; c < C; c++) {
        if (!live[c])
            continue;
        const int i = tie[c] ? -1 : rb_hqmq_finish(s_qs, S, bs[c], best[c], u[c]);
        idx[c] = i >= 0 ? i : rb_hqmq_search(s_qs, S, u[c]); /* exact ties: rare */
    }
}

/* G lanes per vector, CPL chunks per lane (chunk b = lane + G i), searched C at a time. */
template <typename T, int G, int CPL, int C>
__global__ void __launch_bounds__(HQ_THREADS)
hq_fast(const T *__restrict__ x, T *__restrict__ xh, long N, int d, const float *__restrict__ qs, int S,
        int qmax, int inliers, float thresh0, const float *__restrict__ thr, int vec)
{
    static_assert(CPL % C == 0, "CPL must be a multiple of C");
    extern __shared__ float4 s_q4[]; /* S secondaries */
    float *s_qs = reinterpret_cast<float *>(s_q4);
    for (int i = threadIdx.x; i < 4 * S; i += blockDim.x)
        s_qs[i] = __ldg(qs + i);
    __syncthreads();
    const float thresh = thr ? __ldg(thr) : thresh0;
    const int g = (d + 3) / 4, gl = threadIdx.x % G, grp = threadIdx.x / G, gpb = blockDim.x / G;
    const unsigned mask = rbk_group_mask<G>();

    for (long row = (long)blockIdx.x * gpb + grp; row < N; row += (long)gridDim.x * gpb) {
        const T *xr = x + row * d;
        T *or_ = xh + row * d;
        float v[CPL][4], r[CPL], fin = 0.0f, sig = 0.0f;
#pragma unroll
        for (int i = 0; i < CPL; i++) {
            const int b = gl + G * i;
            r[i] = 0.0f;
            v[i][0] = v[i][1] = v[i][2] = v[i][3] = 0.0f;
            if (b < g) {
                hq_load<T>(xr, d, b, vec != 0, v[i]);
                r[i] = rb_hqmq_chunk_norm(v[i]);
                fin = hq_max(fin, r[i]);
                sig = rb_hqmq_sigma_acc(sig, r[i], thresh, inliers);
            }
        }
        fin = hq_group_max<G>(fin, mask);
        sig = rb_hqmq_sigma_store(hq_group_max<G>(sig, mask));
        const bool ok = fin <= FLT_MAX;
        /* rb_hqmq_chunk, its search C chunks at a time */
        bool live[CPL];
        int idx[CPL];
#pragma unroll
        for (int i0 = 0; i0 < CPL; i0 += C) {
            float u[C][4];
#pragma unroll
            for (int c = 0; c < C; c++) {
                const int i = i0 + c;
                live[i] = ok && gl + G * i < g && !(r[i] > thresh);
                const float rr = r[i] > RB_HQMQ_R_EPS ? r[i] : RB_HQMQ_R_EPS;
#pragma unroll
                for (int k = 0; k < 4; k++)
                    u[c][k] = v[i][k] / rr;
                idx[i] = 0;
            }
            hq_search<C>(s_q4, s_qs, S, u, live + i0, idx + i0);
        }
#pragma unroll
        for (int i = 0; i < CPL; i++) {
            const int b = gl + G * i;
            if (b >= g)
                continue;
            float o[4];
            if (!ok) {
                o[0] = o[1] = o[2] = o[3] = rbk_nan();
            } else if (!live[i]) { /* r > thresh: kept in fp16 */
#pragma unroll
                for (int k = 0; k < 4; k++)
                    o[k] = rb_round_f16(v[i][k]);
            } else {
                float c[4];
                rb_hqmq_codeword(s_qs, S, idx[i], c);
                const float rh = rb_hqmq_radius_hat(rb_hqmq_radius_code(r[i], sig, qmax), sig, qmax);
#pragma unroll
                for (int k = 0; k < 4; k++)
                    o[k] = rh * c[k];
            }
            hq_store<T>(or_, d, b, vec != 0, o);
        }
    }
}

template <typename T, int G, int CPL, int C>
static cudaError_t hq_fast_launch(const rb_qdq_params *p, const T *x, T *xh, long N, const float *thr,
                                  cudaStream_t st)
{
    auto kern = hq_fast<T, G, CPL, C>;
    constexpr int GPB = HQ_THREADS / G;
    /* occupancy for the largest table, once per instantiation */
    static const int occ = rbk_occupancy(kern, HQ_THREADS, sizeof(float) * 4 * RB_HQMQ_MAX_S);
    const size_t smem = sizeof(float) * 4 * (size_t)p->hq_S;
    const int vec = hq_vec_ok(p->d, (int)sizeof(T), x, xh);
    kern<<<rbk_grid(occ, (N + GPB - 1) / GPB), HQ_THREADS, smem, st>>>(
        x, xh, N, p->d, p->rot, p->hq_S, (1 << p->hq_rbits) - 1, p->hq_sigma_inliers, p->hq_thresh, thr, vec);
    return cudaGetLastError();
}

template <typename T>
static cudaError_t hq_launch_T(const rb_qdq_params *p, int variant, const void *xv, void *xhv, long N,
                               const float *thr, cudaStream_t st)
{
    const T *x = static_cast<const T *>(xv);
    T *xh = static_cast<T *>(xhv);
    const int g = (p->d + 3) / 4;
    if (variant == RB_VARIANT_PAPER) {
        const int K = RB_HQMQ_NP * p->hq_S;
        hq_build_codebook<<<(K + 255) / 256, 256, 0, st>>>(p->rot, p->hq_S);
        hq_paper<T><<<(unsigned)N, rbk_round32(g), 0, st>>>(x, xh, p->d, p->hq_S, (1 << p->hq_rbits) - 1,
                                                            p->hq_sigma_inliers, p->hq_thresh, thr);
        return cudaGetLastError();
    }
    /* two chunks per lane (one q_s load feeds two searches), G lanes per vector */
    if (g <= 1) return hq_fast_launch<T, 1, 1, 1>(p, x, xh, N, thr, st);
    if (g <= 2) return hq_fast_launch<T, 1, 2, 2>(p, x, xh, N, thr, st);
    if (g <= 4) return hq_fast_launch<T, 2, 2, 2>(p, x, xh, N, thr, st);
    if (g <= 8) return hq_fast_launch<T, 4, 2, 2>(p, x, xh, N, thr, st);
    if (g <= 16) return hq_fast_launch<T, 8, 2, 2>(p, x, xh, N, thr, st);
    if (g <= 32) return hq_fast_launch<T, 16, 2, 2>(p, x, xh, N, thr, st);
    if (g <= 64) return hq_fast_launch<T, 32, 2, 2>(p, x, xh, N, thr, st);
    if (g <= 128) return hq_fast_launch<T, 32, 4, 2>(p, x, xh, N, thr, st);
    if (g <= 256) return hq_fast_launch<T, 32, 8, 2>(p, x, xh, N, thr, st);
    if (g <= 512) return hq_fast_launch<T, 32, 16, 2>(p, x, xh, N, thr, st);
    return hq_fast_launch<T, 32, 32, 2>(p, x, xh, N, thr, st);
}

extern "C" cudaError_t rb_launch_hqmq(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh,
                                      long N, const float *thresh, cudaStream_t stream)
{
    if (!p || p->method != RB_HQMQ || variant < 0 || variant >= RB_NUM_VARIANTS || (dtype != 0 && dtype != 1) ||
        p->d < 2 || p->d > 4096 || p->hq_S < 1 || p->hq_S > RB_HQMQ_MAX_S || p->hq_rbits < 1 ||
        p->hq_rbits > 16 || !p->rot || N < 0 || N > (1L << 31) - 1 || (N > 0 && (!x || !xh)))
        return cudaErrorInvalidValue;
    if (N == 0)
        return cudaSuccess;
    if (dtype == 0)
        return hq_launch_T<float>(p, variant, x, xh, N, thresh, stream);
    return hq_launch_T<__half>(p, variant, x, xh, N, thresh, stream);
}

/* ---- Med3x pre-pass ---------------------------------------------------------------------------- */
static __device__ __forceinline__ rb_hqmq_med3_state *hq_state(void *s) { return (rb_hqmq_med3_state *)s; }

/* Chunk norms (as bits) and the level-0 histogram of their top 11 bits. Non-finite norms are
 * stored but not counted (their rows come out NaN). */
template <typename T>
__global__ void __launch_bounds__(HQ_THREADS)
hq_norms(const T *__restrict__ x, int d, long N, unsigned *__restrict__ norms, unsigned *__restrict__ hist, int vec)
{
    __shared__ unsigned sh[HQ_BINS];
    for (int k = threadIdx.x; k < HQ_BINS; k += blockDim.x)
        sh[k] = 0;
    __syncthreads();
    const int g = (d + 3) / 4;
    const long M = N * g;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < M; i += (long)gridDim.x * blockDim.x) {
        const long row = i / g;
        const int b = (int)(i - row * g);
        float v[4];
        hq_load<T>(x + row * d, d, b, vec != 0, v);
        const unsigned u = __float_as_uint(rb_hqmq_chunk_norm(v));
        norms[i] = u;
        if (u < 0x7f800000u)
            atomicAdd(&sh[u >> 21], 1u);
    }
    __syncthreads();
    for (int k = threadIdx.x; k < HQ_BINS; k += blockDim.x)
        if (sh[k])
            atomicAdd(&hist[k], sh[k]);
}

/* Levels 1 and 2: histograms of the next bits of the norms inside each rank's prefix. */
__global__ void __launch_bounds__(HQ_THREADS)
hq_hist(const unsigned *__restrict__ norms, long M, int level, const void *state, unsigned *__restrict__ hist)
{
    __shared__ unsigned sh[2][HQ_BINS];
    for (int k = threadIdx.x; k < 2 * HQ_BINS; k += blockDim.x)
        sh[k / HQ_BINS][k % HQ_BINS] = 0;
    const rb_hqmq_med3_state *st = (const rb_hqmq_med3_state *)state;
    const unsigned p0 = st->prefix[0], p1 = st->prefix[1];
    const int keep = level == 1 ? 21 : 10; /* bits below the prefix */
    const unsigned bmask = level == 1 ? 2047u : 1023u, bshift = level == 1 ? 10u : 0u;
    __syncthreads();
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < M; i += (long)gridDim.x * blockDim.x) {
        const unsigned u = __ldg(norms + i);
        if (u >= 0x7f800000u)
            continue;
        const unsigned key = u >> keep, bin = (u >> bshift) & bmask;
        if (key == p0)
            atomicAdd(&sh[0][bin], 1u);
        if (key == p1)
            atomicAdd(&sh[1][bin], 1u);
    }
    __syncthreads();
    for (int k = threadIdx.x; k < 2 * HQ_BINS; k += blockDim.x)
        if (sh[k / HQ_BINS][k % HQ_BINS])
            atomicAdd(&hist[k], sh[k / HQ_BINS][k % HQ_BINS]);
}

/* Exclusive prefix sum over a 1024-thread block; *total gets the sum. */
static __device__ unsigned long long hq_block_exscan(unsigned long long v, unsigned long long *s_w,
                                                     unsigned long long *total)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    unsigned long long inc = v;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        unsigned long long t = __shfl_up_sync(0xffffffffu, inc, o);
        if (lane >= o)
            inc += t;
    }
    if (lane == 31)
        s_w[warp] = inc;
    __syncthreads();
    if (warp == 0) {
        unsigned long long w = s_w[lane], wi = w;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            unsigned long long t = __shfl_up_sync(0xffffffffu, wi, o);
            if (lane >= o)
                wi += t;
        }
        s_w[lane] = wi - w; /* exclusive per warp */
        if (lane == 31)
            s_w[32] = wi;
    }
    __syncthreads();
    unsigned long long r = s_w[warp] + inc - v;
    *total = s_w[32];
    __syncthreads();
    return r;
}

/* One block of 1024 threads: for each rank, the bin of this level's histogram that holds it;
 * extends the rank's prefix and makes the rank relative to the bin. Level 0 also counts n and
 * sets the ranks; level 2 ends with the median and the threshold. Zeroes the histograms. */
__global__ void __launch_bounds__(1024) hq_scan(void *state, unsigned *hist, int level, float C)
{
    __shared__ unsigned long long s_w[33];
    rb_hqmq_med3_state *st = hq_state(state);
    const int nb = level == 2 ? 1024 : HQ_BINS, W = nb / 1024, bits = level == 2 ? 10 : 11;
    const int t = threadIdx.x;
    for (int r = 0; r < 2; r++) {
        const unsigned *h = hist + (level == 0 ? 0 : r * HQ_BINS);
        unsigned long long loc = 0, total = 0;
        for (int w = 0; w < W; w++)
            loc += h[t * W + w];
        const unsigned long long ex = hq_block_exscan(loc, s_w, &total);
        if (level == 0 && r == 0 && t == 0) {
            st->n = total;
            st->rank[0] = total ? (total - 1) / 2 : 0;
            st->rank[1] = total / 2;
            st->prefix[0] = st->prefix[1] = 0;
        }
        __syncthreads();
        const unsigned long long k = st->rank[r];
        const bool any = st->n > 0;
        __syncthreads();
        if (any && ex <= k && k < ex + loc) { /* exactly one thread */
            unsigned long long c = ex;
            int bin = t * W;
            while (c + h[bin] <= k)
                c += h[bin++];
            st->prefix[r] = (level == 0 ? 0u : st->prefix[r] << bits) | (unsigned)bin;
            st->rank[r] = k - c;
        }
        __syncthreads();
    }
    for (int k = t; k < 2 * HQ_BINS; k += blockDim.x)
        hist[k] = 0;
    if (level == 2 && t == 0) {
        float med = 0.0f;
        if (st->n > 0) { /* the same expression as rb_hqmq_batch_median */
            const float lo = __uint_as_float(st->prefix[0]), hi = __uint_as_float(st->prefix[1]);
            med = lo + 0.5f * (hi - lo);
        }
        st->median = med;
        st->thresh = C * med; /* rb_hqmq_threshold */
    }
}

__global__ void __launch_bounds__(HQ_THREADS)
hq_count(const unsigned *__restrict__ norms, long M, void *state)
{
    rb_hqmq_med3_state *st = hq_state(state);
    const float thr = st->thresh;
    unsigned long long c = 0;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < M; i += (long)gridDim.x * blockDim.x) {
        const unsigned u = __ldg(norms + i);
        c += u < 0x7f800000u && __uint_as_float(u) > thr;
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        c += __shfl_xor_sync(0xffffffffu, c, o);
    if ((threadIdx.x & 31) == 0 && c)
        atomicAdd(&st->outliers, c);
}

extern "C" size_t rb_hqmq_med3_scratch_bytes(int d, long N)
{
    return HQ_NORMS_OFF + sizeof(unsigned) * (size_t)N * (size_t)((d + 3) / 4);
}

extern "C" const float *rb_hqmq_med3_thresh(const void *scratch)
{
    return scratch ? &((const rb_hqmq_med3_state *)scratch)->thresh : nullptr;
}

static unsigned hq_pass_grid(long M)
{
    long want = (M + HQ_THREADS - 1) / HQ_THREADS, cap = 4L * rbk_num_sms();
    return (unsigned)(want < 1 ? 1 : want < cap ? want : cap);
}

extern "C" cudaError_t rb_launch_hqmq_med3(const void *x, int dtype, int d, long N, float C, void *scratch,
                                           cudaStream_t stream)
{
    static_assert(sizeof(rb_hqmq_med3_state) <= HQ_HIST_OFF, "state overlaps the histograms");
    if (!scratch || (dtype != 0 && dtype != 1) || d < 2 || d > 4096 || N < 1 || N > (1L << 31) - 1 || !x ||
        !(C > 0.0f))
        return cudaErrorInvalidValue;
    const long M = N * ((d + 3) / 4);
    unsigned *hist = (unsigned *)((char *)scratch + HQ_HIST_OFF), *norms = (unsigned *)((char *)scratch + HQ_NORMS_OFF);
    cudaError_t e = cudaMemsetAsync(scratch, 0, HQ_NORMS_OFF, stream);
    if (e != cudaSuccess)
        return e;
    const unsigned grid = hq_pass_grid(M);
    if (dtype == 0)
        hq_norms<float><<<grid, HQ_THREADS, 0, stream>>>((const float *)x, d, N, norms, hist,
                                                          hq_vec_ok(d, 4, x, x));
    else
        hq_norms<__half><<<grid, HQ_THREADS, 0, stream>>>((const __half *)x, d, N, norms, hist,
                                                           hq_vec_ok(d, 2, x, x));
    hq_scan<<<1, 1024, 0, stream>>>(scratch, hist, 0, C);
    hq_hist<<<grid, HQ_THREADS, 0, stream>>>(norms, M, 1, scratch, hist);
    hq_scan<<<1, 1024, 0, stream>>>(scratch, hist, 1, C);
    hq_hist<<<grid, HQ_THREADS, 0, stream>>>(norms, M, 2, scratch, hist);
    hq_scan<<<1, 1024, 0, stream>>>(scratch, hist, 2, C);
    return cudaGetLastError();
}

extern "C" cudaError_t rb_launch_hqmq_count_outliers(int d, long N, void *scratch, cudaStream_t stream)
{
    if (!scratch || d < 2 || d > 4096 || N < 1 || N > (1L << 31) - 1)
        return cudaErrorInvalidValue;
    const long M = N * ((d + 3) / 4);
    cudaError_t e = cudaMemsetAsync(&((rb_hqmq_med3_state *)scratch)->outliers, 0, sizeof(unsigned long long), stream);
    if (e != cudaSuccess)
        return e;
    hq_count<<<hq_pass_grid(M), HQ_THREADS, 0, stream>>>((const unsigned *)((char *)scratch + HQ_NORMS_OFF), M,
                                                         scratch);
    return cudaGetLastError();
}
