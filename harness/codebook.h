/* codebook.h: Lloyd-Max scalar codebooks for one coordinate of a Haar-rotated unit vector in
 * R^d, solved at start-up in double precision (docs/methods.md, "Scalar quantizer Q").
 *   beta:     the exact density f_d(t) = G(d/2)/(sqrt(pi) G((d-1)/2)) (1 - t^2)^((d-3)/2), |t| <= 1
 *   gaussian: the approximation N(0, 1/d) */
#ifndef RB_CODEBOOK_H
#define RB_CODEBOOK_H

#include "config.h"

#define RB_MAX_LEVELS 256

typedef struct {
    rb_codebook_kind kind;
    int d, bits, nlevels;            /* nlevels = 2^bits */
    double centroids[RB_MAX_LEVELS]; /* ascending, symmetric about 0 */
    double bounds[RB_MAX_LEVELS - 1]; /* midpoints of neighbouring centroids */
    double distortion;               /* E (t - Q(t))^2 per coordinate under its own density */
    int iterations;                  /* Lloyd iterations to converge */
    float centroids_f[RB_MAX_LEVELS], bounds_f[RB_MAX_LEVELS - 1]; /* what the kernels use */
} rb_codebook;

/* Solve by Lloyd's fixed-point iteration to 1e-12 (max centroid change). 0 on success. */
int rb_codebook_solve(rb_codebook_kind kind, int d, int bits, rb_codebook *cb);

/* E (t - Q(t))^2 per coordinate when t has density `density` (at dimension d) and Q uses the
 * given codebook: the Lloyd-Max prediction of per-element MSE for unit vectors. */
double rb_codebook_mse_under(const rb_codebook *cb, rb_codebook_kind density, int d);

#endif
