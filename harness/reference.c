/* reference.c: the CPU pipeline around a method's rotation, and the rotation methods' hooks:
 * the bits axis with a Lloyd-Max codebook, which every rotation method and plugin shares. */
#include "reference.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agree.h"
#include "counts.h"
#include "fp16.h"
#include "method_hooks.h"

void rb_rotate_fwd(const rb_qdq_params *p, float *v, float *tmp)
{
    const rb_method_desc *d = rb_method_get(p->method);
    if (d && d->rotate_fwd)
        d->rotate_fwd(p, v, tmp);
}

void rb_rotate_inv(const rb_qdq_params *p, float *v, float *tmp)
{
    const rb_method_desc *d = rb_method_get(p->method);
    if (d && d->rotate_inv)
        d->rotate_inv(p, v, tmp);
}

float rb_rotate_row_in(const rb_qdq_params *p, const float *x, float *v, float *tmp)
{
    float rho = 1.0f; /* assume_unit_norm: no norm; the scalings are then exact no-ops */
    if (!p->unit_norm) {
        float ss = 0.0f;
        for (int j = 0; j < p->d; j++)
            ss += x[j] * x[j];
        rho = sqrtf(ss);
        if (!rb_row_is_finite(rho))
            return rho;
    }
    float inv = rb_inv_norm(rho);
    for (int j = 0; j < p->d; j++)
        v[j] = x[j] * inv;
    for (int j = p->d; j < p->dpad; j++)
        v[j] = 0.0f;
    rb_rotate_fwd(p, v, tmp);
    return rho;
}

static void rotation_row(const rb_qdq_params *p, const float *x, float *out, float *v, float *tmp)
{
    const float rho = rb_rotate_row_in(p, x, v, tmp);
    if (!rb_row_is_finite(rho)) {
        for (int j = 0; j < p->d; j++)
            out[j] = rb_bits_f32(0x7fc00000u);
        return;
    }
    for (int j = 0; j < p->dpad; j++)
        v[j] = rb_sq_qdq(v[j], p->bounds, p->centroids, p->nbounds);
    rb_rotate_inv(p, v, tmp);
    for (int j = 0; j < p->d; j++)
        out[j] = rho * v[j];
}

void rb_qdq_row(const rb_qdq_params *p, const float *x, float *out, float *v, float *tmp)
{
    rb_method_hooks_of(p->method)->cpu_row(p, x, out, v, tmp);
}

/* ---- the rotation methods' hooks ---------------------------------------------------------- */
static int rotation_nsettings(const rb_config *cfg) { return cfg->nbits; }

static void rotation_setting(const rb_config *cfg, int i, int d, const rb_codebook *cbs, rb_qdq_params *p,
                             rb_record *r)
{
    const rb_codebook *cb = &cbs[i];
    rb_qdq_params_shape(p, r->method, d, cfg->bits[i]);
    p->bounds = cb->bounds_f;
    p->centroids = cb->centroids_f;
    r->bits = cfg->bits[i];
    r->pred_mse = rb_codebook_mse_under(cb, RB_CODEBOOK_BETA, d);
    r->fma_nominal = rb_nominal_fma(r->method, d);
    r->params = rb_param_count(r->method, d);
    r->bits_per_coord = rb_bits_per_coord(r->method, d, r->bits);
}

static void rotation_finish(rb_record *r) { (void)r; }

/* bits tell a rotation method's settings apart: no label of its own */
static void rotation_op_label(const rb_record *r, char *buf, size_t n)
{
    (void)r;
    snprintf(buf, n, "%s", "");
}

static void rotation_to_json(const rb_record *r, const rb_config *cfg, cJSON *o)
{
    (void)r;
    cJSON_AddStringToObject(o, "codebook", rb_codebook_name(cfg->codebook));
}

static void rotation_from_json(const cJSON *o, rb_record *r)
{
    (void)o;
    (void)r;
}

const rb_method_hooks rb_rotation_hooks = {
    .nsettings = rotation_nsettings,
    .setting = rotation_setting,
    .finish = rotation_finish,
    .op_label = rotation_op_label,
    .to_json = rotation_to_json,
    .from_json = rotation_from_json,
    .explain = rb_agree_near_boundary,
    .cpu_row = rotation_row,
};

const rb_method_hooks *rb_method_hooks_of(rb_method m)
{
    const rb_method_desc *d = rb_method_get(m);
    return d && d->hooks ? (const rb_method_hooks *)d->hooks : &rb_rotation_hooks;
}
