#include "counts.h"

#include <math.h>

static long ceil_div(long a, long b) { return (a + b - 1) / b; }

static long ilog2(long d)
{
    long l = 0;
    while ((1L << (l + 1)) <= d)
        l++;
    return l;
}

long rb_nominal_fma(rb_method m, int d)
{
    switch (m) {
    case RB_TQ_WHT: return (long)d * ilog2(d);     /* adds, as the paper counts the butterflies */
    case RB_TQ_DENSE: return (long)d * d;
    case RB_ROTOR: return 56 * ceil_div(d, 3);     /* two sparse Cl(3,0) products per 3-block */
    case RB_ISO_FULL: return 32 * ceil_div(d, 4);  /* two quaternion products per 4-block */
    case RB_ISO_FAST: return 16 * ceil_div(d, 4);
    case RB_PLANAR: return 4 * ceil_div(d, 2);
    default: return 0;
    }
}

long rb_param_count(rb_method m, int d) { return rb_method_rot_len(m, d); }

double rb_bits_per_coord(rb_method m, int d, int bits)
{
    long k = rb_method_block(m, d);
    long dpad = ceil_div(d, k) * k;
    return ((double)bits * dpad + 16.0) / d;
}

void rb_qdq_params_shape(rb_qdq_params *p, rb_method m, int d, int bits)
{
    p->method = m;
    p->d = d;
    p->bits = bits;
    p->block = rb_method_block(m, d);
    p->nblocks = (int)ceil_div(d, p->block);
    p->dpad = p->nblocks * p->block;
    p->nbounds = (1 << bits) - 1;
    p->cells = NULL;
}

long rb_hqmq_fma(int d, int S) { return (16L * S + 16) * ceil_div(d, 4); }

long rb_hqmq_params(int S) { return 4L * S; }

void rb_hqmq_params_shape(rb_qdq_params *p, int d, int S, int rbits, int outliers, double C,
                          int sigma_inliers)
{
    rb_qdq_params_shape(p, RB_HQMQ, d, 1);
    p->bits = 0;
    p->nbounds = 0;
    p->bounds = p->centroids = NULL;
    p->hq_S = S;
    p->hq_rbits = rbits;
    p->hq_outliers = outliers;
    p->hq_C = (float)C;
    p->hq_sigma_inliers = sigma_inliers;
    p->hq_thresh = INFINITY;
    p->hq_search = RB_HQ_SEARCH_AUTO;
    p->hq_cells = NULL;
    p->hq_cells_g = 0;
}
