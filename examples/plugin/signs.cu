/* signs.cu: an example rotorbench plugin, the smallest complete method. Its "rotation" is a
 * random sign per coordinate (a diagonal orthogonal matrix D, its own inverse), so with the
 * symmetric Lloyd-Max codebook it must give exactly the identity control's error: a known
 * answer the tests check. What a plugin provides (kernels/common/method.h):
 *   - counts as functions of d, and how its parameters are drawn (here: one sign per coordinate);
 *   - the CPU reference of its rotation (the harness runs the rest of the pipeline around it);
 *   - a CUDA launcher for the whole fused pipeline, checked against that reference.
 * Build: make examples (build/examples/libexample_signs.so); run:
 *   build/rotorbench run examples/plugin/signs.json --plugin build/examples/libexample_signs.so
 * The -D switches below build the deliberately broken variants the tests must see refused. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "fp16.h"
#include "method.h"

/* ---- CPU reference: v <- D v (and D^-1 = D) ------------------------------------------------ */
static void signs_rotate(const rb_qdq_params *p, float *v, float *)
{
    for (int j = 0; j < p->d; j++)
        v[j] *= p->rot[j];
}

/* ---- GPU: one thread per row; plain, not fast (the harness times it all the same) ----------- */
__device__ float load1(const float *x, long i) { return x[i]; }
__device__ float load1(const __half *x, long i) { return __half2float(x[i]); }
__device__ void store1(float *x, long i, float v) { x[i] = v; }
__device__ void store1(__half *x, long i, float v) { x[i] = __float2half_rn(v); }

template <typename T>
__global__ void signs_kernel(rb_qdq_params p, const T *x, T *xh, long N)
{
    for (long row = blockIdx.x * (long)blockDim.x + threadIdx.x; row < N; row += (long)gridDim.x * blockDim.x) {
        const T *in = x + row * p.d;
        T *out = xh + row * p.d;
        float ss = 0.0f;
        for (int j = 0; j < p.d && !p.unit_norm; j++)
            ss += load1(in, j) * load1(in, j);
        /* assume_unit_norm: no norm; rho = 1 makes the scalings below exact no-ops */
        const float rho = p.unit_norm ? 1.0f : sqrtf(ss);
        if (!rb_row_is_finite(rho)) {
            for (int j = 0; j < p.d; j++)
                store1(out, j, __int_as_float(0x7fc00000));
            continue;
        }
        const float inv = rb_inv_norm(rho);
        for (int j = 0; j < p.d; j++) {
            float y = load1(in, j) * inv * p.rot[j];
            store1(out, j, rho * (rb_sq_qdq(y, p.bounds, p.centroids, p.nbounds) * p.rot[j]));
        }
    }
}

static int signs_launch(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                        void *stream)
{
    (void)variant;
    cudaStream_t st = (cudaStream_t)stream;
    const int threads = 128;
    long blocks = (N + threads - 1) / threads;
    if (blocks > 4096)
        blocks = 4096;
    if (dtype == 0)
        signs_kernel<float><<<(int)blocks, threads, 0, st>>>(*p, (const float *)x, (float *)xh, N);
    else
        signs_kernel<__half><<<(int)blocks, threads, 0, st>>>(*p, (const __half *)x, (__half *)xh, N);
    return (int)cudaGetLastError();
}

static int signs_block(int) { return 1; }
static long signs_params(int d) { return d; }
static long signs_fma(int d) { return d; }

#ifndef SIGNS_NAME
#define SIGNS_NAME "example-signs"
#endif

static const rb_method_desc signs = {
    RB_METHOD_ABI, SIGNS_NAME, NULL, "random sign flips per coordinate (example plugin)",
    0, signs_block, signs_params, signs_fma, NULL,
    RB_PARAMS_SIGNS, 0, signs_rotate, signs_rotate,
    signs_launch, RB_VARIANT_BIT_FAST, NULL,
};

static const rb_method_desc *const methods[] = {&signs, NULL};

extern "C" {
#ifndef SIGNS_NO_ABI_SYMBOL
#ifdef SIGNS_ABI
extern const int rb_plugin_abi = SIGNS_ABI;
#else
extern const int rb_plugin_abi = RB_METHOD_ABI;
#endif
#endif
const rb_method_desc *const *rb_plugin_methods(void) { return methods; }
}
