/* Inputs and a bit-equality check shared by the GPU codec tests (test_kvcodec_gpu.c,
 * test_hqmq_kv_gpu.c): rows as a KV cache brings them, not unit vectors. */
#ifndef RB_TEST_KV_ROWS_H
#define RB_TEST_KV_ROWS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "fp16.h"

/* N Gaussian rows of norms 1e-3 .. 1e3 by row (unit: left on the unit sphere, as
 * assume_unit_norm takes them), every 7th channel times outlier (1: none), a zero row, a NaN row
 * and an Inf row; fp16 rows on the fp16 grid. NULL when out of memory. */
static inline float *kv_test_rows(uint64_t seed, int d, long N, rb_dtype dt, int unit, float outlier)
{
    float *x = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N));
    char err[256];
    if (!x || rb_data_sphere(seed + (uint64_t)d, d, N, RB_FP32, x, err, sizeof err)) {
        free(x);
        return NULL;
    }
    const float scale[] = {1.0f, 1e-3f, 37.5f, 1e3f, 0.2f};
    for (long i = 0; i < N; i++)
        for (int j = 0; j < d; j++) {
            float v = x[i * d + j] * (unit ? 1.0f : scale[i % 5]) * (j % 7 == 3 ? outlier : 1.0f);
            x[i * d + j] = dt == RB_FP16 ? rb_round_f16(v) : v;
        }
    if (N > 29) {
        memset(x + 5 * (long)d, 0, sizeof(float) * (size_t)d);
        x[17 * (long)d + 3 % d] = NAN;
        x[29 * (long)d] = INFINITY;
    }
    return x;
}

/* 1 when a and b hold the same bits everywhere (any NaN equals any NaN); else 0 and *at the
 * first index that differs. */
static inline int kv_same_bits(const float *a, const float *b, size_t n, size_t *at)
{
    for (size_t i = 0; i < n; i++)
        if (!(isnan(a[i]) && isnan(b[i])) && memcmp(&a[i], &b[i], 4)) {
            *at = i;
            return 0;
        }
    return 1;
}

#endif
