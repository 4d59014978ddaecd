/* identity.cu: the control, no rotation, same codebook: x-hat = rho * Q(x / rho).
 * paper: one thread block per vector, one thread per coordinate (the block size is 1), codebook
 *        in shared memory, linear nearest-centroid search. It exists to reproduce the IsoQuant
 *        paper's experimental conditions (its kernels' launch structure, written by us).
 * fast:  the shared block skeleton of qdq_common.cuh (register path). */
#include "qdq_common.cuh"

struct RbIdentity {
    static constexpr int K = 1, P = 0;
    static __device__ __forceinline__ void fwd(const float *, float *) {}
    static __device__ __forceinline__ void inv(const float *, float *) {}
};

/* ---- the method (kernels/common/method.h) ----------------------------------------------- */
static int identity_block(int) { return 1; }
static long identity_params(int) { return 0; }
static long identity_fma(int) { return 0; }
static int identity_launch(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                            void *st)
{
    return (int)rbk_block_launch<RbIdentity>(p, variant, dtype, x, xh, N, (cudaStream_t)st);
}
extern "C" const rb_method_desc rb_method_identity = {
    .abi = RB_METHOD_ABI,
    .name = "identity",
    .paper_name = NULL,
    .summary = "no rotation: the scalar quantizer alone (control)",
    .in_all = 1,
    .block = identity_block,
    .param_count = identity_params,
    .fma = identity_fma,
    .check_d = NULL,
    .param_kind = RB_PARAMS_NONE,
    .param_group = 0,
    .rotate_fwd = NULL,
    .rotate_inv = NULL,
    .launch = identity_launch,
    .variants = RB_VARIANT_BIT_PAPER | RB_VARIANT_BIT_FAST | RB_VARIANT_BIT_ENCODE | RB_VARIANT_BIT_DECODE,
    .hooks = NULL,
};
