/* reference.h: the CPU reference of the rotation methods' pipeline (qdq.h),
 *   rho = |x|, xb = x / max(rho, eps), y = T(xb), yq = Q(y), xh = rho * T^-1(yq),
 * with T the method's rotate_fwd. Every backend's rows are checked against it. */
#ifndef RB_REFERENCE_H
#define RB_REFERENCE_H

#include "registry.h"

/* Whole-vector rotation of v[0, p->dpad) by p's method (nothing for a method without one);
 * tmp holds dpad floats. */
void rb_rotate_fwd(const rb_qdq_params *p, float *v, float *tmp);
void rb_rotate_inv(const rb_qdq_params *p, float *v, float *tmp);

/* The first half of the pipeline, which the fused row and the packed encode (kvcodec_cpu.c)
 * share so they agree to the bit: rho = |x| (1 under assume_unit_norm) returned, and v (dpad
 * floats) = T(x / max(rho, eps)) zero-padded; tmp holds dpad floats. For a non-finite rho, v is
 * untouched (rb_row_is_finite tells). */
float rb_rotate_row_in(const rb_qdq_params *p, const float *x, float *v, float *tmp);

/* One row: x (d floats) -> out (d floats); v and tmp hold dpad floats each. A row with a
 * non-finite norm comes out all NaN; a zero row comes out zero (rho = 0 rescales to 0). Any
 * method: a method with its own row (HQMQ) runs that. */
void rb_qdq_row(const rb_qdq_params *p, const float *x, float *out, float *v, float *tmp);

#endif
