/* signs.cu: an example rotorbench plugin, the smallest complete method. Its "rotation" is a
 * random sign per coordinate (a diagonal orthogonal matrix D, its own inverse), so with the
 * symmetric Lloyd-Max codebook it must give exactly the identity control's error: a known
 * answer the tests check. What a plugin provides (kernels/common/method.h):
 *   - counts as functions of d, and how its parameters are drawn (here: one sign per coordinate);
 *   - the CPU reference of its rotation (the harness runs the rest of the pipeline around it);
 *   - a CUDA launcher for the whole fused pipeline, checked against that reference. Here it is
 *     the block skeleton the built-in block methods use (kernels/qdq_common.cuh): a trait with
 *     the block size K, the parameters per block P and the block's rotation gives both GPU
 *     variants, the paper's launch structure and the fast one.
 * Build: make examples (build/examples/libexample_signs.so); run:
 *   build/rotorbench run examples/plugin/signs.json --plugin build/examples/libexample_signs.so */
#include "method.h"
#include "qdq_common.cuh"

/* ---- the rotation of one block: K = 1 coordinate, P = 1 parameter (its sign) -------------- */
struct Signs {
    static constexpr int K = 1, P = 1;
    static __host__ __device__ __forceinline__ void fwd(const float *r, float *v) { v[0] *= r[0]; }
    static __host__ __device__ __forceinline__ void inv(const float *r, float *v) { v[0] *= r[0]; }
};

/* ---- CPU reference: v <- D v over the p->nblocks blocks (D^-1 = D) ------------------------ */
static void signs_rotate(const rb_qdq_params *p, float *v, float *)
{
    for (int b = 0; b < p->nblocks; b++)
        Signs::fwd(p->rot + b, v + b);
}

/* ---- GPU: the shared block skeleton, both variants ---------------------------------------- */
static int signs_launch(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                        void *stream)
{
    return (int)rbk_block_launch<Signs>(p, variant, dtype, x, xh, N, (cudaStream_t)stream);
}

static int signs_block(int) { return 1; }
static long signs_params(int d) { return d; }
static long signs_fma(int d) { return d; }

static const rb_method_desc signs = {
    .abi = RB_METHOD_ABI,
    .name = "example-signs",
    .paper_name = NULL,
    .summary = "random sign flips per coordinate (example plugin)",
    .in_all = 0,
    .block = signs_block,
    .param_count = signs_params,
    .fma = signs_fma,
    .check_d = NULL,
    .param_kind = RB_PARAMS_SIGNS,
    .param_group = 0,
    .rotate_fwd = signs_rotate,
    .rotate_inv = signs_rotate,
    .launch = signs_launch,
    .variants = RB_VARIANT_BIT_PAPER | RB_VARIANT_BIT_FAST,
    .hooks = NULL,
    .fast_ybound = NULL,
};

static const rb_method_desc *const methods[] = {&signs, NULL};

/* The two symbols every plugin exports (method.h). */
extern "C" {
extern const int rb_plugin_abi = RB_METHOD_ABI;
const rb_method_desc *const *rb_plugin_methods(void) { return methods; }
}
