/* data.h: inputs and rotation parameters from the config's seed, with cuRAND's Philox4_32_10
 * host generator. The GPU backend draws the same normals with the host generator and
 * normalizes them on the device, so both backends see bit-identical inputs: cuRAND's device
 * generator produces the same Philox stream but its normal transform differs from the host's
 * in the last bits (measured on an H100: 107,884 of 128,000 values at d = 128, N = 1000).
 * RB_GPU_DEVICE_RNG=1 makes the GPU draw on the device anyway (faster for huge N). */
#ifndef RB_DATA_H
#define RB_DATA_H

#include <stdint.h>

#include "config.h"
#include "registry.h"

/* cuRAND normal generation works on even counts: callers allocate this many floats. */
long rb_data_alloc_len(int d, long N);

/* x[N*d]: Gaussian rows normalized to unit norm. The norm is taken in double with explicit
 * fma() so a GPU thread doing the same sequence gets bit-identical rows. For fp16 runs each
 * value is then rounded to fp16 (round to nearest even). 0 on success. */
int rb_data_sphere(uint64_t seed, int d, long N, rb_dtype dtype, float *x, char *err, size_t errlen);

/* Inputs of any distribution (config.h, rb_data_dist): Philox normals, shaped by
 * rb_data_shape_normals, normalized and (fp16) rounded as rb_data_sphere does. sphere gives
 * exactly rb_data_sphere's rows. 0 on success. */
int rb_data_generate(const rb_data_dist *dist, uint64_t seed, int d, long N, rb_dtype dtype, float *x,
                     char *err, size_t errlen);

/* channel-outliers: the dist->channels distinct channels in [0, d) (partial Fisher-Yates on
 * Philox uniforms from (seed, d)), in draw order. 0 on success. */
int rb_data_outlier_channels(const rb_data_dist *dist, uint64_t seed, int d, int *ch, char *err,
                             size_t errlen);

/* Before normalization: multiply the chosen channels of each of the N rows of raw normals g by
 * dist->scale (float multiply; nothing for sphere). The GPU backend calls it on the host
 * normals it uploads, so both backends see the same rows. 0 on success. */
int rb_data_shape_normals(const rb_data_dist *dist, uint64_t seed, int d, long N, float *g, char *err,
                          size_t errlen);

/* n queries of d N(0, 1) entries from their own stream of (seed, d): the same on every backend. */
int rb_data_queries(uint64_t seed, int d, int n, float *q, char *err, size_t errlen);

/* Normalize one row in place, exactly as described above (shared with the GPU code path). */
void rb_data_normalize_row(float *row, int d);

/* Seed for (method, d): parameters differ per method and dimension, and depend on nothing
 * else, so every backend, bit width and dtype sees the same rotation (rb_method_seed_tag). */
uint64_t rb_param_seed(uint64_t seed, rb_method m, int d);

/* rot[param_count(d)]: the method's random parameters, drawn as its descriptor's param_kind
 * says (method.h). */
int rb_params_generate(uint64_t seed, rb_method m, int d, float *rot, char *err, size_t errlen);

#endif
