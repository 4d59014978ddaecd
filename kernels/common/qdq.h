/* qdq.h: the parameters of one vector's fused quantize -> dequantize,
 *   rho = |x|, xb = x / max(rho, eps), y = T(xb), yq = Q(y), xh = rho * T^-1(yq),
 * shared by every method (method.h) on both backends. The CPU reference runs the pipeline
 * (harness/reference.c) with the method's rotation; the CUDA kernels call the same per-block
 * functions (kernels/common/) in their own launch layouts. */
#ifndef RB_QDQ_H
#define RB_QDQ_H

#include "rb_hd.h"
#include "scalar_quant.h"

#define RB_NORM_EPS 1e-12f

/* Everything one (method, d, bits) needs; identical on both backends. rot's layout is the
 * method's own (its descriptor's param_count floats; its file says what they are). */
typedef struct {
    int method;  /* the method's registry index (harness/registry.h) */
    int d;
    int bits;
    int block;   /* coordinates per rotation block (the descriptor's block(d)) */
    int nblocks; /* ceil(d / block) */
    int dpad;    /* nblocks * block: the last block is zero-padded */
    int nbounds; /* 2^bits - 1 */
    const float *rot;
    const float *bounds;    /* nbounds ascending boundaries (midpoints of centroids) */
    const float *centroids; /* nbounds + 1 centroids */
    /* GPU, optional: the scalar quantizer's cell table built on the host (rb_sq_cell_table:
     * RB_SQ_CELLS x {threshold, c_lo, c_hi, 0}); NULL: a fast kernel builds it per block */
    const float *cells;
    /* HQMQ only (bits, bounds, centroids unused): rot holds the secondary quaternions q_s */
    int hq_S;               /* secondaries used: the first hq_S of rot */
    int hq_rbits;           /* radius bits b_r */
    int hq_outliers;        /* 0 none, 1 Med3x: hq_thresh = hq_C * the batch's median chunk norm */
    int hq_sigma_inliers;   /* 1: sigma from inlier chunks only (0: every chunk, the paper's) */
    float hq_C;
    float hq_thresh;        /* chunks with r > hq_thresh are kept in fp16; +inf without Med3x */
    int hq_search;          /* fast GPU kernel's search, RB_HQ_SEARCH_*: the same answer by each */
    const unsigned short *hq_cells; /* the cell search's table (device; rb_hqmq_cells_build), or NULL */
    int hq_cells_g;         /* its cells per axis */
    /* 1: take every row as unit-norm (a config's assume_unit_norm): rho = 1, no norm computed,
     * nothing rescaled; a non-finite row is not detected and its output is not defined (the
     * agreement rule does not compare it). Rotation methods only: HQMQ has no row norm. */
    int unit_norm;
    /* The KV-cache paths (launch variants RB_VARIANT_ENCODE / _DECODE, method.h): the packed
     * codes and norms of kvpack.h (device pointers; the codes 16-byte aligned, as cudaMalloc's
     * are: the fast kernels store whole words of codes as 8-byte vectors) and the norm kind
     * (RB_KV_NORM_*). */
    void *kv_codes;
    void *kv_norms;
    int kv_norm;
    /* GPU fast kernels of the shared skeleton: 0 the small- or large-batch shape chosen by N,
     * 1 small, 2 large at every N (RB_FAST_SHAPE, run_options.h) */
    int fast_shape;
} rb_qdq_params;

/* 1 when the row's norm rho is finite; a NaN or Inf input makes it NaN or Inf (0 here), and the
 * caller then writes NaN for the whole row. Defined here once so every backend treats bad rows
 * alike. */
RB_HD int rb_row_is_finite(float rho) { return rho <= 3.402823466e38f; }

/* 1 / max(rho, eps), for a finite rho (rb_row_is_finite first): a zero row stays zero instead of
 * dividing by 0. */
RB_HD float rb_inv_norm(float rho) { return 1.0f / (rho > RB_NORM_EPS ? rho : RB_NORM_EPS); }

#endif
