/* rotorquant.cu: RotorQuant, the Cl(3,0) rotor sandwich R v R~ on 3-blocks (rb_rotor_fwd: the
 * sparse sandwich of kernels/common/rotor.h; the last block zero-padded).
 * paper: one thread block per vector, one thread per 3-block, rotors from global memory,
 *        codebook in shared memory, linear nearest-centroid search. It exists to reproduce the
 *        IsoQuant paper's experimental conditions (its kernels' launch structure, written by us).
 * fast:  the shared block skeleton of qdq_common.cuh. 3-blocks do not align with 16-byte
 *        vectors, so rows are staged through shared memory: 16-byte loads into shared memory,
 *        lane l rotates 3-blocks l, l + G, ... with its rotors in registers, 16-byte stores back. */
#include "qdq_common.cuh"

struct RbRotor {
    static constexpr int K = 3, P = 4;
    static __device__ __forceinline__ void fwd(const float *r, float *v) { rb_rotor_fwd(r, v); }
    static __device__ __forceinline__ void inv(const float *r, float *v) { rb_rotor_inv(r, v); }
};

cudaError_t rbk_launch_rotor(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                             cudaStream_t st)
{
    return rbk_block_launch<RbRotor>(p, variant, dtype, x, xh, N, st);
}
