/* isoquant_fast.cu: IsoQuant-Fast, v -> qL v on 4-blocks (one unit quaternion per block).
 * paper: one thread block per vector, one thread per 4-block, parameters from global memory,
 *        codebook in shared memory, linear nearest-centroid search. It exists to reproduce the
 *        IsoQuant paper's experimental conditions (its kernels' launch structure, written by us).
 * fast:  the shared block skeleton of qdq_common.cuh (register path: 1 or 2 blocks per 16-byte
 *        vector, each lane's qL in registers). */
#include "quat.h"
#include "qdq_common.cuh"

struct RbIsoFast {
    static constexpr int K = 4, P = 4;
    static __device__ __forceinline__ void fwd(const float *r, float *v) { rb_iso_fast_fwd(r, v); }
    static __device__ __forceinline__ void inv(const float *r, float *v) { rb_iso_fast_inv(r, v); }
};

/* ---- the method (kernels/common/method.h) ----------------------------------------------- */
static int isoquant_fast_block(int) { return 4; }
static long isoquant_fast_params(int d) { return 4L * ((d + 3) / 4); }
static long isoquant_fast_fma(int d) { return 16L * ((d + 3) / 4); }
static void isoquant_fast_fwd(const rb_qdq_params *p, float *v, float *)
{
    for (int b = 0; b < p->nblocks; b++)
        rb_iso_fast_fwd(p->rot + 4 * b, v + 4 * b);
}
static void isoquant_fast_inv(const rb_qdq_params *p, float *v, float *)
{
    for (int b = 0; b < p->nblocks; b++)
        rb_iso_fast_inv(p->rot + 4 * b, v + 4 * b);
}
static int isoquant_fast_launch(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                                 void *st)
{
    return (int)rbk_block_launch<RbIsoFast>(p, variant, dtype, x, xh, N, (cudaStream_t)st);
}
extern "C" const rb_method_desc rb_method_isoquant_fast = {
    .abi = RB_METHOD_ABI,
    .name = "isoquant-fast",
    .paper_name = "IsoQuant-Fast",
    .summary = "a left quaternion product qL v per 4-block",
    .in_all = 1,
    .block = isoquant_fast_block,
    .param_count = isoquant_fast_params,
    .fma = isoquant_fast_fma,
    .check_d = NULL,
    .param_kind = RB_PARAMS_UNIT_GROUPS,
    .param_group = 4,
    .rotate_fwd = isoquant_fast_fwd,
    .rotate_inv = isoquant_fast_inv,
    .launch = isoquant_fast_launch,
    .variants = RB_VARIANT_BIT_PAPER | RB_VARIANT_BIT_FAST | RB_VARIANT_BIT_ENCODE | RB_VARIANT_BIT_DECODE,
    .hooks = NULL,
};
