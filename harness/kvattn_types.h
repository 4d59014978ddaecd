/* kvattn_types.h: a record's fields of decode attention over a KV cache, apart so that
 * backend.h can name them without the rest of the attention path. The problem's description,
 * the same for both backends, is kernels/common/kvattn.h's rb_kvattn_args. */
#ifndef RB_KVATTN_TYPES_H
#define RB_KVATTN_TYPES_H

#include "kvattn.h"

/* A record's attention fields (rb_record.kva; "path": "attention" in results). */
typedef struct {
    int on;
    int fp16_cache;                 /* the fp16 cache baseline: the record's method is not used */
    int B, H, kv_heads, split;
    long T;
    int input;                      /* RB_KVA_SYNTHETIC or RB_KVA_FILES (kvattn_config.h) */
    double cache_bytes;             /* bytes a decode step reads */
    double bytes_per_token;         /* per cached token of one sequence, all kv heads, K and V */
    double max_rel_err;             /* largest max_j |o^_j - o_j| / max_j |o_j| over (b, h) */
} rb_kva_rec;

#endif
