/* planarquant.cu: PlanarQuant (IsoQuant-2D), a Givens rotation (cos t, sin t) per 2-block.
 * paper: one thread block per vector, one thread per 2-block, parameters from global memory,
 *        codebook in shared memory, linear nearest-centroid search. It exists to reproduce the
 *        IsoQuant paper's experimental conditions (its kernels' launch structure, written by us).
 * fast:  the shared block skeleton of qdq_common.cuh (register path: 2 or 4 blocks per 16-byte
 *        vector, each lane's (cos, sin) pairs in registers). */
#include "qdq_common.cuh"

struct RbPlanar {
    static constexpr int K = 2, P = 2;
    static constexpr bool CELLS_ROUTE = false; /* see rbk_with_quant */
    static __device__ __forceinline__ void fwd(const float *r, float *v) { rb_givens_fwd(r[0], r[1], v); }
    static __device__ __forceinline__ void inv(const float *r, float *v) { rb_givens_inv(r[0], r[1], v); }
};

cudaError_t rbk_launch_planar(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                              cudaStream_t st)
{
    return rbk_block_launch<RbPlanar>(p, variant, dtype, x, xh, N, st);
}
