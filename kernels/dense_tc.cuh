/* dense_tc.cuh: TurboQuant-dense on the tensor cores, fused quantize -> dequantize:
 *   rho = |x|, xb = x / max(rho, eps), y = P xb, yh = Q(y), xh = rho P^T yh   (per row)
 * as Y = Xb P^T and Xh = Yh P over tiles of 16 rows, mma.sync.m16n8k16 with fp16 operands and
 * fp32 accumulation (inline PTX, ldmatrix for P), or on a compute capability 9.0 device at
 * d = 128, 256 the same tiles as the rows of a warpgroup's wgmma.m64nNk16 (dense_wgmma.cuh: P read
 * by the tensor cores from shared memory once per 64 rows; RB_DENSE_TC=mma turns it off).
 *
 *   template <typename T, int MODE = RBK_QDQ> cudaError_t rbk_dense_tc_launch(const RbArgs &a,
 *                                                 const T *x, T *xh, long N, cudaStream_t st);
 * T = float or __half, a.d in {128, 256, 512}, x and xh 16-byte aligned (else
 * cudaErrorInvalidValue, nothing launched). MODE RBK_ENC writes a.codes + a.norms (kvpack.h)
 * from x, RBK_DEC reads them into xh: the same kernels, the first product's quantizer writing
 * indices, or the second product fed the codes' centroids (fp16, as the roundtrip rounds them),
 * so decode(encode(x)) is the roundtrip bit for bit with fp32 norms. Never allocates, never synchronizes: P (a.rot, fp32
 * row-major in global memory) is converted to fp16 by each thread block as it stages it.
 * Needs qdq_common.cuh (RbArgs, RbIO, RbQuant, launch helpers) included first.
 *
 * ---- precision: why fp16 and not bf16 -----------------------------------------------------
 * Every operand is bounded: |xb_k| <= 1 (a unit vector), |P_ij| <= 1 (orthogonal), the
 * centroids of a Lloyd-Max codebook for N(0, 1/d) are below 4 / sqrt(d) or so. fp16's range
 * (6e-5 normal, 6e4 max) therefore costs nothing and its 11-bit significand gives u = 2^-11,
 * 8 times finer than bf16's 2^-8. Only magnitudes below 6e-5 lose relative precision (fp16
 * subnormals): their absolute error is <= 2^-25, which the bound carries as eta.
 *
 * ---- the error bound (kernels/common/dense_tc.h holds the formulas as functions) ------------
 * One dot product s = sum_{k<d} a_k b_k is formed as sum fl16(a_k) fl16(b_k) in the MMA.
 * fl16 rounds to nearest: |fl16(v) - v| <= u |v| + eta (u = 2^-11 relative for normal
 * results, eta = 2^-25 absolute for subnormal ones). Then, term by term,
 *   |fl16(a) fl16(b) - a b| <= |fl16(a) - a| |fl16(b)| + |a| |fl16(b) - b|
 *                           <= (2u + u^2)|a||b| + eta (1+u)(|a| + |b|) + eta^2,
 * and summed with sum |a_k||b_k| <= |a|_2 |b|_2 (Cauchy-Schwarz), sum |b_k| <= sqrt(d) |b|_2:
 *   (2u + u^2) A + eta (1+u) sqrt(d) (1 + A) + d eta^2           for |a|_2 <= A, |b|_2 <= 1.
 * The fp16 products are exact in fp32 (11 x 11 significand bits); the MMA adds them in fp32
 * (Hopper's adder may truncate rather than round: we charge 2^-23 per addition, the classic
 * gamma_n = n w / (1 - n w) with w = 2^-23 and n = d, times sum |fl16(a) fl16(b)|). The CPU
 * reference's recursive fp32 sum is within gamma_d(2^-24) sum |a||b| of the exact one. The
 * two x-bars differ by the relative e_rho = gamma_d(2^-24) + 6 2^-24 (the norms' sums in
 * different orders, then sqrt, reciprocal and product, each rounded once a side).
 *  - Y: a = xb (A = 1 + e_rho), b = a row of P: ybound(d) = E + gamma24 (1 + e) + e (1 + e);
 *    about 2u = 9.8e-4 for every d here (the sqrt(d) and d terms are 1e-5 or less).
 *  - Xh given the same indices: a = yh (the centroids, which the kernel rounds to fp16; A =
 *    |yh|_2), b = a column of P; times rho (rho's relative error e), then both sides round the
 *    output (fp32: 2^-24 relative each; fp16: u each, plus eta).
 * Both are worst cases; typical differences are ~sqrt(d) times smaller (random signs).
 *
 * ---- layout ----------------------------------------------------------------------------------
 * A warp owns 16 rows (an m16 tile); lane l = 4 g + t (g = l / 4, t = l % 4) holds rows g and
 * g + 8. The contraction index k of Y = Xb P^T is permuted within each group of 16 columns so
 * that a lane's A fragment is 4 consecutive columns: physical columns 16c + 4t .. 4t + 3 are the
 * logical k = 16c + 2t, 2t + 1 (register a0 / a1) and 16c + 8 + 2t, 9 + 2t (a2 / a3). P's columns
 * are stored in shared memory in the same permuted order, so Y is unchanged, and because the
 * output columns of Xh = Yh P are P's columns, the C fragments of n-tiles 2c and 2c + 1 hold
 * physical columns 16c + 4t .. 4t + 3 of the output: every load and store of a row is one
 * 16-byte (fp32) or 8-byte (fp16) access per 16 columns, full 32-byte sectors per warp.
 * P (fp16, the permuted columns) is stored row-major in 16-byte chunks, chunk c of row r at
 * position c ^ (r & 7) (an XOR swizzle): ldmatrix reads 8 rows of one chunk column, which land
 * in 8 different bank groups. Y = Xb P^T reads P with ldmatrix (B[k][n] = P[n][k]: rows of P
 * are the n8 tiles), Xh = Yh P with ldmatrix.trans (B[k][n] = P[k][n]). The C fragments of Y's
 * n-tiles 2s and 2s + 1, quantized and packed to fp16, are exactly the A fragment of k-step s of
 * the second product (the FlashAttention register reuse): Y never leaves the registers.
 *
 * Two kernels:
 *  resident (d = 128, 256): each thread block converts all of P into shared memory once
 *    (d = 128: 32 KiB, two blocks of 8 warps per SM; d = 256: 128 KiB, one block per SM, opt-in
 *    shared memory); then every warp loops over row tiles on its own (persistent grid, no block
 *    barrier in the loop; fp16 rows are staged one tile ahead by cp.async). d = 256 splits both
 *    products into halves of 128 columns to stay in registers. Measured (H200, N = 2^20): 1.3-1.5x
 *    a D2D copy at d = 128 fp32, 2.2-2.7x fp16; bound by shared-memory bandwidth (ldmatrix of P).
 *    WG (wgmma): the same kernel, its loop per warpgroup (4 warps, 64 rows); each 128-column
 *    product is two 64-column wgmma groups, the first's quantization (or stores) overlapping
 *    the second's MMAs; fp16 rows enter Y as their own fp16 bits (RAW) and Y is scaled by
 *    1 / rho before the quantizer: that drops a conversion pass and the rounding of x / rho to
 *    fp16 (the bound above still holds, with one rounding to spare); up to 3 boundaries take a
 *    select tree, more the cell table in 16 copies. Measured (H200, N = 2^20, a04d03c): d = 128
 *    1.23-1.24x the copy in fp32, 1.5-1.7x in fp16; d = 256 1.37-1.39x / 2.05-2.11x
 *    (docs/perf-log/2026-11-29-4-fourth-stop-a04d03c.md; today's numbers: docs/PERF.md, target 2).
 *  streamed (d = 512): P (512 KiB in fp16) does not fit. A block of 16 warps owns 64 rows
 *    (4 m16 tiles x 4 column quarters) and streams P in chunks of 32 rows: cp.async brings the
 *    fp32 chunk into shared memory (prefetched one chunk ahead, across row tiles too), the block
 *    converts it to fp16 (swizzled, permuted), each warp forms the partial Y over its quarter of
 *    k (x-bar in shared memory, fp16, swizzled like P), the four partials are summed
 *    through shared memory and quantized into Yh (fp16, shared), and every warp accumulates its
 *    16 x 128 slice of Xh += Yh_chunk P_chunk. Each element of P is read from L2 once per 64
 *    rows, in fp32: 1 MiB per 64 rows, 16 KiB per row against the row's own 2 or 4 KiB of DRAM
 *    traffic. Measured (docs/tc_dense_notes.md): the L2 stream costs only ~7 %, the fp32 -> fp16
 *    conversion pass ~21 %, the rest is shared-memory traffic and barriers; 7.3-8.1 ms at
 *    N = 2^20, slower than an unfused cuBLAS pipeline (6.6-6.9 ms): d = 512 works but is not fast. */
#ifndef RB_DENSE_TC_CUH
#define RB_DENSE_TC_CUH

#include <cuda_fp16.h>
#include <stdint.h>

#include "dense_tc.h"
#include "dense_wgmma.cuh"

/* ---- PTX wrappers ----------------------------------------------------------------------------- */
/* c += a b, m16n8k16, fp16 in, fp32 accumulation. */
static __device__ __forceinline__ void rbtc_mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* The two n8 tiles that one ldmatrix.x4 of B feeds: columns 8 j..8 j+7 into c0, the next 8
 * into c1. */
static __device__ __forceinline__ void rbtc_mma_x2(float c0[4], float c1[4], const uint32_t a[4], const uint32_t b[4])
{
    rbtc_mma(c0, a, b[0], b[1]);
    rbtc_mma(c1, a, b[2], b[3]);
}

static __device__ __forceinline__ void rbtc_ldsm4(uint32_t r[4], uint32_t saddr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(saddr));
}

static __device__ __forceinline__ void rbtc_ldsm4t(uint32_t r[4], uint32_t saddr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(saddr));
}

static __device__ __forceinline__ uint32_t rbtc_smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

static __device__ __forceinline__ void rbtc_cp_async16(uint32_t saddr, const void *g)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(saddr), "l"(g) : "memory");
}
static __device__ __forceinline__ void rbtc_cp_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
static __device__ __forceinline__ void rbtc_cp_wait_all() { asm volatile("cp.async.wait_group 0;" ::: "memory"); }

/* Two floats -> one register of two fp16 (round to nearest even), lo in the low half. */
static __device__ __forceinline__ uint32_t rbtc_pack(float lo, float hi)
{
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&h);
}

/* Byte offset of logical column L (fp16) of row r in a swizzled row-major fp16 matrix whose rows
 * are LD halves long (LD / 8 chunks of 16 bytes, LD / 8 >= 8). */
template <int LD> static __device__ __forceinline__ uint32_t rbtc_swz(int r, int L)
{
    return (uint32_t)(r * LD * 2 + ((((L >> 3) ^ (r & 7))) << 4) + (L & 7) * 2);
}

/* Store the 4 consecutive physical P columns 16 c + 4 t .. 4 t + 3 of row r (v) at their logical
 * positions 16 c + 2 t (v.x, v.y) and 16 c + 8 + 2 t (v.z, v.w). */
template <int LD>
static __device__ __forceinline__ void rbtc_put4(unsigned char *base, int r, int c, int t, float4 v)
{
    *reinterpret_cast<uint32_t *>(base + rbtc_swz<LD>(r, 16 * c + 2 * t)) = rbtc_pack(v.x, v.y);
    *reinterpret_cast<uint32_t *>(base + rbtc_swz<LD>(r, 16 * c + 8 + 2 * t)) = rbtc_pack(v.z, v.w);
}

/* ---- row I/O in the permuted fragment layout ---------------------------------------------- */
/* One lane's 4 consecutive values of a row (physical columns 16 c + 4 t .. + 3). */
template <typename T> struct RbtcIO;
template <> struct RbtcIO<float> {
    using Raw = float4;
    static __device__ __forceinline__ Raw ld(const float *p) { return __ldg(reinterpret_cast<const float4 *>(p)); }
    static __device__ __forceinline__ Raw zero() { return make_float4(0.f, 0.f, 0.f, 0.f); }
    static __device__ __forceinline__ void get(const Raw &r, float f[4])
    {
        f[0] = r.x; f[1] = r.y; f[2] = r.z; f[3] = r.w;
    }
    static __device__ __forceinline__ void st(float *p, float a, float b, float c, float d)
    {
        *reinterpret_cast<float4 *>(p) = make_float4(a, b, c, d);
    }
};
template <> struct RbtcIO<__half> {
    using Raw = uint2;
    static __device__ __forceinline__ Raw ld(const __half *p) { return __ldg(reinterpret_cast<const uint2 *>(p)); }
    static __device__ __forceinline__ Raw zero() { return make_uint2(0u, 0u); }
    static __device__ __forceinline__ void get(const Raw &r, float f[4])
    {
        float2 lo = __half22float2(*reinterpret_cast<const __half2 *>(&r.x));
        float2 hi = __half22float2(*reinterpret_cast<const __half2 *>(&r.y));
        f[0] = lo.x; f[1] = lo.y; f[2] = hi.x; f[3] = hi.y;
    }
    static __device__ __forceinline__ void st(__half *p, float a, float b, float c, float d)
    {
        *reinterpret_cast<uint2 *>(p) = make_uint2(rbtc_pack(a, b), rbtc_pack(c, d));
    }
};

/* Quantize 4 accumulators (one C fragment) and pack them as two fp16 registers {c0, c1}, {c2, c3}. */
template <int QM>
static __device__ __forceinline__ void rbtc_quant_pack(const RbQuant<QM> &q, const float c[4], const float *s_c,
                                                       const float *s_b, int nb, uint32_t &lo, uint32_t &hi)
{
    lo = rbtc_pack(q(c[0], s_c, s_b, nb), q(c[1], s_c, s_b, nb));
    hi = rbtc_pack(q(c[2], s_c, s_b, nb), q(c[3], s_c, s_b, nb));
}

/* The cell route with 8-byte entries {threshold, fp16 c_lo | fp16 c_hi << 16} (from the host's
 * float4 table): the same fp16 y-hat as rounding q.cells(y), half the shared-memory wavefronts of
 * the random 16-byte lookups, and the pair comes out packed. CP copies of the table interleaved
 * (entry e of copy r at e CP + r, t8 pointing at this lane's copy). */
template <int CP = 1>
static __device__ __forceinline__ uint32_t rbtc_cells_pack(const uint2 *t8, rb_sq_cellmap m, float y0, float y1)
{
    const uint2 e0 = t8[rb_sq_cell(y0, m) * CP], e1 = t8[rb_sq_cell(y1, m) * CP];
    const uint32_t h0 = y0 > __uint_as_float(e0.x) ? e0.y >> 16 : e0.y & 0xffffu;
    const uint32_t h1 = y1 > __uint_as_float(e1.x) ? e1.y & 0xffff0000u : e1.y << 16;
    return h0 | h1;
}

/* rbtc_cells_pack with the table's address folded into the cell map (the float's bits times the
 * entry stride plus tab, modulo 2^32: one IMAD, as RbQuant::cells) and the two fp16 halves
 * picked by one PRMT. tab: the shared address of this lane's copy less 0x4b000000 * 8 CP. */
template <int CP>
static __device__ __forceinline__ uint32_t rbtc_cells_pack_fold(uint32_t tab, rb_sq_cellmap m, float y0, float y1)
{
    const float f0 = fmaf(__saturatef(fmaf(y0, m.a, m.b)), (float)(RB_SQ_CELLS - 1), RB_SQ_CELL_MAGIC);
    const float f1 = fmaf(__saturatef(fmaf(y1, m.a, m.b)), (float)(RB_SQ_CELLS - 1), RB_SQ_CELL_MAGIC);
    const uint32_t a0 = __float_as_uint(f0) * (8u * CP) + tab, a1 = __float_as_uint(f1) * (8u * CP) + tab;
    uint32_t t0, h0, t1, h1;
    /* volatile + memory: not above the barrier that publishes the table */
    asm volatile("ld.shared.v2.u32 {%0, %1}, [%2];" : "=r"(t0), "=r"(h0) : "r"(a0) : "memory");
    asm volatile("ld.shared.v2.u32 {%0, %1}, [%2];" : "=r"(t1), "=r"(h1) : "r"(a1) : "memory");
    /* bytes 0-1 of the result: h0's upper (0x32) or lower (0x10) half; bytes 2-3: h1's (0x76 / 0x54) */
    const uint32_t sel = (y0 > __uint_as_float(t0) ? 0x32u : 0x10u) | (y1 > __uint_as_float(t1) ? 0x7600u : 0x5400u);
    return __byte_perm(h0, h1, sel);
}

/* Every accumulator of a fragment array to zero. */
template <int A, int B> static __device__ __forceinline__ void rbtc_zero(float (&acc)[A][B][4])
{
#pragma unroll
    for (int a = 0; a < A; a++)
#pragma unroll
        for (int b = 0; b < B; b++)
            acc[a][b][0] = acc[a][b][1] = acc[a][b][2] = acc[a][b][3] = 0.f;
}

/* Two row sums over the 4 lanes of a quad (the lanes t = 0..3 that share fragment rows). */
static __device__ __forceinline__ void rbtc_quad_sum2(float &a, float &b)
{
    a += __shfl_xor_sync(0xffffffffu, a, 1);
    b += __shfl_xor_sync(0xffffffffu, b, 1);
    a += __shfl_xor_sync(0xffffffffu, a, 2);
    b += __shfl_xor_sync(0xffffffffu, b, 2);
}

/* c (+)= a B over k-step ks, columns n0 .. n0 + 8 NT - 1 of P as wgmma's B (wg_layout.h): MN-major
 * for Xh = Yh P (mn, descriptor dX), K-major for Y = Xb P^T (dY); the first k-step overwrites c.
 * mn is a constant where it is called: one branch is compiled. */
template <int NT>
static __device__ __forceinline__ void rbtc_wg_step(bool mn, float (&c)[NT][4], const uint32_t a[4], uint64_t dY,
                                                    uint64_t dX, int d, int ks, int n0)
{
    if (mn)
        rbtc_wgmma<1>(c, a, dX + (rb_wg_x_start(d, ks, n0) >> 4), ks > 0);
    else
        rbtc_wgmma<0>(c, a, dY + (rb_wg_y_start(d, ks, n0) >> 4), ks > 0);
}

/* ---- the packed codes (kvpack.h) ------------------------------------------------------------ */
/* Codes j and j + 1 of a row's words: 2 b <= 16 bits from stream bit j b, in one or two words. */
static __device__ __forceinline__ void rbtc_codes2(const uint32_t *w, int j, int bits, uint32_t &c0, uint32_t &c1)
{
    const int s = j * bits, i = s >> 5, o = s & 31;
    uint64_t v = w[i];
    if (o + 2 * bits > 32)
        v |= (uint64_t)w[i + 1] << 32;
    const uint32_t m = (1u << bits) - 1u;
    c0 = (uint32_t)(v >> o) & m;
    c1 = (uint32_t)(v >> (o + bits)) & m;
}

/* rb_sq_index(y) by the route of the kernel's quantizer: the cell route from the 8-byte table
 * (an encoder's entries are {threshold, the cell's low index}: rb_sq_cell_index), else
 * RbQuant's own. */
template <int QM, int TCP>
static __device__ __forceinline__ uint32_t rbtc_index(const RbQuant<QM> &q, const uint2 *t8, const float *s_b, int nb, float y)
{
    if constexpr (QM == RBQ_CELLS) {
        const uint2 e = t8[rb_sq_cell(y, q.m) * TCP];
        return e.y + (y > __uint_as_float(e.x));
    } else
        return (uint32_t)q.index(y, s_b, nb);
}

/* ---- resident kernel (d = 128, 256) ------------------------------------------------------------ */
#define RBTC_RES_WARPS 8

/* MT: m16 tiles per warp (16 MT rows): every B fragment loaded from shared memory feeds MT
 * MMAs. With MT = 1 the ldmatrix traffic is one x4 (512 bytes) per 2 MMAs, which is more than
 * the MMAs' own time at shared memory's 128 bytes per clock (d = 256: the bound). MT = 2 needs
 * about 200 registers at d = 128 (one block of 8 warps per SM) and does not fit d = 256.
 * RBTC_MT128 picks it for d = 128 (default 1; 2 is the experiment of docs/tc_dense_notes.md).
 *
 * STAGE: each warp has a shared-memory buffer for its next tile's rows, filled by cp.async
 * while it works on the current tile (the row loads' latency leaves the critical path without
 * costing registers). Used for fp16 (d = 128: two blocks per SM; d = 256: one) and for MT = 2;
 * fp32 with MT = 1 loads its rows directly (see the measurement below). The 16-byte chunks of a
 * staged row are XOR-swizzled by the row so that the lanes' fragment reads (fp32: 16 bytes of
 * rows g and g ^ 1 per quarter warp; fp16: 8 bytes of 4 rows per half warp) are free of bank
 * conflicts. */
#ifndef RBTC_MT128
#define RBTC_MT128 1
#endif

template <typename T, int D, int MT, bool WG = false, int MODE = RBK_QDQ> struct RbtcRes {
    static constexpr int MINB = MT == 1 && D <= 128 ? 2 : 1;
    /* P in fp16; WG: plus the slack that aligns it to 1024 bytes for the 128-byte swizzle */
    static constexpr size_t PBYTES = (size_t)D * D * 2 + (WG ? 1024 : 0);
    static constexpr size_t ROWB = (size_t)D * sizeof(T), WBYTES = 16 * MT * ROWB;
    /* rows staged through shared memory for fp16 or MT = 2 only: for fp32 at MT = 1 the copy of
     * twice the bytes competes with ldmatrix for shared-memory bandwidth (docs/perf-log/
     * 2026-12-06-experiment-switches.md); the decoder reads no rows */
    static constexpr bool STAGE = MODE != RBK_DEC && (sizeof(T) == 2 || MT == 2) &&
                                  PBYTES + RBTC_RES_WARPS * WBYTES <= (MINB == 2 ? 96u : 200u) * 1024u;
    /* encode and decode: the warp tile's codes, a byte each (encode) or the packed words
     * (decode), in the warp's buffer: the staging buffer where there is one (the encoder stages
     * the next tile once its codes are out), which is at least this large */
    static constexpr size_t CBYTES = MODE == RBK_QDQ ? 0 : (size_t)16 * MT * D;
    static constexpr size_t WBUF = STAGE && WBYTES > CBYTES ? WBYTES : CBYTES;
    static constexpr size_t SMEM = PBYTES + RBTC_RES_WARPS * WBUF;
    /* the swizzled byte offset of 16-byte chunk e16 of staged row r */
    static __device__ __forceinline__ uint32_t soff(int r, int e16)
    {
        return (uint32_t)(r * ROWB) + ((uint32_t)(e16 ^ (sizeof(T) == 4 ? (r & 1) << 2 : (r & 3) << 1)) << 4);
    }
};

/* MODE (qdq_common.cuh): the fused roundtrip, the encoder (x -> codes + norms: the first product,
 * its quantizer's indices instead of its centroids) or the decoder (codes + norms -> xh: the
 * second product from the centroids). Each mode runs the roundtrip's instructions on the same
 * operands in the same order, so decode(encode(x)) is the roundtrip bit for bit with fp32 norms. */
template <typename T, int D, int MT, int QM, bool WG = false, int MODE = RBK_QDQ>
__global__ void __launch_bounds__(RBTC_RES_WARPS * 32, RbtcRes<T, D, MT, WG>::MINB)
rbk_dense_tc_res(RbArgs a, const T *__restrict__ x, T *__restrict__ xh, long N)
{
    using S = RbtcRes<T, D, MT, WG, MODE>;
    constexpr bool ENC = MODE == RBK_ENC, DEC = MODE == RBK_DEC;
    constexpr int NC = D / 16;                                 /* 16-column groups = k-steps = n-tile pairs */
    constexpr int CH = MT == 2 ? 64 : (D < 128 ? D : 128);     /* column chunk of either product (registers) */
    constexpr int NCH = D / CH, CG = CH / 16;
    constexpr int CPR = (int)(S::ROWB / 16);                   /* 16-byte chunks per row */
    constexpr int TR = 16 * MT;                                /* rows per warp tile */
    static_assert(S::STAGE || MT == 1, "MT = 2 reads its rows from the staging buffer");
    static_assert(!WG || (MT == 1 && CH == 128), "wgmma: one m16 tile per warp, products in 128 columns");
    /* RAW (wgmma, fp16 rows): Y = X P^T from the rows' own fp16 values, scaled by 1 / rho before
     * the quantizer, instead of rounding x / rho to fp16: no conversion pass, one rounding fewer */
    constexpr bool RAW = WG && sizeof(T) == 2 && !DEC;
    static_assert(!RAW || S::STAGE, "RAW reads the staged rows");
    extern __shared__ float4 smem4[];
    unsigned char *stg = reinterpret_cast<unsigned char *>(smem4) + S::PBYTES + (threadIdx.x >> 5) * S::WBUF;
    unsigned char *Ps = reinterpret_cast<unsigned char *>(smem4); /* WG: rounded up to 1024 bytes */
    if constexpr (WG)
        Ps += (1024u - (rbtc_smem_addr(smem4) & 1023u)) & 1023u;
    __shared__ float s_c[RBK_MAX_CENT], s_b[RBK_MAX_CENT];
    /* WG: 16 copies of the 8-byte cell table, lane l reading copy l % 16: the 16 lanes of a
     * half-warp's 8-byte loads then never share a bank (ncu, one copy: 2.3 times the ideal
     * wavefronts, L1/shared 89 % busy at 3-4 bits) */
    constexpr int TCP = WG ? 16 : 1;
    __shared__ uint2 s_t8[QM == RBQ_CELLS ? RB_SQ_CELLS * TCP : 1];

    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const uint2 *t8 = s_t8 + (lane & (TCP - 1));
    const uint32_t tabf = rbtc_smem_addr(t8) - 0x4b000000u * (8u * TCP);
    /* WG: the folded lookup, except fp32 d = 128 (H200, N = 2^20, two interleaved rounds: fp16
     * d = 128 4 bits 222 -> 209 us, d = 256 fp16 520 -> 500, fp32 720 -> 670; fp32 d = 128
     * 317 -> 325). At fp16 d = 128 ptxas serializes this kernel's wgmmas (C7512, 128 registers)
     * and not the plain lookup's, yet the fold stays faster: 4 bits 208 against 220 us */
    constexpr bool FOLD = WG && !(sizeof(T) == 4 && D == 128);
    rbk_load_codebook(a.cents, a.bounds, a.nbounds, s_c, s_b, true);
    if constexpr (QM == RBQ_CELLS) {
        /* the encoder's entries hold the cell's low index (rb_sq_cell_index) for the centroids */
        for (int i = threadIdx.x; i < RB_SQ_CELLS * TCP && !DEC; i += blockDim.x) {
            const float4 e = __ldg(reinterpret_cast<const float4 *>(a.cells) + i / TCP);
            s_t8[i] = ENC ? rbk_cell8(e) : make_uint2(__float_as_uint(e.x), rbtc_pack(e.y, e.z));
        }
    } else
        rbk_load_cells<QM>(a.cells, a.nbounds);
    /* P -> fp16, columns permuted, rows swizzled */
    for (int e = threadIdx.x; e < D * D / 4; e += blockDim.x) {
        const int r = e / (D / 4), q4 = e - r * (D / 4);
        const float4 v = __ldg(reinterpret_cast<const float4 *>(a.rot) + e);
        if constexpr (WG) {
            const int c = q4 >> 2, t4 = q4 & 3;
            *reinterpret_cast<uint32_t *>(Ps + rb_wg_off(D, r, 16 * c + 2 * t4)) = rbtc_pack(v.x, v.y);
            *reinterpret_cast<uint32_t *>(Ps + rb_wg_off(D, r, 16 * c + 8 + 2 * t4)) = rbtc_pack(v.z, v.w);
        } else
            rbtc_put4<D>(Ps, r, q4 >> 2, q4 & 3, v);
    }
    if constexpr (WG)
        rbtc_wg_proxy_fence();
    RbQuant<QM> q;
    __syncthreads();
    q.init(s_b, s_c, a.nbounds, a.cells);
    const int nb = a.nbounds;
    float creg[4]; /* the register route's centroids (those past nbounds + 1 never selected) */
#pragma unroll
    for (int k = 0; k < 4; k++)
        creg[k] = k <= nb ? s_c[k] : 0.0f;

    /* lane-constant ldmatrix offsets: lane = 8 mi + r8 addresses row r8 of matrix mi */
    const int mi = lane >> 3, r8 = lane & 7;
    const uint32_t Pbase = rbtc_smem_addr(Ps);
    /* Y: matrices (rows +0, chunk +0), (+0, +1), (+8, +0), (+8, +1) -> b0 b1 of n-tile 2p, of 2p+1 */
    const uint32_t rowY = Pbase + (uint32_t)((r8 + 8 * (mi >> 1)) * D * 2);
    const int cY = mi & 1;
    /* Xh: matrices (rows +0, chunk +0), (+8, +0), (+0, +1), (+8, +1) -> b0 b1 of n-tile 2p, 2p+1 */
    const uint32_t rowX = Pbase + (uint32_t)((r8 + 8 * (mi & 1)) * D * 2);
    const int cX = mi >> 1;
    /* WG: the descriptors of P as Y's K-major B (8-row groups 1024 bytes apart) and as Xh's
     * MN-major B (bands of 64 columns D * 128 bytes apart, 8-row groups 1024 apart) */
    const uint64_t dY = rbtc_wg_desc(Pbase, 16, RB_WG_SBO), dX = rbtc_wg_desc(Pbase, rb_wg_lbo(D), RB_WG_SBO);

    /* WG: the loop runs per warpgroup (wgmma is one instruction of its 128 threads): tile is a
     * warpgroup's 64 rows, of which warp wq owns the 16-row tile WT tile + wq */
    constexpr int WT = WG ? 4 : 1, UNITS = RBTC_RES_WARPS / WT;
    const int wq = WG ? (threadIdx.x >> 5) & 3 : 0;
    const long ntiles = (N + WT * TR - 1) / (WT * TR);
    const long gw = (long)blockIdx.x * UNITS + (threadIdx.x >> 5) / WT, nw = (long)gridDim.x * UNITS;
    const uint32_t stgA = rbtc_smem_addr(stg);
    /* STAGE: the rows of tile tl (those below N) into this warp's buffer, one commit group */
    auto stage = [&](long tl) {
        const unsigned char *src = reinterpret_cast<const unsigned char *>(x + tl * TR * D);
#pragma unroll
        for (int i = 0; i < TR * CPR / 32; i++) {
            const int e = lane + 32 * i, r = e / CPR, e16 = e - r * CPR;
            if (tl * TR + r < N)
                rbtc_cp_async16(stgA + S::soff(r, e16), src + (size_t)e * 16);
        }
        rbtc_cp_commit();
    };
    if constexpr (S::STAGE)
        if (gw < ntiles)
            stage(WT * gw + wq);
    for (long tile = gw; tile < ntiles; tile += nw) {
        const long wt = WT * tile + wq; /* this warp's 16 MT-row tile */
        long r0[MT], r1[MT];
        bool v0[MT], v1[MT];
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
            r0[mt] = wt * TR + 16 * mt + g;
            r1[mt] = r0[mt] + 8;
            v0[mt] = r0[mt] < N;
            v1[mt] = r1[mt] < N;
        }
        float rho0[MT], rho1[MT], inv0s[MT], inv1s[MT];
        uint32_t xa[MT][NC][4]; /* x-bar A fragments (RAW: x's own fp16 bits) */
        uint32_t ya[MT][NC][4]; /* Yh's A fragments: the quantized Y (decode: from the codes) */
        if constexpr (DEC) {
            /* the tile's code words (contiguous rows) into the warp's buffer, coalesced; then
             * each lane's codes, at Y's columns 16 s + 2 t, + 1 (A) and 16 s + 8 + 2 t, + 1 (B)
             * of its rows, to the centroids as the roundtrip's quantizer gives them (fp16) */
            const int rw = a.row_words;
            uint32_t *cw = reinterpret_cast<uint32_t *>(stg);
            const long left = N - wt * TR, nwords = (left < 0 ? 0 : left < TR ? left : TR) * rw;
            __syncwarp(); /* the previous tile's reads of the buffer are done */
            for (long e = lane; e < nwords; e += 32)
                cw[e] = __ldg(a.codes + wt * TR * rw + e);
            __syncwarp();
            auto cents = [&](bool v, int r, int j) -> uint32_t {
                if (!v)
                    return 0u;
                uint32_t c0, c1;
                rbtc_codes2(cw + r * rw, j, a.bits, c0, c1);
                return rbtc_pack(s_c[c0], s_c[c1]);
            };
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                rho0[mt] = v0[mt] ? rbk_get_norm(a.norms, a.norm_kind, r0[mt]) : 0.0f;
                rho1[mt] = v1[mt] ? rbk_get_norm(a.norms, a.norm_kind, r1[mt]) : 0.0f;
                inv0s[mt] = inv1s[mt] = 1.0f; /* unused: no quantizer here */
                const int ra = 16 * mt + g, rb = ra + 8;
#pragma unroll
                for (int s = 0; s < NC; s++) {
                    ya[mt][s][0] = cents(v0[mt], ra, 16 * s + 2 * t);
                    ya[mt][s][1] = cents(v1[mt], rb, 16 * s + 2 * t);
                    ya[mt][s][2] = cents(v0[mt], ra, 16 * s + 8 + 2 * t);
                    ya[mt][s][3] = cents(v1[mt], rb, 16 * s + 8 + 2 * t);
                }
            }
        } else {
            /* STAGE: the rows are read from the buffer twice (norms, then x-bar) rather than held in
             * 2 NC registers across the norm's shuffles (fp32 d = 128 spilled 144 bytes that way) */
            typename RbtcIO<T>::Raw raw0[S::STAGE ? 1 : NC], raw1[S::STAGE ? 1 : NC];
            if constexpr (S::STAGE) {
                rbtc_cp_wait_all();
                __syncwarp();
            } else {
                const T *x0 = x + r0[0] * D + 4 * t, *x1 = x + r1[0] * D + 4 * t;
#pragma unroll
                for (int c = 0; c < NC; c++) {
                    raw0[c] = v0[0] ? RbtcIO<T>::ld(x0 + 16 * c) : RbtcIO<T>::zero();
                    raw1[c] = v1[0] ? RbtcIO<T>::ld(x1 + 16 * c) : RbtcIO<T>::zero();
                }
            }
            /* lane (g, t)'s physical columns 16 c + 4 t .. + 3 of rows 16 mt + g and + 8; staged:
             * 16-byte chunk 4 c + t (fp32) or the half t & 1 of chunk 2 c + t / 2 (fp16) */
            auto fetch = [&](int mt, int c, float f0[4], float f1[4]) {
                if constexpr (S::STAGE) {
                    using Raw = typename RbtcIO<T>::Raw;
                    const int e16 = sizeof(T) == 4 ? 4 * c + t : 2 * c + (t >> 1);
                    const uint32_t in = sizeof(T) == 4 ? 0u : (uint32_t)(t & 1) * 8u;
                    const int ra = 16 * mt + g;
                    const Raw q0 = v0[mt] ? *reinterpret_cast<const Raw *>(stg + S::soff(ra, e16) + in) : RbtcIO<T>::zero();
                    const Raw q1 = v1[mt] ? *reinterpret_cast<const Raw *>(stg + S::soff(ra + 8, e16) + in) : RbtcIO<T>::zero();
                    RbtcIO<T>::get(q0, f0);
                    RbtcIO<T>::get(q1, f1);
                } else {
                    RbtcIO<T>::get(raw0[c], f0);
                    RbtcIO<T>::get(raw1[c], f1);
                }
            };
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                float ss0 = 0.f, ss1 = 0.f;
                if constexpr (RAW) {
                    /* one pass: the staged fp16 row bits are the A fragments as they are, the norm is
                     * summed from them converted */
                    using Raw = typename RbtcIO<T>::Raw;
#pragma unroll
                    for (int c = 0; c < NC; c++) {
                        const int e16 = 2 * c + (t >> 1);
                        const uint32_t in = (uint32_t)(t & 1) * 8u;
                        const int ra = 16 * mt + g;
                        const Raw q0 = v0[mt] ? *reinterpret_cast<const Raw *>(stg + S::soff(ra, e16) + in) : RbtcIO<T>::zero();
                        const Raw q1 = v1[mt] ? *reinterpret_cast<const Raw *>(stg + S::soff(ra + 8, e16) + in) : RbtcIO<T>::zero();
                        xa[mt][c][0] = q0.x;
                        xa[mt][c][1] = q1.x;
                        xa[mt][c][2] = q0.y;
                        xa[mt][c][3] = q1.y;
                        float f0[4], f1[4];
                        RbtcIO<T>::get(q0, f0);
                        RbtcIO<T>::get(q1, f1);
#pragma unroll
                        for (int k = 0; k < 4; k++) {
                            ss0 = fmaf(f0[k], f0[k], ss0);
                            ss1 = fmaf(f1[k], f1[k], ss1);
                        }
                    }
                } else {
#pragma unroll
                    for (int c = 0; c < NC; c++) {
                        float f0[4], f1[4];
                        fetch(mt, c, f0, f1);
#pragma unroll
                        for (int k = 0; k < 4; k++) {
                            ss0 = fmaf(f0[k], f0[k], ss0);
                            ss1 = fmaf(f1[k], f1[k], ss1);
                        }
                    }
                }
                rbtc_quad_sum2(ss0, ss1);
                rho0[mt] = sqrtf(ss0);
                rho1[mt] = sqrtf(ss1);
                const float inv0 = rb_inv_norm(rho0[mt]), inv1 = rb_inv_norm(rho1[mt]);
                inv0s[mt] = inv0;
                inv1s[mt] = inv1;
                if constexpr (!RAW) {
#pragma unroll
                    for (int c = 0; c < NC; c++) {
                        float f0[4], f1[4];
                        fetch(mt, c, f0, f1);
                        xa[mt][c][0] = rbtc_pack(f0[0] * inv0, f0[1] * inv0);
                        xa[mt][c][1] = rbtc_pack(f1[0] * inv1, f1[1] * inv1);
                        xa[mt][c][2] = rbtc_pack(f0[2] * inv0, f0[3] * inv0);
                        xa[mt][c][3] = rbtc_pack(f1[2] * inv1, f1[3] * inv1);
                    }
                }
            }
            if constexpr (S::STAGE || ENC)
                __syncwarp(); /* every lane has read the buffer before the next tile's copies (or codes) land */
            if constexpr (S::STAGE && !ENC)
                if (tile + nw < ntiles)
                    stage(WT * (tile + nw) + wq);
        }
        /* Y = Xb P^T, CH columns at a time, quantized into the A fragments of Yh */
        /* Y's n8 tiles 2 s (A) and 2 s + 1 (B) of m16 tile mt, quantized: Yh's A fragment of k-step s */
        auto quant = [&](int mt, int s, const float *A0, const float *B0) {
            float As[4], Bs[4];
            const float *A = A0, *B = B0;
            if constexpr (RAW) { /* Y of the raw rows: scaled by the rows' 1 / rho here */
                As[0] = A0[0] * inv0s[mt], As[1] = A0[1] * inv0s[mt], As[2] = A0[2] * inv1s[mt], As[3] = A0[3] * inv1s[mt];
                Bs[0] = B0[0] * inv0s[mt], Bs[1] = B0[1] * inv0s[mt], Bs[2] = B0[2] * inv1s[mt], Bs[3] = B0[3] * inv1s[mt];
                A = As, B = Bs;
            }
            if constexpr (ENC) { /* the indices, a byte each, into row 16 mt + g (+ 8) of the buffer */
                const int ra = 16 * mt + g, j = 16 * s + 2 * t;
                const bool f0 = rb_row_is_finite(rho0[mt]), f1 = rb_row_is_finite(rho1[mt]);
                auto idx2 = [&](bool fin, float y0, float y1) -> uint16_t { /* a bad row: zero codes */
                    return fin ? (uint16_t)(rbtc_index<QM, TCP>(q, t8, s_b, nb, y0) | rbtc_index<QM, TCP>(q, t8, s_b, nb, y1) << 8) : 0;
                };
                *reinterpret_cast<uint16_t *>(stg + ra * D + j) = idx2(f0, A[0], A[1]);
                *reinterpret_cast<uint16_t *>(stg + (ra + 8) * D + j) = idx2(f1, A[2], A[3]);
                *reinterpret_cast<uint16_t *>(stg + ra * D + j + 8) = idx2(f0, B[0], B[1]);
                *reinterpret_cast<uint16_t *>(stg + (ra + 8) * D + j + 8) = idx2(f1, B[2], B[3]);
            } else if constexpr (WG && QM == RBQ_REG) { /* wgmma only: mma.sync's 128 registers spilled more */
                ya[mt][s][0] = rbtc_pack(rb_sq_qdq3(A[0], q.b, creg), rb_sq_qdq3(A[1], q.b, creg));
                ya[mt][s][1] = rbtc_pack(rb_sq_qdq3(A[2], q.b, creg), rb_sq_qdq3(A[3], q.b, creg));
                ya[mt][s][2] = rbtc_pack(rb_sq_qdq3(B[0], q.b, creg), rb_sq_qdq3(B[1], q.b, creg));
                ya[mt][s][3] = rbtc_pack(rb_sq_qdq3(B[2], q.b, creg), rb_sq_qdq3(B[3], q.b, creg));
            } else if constexpr (QM == RBQ_CELLS && FOLD) {
                ya[mt][s][0] = rbtc_cells_pack_fold<TCP>(tabf, q.m, A[0], A[1]);
                ya[mt][s][1] = rbtc_cells_pack_fold<TCP>(tabf, q.m, A[2], A[3]);
                ya[mt][s][2] = rbtc_cells_pack_fold<TCP>(tabf, q.m, B[0], B[1]);
                ya[mt][s][3] = rbtc_cells_pack_fold<TCP>(tabf, q.m, B[2], B[3]);
            } else if constexpr (QM == RBQ_CELLS) {
                ya[mt][s][0] = rbtc_cells_pack<TCP>(t8, q.m, A[0], A[1]);
                ya[mt][s][1] = rbtc_cells_pack<TCP>(t8, q.m, A[2], A[3]);
                ya[mt][s][2] = rbtc_cells_pack<TCP>(t8, q.m, B[0], B[1]);
                ya[mt][s][3] = rbtc_cells_pack<TCP>(t8, q.m, B[2], B[3]);
            } else {
                rbtc_quant_pack<QM>(q, A, s_c, s_b, nb, ya[mt][s][0], ya[mt][s][1]);
                rbtc_quant_pack<QM>(q, B, s_c, s_b, nb, ya[mt][s][2], ya[mt][s][3]);
            }
        };
        /* Xh's n8 tiles (A, B) holding output columns col .. col + 15 of m16 tile mt: rescaled, stored */
        auto store = [&](int mt, int col, const float *A, const float *B) {
            const float q0 = rho0[mt], q1 = rho1[mt];
            T *o0 = xh + r0[mt] * D + 4 * t + col, *o1 = xh + r1[mt] * D + 4 * t + col;
            if (v0[mt]) {
                if (rb_row_is_finite(q0))
                    RbtcIO<T>::st(o0, q0 * A[0], q0 * A[1], q0 * B[0], q0 * B[1]);
                else
                    RbtcIO<T>::st(o0, rbk_nan(), rbk_nan(), rbk_nan(), rbk_nan());
            }
            if (v1[mt]) {
                if (rb_row_is_finite(q1))
                    RbtcIO<T>::st(o1, q1 * A[2], q1 * A[3], q1 * B[2], q1 * B[3]);
                else
                    RbtcIO<T>::st(o1, rbk_nan(), rbk_nan(), rbk_nan(), rbk_nan());
            }
        };
        if constexpr (WG) {
            /* Each 128-column chunk as two wgmma groups of 64 columns (c0, c1), committed one after
             * the other: the first group's quantization (or stores) runs while the second is on the
             * tensor cores. Y: k-step ks starts 32 (ks % 4) bytes into band ks / 4, its n rows of P
             * 1024 bytes per 8; Xh: k-step ks is rows 16 ks .. of P (two 8-row groups), n one band.
             * mn: P as MN-major (Xh) or K-major (Y) B; af: the A fragments; epi(s, A, B): n8 tiles
             * 2 s, 2 s + 1 of the result. */
            auto product = [&](bool mn, const uint32_t (&af)[MT][NC][4], auto epi) {
                constexpr int H = CG / 2; /* 16-column groups per 64 columns */
#pragma unroll
                for (int h = 0; h < NCH; h++) {
                    float c0[CG][4], c1[CG][4];
                    rbtc_wg_fence();
#pragma unroll
                    for (int ks = 0; ks < NC; ks++)
                        rbtc_wg_step(mn, c0, af[0][ks], dY, dX, D, ks, h * CH);
                    rbtc_wg_commit();
#pragma unroll
                    for (int ks = 0; ks < NC; ks++)
                        rbtc_wg_step(mn, c1, af[0][ks], dY, dX, D, ks, h * CH + 64);
                    rbtc_wg_commit();
                    rbtc_wg_wait<1>();
                    rbtc_wg_pin(c0);
#pragma unroll
                    for (int p = 0; p < H; p++)
                        epi(h * CG + p, c0[2 * p], c0[2 * p + 1]);
                    rbtc_wg_wait<0>();
                    rbtc_wg_pin(c1);
#pragma unroll
                    for (int p = 0; p < H; p++)
                        epi(h * CG + H + p, c1[2 * p], c1[2 * p + 1]);
                }
            };
            if constexpr (!DEC)
                product(false, xa, [&](int s, const float *A, const float *B) { quant(0, s, A, B); });
            if constexpr (!ENC)
                product(true, ya, [&](int s, const float *A, const float *B) { store(0, 16 * s, A, B); });
        } else {
            /* CH columns at a time: acc += af B over the k-steps, B's fragments of k-step ks and
             * n-tiles 2 p, 2 p + 1 of chunk h by ldb(h, ks, p, b); epi(mt, s, A, B) as above */
            auto product = [&](const uint32_t (&af)[MT][NC][4], auto ldb, auto epi) {
#pragma unroll
                for (int h = 0; h < NCH; h++) {
                    float acc[MT][2 * CG][4];
                    rbtc_zero(acc);
#pragma unroll
                    for (int ks = 0; ks < NC; ks++)
#pragma unroll
                        for (int p = 0; p < CG; p++) {
                            uint32_t b[4];
                            ldb(h, ks, p, b);
#pragma unroll
                            for (int mt = 0; mt < MT; mt++)
                                rbtc_mma_x2(acc[mt][2 * p], acc[mt][2 * p + 1], af[mt][ks], b);
                        }
#pragma unroll
                    for (int mt = 0; mt < MT; mt++)
#pragma unroll
                        for (int p = 0; p < CG; p++)
                            epi(mt, h * CG + p, acc[mt][2 * p], acc[mt][2 * p + 1]);
                }
            };
            /* Y = Xb P^T: B[k][n] = P[n][k] (ldmatrix); Xh = Yh P: B[k][n] = P[k][n] (.trans) */
            if constexpr (!DEC)
                product(
                    xa,
                    [&](int h, int ks, int p, uint32_t b[4]) {
                        rbtc_ldsm4(b, rowY + (uint32_t)((h * CH + 16 * p) * D * 2) + (uint32_t)((((2 * ks + cY) ^ r8)) << 4));
                    },
                    [&](int mt, int s, const float *A, const float *B) { quant(mt, s, A, B); });
            if constexpr (!ENC)
                product(
                    ya,
                    [&](int h, int ks, int p, uint32_t b[4]) {
                        rbtc_ldsm4t(b, rowX + (uint32_t)(16 * ks * D * 2) + (uint32_t)(((2 * (h * CG + p) + cX) ^ r8) << 4));
                    },
                    [&](int mt, int s, const float *A, const float *B) { store(mt, 16 * s, A, B); });
        }
        if constexpr (ENC) { /* the norms, then the tile's rows of codes (contiguous) packed from the bytes */
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
                if (t == 0) {
                    if (v0[mt])
                        rbk_put_norm(a.norms, a.norm_kind, r0[mt], rho0[mt]);
                    if (v1[mt])
                        rbk_put_norm(a.norms, a.norm_kind, r1[mt], rho1[mt]);
                }
            const int rw = a.row_words;
            const long left = N - wt * TR, nwords = (left < 0 ? 0 : left < TR ? left : TR) * rw;
            __syncwarp(); /* every lane's bytes are in */
            for (long e = lane; e < nwords; e += 32) {
                const int r = (int)(e / rw), w = (int)(e - (long)r * rw);
                a.codes[wt * TR * rw + e] = rbk_pack_word(stg + r * D, w, a.bits, D);
            }
            __syncwarp(); /* before the next tile's rows or bytes overwrite them */
            if constexpr (S::STAGE)
                if (tile + nw < ntiles)
                    stage(WT * (tile + nw) + wq);
        }
    }
}

/* ---- streamed kernel (d = 512) ------------------------------------------------------------------ */
#define RBTC_STR_WARPS 16 /* 4 m16 tiles x 4 column quarters */
#define RBTC_STR_ROWS 64
#define RBTC_STR_KC 32    /* rows of P per chunk */

template <int D> struct RbtcStr {
    static constexpr int KC = RBTC_STR_KC, R = RBTC_STR_ROWS, Q = D / 4; /* a warp's quarter */
    static constexpr int YLD = KC + 8;                                     /* Yh row stride (halves) */
    static constexpr size_t RAW = (size_t)KC * D * 4;                      /* fp32 chunk */
    static constexpr size_t P16 = (size_t)KC * D * 2;                      /* fp16 chunk */
    /* partial Y: [q][row][col], rows PLD = KC + 8 floats apart: the float2 accesses of 4 rows x 4
     * lanes per half warp hit 16 different bank pairs (a stride of KC = 32 floats was 8-way) */
    static constexpr int PLD = KC + 8;
    static constexpr size_t PART = (size_t)4 * R * PLD * 4;
    static constexpr size_t YH = (size_t)R * YLD * 2;
    static constexpr size_t SS = (size_t)4 * R * 4;                        /* norm partials */
    static constexpr size_t XS = (size_t)R * D * 2;                        /* x-bar, fp16 */
    static constexpr size_t SMEM = RAW + P16 + PART + YH + SS + XS;
};

/* MODE as the resident kernel's. The encoder's codes go a byte each through Yh's space, the
 * decoder's centroids into Yh straight from the codes; the chunks' order is the block's, so a
 * decoder launched on the roundtrip's grid sums Xh in the roundtrip's order. */
template <typename T, int D, int QM, int MODE = RBK_QDQ>
__global__ void __launch_bounds__(RBTC_STR_WARPS * 32, 1)
rbk_dense_tc_str(RbArgs a, const T *__restrict__ x, T *__restrict__ xh, long N)
{
    using S = RbtcStr<D>;
    constexpr bool ENC = MODE == RBK_ENC, DEC = MODE == RBK_DEC;
    constexpr int KC = S::KC, R = S::R, Q = S::Q, QC = Q / 16, YLD = S::YLD, NCHUNK = D / KC, PLD = S::PLD;
    extern __shared__ float4 smem4[];
    unsigned char *raw = reinterpret_cast<unsigned char *>(smem4);
    unsigned char *P16 = raw + S::RAW;
    float *part = reinterpret_cast<float *>(P16 + S::P16);
    __half *Yh = reinterpret_cast<__half *>(reinterpret_cast<unsigned char *>(part) + S::PART);
    unsigned char *Yb = reinterpret_cast<unsigned char *>(Yh); /* the encoder's code bytes */
    float *s_ss = reinterpret_cast<float *>(reinterpret_cast<unsigned char *>(Yh) + S::YH);
    unsigned char *Xs = reinterpret_cast<unsigned char *>(s_ss) + S::SS;
    __shared__ float s_c[RBK_MAX_CENT], s_b[RBK_MAX_CENT];

    const int tid = threadIdx.x, lane = tid & 31, g = lane >> 2, t = lane & 3, w = tid >> 5;
    const int m = w >> 2, qq = w & 3; /* m16 tile, column quarter */
    const int mi = lane >> 3, r8 = lane & 7;
    const long ntiles = (N + R - 1) / R;
    long tile = blockIdx.x;
    if (tile >= ntiles)
        return; /* the whole block: no barrier is skipped by part of it */

    /* chunk 0 of P in flight before the prologue */
    const uint32_t rawA = rbtc_smem_addr(raw);
    auto issue = [&](int ck) {
        const float4 *src = reinterpret_cast<const float4 *>(a.rot + (size_t)ck * KC * D);
        for (int e = tid; e < KC * D / 4; e += RBTC_STR_WARPS * 32)
            rbtc_cp_async16(rawA + 16u * e, src + e);
        rbtc_cp_commit();
    };
    /* Block b walks the chunks from b mod NCHUNK on (Xh's sum over chunks is order-free): the
     * blocks do not all read the same lines of P from L2 at the same time. */
    const int c0 = (int)(blockIdx.x % NCHUNK);
    issue(c0);
    rbk_load_codebook(a.cents, a.bounds, a.nbounds, s_c, s_b, true);
    rbk_load_cells<QM>(a.cells, a.nbounds);
    RbQuant<QM> q;
    __syncthreads();
    q.init(s_b, s_c, a.nbounds, a.cells);
    const int nb = a.nbounds;

    const uint32_t P16A = rbtc_smem_addr(P16), YhA = rbtc_smem_addr(Yh);
    /* Y partial: B[k][n] = P16[n][k]: matrices (rows +0, chunk +0), (+0, +1), (+8, +0), (+8, +1) */
    const uint32_t rowY = P16A + (uint32_t)((r8 + 8 * (mi >> 1)) * D * 2);
    const int cY = mi & 1;
    /* Xh: B[k][n] = P16[k][n] (trans): (rows +0, chunk +0), (+8, +0), (+0, +1), (+8, +1) */
    const uint32_t rowX = P16A + (uint32_t)((r8 + 8 * (mi & 1)) * D * 2);
    const int cX = mi >> 1;
    /* Yh A fragments (16 x 16 at k-step s): (rows +0, k +0), (+8, +0), (+0, +8), (+8, +8) */
    const uint32_t yhA = YhA + (uint32_t)(((16 * m + r8 + 8 * (mi & 1)) * YLD + 8 * (mi >> 1)) * 2);
    /* x-bar A fragments (the same matrix order) from Xs, swizzled like P16: row and chunk parts */
    const uint32_t xsRow = rbtc_smem_addr(Xs) + (uint32_t)((16 * m + r8 + 8 * (mi & 1)) * D * 2);
    const int cA = mi >> 1;

    for (; tile < ntiles; tile += gridDim.x) {
        const long r0 = tile * R + 16 * m + g, r1 = r0 + 8;
        const bool v0 = r0 < N, v1 = r1 < N;
        float rho0, rho1; /* decode: the stored norms */
        if constexpr (DEC) {
            rho0 = v0 ? rbk_get_norm(a.norms, a.norm_kind, r0) : 0.0f;
            rho1 = v1 ? rbk_get_norm(a.norms, a.norm_kind, r1) : 0.0f;
        } else {
            /* this warp's quarter of its 16 rows: x-bar A fragments for k in [qq Q, qq Q + Q) */
            const T *x0 = x + r0 * D + qq * Q + 4 * t, *x1 = x + r1 * D + qq * Q + 4 * t;
            typename RbtcIO<T>::Raw raw0[QC], raw1[QC];
#pragma unroll
            for (int c = 0; c < QC; c++) {
                raw0[c] = v0 ? RbtcIO<T>::ld(x0 + 16 * c) : RbtcIO<T>::zero();
                raw1[c] = v1 ? RbtcIO<T>::ld(x1 + 16 * c) : RbtcIO<T>::zero();
            }
            float ss0 = 0.f, ss1 = 0.f;
#pragma unroll
            for (int c = 0; c < QC; c++) {
                float f0[4], f1[4];
                RbtcIO<T>::get(raw0[c], f0);
                RbtcIO<T>::get(raw1[c], f1);
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    ss0 = fmaf(f0[k], f0[k], ss0);
                    ss1 = fmaf(f1[k], f1[k], ss1);
                }
            }
            rbtc_quad_sum2(ss0, ss1);
            if (t == 0) {
                s_ss[qq * R + 16 * m + g] = ss0;
                s_ss[qq * R + 16 * m + g + 8] = ss1;
            }
            __syncthreads(); /* (also: the previous tile's last reads of s_ss are done) */
            {
                const int i0 = 16 * m + g, i1 = i0 + 8;
                rho0 = sqrtf(((s_ss[i0] + s_ss[R + i0]) + s_ss[2 * R + i0]) + s_ss[3 * R + i0]);
                rho1 = sqrtf(((s_ss[i1] + s_ss[R + i1]) + s_ss[2 * R + i1]) + s_ss[3 * R + i1]);
            }
            const float inv0 = rb_inv_norm(rho0), inv1 = rb_inv_norm(rho1);
            /* x-bar (fp16, logical column order) into Xs: only this warp reads these rows and
             * columns back, after the __syncwarp below (registers are short at 16 warps) */
#pragma unroll
            for (int c = 0; c < QC; c++) {
                float f0[4], f1[4];
                RbtcIO<T>::get(raw0[c], f0);
                RbtcIO<T>::get(raw1[c], f1);
                const int L = (qq * QC + c) * 16 + 2 * t, i0 = 16 * m + g;
                *reinterpret_cast<uint32_t *>(Xs + rbtc_swz<D>(i0, L)) = rbtc_pack(f0[0] * inv0, f0[1] * inv0);
                *reinterpret_cast<uint32_t *>(Xs + rbtc_swz<D>(i0, L + 8)) = rbtc_pack(f0[2] * inv0, f0[3] * inv0);
                *reinterpret_cast<uint32_t *>(Xs + rbtc_swz<D>(i0 + 8, L)) = rbtc_pack(f1[0] * inv1, f1[1] * inv1);
                *reinterpret_cast<uint32_t *>(Xs + rbtc_swz<D>(i0 + 8, L + 8)) = rbtc_pack(f1[2] * inv1, f1[3] * inv1);
            }
        }
        __syncwarp();
        float xacc[2 * QC][4]; /* Xh[16 m.., quarter qq] */
#pragma unroll
        for (int n = 0; n < 2 * QC; n++)
            xacc[n][0] = xacc[n][1] = xacc[n][2] = xacc[n][3] = 0.f;

        for (int ck = 0; ck < NCHUNK; ck++) {
            rbtc_cp_wait_all();
            __syncthreads(); /* raw chunk ck landed; P16, part, Yh free (last chunk's reads done) */
            for (int e = tid; e < KC * D / 4; e += RBTC_STR_WARPS * 32) {
                const int r = e / (D / 4), q4 = e - r * (D / 4);
                const float4 v = reinterpret_cast<const float4 *>(raw)[e];
                rbtc_put4<D>(P16, r, q4 >> 2, q4 & 3, v);
            }
            __syncthreads(); /* P16 ready, raw free */
            if (ck + 1 < NCHUNK || tile + gridDim.x < ntiles) /* the next tile's first chunk too */
                issue((c0 + ck + 1) % NCHUNK);
            const int cidx = (c0 + ck) % NCHUNK; /* this chunk: Y's columns 32 cidx .. + 31 */
            if constexpr (DEC) { /* Yh from the codes, the rows and columns the quantizer below writes */
                const int col = 8 * qq + 2 * t;
#pragma unroll
                for (int hh = 0; hh < 2; hh++) {
                    const int row = 16 * m + g + 8 * hh;
                    uint32_t h2 = 0u, k0, k1;
                    if (tile * R + row < N) {
                        rbtc_codes2(a.codes + (tile * R + row) * a.row_words, KC * cidx + col, a.bits, k0, k1);
                        h2 = rbtc_pack(s_c[k0], s_c[k1]);
                    }
                    *reinterpret_cast<uint32_t *>(Yh + row * YLD + col) = h2;
                }
            } else {
                /* partial Y[16 m.., chunk's KC columns] over k in the quarter qq */
                float yacc[KC / 8][4];
#pragma unroll
                for (int n = 0; n < KC / 8; n++)
                    yacc[n][0] = yacc[n][1] = yacc[n][2] = yacc[n][3] = 0.f;
#pragma unroll
                for (int c = 0; c < QC; c++) {
                    const int ks = qq * QC + c; /* global k-step */
                    const uint32_t coff = (uint32_t)((((2 * ks + cY) ^ r8)) << 4);
                    uint32_t xa[4];
                    rbtc_ldsm4(xa, xsRow + (uint32_t)((((2 * ks + cA) ^ r8)) << 4));
#pragma unroll
                    for (int p = 0; p < KC / 16; p++) {
                        uint32_t b[4];
                        rbtc_ldsm4(b, rowY + (uint32_t)(16 * p * D * 2) + coff);
                        rbtc_mma_x2(yacc[2 * p], yacc[2 * p + 1], xa, b);
                    }
                }
                {
                    float *pq = part + (size_t)qq * R * PLD;
#pragma unroll
                    for (int n = 0; n < KC / 8; n++) {
                        *reinterpret_cast<float2 *>(pq + (16 * m + g) * PLD + 8 * n + 2 * t) = make_float2(yacc[n][0], yacc[n][1]);
                        *reinterpret_cast<float2 *>(pq + (16 * m + g + 8) * PLD + 8 * n + 2 * t) = make_float2(yacc[n][2], yacc[n][3]);
                    }
                }
                __syncthreads(); /* partials complete */
                /* sum the quarters and quantize: warp (m, qq) takes columns [8 qq, 8 qq + 8) (KC = 32) */
                {
                    static_assert(KC == 32, "one n8 tile per warp");
                    const int col = 8 * qq + 2 * t;
#pragma unroll
                    for (int hh = 0; hh < 2; hh++) {
                        const int row = 16 * m + g + 8 * hh;
                        float2 s = make_float2(0.f, 0.f);
#pragma unroll
                        for (int k = 0; k < 4; k++) {
                            const float2 v = *reinterpret_cast<const float2 *>(part + (size_t)k * R * PLD + row * PLD + col);
                            s.x += v.x;
                            s.y += v.y;
                        }
                        if constexpr (ENC) /* the indices, a byte each (a bad row: zero codes) */
                            *reinterpret_cast<uint16_t *>(Yb + row * YLD * 2 + col) =
                                rb_row_is_finite(hh ? rho1 : rho0)
                                    ? (uint16_t)(q.index(s.x, s_b, nb) | q.index(s.y, s_b, nb) << 8)
                                    : (uint16_t)0;
                        else
                            *reinterpret_cast<uint32_t *>(Yh + row * YLD + col) =
                                rbtc_pack(q(s.x, s_c, s_b, nb), q(s.y, s_c, s_b, nb));
                    }
                }
            }
            __syncthreads(); /* Yh complete */
            if constexpr (ENC) { /* the chunk's 32 codes a row are words b cidx .. b cidx + b - 1 */
                const int bits = a.bits;
                for (int e = tid; e < R * bits; e += RBTC_STR_WARPS * 32) {
                    const int r = e / bits, w = e - r * bits;
                    if (tile * R + r < N)
                        a.codes[(tile * R + r) * a.row_words + bits * cidx + w] = rbk_pack_word(Yb + r * YLD * 2, w, bits, KC);
                }
            }
            /* Xh[16 m.., quarter qq] += Yh[16 m.., KC] P16[KC, quarter qq] */
#pragma unroll
            for (int s = 0; s < (ENC ? 0 : KC / 16); s++) {
                uint32_t ya[4];
                rbtc_ldsm4(ya, yhA + (uint32_t)(16 * s * 2));
                const uint32_t rowk = rowX + (uint32_t)(16 * s * D * 2);
#pragma unroll
                for (int p = 0; p < QC; p++) {
                    uint32_t b[4];
                    const int chunk = 2 * (qq * QC + p) + cX;
                    rbtc_ldsm4t(b, rowk + (uint32_t)((chunk ^ r8) << 4));
                    rbtc_mma_x2(xacc[2 * p], xacc[2 * p + 1], ya, b);
                }
            }
        }
        if constexpr (ENC) {
            if (qq == 0 && t == 0) {
                if (v0)
                    rbk_put_norm(a.norms, a.norm_kind, r0, rho0);
                if (v1)
                    rbk_put_norm(a.norms, a.norm_kind, r1, rho1);
            }
            continue;
        }
        const bool fin0 = rb_row_is_finite(rho0), fin1 = rb_row_is_finite(rho1);
        T *o0 = xh + r0 * D + qq * Q + 4 * t, *o1 = xh + r1 * D + qq * Q + 4 * t;
#pragma unroll
        for (int p = 0; p < QC; p++) {
            const float *A = xacc[2 * p], *B = xacc[2 * p + 1];
            if (v0) {
                if (fin0)
                    RbtcIO<T>::st(o0 + 16 * p, rho0 * A[0], rho0 * A[1], rho0 * B[0], rho0 * B[1]);
                else
                    RbtcIO<T>::st(o0 + 16 * p, rbk_nan(), rbk_nan(), rbk_nan(), rbk_nan());
            }
            if (v1) {
                if (fin1)
                    RbtcIO<T>::st(o1 + 16 * p, rho1 * A[2], rho1 * A[3], rho1 * B[2], rho1 * B[3]);
                else
                    RbtcIO<T>::st(o1 + 16 * p, rbk_nan(), rbk_nan(), rbk_nan(), rbk_nan());
            }
        }
    }
    rbtc_cp_wait_all(); /* nothing left in flight at exit */
}

/* ---- launch ------------------------------------------------------------------------------------ */
template <int D, bool WG = false> constexpr int rbtc_mt() { return D == 128 && !WG ? RBTC_MT128 : 1; }

template <typename T, int D, int QM, bool WG, int MODE>
static cudaError_t rbk_dense_tc_res_cfg(const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    constexpr int MT = rbtc_mt<D, WG>();
    auto kern = rbk_dense_tc_res<T, D, MT, QM, WG, MODE>;
    constexpr size_t smem = RbtcRes<T, D, MT, WG, MODE>::SMEM;
    static const int occ = [&] {
        /* always: the static shared memory (codebook, the 16 KiB cell table) counts against
         * the 48 KiB that needs no opt-in too */
        cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        return rbk_occupancy(kern, RBTC_RES_WARPS * 32, smem);
    }();
    const long tiles = (N + 16 * MT - 1) / (16 * MT);
    kern<<<rbk_grid(occ, (tiles + RBTC_RES_WARPS - 1) / RBTC_RES_WARPS), RBTC_RES_WARPS * 32, smem, st>>>(a, x, xh, N);
    return cudaGetLastError();
}

/* Every mode on the roundtrip's grid (its kernel's occupancy): a row tile goes to the same block,
 * which sums Xh over the chunks in the same order. */
template <typename T, int D, int QM, int MODE>
static cudaError_t rbk_dense_tc_str_cfg(const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    auto kern = rbk_dense_tc_str<T, D, QM, MODE>;
    constexpr size_t smem = RbtcStr<D>::SMEM;
    static const int occ = [&] {
        cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if constexpr (MODE != RBK_QDQ)
            cudaFuncSetAttribute(rbk_dense_tc_str<T, D, QM>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        return rbk_occupancy(rbk_dense_tc_str<T, D, QM>, RBTC_STR_WARPS * 32, smem);
    }();
    kern<<<rbk_grid(occ, (N + RBTC_STR_ROWS - 1) / RBTC_STR_ROWS), RBTC_STR_WARPS * 32, smem, st>>>(a, x, xh, N);
    return cudaGetLastError();
}

/* The host table a launch's route may take: none on the wgmma route (d = 128, 256) for up to 3
 * boundaries, which then take the register route's select tree (fewer instructions than a cell
 * lookup); rbk_with_quant takes the register route whenever it gets no table. */
static inline const float *rbtc_route_cells(int d, int nbounds, const float *cells)
{
    return rbtc_use_wgmma() && d != 512 && nbounds <= 3 ? nullptr : cells;
}

/* Resident thread blocks per SM of the kernel a launch with these parameters runs (0 when the
 * launcher would refuse them): for reports; queried once per kernel, like the launch. */
template <typename T> static int rbk_dense_tc_blocks_per_sm(int d, int nbounds, const float *cells)
{
    if ((d != 128 && d != 256 && d != 512) || nbounds < 1 || nbounds > RBK_MAX_CENT - 1)
        return 0;
    auto by_route = [&](auto qm) -> int { /* rbk_with_quant's choice of route, returning an int */
        constexpr int QM = decltype(qm)::value;
        auto occ = [](auto kern, int threads, size_t smem) {
            cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
            return rbk_occupancy(kern, threads, smem);
        };
        switch (d) {
        case 128:
            if (rbtc_use_wgmma())
                return occ(rbk_dense_tc_res<T, 128, 1, QM, true>, RBTC_RES_WARPS * 32, RbtcRes<T, 128, 1, true>::SMEM);
            return occ(rbk_dense_tc_res<T, 128, rbtc_mt<128>(), QM>, RBTC_RES_WARPS * 32, RbtcRes<T, 128, rbtc_mt<128>()>::SMEM);
        case 256:
            if (rbtc_use_wgmma())
                return occ(rbk_dense_tc_res<T, 256, 1, QM, true>, RBTC_RES_WARPS * 32, RbtcRes<T, 256, 1, true>::SMEM);
            return occ(rbk_dense_tc_res<T, 256, 1, QM>, RBTC_RES_WARPS * 32, RbtcRes<T, 256, 1>::SMEM);
        default: return occ(rbk_dense_tc_str<T, 512, QM>, RBTC_STR_WARPS * 32, RbtcStr<512>::SMEM);
        }
    };
    cells = rbtc_route_cells(d, nbounds, cells);
    if (nbounds <= 1)
        return by_route(std::integral_constant<int, RBQ_REG>());
    if (cells)
        return by_route(std::integral_constant<int, RBQ_CELLS>());
    if (nbounds <= 3)
        return by_route(std::integral_constant<int, RBQ_REG>());
    return by_route(std::integral_constant<int, RBQ_ANY>());
}

/* MODE: RBK_QDQ (x -> xh), RBK_ENC (x -> a.codes + a.norms; xh unused) or RBK_DEC (a.codes +
 * a.norms -> xh; x unused), with the roundtrip's route for the same d and codebook. */
template <typename T, int MODE = RBK_QDQ>
static cudaError_t rbk_dense_tc_launch(const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    const bool kv = MODE != RBK_QDQ;
    if ((a.d != 128 && a.d != 256 && a.d != 512) || N < 0 || a.nbounds < 1 || a.nbounds > RBK_MAX_CENT - 1 ||
        !a.rot || !a.bounds || !a.cents || (N > 0 && ((MODE != RBK_DEC && !x) || (MODE != RBK_ENC && !xh))) ||
        !rbk_aligned16(a.rot) || (a.cells && !rbk_aligned16(a.cells)) || !rbk_aligned16(x) || !rbk_aligned16(xh) ||
        (kv && (a.bits < 1 || a.bits > 8 || a.nbounds != (1 << a.bits) - 1 || !a.codes ||
                a.row_words != (int)(rb_kv_row_bytes(a.d, a.bits) / 4) || (a.norm_kind != RB_KV_NORM_NONE && !a.norms))))
        return cudaErrorInvalidValue;
    if (N == 0)
        return cudaSuccess;
    return rbk_with_quant<true>(a.nbounds, rbtc_route_cells(a.d, a.nbounds, a.cells), 0, [&](auto qm) -> cudaError_t {
        constexpr int QM = decltype(qm)::value;
        switch (a.d) {
        case 128:
            return rbtc_use_wgmma() ? rbk_dense_tc_res_cfg<T, 128, QM, true, MODE>(a, x, xh, N, st)
                                    : rbk_dense_tc_res_cfg<T, 128, QM, false, MODE>(a, x, xh, N, st);
        case 256:
            return rbtc_use_wgmma() ? rbk_dense_tc_res_cfg<T, 256, QM, true, MODE>(a, x, xh, N, st)
                                    : rbk_dense_tc_res_cfg<T, 256, QM, false, MODE>(a, x, xh, N, st);
        default: return rbk_dense_tc_str_cfg<T, 512, QM, MODE>(a, x, xh, N, st);
        }
    });
}

#endif
