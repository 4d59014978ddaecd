/* qdq.h: the method table and one vector's fused quantize -> dequantize,
 *   rho = |x|, xb = x / max(rho, eps), y = T(xb), yq = Q(y), xh = rho * T^-1(yq).
 * The CPU backend runs rb_qdq_row over every row; the CUDA kernels call the same per-block
 * functions (quat.h, rotor.h, givens.h, wht.h, dense.h, scalar_quant.h) in their own
 * launch layouts. */
#ifndef RB_QDQ_H
#define RB_QDQ_H

#include "dense.h"
#include "givens.h"
#include "hqmq.h"
#include "quat.h"
#include "rb_hd.h"
#include "rotor.h"
#include "scalar_quant.h"
#include "wht.h"

typedef enum {
    RB_IDENTITY = 0, /* control: no rotation, same codebook */
    RB_TQ_WHT,       /* TurboQuant, randomized Walsh-Hadamard */
    RB_TQ_DENSE,     /* TurboQuant, dense Haar d x d */
    RB_ROTOR,        /* RotorQuant, Cl(3,0) rotors on 3-blocks */
    RB_ISO_FULL,     /* IsoQuant-Full, qL v conj(qR) on 4-blocks */
    RB_ISO_FAST,     /* IsoQuant-Fast, qL v */
    RB_PLANAR,       /* PlanarQuant (IsoQuant-2D), Givens on 2-blocks */
    RB_NUM_METHODS,  /* the rotation family (and identity): what a config's "all" means */
    RB_HQMQ = RB_NUM_METHODS, /* HQMQ: Hurwitz product codebook, not a rotation (hqmq.h) */
    RB_NUM_METHODS_ALL
} rb_method;

#define RB_NORM_EPS 1e-12f

/* The HQMQ fast kernel's search (rb_qdq_params.hq_search). AUTO: the cell search
 * (hqmq_cells.h) where the host gave its table (hq_cells), else the tensor-core screen
 * (hqmq_screen.h) where it applies and S >= RB_HQ_TC_AUTO_S, else the fp32 closed form (on the
 * H100 the screen beats the closed form at S = 96 and 192, not at 24; docs/PERF.md). TC, FP32,
 * CELLS: that search wherever it applies (CELLS needs the table), the closed form elsewhere. */
#define RB_HQ_SEARCH_AUTO 0
#define RB_HQ_SEARCH_TC 1
#define RB_HQ_SEARCH_FP32 2
#define RB_HQ_SEARCH_CELLS 3
#define RB_HQ_TC_AUTO_S 64

/* Everything one (method, d, bits) needs; identical on both backends. rot's layout per block:
 * WHT d signs (+-1); dense P row-major d*d; rotor [s,p12,p13,p23]; iso-full [qL, qR];
 * iso-fast qL; planar [cos, sin]; identity none. */
typedef struct {
    int method;
    int d;
    int bits;
    int block;   /* coordinates per rotation block (d for WHT and dense, 1 for identity) */
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
} rb_qdq_params;

RB_HD int rb_method_block(int method, int d)
{
    switch (method) {
    case RB_TQ_WHT:
    case RB_TQ_DENSE: return d;
    case RB_ROTOR: return 3;
    case RB_ISO_FULL:
    case RB_ISO_FAST:
    case RB_HQMQ: return 4;
    case RB_PLANAR: return 2;
    default: return 1;
    }
}

/* Floats of rotation parameters per vector. */
RB_HD long rb_method_rot_len(int method, int d)
{
    int k = rb_method_block(method, d), g = (d + k - 1) / k;
    switch (method) {
    case RB_TQ_WHT: return d;
    case RB_TQ_DENSE: return (long)d * d;
    case RB_ROTOR: return 4L * g;
    case RB_ISO_FULL: return 8L * g;
    case RB_ISO_FAST: return 4L * g;
    case RB_PLANAR: return 2L * g;
    case RB_HQMQ: return 4L * RB_HQMQ_MAX_S; /* independent of d; an S uses the first S */
    default: return 0;
    }
}

/* Forward rotation of block b, in place on v (block coordinates). */
RB_HD void rb_block_fwd(const rb_qdq_params *p, int b, float *v)
{
    const float *r = p->rot;
    switch (p->method) {
    case RB_ROTOR: rb_rotor_fwd(r + 4 * b, v); break;
    case RB_ISO_FULL: rb_iso_full_fwd(r + 8 * b, r + 8 * b + 4, v); break;
    case RB_ISO_FAST: rb_iso_fast_fwd(r + 4 * b, v); break;
    case RB_PLANAR: rb_givens_fwd(r[2 * b], r[2 * b + 1], v); break;
    default: break;
    }
}

RB_HD void rb_block_inv(const rb_qdq_params *p, int b, float *v)
{
    const float *r = p->rot;
    switch (p->method) {
    case RB_ROTOR: rb_rotor_inv(r + 4 * b, v); break;
    case RB_ISO_FULL: rb_iso_full_inv(r + 8 * b, r + 8 * b + 4, v); break;
    case RB_ISO_FAST: rb_iso_fast_inv(r + 4 * b, v); break;
    case RB_PLANAR: rb_givens_inv(r[2 * b], r[2 * b + 1], v); break;
    default: break;
    }
}

/* Whole-vector forward / inverse rotation on v[0..dpad); tmp holds dpad floats (dense only). */
RB_HD void rb_rotate_fwd(const rb_qdq_params *p, float *v, float *tmp)
{
    if (p->method == RB_TQ_WHT) {
        rb_wht_fwd(p->rot, v, p->d, 1.0f / sqrtf((float)p->d));
    } else if (p->method == RB_TQ_DENSE) {
        rb_dense_fwd(p->rot, v, tmp, p->d);
        for (int j = 0; j < p->d; j++)
            v[j] = tmp[j];
    } else if (p->method != RB_IDENTITY) {
        for (int b = 0; b < p->nblocks; b++)
            rb_block_fwd(p, b, v + b * p->block);
    }
}

RB_HD void rb_rotate_inv(const rb_qdq_params *p, float *v, float *tmp)
{
    if (p->method == RB_TQ_WHT) {
        rb_wht_inv(p->rot, v, p->d, 1.0f / sqrtf((float)p->d));
    } else if (p->method == RB_TQ_DENSE) {
        rb_dense_inv(p->rot, v, tmp, p->d);
        for (int j = 0; j < p->d; j++)
            v[j] = tmp[j];
    } else if (p->method != RB_IDENTITY) {
        for (int b = 0; b < p->nblocks; b++)
            rb_block_inv(p, b, v + b * p->block);
    }
}

/* 1 / max(rho, eps), or 0 when rho is not finite (NaN or Inf input): the caller then writes
 * NaN for the whole row. Defined here once so every backend treats bad rows alike. */
RB_HD int rb_row_is_finite(float rho) { return rho <= 3.402823466e38f; }

RB_HD float rb_inv_norm(float rho) { return 1.0f / (rho > RB_NORM_EPS ? rho : RB_NORM_EPS); }

/* One row: x (d floats) -> out (d floats). v and tmp hold dpad floats each. A row with a
 * non-finite norm comes out all NaN; a zero row comes out zero (rho = 0 rescales to 0). */
RB_HD void rb_qdq_row(const rb_qdq_params *p, const float *x, float *out, float *v, float *tmp)
{
    if (p->method == RB_HQMQ) { /* v (dpad >= chunk count floats) is its scratch */
        rb_hqmq_row(p->rot, p->hq_S, p->hq_rbits, p->hq_thresh, p->hq_sigma_inliers, p->d, x, out, v);
        return;
    }
    float ss = 0.0f;
    for (int j = 0; j < p->d; j++)
        ss += x[j] * x[j];
    float rho = sqrtf(ss);
    if (!rb_row_is_finite(rho)) {
        for (int j = 0; j < p->d; j++)
            out[j] = rb_bits_f32(0x7fc00000u);
        return;
    }
    float inv = rb_inv_norm(rho);
    for (int j = 0; j < p->d; j++)
        v[j] = x[j] * inv;
    for (int j = p->d; j < p->dpad; j++)
        v[j] = 0.0f;
    rb_rotate_fwd(p, v, tmp);
    for (int j = 0; j < p->dpad; j++)
        v[j] = rb_sq_qdq(v[j], p->bounds, p->centroids, p->nbounds);
    rb_rotate_inv(p, v, tmp);
    for (int j = 0; j < p->d; j++)
        out[j] = rho * v[j];
}

#endif
