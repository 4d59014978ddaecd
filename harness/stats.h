/* stats.h: order statistics of timing samples (median, quartiles, min, max, noise). */
#ifndef RB_STATS_H
#define RB_STATS_H

typedef struct {
    double median, q1, q3, min, max, mean, noise; /* noise = stddev / mean */
} rb_summary;

/* Summarize n >= 1 samples (the array is not modified). */
void rb_summarize(const double *x, int n, rb_summary *s);

#endif
