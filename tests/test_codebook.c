/* test_codebook.c: the Lloyd-Max codebooks against published numbers (docs/methods.md), closed
 * forms, and the optimality conditions re-derived here by a deliberately different method
 * (Richardson-extrapolated midpoint rule, density written out independently). */
#include "check.h"
#include "codebook.h"

#include <math.h>
#include <string.h>

static const double gauss_dD[4] = {0.3634, 0.1175, 0.03455, 0.009497}; /* Max (1960) */
static const double beta128_dD[4] = {0.3609, 0.1160, 0.0340, 0.0093};   /* docs/methods.md */

/* Unnormalised density in the integration variable: t itself for the Gaussian (truncated at
 * 14 sd, where the tail mass is < 1e-43), theta with t = sin(theta) for beta, where the
 * d = 2 endpoint singularity disappears. Returns the weight; *t gets the coordinate. */
static double crude_w(rb_codebook_kind kind, int d, double u, double *t)
{
    if (kind == RB_CODEBOOK_GAUSSIAN) {
        *t = u;
        return exp(-0.5 * d * u * u);
    }
    double s = sin(u), c = cos(u);
    *t = s;
    return pow(c * c, 0.5 * (d - 3)) * c; /* (1 - t^2)^((d-3)/2) dt/dtheta */
}

/* int over the cell [a, b] (in t) of w, w t, w (t - c)^2; midpoint rule with m and 2m panels
 * combined by Richardson (error h^4), panels ~ 1/400 sd wide. */
static void crude_cell(rb_codebook_kind kind, int d, double a, double b, double c, double out[3])
{
    double sd = 1.0 / sqrt((double)d), lo, hi, unit;
    if (kind == RB_CODEBOOK_GAUSSIAN) {
        lo = fmax(a, -14.0 * sd);
        hi = fmin(b, 14.0 * sd);
        unit = sd;
    } else {
        lo = asin(fmax(a, -1.0));
        hi = asin(fmin(b, 1.0));
        unit = fmin(sd, 0.5); /* the width of cos^(d-2) in theta */
    }
    memset(out, 0, 3 * sizeof(double));
    if (!(lo < hi))
        return;
    int m = 20 + (int)ceil(400.0 * (hi - lo) / unit);
    double r[2][3] = {{0}};
    for (int pass = 0; pass < 2; pass++) {
        int mm = m << pass;
        double h = (hi - lo) / mm;
        for (int i = 0; i < mm; i++) {
            double t, w = crude_w(kind, d, lo + (i + 0.5) * h, &t);
            r[pass][0] += w * h;
            r[pass][1] += w * t * h;
            r[pass][2] += w * (t - c) * (t - c) * h;
        }
    }
    for (int k = 0; k < 3; k++)
        out[k] = (4.0 * r[1][k] - r[0][k]) / 3.0;
}

/* Checks the Lloyd-Max optimality conditions and the stored distortion for one codebook. */
static void check_optimal(rb_codebook_kind kind, int d, int bits)
{
    rb_codebook cb;
    int rc = rb_codebook_solve(kind, d, bits, &cb);
    CHECK(rc == 0, "solve(%d, d=%d, bits=%d) = %d", kind, d, bits, rc);
    if (rc)
        return;
    const int L = 1 << bits;
    const double sd = 1.0 / sqrt((double)d);
    CHECK(cb.nlevels == L && cb.d == d && cb.bits == bits && cb.kind == kind,
          "header fields wrong (kind %d d %d bits %d)", kind, d, bits);
    CHECK(cb.iterations >= 1 && cb.iterations < 1000, "iterations %d", cb.iterations);

    int order = 1, sym = 1, mid = 1, flt = 1;
    for (int i = 0; i < L; i++) {
        if (i + 1 < L && !(cb.centroids[i] < cb.bounds[i] && cb.bounds[i] < cb.centroids[i + 1]))
            order = 0;
        if (cb.centroids[i] != -cb.centroids[L - 1 - i])
            sym = 0;
        if (i + 1 < L && fabs(cb.bounds[i] - 0.5 * (cb.centroids[i] + cb.centroids[i + 1])) > 1e-15 * sd)
            mid = 0;
        if (cb.centroids_f[i] != (float)cb.centroids[i] || (i + 1 < L && cb.bounds_f[i] != (float)cb.bounds[i]))
            flt = 0;
    }
    if (kind == RB_CODEBOOK_BETA && !(cb.centroids[L - 1] < 1.0))
        order = 0;
    CHECK(order, "kind %d d=%d bits=%d: centroids/bounds not strictly interleaved", kind, d, bits);
    CHECK(sym, "kind %d d=%d bits=%d: centroids not exactly symmetric", kind, d, bits);
    CHECK(mid, "kind %d d=%d bits=%d: a bound is not the midpoint of its centroids", kind, d, bits);
    CHECK(flt, "kind %d d=%d bits=%d: float copies differ", kind, d, bits);

    /* centroid = conditional mean of its cell, and the distortion, by the crude integrator */
    double worst = 0.0, mass = 0.0, sq = 0.0;
    for (int i = 0; i < L; i++) {
        double a = i ? cb.bounds[i - 1] : -INFINITY, b = i < L - 1 ? cb.bounds[i] : INFINITY, o[3];
        crude_cell(kind, d, a, b, cb.centroids[i], o);
        worst = fmax(worst, fabs(o[1] / o[0] - cb.centroids[i]) / sd);
        mass += o[0];
        sq += o[2];
    }
    /* 1e-10 sd: seen <= 4e-12 (8 bits); a wrong fixed point or a quadrature slip is >> 1e-8 */
    CHECK(worst < 1e-10, "kind %d d=%d bits=%d: centroid vs conditional mean off by %.3g sd",
          kind, d, bits, worst);
    double crude_D = sq / mass;
    CHECK(fabs(crude_D - cb.distortion) <= 1e-9 * cb.distortion, /* seen <= 6e-11 */
          "kind %d d=%d bits=%d: distortion %.12g, crude %.12g", kind, d, bits, cb.distortion, crude_D);
}

TEST(codebook_gaussian_distortion_matches_max)
{
    for (int b = 1; b <= 4; b++) {
        rb_codebook cb;
        CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 128, b, &cb) == 0, "solve b=%d", b);
        CHECK_REL(128.0 * cb.distortion, gauss_dD[b - 1], 1e-3);
        /* per unit variance it must not depend on d */
        rb_codebook c2;
        CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 7, b, &c2) == 0, "solve d=7 b=%d", b);
        CHECK_REL(7.0 * c2.distortion, 128.0 * cb.distortion, 1e-12);
    }
}

TEST(codebook_gaussian_centroids_d128)
{
    static const double c3[4] = {0.021663, 0.066822, 0.118786, 0.190207};
    static const double c4[8] = {0.011349, 0.034299, 0.058050, 0.083292,
                                 0.111036, 0.143016, 0.182877, 0.241529};
    rb_codebook cb;
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 128, 3, &cb) == 0, "solve 3 bits");
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(cb.centroids[4 + i], c3[i], 1e-6);
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 128, 4, &cb) == 0, "solve 4 bits");
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(cb.centroids[8 + i], c4[i], 1e-6);
}

TEST(codebook_beta_distortion_d128)
{
    for (int b = 1; b <= 4; b++) {
        rb_codebook cb;
        CHECK(rb_codebook_solve(RB_CODEBOOK_BETA, 128, b, &cb) == 0, "solve b=%d", b);
        CHECK_NEAR(128.0 * cb.distortion, beta128_dD[b - 1], 0.5e-4); /* half a printed digit */
    }
}

/* Closed forms: d = 3 is uniform on [-1, 1] (centroids on a grid, D = (2/L)^2 / 12);
 * 1 bit: c = E|t|, D = E t^2 - (E|t|)^2 with E|t| = sqrt(2/(pi d)) (Gaussian), 2/pi (d = 2). */
TEST(codebook_closed_forms)
{
    rb_codebook cb;
    for (int b = 1; b <= 8; b += 3) {
        int L = 1 << b;
        CHECK(rb_codebook_solve(RB_CODEBOOK_BETA, 3, b, &cb) == 0, "solve d=3 b=%d", b);
        double worst = 0.0;
        for (int i = 0; i < L; i++)
            worst = fmax(worst, fabs(cb.centroids[i] - ((2.0 * i + 1.0) / L - 1.0)));
        /* the solver stops when a Lloyd step moves < 1e-12 sd; the exact fixed point can be a
         * little further off (slow Lloyd modes). Seen 7e-13 at 8 bits. */
        CHECK(worst < 1e-11, "d=3 b=%d: centroids off the uniform grid by %.3g", b, worst);
        CHECK_REL(cb.distortion, (4.0 / L / L) / 12.0, 1e-12);
    }
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 64, 1, &cb) == 0, "solve");
    CHECK_REL(cb.centroids[1], sqrt(2.0 / (M_PI * 64)), 1e-13);
    CHECK_REL(64.0 * cb.distortion, 1.0 - 2.0 / M_PI, 1e-12);
    CHECK(rb_codebook_solve(RB_CODEBOOK_BETA, 2, 1, &cb) == 0, "solve");
    CHECK_REL(cb.centroids[1], 2.0 / M_PI, 1e-13);
    CHECK_REL(cb.distortion, 0.5 - 4.0 / (M_PI * M_PI), 1e-12);
}

TEST(codebook_optimality_conditions)
{
    static const int dims[] = {2, 3, 16, 128, 512};
    for (int k = 0; k < 2; k++) {
        rb_codebook_kind kind = k ? RB_CODEBOOK_BETA : RB_CODEBOOK_GAUSSIAN;
        for (size_t j = 0; j < sizeof dims / sizeof dims[0]; j++)
            for (int b = 1; b <= 4; b++)
                check_optimal(kind, dims[j], b);
        check_optimal(kind, 2, 8);   /* the arcsine density, U-shaped, at 256 levels */
        check_optimal(kind, 128, 8);
    }
}

TEST(codebook_mse_under_other_density)
{
    for (int b = 1; b <= 4; b++) {
        rb_codebook g, e;
        CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 128, b, &g) == 0, "solve");
        CHECK(rb_codebook_solve(RB_CODEBOOK_BETA, 128, b, &e) == 0, "solve");
        double ge = rb_codebook_mse_under(&g, RB_CODEBOOK_BETA, 128);
        double eg = rb_codebook_mse_under(&e, RB_CODEBOOK_GAUSSIAN, 128);
        /* close (the densities differ by O(1/d)) but not equal */
        double rel = fabs(ge / g.distortion - 1.0);
        CHECK(rel < 0.03 && rel > 1e-4, "b=%d: Gaussian table on the exact density: %.9g vs %.9g",
              b, ge, g.distortion);
        /* each table is the optimum for its own density */
        CHECK(ge >= e.distortion, "b=%d: %.12g < beta optimum %.12g", b, ge, e.distortion);
        CHECK(eg >= g.distortion, "b=%d: %.12g < Gaussian optimum %.12g", b, eg, g.distortion);
        for (int d = 2; d <= 512; d *= 4) { /* own density reproduces the stored distortion */
            rb_codebook c;
            for (int k = 0; k < 2; k++) {
                rb_codebook_kind kind = k ? RB_CODEBOOK_BETA : RB_CODEBOOK_GAUSSIAN;
                CHECK(rb_codebook_solve(kind, d, b, &c) == 0, "solve");
                CHECK_REL(rb_codebook_mse_under(&c, kind, d), c.distortion, 1e-12);
            }
        }
    }
}

/* A 4-bit table 0.61x too narrow (the llama.cpp-fork bug docs/methods.md describes) must stand out.
 * Measured here: d*MSE = 0.03356 (confirmed by a 2e7-sample Monte Carlo); docs/methods.md's 0.0203
 * is what a ~0.70x table gives, so the check is on the factor, with the value pinned loosely. */
TEST(codebook_catches_narrow_table)
{
    rb_codebook cb;
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 128, 4, &cb) == 0, "solve");
    double good = rb_codebook_mse_under(&cb, RB_CODEBOOK_GAUSSIAN, 128);
    for (int i = 0; i < cb.nlevels; i++)
        cb.centroids[i] *= 0.61;
    for (int i = 0; i + 1 < cb.nlevels; i++)
        cb.bounds[i] = 0.5 * (cb.centroids[i] + cb.centroids[i + 1]);
    double bad = rb_codebook_mse_under(&cb, RB_CODEBOOK_GAUSSIAN, 128);
    CHECK(bad > 2.0 * good, "narrow table d*MSE %.5g not > 2x %.5g", 128 * bad, 128 * good);
    CHECK_NEAR(128.0 * bad, 0.03356, 2e-4);
}

TEST(codebook_invalid_arguments)
{
    rb_codebook cb;
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 128, 0, &cb) != 0, "bits 0 accepted");
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 128, 9, &cb) != 0, "bits 9 accepted");
    CHECK(rb_codebook_solve(RB_CODEBOOK_BETA, 128, -1, &cb) != 0, "bits -1 accepted");
    CHECK(rb_codebook_solve(RB_CODEBOOK_BETA, 1, 4, &cb) != 0, "d 1 accepted");
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 0, 4, &cb) != 0, "d 0 accepted");
    CHECK(rb_codebook_solve((rb_codebook_kind)2, 128, 4, &cb) != 0, "kind 2 accepted");
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 128, 4, NULL) != 0, "NULL accepted");
    CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, 128, 4, &cb) == 0, "valid call rejected");
    CHECK(isnan(rb_codebook_mse_under(NULL, RB_CODEBOOK_BETA, 128)), "NULL codebook");
    CHECK(isnan(rb_codebook_mse_under(&cb, RB_CODEBOOK_BETA, 1)), "d 1");
    CHECK(isnan(rb_codebook_mse_under(&cb, (rb_codebook_kind)5, 128)), "kind 5");
    cb.nlevels = 0;
    CHECK(isnan(rb_codebook_mse_under(&cb, RB_CODEBOOK_GAUSSIAN, 128)), "nlevels 0");
}
