/* codebook.c: Lloyd-Max codebooks for one coordinate of a uniform unit vector in R^d
 * (docs/methods.md, "Scalar quantizer Q"), in double precision.
 *
 * The solve works on the positive half only: both densities are even, so fixing the middle
 * boundary at 0 and mirroring gives exact symmetry (c_i == -c_{L-1-i} bit for bit).
 * Plain Lloyd iteration converges very slowly for many levels (its slowest mode contracts by
 * 1 - O(1/L^2) per step), so each step is a Newton step on F(c) = T(c) - c, where T is the Lloyd
 * map (midpoint boundaries, then conditional means); its Jacobian is tridiagonal and analytic.
 * A Newton step is taken only if it keeps the centroids ordered and lowers max|F|, otherwise
 * the step is a plain Lloyd step, which is always valid. Converged means a Lloyd step moves no
 * centroid by more than 1e-12 standard deviations (1e-12 / sqrt(d) in t); that last Lloyd step
 * is applied, so the stored centroids are the conditional means of cells whose boundaries were
 * at most that far from the stored (exact) midpoints. cb->iterations counts the update steps
 * (Newton or Lloyd) plus that last Lloyd step: 2..5 for d in 2..4096, bits 1..8, where plain
 * Lloyd from the same start needs ~50 (2 bits) to ~2200 (5 bits) and far more at 8 bits.
 * Returns -1 on bad arguments, -2 if it fails to converge (not seen).
 *
 * Densities, in t (the coordinate itself):
 *   gaussian: N(0, 1/d); cell mass by erfc (upper tails, so tail cells keep relative accuracy),
 *             first and second moments in closed form.
 *   beta:     f_d(t) = C (1 - t^2)^k, k = (d-3)/2. With t = sin(theta), f dt = C cos^(d-2)(theta)
 *             dtheta, an entire function with an integer power, so even d = 2 (arcsine density,
 *             infinite at +-1) needs no special care. Mass: composite 16-point Gauss-Legendre in
 *             theta with panels no wider than ~1/sqrt(d) (the width of the bump), accurate to
 *             ~1e-15 relative; first moment in closed form: int t (1-t^2)^k = -(1-t^2)^(k+1)/(2(k+1)).
 *             C comes from lgamma; its relative error (~1e-12 at d = 4096) scales masses and
 *             the distortion only, never the centroids (ratios of moments).
 */
#include "codebook.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define GL_N 16
#define TOL_SIGMA 1e-12 /* convergence: max centroid change, in standard deviations */
#define MAX_ITERS 1000 /* Newton takes <= 5 for d in 2..4096, bits 1..8; hitting this means a bug */

typedef struct {
    rb_codebook_kind kind;
    int d;
    double sigma;     /* 1/sqrt(d): the standard deviation under both densities */
    double hi;        /* upper end of the support: 1 (beta) or +inf (gaussian) */
    double C;         /* beta normalisation Gamma(d/2) / (sqrt(pi) Gamma((d-1)/2)) */
    double pw;        /* beta: d - 2, the power of cos(theta) */
    double panel;     /* beta: widest Gauss-Legendre panel in theta */
    double glx[GL_N], glw[GL_N]; /* nodes and weights on [-1, 1] */
} dens;

/* Gauss-Legendre nodes by Newton on P_n (Numerical Recipes' gauleg): computed, not typed in. */
static void gl_init(double *x, double *w, int n)
{
    for (int i = 0; i < (n + 1) / 2; i++) {
        double z = cos(M_PI * (i + 0.75) / (n + 0.5)), pp = 1.0;
        for (int it = 0; it < 100; it++) {
            double p1 = 1.0, p2 = 0.0;
            for (int j = 1; j <= n; j++) {
                double p3 = p2;
                p2 = p1;
                p1 = ((2.0 * j - 1.0) * z * p2 - (j - 1.0) * p3) / j;
            }
            pp = n * (z * p1 - p2) / (z * z - 1.0);
            double z1 = z;
            z = z1 - p1 / pp;
            if (fabs(z - z1) < 1e-16)
                break;
        }
        x[i] = -z;
        x[n - 1 - i] = z;
        w[i] = w[n - 1 - i] = 2.0 / ((1.0 - z * z) * pp * pp);
    }
}

static int dens_init(dens *D, rb_codebook_kind kind, int d)
{
    if (d < 2 || (kind != RB_CODEBOOK_GAUSSIAN && kind != RB_CODEBOOK_BETA))
        return -1;
    memset(D, 0, sizeof *D);
    D->kind = kind;
    D->d = d;
    D->sigma = 1.0 / sqrt((double)d);
    if (kind == RB_CODEBOOK_GAUSSIAN) {
        D->hi = INFINITY;
    } else {
        D->hi = 1.0;
        D->C = exp(lgamma(0.5 * d) - lgamma(0.5 * (d - 1))) / sqrt(M_PI);
        D->pw = d - 2.0;
        D->panel = fmin(0.25, 1.0 / sqrt((double)d));
        gl_init(D->glx, D->glw, GL_N);
    }
    return 0;
}

static double pdf(const dens *D, double t)
{
    if (D->kind == RB_CODEBOOK_GAUSSIAN) {
        double x = t / D->sigma;
        return exp(-0.5 * x * x) / (D->sigma * sqrt(2.0 * M_PI));
    }
    if (fabs(t) >= 1.0)
        return 0.0;
    return D->C * pow((1.0 - t) * (1.0 + t), 0.5 * (D->d - 3));
}

/* Beta: C * int_{asin a}^{asin b} cos^(d-2)(th) (sin(th) - c)^m dth, m = 0 or 2, -1 <= a < b <= 1. */
static double beta_gl(const dens *D, double a, double b, int m, double c)
{
    double ta = asin(a), tb = asin(b);
    int np = (int)ceil((tb - ta) / D->panel);
    if (np < 1)
        np = 1;
    double h = (tb - ta) / np, sum = 0.0;
    for (int p = 0; p < np; p++) {
        double mid = ta + (p + 0.5) * h, ps = 0.0;
        for (int i = 0; i < GL_N; i++) {
            double th = mid + 0.5 * h * D->glx[i];
            double st = sin(th);
            /* cos^(d-2) as exp(log1p(-sin^2)): pow(cos(th), d-2) would multiply cos's rounding
             * error by d-2 (4e-13 at d = 4096, enough to stall the 1e-12 convergence) */
            double v = D->pw == 0.0 ? 1.0 : exp(0.5 * D->pw * log1p(-st * st));
            if (m == 2) {
                double e = st - c;
                v *= e * e;
            }
            ps += D->glw[i] * v;
        }
        sum += 0.5 * h * ps;
    }
    return D->C * sum;
}

/* Mass and first moment of the cell [a, b], 0 <= a < b <= hi. */
static void cell_moments(const dens *D, double a, double b, double *m0, double *m1)
{
    if (D->kind == RB_CODEBOOK_GAUSSIAN) {
        double s = D->sigma, xa = a / s, xb = b / s;
        /* upper-tail differences: no cancellation against 1 in the tail cells */
        *m0 = 0.5 * (erfc(xa / M_SQRT2) - erfc(xb / M_SQRT2));
        *m1 = s * (exp(-0.5 * xa * xa) - exp(-0.5 * xb * xb)) / sqrt(2.0 * M_PI);
        return;
    }
    *m0 = beta_gl(D, a, b, 0, 0.0);
    /* C/(d-1) [(1-a^2)^e - (1-b^2)^e], e = k+1 = (d-1)/2. For large d the two powers are close
     * in narrow cells and each carries e*eps relative error, so write the difference as
     * -ua * expm1(e * log((1-b^2)/(1-a^2))), with the log's argument formed without cancellation. */
    double e = 0.5 * (D->d - 1), oa = (1.0 - a) * (1.0 + a);
    double ua = exp(e * log1p(-a * a)), diff;
    if (b >= 1.0)
        diff = ua;
    else
        diff = -ua * expm1(e * log1p(-(b - a) * (b + a) / oa));
    *m1 = D->C * diff / (D->d - 1);
}

/* int_a^b (t - c)^2 f(t) dt for the Gaussian, 0 <= a < b <= +inf, in closed form
 * (second moment by parts: int x^2 phi = [-x phi] + int phi). */
static double gauss_sq_pos(const dens *D, double a, double b, double c)
{
    double s = D->sigma, xa = a / s, xb = b / s, xc = c / s, k = 1.0 / sqrt(2.0 * M_PI);
    double pa = k * exp(-0.5 * xa * xa), pb = isinf(xb) ? 0.0 : k * exp(-0.5 * xb * xb);
    double m0 = 0.5 * (erfc(xa / M_SQRT2) - erfc(xb / M_SQRT2)), m1 = pa - pb;
    double tb = isinf(xb) ? 0.0 : (xb - xc) * pb;
    /* int (x-c)^2 phi = [-(x-c) phi]_a^b + m0 - c m1 + c^2 m0 */
    double v = (xa - xc) * pa - tb + m0 - xc * m1 + xc * xc * m0;
    return s * s * v;
}

/* int_a^b (t - c)^2 f(t) dt for any a < b (infinite ends allowed). */
static double cell_sq(const dens *D, double a, double b, double c)
{
    if (D->kind == RB_CODEBOOK_BETA) {
        a = fmax(a, -1.0);
        b = fmin(b, 1.0);
        return a < b ? beta_gl(D, a, b, 2, c) : 0.0;
    }
    /* the closed form wants one sign: split at 0 and mirror the negative part (f is even) */
    double v = 0.0;
    if (a < 0.0)
        v += gauss_sq_pos(D, fmax(-b, 0.0), -a, -c);
    if (b > 0.0)
        v += gauss_sq_pos(D, fmax(a, 0.0), b, c);
    return v;
}

/* The Lloyd map on the positive half: n centroids c (ascending, > 0) -> boundaries B[0..n]
 * (B[0] = 0, B[n] = hi, midpoints between) and conditional means T. -1 if a cell is empty. */
static int lloyd_map(const dens *D, int n, const double *c, double *B, double *T, double *M0)
{
    B[0] = 0.0;
    B[n] = D->hi;
    for (int j = 1; j < n; j++)
        B[j] = 0.5 * (c[j - 1] + c[j]);
    for (int j = 0; j < n; j++) {
        double m0, m1;
        cell_moments(D, B[j], B[j + 1], &m0, &m1);
        if (!(m0 > 0.0) || !isfinite(m1))
            return -1;
        M0[j] = m0;
        T[j] = m1 / m0;
    }
    return 0;
}

static double max_abs_diff(int n, const double *x, const double *y)
{
    double m = 0.0;
    for (int j = 0; j < n; j++)
        m = fmax(m, fabs(x[j] - y[j]));
    return m;
}

/* Start: centroids at quantiles of f^(1/3) (the high-resolution optimum point density), read
 * from a fine cumulative table. In theta for beta: f^(1/3) dt ~ cos^(d/3)(theta) dtheta; for the
 * Gaussian this is N(0, 3/d). Close enough that Newton takes over within a few steps. */
static double guess_density(const dens *D, double u)
{
    return D->kind == RB_CODEBOOK_GAUSSIAN ? exp(-u * u / 6.0) : pow(cos(u), D->d / 3.0);
}

static void initial_guess(const dens *D, int n, double *c)
{
    enum { NG = 8192 }; /* midpoint-rule cells; two passes (total, then crossings): no table */
    int gauss = D->kind == RB_CODEBOOK_GAUSSIAN;
    double U = gauss ? 15.0 : fmin(0.5 * M_PI, 20.0 / sqrt((double)D->d)), h = U / NG;
    double total = 0.0, cum = 0.0;
    for (int i = 0; i < NG; i++)
        total += guess_density(D, (i + 0.5) * h);
    int j = 0;
    for (int i = 0; i < NG && j < n; i++) {
        double g = guess_density(D, (i + 0.5) * h);
        while (j < n && cum + g >= (j + 0.5) / n * total) {
            double u = (i + ((j + 0.5) / n * total - cum) / g) * h; /* linear within the cell */
            c[j++] = gauss ? u * D->sigma : sin(u);
        }
        cum += g;
    }
    for (; j < n; j++) /* rounding left the last quantile just past the table */
        c[j] = gauss ? (NG - 0.5) * h * D->sigma : sin((NG - 0.5) * h);
}

/* Thomas algorithm for sub[j] x[j-1] + dg[j] x[j] + sup[j] x[j+1] = r[j]; -1 on a tiny pivot. */
static int tridiag_solve(int n, const double *sub, const double *dg, const double *sup,
                         const double *r, double *x, double *w)
{
    double p = dg[0];
    if (fabs(p) < 1e-300)
        return -1;
    x[0] = r[0] / p;
    for (int j = 1; j < n; j++) {
        w[j] = sup[j - 1] / p;
        p = dg[j] - sub[j] * w[j];
        if (fabs(p) < 1e-14)
            return -1;
        x[j] = (r[j] - sub[j] * x[j - 1]) / p;
    }
    for (int j = n - 2; j >= 0; j--)
        x[j] -= w[j + 1] * x[j + 1];
    return 0;
}

int rb_codebook_solve(rb_codebook_kind kind, int d, int bits, rb_codebook *cb)
{
    dens D;
    if (!cb || bits < 1 || bits > 8 || dens_init(&D, kind, d))
        return -1;
    const int L = 1 << bits, n = L / 2;
    const double tol = TOL_SIGMA * D.sigma;
    double c[RB_MAX_LEVELS / 2], T[RB_MAX_LEVELS / 2], M0[RB_MAX_LEVELS / 2];
    double B[RB_MAX_LEVELS / 2 + 1], cn[RB_MAX_LEVELS / 2], Tn[RB_MAX_LEVELS / 2];
    double Mn[RB_MAX_LEVELS / 2], Bn[RB_MAX_LEVELS / 2 + 1];
    double sub[RB_MAX_LEVELS / 2], dg[RB_MAX_LEVELS / 2], sup[RB_MAX_LEVELS / 2];
    double rhs[RB_MAX_LEVELS / 2], dx[RB_MAX_LEVELS / 2], wk[RB_MAX_LEVELS / 2];

    initial_guess(&D, n, c);
    if (lloyd_map(&D, n, c, B, T, M0))
        return -1;
    double res = max_abs_diff(n, T, c);
    int it = 0;
    while (res >= tol) {
        if (++it > MAX_ITERS)
            return -2;
        int accepted = 0;
        /* Newton on F = T(c) - c. dT_j/dB_{j+1} = f(B_{j+1}) (B_{j+1} - T_j) / m_j and
         * dT_j/dB_j = f(B_j) (T_j - B_j) / m_j; each interior B is the mean of two centroids. */
        for (int j = 0; j < n; j++) {
            double lo = j > 0 ? pdf(&D, B[j]) * (T[j] - B[j]) / M0[j] : 0.0;
            double up = j < n - 1 ? pdf(&D, B[j + 1]) * (B[j + 1] - T[j]) / M0[j] : 0.0;
            sub[j] = 0.5 * lo;
            sup[j] = 0.5 * up;
            dg[j] = 0.5 * (lo + up) - 1.0;
            rhs[j] = c[j] - T[j];
        }
        if (n > 1 && tridiag_solve(n, sub, dg, sup, rhs, dx, wk) == 0) {
            for (double lam = 1.0; lam >= 0.25 && !accepted; lam *= 0.5) {
                int ok = 1;
                for (int j = 0; j < n; j++) {
                    cn[j] = c[j] + lam * dx[j];
                    if (!(cn[j] > (j ? cn[j - 1] : 0.0)))
                        ok = 0;
                }
                if (!(cn[n - 1] < D.hi))
                    ok = 0;
                if (ok && lloyd_map(&D, n, cn, Bn, Tn, Mn) == 0) {
                    double rn = max_abs_diff(n, Tn, cn);
                    if (rn < res) {
                        accepted = 1;
                        res = rn;
                    }
                }
            }
        }
        if (!accepted) { /* Lloyd step: conditional means are ordered and inside the support */
            memcpy(cn, T, sizeof(double) * n);
            if (lloyd_map(&D, n, cn, Bn, Tn, Mn))
                return -1;
            res = max_abs_diff(n, Tn, cn);
        }
        memcpy(c, cn, sizeof(double) * n);
        memcpy(T, Tn, sizeof(double) * n);
        memcpy(M0, Mn, sizeof(double) * n);
        memcpy(B, Bn, sizeof(double) * (n + 1));
    }
    /* the final Lloyd step (moves < tol): centroids become conditional means */
    memcpy(c, T, sizeof(double) * n);
    it++;

    memset(cb, 0, sizeof *cb);
    cb->kind = kind;
    cb->d = d;
    cb->bits = bits;
    cb->nlevels = L;
    cb->iterations = it;
    for (int j = 0; j < n; j++) {
        cb->centroids[n + j] = c[j];
        cb->centroids[n - 1 - j] = -c[j];
    }
    for (int i = 0; i < L - 1; i++) /* midpoints: exact, and exactly symmetric (0 in the middle) */
        cb->bounds[i] = i == n - 1 ? 0.0 : 0.5 * (cb->centroids[i] + cb->centroids[i + 1]);
    for (int i = 0; i < L; i++)
        cb->centroids_f[i] = (float)cb->centroids[i];
    for (int i = 0; i < L - 1; i++)
        cb->bounds_f[i] = (float)cb->bounds[i];
    cb->distortion = rb_codebook_mse_under(cb, kind, d);
    return isfinite(cb->distortion) ? 0 : -1;
}

double rb_codebook_mse_under(const rb_codebook *cb, rb_codebook_kind density, int d)
{
    dens D;
    if (!cb || cb->nlevels < 2 || cb->nlevels > RB_MAX_LEVELS || dens_init(&D, density, d))
        return NAN;
    /* Q maps everything above the top boundary to the top centroid: outer cells are unbounded */
    const int L = cb->nlevels;
    double sum = 0.0;
    for (int i = 0; i < L; i++) {
        double a = i == 0 ? -INFINITY : cb->bounds[i - 1];
        double b = i == L - 1 ? INFINITY : cb->bounds[i];
        sum += cell_sq(&D, a, b, cb->centroids[i]);
    }
    return sum;
}
