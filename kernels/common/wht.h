/* wht.h: TurboQuant's randomized Walsh-Hadamard transform, y = H (s .* x) / sqrt(d).
 * H is the Sylvester-Hadamard matrix (symmetric, H H = d I), so the inverse is
 * x = s .* (H y) / sqrt(d). The butterfly is the unit both the in-place loop here and the
 * kernels' register/shuffle stages are built from. */
#ifndef RB_WHT_H
#define RB_WHT_H

#include "rb_hd.h"

RB_HD void rb_butterfly(float *a, float *b)
{
    float u = *a, v = *b;
    *a = u + v;
    *b = u - v;
}

/* Unnormalized in-place Hadamard transform of x[0..d), d a power of two: log2(d) stages. */
RB_HD void rb_hadamard(float *x, int d)
{
    for (int h = 1; h < d; h <<= 1)
        for (int i = 0; i < d; i += 2 * h)
            for (int j = i; j < i + h; j++)
                rb_butterfly(&x[j], &x[j + h]);
}

RB_HD void rb_wht_fwd(const float *sign, float *x, int d, float inv_sqrt_d)
{
    for (int j = 0; j < d; j++)
        x[j] *= sign[j];
    rb_hadamard(x, d);
    for (int j = 0; j < d; j++)
        x[j] *= inv_sqrt_d;
}

RB_HD void rb_wht_inv(const float *sign, float *x, int d, float inv_sqrt_d)
{
    rb_hadamard(x, d);
    for (int j = 0; j < d; j++)
        x[j] *= inv_sqrt_d * sign[j];
}

#endif
