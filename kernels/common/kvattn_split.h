/* kvattn_split.h: the flash-decoding split and combine of decode attention over a KV cache, one
 * definition for the CPU reference (harness/kvattn_cpu.c) and the CUDA kernels. For one query
 * (b, h) over T cached tokens cut into splits of S tokens (the last one shorter):
 *   split s:  m_s = max_i score_i,  l_s = sum_i exp(score_i - m_s),
 *             acc_s = sum_i exp(score_i - m_s) v_i            (i in the split, in token order)
 *   combine:  M = max_s m_s,  L = sum_s l_s exp(m_s - M),
 *             o = sum_s acc_s exp(m_s - M) / L                 (s in order)
 * everything in fp32 (kvattn.h: the layout, the scores, nsplit and the default split). */
#ifndef RB_KVATTN_SPLIT_H
#define RB_KVATTN_SPLIT_H

#include <math.h>

#include "rb_hd.h"

/* The split's m_s: the largest of its n scores. */
RB_HD float rb_kva_split_max(const float *score, int n)
{
    float m = -INFINITY;
    for (int i = 0; i < n; i++)
        m = score[i] > m ? score[i] : m;
    return m;
}

/* The combine over nsplit split states (m[s], l[s], acc[s * dim + j]) into out[dim]. */
RB_HD void rb_kva_combine(int nsplit, const float *m, const float *l, const float *acc, int dim, float *out)
{
    float M = -INFINITY;
    for (int s = 0; s < nsplit; s++)
        M = m[s] > M ? m[s] : M;
    float L = 0.0f;
    for (int s = 0; s < nsplit; s++)
        L += l[s] * expf(m[s] - M);
    for (int j = 0; j < dim; j++) {
        float o = 0.0f;
        for (int s = 0; s < nsplit; s++)
            o += acc[(long)s * dim + j] * expf(m[s] - M);
        out[j] = o / L;
    }
}

#endif
