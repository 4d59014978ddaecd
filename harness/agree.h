/* agree.h: the one rule by which a kernel's output agrees with its CPU reference, used by the
 * in-run check of every GPU setting and by `make test-gpu` alike.
 *
 *   element:  |gpu - ref| <= 1e-5 max(1, |x|) for fp32 outputs, |x| the input row's norm (the
 *             output is |x| times unit-scale quantities: rows of a file keep their norms), or
 *             <= 1 fp16 ulp of the larger of the two for fp16 outputs (the GPU rounds its own
 *             fp32 result, which may sit on the other side of a rounding midpoint);
 *   row:      a row whose input is not finite comes out all NaN; a zero row comes out all
 *             zero (under assume_unit_norm a zero row is quantized like any other, and what a
 *             non-finite row comes out as is not defined: such rows are not compared); a NaN
 *             where the reference is finite is an unwritten element;
 *   flip:     a row with elements beyond the tolerance agrees only as a flip, where the
 *             reference's choice sat within rounding of a tie, as the method judges it
 *             (method_hooks.h, explain): rotation methods, a rotated coordinate within 1e-5
 *             of a quantizer boundary (the paper variant's nearest-centroid search: within
 *             2e-5 of equidistant from two centroids); HQMQ, each differing 4-chunk's two
 *             codewords scoring within 1e-5 (fp16: 2e-3) of each other;
 *   budget:   flips up to 1 % of the rows checked, at least 1.
 *   lower precision: a fast variant with a derived bound on its rotated coordinates (method.h
 *             fast_ybound: TurboQuant-dense on the tensor cores, kernels/common/dense_tc.h)
 *             widens the element tolerance by 2 ybound |x| and the tie test to ybound; the flips
 *             that explains are counted apart and not budgeted (the bound is a worst case that
 *             most rows come within); its test adds that the MSE stays within 0.5 % of the
 *             reference's.
 *
 * Anything else is a disagreement: the in-run check fails the setting (exit status 1), the
 * tests fail. */
#ifndef RB_AGREE_H
#define RB_AGREE_H

#include <stddef.h>

#include "config.h"

#define RB_AGREE_F32_ABS 1e-5
#define RB_AGREE_F16_ULPS 1.0
#define RB_AGREE_FLIP_TOL 1e-5
#define RB_AGREE_FLIP_FRAC 0.01

typedef struct {
    long rows, flips, bad_rows, unwritten, nan_rows, zero_rows;
    long lowprec_flips; /* flips a lower-precision route's bound explains (not budgeted) */
    double max_abs;  /* largest |gpu - ref| over the rows that agree */
    long first_row;  /* the first disagreement: row, column, values, why (-1: none) */
    int first_col;
    double first_gpu, first_ref;
    const char *first_why;
} rb_agree_stats;

/* Spacing of fp16 values at magnitude |v| (the subnormal spacing below 2^-14). */
double rb_f16_ulp(double v);
/* One element of a row whose input norm is rho: 1 when gpu agrees with ref under the rule. */
int rb_agree_elem(rb_dtype dt, double gpu, double ref, double rho);
/* The norm of a row of d floats, in double (0 for a non-finite row). */
double rb_agree_row_norm(const float *x, int d);

void rb_agree_init(rb_agree_stats *st);
/* Compare N rows of d = p->d values: x the input rows, ref the CPU reference (rounded to fp16
 * for fp16), gpu the kernel's output; accumulates into st. p: host pointers. */
void rb_agree_rows(const rb_qdq_params *p, int variant, rb_dtype dt, const float *x, const float *ref,
                   const float *gpu, long N, rb_agree_stats *st);
/* 1 when st holds no disagreement and the flips are within the budget. */
int rb_agree_ok(const rb_agree_stats *st);
/* One line: what disagreed, where, by how much; or the counts when all agreed. */
void rb_agree_describe(const rb_agree_stats *st, char *buf, size_t n);

/* The rotation methods' flip test: does the CPU's y = T(x / |x|) of this row put a coordinate
 * within rounding of a cell edge? The number of flips (1) or 0. */
long rb_agree_near_boundary(const rb_qdq_params *p, int variant, rb_dtype dt, const float *x,
                            const float *ref, const float *gpu);

#endif
