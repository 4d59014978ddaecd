/* dense_tc.h: the error bounds of TurboQuant-dense's tensor-core kernel (kernels/dense_tc.cuh)
 * against the fp32 reference (dense.h, harness/reference.c), usable on the host and the device.
 * The derivation is at the top of dense_tc.cuh and in docs/tc_dense_notes.md; in short:
 *
 * The kernel forms every dot product s = sum_k a_k b_k of d terms as sum_k fl16(a_k) fl16(b_k)
 * with fp32 accumulation in the MMA units (fp16 products are exact in fp32; the accumulation is
 * modelled with relative error 2^-23 per addition, i.e. a truncating adder, not 2^-24), where
 * fl16 is round-to-nearest fp16: |fl16(v) - v| <= u |v| + eta, u = 2^-11, eta = 2^-25 (half the
 * subnormal spacing). For |a|_2 <= A and |b|_2 <= 1 (a row or column of an orthogonal P):
 *
 *   |s_tc - a.b| <= E(A, d) = (2u + u^2) A + eta (1+u) sqrt(d) (1 + A) + d eta^2
 *                             + g32(d) [ (1+u)^2 A + eta (1+u) sqrt(d) (1 + A) + d eta^2 ]
 *   |s_ref - a.b| <= g24(d) A                      (the CPU's fp32 sum, recursive order)
 *
 * with g(n) = n w / (1 - n w), w = 2^-23 (tc) or 2^-24 (CPU), and A the fp32 row norm: the
 * 2-norm of x-bar is 1 within e_rho = g24(d) + 6 * 2^-24 (the two sides sum the squares in
 * different orders, then sqrt, reciprocal and product round once each side).
 *
 *   y (per coordinate):  |y_tc - y_ref| <= rb_dense_tc_ybound(d)
 *                        = E(1 + e_rho, d) + g24(d)(1 + e_rho) + e_rho (1 + e_rho)
 *   x-hat (per coordinate, the same quantizer indices in both):
 *                        |xh_tc - xh_ref| <= rb_dense_tc_xbound(d, rho, ynorm, |xh_ref|, fp16)
 *                        = rho [ F (1 + e_rho) + e_rho |s_ref| ] + output rounding
 *     F = E(ynorm, d) + g24(d) ynorm, ynorm = |y-hat|_2 (the reference's centroids, which the
 *     kernel rounds to fp16 too: covered by the fl16 of a_k), |s_ref| = |xh_ref| / rho.
 *     Output rounding: 2^-24 (2 |xh_ref| + bound) (both sides round rho * s to fp32); fp16
 *     outputs add u (2 |xh_ref| + bound)(1 + 2u) + 3 eta (both round to fp16 again).
 *
 * The bounds are worst cases (every rounding error of one sign, Cauchy-Schwarz with equality):
 * observed differences are ~sqrt(d) smaller. The agreement rule of the tc variant: an output
 * coordinate agrees when it is within rb_dense_tc_xbound, or when some coordinate of the row's
 * reference y lies within rb_dense_tc_ybound(d) of a quantizer boundary (an index may differ). */
#ifndef RB_DENSE_TC_H
#define RB_DENSE_TC_H

#include "rb_hd.h"

#define RB_DENSE_TC_U 4.8828125e-04         /* 2^-11: fp16 unit roundoff */
#define RB_DENSE_TC_ETA 2.98023223876953125e-08 /* 2^-25: half the fp16 subnormal spacing */

RB_HD double rb_dense_tc_gamma(int n, double w) { return n * w / (1.0 - n * w); }

/* E(A, d): the tc dot product against the exact one (see above). */
RB_HD double rb_dense_tc_dot_err(double A, int d)
{
    const double u = RB_DENSE_TC_U, eta = RB_DENSE_TC_ETA, sd = sqrt((double)d);
    const double g = rb_dense_tc_gamma(d, 1.1920928955078125e-07 /* 2^-23 */);
    const double lin = eta * (1.0 + u) * sd * (1.0 + A) + d * eta * eta;
    return (2.0 * u + u * u) * A + lin + g * ((1.0 + u) * (1.0 + u) * A + lin);
}

/* e_rho: the relative difference of the GPU's and the CPU's row norm (and so of x-bar). */
RB_HD double rb_dense_tc_erho(int d) { return rb_dense_tc_gamma(d, 5.9604644775390625e-08) + 6.0 * 5.9604644775390625e-08; }

/* |y_tc - y_ref| per coordinate, any row (|x-bar| = 1), any orthogonal P. */
RB_HD float rb_dense_tc_ybound(int d)
{
    const double e = rb_dense_tc_erho(d), g24 = rb_dense_tc_gamma(d, 5.9604644775390625e-08);
    const double b = rb_dense_tc_dot_err(1.0 + e, d) + g24 * (1.0 + e) + e * (1.0 + e);
    return (float)(b * (1.0 + 1e-6)); /* rounded up */
}

/* |xh_tc - xh_ref| for one output coordinate, given the same quantizer indices: rho = the row
 * norm, ynorm = |y-hat|_2 (the reference's dequantized y), xref = the reference output, fp16 =
 * 1 when the output is stored as fp16 (both sides round to nearest even). */
RB_HD float rb_dense_tc_xbound(int d, float rho, float ynorm, float xref, int fp16)
{
    const double e = rb_dense_tc_erho(d), g24 = rb_dense_tc_gamma(d, 5.9604644775390625e-08);
    const double ax = fabs((double)xref), r = rho;
    const double F = rb_dense_tc_dot_err(ynorm, d) + g24 * ynorm;
    double b = r * (F * (1.0 + e) + e * (r > 0.0 ? ax / r : 0.0));
    b += 5.9604644775390625e-08 * (2.0 * ax + b); /* the fp32 products rho * s, both sides */
    if (fp16) /* then both round to fp16 (ax is itself fp16-rounded: 2u covers it) */
        b += RB_DENSE_TC_U * (2.0 * ax + b) * (1.0 + 2.0 * RB_DENSE_TC_U) + 3.0 * RB_DENSE_TC_ETA;
    return (float)(b * (1.0 + 1e-6));
}

/* Whether TurboQuant-dense's fast variant runs on the tensor cores for these parameters
 * (kernels/turboquant_dense.cu; with 16-byte aligned buffers): d = 128, 256, 512, and not under
 * assume_unit_norm (which the fp32 path implements). The agreement rule follows the route. */
RB_HD int rb_dense_tc_route(int d, int unit_norm) { return (d == 128 || d == 256 || d == 512) && !unit_norm; }

#endif
