/* hqmq_celltab.c: which codewords each cell of HQMQ's cell search must list.
 *
 * A cell is the box of gnomonic coordinates x in [lo, hi]^3 (enlarged by RB_HQMQ_CELL_MARGIN),
 * the directions z = (1, x) / |(1, x)|. With c the direction of its centre and rho the largest
 * angle from c to the box's corners (the angle from c is quasi-convex, so a corner attains its
 * maximum over the box), every direction z of the cell has, for each codeword q,
 *   angle(z, q) >= angle(c, q) - rho   and   theta_min(z) <= theta_min(c) + rho,
 * theta_min the angle to the nearest codeword. A codeword that scores within delta of the best
 * at z has cos angle(z, q) >= cos theta_min(z) - delta, so
 *   angle(c, q) <= T = rho + acos(cos(theta_min(c) + rho) - delta).
 * The record lists every codeword with <c, q> >= cos T. Per cell one closed-form score per
 * secondary (the best over its 24 codewords), then the 24 codewords of the secondaries whose
 * best passes. Double precision throughout; the codewords q_p q_s are exact in double. */
#include "hqmq_celltab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "hqmq_cells.h"

int rb_hqmq_cells_grid(int S) { (void)S; return 80; }

size_t rb_hqmq_cells_bytes(int G) { return sizeof(unsigned short) * RB_HQMQ_CELL_SLOTS * (size_t)G * G * G; }

static void dquat_mul(const double a[4], const double b[4], double o[4])
{
    o[0] = a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
    o[1] = a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2];
    o[2] = a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1];
    o[3] = a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0];
}

static void unit_dir(const double x[3], double z[4])
{
    const double n = sqrt(1.0 + x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
    z[0] = 1.0 / n; z[1] = x[0] / n; z[2] = x[1] / n; z[3] = x[2] / n;
}

static double dot4(const double a[4], const double b[4])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
}

static double clamp1(double v) { return v > 1.0 ? 1.0 : v < -1.0 ? -1.0 : v; }

/* best score of w over 2T: max(max |w_k|, sum |w_k| / 2) */
static double orbit_score(const double w[4])
{
    double m = 0, h = 0;
    for (int k = 0; k < 4; k++) {
        m = fabs(w[k]) > m ? fabs(w[k]) : m;
        h += fabs(w[k]);
    }
    return h * 0.5 > m ? h * 0.5 : m;
}

typedef struct { double sc; unsigned short id; } cand;

static int by_score(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return x->sc > y->sc ? -1 : x->sc < y->sc ? 1 : (int)x->id - (int)y->id;
}

int rb_hqmq_cells_build(const float *qs, int S, int G, unsigned short **tab, double stats[3])
{
    if (!qs || !tab || S < 1 || S > RB_HQMQ_CELL_MAX_S || G < 2 || G > 128)
        return -1;
    *tab = NULL;
    unsigned short *t = malloc(rb_hqmq_cells_bytes(G));
    double (*qc)[4] = malloc(sizeof(double[4]) * (size_t)S), units[RB_HQMQ_NP][4];
    if (!t || !qc) {
        free(t);
        free(qc);
        return -1;
    }
    for (int s = 0; s < S; s++) { /* conj(q_s) */
        qc[s][0] = qs[4 * s];
        for (int k = 1; k < 4; k++)
            qc[s][k] = -(double)qs[4 * s + k];
    }
    for (int p = 0; p < RB_HQMQ_NP; p++) {
        float f[4];
        rb_hqmq_unit(p, f);
        for (int k = 0; k < 4; k++)
            units[p][k] = f[k];
    }
    long over = 0, longest = 0, failed = 0;
    double total = 0;
    const long ncell = (long)G * G * G;
#pragma omp parallel reduction(+ : over, total, failed) reduction(max : longest)
    {
        /* per thread: w_s = c conj(q_s) (<c, q_p q_s> = <w_s, q_p>), its best score, candidates */
        double (*w)[4] = malloc(sizeof(double[4]) * (size_t)S), *os = malloc(sizeof(double) * (size_t)S);
        cand *cs = malloc(sizeof(cand) * (size_t)RB_HQMQ_NP * S);
        failed += !w || !os || !cs;
#pragma omp for schedule(dynamic, 64)
        for (long cell = 0; cell < ncell; cell++) {
            if (!w || !os || !cs)
                continue;
            const int i[3] = {(int)(cell / ((long)G * G)), (int)(cell / G % G), (int)(cell % G)};
            double lo[3], hi[3], mid[3], c[4];
            for (int j = 0; j < 3; j++) {
                lo[j] = 2.0 * i[j] / G - 1.0 - RB_HQMQ_CELL_MARGIN;
                hi[j] = 2.0 * (i[j] + 1) / G - 1.0 + RB_HQMQ_CELL_MARGIN;
                mid[j] = 0.5 * (lo[j] + hi[j]);
            }
            unit_dir(mid, c);
            double cosrho = 1.0;
            for (int v = 0; v < 8; v++) {
                const double x[3] = {v & 4 ? hi[0] : lo[0], v & 2 ? hi[1] : lo[1], v & 1 ? hi[2] : lo[2]};
                double d[4];
                unit_dir(x, d);
                const double cv = dot4(c, d);
                cosrho = cv < cosrho ? cv : cosrho;
            }
            const double rho = acos(clamp1(cosrho)) + 1e-9;
            double best = -2.0;
            for (int s = 0; s < S; s++) {
                dquat_mul(c, qc[s], w[s]);
                os[s] = orbit_score(w[s]);
                best = os[s] > best ? os[s] : best;
            }
            const double tmin = acos(clamp1(best));
            const double T = rho + acos(clamp1(cos(fmin(M_PI, tmin + rho)) - RB_HQMQ_CELL_DELTA)) + 1e-9;
            const double thr = T >= M_PI ? -2.0 : cos(T);
            int n = 0;
            for (int s = 0; s < S; s++) {
                if (os[s] < thr)
                    continue;
                for (int p = 0; p < RB_HQMQ_NP; p++) {
                    const double sc = dot4(w[s], units[p]);
                    if (sc >= thr)
                        cs[n++] = (cand){sc, (unsigned short)(p * S + s)};
                }
            }
            qsort(cs, (size_t)n, sizeof(cand), by_score);
            unsigned short *r = t + cell * RB_HQMQ_CELL_SLOTS;
            if (n > RB_HQMQ_CELL_IDS) {
                memset(r, 0, sizeof(unsigned short) * RB_HQMQ_CELL_SLOTS);
                r[0] = RB_HQMQ_CELL_OVERFLOW;
                over++;
            } else {
                r[0] = (unsigned short)n;
                for (int k = 0; k < RB_HQMQ_CELL_IDS; k++) /* unused slots repeat the first id */
                    r[1 + k] = cs[k < n ? k : 0].id;
            }
            longest = n > longest ? n : longest;
            total += n;
        }
        free(w);
        free(os);
        free(cs);
    }
    if (failed) {
        free(qc);
        free(t);
        return -1;
    }
    free(qc);
    if (stats) {
        stats[0] = (double)over;
        stats[1] = (double)longest;
        stats[2] = total / (double)ncell;
    }
    *tab = t;
    return 0;
}

int rb_hqmq_cells_upload(const float *qs, int S, unsigned short **dev, int *G)
{
    unsigned short *tab = NULL;
    *dev = NULL;
    if (*G < 2)
        *G = rb_hqmq_cells_grid(S);
    if (rb_hqmq_cells_build(qs, S, *G, &tab, NULL))
        return -1;
    const size_t bytes = rb_hqmq_cells_bytes(*G);
    int rc = cudaMalloc((void **)dev, bytes) == cudaSuccess &&
                     cudaMemcpy(*dev, tab, bytes, cudaMemcpyHostToDevice) == cudaSuccess
                 ? 0
                 : -2;
    free(tab);
    if (rc && *dev) {
        cudaFree(*dev);
        *dev = NULL;
    }
    return rc;
}
