/* method.h: a quantization method as rotorbench sees it, one descriptor per method. Built-in
 * methods and plugins (shared libraries loaded with `rotorbench run --plugin lib.so`) fill the
 * same struct; harness/registry.c keeps them and every part of the harness asks the registry,
 * so a method lives in one file (its descriptor, CPU rotation and CUDA launcher) plus one line
 * of the registry.
 *
 * This header is the plugin ABI. RB_METHOD_ABI changes whenever a field of rb_method_desc or
 * rb_qdq_params (qdq.h) changes meaning or position; the loader refuses a plugin built
 * against another value. Plain C, so a plugin can be C or CUDA C++. */
#ifndef RB_METHOD_H
#define RB_METHOD_H

#include <stddef.h>

#include "qdq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RB_METHOD_ABI 3

/* How the harness draws a method's rotation parameters (rot, param_count(d) floats) from
 * cuRAND host Philox normals seeded by (config seed, method, d), identically on every backend. */
typedef enum {
    RB_PARAMS_NONE = 0,        /* no parameters */
    RB_PARAMS_SIGNS = 1,       /* +-1 per float: the sign of a standard normal */
    RB_PARAMS_HAAR = 2,        /* a d x d Haar-orthogonal matrix, row-major (param_count = d^2) */
    RB_PARAMS_UNIT_GROUPS = 3, /* consecutive groups of param_group floats, each a uniform unit
                                * vector (Haar on S^(k-1): unit quaternions, (cos t, sin t)) */
} rb_param_kind;

/* Variants a GPU launcher implements (bit per rb_variant of rb_kernels.h). */
#define RB_VARIANT_BIT_PAPER 1u
#define RB_VARIANT_BIT_FAST 2u
/* The KV-cache paths (kvpack.h): launch with variant RB_VARIANT_ENCODE reads x and writes
 * p->kv_codes + p->kv_norms; RB_VARIANT_DECODE reads them and writes xh (x unused). */
#define RB_VARIANT_ENCODE 2
#define RB_VARIANT_DECODE 3
#define RB_VARIANT_BIT_ENCODE (1u << RB_VARIANT_ENCODE)
#define RB_VARIANT_BIT_DECODE (1u << RB_VARIANT_DECODE)

typedef struct rb_method_desc {
    int abi;                /* RB_METHOD_ABI */
    const char *name;       /* as configs and results spell it: 1-31 of [a-z0-9_-], unique */
    const char *paper_name; /* the name a paper uses for it, or NULL; shown beside ours */
    const char *summary;    /* one line: what the rotation is */
    int in_all;             /* 1: part of a config's "methods": "all" */

    /* ---- shape and counts, as functions of d ---- */
    int (*block)(int d);         /* coordinates per rotation block (d for whole-vector methods) */
    long (*param_count)(int d);  /* floats of rotation parameters per vector */
    long (*fma)(int d);          /* nominal forward-rotation FMA per vector, as the paper counts */
    /* NULL, or the reason this method cannot take d (the config is then refused). */
    const char *(*check_d)(int d);

    /* ---- parameters ---- */
    int param_kind;  /* rb_param_kind */
    int param_group; /* RB_PARAMS_UNIT_GROUPS: the group length */

    /* ---- CPU reference: the rotation of one whole (zero-padded) vector v[0, p->dpad), in
     * place; tmp holds p->dpad floats of scratch. The harness does the rest of the pipeline
     * (norm, normalize, scalar quantizer, rescale: qdq.h). NULL: no rotation. */
    void (*rotate_fwd)(const rb_qdq_params *p, float *v, float *tmp);
    void (*rotate_inv)(const rb_qdq_params *p, float *v, float *tmp);

    /* ---- GPU: fused quantize -> dequantize of N rows (the same pipeline), x -> xh on stream
     * (a cudaStream_t), dtype 0 fp32 / 1 fp16; returns a cudaError_t. Pointers are device
     * pointers, including p->rot, p->bounds, p->centroids. NULL: CPU only. */
    int (*launch)(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N,
                  void *stream);
    unsigned variants; /* RB_VARIANT_BIT_*: the variants launch implements */

    /* Built-in methods with their own axes (HQMQ): harness hooks (harness/method_hooks.h).
     * Plugins set NULL; ABI 1 gives them the bits axis and the scalar codebook. */
    const void *hooks;

    /* NULL, or a fast variant that computes in lower precision than the reference (the
     * tensor-core dense path): for these parameters, the derived bound on |y_gpu - y_ref| per
     * rotated coordinate (0: the reference's precision). harness/agree.h then widens the
     * element tolerance and the tie test to it, and leaves the flips it explains unbudgeted. */
    float (*fast_ybound)(const rb_qdq_params *p);
} rb_method_desc;

/* What a plugin exports (both required):
 *   const int rb_plugin_abi = RB_METHOD_ABI;
 *   const rb_method_desc *const *rb_plugin_methods(void);   (NULL-terminated list) */
#define RB_PLUGIN_ABI_SYMBOL "rb_plugin_abi"
#define RB_PLUGIN_METHODS_SYMBOL "rb_plugin_methods"

#ifdef __cplusplus
}
#endif

#endif
