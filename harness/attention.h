/* attention.h: the attention-level metrics of a record (definition: kernels/common/attn.h),
 * computed by the CPU here and by the GPU in kernels/attention.cu; both finish alike. */
#ifndef RB_ATTENTION_H
#define RB_ATTENTION_H

#include "attn.h"

typedef struct {
    int computed;      /* 0: the config asked for none */
    int nq, T;
    long groups;       /* per query */
    double ip_err;     /* sum (<q,x> - <q,x^>)^2 / sum <q,x>^2 */
    double ip_bias;    /* mean <q, x^ - x> */
    double kl, top1, top5, out_cos; /* means over (query, group) */
} rb_attn;

/* Indices of the k largest of v[0, n) over the rows with ok[i] (ties: the lower index first). */
void rb_attn_top_k(const double *v, const char *ok, int n, int k, int *out);

/* Groups of T rows among N: floor(N / T), or 1 when N < T. */
long rb_attn_groups(long N, int T);

/* The CPU's parts: parts[qi * groups + g] for the nq queries q (nq x d) over N rows of keys x
 * and xh, with values v and vh paired row by row (NULL: the keys' rows serve as values). */
void rb_attn_parts_cpu(const float *x, const float *xh, const float *v, const float *vh, int d, long N, const float *q,
                       int nq, int T, rb_attn_part *parts);

/* The record's figures from the parts, summed in a fixed order (queries, then groups). */
void rb_attn_finish(const rb_attn_part *parts, int nq, long groups, int T, rb_attn *out);

#endif
