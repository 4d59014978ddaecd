/* launch.cu: rb_launch_qdq, the C entry point of the fused quantize -> dequantize kernels:
 * validates the parameters and calls the launcher of p's method (its descriptor, method.h).
 * Never synchronizes and never allocates; the only device queries (SM count: rbk_num_sms of
 * qdq_common.cuh; occupancy; the shared-memory opt-in of the tiled dense kernel) happen once and
 * are cached. */
#include "qdq_common.cuh"
#include "registry.h"

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
    const rb_method_desc *m = p ? rb_method_get(p->method) : nullptr;
    /* encode reads x and writes p->kv_codes/kv_norms (no xh); decode reads them (no x) */
    const bool enc = variant == RB_VARIANT_ENCODE, dec = variant == RB_VARIANT_DECODE;
    if (!m || !m->launch || variant < 0 || (variant >= RB_NUM_VARIANTS && !enc && !dec) ||
        !(m->variants & (1u << variant)) || (dtype != 0 && dtype != 1) || p->d < 2 || p->d > 4096 || N < 0 ||
        N > (1L << 31) - 1 || (N > 0 && ((!x && !dec) || (!xh && !enc) || ((enc || dec) && !p->kv_codes))) ||
        ((enc || dec) && !rbk_aligned16(p->kv_codes)) || /* qdq.h: the fast kernels store 8-byte vectors */
        (m->param_count(p->d) > 0 && !p->rot))
        return cudaErrorInvalidValue;
    /* Methods without hooks quantize with the scalar codebook of the bits axis
     * (harness/method_hooks.h); a method with its own axes checks its own fields. */
    if (!m->hooks && (p->bits < 1 || p->bits > 8 || p->nbounds != (1 << p->bits) - 1 || !p->bounds ||
                      !p->centroids))
        return cudaErrorInvalidValue;
    if (N == 0)
        return cudaSuccess;
    return (cudaError_t)m->launch(p, variant, dtype, x, xh, N, stream);
}
