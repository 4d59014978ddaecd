/* counts.h: nominal cost and storage of each method as functions of d, as the IsoQuant paper
 * counts them (Table 1 at d = 128; METHODS.md for the general forms). */
#ifndef RB_COUNTS_H
#define RB_COUNTS_H

#include "qdq.h"

long rb_nominal_fma(rb_method m, int d);   /* forward rotation, per vector */
long rb_param_count(rb_method m, int d);   /* stored rotation parameters */
/* Stored bits per coordinate: b codes for every (padded) rotated coordinate + an fp16 norm. */
double rb_bits_per_coord(rb_method m, int d, int bits);
/* Fill the block-structure fields of p (block, nblocks, dpad, nbounds). */
void rb_qdq_params_shape(rb_qdq_params *p, rb_method m, int d, int bits);

/* HQMQ (its counts depend on S, not on bits): per vector, g = ceil(d/4) chunks of 16 S FMA
 * (one product w = u conj(q_s) per secondary) + 16 (the reconstruction product); 4 S
 * parameters (the q_s). */
long rb_hqmq_fma(int d, int S);
long rb_hqmq_params(int S);
/* Shape p for HQMQ at operating point (S, rbits) (bits = 0, no codebook; hq_thresh = +inf
 * until the Med3x pre-pass sets it); p->rot is left to the caller. */
void rb_hqmq_params_shape(rb_qdq_params *p, int d, int S, int rbits, int outliers, double C,
                          int sigma_inliers);

#endif
