/* dense.h: TurboQuant-dense, y = P x and x = P^T y for an orthogonal d x d matrix P
 * (row-major). d^2 FMA each way, done honestly. */
#ifndef RB_DENSE_H
#define RB_DENSE_H

#include "rb_hd.h"

RB_HD void rb_dense_fwd(const float *P, const float *x, float *y, int d)
{
    for (int i = 0; i < d; i++) {
        float acc = 0.0f;
        for (int j = 0; j < d; j++)
            acc += P[(long)i * d + j] * x[j];
        y[i] = acc;
    }
}

RB_HD void rb_dense_inv(const float *P, const float *y, float *x, int d)
{
    for (int j = 0; j < d; j++)
        x[j] = 0.0f;
    for (int i = 0; i < d; i++) {
        float yi = y[i];
        for (int j = 0; j < d; j++)
            x[j] += P[(long)i * d + j] * yi;
    }
}

#endif
