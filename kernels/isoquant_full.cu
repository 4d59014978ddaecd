/* isoquant_full.cu: IsoQuant-Full, v -> qL v conj(qR) on 4-blocks.
 * paper: one thread block per vector, one thread per 4-block, parameters from global memory,
 *        codebook in shared memory, linear nearest-centroid search. It exists to reproduce the
 *        IsoQuant paper's experimental conditions (its kernels' launch structure, written by us).
 * fast:  the shared block skeleton of qdq_common.cuh (register path: 1 or 2 blocks per 16-byte
 *        vector, each lane's (qL, qR) in registers). */
#include "qdq_common.cuh"

struct RbIsoFull {
    static constexpr int K = 4, P = 8;
    static __device__ __forceinline__ void fwd(const float *r, float *v) { rb_iso_full_fwd(r, r + 4, v); }
    static __device__ __forceinline__ void inv(const float *r, float *v) { rb_iso_full_inv(r, r + 4, v); }
};

cudaError_t rbk_launch_iso_full(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                                cudaStream_t st)
{
    return rbk_block_launch<RbIsoFull>(p, variant, dtype, x, xh, N, st);
}
