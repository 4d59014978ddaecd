/* qdq_setup.h: a method's quantize-dequantize parameters for a test, as the driver builds them:
 * its own rotation from a seed and the Gaussian Lloyd-Max codebook (CPU and GPU tests alike). */
#ifndef RB_TEST_QDQ_SETUP_H
#define RB_TEST_QDQ_SETUP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codebook.h"
#include "counts.h"
#include "data.h"
#include "reference.h"

/* p for (m, d, bits) with its own rotation and a Gaussian codebook; s->rot is the caller's to free. */
typedef struct {
    rb_qdq_params p;
    rb_codebook cb;
    float *rot;
} setup;

static inline int setup_make(setup *s, rb_method m, int d, int bits, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    if (rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, bits, &s->cb))
        return -1;
    rb_qdq_params_shape(&s->p, m, d, bits);
    long len = rb_param_count(m, d);
    s->rot = malloc(sizeof(float) * (size_t)(len + 1));
    char err[128];
    if (rb_params_generate(seed, m, d, s->rot, err, sizeof err))
        return -1;
    s->p.rot = s->rot;
    s->p.bounds = s->cb.bounds_f;
    s->p.centroids = s->cb.centroids_f;
    return 0;
}

#endif
