/* rotorquant.cu: RotorQuant, the Cl(3,0) rotor sandwich R v R~ on 3-blocks (rb_rotor_fwd: the
 * sparse sandwich of kernels/common/rotor.h; the last block zero-padded).
 * paper: one thread block per vector, one thread per 3-block, rotors from global memory,
 *        codebook in shared memory, linear nearest-centroid search. It exists to reproduce the
 *        IsoQuant paper's experimental conditions (its kernels' launch structure, written by us).
 * fast:  the shared block skeleton of qdq_common.cuh. 3-blocks do not align with 16-byte
 *        vectors, so rows are staged through shared memory: 16-byte loads into shared memory,
 *        lane l rotates 3-blocks l, l + G, ... with its rotors in registers as 3 x 3 matrices
 *        (9 FMA each way instead of the sandwich's 24 multiplies; RbkPrep says why that agrees),
 *        16-byte stores back. */
#include "rotor.h"
#include "qdq_common.cuh"

struct RbRotor {
    static constexpr int K = 3, P = 4, PR = 9; /* fast: the rotor's 3 x 3 matrix (RbkPrep) */
    static __device__ __forceinline__ void fwd(const float *r, float *v) { rb_rotor_fwd(r, v); }
    static __device__ __forceinline__ void inv(const float *r, float *v) { rb_rotor_inv(r, v); }
    static __device__ __forceinline__ void prep(const float *r, float *m) { rbk_block_matrix<3>(r, m, rb_rotor_fwd); }
    static __device__ __forceinline__ void ffwd(const float *m, float *v) { rbk_mat_apply<3>(m, v); }
    static __device__ __forceinline__ void finv(const float *m, float *v) { rbk_mat_apply<3, true>(m, v); }
};

/* ---- the method (kernels/common/method.h) ----------------------------------------------- */
static int rotorquant_block(int) { return 3; }
static long rotorquant_params(int d) { return 4L * ((d + 2) / 3); }
static long rotorquant_fma(int d) { return 56L * ((d + 2) / 3); }
static void rotorquant_fwd(const rb_qdq_params *p, float *v, float *)
{
    for (int b = 0; b < p->nblocks; b++)
        rb_rotor_fwd(p->rot + 4 * b, v + 3 * b);
}
static void rotorquant_inv(const rb_qdq_params *p, float *v, float *)
{
    for (int b = 0; b < p->nblocks; b++)
        rb_rotor_inv(p->rot + 4 * b, v + 3 * b);
}
static int rotorquant_launch(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                              void *st)
{
    return (int)rbk_block_launch<RbRotor>(p, variant, dtype, x, xh, N, (cudaStream_t)st);
}
extern "C" const rb_method_desc rb_method_rotorquant = {
    .abi = RB_METHOD_ABI,
    .name = "rotorquant",
    .paper_name = "RotorQuant",
    .summary = "a Cl(3,0) rotor sandwich R v R~ per 3-block",
    .in_all = 1,
    .block = rotorquant_block,
    .param_count = rotorquant_params,
    .fma = rotorquant_fma,
    .check_d = NULL,
    .param_kind = RB_PARAMS_UNIT_GROUPS,
    .param_group = 4,
    .rotate_fwd = rotorquant_fwd,
    .rotate_inv = rotorquant_inv,
    .launch = rotorquant_launch,
    .variants = RB_VARIANT_BIT_PAPER | RB_VARIANT_BIT_FAST | RB_VARIANT_BIT_ENCODE | RB_VARIANT_BIT_DECODE,
    .hooks = NULL,
};
