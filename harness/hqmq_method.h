/* hqmq_method.h: HQMQ as a registered method (hqmq_method.c): its counts, which depend on the
 * operating point (S, radius bits) rather than on bits, and its parameter shape. */
#ifndef RB_HQMQ_METHOD_H
#define RB_HQMQ_METHOD_H

#include "registry.h"

/* Per vector, g = ceil(d/4) chunks of 16 S FMA (one product w = u conj(q_s) per secondary) +
 * 16 (the reconstruction product); 4 S parameters (the q_s). */
long rb_hqmq_fma(int d, int S);
long rb_hqmq_params(int S);
/* Shape p for HQMQ at operating point (S, rbits) (bits = 0, no codebook; hq_thresh = +inf
 * until the Med3x pre-pass sets it); p->rot is left to the caller. */
void rb_hqmq_params_shape(rb_qdq_params *p, int d, int S, int rbits, int outliers, double C,
                          int sigma_inliers);

#endif
