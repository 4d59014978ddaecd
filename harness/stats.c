#include "stats.h"

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
