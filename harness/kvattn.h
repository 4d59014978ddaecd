/* kvattn.h: decode attention over a compressed KV cache (issue 28 point 3), the CPU side: the
 * shapes, the fp32 reference, the compressed and fp16 caches' attention as the GPU computes it
 * (kernels/common/kvattn_split.h), the metrics, and the sweep of a config's "kv_attention".
 *
 * Layout: B sequences, H query heads, kv_heads KV heads (H % kv_heads == 0: query head h reads
 * kv head h / (H / kv_heads)), T cached tokens, d. Queries q[B][H][d] fp32; K, V [B][kv_heads][T][d];
 * output o[B][H][d]. Scores <q, k> / sqrt(d). A compressed cache holds, per K and per V, codes
 * [B][kv_heads][T] rows of rb_kv_row_bytes(dpad, bits) bytes and norms [B][kv_heads][T]
 * (kernels/common/kvpack.h). HQMQ has no scalar codes and no place on this path. */
#ifndef RB_KVATTN_H
#define RB_KVATTN_H

#include <stdint.h>

#include "backend.h"
#include "kvattn_types.h"
#include "kvattn_split.h"
#include "kvpack.h"
#include "results.h"

/* Rows of the cache: B kv_heads T. */
static inline long rb_kva_rows(const rb_kva_shape *s) { return (long)s->B * s->kv_heads * s->T; }

/* Bytes a decode step reads: codes and norms of K and V (bits > 0), or the fp16 K and V (bits 0). */
double rb_kva_cache_bytes(const rb_kva_shape *s, int dpad, int bits, int norm_kind);

/* Everything a device run of one shape needs at once (q, o, the fp16 cache, one compressed
 * cache, Pi, the per-split partials): for the GPU backend's memory check before any work. */
double rb_kva_device_bytes(const rb_kva_shape *s, int dpad, int max_bits);

/* Host bytes the CPU sweep allocates for a shape (fp32 K, V, their fp16 copies, one compressed
 * cache, the reference's outputs); for the check before any work. */
double rb_kva_host_bytes(const rb_kva_shape *s, int dpad);

/* Pi (dpad x dpad, row-major): Pi[i][j] = (rotate_fwd(e_j))_i, from the method's CPU rotation. */
void rb_kva_rotation_matrix(const rb_qdq_params *p, float *Pi);

/* Encode rows of d floats as the packed format (kvpack.h): rho = |x| (fp32, coordinate order),
 * codes of the rotated, normalized row. codes: rows x row_bytes zeroed here; norms per norm_kind. */
void rb_kva_encode(const rb_qdq_params *p, const float *x, long rows, int norm_kind, uint32_t *codes, void *norms);

/* The fp32 reference: exact attention over K, V in double (o: B H d doubles); scores, when
 * not NULL, gets <q, k_i> in double for every (b, h, i) (B H T doubles). */
void rb_kva_reference(const rb_kva_shape *s, const float *q, const float *K, const float *V, double *o,
                      double *scores);

/* Over the compressed cache, in the rotated domain (kvattn_split.h): o (B H d floats). */
void rb_kva_attend_codes(const rb_kva_shape *s, const rb_qdq_params *p, const float *Pi, const float *q,
                         const rb_kva_cache *c, float *o);
/* The scores it takes, unscaled (rho_i <q', c_i>), for the metrics: B H T doubles. */
void rb_kva_scores_codes(const rb_kva_shape *s, const rb_qdq_params *p, const float *Pi, const float *q,
                         const rb_kva_cache *c, double *scores);

/* Over the fp16 cache (K16, V16: B kv_heads T d halves), in the original domain. */
void rb_kva_attend_fp16(const rb_kva_shape *s, const float *q, const uint16_t *K16, const uint16_t *V16, float *o);
void rb_kva_scores_fp16(const rb_kva_shape *s, const float *q, const uint16_t *K16, double *scores);

/* Against the reference: means over (b, h) of the output cosine, KL(p || p^), top-1, top-5
 * (attn.h's definitions), and the largest max_j |o^_j - o_j| / max_j |o_j| over (b, h). */
typedef struct {
    double out_cos, kl, top1, top5, max_rel_err;
} rb_kva_metrics;
void rb_kva_compare(const rb_kva_shape *s, const double *ref_scores, const double *ref_o, const double *scores,
                    const float *o, rb_kva_metrics *m);

/* The config's attention sweep on backend b: every (shape, method, bits) and the fp16 cache,
 * each a record handed to sink (0 to go on). 0 done, 1 a run-time failure, 2 a bad input
 * (one line on stderr, before any work). */
typedef int (*rb_kva_sink)(void *ctx, const rb_record *r);
int rb_kvattn_sweep(const rb_config *cfg, rb_backend *b, rb_kva_sink sink, void *ctx);

/* The attention records of run as a Markdown table (time, bytes, speedup over the fp16 cache,
 * the metrics). */
void rb_kvattn_print_markdown(const rb_run *run, FILE *out);

#endif
