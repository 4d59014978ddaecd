/* turboquant_dense.cu: TurboQuant with a dense Haar rotation, y = P x and x = P^T y (P row-major
 * d x d, orthogonal). d^2 FMA each way, done honestly; the fp32 kernels accumulate in the CPU
 * reference's order (forward over j ascending, inverse over i ascending).
 *
 * paper: one thread block per vector, one thread per output coordinate (threads loop for
 *        d > 1024), x-bar and y-hat in shared memory, P read from global memory, codebook in
 *        shared memory, linear nearest-centroid search. It exists to reproduce the IsoQuant
 *        paper's experimental conditions (its kernels' launch structure, written by us).
 * fast:  on the tensor cores (kernels/dense_tc.cuh: wgmma on a 9.0 device at d = 128, 256,
 *        mma.sync elsewhere, fp16 operands, fp32 accumulation; agreement by its derived
 *        bound, the descriptor's fast_ybound) for
 *        d = 128, 256, 512 with 16-byte aligned buffers, unless assume_unit_norm. Otherwise the
 *        fp32 kernel below, in the reference's accumulation order:
 *        GEMM-like: a thread block of 256 threads takes a tile of 32 rows (grid = SM count x
 *        occupancy, striding over row tiles). The tile is loaded with 16-byte loads into shared
 *        memory and normalized there (a warp per 4 rows); then Y = Xbar P^T and Xhat = Yhat P
 *        stream P through shared memory in 16-row k-tiles (P never fits whole at d = 256, 512 in
 *        fp32) while each thread accumulates a 4-row x MC-column register tile (columns
 *        lane + 32 c, conflict-free; the 4 rows are broadcast). Quantization happens in
 *        registers between the two products (boundaries in registers for 2..4 bits), Yhat goes
 *        back into the tile's shared memory, and the output leaves through shared memory with
 *        16-byte stores. Compiled for d <= 128, 256, 512 (columns beyond d masked); larger d
 *        runs the paper kernel.
 * encode / decode (the KV-cache paths, kvpack.h): modes of whichever fast kernel the roundtrip
 *        takes for the same parameters and buffers, d <= 512 (refused beyond, where the roundtrip
 *        is the paper kernel). */
#include "dense.h"
#include "qdq_common.cuh"
#include "dense_tc.cuh"

/* ---- paper ----------------------------------------------------------------------------------- */
template <typename T>
__global__ void rbk_dense_paper(RbArgs a, const T *__restrict__ x, T *__restrict__ xh)
{
    extern __shared__ float smem[];
    const int d = a.d, ncent = a.nbounds + 1;
    float *s_c = smem, *s_red = smem + RBK_MAX_CENT, *s_x = s_red + 33, *s_y = s_x + d;
    const long row = blockIdx.x;
    const T *xr = x + row * d;
    T *or_ = xh + row * d;
    const float *P = a.rot;

    rbk_load_codebook(a.cents, a.bounds, a.nbounds, s_c, nullptr, false);
    float ss = 0.0f;
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        float f = RbIO<T>::ld1(xr + j);
        s_x[j] = f;
        ss += f * f;
    }
    float rho = 1.0f; /* assume_unit_norm: no reduction, the scalings below exact no-ops */
    if (a.unit)
        __syncthreads(); /* s_c and s_x */
    else
        rho = sqrtf(rbk_block_sum(ss, s_red));
    if (!rb_row_is_finite(rho)) {
        for (int j = threadIdx.x; j < d; j += blockDim.x)
            RbIO<T>::st1(or_ + j, rbk_nan());
        return;
    }
    const float inv = rb_inv_norm(rho);
    for (int j = threadIdx.x; j < d; j += blockDim.x)
        s_x[j] *= inv;
    __syncthreads();
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float acc = 0.0f;
        const float *Pi = P + (long)i * d;
        for (int j = 0; j < d; j++)
            acc = fmaf(Pi[j], s_x[j], acc);
        s_y[i] = rbk_nearest_centroid(acc, s_c, ncent);
    }
    __syncthreads();
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        float acc = 0.0f;
        for (int i = 0; i < d; i++)
            acc = fmaf(P[(long)i * d + j], s_y[i], acc);
        RbIO<T>::st1(or_ + j, rho * acc);
    }
}

template <typename T>
static cudaError_t rbk_dense_paper_launch(const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    const int threads = rbk_round32(a.d < 1024 ? a.d : 1024);
    const size_t smem = sizeof(float) * (RBK_MAX_CENT + 33 + 2 * (size_t)a.d);
    rbk_dense_paper<T><<<(unsigned)N, threads, smem, st>>>(a, x, xh);
    return cudaGetLastError();
}

/* ---- fast ------------------------------------------------------------------------------------ */
#define RBK_DT_ROWS 32 /* rows per tile */
#define RBK_DT_KT 16   /* k-tile of P */
#define RBK_DT_MR 4    /* rows per thread (8 warps x 4 = 32) */

template <int MC> struct RbDenseSmem {
    static constexpr int LDA = 32 * MC, LDB = 32 * MC + 1;
    static constexpr int A = RBK_DT_ROWS * LDA, B = RBK_DT_KT * LDB;
    static constexpr size_t bytes = sizeof(float) * (A + B + RBK_DT_ROWS);
};

/* acc[r][c] += sum_k A[ty MR + r][k] B[k][tx + 32 c] over k < d, in k order, B streamed through
 * shared memory in KT-row tiles: TR = 1 takes B = P^T (Y = Xbar P^T), TR = 0 B = P (Xhat = Yhat P). */
template <int MC, bool TR>
static __device__ __forceinline__ void rbk_dense_fast_gemm(const float *A, float *B, const float *__restrict__ P, int d,
                                                           float (&acc)[RBK_DT_MR][MC])
{
    using S = RbDenseSmem<MC>;
    constexpr int LDA = S::LDA, LDB = S::LDB, KT = RBK_DT_KT, MR = RBK_DT_MR;
    const int tid = threadIdx.x, tx = tid & 31, ty = tid >> 5;
    for (int k0 = 0; k0 < d; k0 += KT) {
        __syncthreads();
        for (int e = tid; e < KT * LDA; e += RBK_THREADS) {
            if constexpr (TR) {
                int i = e / KT, kk = e - i * KT;
                B[kk * LDB + i] = (i < d && k0 + kk < d) ? __ldg(P + (long)i * d + k0 + kk) : 0.0f;
            } else {
                int kk = e / LDA, j = e - kk * LDA;
                B[kk * LDB + j] = (j < d && k0 + kk < d) ? __ldg(P + (long)(k0 + kk) * d + j) : 0.0f;
            }
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < KT; kk++) {
            float av[MR], bv[MC];
#pragma unroll
            for (int r = 0; r < MR; r++)
                av[r] = A[(ty * MR + r) * LDA + k0 + kk];
#pragma unroll
            for (int c = 0; c < MC; c++)
                bv[c] = B[kk * LDB + tx + 32 * c];
#pragma unroll
            for (int r = 0; r < MR; r++)
#pragma unroll
                for (int c = 0; c < MC; c++)
                    acc[r][c] = fmaf(bv[c], av[r], acc[r][c]);
        }
    }
}

/* MODE (qdq_common.cuh): the roundtrip; the encoder (steps 1-4, the indices in place of the
 * centroids, packed by each warp from its own rows); the decoder (the centroids of the codes in
 * place of steps 1-4, then 5-6): the roundtrip's operations in its order, so decode(encode(x))
 * is its output bit for bit with fp32 norms. */
template <typename T, int MC, int MODE = RBK_QDQ>
__global__ void __launch_bounds__(RBK_THREADS, 1)
rbk_dense_fast(RbArgs a, const T *__restrict__ x, T *__restrict__ xh, long N, int vec)
{
    constexpr bool ENC = MODE == RBK_ENC, DEC = MODE == RBK_DEC;
    using S = RbDenseSmem<MC>;
    constexpr int LDA = S::LDA, TR = RBK_DT_ROWS, MR = RBK_DT_MR, VW = RbIO<T>::VW;
    extern __shared__ float4 smem4[];
    float *A = reinterpret_cast<float *>(smem4), *B = A + S::A, *s_rho = B + S::B;
    __shared__ float s_c[RBK_MAX_CENT], s_b[RBK_MAX_CENT];

    const int d = a.d, tid = threadIdx.x, tx = tid & 31, ty = tid >> 5;
    const float *P = a.rot;
    rbk_load_codebook(a.cents, a.bounds, a.nbounds, s_c, s_b, true);
    rbk_load_cells<RBQ_ANY>(a.cells, a.nbounds);
    RbQuant<RBQ_ANY> q; /* FMA-bound: the route does not matter */
    for (int e = tid; e < TR * LDA; e += RBK_THREADS) /* the columns >= d stay zero */
        A[e] = 0.0f;
    __syncthreads();
    q.init(s_b, s_c, a.nbounds, a.cells); /* after the barrier: s_b, s_c are loaded */

    for (long row0 = (long)blockIdx.x * TR; row0 < N; row0 += (long)gridDim.x * TR) {
        float acc[MR][MC];
#pragma unroll
        for (int r = 0; r < MR; r++)
#pragma unroll
            for (int c = 0; c < MC; c++)
                acc[r][c] = 0.0f;
        if constexpr (DEC) { /* the warp's rows: their norms, the centroids of their codes */
#pragma unroll
            for (int r = 0; r < MR; r++) {
                const long row = row0 + ty * MR + r;
                float *Ar = A + (ty * MR + r) * LDA;
                if (tx == 0)
                    s_rho[ty * MR + r] = row < N ? rbk_get_norm(a.norms, a.norm_kind, row) : 0.0f;
                const uint32_t *cw = a.codes + (row < N ? row : 0) * a.row_words;
                for (int c = tx; c < d; c += 32)
                    Ar[c] = row < N ? s_c[rb_kv_get(cw, c, a.bits)] : 0.0f;
            }
            __syncwarp();
        } else {
            /* 1. load the tile (rows >= N as zeros) */
            if (vec) {
                const int nvec = d / VW;
                for (int e = tid; e < TR * nvec; e += RBK_THREADS) {
                    int r = e / nvec, c = (e - r * nvec) * VW;
                    float f[VW];
                    if (row0 + r < N)
                        RbIO<T>::load(x + (row0 + r) * d + c, f);
                    else
#pragma unroll
                        for (int k = 0; k < VW; k++)
                            f[k] = 0.0f;
#pragma unroll
                    for (int k = 0; k < VW; k += 4)
                        *reinterpret_cast<float4 *>(A + r * LDA + c + k) = make_float4(f[k], f[k + 1], f[k + 2], f[k + 3]);
                }
            } else {
                for (int e = tid; e < TR * d; e += RBK_THREADS) {
                    int r = e / d, c = e - r * d;
                    A[r * LDA + c] = row0 + r < N ? RbIO<T>::ld1(x + (row0 + r) * d + c) : 0.0f;
                }
            }
            __syncthreads();
            /* 2. norms and x-bar: warp ty owns rows ty*MR .. ty*MR+MR-1 (the rows it multiplies) */
#pragma unroll
            for (int r = 0; r < MR; r++) {
                float *Ar = A + (ty * MR + r) * LDA;
                float ss = 0.0f;
                for (int c = tx; c < d && !a.unit; c += 32)
                    ss = fmaf(Ar[c], Ar[c], ss);
                const float rho = a.unit ? 1.0f : sqrtf(rbk_group_sum<32>(ss, 0xffffffffu));
                const float inv = rb_inv_norm(rho);
                for (int c = tx; c < d; c += 32)
                    Ar[c] *= inv;
                if (tx == 0)
                    s_rho[ty * MR + r] = rho;
                if (ENC && tx == 0 && row0 + ty * MR + r < N)
                    rbk_put_norm(a.norms, a.norm_kind, row0 + ty * MR + r, rho);
            }
            __syncwarp();

            /* 3. Y = Xbar P^T: B[k][i] = P[i][k] */
            rbk_dense_fast_gemm<MC, true>(A, B, P, d, acc);
            /* 4. quantize; y-hat replaces x-bar in the warp's own rows */
            __syncwarp();
#pragma unroll
            for (int r = 0; r < MR; r++)
#pragma unroll
                for (int c = 0; c < MC; c++) {
                    int col = tx + 32 * c;
                    if (col < d) /* the encoder: the index (a bad row: 0) */
                        A[(ty * MR + r) * LDA + col] =
                            !ENC ? q(acc[r][c], s_c, s_b, a.nbounds)
                                 : rb_row_is_finite(s_rho[ty * MR + r]) ? (float)q.index(acc[r][c], s_b, a.nbounds) : 0.0f;
                    acc[r][c] = 0.0f;
                }
            __syncwarp();
        }
        if constexpr (ENC) { /* the warp's rows of codes from the indices in A */
            const int rw = a.row_words;
            for (int e = tx; e < MR * rw; e += 32) {
                const int r = e / rw, w = e - r * rw;
                if (row0 + ty * MR + r < N)
                    a.codes[(row0 + ty * MR + r) * rw + w] = rbk_pack_word(A + (ty * MR + r) * LDA, w, a.bits, d);
            }
            __syncthreads(); /* the next tile overwrites A */
            continue;
        }
        /* 5. Xhat = Yhat P: B[k][j] = P[k][j] */
        rbk_dense_fast_gemm<MC, false>(A, B, P, d, acc);
        /* 6. rescale into the warp's own rows, then 16-byte stores of the whole tile */
        __syncwarp();
#pragma unroll
        for (int r = 0; r < MR; r++) {
            const float rho = s_rho[ty * MR + r];
            const bool finite = rb_row_is_finite(rho);
#pragma unroll
            for (int c = 0; c < MC; c++) {
                int col = tx + 32 * c;
                if (col < d)
                    A[(ty * MR + r) * LDA + col] = finite ? rho * acc[r][c] : rbk_nan();
            }
        }
        __syncthreads();
        if (vec) {
            const int nvec = d / VW;
            for (int e = tid; e < TR * nvec; e += RBK_THREADS) {
                int r = e / nvec, c = (e - r * nvec) * VW;
                if (row0 + r < N) {
                    float f[VW];
#pragma unroll
                    for (int k = 0; k < VW; k += 4) {
                        float4 t4 = *reinterpret_cast<const float4 *>(A + r * LDA + c + k);
                        f[k] = t4.x; f[k + 1] = t4.y; f[k + 2] = t4.z; f[k + 3] = t4.w;
                    }
                    RbIO<T>::store(xh + (row0 + r) * d + c, f);
                }
            }
        } else {
            for (int e = tid; e < TR * d; e += RBK_THREADS) {
                int r = e / d, c = e - r * d;
                if (row0 + r < N)
                    RbIO<T>::st1(xh + (row0 + r) * d + c, A[r * LDA + c]);
            }
        }
        __syncthreads(); /* the next tile overwrites A */
    }
}

template <typename T, int MC, int MODE>
static cudaError_t rbk_dense_fast_cfg(const RbArgs &a, const T *x, T *xh, long N, bool vec, cudaStream_t st)
{
    auto kern = rbk_dense_fast<T, MC, MODE>;
    constexpr size_t smem = RbDenseSmem<MC>::bytes;
    static const int occ = [&] {
        /* always: the static shared memory (codebook, the 16 KiB cell table) counts against
         * the 48 KiB that needs no opt-in too */
        cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        return rbk_occupancy(kern, RBK_THREADS, smem);
    }();
    kern<<<rbk_grid(occ, (N + RBK_DT_ROWS - 1) / RBK_DT_ROWS), RBK_THREADS, smem, st>>>(a, x, xh, N, vec ? 1 : 0);
    return cudaGetLastError();
}

/* Encode and decode exist for d <= 512 (beyond, the roundtrip is the paper kernel): refused there. */
template <typename T, int MODE = RBK_QDQ>
static cudaError_t rbk_dense_fast_launch(const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    const bool vec = (a.d % RbIO<T>::VW) == 0 && rbk_aligned16(x) && rbk_aligned16(xh);
    if (a.d <= 128)
        return rbk_dense_fast_cfg<T, 4, MODE>(a, x, xh, N, vec, st);
    if (a.d <= 256)
        return rbk_dense_fast_cfg<T, 8, MODE>(a, x, xh, N, vec, st);
    if (a.d <= 512)
        return rbk_dense_fast_cfg<T, 16, MODE>(a, x, xh, N, vec, st);
    if constexpr (MODE != RBK_QDQ)
        return cudaErrorInvalidValue;
    else
        return rbk_dense_paper_launch<T>(a, x, xh, N, st);
}

/* MODE: the roundtrip, the encoder or the decoder, each on the roundtrip's route for these
 * parameters and buffers (tensor cores or the fp32 kernel). */
template <typename T, int MODE>
cudaError_t rbk_dense_route(const rb_qdq_params *p, const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    if (rb_dense_tc_route(p->d, p->unit_norm) && rbk_aligned16(x) && rbk_aligned16(xh) && rbk_aligned16(p->rot))
        return rbk_dense_tc_launch<T, MODE>(a, x, xh, N, st);
    return rbk_dense_fast_launch<T, MODE>(a, x, xh, N, st);
}

/* The build splits this file over objects (Makefile, TQD_OBJ): RB_PART = 1..6 instantiate one
 * (dtype, mode) route each, 0 the descriptor and the paper kernel; each nvcc run takes a sixth
 * of the tensor-core instantiations, so a parallel build is not held by one. Without RB_PART the
 * file builds whole (make sass). */
#ifdef RB_PART
#define RBK_ROUTES(X) \
    X(1, float, RBK_QDQ) X(2, __half, RBK_QDQ) X(3, float, RBK_ENC) X(4, __half, RBK_ENC) X(5, float, RBK_DEC) X(6, __half, RBK_DEC)
#define RBK_ROUTE_SIG(T, MODE) \
    cudaError_t rbk_dense_route<T, MODE>(const rb_qdq_params *, const RbArgs &, const T *, T *, long, cudaStream_t)
template <int P> struct RbkPart;
#define RBK_PART_OF(P, TT, M) template <> struct RbkPart<P> { using T = TT; static constexpr int MODE = M; };
RBK_ROUTES(RBK_PART_OF)
#if RB_PART == 0 /* the descriptor's part calls every route; each is instantiated in its own part */
#define RBK_EXTERN(P, T, MODE) extern template RBK_ROUTE_SIG(T, MODE);
RBK_ROUTES(RBK_EXTERN)
#else
template RBK_ROUTE_SIG(RbkPart<RB_PART>::T, RbkPart<RB_PART>::MODE);
#endif
#endif

#if !defined(RB_PART) || RB_PART == 0
template <typename T>
static cudaError_t rbk_dense_launch_T(const rb_qdq_params *p, int variant, const void *x, void *xh, long N,
                                      cudaStream_t st)
{
    RbArgs a = {p->rot, p->bounds, p->centroids, p->cells, p->d, p->nbounds, p->unit_norm,
                static_cast<uint32_t *>(p->kv_codes), p->kv_norms, p->kv_norm, p->bits,
                (int)(rb_kv_row_bytes(p->d, p->bits) / 4), p->fast_shape};
    const T *xi = static_cast<const T *>(x);
    T *xo = static_cast<T *>(xh);
    if (variant == RB_VARIANT_PAPER)
        return rbk_dense_paper_launch<T>(a, xi, xo, N, st);
    if (variant == RB_VARIANT_ENCODE || variant == RB_VARIANT_DECODE) {
        /* the packed format's norm kind goes with assume_unit_norm (none) and nothing else */
        if (p->bits < 1 || p->bits > 8 || !p->kv_codes || ((p->kv_norm == RB_KV_NORM_NONE) != (p->unit_norm != 0)) ||
            (p->kv_norm != RB_KV_NORM_NONE && !p->kv_norms))
            return cudaErrorInvalidValue;
        if (variant == RB_VARIANT_ENCODE)
            return rbk_dense_route<T, RBK_ENC>(p, a, xi, nullptr, N, st);
        return rbk_dense_route<T, RBK_DEC>(p, a, nullptr, xo, N, st);
    }
    return rbk_dense_route<T, RBK_QDQ>(p, a, xi, xo, N, st);
}

/* the descriptor's launch: st is a cudaStream_t, the result a cudaError_t */
static int turboquant_dense_launch(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N, void *stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    if (dtype == 0)
        return rbk_dense_launch_T<float>(p, variant, x, xh, N, st);
    return rbk_dense_launch_T<__half>(p, variant, x, xh, N, st);
}

/* ---- the method (kernels/common/method.h) ----------------------------------------------- */
static int turboquant_dense_block(int d) { return d; }
static long turboquant_dense_params(int d) { return (long)d * d; }
static long turboquant_dense_fma(int d) { return (long)d * d; }
static void turboquant_dense_fwd(const rb_qdq_params *p, float *v, float *tmp)
{
    rb_dense_fwd(p->rot, v, tmp, p->d);
    for (int j = 0; j < p->d; j++)
        v[j] = tmp[j];
}
static void turboquant_dense_inv(const rb_qdq_params *p, float *v, float *tmp)
{
    rb_dense_inv(p->rot, v, tmp, p->d);
    for (int j = 0; j < p->d; j++)
        v[j] = tmp[j];
}
static float turboquant_dense_fast_ybound(const rb_qdq_params *p)
{
    return rb_dense_tc_route(p->d, p->unit_norm) ? rb_dense_tc_ybound(p->d) : 0.0f;
}
extern "C" const rb_method_desc rb_method_turboquant_dense = {
    .abi = RB_METHOD_ABI,
    .name = "turboquant-dense",
    .paper_name = "TurboQuant (dense)",
    .summary = "a dense Haar-random orthogonal d x d matrix",
    .in_all = 1,
    .block = turboquant_dense_block,
    .param_count = turboquant_dense_params,
    .fma = turboquant_dense_fma,
    .check_d = NULL,
    .param_kind = RB_PARAMS_HAAR,
    .param_group = 0,
    .rotate_fwd = turboquant_dense_fwd,
    .rotate_inv = turboquant_dense_inv,
    .launch = turboquant_dense_launch,
    .variants = RB_VARIANT_BIT_PAPER | RB_VARIANT_BIT_FAST | RB_VARIANT_BIT_ENCODE | RB_VARIANT_BIT_DECODE,
    .hooks = NULL,
    .fast_ybound = turboquant_dense_fast_ybound,
};
#endif
