/* metrics.h: reconstruction quality of x-hat against x, accumulated row by row in double.
 * Rows whose input or output is not finite are counted, never averaged in; so are tiny rows,
 * finite and non-zero but with a sum of squares below fp32's normal range (|x|^2 < 2^-126,
 * e.g. every value 1e-25): the quantizer's fp32 norm underflows to zero or keeps a few bits,
 * so the row comes out zero or scaled wrongly, by design and alike on every backend, and
 * would count with relative error up to 1. Zero rows add to the MSE (their error is exactly
 * zero when the method is correct) but have no relative error or cosine. Both backends
 * reduce the same per-row quantities. */
#ifndef RB_METRICS_H
#define RB_METRICS_H

/* FLT_MIN: a finite row whose |x|^2 (in double) is below it is a tiny row */
#define RB_METRICS_TINY_X2 1.1754943508222875e-38

typedef struct {
    double sum_err2; /* sum over finite rows of |x - xh|^2 */
    double sum_rel;  /* sum over finite non-zero rows of |x - xh|^2 / |x|^2 */
    double sum_cos;  /* sum over finite rows with x != 0 and xh != 0 of <x,xh>/(|x||xh|) */
    long rows, finite_rows, nonzero_rows, cos_rows, nonfinite_rows, tiny_rows;
    int d;
    /* derived by rb_metrics_finish */
    double mse, rel_err, cosine;
} rb_metrics;

/* Per-row partial sums (what a GPU reduction produces too). */
typedef struct {
    double err2, x2, xh2, dot;
    int finite;
} rb_row_stats;

void rb_row_stats_compute(const float *x, const float *xh, int d, rb_row_stats *r);
void rb_metrics_init(rb_metrics *m, int d);
void rb_metrics_add(rb_metrics *m, const rb_row_stats *r);
void rb_metrics_finish(rb_metrics *m);

#endif
