/* identity.cu: the control, no rotation, same codebook: x-hat = rho * Q(x / rho).
 * paper: one thread block per vector, one thread per coordinate (the block size is 1), codebook
 *        in shared memory, linear nearest-centroid search. It exists to reproduce the IsoQuant
 *        paper's experimental conditions (its kernels' launch structure, written by us).
 * fast:  the shared block skeleton of qdq_common.cuh (register path). */
#include "qdq_common.cuh"

struct RbIdentity {
    static constexpr int K = 1, P = 0;
    static constexpr bool CELLS_ROUTE = false; /* see rbk_with_quant */
    static __device__ __forceinline__ void fwd(const float *, float *) {}
    static __device__ __forceinline__ void inv(const float *, float *) {}
};

cudaError_t rbk_launch_identity(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                                cudaStream_t st)
{
    return rbk_block_launch<RbIdentity>(p, variant, dtype, x, xh, N, st);
}
