/* kv_attention.cu: decode attention over a compressed KV cache and over an fp16 cache
 * (kernels/common/kvattn.h holds the math and the layout). Three launches per attention:
 *
 *   rotate   q' = Pi q_pad, a CTA per (query, 16 rows of Pi) (skipped for the fp16 cache);
 *   split    grid (nsplit, Hkv, B): a CTA takes one split of one (b, kv head) for all Hq / Hkv
 *            query heads reading it, so each cache byte is read once per attention. Its four
 *            warps take tiles of 32 tokens in turn, each warp with its own online softmax
 *            (no block barrier inside the token loop); the warps merge at the split's end and
 *            write (m, l, acc[dpad]) per query head to the workspace;
 *   combine  a CTA per (b, query head): merges the splits and applies Pi^T once.
 * On sm_90 the split and combine kernels are launched programmatically (PDL): each may start
 * its prologue while the kernel before it finishes, and waits for it before reading its output.
 *
 * Compressed split: a warp's tile of K and V code rows is contiguous in memory, so it is copied
 * into shared memory with coalesced cp.async, the next tile's copy in flight while the current
 * one is computed: V as it is (16-byte pieces where the tile allows, else 4), K column-major
 * with a stride of 33 words, so that lanes reading word k of 32 different rows hit 32 banks
 * (row-major, rows of 4 b words would put them in 32 / gcd(4 b, 32) banks: 16-way at 4 bits).
 * Scores take a lane per token: the 32 codes of one 32-coordinate chunk sit in exactly BITS
 * words, so their shifts are constants, and each code (or pair of codes) indexes a table of
 * q'-scaled centroids in shared memory built once per CTA (all lanes read the same coordinate,
 * so the entries they can touch lie in at most two banks' worth of rows). The weighted sum of V
 * takes a lane per run of consecutive coordinates: per token one read of the row's words gives
 * all its codes at constant shifts, then one centroid load (or one pair load) and one FMA per
 * coordinate and query head. Per token that is dpad centroid reads for V and dpad / 2 pair-table
 * reads for K, against the 2 dpad b / 8 bytes the token brings from DRAM: shared-memory traffic
 * and issue, not DRAM, are what it is expected to be bound by (counted from this code;
 * docs/PERF.md says what has been profiled).
 *
 * fp16 split: a lane per coordinate pair (half2 loads, fp32 accumulation; single halves for odd
 * d), eight tokens per step (four above two query heads per kv head), scores by a warp
 * all-reduce. Where rows are 16-byte pieces each warp stages its steps in shared memory with
 * cp.async, two steps ahead; elsewhere all of a step's loads go out into registers first. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "kvattn.h"
#include "kvattn_split.h" /* the warps, tiles and summation orders, shared with the CPU reference */

#define KVA_NW RB_KVA_NW
#define KVA_TT RB_KVA_TT
#define KVA_U_MAX RB_KVA_U_MAX
#define KVA_KM RB_KVA_KM
#define KVA_KSTRIDE RB_KVA_KSTRIDE

/* ---- small device helpers ---------------------------------------------------------------- */
static __device__ __forceinline__ float kva_warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

static __device__ __forceinline__ float kva_warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Programmatic dependent launch (sm_90): a kernel launched by kva_launch with pdl set may be
 * scheduled while the kernel before it in the stream still runs, once every CTA of that one has
 * called kva_pdl_release or exited; kva_pdl_wait returns when that kernel has finished and its
 * writes are visible. Without such a launch, or below sm_90, both do nothing. */
static __device__ __forceinline__ void kva_pdl_wait()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

static __device__ __forceinline__ void kva_pdl_release()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

static __device__ __forceinline__ float kva_norm(const void *norms, int kind, long i)
{
    if (kind == RB_KV_NORM_FP16)
        return __half2float(__ushort_as_half(((const unsigned short *)norms)[i]));
    if (kind == RB_KV_NORM_FP32)
        return ((const float *)norms)[i];
    return 1.0f;
}

static __device__ __forceinline__ void kva_cp4s(unsigned s, const void *src)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(s), "l"(src) : "memory");
}

static __device__ __forceinline__ void kva_cp4(void *dst, const void *src)
{
    kva_cp4s((unsigned)__cvta_generic_to_shared(dst), src);
}

static __device__ __forceinline__ void kva_cp16(void *dst, const void *src)
{
    unsigned s = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(src) : "memory");
}

static __device__ __forceinline__ void kva_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
static __device__ __forceinline__ void kva_wait1() { asm volatile("cp.async.wait_group 1;\n" ::: "memory"); }
static __device__ __forceinline__ void kva_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }

/* Copy nw 32-bit words src -> dst (dst 16-byte aligned) by nt threads, t being this one (a warp
 * and its lane by default), without waiting. */
static __device__ __forceinline__ void kva_copy_words(uint32_t *dst, const uint32_t *src, int nw, int t, int nt = 32)
{
    if ((((uintptr_t)src) & 15) == 0 && (nw & 3) == 0) {
        for (int i = t * 4; i < nw; i += 4 * nt)
            kva_cp16(dst + i, src + i);
    } else {
        for (int i = t; i < nw; i += nt)
            kva_cp4(dst + i, src + i);
    }
}

/* Field f (a constant after unrolling) of width WID bits of a bit stream held in NW words
 * (WID <= 32): a single code (WID = bits) or a pair of codes (WID = 2 bits). */
template <int WID, int NW>
static __device__ __forceinline__ unsigned kva_field(const uint32_t (&w)[NW], int f)
{
    const int s = f * WID, wi = s >> 5, o = s & 31;
    const unsigned mask = WID == 32 ? 0xffffffffu : (1u << WID) - 1u;
    if (o + WID <= 32)
        return (w[wi] >> o) & mask;
    return __funnelshift_r(w[wi], w[wi + 1], o) & mask;
}

/* x & m where the compiler keeps it: NVVM rewrites "mask, then shift" as "shift, then mask",
 * and only the first lets ptxas fold the shift into the address's add (one LEA or LEA.HI). */
static __device__ __forceinline__ unsigned kva_and(unsigned x, unsigned m)
{
    unsigned r;
    asm("and.b32 %0, %1, %2;" : "=r"(r) : "r"(x), "r"(m));
    return r;
}

/* base + 4 field f (a constant after unrolling): the shared-window address of entry `field` of a
 * table of floats at base. In one word that is a mask and a shift-and-add (LOP3, LEA.HI or LEA);
 * across two words a funnel shift to bit 2, the mask and the add. */
template <int WID, int NW>
static __device__ __forceinline__ unsigned kva_field4(const uint32_t (&w)[NW], int f, unsigned base)
{
    const int s = f * WID, wi = s >> 5, o = s & 31;
    constexpr unsigned mask = (1u << WID) - 1u;
    if (o + WID <= 32) {
        const unsigned m = kva_and(w[wi], mask << o);
        return base + (o >= 2 ? m >> (o - 2) : m << (2 - o));
    }
    return base + (__funnelshift_r(w[wi], w[wi + 1], o - 2) & (mask << 2)); /* o > 32 - WID >= 16 here */
}

/* A 4-byte shared-memory load at a shared-window address (as kva_lds2). */
static __device__ __forceinline__ float kva_lds(unsigned addr)
{
    float v;
    asm("ld.shared.f32 %0, [%1];" : "=f"(v) : "r"(addr));
    return v;
}

/* ---- the query rotation ------------------------------------------------------------------- */
/* q' = Pi q_pad. A CTA per (query, KVA_ROT_ROWS rows of Pi): each warp takes KVA_ROT_RW rows and
 * issues all their loads before the first butterfly, so a warp waits for L2 about once rather
 * than once per row; at B = 1 the kernel is a few dozen CTAs and that wait is its whole time.
 * Lane l's chain over j = l, l + 32, ... and the butterfly are kvattn_split.h's order. */
#define KVA_ROT_RW 4                       /* rows a warp */
#define KVA_ROT_ROWS (4 * KVA_ROT_RW)      /* rows a CTA of four warps */

__global__ void __launch_bounds__(128) kva_rotate_kernel(const float *__restrict__ q, const float *__restrict__ pi,
                                                         float *__restrict__ qr, int d, int dpad)
{
    kva_pdl_release(); /* the split kernel's prologue may start now; it waits before reading q' */
    const long bh = blockIdx.x;
    const int lane = threadIdx.x & 31, i0 = (blockIdx.y * 4 + (threadIdx.x >> 5)) * KVA_ROT_RW;
    float qv[KVA_KM];
#pragma unroll
    for (int k = 0; k < KVA_KM; k++) {
        const int j = lane + 32 * k;
        qv[k] = j < d ? q[bh * d + j] : 0.0f;
    }
    float acc[KVA_ROT_RW];
#pragma unroll
    for (int r = 0; r < KVA_ROT_RW; r++) {
        const int i = i0 + r;
        acc[r] = 0.0f;
        if (i < dpad && pi) {
#pragma unroll
            for (int k = 0; k < KVA_KM; k++)
                if (lane + 32 * k < dpad)
                    acc[r] = fmaf(pi[(long)i * dpad + lane + 32 * k], qv[k], acc[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < KVA_ROT_RW; r++) {
        const int i = i0 + r;
        const float v = pi ? kva_warp_sum(acc[r]) : i < d ? q[bh * d + i] : 0.0f;
        if (lane == 0 && i < dpad)
            qr[bh * dpad + i] = v;
    }
}

/* ---- the split kernel over the compressed cache -------------------------------------------- */
/* NCH > 0: compiled for dpad in (32 (NCH - 1), 32 NCH] and 2..4 bits. The row is taken as NCH
 * whole chunks of 32 codes (W = 32 NCH coordinates; q' is zero beyond dpad, so the codes there,
 * the row's zero padding or the next row's bits, add nothing to a score, and the V coordinates
 * there are never written), every loop unrolls and every shift is a constant:
 *   scores: pairs of codes index tab2[g][p][c_a + c_b 2^bits] = q'_g[2p] c[c_a] + q'_g[2p+1] c[c_b]
 *           (one load and one add per two coordinates) where the table fits RB_KVA_PAIR_BYTES,
 *           else the single table;
 *   V:      a lane's run of NCH consecutive coordinates is one funnel shift of two words; at up
 *           to 3 bits pairs of its codes index a table of centroid pairs (c[c_a], c[c_b]),
 *           replicated 16 times so that each lane of a half-warp reads its own bank pair.
 * NCH == 0: any dpad and 1..8 bits: whole chunks, then the tail coordinate by coordinate for the
 *           scores, rb_kv_run for V; the single table up to 5 bits, else q'_g[j] c[code].
 * The shared memory's plan (rb_kva_smem) is in kvattn_split.h, where the harness reads it too. */

/* The K tile goes in column-major (word k of row r at k KVA_KSTRIDE + r), so the score phase's
 * lanes (one row each) read word k of their rows from 32 distinct banks whatever the row length;
 * the copy stays coalesced on the global side. magic: the reciprocal of rw (kva_magic).
 * MAXW > 0 (a compiled width, nw <= 32 MAXW, rw >= 2): the loop unrolls, and word i = r rw + k
 * goes to S i - r (S rw - 1) with S = KVA_KSTRIDE, whose first term is the lane's base plus a
 * constant, so a word costs the quotient, one multiply-add, the bound's compare and the copy. */
template <int MAXW>
static __device__ __forceinline__ void kva_copy_k(uint32_t *dst, const uint32_t *src, int nw, int rw, unsigned magic,
                                                  int lane)
{
    if constexpr (MAXW > 0) {
        const unsigned d0 = (unsigned)__cvta_generic_to_shared(dst) + 4u * KVA_KSTRIDE * lane;
        const unsigned nstep = 0u - 4u * (KVA_KSTRIDE * rw - 1); /* d0 + r nstep: one IMAD */
        const uint32_t *sl;
        asm("mov.b64 %0, %1;" : "=l"(sl) : "l"(src + lane)); /* kept, so word it is sl + 128 it bytes */
#pragma unroll
        for (int it = 0; it < MAXW; it++) {
            const unsigned r = __umulhi((unsigned)(lane + 32 * it), magic);
            if (lane + 32 * it < nw)
                kva_cp4s(d0 + 4u * KVA_KSTRIDE * 32 * it + r * nstep, sl + 32 * it);
        }
    } else {
        for (int i = lane; i < nw; i += 32) {
            const int r = rw == 1 ? i : (int)__umulhi((unsigned)i, magic), k = i - r * rw;
            kva_cp4(dst + k * KVA_KSTRIDE + r, src + i);
        }
    }
}

/* i / rw = __umulhi(i, kva_magic(rw)) exactly for 2 <= rw <= 64 and i < 2^26 (the error term
 * i (magic rw - 2^32) stays below 2^32). */
static __device__ __forceinline__ unsigned kva_magic(int rw) { return 0xFFFFFFFFu / (unsigned)rw + 1u; }

/* Issue the copy of tile `tl` of this warp's split (K and V code rows) into buffer `buf`
 * (MAXW: kva_copy_k's). */
template <int MAXW>
static __device__ __forceinline__ void kva_issue_tile(const rb_kvattn_args &a, const rb_kva_smem_plan &pl, uint32_t *wbase,
                                                      long row0, int rw, unsigned magic, int t0, int t1, int tl, int buf,
                                                      int lane)
{
    const int i0 = t0 + tl * KVA_TT;
    const int n = min(KVA_TT, t1 - i0);
    const long off = (row0 + i0) * rw;
    kva_copy_k<MAXW>(wbase + buf * pl.ktile_words, (const uint32_t *)a.kcodes + off, n * rw, rw, magic, lane);
    kva_copy_words(wbase + 2 * pl.ktile_words + buf * pl.vtile_words, (const uint32_t *)a.vcodes + off, n * rw, lane);
}

/* The BITS words of chunk c of a K row held column-major (kva_copy_k). */
template <int BITS>
static __device__ __forceinline__ void kva_chunk_words(const uint32_t *kcol, int c, uint32_t (&w)[BITS])
{
#pragma unroll
    for (int k = 0; k < BITS; k++)
        w[k] = kcol[(c * BITS + k) * KVA_KSTRIDE];
}

/* The scores of one lane's token, its K row's words at kcol[k KVA_KSTRIDE], at a compiled width
 * (NCH > 0) through a table whose entries cover PER codes (2: the pair table, 1: the single
 * one): every loop unrolls, so each lookup is its address (kva_field4: a mask and a
 * shift-and-add onto the table's base; the rest of the offset is the load's constant) and the
 * load; G = GM here. */
template <int BITS, int GM, int NCH, int PER>
static __device__ __forceinline__ void kva_scores_fixed(const uint32_t *kcol, const float *tab, float (&sc)[GM])
{
    constexpr int NE = 1 << (PER * BITS), NF = 32 / PER, NT = NF * NCH; /* entries a field, fields a chunk, a row */
    const unsigned tb = (unsigned)__cvta_generic_to_shared(tab);
#pragma unroll
    for (int g = 0; g < GM; g++)
        sc[g] = 0.0f;
#pragma unroll
    for (int c = 0; c < NCH; c++) {
        uint32_t w[BITS];
        kva_chunk_words<BITS>(kcol, c, w);
#pragma unroll
        for (int f = 0; f < NF; f++) {
            const unsigned e = kva_field4<PER * BITS>(w, f, tb);
#pragma unroll
            for (int g = 0; g < GM; g++)
                sc[g] += kva_lds(e + 4 * (g * NT + c * NF + f) * NE);
        }
    }
}

/* The same at any dpad (NCH = 0): whole chunks, then the tail coordinate by coordinate; the
 * single table where there is one, else q'_g[j] c[code]. */
template <int BITS, int GM>
static __device__ __forceinline__ void kva_scores(const uint32_t *kcol, const float *tab, const float *qs,
                                                  const float *cent, int dpad, int G, int table, float (&sc)[GM])
{
    constexpr int NC = 1 << BITS;
#pragma unroll
    for (int g = 0; g < GM; g++)
        sc[g] = 0.0f;
    const int W = dpad, nchunk = dpad >> 5;
#pragma unroll 1
    for (int c = 0; c < nchunk; c++) {
        uint32_t w[BITS];
        kva_chunk_words<BITS>(kcol, c, w);
#pragma unroll
        for (int jj = 0; jj < 32; jj++) {
            const unsigned code = kva_field<BITS>(w, jj);
            const int j = c * 32 + jj;
            const float cv = table ? 0.0f : cent[code];
#pragma unroll
            for (int g = 0; g < GM; g++)
                if (g < G)
                    sc[g] += table ? tab[(g * W + j) * NC + code] : qs[g * W + j] * cv;
        }
    }
    for (int j = nchunk * 32; j < dpad; j++) {
        const int sb = j * BITS, wi = sb >> 5, o = sb & 31;
        const uint32_t lo = kcol[wi * KVA_KSTRIDE], hi = o + BITS > 32 ? kcol[(wi + 1) * KVA_KSTRIDE] : 0u;
        const unsigned code = __funnelshift_r(lo, hi, o) & (NC - 1);
#pragma unroll
        for (int g = 0; g < GM; g++)
            if (g < G)
                sc[g] += table ? tab[(g * W + j) * NC + code] : qs[g * W + j] * cent[code];
    }
}

/* An 8-byte shared-memory load at a shared-window address: the address is one add away from a
 * pre-scaled code, where a generic pointer costs a conversion per load. Not volatile: it reads
 * tables written before the kernel's barrier, so the compiler may schedule it freely. */
static __device__ __forceinline__ float2 kva_lds2(unsigned addr)
{
    float2 v;
    asm("ld.shared.v2.f32 {%0, %1}, [%2];" : "=f"(v.x), "=f"(v.y) : "r"(addr));
    return v;
}

/* 128 times the pair of codes k, k + 1 of run: the pair's byte offset in the centroid-pair table
 * (16 replicas of 8 bytes an entry). Where the pair sits below bit 8 that is a mask and a
 * shift-and-add with the lane's base (LOP3, LEA), else a shift, the mask and the add. */
template <int BITS>
static __device__ __forceinline__ unsigned kva_pair128(uint32_t run, int k)
{
    constexpr unsigned m = (1u << (2 * BITS)) - 1u;
    const int o = k * BITS;
    return o <= 7 ? kva_and(run, m << o) << (7 - o) : (run >> (o - 7)) & (m << 7);
}

/* One token's V run into the lane's NCH accumulators at a compiled width: run holds codes j0,
 * j0 + 1, ... at b-bit steps. At up to 3 bits a pair of codes indexes the lane's replica of the
 * centroid-pair table, at the shared-window address vtl: 16 interleaved replicas of 8 bytes, so a
 * pair index strides 128 bytes; above 3 bits a code indexes the centroids at the shared-window
 * address cent. */
template <int BITS, int GM, int NCH>
static __device__ __forceinline__ void kva_accumulate_fixed(uint32_t run, unsigned cent, unsigned vtl,
                                                            const float (&w)[GM], float (&acc)[GM][NCH])
{
#pragma unroll
    for (int k = 0; k < NCH; k++) {
        if (BITS <= 3 && k + 1 < NCH && (k & 1) == 0) {
            const float2 cv = kva_lds2(vtl + kva_pair128<BITS>(run, k));
#pragma unroll
            for (int g = 0; g < GM; g++) {
                acc[g][k] = fmaf(w[g], cv.x, acc[g][k]);
                acc[g][k + 1] = fmaf(w[g], cv.y, acc[g][k + 1]);
            }
        } else if (BITS > 3 || (k & 1) == 0) {
            const uint32_t r1[1] = {run};
            const float cv = kva_lds(kva_field4<BITS>(r1, k, cent));
#pragma unroll
            for (int g = 0; g < GM; g++)
                acc[g][k] = fmaf(w[g], cv, acc[g][k]);
        }
    }
}

/* The same at any dpad: KVA_KM accumulators a lane, nl of them live. */
template <int BITS, int GM>
static __device__ __forceinline__ void kva_accumulate(uint64_t run, int nl, const float *cent, const float (&w)[GM],
                                                      float (&acc)[GM][KVA_KM])
{
    constexpr int NC = 1 << BITS;
#pragma unroll
    for (int k = 0; k < KVA_KM; k++) {
        if (k < nl) {
            const float cv = cent[(unsigned)(run >> (k * BITS)) & (NC - 1)];
#pragma unroll
            for (int g = 0; g < GM; g++)
                acc[g][k] = fmaf(w[g], cv, acc[g][k]);
        }
    }
}

/* The split's end, shared by every split kernel: each warp's state (m, l, acc[dim]) per query
 * head is in mg ([NW][G][dim + 2]); merge the warps and write one partial per query head. */
static __device__ void kva_write_partials(const rb_kvattn_args &a, const float *mg, int dim, int G, int nsplit)
{
    __syncthreads();
    const int s = blockIdx.x, hk = blockIdx.y, b = blockIdx.z;
    const long bh0 = (long)b * a.Hq + (long)hk * G;
    float *ml = (float *)a.work + (long)a.B * a.Hq * dim;
    float *pacc = ml + (long)a.B * a.Hq * nsplit * 2;
    for (int i = threadIdx.x; i < G * (dim + 1); i += blockDim.x) {
        const int g = i / (dim + 1), j = i % (dim + 1) - 1; /* j = -1: (m, l) */
        float M = -INFINITY;
        for (int w = 0; w < KVA_NW; w++)
            M = fmaxf(M, mg[(w * G + g) * (dim + 2)]);
        float v = 0.0f;
        for (int w = 0; w < KVA_NW; w++) {
            const float *e = mg + (w * G + g) * (dim + 2);
            v += (j < 0 ? e[1] : e[2 + j]) * rb_kva_rescale(e[0], M);
        }
        const long ps = (bh0 + g) * nsplit + s;
        if (j < 0) {
            ml[ps * 2] = M;
            ml[ps * 2 + 1] = v;
        } else {
            pacc[ps * dim + j] = v;
        }
    }
}

template <int BITS, int GM, int NCH>
__global__ void __launch_bounds__(KVA_NW * 32) kva_split_kernel(const rb_kvattn_args a, int nsplit)
{
    extern __shared__ __align__(16) uint32_t kva_sm[];
    constexpr int NC = 1 << BITS;
    constexpr int NA = NCH > 0 ? NCH : KVA_KM; /* V accumulators a lane */
    /* a compiled width is launched with GM = G (kva_split_nch), so G is a constant there */
    const int G = NCH > 0 ? GM : a.Hq / a.Hkv, dpad = a.dpad, split = a.split;
    const int W = NCH > 0 ? 32 * NCH : dpad;
    const int rw = (int)(rb_kv_row_bytes(dpad, BITS) / 4);
    const rb_kva_smem_plan pl = rb_kva_smem(BITS, NCH, G, dpad, rw);
    const unsigned magic = rw > 1 ? kva_magic(rw) : 0u;
    const int s = blockIdx.x, hk = blockIdx.y, b = blockIdx.z;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const long row0 = ((long)b * a.Hkv + hk) * a.T; /* first cache row of this (b, kv head) */
    const int t0 = s * split, t1 = min(a.T, t0 + split);
    const int ntiles = (t1 - t0 + KVA_TT - 1) / KVA_TT;

    float *cent = (float *)kva_sm + pl.cent;
    float *qs = (float *)kva_sm + pl.qs;
    float *tab = (float *)kva_sm + pl.tab;
    const float2 *vtab = (const float2 *)(kva_sm + pl.vtab);
    const unsigned vtl = (unsigned)__cvta_generic_to_shared(vtab) + (lane & 15) * 8; /* this lane's replica */
    const unsigned centw = (unsigned)__cvta_generic_to_shared(cent); /* the centroids' shared-window address */
    uint32_t *wbase = kva_sm + pl.warp0 + warp * pl.warp_words;
    float *wsh = (float *)(wbase + 2 * pl.ktile_words + 2 * pl.vtile_words);

    /* the first tile's copy goes out before the tables are built */
    if (warp < ntiles)
        kva_issue_tile<NCH * BITS>(a, pl, wbase, row0, rw, magic, t0, t1, warp, 0, lane);
    kva_commit();
    if (NCH > 0) { /* what the copies never write but the unrolled loops read: zeros */
        for (int i = rw * KVA_KSTRIDE + lane; i < pl.ktile_words; i += 32)
            wbase[i] = wbase[pl.ktile_words + i] = 0u;
        uint32_t *vt0 = wbase + 2 * pl.ktile_words;
        for (int i = KVA_TT * rw + lane; i < pl.vtile_words; i += 32)
            vt0[i] = vt0[pl.vtile_words + i] = 0u;
    }

    const float *qr = (const float *)a.work + ((long)b * a.Hq + (long)hk * G) * dpad;
    for (int i = tid; i < NC; i += blockDim.x)
        cent[i] = a.centroids[i];
    kva_pdl_wait(); /* q' is the rotate kernel's */
    for (int i = tid; i < G * W; i += blockDim.x)
        qs[i] = i % W < dpad ? qr[(i / W) * dpad + i % W] : 0.0f;
    __syncthreads();
    if (pl.table == 2) {
        for (int i = tid; i < G * (W / 2) * NC * NC; i += blockDim.x) {
            const int c = i % (NC * NC), p = i / (NC * NC); /* p: (g, pair) */
            const float *q2 = qs + (p / (W / 2)) * W + 2 * (p % (W / 2));
            tab[i] = fmaf(q2[1], cent[c >> BITS], q2[0] * cent[c & (NC - 1)]);
        }
    } else if (pl.table == 1) {
        for (int i = tid; i < G * W * NC; i += blockDim.x)
            tab[i] = qs[i / NC] * cent[i % NC];
    }
    if (NCH > 0 && BITS <= 3)
        for (int i = tid; i < 16 * NC * NC; i += blockDim.x)
            ((float2 *)(kva_sm + pl.vtab))[i] = make_float2(cent[(i >> 4) & (NC - 1)], cent[(i >> 4) >> BITS]);
    __syncthreads();

    float m[GM], l[GM], acc[GM][NA];
#pragma unroll
    for (int g = 0; g < GM; g++) {
        m[g] = -INFINITY;
        l[g] = 0.0f;
#pragma unroll
        for (int k = 0; k < NA; k++)
            acc[g][k] = 0.0f;
    }
    /* the weighted sum of V: lane owns the run of cpl consecutive coordinates from j0 */
    const int cpl = NCH > 0 ? NCH : (dpad + 31) >> 5, j0 = lane * cpl;
    const int nl = max(0, min(cpl, dpad - j0));
    const int vsb = j0 * BITS, vw = vsb >> 5, vo = vsb & 31; /* NCH > 0: the run's first word and bit */

    int buf = 0;
    for (int tl = warp; tl < ntiles; tl += KVA_NW, buf ^= 1) {
        const int nxt = tl + KVA_NW;
        if (nxt < ntiles)
            kva_issue_tile<NCH * BITS>(a, pl, wbase, row0, rw, magic, t0, t1, nxt, buf ^ 1, lane);
        kva_commit();
        const int i0 = t0 + tl * KVA_TT;
        const int n = min(KVA_TT, t1 - i0);
        const bool valid = lane < n;
        float rk = 1.0f, rv = 1.0f;
        if (valid) {
            rk = kva_norm(a.knorms, a.norm_kind, row0 + i0 + lane);
            rv = kva_norm(a.vnorms, a.norm_kind, row0 + i0 + lane);
        }
        kva_wait1();
        __syncwarp();
        const uint32_t *kt = wbase + buf * pl.ktile_words;
        const uint32_t *vt = wbase + 2 * pl.ktile_words + buf * pl.vtile_words;

        /* scores: lane = token */
        float sc[GM];
        if constexpr (NCH > 0) { /* a compiled width always has a table (kva_split_nch) */
            if (pl.table == 2)
                kva_scores_fixed<BITS, GM, NCH, 2>(kt + (valid ? lane : 0), tab, sc);
            else
                kva_scores_fixed<BITS, GM, NCH, 1>(kt + (valid ? lane : 0), tab, sc);
        } else
            kva_scores<BITS, GM>(kt + (valid ? lane : 0), tab, qs, cent, dpad, G, pl.table, sc);
        float fac[GM];
#pragma unroll
        for (int g = 0; g < GM; g++) {
            if (g < G) {
                const float sg = valid ? sc[g] * rk * a.scale : -INFINITY;
                const float mn = fmaxf(m[g], kva_warp_max(sg));
                fac[g] = rb_kva_rescale(m[g], mn);
                const float p = valid ? expf(sg - mn) : 0.0f;
                l[g] = l[g] * fac[g] + p;
                wsh[g * KVA_TT + lane] = p * rv;
                m[g] = mn;
            } else {
                fac[g] = 0.0f;
            }
        }
        __syncwarp();

        /* the weighted sum of V: lane = its run of coordinates */
#pragma unroll
        for (int g = 0; g < GM; g++)
#pragma unroll
            for (int k = 0; k < NA; k++)
                acc[g][k] *= fac[g];
        if (NCH > 0 && nl > 0) {
            /* four tokens a step, n rounded up to a multiple of 4: a token past n weighs 0 (its
             * lane wrote p = 0) and its row lies inside the tile, so no step needs a branch */
            const uint32_t *vr = vt + vw;
            for (int t = 0; t < n; t += 4, vr += 4 * rw) {
                float4 wt[GM];
#pragma unroll
                for (int g = 0; g < GM; g++)
                    wt[g] = *(const float4 *)(wsh + g * KVA_TT + t); /* wsh rows are 16-byte aligned */
#pragma unroll
                for (int u = 0; u < 4; u++) {
                    const uint32_t run = __funnelshift_r(vr[u * rw], vr[u * rw + 1], vo);
                    float w[GM];
#pragma unroll
                    for (int g = 0; g < GM; g++)
                        w[g] = u == 0 ? wt[g].x : u == 1 ? wt[g].y : u == 2 ? wt[g].z : wt[g].w;
                    if constexpr (NCH > 0)
                        kva_accumulate_fixed<BITS, GM, NCH>(run, centw, vtl, w, acc);
                }
            }
        } else if (NCH == 0 && nl > 0) {
            for (int t = 0; t < n; t++) {
                float w[GM];
#pragma unroll
                for (int g = 0; g < GM; g++)
                    w[g] = g < G ? wsh[g * KVA_TT + t] : 0.0f;
                if constexpr (NCH == 0)
                    kva_accumulate<BITS, GM>(rb_kv_run(vt + t * rw, j0, nl, BITS), nl, cent, w, acc);
            }
        }
        __syncwarp(); /* this buffer is refilled by the copy issued next iteration */
    }

    /* each warp's state, then the merge */
    float *mg = (float *)kva_sm + pl.merge; /* [NW][G][dpad + 2]: m, l, acc */
#pragma unroll
    for (int g = 0; g < GM; g++) {
        if (g < G) {
            float *e = mg + (warp * G + g) * (dpad + 2);
            const float lsum = kva_warp_sum(l[g]);
            if (lane == 0) {
                e[0] = m[g];
                e[1] = lsum;
            }
#pragma unroll
            for (int k = 0; k < NA; k++)
                if (k < nl)
                    e[2 + j0 + k] = acc[g][k];
        }
    }
    kva_write_partials(a, mg, dpad, G, nsplit);
}

/* ---- the split kernel over the fp16 cache -------------------------------------------------
 * Lane slots of E = 2 coordinates (a half2; 1 for odd d), slot sl = lane + 32 k, k < KP.
 * STAGED (d a multiple of 8, so rows are 16-byte pieces): each warp copies its steps' K and V rows
 * into its own ring of RB_KVA_FP16_STAGES buffers with cp.async, two steps ahead of the one it
 * computes, so a warp always has loads in flight, not only between its steps, and they cost no
 * registers. Otherwise every load of a step goes out into registers before its math. Both take
 * the same values in the same order (kvattn_split.h), so they give the same bits. */
static __device__ __forceinline__ void kva_wait2() { asm volatile("cp.async.wait_group 2;\n" ::: "memory"); }

/* A step's U rows of K or V are U d / 8 16-byte pieces; lane l copies pieces l, l + 32, ...:
 * NJ at most (d <= 64 KP). Piece j of the lane is row pu[j] (-1: none), half 8 pc[j] of it. */
template <int U, int KP> struct KvaFp16Pieces {
    static constexpr int NJ = U * KP / 4 > 0 ? U * KP / 4 : 1;
    int pu[NJ], pc[NJ];
    __device__ __forceinline__ KvaFp16Pieces(int d, int lane)
    {
        const int pr = d / 8, np = U * pr;
#pragma unroll
        for (int j = 0; j < NJ; j++) {
            const int p = lane + 32 * j;
            pu[j] = p < np ? p / pr : -1;
            pc[j] = p - max(pu[j], 0) * pr;
        }
    }
    /* Issue the copy of the U rows of K and V from token i0 (a row past t1 - 1 is row t1 - 1,
     * as the register kernel loads it) into one stage buffer: K's rows [U][d / 2] words, then V's. */
    __device__ __forceinline__ void issue(uint32_t *buf, const __half *K, const __half *V, long row0, int d, int i0,
                                          int t1) const
    {
#pragma unroll
        for (int j = 0; j < NJ; j++) {
            if (pu[j] < 0)
                continue;
            const long r = (row0 + min(i0 + pu[j], t1 - 1)) * d + 8 * pc[j];
            kva_cp16(buf + pu[j] * (d / 2) + 4 * pc[j], K + r);
            kva_cp16(buf + (U + pu[j]) * (d / 2) + 4 * pc[j], V + r);
        }
    }
};

template <int GM, int KP, bool PAIR, bool STAGED>
__global__ void __launch_bounds__(KVA_NW * 32) kva_fp16_split_kernel(const rb_kvattn_args a, int nsplit)
{
    extern __shared__ __align__(16) uint32_t kva_sm[];
    constexpr int E = PAIR ? 2 : 1;
    /* tokens per step: their K and V loads are all in flight at once (registers allowing) */
    constexpr int U = GM <= 2 ? KVA_U_MAX : KVA_U_MAX / 2;
    constexpr int NS = RB_KVA_FP16_STAGES;
    static_assert(!STAGED || PAIR, "the staged kernel takes even d");
    const int G = a.Hq / a.Hkv, d = a.d, split = a.split;
    const int s = blockIdx.x, hk = blockIdx.y, b = blockIdx.z;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const long row0 = ((long)b * a.Hkv + hk) * a.T;
    const int t0 = s * split, t1 = min(a.T, t0 + split);
    const int nslot = d / E;
    const __half *K = (const __half *)a.k16, *V = (const __half *)a.v16;

    const int sw = STAGED ? U * d : 0; /* a stage buffer's words (rb_kva_fp16_stage_words) */
    uint32_t *ring = kva_sm + warp * NS * sw;
    const KvaFp16Pieces<U, KP> pieces(STAGED ? d : 8, lane);
    if constexpr (STAGED) { /* the first two steps' copies go out before q is read */
#pragma unroll
        for (int n = 0; n < NS - 1; n++) {
            const int i0 = t0 + (warp + KVA_NW * n) * U;
            if (i0 < t1)
                pieces.issue(ring + n * sw, K, V, row0, d, i0, t1);
            kva_commit();
        }
    }
    float *qs = (float *)kva_sm + KVA_NW * NS * sw; /* [G][d] */
    float *mg = qs + rb_kva_align4(G * d);            /* [NW][G][d + 2] */
    const float *q = a.q + ((long)b * a.Hq + (long)hk * G) * d;
    for (int i = tid; i < G * d; i += blockDim.x)
        qs[i] = q[i];
    __syncthreads();

    float m[GM], l[GM], acc[GM][KP * E];
#pragma unroll
    for (int g = 0; g < GM; g++) {
        m[g] = -INFINITY;
        l[g] = 0.0f;
#pragma unroll
        for (int k = 0; k < KP * E; k++)
            acc[g][k] = 0.0f;
    }

    int stage = 0;
    for (int i0 = t0 + warp * U; i0 < t1; i0 += KVA_NW * U) {
        /* every load of the step first, then the math */
        float kx[U][KP * E], vx[U][KP * E];
        if constexpr (STAGED) {
            const int ahead = i0 + (NS - 1) * KVA_NW * U, fill = stage == 0 ? NS - 1 : stage - 1;
            if (ahead < t1)
                pieces.issue(ring + fill * sw, K, V, row0, d, ahead, t1);
            kva_commit();
            kva_wait2(); /* this step's group, committed two groups ago */
            __syncwarp();
            const __half2 *kb = (const __half2 *)(ring + stage * sw), *vb = kb + U * (d / 2);
#pragma unroll
            for (int u = 0; u < U; u++) {
#pragma unroll
                for (int k = 0; k < KP; k++) {
                    const int sl = lane + 32 * k;
                    float2 kf = make_float2(0.0f, 0.0f), vf = kf;
                    if (sl < nslot) {
                        kf = __half22float2(kb[u * (d / 2) + sl]);
                        vf = __half22float2(vb[u * (d / 2) + sl]);
                    }
                    kx[u][2 * k] = kf.x;
                    kx[u][2 * k + 1] = kf.y;
                    vx[u][2 * k] = vf.x;
                    vx[u][2 * k + 1] = vf.y;
                }
            }
            __syncwarp(); /* every lane has read this buffer before it is refilled */
            stage = stage == NS - 1 ? 0 : stage + 1;
        } else {
#pragma unroll
            for (int u = 0; u < U; u++) {
                const int i = min(i0 + u, t1 - 1); /* a clamped token is loaded and then weighted 0 */
                const __half *kr = K + (row0 + i) * d, *vr = V + (row0 + i) * d;
#pragma unroll
                for (int k = 0; k < KP; k++) {
                    const int sl = lane + 32 * k;
                    if (PAIR) {
                        float2 kf = make_float2(0.0f, 0.0f), vf = kf;
                        if (sl < nslot) {
                            kf = __half22float2(((const __half2 *)kr)[sl]);
                            vf = __half22float2(((const __half2 *)vr)[sl]);
                        }
                        kx[u][2 * k] = kf.x;
                        kx[u][2 * k + 1] = kf.y;
                        vx[u][2 * k] = vf.x;
                        vx[u][2 * k + 1] = vf.y;
                    } else {
                        kx[u][k] = sl < nslot ? __half2float(kr[sl]) : 0.0f;
                        vx[u][k] = sl < nslot ? __half2float(vr[sl]) : 0.0f;
                    }
                }
            }
        }
#pragma unroll
        for (int g = 0; g < GM; g++) {
            if (g >= G)
                continue;
            float sc[U];
#pragma unroll
            for (int u = 0; u < U; u++) {
                float p = 0.0f;
#pragma unroll
                for (int k = 0; k < KP; k++) {
                    const int sl = lane + 32 * k;
                    if (sl < nslot) {
#pragma unroll
                        for (int e = 0; e < E; e++)
                            p = fmaf(qs[g * d + E * sl + e], kx[u][E * k + e], p);
                    }
                }
                sc[u] = i0 + u < t1 ? kva_warp_sum(p) * a.scale : -INFINITY;
            }
            float mn = m[g];
#pragma unroll
            for (int u = 0; u < U; u++)
                mn = fmaxf(mn, sc[u]);
            const float f = rb_kva_rescale(m[g], mn);
            l[g] *= f;
#pragma unroll
            for (int k = 0; k < KP * E; k++)
                acc[g][k] *= f;
#pragma unroll
            for (int u = 0; u < U; u++) {
                const float p = i0 + u < t1 ? expf(sc[u] - mn) : 0.0f;
                l[g] += p;
#pragma unroll
                for (int k = 0; k < KP * E; k++)
                    acc[g][k] = fmaf(p, vx[u][k], acc[g][k]);
            }
            m[g] = mn;
        }
    }

#pragma unroll
    for (int g = 0; g < GM; g++) {
        if (g < G) {
            float *e = mg + (warp * G + g) * (d + 2);
            if (lane == 0) {
                e[0] = m[g];
                e[1] = l[g]; /* the same on every lane */
            }
#pragma unroll
            for (int k = 0; k < KP; k++) {
                const int sl = lane + 32 * k;
                if (sl < nslot) {
#pragma unroll
                    for (int c = 0; c < E; c++)
                        e[2 + E * sl + c] = acc[g][E * k + c];
                }
            }
        }
    }
    kva_write_partials(a, mg, d, G, nsplit);
}

/* ---- the combine -------------------------------------------------------------------------- */
/* A CTA per query: merge the splits, then o = Pi^T o'. At B = 1 there are only Hq CTAs, so what
 * bounds it is how many L2 round trips each thread waits for in a row:
 *   - Pi (when dpad <= KVA_CMB_PI_SMEM) goes into shared memory by cp.async, issued before the
 *     wait for the split kernel (Pi is not its output), so the copy overlaps the merge;
 *   - M is a block maximum (exact in any order); the splits' (m, l) come through shared memory
 *     KVA_CMB_CH at a time, each split's factor exp(m_s - M) computed once there;
 *   - a thread's partials are loaded KVA_CMB_U splits at a time, all in flight together.
 * Every sum keeps kvattn_split.h's order (L and each acc over the splits in order, Pi^T as one
 * chain over j), so the bits are those of the CPU reference. Launched programmatically after the
 * split kernel (kva_pdl_wait). The staged Pi costs residency (66 KB a CTA at d = 128, three a
 * SM), so it is staged only where the grid still fits one wave (kva_combine_stages_pi). */
#define KVA_CMB_PI_SMEM 150 /* dpad up to this stages Pi in shared memory (88 KB at 150) */
#define KVA_CMB_CH 256      /* splits whose (factor, l) sit in shared memory at once */
#define KVA_CMB_U 16        /* partial loads a thread has in flight */
#define KVA_CMB_T 128      /* threads a CTA: four warps, whose maxima the block maximum reads */
#define KVA_CMB_J (RB_KVATTN_MAX_DPAD / KVA_CMB_T) /* coordinates a thread merges */

/* The combine's dynamic shared memory in floats: o' (rounded up to 16 bytes), the chunk's factors
 * and l, the warps' maxima, and Pi where it is staged. */
static size_t kva_combine_smem_floats(int dpad, bool pi_staged)
{
    return (size_t)rb_kva_align4(dpad) + 2 * KVA_CMB_CH + 4 + (pi_staged ? (size_t)dpad * dpad : 0);
}

__global__ void __launch_bounds__(KVA_CMB_T) kva_combine_kernel(const float *__restrict__ work,
                                                                const float *__restrict__ pi, float *__restrict__ o,
                                                                int BH, int d, int dpad, int nsplit, int pi_staged)
{
    static_assert(KVA_CMB_J * KVA_CMB_T >= RB_KVATTN_MAX_DPAD && KVA_CMB_T == 4 * 32,
                  "a thread's coordinates cover dpad, and the block maximum reads four warps' maxima");
    extern __shared__ __align__(16) float kva_os[];
    const int tid = threadIdx.x, dp4 = rb_kva_align4(dpad);
    float *fac = kva_os + dp4, *lsh = fac + KVA_CMB_CH, *wmax = lsh + KVA_CMB_CH, *pis = wmax + 4;
    if (pi && pi_staged) /* Pi's copy goes out before the wait: the split kernel does not write it */
        kva_copy_words((uint32_t *)pis, (const uint32_t *)pi, dpad * dpad, tid, blockDim.x); /* pis: 16-byte aligned */
    kva_pdl_wait();
    const long bh = blockIdx.x;
    const float *ml = work + (long)BH * dpad + bh * nsplit * 2; /* (m, l) a split: not 8-byte aligned for odd BH dpad */
    const float *pacc = work + (long)BH * dpad + (long)BH * nsplit * 2 + bh * nsplit * dpad;

    float M = -INFINITY;
    for (int s = tid; s < nsplit; s += blockDim.x)
        M = fmaxf(M, ml[2 * s]);
    M = kva_warp_max(M);
    if ((tid & 31) == 0)
        wmax[tid >> 5] = M;
    __syncthreads();
    M = fmaxf(fmaxf(wmax[0], wmax[1]), fmaxf(wmax[2], wmax[3]));

    float L = 0.0f, v[KVA_CMB_J];
#pragma unroll
    for (int u = 0; u < KVA_CMB_J; u++)
        v[u] = 0.0f;
    for (int c0 = 0; c0 < nsplit; c0 += KVA_CMB_CH) {
        const int nc = min(KVA_CMB_CH, nsplit - c0);
        __syncthreads(); /* the chunk before is read */
        for (int s = tid; s < nc; s += blockDim.x) {
            fac[s] = rb_kva_rescale(ml[2 * (c0 + s)], M);
            lsh[s] = ml[2 * (c0 + s) + 1];
        }
        __syncthreads();
        for (int s = 0; s < nc; s++)
            L = fmaf(lsh[s], fac[s], L);
#pragma unroll
        for (int u = 0; u < KVA_CMB_J; u++) {
            const int j = tid + KVA_CMB_T * u;
            if (j >= dpad)
                break;
            const float *pj = pacc + (long)c0 * dpad + j;
            for (int s0 = 0; s0 < nc; s0 += KVA_CMB_U) {
                float x[KVA_CMB_U]; /* unpredicated loads (a tail repeats the last split) go out together */
#pragma unroll
                for (int k = 0; k < KVA_CMB_U; k++)
                    x[k] = pj[(long)min(s0 + k, nc - 1) * dpad];
#pragma unroll
                for (int k = 0; k < KVA_CMB_U; k++)
                    if (s0 + k < nc)
                        v[u] = fmaf(x[k], fac[s0 + k], v[u]);
            }
        }
    }
#pragma unroll
    for (int u = 0; u < KVA_CMB_J; u++)
        if (tid + KVA_CMB_T * u < dpad)
            kva_os[tid + KVA_CMB_T * u] = v[u] / L;
    /* the rotation's loops below read kva_os in aligned 16-byte groups (ptxas widens the loads),
     * so the buffer is rb_kva_align4(dpad) long and its tail is zero */
    for (int j = dpad + tid; j < dp4; j += blockDim.x)
        kva_os[j] = 0.0f;
    kva_wait_all();
    __syncthreads();
    for (int i = tid; i < d; i += blockDim.x) {
        float r = 0.0f;
        if (!pi) {
            r = kva_os[i];
        } else if (pi_staged) {
#pragma unroll 16
            for (int j = 0; j < dpad; j++)
                r = fmaf(pis[j * dpad + i], kva_os[j], r);
        } else {
#pragma unroll 16
            for (int j = 0; j < dpad; j++)
                r = fmaf(pi[(long)j * dpad + i], kva_os[j], r);
        }
        o[bh * d + i] = r;
    }
}

/* ---- launchers ---------------------------------------------------------------------------- */
/* What the kernels do not take in a's shape (no pointer, no split read), or NULL. */
static const char *kva_shape_unsupported(const rb_kvattn_args *a, int fp16)
{
    if (a->B < 1 || a->Hq < 1 || a->Hkv < 1 || a->T < 1 || a->d < 1)
        return "B, heads, kv_heads, T and d must all be at least 1";
    if (a->Hq % a->Hkv)
        return "heads must be a multiple of kv_heads";
    if (a->Hq / a->Hkv > RB_KVATTN_MAX_GROUP)
        return "more than 8 query heads per kv head";
    if (a->Hkv > 65535 || a->B > 65535)
        return "kv_heads and B must be at most 65535";
    if (fp16)
        return a->d > RB_KVATTN_MAX_DPAD ? "the fp16 attention kernel takes d up to 256" : NULL;
    if (a->bits < 1 || a->bits > 8)
        return "the compressed attention kernel takes 1 to 8 bits";
    if (a->dpad < a->d || a->dpad > RB_KVATTN_MAX_DPAD)
        return "the compressed attention kernel takes a padded width dpad from d up to 256";
    if (a->norm_kind != RB_KV_NORM_FP16 && a->norm_kind != RB_KV_NORM_FP32 && a->norm_kind != RB_KV_NORM_NONE)
        return "unknown norm kind";
    return NULL;
}

extern "C" const char *rb_kvattn_unsupported(const rb_kvattn_args *a, int fp16)
{
    const char *why = kva_shape_unsupported(a, fp16);
    if (why)
        return why;
    if (a->split < 1)
        return "the split is not set (rb_kvattn_default_split)";
    if (!a->q || !a->o || !a->work)
        return "a query, output or workspace pointer is NULL";
    if (fp16)
        return !a->k16 || !a->v16 ? "the fp16 cache pointers are NULL" : NULL;
    if (!a->kcodes || !a->vcodes || !a->centroids ||
        (a->norm_kind != RB_KV_NORM_NONE && (!a->knorms || !a->vnorms)))
        return "a compressed cache pointer is NULL";
    return NULL;
}

/* An attribute of the current device. */
static cudaError_t kva_device_attr(cudaDeviceAttr at, int *v)
{
    int dev = 0;
    const cudaError_t e = cudaGetDevice(&dev);
    return e != cudaSuccess ? e : cudaDeviceGetAttribute(v, at, dev);
}

/* Whether the current device takes programmatic dependent launches (compute capability 9.0 and
 * up); elsewhere kernels are launched the ordinary way. */
static bool kva_pdl_ok()
{
    int major = 0;
    return kva_device_attr(cudaDevAttrComputeCapabilityMajor, &major) == cudaSuccess && major >= 9;
}

/* The launch of one kernel, with dynamic shared memory beyond 48 KiB allowed; pdl: launched
 * programmatically after the stream's previous kernel (the kernel calls kva_pdl_wait before it
 * reads what that kernel writes). */
template <typename K>
static cudaError_t kva_allow_smem(K kern, size_t smem)
{
    return smem > 48 * 1024 ? cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem)
                            : cudaSuccess;
}

template <typename... P, typename... A>
static cudaError_t kva_launch_ex(void (*kern)(P...), dim3 grid, int threads, size_t smem, cudaStream_t st, bool pdl,
                                 A... args)
{
    cudaError_t e = kva_allow_smem(kern, smem);
    if (e != cudaSuccess)
        return e;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = dim3((unsigned)threads);
    cfg.dynamicSmemBytes = smem;
    cfg.stream = st;
    if (pdl && kva_pdl_ok()) {
        cfg.attrs = at;
        cfg.numAttrs = 1;
    }
    e = cudaLaunchKernelEx(&cfg, kern, args...);
    return e != cudaSuccess ? e : cudaGetLastError();
}

/* How many CTAs of kern one SM keeps resident at this block size and dynamic shared memory. */
template <typename K>
static cudaError_t kva_occupancy(K kern, int threads, size_t smem, int *occ)
{
    const cudaError_t e = kva_allow_smem(kern, smem);
    return e != cudaSuccess ? e : cudaOccupancyMaxActiveBlocksPerMultiprocessor(occ, kern, threads, smem);
}

/* A split kernel: the compressed ones programmatically after the query rotation, the fp16 ones
 * (first in their stream of two) in the ordinary way. occ non-NULL: nothing is launched; *occ
 * gets how many CTAs of it one SM keeps resident (rb_kvattn_resident). */
template <typename K>
static cudaError_t kva_launch(K kern, dim3 grid, int threads, size_t smem, cudaStream_t st, const rb_kvattn_args &a,
                              int nsplit, bool pdl, int *occ)
{
    if (occ)
        return kva_occupancy(kern, threads, smem, occ);
    return kva_launch_ex(kern, grid, threads, smem, st, pdl, a, nsplit);
}

template <int BITS, int NCH>
static cudaError_t kva_split_nch(const rb_kvattn_args &a, int nsplit, cudaStream_t st, int *occ)
{
    const int G = a.Hq / a.Hkv;
    const int rw = (int)(rb_kv_row_bytes(a.dpad, BITS) / 4);
    const size_t smem = sizeof(uint32_t) * (size_t)rb_kva_smem(BITS, NCH, G, a.dpad, rw).total;
    const dim3 grid((unsigned)nsplit, (unsigned)a.Hkv, (unsigned)a.B);
    if constexpr (NCH > 0) { /* one or two query heads a kv head (kva_split_bits) */
        if (G == 1)
            return kva_launch(kva_split_kernel<BITS, 1, NCH>, grid, KVA_NW * 32, smem, st, a, nsplit, true, occ);
        return kva_launch(kva_split_kernel<BITS, 2, NCH>, grid, KVA_NW * 32, smem, st, a, nsplit, true, occ);
    } else {
        switch (rb_kva_gm(G)) {
        case 1: return kva_launch(kva_split_kernel<BITS, 1, NCH>, grid, KVA_NW * 32, smem, st, a, nsplit, true, occ);
        case 2: return kva_launch(kva_split_kernel<BITS, 2, NCH>, grid, KVA_NW * 32, smem, st, a, nsplit, true, occ);
        case 4: return kva_launch(kva_split_kernel<BITS, 4, NCH>, grid, KVA_NW * 32, smem, st, a, nsplit, true, occ);
        default: return kva_launch(kva_split_kernel<BITS, 8, NCH>, grid, KVA_NW * 32, smem, st, a, nsplit, true, occ);
        }
    }
}

/* 2..4 bits, one or two query heads a kv head, at the chunk counts of d = 64, 96, 128, 256 (and
 * RotorQuant's padded 66, 129) take the compiled-width kernel (its tables always fit there);
 * everything else the run-time one. Compile time is what limits the list: each compiled width
 * is a fully unrolled kernel. */
template <int BITS>
static cudaError_t kva_split_bits(const rb_kvattn_args &a, int nsplit, cudaStream_t st, int *occ)
{
    if constexpr (BITS >= 2 && BITS <= 4) {
        switch (rb_kva_nch(BITS, a.Hq / a.Hkv, a.dpad)) {
        case 2: return kva_split_nch<BITS, 2>(a, nsplit, st, occ);
        case 3: return kva_split_nch<BITS, 3>(a, nsplit, st, occ);
        case 4: return kva_split_nch<BITS, 4>(a, nsplit, st, occ);
        case 5: return kva_split_nch<BITS, 5>(a, nsplit, st, occ);
        case 8: return kva_split_nch<BITS, 8>(a, nsplit, st, occ);
        default: break;
        }
    }
    return kva_split_nch<BITS, 0>(a, nsplit, st, occ);
}

/* The compressed split kernel of a.bits (occ: kva_launch's). */
static cudaError_t kva_split(const rb_kvattn_args &a, int nsplit, cudaStream_t st, int *occ)
{
    switch (a.bits) {
    case 1: return kva_split_bits<1>(a, nsplit, st, occ);
    case 2: return kva_split_bits<2>(a, nsplit, st, occ);
    case 3: return kva_split_bits<3>(a, nsplit, st, occ);
    case 4: return kva_split_bits<4>(a, nsplit, st, occ);
    case 5: return kva_split_bits<5>(a, nsplit, st, occ);
    case 6: return kva_split_bits<6>(a, nsplit, st, occ);
    case 7: return kva_split_bits<7>(a, nsplit, st, occ);
    default: return kva_split_bits<8>(a, nsplit, st, occ);
    }
}

/* Whether the combine stages Pi in shared memory: only where its B Hq CTAs, at the staged
 * size, still fit the device in one wave. A second wave costs more than the staging saves. */
static cudaError_t kva_combine_stages_pi(const rb_kvattn_args &a, int BH, bool *staged)
{
    *staged = false;
    if (!a.pi || a.dpad > KVA_CMB_PI_SMEM)
        return cudaSuccess;
    int sms = 0, occ = 0;
    cudaError_t e = kva_device_attr(cudaDevAttrMultiProcessorCount, &sms);
    if (e == cudaSuccess)
        e = kva_occupancy(kva_combine_kernel, KVA_CMB_T, sizeof(float) * kva_combine_smem_floats(a.dpad, true), &occ);
    *staged = e == cudaSuccess && (long)BH <= (long)sms * occ;
    return e;
}

extern "C" int rb_kvattn_launch(const rb_kvattn_args *a, void *stream)
{
    if (rb_kvattn_unsupported(a, 0))
        return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    const int nsplit = rb_kvattn_nsplit(a->T, a->split);
    const int BH = a->B * a->Hq;
    float *qr = (float *)a->work;
    const dim3 rgrid((unsigned)BH, (unsigned)((a->dpad + KVA_ROT_ROWS - 1) / KVA_ROT_ROWS));
    cudaError_t e = kva_launch_ex(kva_rotate_kernel, rgrid, 128, 0, st, false, a->q, a->pi, qr, a->d, a->dpad);
    if (e != cudaSuccess)
        return (int)e;
    e = kva_split(*a, nsplit, st, NULL);
    if (e != cudaSuccess)
        return (int)e;
    bool staged = false;
    e = kva_combine_stages_pi(*a, BH, &staged);
    if (e != cudaSuccess)
        return (int)e;
    return (int)kva_launch_ex(kva_combine_kernel, dim3((unsigned)BH), KVA_CMB_T,
                              sizeof(float) * kva_combine_smem_floats(a->dpad, staged), st, true, (const float *)a->work,
                              a->pi, a->o, BH, a->d, a->dpad, nsplit, staged ? 1 : 0);
}

/* 1: the fp16 cache always takes the register kernel (RB_KVA_FP16=registers, run_options.h) */
static int kva_fp16_force_registers = 0;
extern "C" void rb_kvattn_fp16_force_registers(int on) { kva_fp16_force_registers = on ? 1 : 0; }

template <int KP, bool PAIR, bool STAGED>
static cudaError_t kva_fp16_split_kp(const rb_kvattn_args &a, int nsplit, cudaStream_t st, int *occ)
{
    const int G = a.Hq / a.Hkv;
    const size_t smem = sizeof(float) * (size_t)rb_kva_fp16_smem_words(G, a.d, STAGED);
    const dim3 grid((unsigned)nsplit, (unsigned)a.Hkv, (unsigned)a.B);
    const int nt = KVA_NW * 32;
    switch (rb_kva_gm(G)) {
    case 1: return kva_launch(kva_fp16_split_kernel<1, KP, PAIR, STAGED>, grid, nt, smem, st, a, nsplit, false, occ);
    case 2: return kva_launch(kva_fp16_split_kernel<2, KP, PAIR, STAGED>, grid, nt, smem, st, a, nsplit, false, occ);
    case 4: return kva_launch(kva_fp16_split_kernel<4, KP, PAIR, STAGED>, grid, nt, smem, st, a, nsplit, false, occ);
    default: return kva_launch(kva_fp16_split_kernel<8, KP, PAIR, STAGED>, grid, nt, smem, st, a, nsplit, false, occ);
    }
}

/* KP pairs a lane (even d): the staged kernel or the register one. */
template <int KP>
static cudaError_t kva_fp16_split_pairs(const rb_kvattn_args &a, int nsplit, cudaStream_t st, int *occ, bool staged)
{
    return staged ? kva_fp16_split_kp<KP, true, true>(a, nsplit, st, occ)
                  : kva_fp16_split_kp<KP, true, false>(a, nsplit, st, occ);
}

/* Slots per lane (rb_kva_fp16_kp): the fewest of 1, 2, 4 pairs that cover d, or 8 single
 * coordinates for odd d. Rows of 16-byte pieces (and 16-byte aligned caches) take the staged
 * kernel unless the register one is forced; occ asks about the kernel a launch would take
 * (pointers unset count as aligned). */
static cudaError_t kva_fp16_split(const rb_kvattn_args &a, int nsplit, cudaStream_t st, int *occ)
{
    const bool staged = rb_kva_fp16_staged(a.d) && !kva_fp16_force_registers &&
                        ((uintptr_t)a.k16 & 15) == 0 && ((uintptr_t)a.v16 & 15) == 0;
    switch (rb_kva_fp16_kp(a.d)) {
    case 1: return kva_fp16_split_pairs<1>(a, nsplit, st, occ, staged);
    case 2: return kva_fp16_split_pairs<2>(a, nsplit, st, occ, staged);
    case 4: return kva_fp16_split_pairs<4>(a, nsplit, st, occ, staged); /* d <= 256 (rb_kvattn_unsupported) */
    default: return kva_fp16_split_kp<KVA_KM, false, false>(a, nsplit, st, occ);
    }
}

extern "C" int rb_kvattn_fp16_launch(const rb_kvattn_args *a, void *stream)
{
    if (rb_kvattn_unsupported(a, 1))
        return (int)cudaErrorInvalidValue;
    cudaStream_t st = (cudaStream_t)stream;
    const int nsplit = rb_kvattn_nsplit(a->T, a->split);
    const int BH = a->B * a->Hq;
    /* the fp16 layout of the workspace has dpad = d (no q' is written) */
    rb_kvattn_args b = *a;
    b.dpad = a->d;
    cudaError_t e = kva_fp16_split(b, nsplit, st, NULL);
    if (e != cudaSuccess)
        return (int)e;
    return (int)kva_launch_ex(kva_combine_kernel, dim3((unsigned)BH), KVA_CMB_T,
                              sizeof(float) * kva_combine_smem_floats(a->d, false), st, true, (const float *)a->work,
                              (const float *)NULL, a->o, BH, a->d, a->d, nsplit, 0);
}

extern "C" int rb_kvattn_resident(const rb_kvattn_args *a, int fp16, int *ctas)
{
    *ctas = 0;
    rb_kvattn_args b = *a;
    if (fp16)
        b.dpad = a->d;
    if (kva_shape_unsupported(&b, fp16))
        return (int)cudaErrorInvalidValue;
    return (int)(fp16 ? kva_fp16_split(b, 1, 0, ctas) : kva_split(b, 1, 0, ctas));
}
