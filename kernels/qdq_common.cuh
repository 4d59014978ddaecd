/* qdq_common.cuh: what every fused quantize -> dequantize kernel shares.
 *
 *  - fp32 / fp16 I/O (16-byte vector loads and stores, scalar fallbacks), math always in fp32;
 *  - warp / group / block reductions;
 *  - the scalar quantizer in its two forms: `fast` gives rb_sq_index's centroid (a replicated
 *    cell table, boundaries in registers, or a branch-free binary search: RbQuant), `paper`
 *    takes the nearest centroid by linear search (argmin |y - c_k|, first minimum wins);
 *  - launch helpers (SM count and occupancy, queried once and cached);
 *  - the shared skeletons of the block methods (block sizes 1 to 4: identity and the
 *    quaternion, rotor and Givens methods):
 *      paper:  one thread block per vector, one thread per rotation block, codebook in shared
 *              memory, linear nearest-centroid search (the IsoQuant paper's launch structure);
 *      fast:   a group of G <= 32 lanes per vector, 256 / G vectors per thread block, a grid
 *              sized to the SM count striding over rows; each lane owns a fixed set of columns,
 *              so its rotation parameters and the codebook boundaries live in registers for the
 *              whole kernel. Methods whose block divides a 16-byte vector (1, 2, 4) work in
 *              registers; RotorQuant's 3-blocks are staged through shared memory (vector loads
 *              into shared memory, a lane per 3-block, vector stores back). Shapes without a
 *              compiled specialization take the staged path with run-time d (parameters read
 *              through the read-only cache), never a wrong answer.
 * Every kernel reads x once and writes x-hat once, and applies the same per-block functions as
 * the CPU reference (the headers in kernels/common) in the same order.
 *
 * Over 600 lines on purpose: every fast kernel instantiates these templates, and the I/O,
 * quantizer routes and skeletons depend on one another; it is one unit of code generation. */
#ifndef RB_QDQ_COMMON_CUH
#define RB_QDQ_COMMON_CUH

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <type_traits>

#include "rb_kernels.h"
#include "fp16.h"
#include "kvchunk.h"
#include "kvpack.h"
#include "method.h"
#include "qdq.h"
#include "staged_stride.h"

#define RBK_THREADS 256   /* threads per block of the fast kernels */
/* Resident blocks per SM the block-method and WHT fast kernels are compiled for: 1 lets
 * ptxas take up to 255 registers; 2 or 3 cap them at 128 or 80 (an experiment knob, set for
 * every kernel at once: NVCCFLAGS='-O3 -lineinfo -DRBK_MIN_BLOCKS=3' make BUILD=build/mb3, in
 * the environment, since a make command-line NVCCFLAGS would replace the flags the Makefile
 * adds). The register path picks its own count where this is 1 (rbk_reg_min_blocks). */
#ifndef RBK_MIN_BLOCKS
#define RBK_MIN_BLOCKS 1
#endif
#define RBK_MAX_CENT 256  /* 2^8 centroids */

/* SM count of the current device, queried once per device and cached. Inline (one cache per
 * binary) so that a plugin built on this header needs nothing from rotorbench's own objects:
 * rotorbench exports no symbols to the libraries it loads. */
#define RBK_MAX_DEVICES 64
inline int rbk_num_sms(void)
{
    static int cache[RBK_MAX_DEVICES]; /* 0: not queried yet */
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= RBK_MAX_DEVICES)
        dev = 0;
    if (cache[dev] == 0) {
        int n = 0;
        if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n < 1)
            n = 1;
        cache[dev] = n;
    }
    return cache[dev];
}

/* ---- I/O ---------------------------------------------------------------------------------- */
/* 16- and 8-byte global stores that stay whole: NVVM merged a row's normal store with the
 * NaN-row store of the same address and split the merged 16-byte store into four 4-byte ones
 * (identity fp16 d = 128 on the H200: 150 -> 161 us, from a change elsewhere in the kernel). */
static __device__ __forceinline__ void rbk_st16(void *p, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    asm volatile("st.global.v4.b32 [%0], {%1, %2, %3, %4};" ::"l"(__cvta_generic_to_global(p)), "r"(a), "r"(b), "r"(c), "r"(d));
}
static __device__ __forceinline__ void rbk_st8(void *p, uint32_t a, uint32_t b)
{
    asm volatile("st.global.v2.b32 [%0], {%1, %2};" ::"l"(__cvta_generic_to_global(p)), "r"(a), "r"(b));
}

template <typename T> struct RbIO;

/* load() = unpack(ldraw()): the fast kernels keep the next row's raw 16-byte vectors in
 * registers while they work on the current one (a prefetch), so each thread has a load in
 * flight during its arithmetic. */
template <> struct RbIO<float> {
    static constexpr int VW = 4; /* elements per 16 bytes */
    using Raw = float4;
    static __device__ __forceinline__ Raw ldraw(const float *p) { return __ldg(reinterpret_cast<const float4 *>(p)); }
    static __device__ __forceinline__ void unpack(const Raw &q, float *f)
    {
        f[0] = q.x; f[1] = q.y; f[2] = q.z; f[3] = q.w;
    }
    static __device__ __forceinline__ void load(const float *p, float *f)
    {
        float4 q = __ldg(reinterpret_cast<const float4 *>(p));
        f[0] = q.x; f[1] = q.y; f[2] = q.z; f[3] = q.w;
    }
    static __device__ __forceinline__ void store(float *p, const float *f)
    {
        rbk_st16(p, __float_as_uint(f[0]), __float_as_uint(f[1]), __float_as_uint(f[2]), __float_as_uint(f[3]));
    }
    static __device__ __forceinline__ float ld1(const float *p) { return __ldg(p); }
    static __device__ __forceinline__ void st1(float *p, float f) { *p = f; }
};

template <> struct RbIO<__half> {
    static constexpr int VW = 8;
    using Raw = uint4;
    static __device__ __forceinline__ Raw ldraw(const __half *p) { return __ldg(reinterpret_cast<const uint4 *>(p)); }
    static __device__ __forceinline__ void unpack(const Raw &q, float *f)
    {
        const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            float2 t = __half22float2(*reinterpret_cast<const __half2 *>(&w[k]));
            f[2 * k] = t.x; f[2 * k + 1] = t.y;
        }
    }
    static __device__ __forceinline__ void load(const __half *p, float *f)
    {
        uint4 q = __ldg(reinterpret_cast<const uint4 *>(p));
        const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            __half2 h = *reinterpret_cast<const __half2 *>(&w[k]);
            float2 t = __half22float2(h);
            f[2 * k] = t.x; f[2 * k + 1] = t.y;
        }
    }
    static __device__ __forceinline__ void store(__half *p, const float *f)
    {
        uint32_t w[4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            __half2 h = __floats2half2_rn(f[2 * k], f[2 * k + 1]); /* round to nearest even */
            w[k] = *reinterpret_cast<uint32_t *>(&h);
        }
        rbk_st16(p, w[0], w[1], w[2], w[3]);
    }
    static __device__ __forceinline__ float ld1(const __half *p) { return __half2float(p[0]); }
    static __device__ __forceinline__ void st1(__half *p, float f) { *p = __float2half_rn(f); }
};

/* Four coordinates at a time (16 bytes of fp32, 8 of fp16), for the staged path's copies
 * between global and shared memory: lane l of a row moves quad l, so the 8 lanes of a
 * quarter-warp write 128 contiguous bytes of shared memory. Lanes moving whole 16-byte fp16
 * vectors (8 floats in shared memory, 32 bytes apart) met in half the banks: a 2-way conflict
 * on every copy in and out. Same conversions as RbIO. */
template <typename T> struct RbQuad;
template <> struct RbQuad<float> {
    using Raw = float4;
    static __device__ __forceinline__ Raw ldraw(const float *p) { return __ldg(reinterpret_cast<const float4 *>(p)); }
    static __device__ __forceinline__ float4 unpack(const Raw &q) { return q; }
    static __device__ __forceinline__ void store(float *p, float4 f)
    {
        rbk_st16(p, __float_as_uint(f.x), __float_as_uint(f.y), __float_as_uint(f.z), __float_as_uint(f.w));
    }
};
template <> struct RbQuad<__half> {
    using Raw = uint2;
    static __device__ __forceinline__ Raw ldraw(const __half *p) { return __ldg(reinterpret_cast<const uint2 *>(p)); }
    static __device__ __forceinline__ float4 unpack(const Raw &q)
    {
        const float2 a = __half22float2(*reinterpret_cast<const __half2 *>(&q.x));
        const float2 b = __half22float2(*reinterpret_cast<const __half2 *>(&q.y));
        return make_float4(a.x, a.y, b.x, b.y);
    }
    static __device__ __forceinline__ void store(__half *p, float4 f)
    {
        __half2 a = __floats2half2_rn(f.x, f.y), b = __floats2half2_rn(f.z, f.w); /* round to nearest even */
        rbk_st8(p, *reinterpret_cast<uint32_t *>(&a), *reinterpret_cast<uint32_t *>(&b));
    }
};

static __device__ __forceinline__ float rbk_nan() { return __uint_as_float(0x7fc00000u); }

static inline bool rbk_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

/* A non-finite row of the register layout (lane gl of G, NV 16-byte vectors: l, l + G, ...):
 * NaN everywhere. */
template <typename T, int G, int NV> static __device__ __forceinline__ void rbk_store_nan_row(T *or_, int gl)
{
    constexpr int VW = RbIO<T>::VW;
#pragma unroll
    for (int i = 0; i < NV; i++) {
        float f[VW];
#pragma unroll
        for (int e = 0; e < VW; e++)
            f[e] = rbk_nan();
        RbIO<T>::store(or_ + (i * G + gl) * VW, f);
    }
}

/* ---- reductions --------------------------------------------------------------------------- */
/* Lanes of one group of G (a power of two <= 32) lanes: G consecutive lanes of a warp. */
template <int G> static __device__ __forceinline__ unsigned rbk_group_mask()
{
    if constexpr (G >= 32)
        return 0xffffffffu;
    unsigned lane = threadIdx.x & 31u;
    return ((1u << (G & 31)) - 1u) << (lane & ~(unsigned)(G - 1));
}

template <int G> static __device__ __forceinline__ float rbk_group_sum(float v, unsigned mask)
{
#pragma unroll
    for (int o = G / 2; o > 0; o >>= 1)
        v += __shfl_xor_sync(mask, v, o);
    return v;
}

/* Sum over the thread block; every thread gets the total. s_red holds 33 floats. */
static __device__ __forceinline__ float rbk_block_sum(float v, float *s_red)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = rbk_group_sum<32>(v, 0xffffffffu);
    if (lane == 0)
        s_red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float t = lane < nw ? s_red[lane] : 0.0f;
        t = rbk_group_sum<32>(t, 0xffffffffu);
        if (lane == 0)
            s_red[32] = t;
    }
    __syncthreads();
    return s_red[32];
}

/* ---- scalar quantizer ---------------------------------------------------------------------- */
/* Branch-free binary search for rb_sq_index's count (boundaries ascending, nbounds = 2^b - 1):
 * the predicate y > bounds[k] holds on a prefix, so the search finds the same count in b steps. */
static __device__ __forceinline__ int rbk_sq_index_bsearch(float y, const float *bounds, int nbounds)
{
    int idx = 0;
    for (int step = (nbounds + 1) >> 1; step > 0; step >>= 1)
        idx += (y > bounds[idx + step - 1]) ? step : 0;
    return idx;
}

/* fast: rb_sq_index's answer by the cheapest route for the codebook's size:
 *   RBQ_REG    1 boundary, or <= 3 without a host table: the count against boundaries held in
 *              registers (2 ALU instructions per boundary, then one shared load of the centroid:
 *              at most four addresses, so a warp's load is one broadcast wavefront);
 *   RBQ_CELLS  2..6 bits, with the host-built cell table of scalar_quant.h in p->cells
 *              (loaded into shared memory by rbk_load_cells before the prologue's barrier): two
 *              FMAs for the cell, one 16-byte shared load, a compare and a select, whatever the
 *              bits. The table is held 8 times over, lane l reading copy l % 8: a 16-byte load
 *              is served a quarter-warp (8 lanes, 8 groups of 4 banks) per wavefront, and with
 *              one copy the cells of random values collide in a bank group (H200, identity fp16
 *              3-4 bits: 65 % of the copy bandwidth with one copy, the 2-bit route's
 *              broadcast load 86 %); with 8 copies every quarter-warp is one wavefront;
 *              An encoder (E8) needs only the threshold and the cell's low index, so its table
 *              holds 8-byte entries {threshold, low index}, 16 times over (lane l reading copy
 *              l % 16): a half-warp's 8-byte loads then fill the 32 banks once, two wavefronts
 *              a warp's lookup against the 16-byte table's four (ncu, H100, fp16, N = 2^20, 3
 *              bits: the 16-byte encoders ran with L1/shared 90-96 % busy, DRAM 34-52 %);
 *   RBQ_ANY    no host table: chosen at run time, uniformly for the thread block (registers,
 *              a table built per block, or the branch-free binary search on the shared
 *              boundaries when a cell holds two boundaries, 7-8 bits).
 * The route is a template parameter, picked on the host (rbk_with_quant): a run-time choice
 * made per coordinate put a branch around every coordinate's quantizer, which kept the
 * compiler from interleaving the coordinates (SASS of the RotorQuant and WHT fp16 kernels:
 * 130-170 branches in the row loop). init() needs s_b and s_c loaded and a barrier passed;
 * every thread of the block calls it. */
enum { RBQ_ANY = 0, RBQ_REG = 1, RBQ_CELLS = 2 };
/* A fast kernel's QM also carries RBQ_UNIT (assume_unit_norm: no norm, nothing rescaled, the
 * work of kernels that take their input as unit-norm); RbQuant takes QM & RBQ_ROUTE. */
enum { RBQ_ROUTE = 3, RBQ_UNIT = 4 };

#define RBK_CELL_COPIES 8   /* lanes of a quarter-warp (16-byte entries) */
#define RBK_CELL_COPIES8 16 /* lanes of a half-warp (an encoder's 8-byte entries) */

/* The block's cell table in shared memory (one instance per thread block): entry t of copy r
 * at [t * RBK_CELL_COPIES + r], 16 KiB; an encoder's 8-byte entries at [t * RBK_CELL_COPIES8 + r]
 * in the same bytes (both layouts put entry t at t * 128 bytes, which the address fold of
 * RbQuant::addr relies on). */
static __device__ __forceinline__ float4 *rbk_cell_tab()
{
    __shared__ float4 s_tab[RB_SQ_CELLS * RBK_CELL_COPIES];
    return s_tab;
}
static_assert(RBK_CELL_COPIES * 16 == RBK_CELL_COPIES8 * 8, "one entry stride for both layouts");

/* Entry t of the host's float4 table {threshold, c_lo, c_hi, low index} as an encoder's 8 bytes. */
static __device__ __forceinline__ uint2 rbk_cell8(float4 e) { return make_uint2(__float_as_uint(e.x), (uint32_t)e.w); }

/* Copies of the table, and slot i (entry i / copies, copy i % copies) set to the host's entry e,
 * in the 16-byte layout or an encoder's 8-byte one (E8). */
template <bool E8> __host__ __device__ constexpr int rbk_cell_copies() { return E8 ? RBK_CELL_COPIES8 : RBK_CELL_COPIES; }
template <bool E8> static __device__ __forceinline__ void rbk_cell_put(float4 *tab, int i, float4 e)
{
    if constexpr (E8)
        reinterpret_cast<uint2 *>(tab)[i] = rbk_cell8(e);
    else
        tab[i] = e;
}

/* Before the prologue's barrier, with the codebook: the host-built table into shared memory
 * (a table built per block cost ~1 us of latency at N = 8192). No-op without one, and on the
 * register route, which never reads it. */
template <int QM, bool E8 = false> static __device__ __forceinline__ void rbk_load_cells(const float *gcells, int nbounds)
{
    if constexpr ((QM & RBQ_ROUTE) == RBQ_REG)
        return;
    if (!gcells || nbounds <= 1)
        return;
    /* Four loads in flight before their stores: a load-store pair per iteration made the
     * prologue wait for four L2 round trips in a row (+0.3-0.9 us at N = 512, H200). */
    constexpr int CP = rbk_cell_copies<E8>(), NE = RB_SQ_CELLS * CP, U = 4;
    float4 *t = rbk_cell_tab();
    const float4 *g = reinterpret_cast<const float4 *>(gcells);
    for (int i0 = threadIdx.x; i0 < NE; i0 += U * blockDim.x) {
        float4 v[U];
#pragma unroll
        for (int k = 0; k < U; k++) {
            const int i = i0 + k * blockDim.x;
            if (i < NE)
                v[k] = __ldg(g + i / CP);
        }
#pragma unroll
        for (int k = 0; k < U; k++) {
            const int i = i0 + k * blockDim.x;
            if (i < NE)
                rbk_cell_put<E8>(t, i, v[k]);
        }
    }
}

/* E8: the encoders' quantizer (index() only): the cell table holds 8-byte entries (above). */
template <int QM, bool E8 = false> struct RbQuant {
    uint32_t tab; /* shared address of this lane's copy of the cell table, less bits(2^23) x
                   * the entry stride (see cells()) */
    rb_sq_cellmap m;
    float b[3];
    int mode; /* RBQ_ANY only: 3 register count, 1 cells, 0 binary search */
    __device__ __forceinline__ void init(const float *s_b, const float *s_c, int nbounds, const float *gcells)
    {
        float4 *s_tab = rbk_cell_tab();
#pragma unroll
        for (int k = 0; k < 3; k++)
            b[k] = k < nbounds ? s_b[k] : INFINITY; /* y > inf never counts */
        tab = (uint32_t)__cvta_generic_to_shared(s_tab) +
              (threadIdx.x % rbk_cell_copies<E8>()) * (E8 ? 8u : 16u) -
              0x4b000000u * (RBK_CELL_COPIES * 16u);
        m = rb_sq_cell_map(s_b, nbounds);
        if constexpr (QM != RBQ_ANY)
            return;
        if (nbounds <= 3) { /* uniform: nbounds and gcells are kernel arguments */
            mode = 3;
            return;
        }
        if (gcells) { /* the host's table, loaded by rbk_load_cells before the barrier */
            mode = 1;
            return;
        }
        int ok = 1;
        for (int t = threadIdx.x; t < RB_SQ_CELLS; t += blockDim.x) {
            float e[3];
            ok &= rb_sq_cell_entry(s_b, s_c, nbounds, t, e) == 0;
            /* rb_sq_cell_table's entry */
            const float4 f = make_float4(e[0], e[1], e[2], (float)rb_sq_cell_base(s_b, nbounds, t));
#pragma unroll
            for (int r = 0; r < rbk_cell_copies<E8>(); r++)
                rbk_cell_put<E8>(s_tab, t * rbk_cell_copies<E8>() + r, f);
        }
        mode = __syncthreads_and(ok);
    }
    __device__ __forceinline__ float reg(float y, const float *s_c) const
    {
        return s_c[(y > b[0]) + (y > b[1]) + (y > b[2])];
    }
    /* The shared address of y's cell entry in this lane's copy: rb_sq_cell's map with the
     * table's address folded in: FFMA.SAT, FFMA, one IMAD (the float's bits times the entry
     * stride plus tab, modulo 2^32). */
    __device__ __forceinline__ uint32_t addr(float y) const
    {
        const float f = fmaf(__saturatef(fmaf(y, m.a, m.b)), (float)(RB_SQ_CELLS - 1), RB_SQ_CELL_MAGIC);
        return __float_as_uint(f) * (RBK_CELL_COPIES * 16u) + tab;
    }
    /* y's 16-byte entry: one LDS.128 */
    __device__ __forceinline__ float4 entry(float y) const
    {
        static_assert(!E8, "an encoder's table holds 8-byte entries");
        const uint32_t addr = this->addr(y);
        float4 e;
        /* volatile + memory: NVVM must not move it above the barrier that publishes the table
         * (ptxas still schedules the LDS freely among the arithmetic) */
        asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];"
                     : "=f"(e.x), "=f"(e.y), "=f"(e.z), "=f"(e.w)
                     : "r"(addr)
                     : "memory");
        return e;
    }
    /* rb_sq_cell_index(y, entry): from the 16-byte entry, or an encoder's 8-byte one (one LDS.64) */
    __device__ __forceinline__ int cell_index(float y) const
    {
        if constexpr (E8) {
            uint32_t th, lo;
            asm volatile("ld.shared.v2.u32 {%0, %1}, [%2];" : "=r"(th), "=r"(lo) : "r"(addr(y)) : "memory");
            return (int)lo + (y > __uint_as_float(th));
        } else {
            const float4 e = entry(y);
            return (int)e.w + (y > e.x);
        }
    }
    /* The encoders' form: rb_sq_index(y) itself, by the same route as operator() (the cell
     * entry's 4th float is its low index: rb_sq_cell_index). */
    __device__ __forceinline__ int index(float y, const float *s_b, int nbounds) const
    {
        if constexpr (QM == RBQ_REG)
            return (y > b[0]) + (y > b[1]) + (y > b[2]);
        else if constexpr (QM == RBQ_CELLS)
            return cell_index(y);
        if (mode == 3)
            return (y > b[0]) + (y > b[1]) + (y > b[2]);
        if (mode == 1)
            return cell_index(y);
        return rbk_sq_index_bsearch(y, s_b, nbounds);
    }
    /* the centroid of y's cell */
    __device__ __forceinline__ float cells(float y) const
    {
        const float4 e = entry(y);
        return y > e.x ? e.z : e.y;
    }
    __device__ __forceinline__ float operator()(float y, const float *s_c, const float *s_b, int nbounds) const
    {
        if constexpr (QM == RBQ_REG)
            return reg(y, s_c);
        else if constexpr (QM == RBQ_CELLS)
            return cells(y);
        if (mode == 3)
            return reg(y, s_c);
        if (mode == 1)
            return cells(y);
        return s_c[rbk_sq_index_bsearch(y, s_b, nbounds)];
    }
};

/* The quantizer route of a launch, from what the host knows (nbounds, a host table or not):
 * calls launch(std::integral_constant<int, QM>()). A trait's CELLS_ROUTE = false keeps the
 * run-time choice where the host has a table (on the H100 the compiled-in route's hoisted table
 * loads cost the cheap transforms registers; with the replicated table on the H200 every
 * built-in takes the compiled-in route, 2 bits included: fewer ALU instructions than three
 * compares and an index, H200 IsoQuant-Fast fp16 2 bits 79-81 % of the copy on the register
 * route). */
template <int U, bool CELLS, class F> static cudaError_t rbk_with_route(int nbounds, const float *cells, F &&launch)
{
    if (nbounds <= 1)
        return launch(std::integral_constant<int, RBQ_REG | U>());
    if constexpr (CELLS)
        if (cells)
            return launch(std::integral_constant<int, RBQ_CELLS | U>());
    if (nbounds <= 3)
        return launch(std::integral_constant<int, RBQ_REG | U>());
    return launch(std::integral_constant<int, RBQ_ANY | U>());
}

/* The host table a launch's route may take: none for a codebook of up to 3 boundaries (2 bits)
 * in a launch of fewer than 2^20 coordinates. There the 16 KiB table each block loads in its
 * prologue lies on the critical path, and three compares in registers cost less than the
 * load (H200, configs/smoke.json at N = 512: the cell route +0.2-0.4 us over the register
 * route's 2.5-3.8 us). */
static inline const float *rbk_route_cells(const float *cells, int nbounds, long N, int d)
{
    return nbounds <= 3 && (double)N * d < (double)(1 << 20) ? nullptr : cells;
}

template <bool CELLS = true, class F>
static cudaError_t rbk_with_quant(int nbounds, const float *cells, int unit, F &&launch)
{
    if (unit)
        return rbk_with_route<RBQ_UNIT, CELLS>(nbounds, cells, launch);
    return rbk_with_route<0, CELLS>(nbounds, cells, launch);
}

/* A block method's CELLS for rbk_with_quant: M::CELLS_ROUTE where it says, else true. */
template <class M, class = void> struct RbkCellsRoute : std::true_type {};
template <class M>
struct RbkCellsRoute<M, std::void_t<decltype(M::CELLS_ROUTE)>> : std::bool_constant<M::CELLS_ROUTE> {};

/* paper: nearest centroid by linear search, first minimum wins. */
static __device__ __forceinline__ float rbk_nearest_centroid(float y, const float *s_c, int ncent)
{
    int best = 0;
    float bd = fabsf(y - s_c[0]);
    for (int k = 1; k < ncent; k++) {
        float dk = fabsf(y - s_c[k]);
        if (dk < bd) {
            bd = dk;
            best = k;
        }
    }
    return s_c[best];
}

/* Codebook into shared memory (centroids always; boundaries when with_bounds). No barrier. */
static __device__ __forceinline__ void rbk_load_codebook(const float *cents, const float *bounds, int nbounds,
                                                         float *s_c, float *s_b, bool with_bounds)
{
    for (int k = threadIdx.x; k <= nbounds; k += blockDim.x) {
        s_c[k] = __ldg(cents + k);
        if (with_bounds && k < nbounds)
            s_b[k] = __ldg(bounds + k);
    }
}


/* ---- launch helpers ------------------------------------------------------------------------ */
/* Grid for a grid-stride kernel: enough resident blocks to fill every SM (occupancy queried
 * once per kernel instantiation, cached in the caller's static), no more than the work needs. */
template <typename K>
static inline int rbk_occupancy(K kernel, int threads, size_t smem)
{
    int occ = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, kernel, threads, smem) != cudaSuccess || occ < 1)
        occ = 1;
    return occ;
}

static inline unsigned rbk_grid(int occ, long work_blocks)
{
    long g = (long)occ * rbk_num_sms();
    if (g > work_blocks)
        g = work_blocks;
    if (g < 1)
        g = 1;
    return (unsigned)g;
}

/* The fast kernels' two shapes for a row of V 16-byte vectors (block methods and WHT alike).
 * Large batches: 16 coordinates per lane, at most a warp per row (rbk_lanes_large): the per-row
 * work is shared by more coordinates and each lane has 32 or 64 bytes of the next row in
 * flight. Small batches, where one vector per lane still fits the grid in one wave of resident
 * blocks (rbk_fits_one_wave): one vector per lane. There the grid is a fraction of a wave and
 * the time is each lane's serial chain (ncu, identity fp16 d = 128 with 16 coordinates per
 * lane: 16 warps per SM, 484 instructions per warp at 11.6 cycles each, 5.9k active cycles);
 * more lanes per row halve it. */
template <typename T, int V> constexpr int rbk_lanes_large()
{
    constexpr int NVL = 16 / RbIO<T>::VW;
    static_assert(V >= NVL && V % NVL == 0, "a row of at least 16 coordinates");
    return V / NVL <= 32 ? V / NVL : 32;
}

static inline bool rbk_fits_one_wave(int occ, long work_blocks) { return work_blocks <= (long)occ * rbk_num_sms(); }

template <int I> using rbk_int = std::integral_constant<int, I>;

/* A row of v 16-byte vectors as a compile-time V: f(rbk_int<V>()) for the widths the fast
 * kernels are compiled for (8 ... 128), fallback() otherwise. */
template <class F, class Fallback> static cudaError_t rbk_with_row_vectors(int v, F &&f, Fallback &&fallback)
{
    switch (v) {
    case 8: return f(rbk_int<8>());
    case 16: return f(rbk_int<16>());
    case 32: return f(rbk_int<32>());
    case 64: return f(rbk_int<64>());
    case 128: return f(rbk_int<128>());
    default: return fallback();
    }
}

/* The small- or the large-batch shape for a row of V vectors, G lanes and NV vectors per lane:
 * launch(rbk_int<G>(), rbk_int<NV>()); occ(rbk_int<G>(), rbk_int<NV>()) is the occupancy of
 * that shape's kernel (block methods and WHT alike). force (rb_qdq_params.fast_shape, an
 * experiment knob recorded in every result's knobs): 0 the choice by N, 1 small, 2 large. */
template <typename T, int V, class Occ, class Launch>
static cudaError_t rbk_pick_shape(long N, int force, Occ &&occ, Launch &&launch)
{
    if constexpr (V <= 32) {
        constexpr int GPB = RBK_THREADS / V;
        if (force == 1 || (force == 0 && rbk_fits_one_wave(occ(rbk_int<V>(), rbk_int<1>()), (N + GPB - 1) / GPB)))
            return launch(rbk_int<V>(), rbk_int<1>());
    }
    constexpr int G = rbk_lanes_large<T, V>();
    return launch(rbk_int<G>(), rbk_int<V / G>());
}

static inline int rbk_round32(int n) { return (n + 31) & ~31; }

/* ---- block methods: traits ---------------------------------------------------------------- */
/* A method trait M has K (block size), P (parameters per block) and
 *   static __device__ void fwd(const float *prm, float *v), inv(...)
 * calling the block functions of kernels/common. prm points at block b's parameters
 * (rot + P * b), the layout rb_block_fwd uses. */

struct RbArgs {
    const float *rot, *bounds, *cents, *cells;
    int d, nbounds;
    int unit; /* rb_qdq_params.unit_norm */
    /* the KV-cache paths (kvpack.h): codes (row_words 32-bit words a row), norms of norm_kind */
    uint32_t *codes;
    void *norms;
    int norm_kind, bits, row_words;
    int shape; /* rb_qdq_params.fast_shape */
};

/* A launch's arguments; dpad: the method's padded width (the packed row's codes). */
static inline RbArgs rbk_args(const rb_qdq_params *p, int dpad)
{
    return {p->rot, p->bounds, p->centroids, p->cells, p->d, p->nbounds, p->unit_norm,
            static_cast<uint32_t *>(p->kv_codes), p->kv_norms, p->kv_norm, p->bits,
            (int)(rb_kv_row_bytes(dpad, p->bits) / 4), p->fast_shape};
}

/* What a fast block kernel runs: the fused roundtrip x -> xh, the encoder x -> codes + norms,
 * or the decoder codes + norms -> xh. The three share the lanes, the columns and every
 * operation up to (encode) or from (decode) the quantizer, so decode(encode(x)) is the
 * roundtrip bit for bit when the norm is stored in fp32. */
enum { RBK_QDQ = 0, RBK_ENC = 1, RBK_DEC = 2 };

/* Encode or decode (variant RB_VARIANT_ENCODE / _DECODE) by the shared skeletons:
 * launch(rbk_int<RBK_ENC or RBK_DEC>()), or cudaErrorInvalidValue where p cannot describe a
 * packed cache: bits outside 1..8, no buffers, or a norm kind other than none with
 * assume_unit_norm (and none without it). */
template <class F> static cudaError_t rbk_kv_launch(const rb_qdq_params *p, int variant, F &&launch)
{
    if (p->bits < 1 || p->bits > 8 || !p->kv_codes || ((p->kv_norm == RB_KV_NORM_NONE) != (p->unit_norm != 0)) ||
        (p->kv_norm != RB_KV_NORM_NONE && !p->kv_norms))
        return cudaErrorInvalidValue;
    if (variant == RB_VARIANT_ENCODE)
        return launch(rbk_int<RBK_ENC>());
    return launch(rbk_int<RBK_DEC>());
}

/* A row's norm into / out of the packed format: fp16 as rb_f32_to_f16 rounds it (a NaN as
 * 0x7e00, like the CPU), fp32 as it is, nothing under assume_unit_norm (rho = 1). */
static __device__ __forceinline__ void rbk_put_norm(void *norms, int kind, long row, float rho)
{
    rho = rb_row_is_finite(rho) ? rho : rbk_nan(); /* a non-finite row: NaN, as kvpack.h says (not Inf) */
    if (kind == RB_KV_NORM_FP16)
        static_cast<uint16_t *>(norms)[row] = rb_f32_to_f16(rho);
    else if (kind == RB_KV_NORM_FP32)
        static_cast<float *>(norms)[row] = rho;
}

static __device__ __forceinline__ float rbk_get_norm(const void *norms, int kind, long row)
{
    if (kind == RB_KV_NORM_FP16)
        return __half2float(__ushort_as_half(__ldg(static_cast<const unsigned short *>(norms) + row)));
    if (kind == RB_KV_NORM_FP32)
        return __ldg(static_cast<const float *>(norms) + row);
    return 1.0f;
}

/* Word w of a row's packed codes gathered from c (one code a coordinate, dpad of them): the
 * codes whose bits fall in [32 w, 32 w + 32). A word is one lane's work: no atomics
 * (TurboQuant-dense's encoders, whose codes sit in shared memory as floats or bytes). */
template <typename C> static __device__ __forceinline__ uint32_t rbk_pack_word(const C *c, int w, int bits, int dpad)
{
    uint32_t word = 0;
    const long s0 = 32L * w;
    int j = (int)(s0 / bits);
    const int j1 = (int)((s0 + 31) / bits);
    for (; j <= j1 && j < dpad; j++) {
        const long sh = (long)j * bits - s0;
        const uint32_t code = (uint32_t)c[j];
        word |= sh >= 0 ? code << sh : code >> -sh;
    }
    return word;
}


/* A trait may give its fast kernels a cheaper form of its block rotation: PR floats of
 * register parameters built once per lane by prep() from the P stored ones, applied by ffwd()
 * and finv(). RotorQuant and IsoQuant-Full use the block's K x K matrix (K^2 FMA each way
 * instead of 24 and 32 multiplies per block): the same rotation up to fp32 rounding, so a
 * rotated coordinate moves by ~1e-7 and can only flip the quantizer where the reference's
 * coordinate sits that close to a boundary, which the agreement rule (harness/agree.h)
 * accepts as a flip. Traits without PR keep fwd() and inv() on the stored parameters. */
template <class M, class = void> struct RbkPrep {
    static constexpr int PR = M::P;
    static __device__ __forceinline__ void prep(const float *raw, float *r)
    {
#pragma unroll
        for (int t = 0; t < M::P; t++)
            r[t] = raw[t];
    }
    static __device__ __forceinline__ void fwd(const float *r, float *v) { M::fwd(r, v); }
    static __device__ __forceinline__ void inv(const float *r, float *v) { M::inv(r, v); }
};
template <class M> struct RbkPrep<M, std::void_t<decltype(M::PR)>> {
    static constexpr int PR = M::PR;
    static __device__ __forceinline__ void prep(const float *raw, float *r) { M::prep(raw, r); }
    static __device__ __forceinline__ void fwd(const float *r, float *v) { M::ffwd(r, v); }
    static __device__ __forceinline__ void inv(const float *r, float *v) { M::finv(r, v); }
};

/* The K x K matrix m (row-major) of the rotation fwd(raw, .): column k is fwd of e_k. */
template <int K, class F> static __device__ __forceinline__ void rbk_block_matrix(const float *raw, float *m, F fwd)
{
#pragma unroll
    for (int k = 0; k < K; k++) {
        float e[K];
#pragma unroll
        for (int i = 0; i < K; i++)
            e[i] = i == k ? 1.0f : 0.0f;
        fwd(raw, e);
#pragma unroll
        for (int i = 0; i < K; i++)
            m[i * K + k] = e[i];
    }
}

/* v <- m v, or with TR v <- m^T v (the inverse of an orthogonal m). */
template <int K, bool TR = false> static __device__ __forceinline__ void rbk_mat_apply(const float *m, float *v)
{
    float o[K];
#pragma unroll
    for (int i = 0; i < K; i++) {
        o[i] = m[TR ? i : i * K] * v[0];
#pragma unroll
        for (int j = 1; j < K; j++)
            o[i] = fmaf(m[TR ? j * K + i : i * K + j], v[j], o[i]);
    }
#pragma unroll
    for (int i = 0; i < K; i++)
        v[i] = o[i];
}

/* ---- the register layout's packed codes (block methods and WHT alike) ----------------------- */
/* Lane gl of G holds vectors i G + gl (i < NV) of VW coordinates: vector v's VW codes are one
 * chunk of CB = VW b bits at stream bit v CB (kvchunk.h). b is a compile-time B inside, picked
 * once per row by a uniform switch (rbk_with_bits), so the chunk's shifts are constants. */
template <class F> static __device__ __forceinline__ void rbk_with_bits(int bits, F &&f)
{
    switch (bits) {
    case 1: f(rbk_int<1>()); break;
    case 2: f(rbk_int<2>()); break;
    case 3: f(rbk_int<3>()); break;
    case 4: f(rbk_int<4>()); break;
    case 5: f(rbk_int<5>()); break;
    case 6: f(rbk_int<6>()); break;
    case 7: f(rbk_int<7>()); break;
    default: f(rbk_int<8>()); break; /* the launchers accept 1..8 only */
    }
}

constexpr int rbk_gcd(int a, int b) { return b == 0 ? a : rbk_gcd(b, a % b); }

/* A chunk's geometry: CB bits; its offset o in its first word is a multiple of GB = gcd(CB, 32),
 * so it spills into a second word only where CB is no divisor of 32 (TWO) and into a third only
 * where 32 - GB + CB > 64 (THREE); WHOLE: CB a multiple of 32, the chunk is whole words at a word
 * boundary. RW: the row's words (D b / 32; D >= 64, so no padding). */
template <int B, int G, int NV, int VW> struct RbkChunk {
    static constexpr int CB = VW * B, GB = rbk_gcd(CB, 32), RW = G * NV * VW * B / 32;
    static constexpr bool WHOLE = CB % 32 == 0, TWO = CB > GB, THREE = 32 - GB + CB > 64;
    static_assert(CB <= 64 && (G * NV * VW * B) % 32 == 0, "a chunk of <= 64 bits, rows of whole words");
};

/* Decode: vector i's codes from the chunk's words (<= 3 loads, the unneeded ones predicated
 * off), then their centroids. */
template <int B, int G, int NV, int VW>
static __device__ __forceinline__ void rbk_codes_load_b(const RbArgs &a, long row, int gl, const float *s_c,
                                                        float (&v)[NV][VW])
{
    using C = RbkChunk<B, G, NV, VW>;
    const uint32_t *cw = a.codes + row * C::RW;
#pragma unroll
    for (int i = 0; i < NV; i++) {
        const int s = (i * G + gl) * C::CB, w0 = s >> 5, o = s & 31;
        uint64_t ch;
        if constexpr (C::CB == 64) {
            const uint2 t = __ldg(reinterpret_cast<const uint2 *>(cw + w0));
            ch = t.x | (uint64_t)t.y << 32;
        } else if constexpr (!C::TWO) { /* inside one word */
            ch = __ldg(cw + w0) >> o;
        } else {
            const uint32_t w[3] = {__ldg(cw + w0), o + C::CB > 32 ? __ldg(cw + w0 + 1) : 0u,
                                   C::THREE && o + C::CB > 64 ? __ldg(cw + w0 + 2) : 0u};
            ch = C::CB <= 32 ? rb_shr_lo(w[0], w[1], o) : rb_kv_chunk_get(w, o);
        }
#pragma unroll
        for (int e = 0; e < VW; e++)
            v[i][e] = s_c[rb_kv_chunk_code(ch, e, B)];
    }
}

template <int G, int NV, int VW>
static __device__ __forceinline__ void rbk_codes_load(const RbArgs &a, long row, int gl, const float *s_c,
                                                      float (&v)[NV][VW])
{
    rbk_with_bits(a.bits, [&](auto b) { rbk_codes_load_b<decltype(b)::value, G, NV, VW>(a, row, gl, s_c, v); });
}

/* Encode's shared memory: each group's row of words, zero between rows (one word for kernels
 * that do not encode). */
template <int MODE, int NV, int VW> struct RbkCodeRows {
    static constexpr int WORDS = MODE == RBK_ENC ? RBK_THREADS * NV * VW * 8 / 32 : 1; /* b <= 8 */
};

/* Before the prologue's barrier: the encoder's rows of words to zero. */
template <int MODE, int NV, int VW> static __device__ __forceinline__ void rbk_code_rows_zero(uint32_t *s_kvw)
{
    if constexpr (MODE == RBK_ENC)
        for (int k = threadIdx.x; k < RbkCodeRows<MODE, NV, VW>::WORDS; k += blockDim.x)
            s_kvw[k] = 0u;
}

/* Encode: v[i][e] holds coordinate (i G + gl) VW + e's code as an int's bits. A chunk of whole
 * words goes straight to global memory (8-byte stores where it is two words: kv_codes is 16-byte
 * aligned, rb_launch_qdq checks); otherwise the chunks are ORed into the group's row of words in
 * shared memory (lanes share words: atomics, <= 3 a chunk), which the lanes then store
 * coalesced and zero for the next row. */
template <int B, int G, int NV, int VW>
static __device__ __forceinline__ void rbk_codes_store_b(const RbArgs &a, long row, int gl, int grp, unsigned mask,
                                                         const float (&v)[NV][VW], uint32_t *s_kvw)
{
    using C = RbkChunk<B, G, NV, VW>;
    uint32_t *gw = a.codes + row * C::RW;
    uint32_t *w = s_kvw + grp * C::RW; /* groups C::RW words apart: the store's reads hit every bank once */
#pragma unroll
    for (int i = 0; i < NV; i++) {
        uint32_t c[VW];
#pragma unroll
        for (int e = 0; e < VW; e++)
            c[e] = __float_as_uint(v[i][e]);
        const uint64_t ch = rb_kv_chunk_make(c, VW, B);
        const int k = i * G + gl;
        if constexpr (C::CB == 64) {
            rbk_st8(gw + 2 * k, (uint32_t)ch, (uint32_t)(ch >> 32));
        } else if constexpr (C::CB == 32) {
            gw[k] = (uint32_t)ch;
        } else {
            const int s = k * C::CB, w0 = s >> 5, o = s & 31;
            uint32_t p[3];
            rb_kv_chunk_place(ch, o, p);
            atomicOr(w + w0, p[0]);
            if (C::TWO && o + C::CB > 32)
                atomicOr(w + w0 + 1, p[1]);
            if (C::THREE && o + C::CB > 64)
                atomicOr(w + w0 + 2, p[2]);
        }
    }
    if constexpr (!C::WHOLE) {
        __syncwarp(mask);
#pragma unroll
        for (int k = 0; k < (C::RW + G - 1) / G; k++) {
            const int q = gl + k * G;
            if (C::RW % G == 0 || q < C::RW) {
                gw[q] = w[q];
                w[q] = 0u;
            }
        }
        __syncwarp(mask); /* the row is zero before the next row's ORs */
    }
}

template <int G, int NV, int VW>
static __device__ __forceinline__ void rbk_codes_store(const RbArgs &a, long row, int gl, int grp, unsigned mask,
                                                       const float (&v)[NV][VW], uint32_t *s_kvw)
{
    rbk_with_bits(a.bits, [&](auto b) { rbk_codes_store_b<decltype(b)::value, G, NV, VW>(a, row, gl, grp, mask, v, s_kvw); });
}

/* A non-finite row's packed form: a NaN norm and zero codes (kvpack.h). */
template <int G>
static __device__ __forceinline__ void rbk_codes_bad_row(const RbArgs &a, long row, int gl, float rho)
{
    if (gl == 0)
        rbk_put_norm(a.norms, a.norm_kind, row, rho);
    for (int w = gl; w < a.row_words; w += G)
        a.codes[row * a.row_words + w] = 0u;
}

/* ---- the register layout's rows in and out (block methods and WHT alike) -------------------- */
/* Lane gl's NV raw 16-byte vectors of row `row` (rows of G NV VW coordinates) into nx, if the
 * row exists: the fast kernels keep the next row in flight while they work on the current one. */
template <typename T, int G, int NV>
static __device__ __forceinline__ void rbk_reg_fetch(const T *x, long row, long N, int gl, typename RbIO<T>::Raw (&nx)[NV])
{
    constexpr int VW = RbIO<T>::VW, D = G * NV * VW;
    if (row < N)
#pragma unroll
        for (int i = 0; i < NV; i++)
            nx[i] = RbIO<T>::ldraw(x + row * D + (i * G + gl) * VW);
}

/* The register-layout kernels' prologue before their barrier: the first row's load goes out
 * (into nx) ahead of the codebook's and the cell table's loads; encode's rows of words are
 * zeroed. Returns the group's first row. */
template <typename T, int G, int NV, int QM, int MODE>
static __device__ __forceinline__ long rbk_reg_begin(const RbArgs &a, const T *x, long N, int gl, int grp,
                                                     typename RbIO<T>::Raw (&nx)[NV], float *s_c, float *s_b,
                                                     uint32_t *s_kvw)
{
    const long row = (long)blockIdx.x * (RBK_THREADS / G) + grp;
    if constexpr (MODE != RBK_DEC)
        rbk_reg_fetch<T, G, NV>(x, row, N, gl, nx);
    rbk_load_codebook(a.cents, a.bounds, a.nbounds, s_c, s_b, true);
    if constexpr (MODE != RBK_DEC) /* decode never quantizes */
        rbk_load_cells<QM, MODE == RBK_ENC>(a.cells, a.nbounds);
    rbk_code_rows_zero<MODE, NV, RbIO<T>::VW>(s_kvw);
    return row;
}

/* A row into lane gl's registers v, and its norm rho (1 under UN). Decode: the stored norm and
 * the codes' centroids. Otherwise: the prefetched vectors (the next row's load goes out, row +
 * rstride), their norm over the group; encode stores the norm. A non-finite row is finished
 * here (NaN out, or the packed form's NaN norm and zero codes) and false returned: the norm is
 * the group's, so its lanes leave together. */
template <typename T, int G, int NV, int MODE, bool UN>
static __device__ __forceinline__ bool rbk_reg_row_in(const RbArgs &a, const T *x, T *or_, long row, long rstride, long N,
                                                      int gl, unsigned mask, const float *s_c,
                                                      typename RbIO<T>::Raw (&nx)[NV], float (&v)[NV][RbIO<T>::VW],
                                                      float &rho)
{
    constexpr int VW = RbIO<T>::VW;
    if constexpr (MODE == RBK_DEC) {
        rho = UN ? 1.0f : rbk_get_norm(a.norms, a.norm_kind, row);
        if (!UN && !rb_row_is_finite(rho)) {
            rbk_store_nan_row<T, G, NV>(or_, gl);
            return false;
        }
        rbk_codes_load<G, NV, VW>(a, row, gl, s_c, v);
    } else {
#pragma unroll
        for (int i = 0; i < NV; i++)
            RbIO<T>::unpack(nx[i], v[i]);
        rbk_reg_fetch<T, G, NV>(x, row + rstride, N, gl, nx);
        float ss = 0.0f;
        if constexpr (!UN)
#pragma unroll
            for (int i = 0; i < NV; i++)
#pragma unroll
                for (int e = 0; e < VW; e++)
                    ss = fmaf(v[i][e], v[i][e], ss);
        rho = UN ? 1.0f : sqrtf(rbk_group_sum<G>(ss, mask));
        if (!UN && !rb_row_is_finite(rho)) {
            if constexpr (MODE == RBK_ENC)
                rbk_codes_bad_row<G>(a, row, gl, rho);
            else
                rbk_store_nan_row<T, G, NV>(or_, gl);
            return false;
        }
        if (MODE == RBK_ENC && gl == 0)
            rbk_put_norm(a.norms, a.norm_kind, row, rho);
    }
    return true;
}

/* ---- block methods: paper variant ---------------------------------------------------------- */
/* One thread block per vector, one thread per rotation block (threads loop when there are more
 * than 1024 blocks), parameters read from global memory, codebook in shared memory, linear
 * nearest-centroid search. The row is kept in shared memory between the norm and the rotation. */
template <typename T, class M>
__global__ void rbk_block_paper(RbArgs a, const T *__restrict__ x, T *__restrict__ xh)
{
    constexpr int K = M::K;
    extern __shared__ float smem[];
    const int d = a.d, g = (d + K - 1) / K, ncent = a.nbounds + 1;
    float *s_c = smem, *s_red = smem + RBK_MAX_CENT, *s_x = s_red + 33;
    const long row = blockIdx.x;
    const T *xr = x + row * d;
    T *or_ = xh + row * d;

    rbk_load_codebook(a.cents, a.bounds, a.nbounds, s_c, nullptr, false);
    float ss = 0.0f;
    for (int b = threadIdx.x; b < g; b += blockDim.x)
#pragma unroll
        for (int t = 0; t < K; t++) {
            int j = b * K + t;
            float f = j < d ? RbIO<T>::ld1(xr + j) : 0.0f;
            s_x[j] = f;
            ss += f * f;
        }
    float rho = 1.0f;
    if (a.unit)
        __syncthreads(); /* s_c and s_x */
    else
        rho = sqrtf(rbk_block_sum(ss, s_red)); /* its barriers also cover s_c */
    if (!rb_row_is_finite(rho)) {
        for (int j = threadIdx.x; j < d; j += blockDim.x)
            RbIO<T>::st1(or_ + j, rbk_nan());
        return;
    }
    const float inv = rb_inv_norm(rho);
    for (int b = threadIdx.x; b < g; b += blockDim.x) {
        float v[K];
#pragma unroll
        for (int t = 0; t < K; t++) {
            int j = b * K + t;
            v[t] = j < d ? s_x[j] * inv : 0.0f;
        }
        const float *prm = a.rot + M::P * b;
        M::fwd(prm, v);
#pragma unroll
        for (int t = 0; t < K; t++)
            v[t] = rbk_nearest_centroid(v[t], s_c, ncent);
        M::inv(prm, v);
#pragma unroll
        for (int t = 0; t < K; t++) {
            int j = b * K + t;
            if (j < d)
                RbIO<T>::st1(or_ + j, rho * v[t]);
        }
    }
}

template <typename T, class M>
static cudaError_t rbk_block_paper_launch(const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    const int g = (a.d + M::K - 1) / M::K;
    const int threads = rbk_round32(g < 1024 ? g : 1024);
    const size_t smem = sizeof(float) * (RBK_MAX_CENT + 33 + (size_t)g * M::K);
    rbk_block_paper<T, M><<<(unsigned)N, threads, smem, st>>>(a, x, xh);
    return cudaGetLastError();
}

/* Resident blocks the register path is compiled for, from the lane's live floats (register
 * parameters, the row's coordinates, the next row's raw vectors): three (registers capped at
 * 80) up to 48, two (128) up to 96, else RBK_MIN_BLOCKS. These kernels wait on DRAM with one
 * row in flight per lane, so resident warps are what keeps bytes in flight: on the H200 at
 * fp16, N = 2^20, 3 bits, three blocks took identity from 86-88 to 90-94 % of the copy,
 * PlanarQuant from 85-87 to 93-94 %, IsoQuant-Fast from 83-85 to 86-88 %; IsoQuant-Full (88
 * live floats at fp16) spilled at 80 registers and fell to 43-48 %. Its 4 x 4 matrices took
 * 159 registers and one block per SM uncapped; capped at 128 they do not spill. fp32 (93-94 %
 * already, 16 coordinates in four vectors per lane) keeps two blocks: at 80 registers its large
 * shape spills 16-28 bytes, not measured. */
template <typename T, class M, int NV> constexpr int rbk_reg_min_blocks()
{
    constexpr int VW = RbIO<T>::VW, live = NV * (VW / M::K) * RbkPrep<M>::PR + NV * VW + NV * 4;
    return RBK_MIN_BLOCKS > 1 ? RBK_MIN_BLOCKS : live <= 48 && VW == 8 ? 3 : live <= 96 ? 2 : 1;
}

/* ---- block methods: fast variant, register path (K divides a 16-byte vector) -------------- */
/* G lanes per vector, NV 16-byte vectors per lane, D = G * NV * VW. Lane l holds vectors
 * l, l + G, ... (coalesced); each vector holds VW / K whole rotation blocks, whose parameters the
 * lane keeps in registers for every row it processes. */
template <typename T, class M, int G, int NV, int QM, int MODE = RBK_QDQ>
__global__ void __launch_bounds__(RBK_THREADS, (rbk_reg_min_blocks<T, M, NV>()))
rbk_block_fast_reg(RbArgs a, const T *__restrict__ x, T *__restrict__ xh, long N)
{
    constexpr int VW = RbIO<T>::VW, K = M::K, P = M::P, BPV = VW / K, D = G * NV * VW;
    constexpr int GPB = RBK_THREADS / G; /* vectors (rows) per thread block */
    static_assert(VW % K == 0, "register path needs K | VW");
    __shared__ float s_c[RBK_MAX_CENT], s_b[RBK_MAX_CENT];
    __shared__ uint32_t s_kvw[RbkCodeRows<MODE, NV, VW>::WORDS]; /* encode: the groups' rows of words */

    const int gl = threadIdx.x % G, grp = threadIdx.x / G;
    const long rstride = (long)gridDim.x * GPB;
    typename RbIO<T>::Raw nx[NV]; /* the next row, in flight */
    long row = rbk_reg_begin<T, G, NV, QM, MODE>(a, x, N, gl, grp, nx, s_c, s_b, s_kvw);
    RbQuant<QM & RBQ_ROUTE, MODE == RBK_ENC> q;
    constexpr bool UN = QM & RBQ_UNIT;
    const unsigned mask = rbk_group_mask<G>();

    using R = RbkPrep<M>;
    float prm[NV][BPV][R::PR > 0 ? R::PR : 1];
#pragma unroll
    for (int i = 0; i < NV; i++)
#pragma unroll
        for (int c = 0; c < BPV; c++) {
            float raw[P > 0 ? P : 1];
#pragma unroll
            for (int t = 0; t < P; t++)
                raw[t] = __ldg(a.rot + (long)P * (((i * G + gl) * VW) / K + c) + t);
            R::prep(raw, prm[i][c]);
        }
    __syncthreads();
    q.init(s_b, s_c, a.nbounds, a.cells); /* after the barrier: s_b, s_c are loaded */

    for (; row < N; row += rstride) {
        T *or_ = xh + row * D;
        float v[NV][VW];
        float rho;
        if (!rbk_reg_row_in<T, G, NV, MODE, UN>(a, x, or_, row, rstride, N, gl, mask, s_c, nx, v, rho))
            continue;
        const float inv = rb_inv_norm(rho);
#pragma unroll
        for (int i = 0; i < NV; i++)
#pragma unroll
            for (int c = 0; c < BPV; c++) {
                float *blk = &v[i][c * K];
                if constexpr (MODE != RBK_DEC) {
                    if constexpr (!UN)
#pragma unroll
                        for (int t = 0; t < K; t++)
                            blk[t] *= inv;
                    R::fwd(prm[i][c], blk);
                    if constexpr (MODE == RBK_ENC) { /* the code, as an int's bits */
#pragma unroll
                        for (int t = 0; t < K; t++)
                            blk[t] = __int_as_float(q.index(blk[t], s_b, a.nbounds));
                    } else {
#pragma unroll
                        for (int t = 0; t < K; t++)
                            blk[t] = q(blk[t], s_c, s_b, a.nbounds);
                    }
                }
                if constexpr (MODE != RBK_ENC) {
                    R::inv(prm[i][c], blk);
                    if constexpr (!UN)
#pragma unroll
                        for (int t = 0; t < K; t++)
                            blk[t] *= rho;
                }
            }
        if constexpr (MODE == RBK_ENC)
            rbk_codes_store<G, NV, VW>(a, row, gl, grp, mask, v, s_kvw);
        else
#pragma unroll
            for (int i = 0; i < NV; i++)
                RbIO<T>::store(or_ + (i * G + gl) * VW, v[i]);
    }
}

/* ---- block methods: fast variant, staged path ---------------------------------------------- */
/* G lanes per vector; the row goes through shared memory as floats: quads of 4 coordinates
 * into shared memory (RbQuad; scalar when vec == false), lane l rotates blocks l, l + G, ...,
 * quads back. The row stride (rbk_staged_stride) keeps a warp's scalar accesses in 32 banks.
 * D > 0: compiled for that d (vec implied), the lane's block parameters in registers.
 * D == 0: run-time d, parameters read through the read-only cache. */
template <typename T, class M, int G, int D, int QM, int MODE = RBK_QDQ>
__global__ void __launch_bounds__(RBK_THREADS, RBK_MIN_BLOCKS)
rbk_block_fast_staged(RbArgs a, const T *__restrict__ x, T *__restrict__ xh, long N, int vec, int stride)
{
    constexpr int K = M::K, P = M::P;
    constexpr int GD = (D + K - 1) / K;                   /* blocks per row (D > 0) */
    constexpr int NBL = D > 0 ? (GD + G - 1) / G : 1;     /* blocks per lane (D > 0) */
    extern __shared__ float4 smem4[];
    __shared__ float s_c[RBK_MAX_CENT], s_b[RBK_MAX_CENT];

    const int d = D > 0 ? D : a.d, g = (d + K - 1) / K;
    const int gpb = blockDim.x / G;
    const int gl = threadIdx.x % G, grp = threadIdx.x / G;
    const unsigned mask = rbk_group_mask<G>();
    float *buf = reinterpret_cast<float *>(smem4) + (long)grp * stride;

    /* D > 0: the first row's load goes out before the prologue's loads and barriers */
    constexpr int NQ = D > 0 ? D / (G * 4) : 1; /* quads per lane (D > 0) */
    typename RbQuad<T>::Raw nx[NQ];               /* D > 0: the next row, in flight */
    const long rstride = (long)gridDim.x * gpb;
    long row = (long)blockIdx.x * gpb + grp;
    if constexpr (D > 0 && MODE != RBK_DEC)
        if (row < N)
#pragma unroll
            for (int i = 0; i < NQ; i++)
                nx[i] = RbQuad<T>::ldraw(x + row * D + (i * G + gl) * 4);
    rbk_load_codebook(a.cents, a.bounds, a.nbounds, s_c, s_b, true);
    if constexpr (MODE != RBK_DEC)
        rbk_load_cells<QM, MODE == RBK_ENC>(a.cells, a.nbounds);
    RbQuant<QM & RBQ_ROUTE, MODE == RBK_ENC> q;
    constexpr bool UN = QM & RBQ_UNIT;
    using R = RbkPrep<M>;
    float prm[NBL][R::PR > 0 ? R::PR : 1];
    if constexpr (D > 0) {
#pragma unroll
        for (int i = 0; i < NBL; i++) {
            int b = gl + G * i;
            float raw[P > 0 ? P : 1];
#pragma unroll
            for (int t = 0; t < P; t++)
                raw[t] = b < GD ? __ldg(a.rot + (long)P * b + t) : 0.0f;
            R::prep(raw, prm[i]);
        }
    }
    __syncthreads();
    q.init(s_b, s_c, a.nbounds, a.cells); /* after the barrier: s_b, s_c are loaded */

    for (; row < N; row += rstride) {
        const T *xr = x + row * d;
        T *or_ = xh + row * d;
        float ss = 0.0f;
        if constexpr (MODE == RBK_DEC) {
        } else if constexpr (D > 0) {
#pragma unroll
            for (int i = 0; i < NQ; i++) {
                const float4 f = RbQuad<T>::unpack(nx[i]);
                if constexpr (!UN)
                    ss = fmaf(f.w, f.w, fmaf(f.z, f.z, fmaf(f.y, f.y, fmaf(f.x, f.x, ss))));
                *reinterpret_cast<float4 *>(buf + (i * G + gl) * 4) = f;
            }
            if (row + rstride < N)
#pragma unroll
                for (int i = 0; i < NQ; i++)
                    nx[i] = RbQuad<T>::ldraw(x + (row + rstride) * D + (i * G + gl) * 4);
        } else if (vec) {
            for (int qi = gl; qi < d / 4; qi += G) {
                const float4 f = RbQuad<T>::unpack(RbQuad<T>::ldraw(xr + qi * 4));
                ss = fmaf(f.w, f.w, fmaf(f.z, f.z, fmaf(f.y, f.y, fmaf(f.x, f.x, ss))));
                *reinterpret_cast<float4 *>(buf + qi * 4) = f;
            }
        } else {
            for (int j = gl; j < d; j += G) {
                float f = RbIO<T>::ld1(xr + j);
                ss = fmaf(f, f, ss);
                buf[j] = f;
            }
        }
        const float rho = MODE == RBK_DEC ? (UN ? 1.0f : rbk_get_norm(a.norms, a.norm_kind, row))
                                          : UN ? 1.0f : sqrtf(rbk_group_sum<G>(ss, mask));
        const bool finite = UN || rb_row_is_finite(rho);
        if (MODE == RBK_ENC && gl == 0)
            rbk_put_norm(a.norms, a.norm_kind, row, rho);
        const uint32_t *cw = MODE == RBK_DEC ? a.codes + row * a.row_words : nullptr;
        __syncwarp(mask);
        if (!finite) { /* NaN into the buffer, so the store below needs no select per element */
            if constexpr (MODE == RBK_ENC) { /* kvpack.h: a NaN norm and zero codes */
                for (int w = gl; w < a.row_words; w += G)
                    a.codes[row * a.row_words + w] = 0u;
            } else {
                for (int j = gl; j < d; j += G)
                    buf[j] = rbk_nan();
            }
        } else {
            const float inv = rb_inv_norm(rho);
#pragma unroll
            for (int i = 0; i < (D > 0 ? NBL : 1); i++) {
                for (int b = gl + G * i; b < g; b += (D > 0 ? g : G)) { /* D > 0: runs once */
                    float v[K];
                    float pr[D > 0 || P == 0 ? 1 : P]; /* run-time d: the stored parameters */
                    if constexpr (D == 0)
#pragma unroll
                        for (int t = 0; t < P; t++)
                            pr[t] = __ldg(a.rot + (long)P * b + t);
                    if constexpr (MODE != RBK_DEC) {
#pragma unroll
                        for (int t = 0; t < K; t++) {
                            int j = b * K + t;
                            v[t] = j < d ? (UN ? buf[j] : buf[j] * inv) : 0.0f; /* the zero-padded tail */
                        }
                        if constexpr (D > 0) /* the register form */
                            R::fwd(prm[i], v);
                        else /* run-time d: through the read-only cache */
                            M::fwd(pr, v);
                    }
                    if constexpr (MODE == RBK_ENC) { /* the codes, padded tail too (dpad = g K) */
#pragma unroll
                        for (int t = 0; t < K; t++)
                            buf[b * K + t] = __int_as_float(q.index(v[t], s_b, a.nbounds));
                    } else {
                        if constexpr (MODE == RBK_DEC) { /* the block's codes: K b <= 32 bits, <= 2 words */
                            const int s = b * K * a.bits, w0 = s >> 5, o = s & 31;
                            const uint32_t ch = rb_shr_lo(__ldg(cw + w0), o + K * a.bits > 32 ? __ldg(cw + w0 + 1) : 0u, o);
#pragma unroll
                            for (int t = 0; t < K; t++)
                                v[t] = s_c[rb_kv_chunk_code(ch, t, a.bits)];
                        } else
#pragma unroll
                            for (int t = 0; t < K; t++)
                                v[t] = q(v[t], s_c, s_b, a.nbounds);
                        if constexpr (D > 0)
                            R::inv(prm[i], v);
                        else
                            M::inv(pr, v);
#pragma unroll
                        for (int t = 0; t < K; t++) {
                            int j = b * K + t;
                            if (j < d)
                                buf[j] = UN ? v[t] : rho * v[t];
                        }
                    }
                }
            }
        }
        __syncwarp(mask);
        if constexpr (MODE == RBK_ENC) {
            if (finite) /* word by word from the codes in buf, one word a lane, coalesced */
                rbk_with_bits(a.bits, [&](auto bb) {
                    constexpr int B = decltype(bb)::value;
                    const int rw = D > 0 ? (g * K * B + 31) / 32 : a.row_words;
                    for (int w = gl; w < rw; w += G)
                        a.codes[row * rw + w] = rb_kv_word(reinterpret_cast<const int *>(buf), w, B, g * K);
                });
        } else if (D > 0 || vec) {
#pragma unroll(D > 0 ? NQ : 1)
            for (int qi = gl; qi < d / 4; qi += G)
                RbQuad<T>::store(or_ + qi * 4, *reinterpret_cast<const float4 *>(buf + qi * 4));
        } else {
            for (int j = gl; j < d; j += G)
                RbIO<T>::st1(or_ + j, buf[j]);
        }
        __syncwarp(mask); /* buf is reused by the next row */
    }
}

/* ---- block methods: dispatch ---------------------------------------------------------------- */
/* The staged path's row stride (kernels/common/staged_stride.h): no bank conflicts among a
 * warp's scalar accesses for odd K (ncu, H200, RotorQuant fp16 d = 128, G = 8, stride 132:
 * 3.4-way conflicts on the loads, 3.1-way on the stores, shared memory 96 % busy). */
constexpr int rbk_staged_stride(int dp, int K, int G) { return RB_STAGED_STRIDE(dp, K, G); }

/* The kernel and dynamic shared memory of one fast shape and quantizer route; occ() is its
 * occupancy, queried once. */
template <typename T, class M, int G, int NV, int QM, int MODE = RBK_QDQ> struct RbkBlockShape {
    static constexpr int VW = RbIO<T>::VW, GPB = RBK_THREADS / G, D = G * NV * VW;
    static constexpr bool REG = VW % M::K == 0;
    static constexpr int DP = (D + M::K - 1) / M::K * M::K, STRIDE = rbk_staged_stride(DP, M::K, G);
    static constexpr size_t SMEM = REG ? 0 : sizeof(float) * (size_t)STRIDE * GPB;
    static int occ()
    {
        if constexpr (REG) {
            static const int o = rbk_occupancy(rbk_block_fast_reg<T, M, G, NV, QM, MODE>, RBK_THREADS, 0);
            return o;
        } else {
            static const int o = rbk_occupancy(rbk_block_fast_staged<T, M, G, D, QM, MODE>, RBK_THREADS, SMEM);
            return o;
        }
    }
    static long blocks(long N) { return (N + GPB - 1) / GPB; }
};

template <typename T, class M, int G, int NV, int QM, int MODE>
static cudaError_t rbk_block_fast_cfg(const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    using S = RbkBlockShape<T, M, G, NV, QM, MODE>;
    const unsigned grid = rbk_grid(S::occ(), S::blocks(N));
    if constexpr (S::REG)
        rbk_block_fast_reg<T, M, G, NV, QM, MODE><<<grid, RBK_THREADS, 0, st>>>(a, x, xh, N);
    else
        rbk_block_fast_staged<T, M, G, S::D, QM, MODE><<<grid, RBK_THREADS, S::SMEM, st>>>(a, x, xh, N, 1, S::STRIDE);
    return cudaGetLastError();
}

template <typename T, class M, int QM, int MODE>
static cudaError_t rbk_block_fast_generic_qm(const RbArgs &a, const T *x, T *xh, long N, bool vec, cudaStream_t st)
{
    const int dp = (a.d + M::K - 1) / M::K * M::K, stride = (dp + 3) & ~3;
    int gpb = 7168 / stride; /* <= 28 KiB of rows per block (48 KiB with the static cell table) */
    gpb = gpb < 1 ? 1 : gpb > RBK_THREADS / 32 ? RBK_THREADS / 32 : gpb;
    const size_t smem = sizeof(float) * (size_t)stride * gpb;
    auto kern = rbk_block_fast_staged<T, M, 32, 0, QM, MODE>;
    /* queried once, for the first d: a later d's grid may exceed a wave, which the row stride
     * absorbs */
    static const int occ = rbk_occupancy(kern, 32 * gpb, smem);
    kern<<<rbk_grid(occ, (N + gpb - 1) / gpb), 32 * gpb, smem, st>>>(a, x, xh, N, vec ? 1 : 0, stride);
    return cudaGetLastError();
}

template <typename T, class M, int MODE>
static cudaError_t rbk_block_fast_generic(const RbArgs &a, const T *x, T *xh, long N, bool vec, cudaStream_t st)
{
    if (a.unit)
        return rbk_block_fast_generic_qm<T, M, RBQ_ANY | RBQ_UNIT, MODE>(a, x, xh, N, vec, st);
    return rbk_block_fast_generic_qm<T, M, RBQ_ANY, MODE>(a, x, xh, N, vec, st);
}

/* MODE: RBK_QDQ, or the encoder / decoder, which take the roundtrip's shape for the same N (the
 * roundtrip kernel's occupancy picks it): the lanes' share of a row, and so the norm's
 * summation order, are the roundtrip's. */
template <typename T, class M, int MODE = RBK_QDQ>
static cudaError_t rbk_block_fast(const RbArgs &a, const T *x, T *xh, long N, cudaStream_t st)
{
    constexpr int VW = RbIO<T>::VW;
    const bool vec = (a.d % VW) == 0 && rbk_aligned16(x) && rbk_aligned16(xh);
    return rbk_with_row_vectors(
        vec ? a.d / VW : 0,
        [&](auto v) {
            return rbk_with_quant<RbkCellsRoute<M>::value>(a.nbounds, rbk_route_cells(a.cells, a.nbounds, N, a.d), a.unit, [&](auto qm) {
                constexpr int QM = decltype(qm)::value;
                return rbk_pick_shape<T, decltype(v)::value>(
                    N, a.shape,
                    [](auto g, auto nv) {
                        return RbkBlockShape<T, M, decltype(g)::value, decltype(nv)::value, QM>::occ();
                    },
                    [&](auto g, auto nv) {
                        return rbk_block_fast_cfg<T, M, decltype(g)::value, decltype(nv)::value, QM, MODE>(a, x, xh, N, st);
                    });
            });
        },
        [&] { return rbk_block_fast_generic<T, M, MODE>(a, x, xh, N, vec, st); });
}

template <typename T, class M>
static cudaError_t rbk_block_launch_T(const rb_qdq_params *p, int variant, const void *x, void *xh, long N,
                                      cudaStream_t st)
{
    const RbArgs a = rbk_args(p, (p->d + M::K - 1) / M::K * M::K);
    const T *xi = static_cast<const T *>(x);
    T *xo = static_cast<T *>(xh);
    if (variant == RB_VARIANT_PAPER)
        return rbk_block_paper_launch<T, M>(a, xi, xo, N, st);
    if (variant == RB_VARIANT_ENCODE || variant == RB_VARIANT_DECODE)
        return rbk_kv_launch(p, variant, [&](auto mode) {
            constexpr int MODE = decltype(mode)::value;
            return rbk_block_fast<T, M, MODE>(a, MODE == RBK_ENC ? xi : nullptr, MODE == RBK_DEC ? xo : nullptr, N, st);
        });
    return rbk_block_fast<T, M>(a, xi, xo, N, st);
}

/* The entry point each block-method file instantiates for its trait. */
template <class M>
static cudaError_t rbk_block_launch(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh,
                                    long N, cudaStream_t st)
{
    if (dtype == 0)
        return rbk_block_launch_T<float, M>(p, variant, x, xh, N, st);
    return rbk_block_launch_T<__half, M>(p, variant, x, xh, N, st);
}

#endif
