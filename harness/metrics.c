#include "metrics.h"

#include <math.h>
#include <string.h>

void rb_row_stats_compute(const float *x, const float *xh, int d, rb_row_stats *r)
{
    double e = 0, a = 0, b = 0, c = 0;
    int finite = 1;
    for (int j = 0; j < d; j++) {
        double u = x[j], v = xh[j];
        if (!isfinite(u) || !isfinite(v))
            finite = 0;
        e += (u - v) * (u - v);
        a += u * u;
        b += v * v;
        c += u * v;
    }
    r->err2 = e; r->x2 = a; r->xh2 = b; r->dot = c; r->finite = finite;
}

void rb_metrics_init(rb_metrics *m, int d)
{
    memset(m, 0, sizeof *m);
    m->d = d;
}

void rb_metrics_add(rb_metrics *m, const rb_row_stats *r)
{
    m->rows++;
    if (!r->finite) {
        m->nonfinite_rows++;
        return;
    }
    if (r->x2 > 0 && r->x2 < RB_METRICS_TINY_X2) {
        m->tiny_rows++;
        return;
    }
    m->finite_rows++;
    m->sum_err2 += r->err2;
    if (r->x2 > 0) {
        m->nonzero_rows++;
        m->sum_rel += r->err2 / r->x2;
        if (r->xh2 > 0) {
            m->cos_rows++;
            m->sum_cos += r->dot / sqrt(r->x2 * r->xh2);
        }
    }
}

void rb_metrics_finish(rb_metrics *m)
{
    m->mse = m->finite_rows ? m->sum_err2 / ((double)m->finite_rows * m->d) : NAN;
    m->rel_err = m->nonzero_rows ? m->sum_rel / (double)m->nonzero_rows : NAN;
    m->cosine = m->cos_rows ? m->sum_cos / (double)m->cos_rows : NAN;
}
