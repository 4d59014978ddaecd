/* attn.h: attention-level fidelity, one definition for both backends (harness/attention.c on
 * the CPU, kernels/attention.cu on the GPU). For each query q and each group of T consecutive
 * rows (the keys; the values are the rows of a paired input, row i with key row i, or the keys'
 * own rows when none is given):
 *   s_i = <q, x_i>, s^_i = <q, x^_i>      dot products in double, in coordinate order (both
 *                                          backends form them bit-identically: the product of
 *                                          two floats is exact in double)
 *   p = softmax(s / sqrt(d)), p^ = softmax(s^ / sqrt(d))
 *   KL(p || p^); top-1: argmax p == argmax p^ (ties: the lower row); top-5: |top5(p) and
 *   top5(p^)| / 5 (k = min(5, rows) for a smaller group); the cosine of o = sum_i p_i v_i and
 *   o^ = sum_i p^_i v^_i (values quantized by the same method as keys are).
 * Over every (q, row): the inner-product error sum (s - s^)^2 / sum s^2 and its bias, the mean of
 * s^ - s. A row with a non-finite value in x, x^, v or v^ takes no part. Groups: floor(N / T) of T rows,
 * or one group of N rows when N < T. */
#ifndef RB_ATTN_H
#define RB_ATTN_H

typedef struct {
    double kl, top1, top5, cos;     /* this (query, group) */
    double err2, ref2, bias, rows;  /* inner products: sums over the group's finite rows */
} rb_attn_part;

#define RB_ATTN_TOPK 5
#define RB_ATTN_MAX_T 1024

#endif
