/* kvattn_types.h: the shapes and record fields of decode attention over a KV cache (kvattn.h),
 * apart so that backend.h can name them without the rest of the attention path. */
#ifndef RB_KVATTN_TYPES_H
#define RB_KVATTN_TYPES_H

#include <stdint.h>

#include "qdq.h"

typedef struct {
    int B, H, kv_heads, d;
    long T;
    int split; /* tokens per split, resolved (> 0) */
} rb_kva_shape;

/* A compressed cache of one method and bit width, on the host (kernels/common/kvpack.h). */
typedef struct {
    int dpad, bits, norm_kind;      /* norm_kind: RB_KV_NORM_FP16 or _FP32 */
    long row_bytes;                 /* rb_kv_row_bytes(dpad, bits) */
    uint32_t *kcodes, *vcodes;      /* B kv_heads T rows of row_bytes */
    void *knorms, *vnorms;          /* uint16_t (fp16) or float per row */
} rb_kva_cache;

/* One decode-attention run, as the backend hook (backend.h kv_attention) takes it. Host
 * pointers. bits 0: the fp16 cache K16, V16 (B kv_heads T d halves); else the compressed cache
 * c with p (the method, bits, codebook; host pointers) and Pi (dpad x dpad). */
typedef struct {
    rb_kva_shape s;
    const float *q;                 /* B H d */
    const uint16_t *K16, *V16;
    const rb_kva_cache *c;
    const rb_qdq_params *p;
    const float *Pi;
} rb_kva_args;

/* A record's attention fields (rb_record.kva; "path": "attention" in results). */
typedef struct {
    int on;
    int fp16_cache;                 /* the fp16 cache baseline: the record's method is not used */
    int B, H, kv_heads, split;
    long T;
    double cache_bytes;             /* bytes a decode step reads */
    double bytes_per_token;         /* per cached token of one sequence, all kv heads, K and V */
    double max_rel_err;             /* largest max_j |o^_j - o_j| / max_j |o_j| over (b, h) */
} rb_kva_rec;

#endif
