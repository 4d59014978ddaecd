/* scalar_quant.h: the Lloyd-Max scalar quantizer shared by every rotation method.
 * The index is the number of boundaries y exceeds (branch-free, 2^b - 1 compares); a value
 * exactly on a boundary goes to the lower cell. */
#ifndef RB_SCALAR_QUANT_H
#define RB_SCALAR_QUANT_H

#include "rb_hd.h"

RB_HD int rb_sq_index(float y, const float *bounds, int nbounds)
{
    int idx = 0;
    for (int k = 0; k < nbounds; k++)
        idx += (y > bounds[k]);
    return idx;
}

RB_HD float rb_sq_qdq(float y, const float *bounds, const float *centroids, int nbounds)
{
    return centroids[rb_sq_index(y, bounds, nbounds)];
}

#endif
