/* isoquant_full.cu: IsoQuant-Full, v -> qL v conj(qR) on 4-blocks.
 * paper: one thread block per vector, one thread per 4-block, parameters from global memory,
 *        codebook in shared memory, linear nearest-centroid search. It exists to reproduce the
 *        IsoQuant paper's experimental conditions (its kernels' launch structure, written by us).
 * fast:  the shared block skeleton of qdq_common.cuh (register path: 1 or 2 blocks per 16-byte
 *        vector, each lane's blocks in registers as the sandwich's 4 x 4 matrix: 16 FMA each way
 *        instead of 32 multiplies; RbkPrep says why that agrees). */
#include "quat.h"
#include "qdq_common.cuh"

static __device__ __forceinline__ void rbk_iso_full_fwd(const float *r, float *v) { rb_iso_full_fwd(r, r + 4, v); }

struct RbIsoFull {
    static constexpr int K = 4, P = 8, PR = 16; /* fast: the sandwich's 4 x 4 matrix (RbkPrep) */
    static __device__ __forceinline__ void fwd(const float *r, float *v) { rb_iso_full_fwd(r, r + 4, v); }
    static __device__ __forceinline__ void inv(const float *r, float *v) { rb_iso_full_inv(r, r + 4, v); }
    static __device__ __forceinline__ void prep(const float *r, float *m) { rbk_block_matrix<4>(r, m, rbk_iso_full_fwd); }
    static __device__ __forceinline__ void ffwd(const float *m, float *v) { rbk_mat_apply<4>(m, v); }
    static __device__ __forceinline__ void finv(const float *m, float *v) { rbk_mat_apply<4, true>(m, v); }
};

/* ---- the method (kernels/common/method.h) ----------------------------------------------- */
static int isoquant_full_block(int) { return 4; }
static long isoquant_full_params(int d) { return 8L * ((d + 3) / 4); }
static long isoquant_full_fma(int d) { return 32L * ((d + 3) / 4); }
static void isoquant_full_fwd(const rb_qdq_params *p, float *v, float *)
{
    for (int b = 0; b < p->nblocks; b++)
        rb_iso_full_fwd(p->rot + 8 * b, p->rot + 8 * b + 4, v + 4 * b);
}
static void isoquant_full_inv(const rb_qdq_params *p, float *v, float *)
{
    for (int b = 0; b < p->nblocks; b++)
        rb_iso_full_inv(p->rot + 8 * b, p->rot + 8 * b + 4, v + 4 * b);
}
static int isoquant_full_launch(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                                 void *st)
{
    return (int)rbk_block_launch<RbIsoFull>(p, variant, dtype, x, xh, N, (cudaStream_t)st);
}
extern "C" const rb_method_desc rb_method_isoquant_full = {
    .abi = RB_METHOD_ABI,
    .name = "isoquant-full",
    .paper_name = "IsoQuant-Full",
    .summary = "a quaternion sandwich qL v conj(qR) per 4-block",
    .in_all = 1,
    .block = isoquant_full_block,
    .param_count = isoquant_full_params,
    .fma = isoquant_full_fma,
    .check_d = NULL,
    .param_kind = RB_PARAMS_UNIT_GROUPS,
    .param_group = 4,
    .rotate_fwd = isoquant_full_fwd,
    .rotate_inv = isoquant_full_inv,
    .launch = isoquant_full_launch,
    .variants = RB_VARIANT_BIT_PAPER | RB_VARIANT_BIT_FAST | RB_VARIANT_BIT_ENCODE | RB_VARIANT_BIT_DECODE,
    .hooks = NULL,
};
