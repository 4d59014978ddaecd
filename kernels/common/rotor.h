/* rotor.h: RotorQuant's Cl(3,0) rotor sandwich v -> R v R~ on 3-blocks.
 * A rotor is R = [s, p12, p13, p23]; a multivector is
 * [x0, x1, x2, x3, x12, x13, x23, x123] (scalar, e1, e2, e3, e12, e13, e23, e123).
 * The two general products follow docs/methods.md's tables (derived from e_i^2 = +1); the
 * sparse sandwich below is what the kernels run, and the tests check it against them. */
#ifndef RB_ROTOR_H
#define RB_ROTOR_H

#include "rb_hd.h"

/* R * x for a rotor R and a general multivector x. */
RB_HD void rb_cl3_rotor_mul_left(const float R[4], const float x[8], float r[8])
{
    float s = R[0], p12 = R[1], p13 = R[2], p23 = R[3];
    r[0] = s * x[0] - p12 * x[4] - p13 * x[5] - p23 * x[6];
    r[1] = s * x[1] + p12 * x[2] + p13 * x[3] - p23 * x[7];
    r[2] = s * x[2] - p12 * x[1] + p23 * x[3] + p13 * x[7];
    r[3] = s * x[3] - p13 * x[1] - p23 * x[2] - p12 * x[7];
    r[4] = s * x[4] + p12 * x[0] + p23 * x[5] - p13 * x[6];
    r[5] = s * x[5] + p13 * x[0] - p23 * x[4] + p12 * x[6];
    r[6] = s * x[6] + p23 * x[0] + p13 * x[4] - p12 * x[5];
    r[7] = s * x[7] + p23 * x[1] - p13 * x[2] + p12 * x[3];
}

/* x * R for a general multivector x and a rotor R. */
RB_HD void rb_cl3_rotor_mul_right(const float x[8], const float R[4], float r[8])
{
    float s = R[0], p12 = R[1], p13 = R[2], p23 = R[3];
    r[0] = s * x[0] - p12 * x[4] - p13 * x[5] - p23 * x[6];
    r[1] = s * x[1] - p12 * x[2] - p13 * x[3] - p23 * x[7];
    r[2] = s * x[2] + p12 * x[1] - p23 * x[3] + p13 * x[7];
    r[3] = s * x[3] + p13 * x[1] + p23 * x[2] - p12 * x[7];
    r[4] = s * x[4] + p12 * x[0] - p23 * x[5] + p13 * x[6];
    r[5] = s * x[5] + p13 * x[0] + p23 * x[4] - p12 * x[6];
    r[6] = s * x[6] + p23 * x[0] - p13 * x[4] + p12 * x[5];
    r[7] = s * x[7] + p23 * x[1] - p13 * x[2] + p12 * x[3];
}

RB_HD void rb_cl3_reverse(const float R[4], float Rr[4])
{
    Rr[0] = R[0]; Rr[1] = -R[1]; Rr[2] = -R[2]; Rr[3] = -R[3];
}

/* General sandwich R x R~ on a full multivector (reference for the tests). */
RB_HD void rb_cl3_sandwich(const float R[4], const float x[8], float out[8])
{
    float t[8], Rr[4];
    rb_cl3_rotor_mul_left(R, x, t);
    rb_cl3_reverse(R, Rr);
    rb_cl3_rotor_mul_right(t, Rr, out);
}

/* Sparse sandwich of a pure vector v = (v1, v2, v3): R v keeps only grades 1 and 3, and
 * (R v) R~ of those keeps grade 1 (grade 3 cancels for a unit rotor and is dropped, as the
 * method keeps the grade-1 part). 12 + 12 multiplies instead of the paper's nominal 56. */
RB_HD void rb_rotor_apply(const float R[4], float v[3])
{
    float s = R[0], p12 = R[1], p13 = R[2], p23 = R[3];
    float t1 = s * v[0] + p12 * v[1] + p13 * v[2];
    float t2 = s * v[1] - p12 * v[0] + p23 * v[2];
    float t3 = s * v[2] - p13 * v[0] - p23 * v[1];
    float t123 = p23 * v[0] - p13 * v[1] + p12 * v[2];
    /* right product with R~ = [s, -p12, -p13, -p23] */
    v[0] = s * t1 + p12 * t2 + p13 * t3 + p23 * t123;
    v[1] = s * t2 - p12 * t1 + p23 * t3 - p13 * t123;
    v[2] = s * t3 - p13 * t1 - p23 * t2 + p12 * t123;
}

/* Forward R v R~ and inverse R~ v R (the sandwich with the reversed rotor). */
RB_HD void rb_rotor_fwd(const float R[4], float v[3]) { rb_rotor_apply(R, v); }

RB_HD void rb_rotor_inv(const float R[4], float v[3])
{
    float Rr[4];
    rb_cl3_reverse(R, Rr);
    rb_rotor_apply(Rr, v);
}

#endif
