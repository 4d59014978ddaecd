/* turboquant_wht.cu: TurboQuant with the randomized Walsh-Hadamard transform,
 * y = H (s .* x) / sqrt(d), inverse x = s .* (H y) / sqrt(d); d a power of two.
 * Butterflies: lower element a + b, upper a - b, as rb_hadamard. The paper kernel and the
 * shuffle shapes of the fast kernel run the stages in the CPU reference's order (h = 1, 2, 4,
 * ...), so their rotation is bit-identical to rb_wht_fwd / rb_wht_inv; the fast kernel's
 * shared-memory shapes (RbkWhtSmem, RbkWhtHalf) run the lane bits' stages last, which changes
 * the rounding by ~1e-7 and can only flip the quantizer at a tie (harness/agree.h).
 *
 * paper: one thread block per vector, one thread per coordinate (threads loop for d > 1024),
 *        the butterfly stages in shared memory, codebook in shared memory, linear
 *        nearest-centroid search. It exists to reproduce the IsoQuant paper's experimental
 *        conditions (its kernels' launch structure, written by us).
 * fast:  G lanes per vector (2..32), 256 / G vectors per thread block, grid = SM count x
 *        occupancy striding over rows. A lane holds NV 16-byte vectors (lane l: vectors l,
 *        l + G, ...), so index bits split into [vector | lane | element]: the element and vector
 *        stages are register butterflies, the lane stages go through shared memory (RbkWhtSmem)
 *        where a lane holds whole lane groups, or half groups and one shuffle (RbkWhtHalf,
 *        d = 512), else __shfl_xor_sync. Signs in registers, the quantizer's cell table in
 *        shared memory (RbQuant); the next row is prefetched. Other d (or unaligned buffers) run
 *        the paper kernel. */
#include "wht.h"
#include "wht_half.h"
#include "wht_smem.h"
#include "qdq_common.cuh"

/* ---- paper ----------------------------------------------------------------------------------- */
#define RBK_WHT_PAPER_MAXJ 4 /* coordinates per thread: d <= 4096 with 1024 threads */

template <typename T>
__global__ void rbk_wht_paper(RbArgs a, const T *__restrict__ x, T *__restrict__ xh)
{
    extern __shared__ float smem[];
    const int d = a.d, ncent = a.nbounds + 1;
    float *s_c = smem, *s_red = smem + RBK_MAX_CENT, *s_x = s_red + 33;
    const long row = blockIdx.x;
    const T *xr = x + row * d;
    T *or_ = xh + row * d;
    const float isd = 1.0f / sqrtf((float)d);

    rbk_load_codebook(a.cents, a.bounds, a.nbounds, s_c, nullptr, false);
    float xv[RBK_WHT_PAPER_MAXJ];
    float ss = 0.0f;
#pragma unroll
    for (int m = 0; m < RBK_WHT_PAPER_MAXJ; m++) {
        int j = threadIdx.x + m * blockDim.x;
        xv[m] = j < d ? RbIO<T>::ld1(xr + j) : 0.0f;
        ss += xv[m] * xv[m];
    }
    /* assume_unit_norm: no reduction; rho = 1 makes the scalings below exact no-ops (the
     * passes' barriers cover the codebook) */
    const float rho = a.unit ? 1.0f : sqrtf(rbk_block_sum(ss, s_red));
    if (!rb_row_is_finite(rho)) {
        for (int j = threadIdx.x; j < d; j += blockDim.x)
            RbIO<T>::st1(or_ + j, rbk_nan());
        return;
    }
    const float inv = rb_inv_norm(rho);
#pragma unroll
    for (int m = 0; m < RBK_WHT_PAPER_MAXJ; m++) {
        int j = threadIdx.x + m * blockDim.x;
        if (j < d)
            s_x[j] = (xv[m] * inv) * a.rot[j];
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int h = 1; h < d; h <<= 1) {
            __syncthreads();
            float nv[RBK_WHT_PAPER_MAXJ];
#pragma unroll
            for (int m = 0; m < RBK_WHT_PAPER_MAXJ; m++) {
                int j = threadIdx.x + m * blockDim.x;
                if (j < d) {
                    float u = s_x[j], w = s_x[j ^ h];
                    nv[m] = (j & h) ? w - u : u + w; /* lower a + b, upper a - b */
                }
            }
            __syncthreads();
#pragma unroll
            for (int m = 0; m < RBK_WHT_PAPER_MAXJ; m++) {
                int j = threadIdx.x + m * blockDim.x;
                if (j < d)
                    s_x[j] = nv[m];
            }
        }
        __syncthreads();
        if (pass == 0) {
#pragma unroll
            for (int m = 0; m < RBK_WHT_PAPER_MAXJ; m++) {
                int j = threadIdx.x + m * blockDim.x;
                if (j < d)
                    s_x[j] = rbk_nearest_centroid(s_x[j] * isd, s_c, ncent);
            }
        }
    }
#pragma unroll
    for (int m = 0; m < RBK_WHT_PAPER_MAXJ; m++) {
        int j = threadIdx.x + m * blockDim.x;
        if (j < d)
            RbIO<T>::st1(or_ + j, rho * (s_x[j] * (isd * a.rot[j])));
    }
}

template <typename T>
static cudaError_t rbk_wht_paper_launch(const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    const int threads = rbk_round32(a.d < 1024 ? a.d : 1024);
    const size_t smem = sizeof(float) * (RBK_MAX_CENT + 33 + (size_t)a.d);
    rbk_wht_paper<T><<<(unsigned)N, threads, smem, st>>>(a, x, xh);
    return cudaGetLastError();
}

/* ---- fast ------------------------------------------------------------------------------------ */
/* The Hadamard's stages on index bits [vector | lane | element] (j = (i * G + lane) * VW + e),
 * each in ascending bit order like rb_hadamard: the element bits and the vector bits are register
 * butterflies, the lane bits __shfl_xor_sync. */
template <int NV, int VW> static __device__ __forceinline__ void rbk_wht_elem_stages(float (&v)[NV][VW])
{
#pragma unroll
    for (int h = 1; h < VW; h <<= 1)
#pragma unroll
        for (int i = 0; i < NV; i++)
#pragma unroll
            for (int e = 0; e < VW; e++)
                if (!(e & h))
                    rb_butterfly(&v[i][e], &v[i][e + h]);
}

template <int NV, int VW> static __device__ __forceinline__ void rbk_wht_vec_stages(float (&v)[NV][VW])
{
#pragma unroll
    for (int h = 1; h < NV; h <<= 1)
#pragma unroll
        for (int i = 0; i < NV; i++)
            if (!(i & h))
#pragma unroll
                for (int e = 0; e < VW; e++)
                    rb_butterfly(&v[i][e], &v[i + h][e]);
}

/* The whole transform, stages in the CPU reference's order. */
template <int G, int NV, int VW>
static __device__ __forceinline__ void rbk_wht_hadamard(float (&v)[NV][VW], int gl, unsigned mask)
{
    rbk_wht_elem_stages<NV, VW>(v);
#pragma unroll
    for (int m = 1; m < G; m <<= 1) {
        /* lower a + b, upper a - b, as one FFMA with sgn = +-1: own * sgn is exact inside the
         * FMA, so fma(own, sgn, other) is other +- own rounded once, the same bits as the FADD
         * (signed zeros included); a select of the sign and an FADD cost one issue slot more */
        const float sgn = (gl & m) ? -1.0f : 1.0f;
#pragma unroll
        for (int i = 0; i < NV; i++)
#pragma unroll
            for (int e = 0; e < VW; e++)
                v[i][e] = fmaf(v[i][e], sgn, __shfl_xor_sync(mask, v[i][e], m));
    }
    rbk_wht_vec_stages<NV, VW>(v);
}

/* The in-lane stages alone (all but the lane bits'). */
template <int NV, int VW> static __device__ __forceinline__ void rbk_wht_local(float (&v)[NV][VW])
{
    rbk_wht_elem_stages<NV, VW>(v);
    rbk_wht_vec_stages<NV, VW>(v);
}

/* The lane stages through shared memory instead of shuffles, where a lane's NV * VW values hold
 * whole G-point groups (G >= VW, NV * VW >= G): the row goes to shared memory in the load layout
 * (16-byte stores), each lane reads back T = NV * VW / G groups of G values that differ only in
 * the lane bits (element e = lane % VW, vector lane / VW + (G / VW) t), runs those stages in
 * registers, quantizes there, runs them again, and the row returns to the load layout. The
 * words (kernels/common/wht_smem.h) keep the scalar accesses, and at G >= 8 the 16-byte ones,
 * free of bank conflicts. Costs 2.5 shared accesses per value against 2 log2(G) shuffles (H200:
 * the shuffles and the quantizer's table loads together exceeded the shared-memory pipe). */
template <int G, int NV, int VW> struct RbkWhtSmem {
    static constexpr bool ON = G >= 4 && G <= 16 && G >= VW && NV * VW >= G; /* <= 48 KiB static */
    static constexpr int S = RB_WHT_SMEM_S(G, NV, VW);
    static constexpr int T = ON ? NV * VW / G : 1;
    /* word of value g of lane gl's group t in the second layout */
    static __device__ __forceinline__ int b(int gl, int t, int g) { return RB_WHT_SMEM_LANE_WORD(G, VW, gl, t, g); }
    /* word of (vector i, lane l, element e) in the load layout */
    static __device__ __forceinline__ int w(int i, int l, int e) { return RB_WHT_SMEM_WORD(G, VW, i, l, e); }
};

/* d = 512 (G = 32 lanes of 16 values): no lane holds a 32-point lane group, but it holds half
 * of one. The row goes to shared memory in the load layout; lane L = (vector i, half h,
 * element e) = (L / (2 VW), L / VW % 2, L % VW) reads the 16 values of vector i and element e
 * from lanes 16 h .. 16 h + 15, runs the four stages of lane bits 0-3 in registers and the stage
 * of lane bit 4 as one shuffle with lane L ^ VW (the other half), and the row returns. The words
 * (kernels/common/wht_half.h) keep every access free of bank conflicts. Against five shuffle
 * stages each way: 2.5 shared accesses and 2 shuffles per value instead of 10 shuffles (ncu at
 * fp32: L1/shared 91 % busy, issue 79 %). */
template <int G, int NV, int VW> struct RbkWhtHalf {
    static constexpr bool ON = G == 32 && NV * VW == 16;
    static constexpr int S = RB_WHT_HALF_WORDS(NV, VW);
    static __device__ __forceinline__ int w(int i, int l, int e) { return RB_WHT_HALF_WORD(VW, i, l, e); }
};

/* A lane's row to shared memory in the load layout of L (L::w: 16-byte aligned per 4 values), and
 * back. */
template <class L, int NV, int VW>
static __device__ __forceinline__ void rbk_wht_put(float *buf, const float (&v)[NV][VW], int gl)
{
#pragma unroll
    for (int i = 0; i < NV; i++)
#pragma unroll
        for (int e = 0; e < VW; e += 4)
            *reinterpret_cast<float4 *>(buf + L::w(i, gl, e)) =
                make_float4(v[i][e], v[i][e + 1], v[i][e + 2], v[i][e + 3]);
}

template <class L, int NV, int VW>
static __device__ __forceinline__ void rbk_wht_get(const float *buf, float (&v)[NV][VW], int gl)
{
#pragma unroll
    for (int i = 0; i < NV; i++)
#pragma unroll
        for (int e = 0; e < VW; e += 4) {
            const float4 f = *reinterpret_cast<const float4 *>(buf + L::w(i, gl, e));
            v[i][e] = f.x; v[i][e + 1] = f.y; v[i][e + 2] = f.z; v[i][e + 3] = f.w;
        }
}

/* v with its sign flipped when bit k of bits is set (= v * -1.0f, bit for bit) */
static __device__ __forceinline__ float rbk_flip(float v, uint32_t bits, int k)
{
    return __uint_as_float(__float_as_uint(v) ^ (((bits >> k) & 1u) << 31));
}

template <typename T, int G, int NV, int QM, int MODE = RBK_QDQ>
__global__ void __launch_bounds__(RBK_THREADS, RBK_MIN_BLOCKS)
rbk_wht_fast(RbArgs a, const T *__restrict__ x, T *__restrict__ xh, long N)
{
    constexpr int VW = RbIO<T>::VW, D = G * NV * VW, GPB = RBK_THREADS / G;
    using SM = RbkWhtSmem<G, NV, VW>;
    using SH = RbkWhtHalf<G, NV, VW>;
    __shared__ float s_c[RBK_MAX_CENT], s_b[RBK_MAX_CENT];
    __shared__ uint32_t s_kvw[RbkCodeRows<MODE, NV, VW>::WORDS]; /* encode: the groups' rows of words */
    __shared__ __align__(16) float s_rows[SM::ON ? GPB * SM::S : SH::ON ? GPB * SH::S : 4];
    const int gl = threadIdx.x % G, grp = threadIdx.x / G;
    const long rstride = (long)gridDim.x * GPB;
    typename RbIO<T>::Raw nx[NV]; /* the next row, in flight */
    long row = rbk_reg_begin<T, G, NV, QM, MODE>(a, x, N, gl, grp, nx, s_c, s_b, s_kvw);
    RbQuant<QM & RBQ_ROUTE, MODE == RBK_ENC> q;
    constexpr bool UN = QM & RBQ_UNIT;
    const unsigned mask = rbk_group_mask<G>();
    const float isd = 1.0f / sqrtf((float)D);
    /* the quantizer's output: the centroid (roundtrip), or the index as a float's bits (encode:
     * it travels back to the register layout as the centroid would) */
    auto quant = [&](float y) {
        if constexpr (MODE == RBK_ENC)
            return __int_as_float(q.index(y, s_b, a.nbounds));
        else
            return q(y, s_c, s_b, a.nbounds);
    };
    /* the random signs as one bit each: flipping the sign bit is exactly the CPU's multiply by
     * +-1 (also for zeros), and 32 float registers of signs cost the kernel its occupancy */
    static_assert(NV * VW <= 32, "one sign word per lane");
    uint32_t sbits = 0;
#pragma unroll
    for (int i = 0; i < NV; i++)
#pragma unroll
        for (int e = 0; e < VW; e++)
            sbits |= (__ldg(a.rot + (i * G + gl) * VW + e) < 0.0f ? 1u : 0u) << (i * VW + e);
    __syncthreads();
    q.init(s_b, s_c, a.nbounds, a.cells); /* after the barrier: s_b, s_c are loaded */

    for (; row < N; row += rstride) {
        T *or_ = xh + row * D;
        float v[NV][VW];
        float rho;
        /* decode: the centroids, at the quantizer's output */
        if (!rbk_reg_row_in<T, G, NV, MODE, UN>(a, x, or_, row, rstride, N, gl, mask, s_c, nx, v, rho))
            continue;
        if constexpr (MODE != RBK_DEC) {
            const float inv = rb_inv_norm(rho);
#pragma unroll
            for (int i = 0; i < NV; i++)
#pragma unroll
                for (int e = 0; e < VW; e++)
                    v[i][e] = rbk_flip(UN ? v[i][e] : v[i][e] * inv, sbits, i * VW + e);
        }
        /* Each layout keeps a value's position through the stages: what the quantizer sees at a
         * position is y_j for the j of that position, so encode's codes come back to the lane
         * that holds coordinate j, and decode's centroids enter where the quantizer's left. */
        if constexpr (SM::ON) {
            constexpr int TT = SM::T;
            float *buf = s_rows + grp * SM::S;
            if constexpr (MODE != RBK_DEC)
                rbk_wht_local<NV, VW>(v);
            rbk_wht_put<SM>(buf, v, gl);
            __syncwarp(mask);
            float u[TT][G];
#pragma unroll
            for (int t = 0; t < TT; t++)
#pragma unroll
                for (int g = 0; g < G; g++)
                    u[t][g] = buf[SM::b(gl, t, g)];
            if constexpr (MODE != RBK_DEC) {
                rbk_wht_elem_stages<TT, G>(u); /* the lane bits, now in-lane */
#pragma unroll
                for (int t = 0; t < TT; t++)
#pragma unroll
                    for (int g = 0; g < G; g++)
                        u[t][g] = quant(u[t][g] * isd);
            }
            if constexpr (MODE != RBK_ENC)
                rbk_wht_elem_stages<TT, G>(u);
#pragma unroll
            for (int t = 0; t < TT; t++)
#pragma unroll
                for (int g = 0; g < G; g++)
                    buf[SM::b(gl, t, g)] = u[t][g];
            __syncwarp(mask);
            rbk_wht_get<SM>(buf, v, gl);
            if constexpr (MODE != RBK_ENC)
                rbk_wht_local<NV, VW>(v);
        } else if constexpr (SH::ON) {
            float *buf = s_rows + grp * SH::S;
            if constexpr (MODE != RBK_DEC)
                rbk_wht_local<NV, VW>(v);
            rbk_wht_put<SH>(buf, v, gl);
            __syncwarp(mask);
            const int e0 = gl % VW, h = (gl / VW) & 1, i0 = gl / (2 * VW);
            const float sgn = h ? -1.0f : 1.0f; /* lane bit 4: lower a + b, upper a - b */
            float u[1][16];
#pragma unroll
            for (int g = 0; g < 16; g++)
                u[0][g] = buf[SH::w(i0, 16 * h + g, e0)];
            if constexpr (MODE != RBK_DEC) {
                rbk_wht_elem_stages<1, 16>(u);
#pragma unroll
                for (int g = 0; g < 16; g++)
                    u[0][g] = fmaf(u[0][g], sgn, __shfl_xor_sync(mask, u[0][g], VW));
#pragma unroll
                for (int g = 0; g < 16; g++)
                    u[0][g] = quant(u[0][g] * isd);
            }
            if constexpr (MODE != RBK_ENC) {
#pragma unroll
                for (int g = 0; g < 16; g++)
                    u[0][g] = fmaf(u[0][g], sgn, __shfl_xor_sync(mask, u[0][g], VW));
                rbk_wht_elem_stages<1, 16>(u);
            }
#pragma unroll
            for (int g = 0; g < 16; g++)
                buf[SH::w(i0, 16 * h + g, e0)] = u[0][g];
            __syncwarp(mask);
            rbk_wht_get<SH>(buf, v, gl);
            if constexpr (MODE != RBK_ENC)
                rbk_wht_local<NV, VW>(v);
        } else {
            if constexpr (MODE != RBK_DEC) {
                rbk_wht_hadamard<G, NV, VW>(v, gl, mask);
#pragma unroll
                for (int i = 0; i < NV; i++)
#pragma unroll
                    for (int e = 0; e < VW; e++)
                        v[i][e] = quant(v[i][e] * isd);
            }
            if constexpr (MODE != RBK_ENC)
                rbk_wht_hadamard<G, NV, VW>(v, gl, mask);
        }
        if constexpr (MODE == RBK_ENC) /* v holds the codes */
            rbk_codes_store<G, NV, VW>(a, row, gl, grp, mask, v, s_kvw);
        else
#pragma unroll
            for (int i = 0; i < NV; i++) {
#pragma unroll
                for (int e = 0; e < VW; e++)
                    v[i][e] = UN ? rbk_flip(v[i][e] * isd, sbits, i * VW + e) : rho * rbk_flip(v[i][e] * isd, sbits, i * VW + e);
                RbIO<T>::store(or_ + (i * G + gl) * VW, v[i]);
            }
    }
}

template <typename T, int G, int NV, int QM, int MODE = RBK_QDQ> static int rbk_wht_fast_occ()
{
    static const int occ = rbk_occupancy(rbk_wht_fast<T, G, NV, QM, MODE>, RBK_THREADS, 0);
    return occ;
}

template <typename T, int G, int NV, int QM, int MODE>
static cudaError_t rbk_wht_fast_cfg(const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    constexpr int GPB = RBK_THREADS / G;
    rbk_wht_fast<T, G, NV, QM, MODE><<<rbk_grid(rbk_wht_fast_occ<T, G, NV, QM, MODE>(), (N + GPB - 1) / GPB),
                                       RBK_THREADS, 0, st>>>(a, x, xh, N);
    return cudaGetLastError();
}

/* The shapes are the shared small- and large-batch ones (rbk_pick_shape). For the WHT the
 * large shape's 16 coordinates per lane also mean more butterfly stages in registers and fewer
 * shuffles (with one vector per lane the shuffles, not DRAM, bounded the kernel at N = 2^20;
 * with 32 coordinates the registers cost occupancy). */
/* MODE: the roundtrip, or encode / decode on the roundtrip's shape for the same N (its
 * occupancy picks it), so the lanes' share of a row and the norm's summation order are the
 * roundtrip's. Encode and decode exist where the fast kernel is compiled (a row of 8 ... 128
 * 16-byte vectors); elsewhere they are refused (cudaErrorInvalidValue). */
template <typename T, int MODE = RBK_QDQ>
static cudaError_t rbk_wht_fast_launch(const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    constexpr int VW = RbIO<T>::VW;
    const bool vec = (a.d % VW) == 0 && rbk_aligned16(x) && rbk_aligned16(xh);
    return rbk_with_row_vectors(
        vec ? a.d / VW : 0,
        [&](auto v) {
            return rbk_with_quant(a.nbounds, rbk_route_cells(a.cells, a.nbounds, N, a.d), a.unit, [&](auto qm) {
                constexpr int QM = decltype(qm)::value;
                return rbk_pick_shape<T, decltype(v)::value>(
                    N, a.shape, [](auto g, auto nv) { return rbk_wht_fast_occ<T, decltype(g)::value, decltype(nv)::value, QM>(); },
                    [&](auto g, auto nv) {
                        return rbk_wht_fast_cfg<T, decltype(g)::value, decltype(nv)::value, QM, MODE>(a, x, xh, N, st);
                    });
            });
        },
        [&] {
            if constexpr (MODE != RBK_QDQ)
                return cudaErrorInvalidValue;
            else
                return rbk_wht_paper_launch<T>(a, x, xh, N, st); /* correct for every power of two */
        });
}

template <typename T>
static cudaError_t rbk_wht_launch_T(const rb_qdq_params *p, int variant, const void *x, void *xh, long N,
                                    cudaStream_t st)
{
    const RbArgs a = rbk_args(p, p->d);
    const T *xi = static_cast<const T *>(x);
    T *xo = static_cast<T *>(xh);
    if (variant == RB_VARIANT_PAPER)
        return rbk_wht_paper_launch<T>(a, xi, xo, N, st);
    if (variant == RB_VARIANT_ENCODE || variant == RB_VARIANT_DECODE)
        return rbk_kv_launch(p, variant, [&](auto mode) {
            constexpr int MODE = decltype(mode)::value;
            return rbk_wht_fast_launch<T, MODE>(a, MODE == RBK_ENC ? xi : nullptr, MODE == RBK_DEC ? xo : nullptr, N, st);
        });
    return rbk_wht_fast_launch<T>(a, xi, xo, N, st);
}

/* the descriptor's launch: st is a cudaStream_t, the result a cudaError_t */
static int turboquant_wht_launch(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    if (p->d < 2 || (p->d & (p->d - 1)) || p->d > 4096)
        return cudaErrorInvalidValue; /* the Sylvester-Hadamard transform needs a power of two */
    if (dtype == 0)
        return rbk_wht_launch_T<float>(p, variant, x, xh, N, st);
    return rbk_wht_launch_T<__half>(p, variant, x, xh, N, st);
}

/* ---- the method (kernels/common/method.h) ----------------------------------------------- */
static int turboquant_wht_block(int d) { return d; }
static long turboquant_wht_params(int d) { return d; }
/* additions of the butterflies, d log2 d, as the paper counts them */
static long turboquant_wht_fma(int d)
{
    long l = 0;
    while ((2L << l) <= d)
        l++;
    return (long)d * l;
}
static void turboquant_wht_fwd(const rb_qdq_params *p, float *v, float *tmp)
{
    (void)tmp;
    rb_wht_fwd(p->rot, v, p->d, 1.0f / sqrtf((float)p->d));
}
static void turboquant_wht_inv(const rb_qdq_params *p, float *v, float *tmp)
{
    (void)tmp;
    rb_wht_inv(p->rot, v, p->d, 1.0f / sqrtf((float)p->d));
}
static const char *turboquant_wht_check_d(int d)
{
    return d >= 2 && !(d & (d - 1)) ? NULL : "a power of two (the Walsh-Hadamard transform needs one)";
}
extern "C" const rb_method_desc rb_method_turboquant_wht = {
    .abi = RB_METHOD_ABI,
    .name = "turboquant-wht",
    .paper_name = "TurboQuant (WHT)",
    .summary = "random signs, then the normalized Walsh-Hadamard transform on the whole vector",
    .in_all = 1,
    .block = turboquant_wht_block,
    .param_count = turboquant_wht_params,
    .fma = turboquant_wht_fma,
    .check_d = turboquant_wht_check_d,
    .param_kind = RB_PARAMS_SIGNS,
    .param_group = 0,
    .rotate_fwd = turboquant_wht_fwd,
    .rotate_inv = turboquant_wht_inv,
    .launch = turboquant_wht_launch,
    .variants = RB_VARIANT_BIT_PAPER | RB_VARIANT_BIT_FAST | RB_VARIANT_BIT_ENCODE | RB_VARIANT_BIT_DECODE,
    .hooks = NULL,
};
