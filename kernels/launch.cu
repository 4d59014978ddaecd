/* launch.cu: rb_launch_qdq, the C entry point of the fused quantize -> dequantize kernels:
 * validates the parameters and dispatches to the method's launcher (one .cu file per method).
 * Never synchronizes and never allocates; the only device queries (SM count, occupancy, the
 * shared-memory opt-in of the tiled dense kernel) happen once and are cached. */
#include "qdq_common.cuh"

#define RBK_MAX_DEVICES 64

int rbk_num_sms(void)
{
    static int cache[RBK_MAX_DEVICES]; /* 0: not queried yet */
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= RBK_MAX_DEVICES)
        dev = 0;
    if (cache[dev] == 0) {
        int n = 0;
        if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n < 1)
            n = 1;
        cache[dev] = n;
    }
    return cache[dev];
}

extern "C" const char *rb_variant_name(int variant)
{
    switch (variant) {
    case RB_VARIANT_PAPER: return "paper";
    case RB_VARIANT_FAST: return "fast";
    default: return "unknown";
    }
}

extern "C" cudaError_t rb_launch_qdq(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh,
                                     long N, cudaStream_t stream)
{
    static const rbk_launcher table[RB_NUM_METHODS] = {
        rbk_launch_identity, rbk_launch_tq_wht, rbk_launch_tq_dense, rbk_launch_rotor,
        rbk_launch_iso_full, rbk_launch_iso_fast, rbk_launch_planar,
    };
    if (p && p->method == RB_HQMQ) /* no codebook, no bits: its own checks */
        return p->hq_outliers ? cudaErrorInvalidValue
                              : rb_launch_hqmq(p, variant, dtype, x, xh, N, nullptr, stream);
    if (!p || p->method < 0 || p->method >= RB_NUM_METHODS || variant < 0 || variant >= RB_NUM_VARIANTS ||
        (dtype != 0 && dtype != 1) || p->d < 2 || p->d > 4096 || p->bits < 1 || p->bits > 8 ||
        p->nbounds != (1 << p->bits) - 1 || N < 0 || N > (1L << 31) - 1 || !p->bounds || !p->centroids ||
        (p->method != RB_IDENTITY && !p->rot) || (N > 0 && (!x || !xh)))
        return cudaErrorInvalidValue;
    if (N == 0)
        return cudaSuccess;
    return table[p->method](p, variant, dtype, x, xh, N, stream);
}
