/* kvattn_cpu.h: decode attention over a KV cache on the CPU (issue 28 point 3): the fp32
 * reference, the compressed and fp16 caches computed as the GPU computes them, and the metrics.
 * The problem is described by kernels/common/kvattn.h's rb_kvattn_args (layout, scores, splits),
 * here with host pointers. HQMQ has no scalar codes and no place on this path. */
#ifndef RB_KVATTN_CPU_H
#define RB_KVATTN_CPU_H

#include "kvattn.h"
#include "kvattn_split.h"
#include "qdq.h"

/* Rows of the cache: B Hkv T. */
static inline long rb_kva_rows(const rb_kvattn_args *a) { return (long)a->B * a->Hkv * a->T; }

/* Host bytes the sweep allocates for a's shape with methods up to dpad (fp32 K and V, their fp16
 * copies, an 8-bit compressed cache with fp32 norms, the scores and outputs), for the check
 * before any work. */
double rb_kva_host_bytes(const rb_kvattn_args *a, int dpad);

/* Pi (dpad x dpad, row-major): Pi[i][j] = (rotate_fwd(e_j))_i, from the method's CPU rotation. */
void rb_kva_rotation_matrix(const rb_qdq_params *p, float *Pi);

/* The fp32 reference: exact attention over the unquantized K, V ([B][Hkv][T][d]) in double:
 * o (B Hq d doubles) and, unless NULL, the scaled scores <q, k_i> / sqrt(d) (B Hq T doubles). */
void rb_kva_reference(const rb_kvattn_args *a, const float *K, const float *V, double *o, double *scores);

/* a's attention into a->o (kvattn.h's split math): over the compressed cache, or its fp16 cache
 * when fp16. */
void rb_kva_attend(const rb_kvattn_args *a, int fp16);
/* The scores that attention takes (scaled), for the metrics: B Hq T doubles. */
void rb_kva_scores(const rb_kvattn_args *a, int fp16, double *scores);

/* a->o against the reference: means over (b, h) of the output cosine, KL(p || p^), top-1 and
 * top-5 (attn.h's definitions), and the largest max_j |o^_j - o_j| / max_j |o_j| over (b, h). */
typedef struct {
    double out_cos, kl, top1, top5, max_rel_err;
} rb_kva_metrics;
void rb_kva_compare(const rb_kvattn_args *a, const double *ref_scores, const double *ref_o, const double *scores,
                    rb_kva_metrics *m);

#endif
