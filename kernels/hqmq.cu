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
 * fast, cell search (S <= 256, with the host's cell table; the default, RB_HQ_SEARCH_* in
 *        qdq.h): the fast layout, each chunk's direction looked up in the table and only its
 *        few listed codewords scored (hqmq_cells.h), against the joint codebook in global memory.
 * fast, tensor-core screen (d = 128, 256, 512, S <= 256; by default from S = 64 on without a
 *        cell table): the same answers with the products screened by fp16 tensor-core MMA and
 *        only the secondaries that can win searched in fp32 (hqmq_screen.h; hq_tc below).
 * Med3x: chunk norms to scratch with the level-0 histogram, then a radix select on the norms'
 *        bits (11 + 11 + 10): a one-block scan per level picks the bins holding ranks (n-1)/2
 *        and n/2, a histogram kernel refines inside them. Seven launches, no host round trip;
 *        the quantize kernel reads the threshold from the device.
 *
 * Over 600 lines on purpose: the three searches (closed form, tensor-core screen, cell lists)
 * are template instances of one fast kernel and must see its row loop inline; split across
 * files they could not share it without device-side linking, which costs registers. */
#include <float.h>

#include "hqmq.h"
#include "hqmq_cells.h"
#include "hqmq_pack.h"
#include "hqmq_screen.h"
#include "qdq_common.cuh"

#define HQ_THREADS 256
#define HQ_BINS 2048
#define HQ_HIST_OFF 256                                /* bytes: after the state */
#define HQ_NORMS_OFF (HQ_HIST_OFF + 2 * HQ_BINS * 4)  /* bytes: after two histograms */

/* The paper variant's joint codebook (24 * S codewords), rebuilt at every paper launch. */
static __device__ float4 g_hq_cb[RB_HQMQ_NP * RB_HQMQ_MAX_S]; /* one per object (RB_PART below) */

/* ---- helpers -------------------------------------------------------------------------------- */
/* max that keeps a NaN (a NaN chunk makes the row NaN, as on the CPU). Its inputs are norms
 * (+0 or more, or NaN), so max.NaN (one instruction on sm_80+, a canonical NaN) gives the same
 * answer as the three-instruction select. */
static __device__ __forceinline__ float hq_max(float a, float b)
{
#if __CUDA_ARCH__ >= 800
    float m;
    asm("max.NaN.f32 %0, %1, %2;" : "=f"(m) : "f"(a), "f"(b));
    return m;
#else
    return (b > a || b != b) ? b : a;
#endif
}

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
 * accesses (d % 4 == 0, aligned); otherwise element by element, zero-padded past the row. The
 * vector accesses stream (ld/st.global.cs, evict first): the rows pass through L2 once, while
 * the cell table (16 MB) and the codebook should stay there (faster than cached accesses:
 * docs/perf-log/2026-12-06-experiment-switches.md). */
#define HQ_LD(p) __ldcs(p)
#define HQ_ST(p, v) __stcs(p, v)
template <typename T> struct HqIO;
template <> struct HqIO<float> {
    typedef float4 raw; /* the loaded bits, converted apart so that several loads can be in flight */
    static __device__ __forceinline__ raw ld(const float *p) { return HQ_LD(reinterpret_cast<const float4 *>(p)); }
    static __device__ __forceinline__ raw zero() { return make_float4(0.0f, 0.0f, 0.0f, 0.0f); }
    static __device__ __forceinline__ void cvt(raw q, float *v)
    {
        v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
    }
    static __device__ __forceinline__ void load4(const float *p, float *v) { cvt(ld(p), v); }
    static __device__ __forceinline__ void store4(float *p, const float *v)
    {
        HQ_ST(reinterpret_cast<float4 *>(p), make_float4(v[0], v[1], v[2], v[3]));
    }
};
template <> struct HqIO<__half> {
    typedef uint2 raw;
    static __device__ __forceinline__ raw ld(const __half *p) { return HQ_LD(reinterpret_cast<const uint2 *>(p)); }
    static __device__ __forceinline__ raw zero() { return make_uint2(0u, 0u); }
    static __device__ __forceinline__ void cvt(raw q, float *v)
    {
        float2 a = __half22float2(*reinterpret_cast<const __half2 *>(&q.x));
        float2 b = __half22float2(*reinterpret_cast<const __half2 *>(&q.y));
        v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
    }
    static __device__ __forceinline__ void load4(const __half *p, float *v) { cvt(ld(p), v); }
    static __device__ __forceinline__ void store4(__half *p, const float *v)
    {
        __half2 a = __floats2half2_rn(v[0], v[1]), b = __floats2half2_rn(v[2], v[3]);
        uint2 q;
        q.x = *reinterpret_cast<uint32_t *>(&a);
        q.y = *reinterpret_cast<uint32_t *>(&b);
        HQ_ST(reinterpret_cast<uint2 *>(p), q);
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
static __global__ void hq_build_codebook(const float *__restrict__ qs, int S)
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
/* One chunk's output (rb_hqmq_chunk's): NaN for a non-finite row, fp16 for a Med3x outlier
 * (not live), else r_hat times codeword q_p q_s, formed here or read from the joint codebook cw
 * (CELLS; the same bits: the entries of q_p are 0, +-1/2, +-1, so every product is exact). */
template <bool CELLS>
static __device__ __forceinline__ void hq_out(bool ok, bool live, const float v[4], float r, float sig, int qmax,
                                              const float *s_qs, int p, int s, float o[4], const float *cw = nullptr,
                                              int S = 0)
{
    if (!ok) {
        o[0] = o[1] = o[2] = o[3] = rbk_nan();
    } else if (!live) { /* r > thresh: kept in fp16 */
#pragma unroll
        for (int k = 0; k < 4; k++)
            o[k] = rb_round_f16(v[k]);
    } else {
        float c[4];
        if constexpr (CELLS)
            rb_hqmq_ld4(cw + 4 * (p * S + s), c);
        else
            rb_hqmq_codeword_ps(s_qs, p, s, c);
        const float rh = rb_hqmq_radius_hat(rb_hqmq_radius_code(r, sig, qmax), sig, qmax);
#pragma unroll
        for (int k = 0; k < 4; k++)
            o[k] = rh * c[k];
    }
}

/* rb_hqmq_search_fast (hqmq.h) on C chunks at once: each q_s read from shared memory (a 16-byte
 * broadcast: every lane reads the same s) feeds C products. Per secondary and chunk: 16 FMA, 3
 * adds, 2 FMNMX and 1 VIMNMX3 (plus one per 2 secondaries); per block of 4 secondaries: a multiply
 * by 0.5, one max and the comparison with the best. live[c]: chunk c is searched (its secondary
 * into sec[c], its unit into unit[c]: no idx / S to undo later); other chunks run along with
 * whatever u they hold, and their result is dropped. */
template <int C>
static __device__ __forceinline__ void hq_search(const float4 *sq, const float *s_qs, int S, const float (*u)[4],
                                                 const bool *live, int *sec, int *unit)
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
        sec[c] = tie[c] ? -1 : rb_hqmq_finish(s_qs, S, bs[c], best[c], u[c], &unit[c]);
        if (sec[c] < 0) { /* exact ties: rare (rb_hqmq_search_ps: 3 % slower, docs/perf-log/2026-11-23-h100.md) */
            const int idx = rb_hqmq_search(s_qs, S, u[c]);
            unit[c] = idx / S;
            sec[c] = idx - unit[c] * S;
        }
    }
}

/* The cell search of one chunk: locate (the reduction, the cell, its 32-byte record from the
 * table in global memory into registers), then pick (rb_hqmq_cells_pick, the codewords from cw,
 * the joint codebook in global memory). */
struct HqCell {
    float z[4];
    int g;
    const uint4 *rec; /* the record in the table */
    uint4 a, b;       /* its copy */
};

static __device__ __forceinline__ void hq_cells_locate(const uint4 *__restrict__ tab, int cg, const float v[4], HqCell &c)
{
    c.g = rb_hqmq_cell_reduce(v, c.z);
    c.rec = tab + 2 * (long)rb_hqmq_cell_of(c.z, cg);
    c.a = __ldg(c.rec);
    c.b = __ldg(c.rec + 1);
}

static __device__ __forceinline__ int hq_cells_pick(const HqCell &c, const float *__restrict__ cw, const float *s_qs,
                                                    int S, float inv_s, const unsigned char *s_pmul, const float v[4],
                                                    float r, int *p)
{
    const uint32_t w[8] = {c.a.x, c.a.y, c.a.z, c.a.w, c.b.x, c.b.y, c.b.z, c.b.w};
    unsigned short rec[RB_HQMQ_CELL_SLOTS];
#pragma unroll
    for (int k = 0; k < 8; k++) {
        rec[2 * k] = (unsigned short)(w[k] & 0xffffu);
        rec[2 * k + 1] = (unsigned short)(w[k] >> 16);
    }
    return rb_hqmq_cells_pick(cw, s_qs, S, inv_s, s_pmul, rec, reinterpret_cast<const unsigned short *>(c.rec), v, r,
                              c.g, c.z, p);
}

/* The encode mode's output (ENC): the records and sigma of hqmq_pack.h; nw words a record, the
 * first cw of them code words of F-bit fields, then fw flag words (Med3x). */
struct HqEnc {
    uint32_t *rows;
    uint16_t *sigma;
    int nw, cw, fw, F;
};

/* G lanes per vector, CPL chunks per lane (chunk b = lane + G i), searched C at a time (the fp32
 * search) or one by one through the cell table (CELLS: tab, cg cells per axis, the joint codebook
 * g_hq_cb built just before). ENC, the encode mode: each chunk's field (its outlier flag in bit
 * 31: F <= 31) goes to the group's G * CPL words of shared memory after the q_s; the group's
 * lanes then form the record's whole words from them, one word a lane, and write them. */
template <typename T, int G, int CPL, int C, bool CELLS, bool ENC>
__global__ void __launch_bounds__(HQ_THREADS)
hq_fast(const T *__restrict__ x, T *__restrict__ xh, long N, int d, const float *__restrict__ qs, int S,
        int qmax, int inliers, float thresh0, const float *__restrict__ thr, int vec, const uint4 *__restrict__ tab,
        int cg, HqEnc enc)
{
    static_assert(CPL % C == 0, "CPL must be a multiple of C");
    extern __shared__ float4 s_q4[]; /* S secondaries; ENC: then the groups' fields */
    __shared__ unsigned char s_pmul[8 * RB_HQMQ_NP];
    float *s_qs = reinterpret_cast<float *>(s_q4);
    for (int i = threadIdx.x; i < 4 * S; i += blockDim.x)
        s_qs[i] = __ldg(qs + i);
    if (CELLS)
        for (int i = threadIdx.x; i < 8 * RB_HQMQ_NP; i += blockDim.x)
            rb_hqmq_pmul_entry(i, s_pmul);
    const float inv_s = 1.0f / (float)S;
    const float *cw = CELLS ? reinterpret_cast<const float *>(g_hq_cb) : nullptr; /* the joint codebook */
    __syncthreads();
    const float thresh = thr ? __ldg(thr) : thresh0;
    const int g = (d + 3) / 4, gl = threadIdx.x % G, grp = threadIdx.x / G, gpb = blockDim.x / G;
    const unsigned mask = rbk_group_mask<G>();

    for (long row = (long)blockIdx.x * gpb + grp; row < N; row += (long)gridDim.x * gpb) {
        const T *xr = x + row * d;
        T *or_ = xh + row * d;
        float v[CPL][4], r[CPL], fin = 0.0f, sig = 0.0f;
        if (vec) { /* every chunk's load before any conversion: their latencies overlap */
            typename HqIO<T>::raw q[CPL];
#pragma unroll
            for (int i = 0; i < CPL; i++)
                q[i] = gl + G * i < g ? HqIO<T>::ld(xr + 4 * (gl + G * i)) : HqIO<T>::zero();
#pragma unroll
            for (int i = 0; i < CPL; i++)
                HqIO<T>::cvt(q[i], v[i]);
        } else {
#pragma unroll
            for (int i = 0; i < CPL; i++) {
                v[i][0] = v[i][1] = v[i][2] = v[i][3] = 0.0f;
                if (gl + G * i < g)
                    hq_load<T>(xr, d, gl + G * i, false, v[i]);
            }
        }
#pragma unroll
        for (int i = 0; i < CPL; i++) {
            const int b = gl + G * i;
            r[i] = 0.0f;
            if (b < g) {
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
        int sec[CPL], unit[CPL];
        if (CELLS) { /* on v itself: no division for u on the common path */
#pragma unroll
            for (int i = 0; i < CPL; i++) {
                live[i] = ok && gl + G * i < g && !(r[i] > thresh);
                sec[i] = unit[i] = 0;
                if (live[i]) { /* one chunk at a time: both records in flight cost 26 registers (74, not 48:
                                * 3 blocks per SM instead of 5), 8 % slower on the H100 */
                    HqCell cell;
                    hq_cells_locate(tab, cg, v[i], cell);
                    sec[i] = hq_cells_pick(cell, cw, s_qs, S, inv_s, s_pmul, v[i], r[i], &unit[i]);
                }
            }
        }
#pragma unroll
        for (int i0 = 0; i0 < CPL && !CELLS; i0 += C) {
            float u[C][4];
#pragma unroll
            for (int c = 0; c < C; c++) {
                const int i = i0 + c;
                live[i] = ok && gl + G * i < g && !(r[i] > thresh);
                const float rr = r[i] > RB_HQMQ_R_EPS ? r[i] : RB_HQMQ_R_EPS;
#pragma unroll
                for (int k = 0; k < 4; k++)
                    u[c][k] = v[i][k] / rr;
                sec[i] = unit[i] = 0;
            }
            hq_search<C>(s_q4, s_qs, S, u, live + i0, sec + i0, unit + i0);
        }
        if constexpr (ENC) {
            uint32_t *sf = reinterpret_cast<uint32_t *>(s_q4 + S) + grp * (G * CPL);
#pragma unroll
            for (int i = 0; i < CPL; i++) {
                const int b = gl + G * i;
                if (b < g) /* a non-finite row: all zero; an outlier: only its flag */
                    sf[b] = !ok ? 0u
                          : live[i] ? rb_hqmq_field(S, unit[i] * S + sec[i], rb_hqmq_radius_code(r[i], sig, qmax))
                                    : 0x80000000u;
            }
            __syncwarp(mask);
            uint32_t *rec = enc.rows + row * (long)enc.nw;
            for (int w = gl; w < enc.cw; w += G) { /* stream bits [32 w, 32 w + 32) */
                uint32_t word = 0;
                const int j1 = min((32 * w + 31) / enc.F, g - 1);
                for (int j = 32 * w / enc.F; j <= j1; j++) {
                    const int sh = j * enc.F - 32 * w; /* -F < sh < 32 */
                    const unsigned long long f = sf[j] & 0x7fffffffu;
                    word |= (uint32_t)(sh >= 0 ? f << sh : f >> -sh);
                }
                rec[w] = word;
            }
            for (int w = gl; w < enc.fw; w += G) {
                uint32_t word = 0;
                for (int j = 32 * w; j < min(32 * w + 32, g); j++)
                    word |= (sf[j] >> 31) << (j - 32 * w);
                rec[enc.cw + w] = word;
            }
            if (gl == 0)
                enc.sigma[row] = rb_f32_to_f16(ok ? sig : rb_bits_f32(0x7fc00000u));
            __syncwarp(mask); /* the fields are read before the next row's overwrite them */
        } else {
#pragma unroll
            for (int i = 0; i < CPL; i++) {
                const int b = gl + G * i;
                if (b >= g)
                    continue;
                float o[4];
                hq_out<CELLS>(ok, live[i], v[i], r[i], sig, qmax, s_qs, unit[i], sec[i], o, cw, S);
                hq_store<T>(or_, d, b, vec != 0, o);
            }
        }
    }
}

template <typename T, int G, int CPL, int C, bool CELLS, bool ENC = false>
static cudaError_t hq_fast_launch(const rb_qdq_params *p, const T *x, T *xh, long N, const float *thr,
                                  cudaStream_t st, HqEnc enc = HqEnc{})
{
    auto kern = hq_fast<T, G, CPL, C, CELLS, ENC>;
    constexpr int GPB = HQ_THREADS / G;
    constexpr size_t FIELDS = ENC ? sizeof(uint32_t) * HQ_THREADS * CPL : 0; /* G CPL words a group */
    /* occupancy for the largest table, once per instantiation */
    static const int occ = rbk_occupancy(kern, HQ_THREADS, sizeof(float) * 4 * RB_HQMQ_MAX_S + FIELDS);
    const size_t smem = sizeof(float) * 4 * (size_t)p->hq_S + FIELDS;
    if (ENC && smem > 32 * 1024) { /* past 48 KB with the static s_pmul: ask for it */
        const cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess)
            return e;
    }
    const int vec = hq_vec_ok(p->d, (int)sizeof(T), x, ENC ? x : xh);
    if (CELLS) { /* the joint codebook g_hq_cb, as the paper variant builds it */
        const int K = RB_HQMQ_NP * p->hq_S;
        hq_build_codebook<<<(K + 255) / 256, 256, 0, st>>>(p->rot, p->hq_S);
    }
    kern<<<rbk_grid(occ, (N + GPB - 1) / GPB), HQ_THREADS, smem, st>>>(
        x, xh, N, p->d, p->rot, p->hq_S, (1 << p->hq_rbits) - 1, p->hq_sigma_inliers, p->hq_thresh, thr, vec,
        reinterpret_cast<const uint4 *>(p->hq_cells), p->hq_cells_g, enc);
    return cudaGetLastError();
}

/* ---- fast variant, tensor-core screen (p->hq_search; hqmq_screen.h) -------------------------
 * One warp per row; in each pass of 32 chunks lane c owns chunk c (load, norm, u, the exact
 * search of its candidates, store). The screen runs as two MMA tiles of 16 chunks x 4 secondaries
 * per step: A = the chunks' fp16-split u (K = 16: u_hi, u_hi, u_lo, u_lo), B = the secondaries'
 * split product matrices (M_hi, M_lo, M_hi, M_lo), fp32 accumulation; lane (g = lane / 4,
 * q = lane % 4) gets w~ of secondary 4 m + q for the tile's chunks g and g + 8 (two MMAs: the
 * components 0, 1 and 2, 3) and keeps J running maxima per chunk, one per m mod J, so the 4 lanes
 * of a quad hold the 4 J subset maxima of hqmq_screen.h. The quad turns them into the mask of
 * subsets to search exactly; the owner lane searches them with rb_hqmq_rescore. */
#define HQ_TC_MAX_S 256 /* the B table: 512 bytes per 4 secondaries in shared memory */
#define HQ_TC_MINB 1 /* hq_tc's __launch_bounds__ minimum of resident blocks per SM (4 was slower) */

static __device__ __forceinline__ uint32_t hq_pack(float lo, float hi) /* two fp16 values, exact */
{
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&h);
}

/* d = A B, m16n8k16, fp16 in, fp32 accumulation from zero. a: the 4 A registers, b: the 2 B. */
static __device__ __forceinline__ void hq_mma(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
    const float z = 0.0f;
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%10,%11,%12,%13};"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "f"(z), "f"(z), "f"(z), "f"(z));
}

/* Lane l's B registers for step m, {b, b, b', b'} (both B registers of an MMA hold the same
 * pair, so one 16-byte load fills them without copies): column n = l / 4 is component n % 2
 * (b; n % 2 + 2 in b') of secondary 4 m + n / 2; rows k = 2 (l % 4) + {0, 1} and the same + 8
 * hold the coefficients of u_j, j = k % 4, from M_hi for l % 4 < 2 and M_lo above. Zero past S. */
static __device__ uint4 hq_tc_entry(const float *s_qs, int S, int m, int l)
{
    const int n = l >> 2, s = 4 * m + (n >> 1), c = n & 1, j0 = 2 * (l & 1), lo = (l & 3) >> 1;
    uint4 e = make_uint4(0u, 0u, 0u, 0u);
    if (s >= S)
        return e;
    float M[4][4], hl[4][2];
    rb_hqmq_wmat(s_qs + 4 * s, M);
    rb_hqmq_split16(M[c][j0], &hl[0][0], &hl[0][1]);
    rb_hqmq_split16(M[c][j0 + 1], &hl[1][0], &hl[1][1]);
    rb_hqmq_split16(M[c + 2][j0], &hl[2][0], &hl[2][1]);
    rb_hqmq_split16(M[c + 2][j0 + 1], &hl[3][0], &hl[3][1]);
    e.x = e.y = hq_pack(hl[0][lo], hl[1][lo]);
    e.z = e.w = hq_pack(hl[2][lo], hl[3][lo]);
    return e;
}

/* Step m: secondary 4 m + q's products for chunks g and g + 8, into their running maxima. */
static __device__ __forceinline__ void hq_tc_step(const uint4 *s_tab, int m, int lane, const uint32_t a[4],
                                                  float &mx0, float &sm0, float &mx1, float &sm1)
{
    const uint4 b = s_tab[m * 32 + lane];
    float c[4], e[4];
    hq_mma(c, a, b.x, b.y);
    hq_mma(e, a, b.z, b.w);
    const float w0[4] = {c[0], c[1], e[0], e[1]}, w1[4] = {c[2], c[3], e[2], e[3]};
    rb_hqmq_screen_track(w0, &mx0, &sm0);
    rb_hqmq_screen_track(w1, &mx1, &sm1);
}

/* The screen of one tile: a = this lane's A registers (u_hi of chunk g, of g + 8, u_lo of g,
 * of g + 8; components 2 (q % 2) and + 1). Leaves in
 * msk[h] the 4 J-bit mask of subsets to search for chunk g + 8 h (the same in the 4 lanes of
 * the quad). */
template <int J>
static __device__ __forceinline__ void hq_tc_screen(const uint4 *s_tab, int S4, int lane, const uint32_t a[4],
                                                    uint32_t msk[2])
{
    float mx[2][J], sm[2][J];
#pragma unroll
    for (int j = 0; j < J; j++)
        mx[0][j] = mx[1][j] = sm[0][j] = sm[1][j] = 0.0f;
    /* whole groups of J steps without a branch (the compiler overlaps their MMAs), then the
     * last S4 % J steps; every condition is the same for the whole warp, as mma.sync needs */
    int m0 = 0;
    for (; m0 + J <= S4; m0 += J) {
#pragma unroll
        for (int j = 0; j < J; j++)
            hq_tc_step(s_tab, m0 + j, lane, a, mx[0][j], sm[0][j], mx[1][j], sm[1][j]);
    }
#pragma unroll
    for (int j = 0; j < J - 1; j++)
        if (m0 + j < S4)
            hq_tc_step(s_tab, m0 + j, lane, a, mx[0][j], sm[0][j], mx[1][j], sm[1][j]);
    const int q = lane & 3;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        float sub[J], v = 0.0f;
#pragma unroll
        for (int j = 0; j < J; j++) {
            sub[j] = rb_hqmq_screen_value(mx[h][j], sm[h][j]);
            v = rb_hqmq_fmax(v, sub[j]);
        }
        v = rb_hqmq_fmax(v, __shfl_xor_sync(0xffffffffu, v, 1));
        v = rb_hqmq_fmax(v, __shfl_xor_sync(0xffffffffu, v, 2));
        const float t = rb_hqmq_screen_cut(v);
        uint32_t bits = 0;
#pragma unroll
        for (int j = 0; j < J; j++)
            bits |= (uint32_t)(sub[j] >= t) << j;
        bits <<= q * J;
        bits |= __shfl_xor_sync(0xffffffffu, bits, 1);
        bits |= __shfl_xor_sync(0xffffffffu, bits, 2);
        msk[h] = bits;
    }
}

/* CPL passes of 32 chunks per row (d = 128 CPL). */
template <typename T, int CPL, int J>
__global__ void __launch_bounds__(HQ_THREADS, HQ_TC_MINB)
hq_tc(const T *__restrict__ x, T *__restrict__ xh, long N, int d, const float *__restrict__ qs, int S, int qmax,
      int inliers, float thresh0, const float *__restrict__ thr)
{
    static_assert(4 * J <= 32, "the subset mask is 32 bits");
    extern __shared__ float4 s_q4[]; /* S secondaries, then the B table */
    float *s_qs = reinterpret_cast<float *>(s_q4);
    uint4 *s_tab = reinterpret_cast<uint4 *>(s_q4 + S);
    const int S4 = (S + 3) / 4;
    for (int i = threadIdx.x; i < 4 * S; i += blockDim.x)
        s_qs[i] = __ldg(qs + i);
    __syncthreads();
    for (int i = threadIdx.x; i < 32 * S4; i += blockDim.x)
        s_tab[i] = hq_tc_entry(s_qs, S, i >> 5, i & 31);
    __syncthreads();
    const float thresh = thr ? __ldg(thr) : thresh0;
    const int lane = threadIdx.x & 31, q = lane & 3;
    const long wpb = blockDim.x >> 5;

    for (long row = (long)blockIdx.x * wpb + (threadIdx.x >> 5); row < N; row += (long)gridDim.x * wpb) {
        const T *xr = x + row * d;
        T *or_ = xh + row * d;
        float v[CPL][4], r[CPL], fin = 0.0f, sig = 0.0f;
#pragma unroll
        for (int i = 0; i < CPL; i++) {
            HqIO<T>::load4(xr + 4 * (lane + 32 * i), v[i]);
            r[i] = rb_hqmq_chunk_norm(v[i]);
            fin = hq_max(fin, r[i]);
            sig = rb_hqmq_sigma_acc(sig, r[i], thresh, inliers);
        }
        fin = hq_group_max<32>(fin, 0xffffffffu);
        sig = rb_hqmq_sigma_store(hq_group_max<32>(sig, 0xffffffffu));
        const bool ok = fin <= FLT_MAX;
#pragma unroll
        for (int i = 0; i < CPL; i++) {
            const bool live = ok && !(r[i] > thresh);
            const float rr = r[i] > RB_HQMQ_R_EPS ? r[i] : RB_HQMQ_R_EPS;
            float u[4], hi[4], lo[4];
#pragma unroll
            for (int k = 0; k < 4; k++) {
                u[k] = v[i][k] / rr;
                rb_hqmq_split16(u[k], &hi[k], &lo[k]);
            }
            /* the pairs (hi0, hi1), (hi2, hi3), (lo0, lo1), (lo2, lo3) */
            const uint32_t pk[4] = {hq_pack(hi[0], hi[1]), hq_pack(hi[2], hi[3]), hq_pack(lo[0], lo[1]),
                                    hq_pack(lo[2], lo[3])};
            uint32_t msk[2][2];
#pragma unroll
            for (int t = 0; t < 2; t++) {
                uint32_t a[4];
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const int src = 16 * t + 8 * h + (lane >> 2);
                    const uint32_t x0 = __shfl_sync(0xffffffffu, pk[0], src), x1 = __shfl_sync(0xffffffffu, pk[1], src),
                                   x2 = __shfl_sync(0xffffffffu, pk[2], src), x3 = __shfl_sync(0xffffffffu, pk[3], src);
                    a[h] = q & 1 ? x1 : x0;
                    a[2 + h] = q & 1 ? x3 : x2;
                }
                hq_tc_screen<J>(s_tab, S4, lane, a, msk[t]);
            }
            /* this lane's chunk: tile lane / 16, row lane % 16 = g + 8 h, held by quad g */
            const int src = 4 * (lane & 7), t = lane >> 4, h = (lane >> 3) & 1;
            const uint32_t m00 = __shfl_sync(0xffffffffu, msk[0][0], src), m01 = __shfl_sync(0xffffffffu, msk[0][1], src),
                           m10 = __shfl_sync(0xffffffffu, msk[1][0], src), m11 = __shfl_sync(0xffffffffu, msk[1][1], src);
            const uint32_t mask = t ? (h ? m11 : m10) : (h ? m01 : m00);
            int p = 0;
            const int sec = live ? rb_hqmq_search_mask(s_qs, S, J, mask, u, &p) : 0;
            float o[4];
            hq_out<false>(ok, live, v[i], r[i], sig, qmax, s_qs, p, sec, o);
            hq_store<T>(or_, d, lane + 32 * i, true, o);
        }
    }
}

static size_t hq_tc_smem(int S) { return 16 * (size_t)S + 512 * (size_t)((S + 3) / 4); }

template <typename T, int CPL, int J>
static cudaError_t hq_tc_launch(const rb_qdq_params *p, const T *x, T *xh, long N, const float *thr, cudaStream_t st)
{
    auto kern = hq_tc<T, CPL, J>;
    static const int occ = rbk_occupancy(kern, HQ_THREADS, hq_tc_smem(HQ_TC_MAX_S));
    const long rows_per_block = HQ_THREADS / 32;
    kern<<<rbk_grid(occ, (N + rows_per_block - 1) / rows_per_block), HQ_THREADS, hq_tc_smem(p->hq_S), st>>>(
        x, xh, N, p->d, p->rot, p->hq_S, (1 << p->hq_rbits) - 1, p->hq_sigma_inliers, p->hq_thresh, thr);
    return cudaGetLastError();
}

/* J: 8 subsets per lane from S = 64 (about S / 32 secondaries searched exactly), else 2 (J = 4
 * for 64 <= S < 128 gained nothing for fp16: docs/perf-log/2026-12-06-experiment-switches.md). */
template <typename T, int CPL>
static cudaError_t hq_tc_pick_j(const rb_qdq_params *p, const T *x, T *xh, long N, const float *thr, cudaStream_t st)
{
    if (p->hq_S >= 64)
        return hq_tc_launch<T, CPL, 8>(p, x, xh, N, thr, st);
    return hq_tc_launch<T, CPL, 2>(p, x, xh, N, thr, st);
}

template <typename T>
cudaError_t hq_tc_dispatch(const rb_qdq_params *p, const T *x, T *xh, long N, const float *thr,
                                  cudaStream_t st)
{
    const int g = (p->d + 3) / 4;
    return g == 32 ? hq_tc_pick_j<T, 1>(p, x, xh, N, thr, st)
         : g == 64 ? hq_tc_pick_j<T, 2>(p, x, xh, N, thr, st)
                   : hq_tc_pick_j<T, 4>(p, x, xh, N, thr, st);
}

/* The fast layout for d: two chunks per lane (one q_s load feeds two fp32 searches), G lanes
 * per vector. */
template <typename T, bool CELLS, bool ENC = false>
cudaError_t hq_fast_shape(const rb_qdq_params *p, const T *x, T *xh, long N, const float *thr, cudaStream_t st,
                                 HqEnc enc = HqEnc{})
{
    const int g = (p->d + 3) / 4;
    if (g <= 1) return hq_fast_launch<T, 1, 1, 1, CELLS, ENC>(p, x, xh, N, thr, st, enc);
    if (g <= 2) return hq_fast_launch<T, 1, 2, 2, CELLS, ENC>(p, x, xh, N, thr, st, enc);
    if (g <= 4) return hq_fast_launch<T, 2, 2, 2, CELLS, ENC>(p, x, xh, N, thr, st, enc);
    if (g <= 8) return hq_fast_launch<T, 4, 2, 2, CELLS, ENC>(p, x, xh, N, thr, st, enc);
    if (g <= 16) return hq_fast_launch<T, 8, 2, 2, CELLS, ENC>(p, x, xh, N, thr, st, enc);
    if (g <= 32) return hq_fast_launch<T, 16, 2, 2, CELLS, ENC>(p, x, xh, N, thr, st, enc);
    if (g <= 64) return hq_fast_launch<T, 32, 2, 2, CELLS, ENC>(p, x, xh, N, thr, st, enc);
    if (g <= 128) return hq_fast_launch<T, 32, 4, 2, CELLS, ENC>(p, x, xh, N, thr, st, enc);
    if (g <= 256) return hq_fast_launch<T, 32, 8, 2, CELLS, ENC>(p, x, xh, N, thr, st, enc);
    if (g <= 512) return hq_fast_launch<T, 32, 16, 2, CELLS, ENC>(p, x, xh, N, thr, st, enc);
    return hq_fast_launch<T, 32, 32, 2, CELLS, ENC>(p, x, xh, N, thr, st, enc);
}

/* The build splits this file over objects (Makefile, HQ_OBJ): RB_PART = 1..8 instantiate the
 * fast kernel's shapes for one (dtype, search, mode) each, 9 and 10 the tensor-core screen per
 * dtype, 0 the rest; each object keeps every kernel template whole, so the row loop still inlines. Without
 * RB_PART the file builds whole (make sass). */
#ifdef RB_PART
#define HQ_SHAPES(X) \
    X(1, float, false, false) X(2, __half, false, false) X(3, float, true, false) X(4, __half, true, false) \
    X(5, float, false, true) X(6, __half, false, true) X(7, float, true, true) X(8, __half, true, true)
#define HQ_TCS(X) X(9, float) X(10, __half)
#define HQ_SHAPE_SIG(T, CELLS, ENC) \
    cudaError_t hq_fast_shape<T, CELLS, ENC>(const rb_qdq_params *, const T *, T *, long, const float *, cudaStream_t, HqEnc)
#define HQ_TC_SIG(T) cudaError_t hq_tc_dispatch<T>(const rb_qdq_params *, const T *, T *, long, const float *, cudaStream_t)
template <int P> struct HqPart;
#define HQ_SHAPE_OF(P, TT, C, E) template <> struct HqPart<P> { using T = TT; static constexpr bool CELLS = C, ENC = E; };
#define HQ_TC_OF(P, TT) template <> struct HqPart<P> { using T = TT; };
HQ_SHAPES(HQ_SHAPE_OF)
HQ_TCS(HQ_TC_OF)
#if RB_PART == 0 /* the entry points' part calls every route; each is instantiated in its own part */
#define HQ_SHAPE_EXTERN(P, T, C, E) extern template HQ_SHAPE_SIG(T, C, E);
#define HQ_TC_EXTERN(P, T) extern template HQ_TC_SIG(T);
HQ_SHAPES(HQ_SHAPE_EXTERN)
HQ_TCS(HQ_TC_EXTERN)
#elif RB_PART <= 8
template HQ_SHAPE_SIG(HqPart<RB_PART>::T, HqPart<RB_PART>::CELLS, HqPart<RB_PART>::ENC);
#else
template HQ_TC_SIG(HqPart<RB_PART>::T);
#endif
#endif

#if !defined(RB_PART) || RB_PART == 0
/* The fast kernel's search: cells where asked (CELLS, or AUTO) and the host gave the table for
 * S <= 256; the tensor-core screen where asked (TC, or AUTO from RB_HQ_TC_AUTO_S on without a
 * table) at d = 128, 256 or 512 with rows aligned for the vector loads (hq_vec_ok), S <= 256;
 * the fp32 search elsewhere. */
static int hq_route(const rb_qdq_params *p, int esz, const void *x, const void *xh)
{
    const int g = (p->d + 3) / 4, want = p->hq_search;
    const bool cells = p->hq_cells && p->hq_cells_g >= 2 && p->hq_S <= RB_HQMQ_CELL_MAX_S;
    if (cells && (want == RB_HQ_SEARCH_CELLS || want == RB_HQ_SEARCH_AUTO))
        return RB_HQ_SEARCH_CELLS;
    const bool tc = want == RB_HQ_SEARCH_TC || (want == RB_HQ_SEARCH_AUTO && p->hq_S >= RB_HQ_TC_AUTO_S);
    if (tc && hq_vec_ok(p->d, esz, x, xh) && p->hq_S <= HQ_TC_MAX_S && (g == 32 || g == 64 || g == 128))
        return RB_HQ_SEARCH_TC;
    return RB_HQ_SEARCH_FP32;
}

extern "C" int rb_hqmq_route(const rb_qdq_params *p, int variant, int dtype, const void *x, const void *xh)
{
    if (!p || variant != RB_VARIANT_FAST || (dtype != 0 && dtype != 1))
        return RB_HQ_SEARCH_FP32;
    return hq_route(p, dtype ? 2 : 4, x, xh);
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
    const int route = hq_route(p, (int)sizeof(T), x, xh);
    if (route == RB_HQ_SEARCH_TC)
        return hq_tc_dispatch<T>(p, x, xh, N, thr, st);
    if (route == RB_HQ_SEARCH_CELLS)
        return hq_fast_shape<T, true>(p, x, xh, N, thr, st);
    return hq_fast_shape<T, false>(p, x, xh, N, thr, st);
}

extern "C" cudaError_t rb_launch_hqmq(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh,
                                      long N, const float *thresh, cudaStream_t stream)
{
    if (!p || variant < 0 || variant >= RB_NUM_VARIANTS || (dtype != 0 && dtype != 1) ||
        p->d < 2 || p->d > 4096 || p->hq_S < 1 || p->hq_S > RB_HQMQ_MAX_S || p->hq_rbits < 1 ||
        p->hq_rbits > 16 || !p->rot || N < 0 || N > (1L << 31) - 1 || (N > 0 && (!x || !xh)))
        return cudaErrorInvalidValue;
    if (N == 0)
        return cudaSuccess;
    if (dtype == 0)
        return hq_launch_T<float>(p, variant, x, xh, N, thresh, stream);
    return hq_launch_T<__half>(p, variant, x, xh, N, thresh, stream);
}

template <typename T>
static cudaError_t hq_encode_T(const rb_qdq_params *p, const void *xv, long N, const float *thr, HqEnc enc,
                               cudaStream_t st)
{
    const T *x = static_cast<const T *>(xv);
    if (hq_route(p, (int)sizeof(T), x, x) == RB_HQ_SEARCH_CELLS)
        return hq_fast_shape<T, true, true>(p, x, nullptr, N, thr, st, enc);
    return hq_fast_shape<T, false, true>(p, x, nullptr, N, thr, st, enc);
}

extern "C" cudaError_t rb_launch_hqmq_encode_rows(const rb_qdq_params *p, int dtype, const void *x, long N,
                                                  const float *thresh, void *rows, unsigned short *sigma,
                                                  cudaStream_t stream)
{
    if (!p || (dtype != 0 && dtype != 1) || p->d < 2 || p->d > 4096 || p->hq_S < 1 || p->hq_S > RB_HQMQ_MAX_S ||
        p->hq_rbits < 1 || p->hq_rbits > 16 || !p->rot || N < 0 || N > (1L << 31) - 1 ||
        (N > 0 && (!x || !rows || !sigma)))
        return cudaErrorInvalidValue;
    if (N == 0)
        return cudaSuccess;
    const int med3 = p->hq_outliers != 0;
    const HqEnc enc = {static_cast<uint32_t *>(rows), sigma,
                       (int)(rb_hqmq_row_bytes(p->d, p->hq_S, p->hq_rbits, med3) / 4),
                       (int)rb_hqmq_code_words(p->d, p->hq_S, p->hq_rbits), (int)rb_hqmq_flag_words(p->d, med3),
                       rb_hqmq_field_bits(p->hq_S, p->hq_rbits)};
    if (dtype == 0)
        return hq_encode_T<float>(p, x, N, thresh, enc, stream);
    return hq_encode_T<__half>(p, x, N, thresh, enc, stream);
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
#endif
