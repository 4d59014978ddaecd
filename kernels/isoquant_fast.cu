/* isoquant_fast.cu: IsoQuant-Fast, v -> qL v on 4-blocks (one unit quaternion per block).
 * paper: one thread block per vector, one thread per 4-block, parameters from global memory,
 *        codebook in shared memory, linear nearest-centroid search. It exists to reproduce the
 *        IsoQuant paper's experimental conditions (its kernels' launch structure, written by us).
 * fast:  the shared block skeleton of qdq_common.cuh (register path: 1 or 2 blocks per 16-byte
 *        vector, each lane's qL in registers). */
#include "qdq_common.cuh"

struct RbIsoFast {
    static constexpr int K = 4, P = 4;
    static __device__ __forceinline__ void fwd(const float *r, float *v) { rb_iso_fast_fwd(r, v); }
    static __device__ __forceinline__ void inv(const float *r, float *v) { rb_iso_fast_inv(r, v); }
};

cudaError_t rbk_launch_iso_fast(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                                cudaStream_t st)
{
    return rbk_block_launch<RbIsoFast>(p, variant, dtype, x, xh, N, st);
}
