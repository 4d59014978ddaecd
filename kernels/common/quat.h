/* quat.h: Hamilton product on quaternions stored as (w, x, y, z) = (q0, q1, q2, q3).
 * 16 multiplies, 12 adds; the IsoQuant rotations are one or two of these per 4-block. */
#ifndef RB_QUAT_H
#define RB_QUAT_H

#include "rb_hd.h"

RB_HD void rb_quat_mul(const float a[4], const float b[4], float out[4])
{
    float r0 = a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
    float r1 = a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2];
    float r2 = a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1];
    float r3 = a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0];
    out[0] = r0; out[1] = r1; out[2] = r2; out[3] = r3;
}

RB_HD void rb_quat_conj(const float q[4], float out[4])
{
    out[0] = q[0]; out[1] = -q[1]; out[2] = -q[2]; out[3] = -q[3];
}

/* IsoQuant-Full: v -> qL * v * conj(qR), and its inverse conj(qL) * y * qR. */
RB_HD void rb_iso_full_fwd(const float qL[4], const float qR[4], float v[4])
{
    float t[4], c[4];
    rb_quat_mul(qL, v, t);
    rb_quat_conj(qR, c);
    rb_quat_mul(t, c, v);
}

RB_HD void rb_iso_full_inv(const float qL[4], const float qR[4], float v[4])
{
    float t[4], c[4];
    rb_quat_conj(qL, c);
    rb_quat_mul(c, v, t);
    rb_quat_mul(t, qR, v);
}

/* IsoQuant-Fast: v -> qL * v, inverse conj(qL) * y. */
RB_HD void rb_iso_fast_fwd(const float qL[4], float v[4])
{
    float t[4];
    rb_quat_mul(qL, v, t);
    v[0] = t[0]; v[1] = t[1]; v[2] = t[2]; v[3] = t[3];
}

RB_HD void rb_iso_fast_inv(const float qL[4], float v[4])
{
    float t[4], c[4];
    rb_quat_conj(qL, c);
    rb_quat_mul(c, v, t);
    v[0] = t[0]; v[1] = t[1]; v[2] = t[2]; v[3] = t[3];
}

#endif
