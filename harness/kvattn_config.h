/* kvattn_config.h: the config's "kv_attention" object (docs/config-format.md): decode
 * attention over a compressed KV cache (harness/kvattn.h). Kept apart from config.h so that
 * config.h carries one field of this type and nothing else of the attention path. */
#ifndef RB_KVATTN_CONFIG_H
#define RB_KVATTN_CONFIG_H

#include <stddef.h>

#define RB_KVA_MAX_AXIS 16
#define RB_KVA_T_MAX (1L << 24)   /* cached tokens per sequence */
#define RB_KVA_SYNTHETIC 0
#define RB_KVA_FILES 1
#define RB_KVA_ORDER_BHT 0        /* file rows in [B][kv_heads][T] order */
#define RB_KVA_ORDER_BTH 1        /* file rows in [B][T][kv_heads] order ([token, head, d] tensors) */

/* One of the "k", "v", "q" file inputs: the fields of a file distribution that apply. */
typedef struct {
    char path[1024];
    char tensor[128];
    int split_axis;  /* -1: none; else one cache per index of this leading axis */
    int rows_mode;   /* RB_ROWS_ALL / _FIRST (config.h) */
    long rows_n;
} rb_kva_file;

typedef struct {
    int on;                        /* the config has a "kv_attention" object */
    int nB, nH, nkv, nT;
    int B[RB_KVA_MAX_AXIS], H[RB_KVA_MAX_AXIS];
    int kv_heads[RB_KVA_MAX_AXIS]; /* nkv == 0: kv_heads = H */
    long T[RB_KVA_MAX_AXIS];       /* nT == 0 with files: T from the rows */
    int split;                     /* tokens per split block; 0: "auto" (rb_kva_auto_split) */
    int input;                     /* RB_KVA_SYNTHETIC or RB_KVA_FILES */
    int order;                     /* files: RB_KVA_ORDER_* */
    rb_kva_file k, v, q;
} rb_kva_config;

/* Parse the "kv_attention" object it of the config at path. 0, or -1 with one line in err
 * ("<path>: key 'kv_attention.T[1]': expected ..., got ..."). */
struct cJSON;
int rb_kva_config_parse(const char *path, const struct cJSON *it, rb_kva_config *kc, char *err, size_t errlen);

#endif
