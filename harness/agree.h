/* agree.h: the one rule by which a kernel's output agrees with its CPU reference, used by the
 * in-run check of every GPU setting and by `make test-gpu` alike.
 *
 *   element:  |gpu - ref| <= 1e-5 max(1, |x|) for fp32 outputs, |x| the input row's norm (the
 *             output is |x| times unit-scale quantities: rows of a file keep their norms); for
 *             fp16 outputs
 *                 |gpu - ref| <= ulp16(max(|gpu|, |ref|)) + 2 u (D + 2) S + d u max(|gpu|, |ref|)
 *             with u = 2^-24, D the method's summation depth and S = (1 + 2^-10) |ref row|
 *             (derivation below);
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
 * tests fail.
 *
 * The fp16 element rule. Both sides compute xh_j = rho sum_i M_ji yq_i in fp32 (M the inverse
 * rotation, orthogonal; yq the quantized coordinates, the same on both sides unless a flip)
 * and round it to fp16; they differ only in the order of the fp32 operations.
 *  1. Each side's fp32 sum: whatever the order, every rounding on the D operations on one
 *     output's longest path errs by at most u times a partial sum, itself at most
 *     sum_i |M_ji yq_i| <= |M_j| |yq| = |yq| (Cauchy-Schwarz, rows of M of norm 1); with the
 *     multiplication by rho and the 1 / sqrt(d) scale one rounding each: |e| <= (D + 2) u rho
 *     |yq| (first order). Block methods sum within a block, whose norm is at most the row's.
 *     rho |yq| = |xh|, which the fp16 reference gives to within 2^-11 per element:
 *     S = (1 + 2^-10) |ref row| bounds it. The two sides' errors may have opposite signs: 2x.
 *  2. rho itself: d squares summed in fp32 err by at most (d - 1) u relative, its square root
 *     by half that plus u; the two sides' norms differ by at most d u relative, which every
 *     output carries: d u |xh_j|.
 *  3. Rounding a and b to fp16 moves each by at most half an ulp of the larger:
 *     |f16(a) - f16(b)| <= |a - b| + ulp16(max).
 * So |gpu - ref| <= ulp16 + 2 (D + 2) u S + d u |xh_j| (at most twice max(ulp16, the rest)).
 * The residues seen are far below the worst case: on a real model's K (norm 15) the GPU's
 * 1.79e-7 against the CPU's 0, 0.2 u rho, three subnormal ulps, which 1 ulp alone refused; at
 * norm 1 the same residue (1.2e-8) is below half the smallest fp16 subnormal (2^-25), so a
 * coordinate that cancels to zero in one order rounds to zero in both, which is why unit-norm
 * inputs never showed it. For elements of size rho / sqrt(d) the ulp term
 * dominates (2 fp16 ulps still disagree), and a real bug's error, a centroid step times rho,
 * is hundreds of times the other terms (tests/test_agree.c).
 *
 * D, the summation depth (rb_agree_depth): the method's hooks' sum_depth, else its nominal
 * forward-rotation FMAs per coordinate, ceil(fma(d) / d), the number of operations that feed
 * one coordinate as the paper counts them (dense d, WHT log2 d, a block method its block's
 * product chain, identity 0); an inverse rotation costs what the forward does. */
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

/* One row's element tolerance (the rule above), computed once per row. */
typedef struct {
    rb_dtype dt;
    double abs32;  /* fp32: 1e-5 max(1, rho) */
    double resid;  /* fp16: 2 u (D + 2) S, the fp32 sums' order */
    double rel;    /* fp16: d u, the row norms' order, relative to the element */
} rb_agree_tol;

/* The method's summation depth D at p's d (see above); at least 0. */
int rb_agree_depth(const rb_qdq_params *p);
/* The tolerance of a row: x its input (d floats), ref its reference output (fp16-rounded
 * for fp16). */
rb_agree_tol rb_agree_row_tol(const rb_qdq_params *p, rb_dtype dt, const float *x, const float *ref);
/* One element: 1 when gpu agrees with ref under the row's tolerance. */
int rb_agree_elem(const rb_agree_tol *t, double gpu, double ref);
/* The same tolerance as a bound on |gpu - ref|, for the lower-precision route to widen. */
double rb_agree_elem_tol(const rb_agree_tol *t, double gpu, double ref);
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
