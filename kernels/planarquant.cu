/* planarquant.cu: PlanarQuant (IsoQuant-2D), a Givens rotation (cos t, sin t) per 2-block.
 * paper: one thread block per vector, one thread per 2-block, parameters from global memory,
 *        codebook in shared memory, linear nearest-centroid search. It exists to reproduce the
 *        IsoQuant paper's experimental conditions (its kernels' launch structure, written by us).
 * fast:  the shared block skeleton of qdq_common.cuh (register path: 2 or 4 blocks per 16-byte
 *        vector, each lane's (cos, sin) pairs in registers). */
#include "givens.h"
#include "qdq_common.cuh"

struct RbPlanar {
    static constexpr int K = 2, P = 2;
    static __device__ __forceinline__ void fwd(const float *r, float *v) { rb_givens_fwd(r[0], r[1], v); }
    static __device__ __forceinline__ void inv(const float *r, float *v) { rb_givens_inv(r[0], r[1], v); }
};

/* ---- the method (kernels/common/method.h) ----------------------------------------------- */
static int planarquant_block(int) { return 2; }
static long planarquant_params(int d) { return 2L * ((d + 1) / 2); }
static long planarquant_fma(int d) { return 4L * ((d + 1) / 2); }
static void planarquant_fwd(const rb_qdq_params *p, float *v, float *)
{
    for (int b = 0; b < p->nblocks; b++)
        rb_givens_fwd(p->rot[2 * b], p->rot[2 * b + 1], v + 2 * b);
}
static void planarquant_inv(const rb_qdq_params *p, float *v, float *)
{
    for (int b = 0; b < p->nblocks; b++)
        rb_givens_inv(p->rot[2 * b], p->rot[2 * b + 1], v + 2 * b);
}
static int planarquant_launch(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                               void *st)
{
    return (int)rbk_block_launch<RbPlanar>(p, variant, dtype, x, xh, N, (cudaStream_t)st);
}
extern "C" const rb_method_desc rb_method_planarquant = {
    .abi = RB_METHOD_ABI,
    .name = "planarquant",
    .paper_name = "IsoQuant-2D",
    .summary = "a Givens rotation (cos t, sin t) per 2-block",
    .in_all = 1,
    .block = planarquant_block,
    .param_count = planarquant_params,
    .fma = planarquant_fma,
    .check_d = NULL,
    .param_kind = RB_PARAMS_UNIT_GROUPS,
    .param_group = 2,
    .rotate_fwd = planarquant_fwd,
    .rotate_inv = planarquant_inv,
    .launch = planarquant_launch,
    .variants = RB_VARIANT_BIT_PAPER | RB_VARIANT_BIT_FAST | RB_VARIANT_BIT_ENCODE | RB_VARIANT_BIT_DECODE,
    .hooks = NULL,
};
