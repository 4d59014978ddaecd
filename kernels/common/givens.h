/* givens.h: PlanarQuant's 2-D Givens rotation, parameters (cos t, sin t). 4 FMA forward. */
#ifndef RB_GIVENS_H
#define RB_GIVENS_H

#include "rb_hd.h"

RB_HD void rb_givens_fwd(float c, float s, float u[2])
{
    float a = c * u[0] - s * u[1];
    float b = s * u[0] + c * u[1];
    u[0] = a; u[1] = b;
}

RB_HD void rb_givens_inv(float c, float s, float u[2])
{
    float a = c * u[0] + s * u[1];
    float b = -s * u[0] + c * u[1];
    u[0] = a; u[1] = b;
}

#endif
