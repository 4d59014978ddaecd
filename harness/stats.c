#include "stats.h"
#include "backend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between order statistics (the "type 7" quantile). */
static double quantile(const double *sorted, int n, double q)
{
    double pos = q * (n - 1);
    int lo = (int)floor(pos);
    int hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

void rb_summarize(const double *x, int n, rb_summary *s)
{
    memset(s, 0, sizeof *s);
    if (n <= 0)
        return;
    double *t = malloc(sizeof(double) * (size_t)n);
    memcpy(t, x, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    s->mean = sum / n;
    for (int i = 0; i < n; i++)
        sq += (t[i] - s->mean) * (t[i] - s->mean);
    s->noise = n > 1 && s->mean > 0 ? sqrt(sq / (n - 1)) / s->mean : 0;
    s->min = t[0];
    s->max = t[n - 1];
    s->median = quantile(t, n, 0.5);
    s->q1 = quantile(t, n, 0.25);
    s->q3 = quantile(t, n, 0.75);
    free(t);
}

void rb_timing_set_hot(rb_timing *t, const rb_summary *s)
{
    t->median_us = s->median;
    t->min_us = s->min;
    t->max_us = s->max;
    t->q1_us = s->q1;
    t->q3_us = s->q3;
    t->noise = s->noise;
}

void rb_timing_set_cold(rb_timing *t, const rb_summary *s)
{
    t->cold_median_us = s->median;
    t->cold_min_us = s->min;
    t->cold_max_us = s->max;
    t->cold_noise = s->noise;
}
