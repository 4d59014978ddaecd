/* hqmq_method.c: HQMQ (kernels/common/hqmq.h, kernels/hqmq.cu) in the registry. It is not a
 * rotation with a scalar codebook, so it brings its own hooks (method_hooks.h): settings are
 * the config's operating points (S x radius bits, with or without Med3x) instead of bits; its
 * records carry the operating point and the measured outlier fraction; stored bits depend on
 * that fraction; each backend runs the Med3x pre-pass before the quantize pass. */
#include "hqmq_method.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agree.h"
#include "hqmq_codec.h"
#include "method_hooks.h"
#include "rb_kernels.h"

static long ceil_div(long a, long b) { return (a + b - 1) / b; }

long rb_hqmq_fma(int d, int S) { return (16L * S + 16) * ceil_div(d, 4); }

long rb_hqmq_params(int S) { return 4L * S; }

void rb_hqmq_params_shape(rb_qdq_params *p, int d, int S, int rbits, int outliers, double C,
                          int sigma_inliers)
{
    memset(p, 0, sizeof *p);
    p->method = rb_method_find("hqmq");
    p->d = d;
    p->block = 4;
    p->nblocks = (int)ceil_div(d, 4);
    p->dpad = p->nblocks * 4;
    p->hq_S = S;
    p->hq_rbits = rbits;
    p->hq_outliers = outliers;
    p->hq_C = (float)C;
    p->hq_sigma_inliers = sigma_inliers;
    p->hq_thresh = INFINITY;
    p->hq_search = RB_HQ_SEARCH_AUTO;
}

/* ---- hooks ---------------------------------------------------------------------------------- */
static int hqmq_nsettings(const rb_config *cfg) { return cfg->hqmq.nops; }

static void hqmq_setting(const rb_config *cfg, int i, int d, const rb_codebook *cbs, rb_qdq_params *p,
                         rb_record *r)
{
    (void)cbs; /* no Lloyd-Max codebook, so no prediction either */
    const rb_hqmq_config *hc = &cfg->hqmq;
    const rb_hqmq_op *op = &hc->ops[i];
    rb_hqmq_params_shape(p, d, op->S, op->rbits, hc->outliers, hc->C, hc->sigma_inliers);
    r->bits = 0;
    r->hq_S = op->S;
    r->hq_rbits = op->rbits;
    r->hq_outliers = hc->outliers;
    r->hq_sigma_inliers = hc->sigma_inliers;
    r->hq_C = hc->outliers ? hc->C : 0;
    r->pred_mse = NAN;
    r->fma_nominal = rb_hqmq_fma(d, op->S);
    r->params = rb_hqmq_params(op->S);
}

/* Med3x: the bits depend on the outlier fraction the run measured */
static void hqmq_finish(rb_record *r)
{
    r->bits_per_coord = rb_hqmq_bits_per_coord(r->d, r->hq_S, r->hq_rbits, r->hq_outliers, r->outlier_frac);
}

static void hqmq_op_label(const rb_record *r, char *buf, size_t n)
{
    int o = snprintf(buf, n, "s%d_r%d", r->hq_S, r->hq_rbits);
    if (r->hq_outliers && o >= 0 && (size_t)o < n)
        o += snprintf(buf + o, n - (size_t)o, r->hq_C == 3.0 ? "+med3" : "+med%g", r->hq_C);
    if (r->hq_sigma_inliers && o >= 0 && (size_t)o < n)
        snprintf(buf + o, n - (size_t)o, "+sigma-inliers");
}

static void hqmq_to_json(const rb_record *r, const rb_config *cfg, cJSON *o)
{
    (void)cfg;
    char op[64];
    hqmq_op_label(r, op, sizeof op);
    cJSON_AddStringToObject(o, "op", op); /* bits is 0: "op" tells the settings apart */
    cJSON *h = cJSON_AddObjectToObject(o, "hqmq");
    cJSON_AddNumberToObject(h, "S", r->hq_S);
    cJSON_AddNumberToObject(h, "radius_bits", r->hq_rbits);
    cJSON_AddStringToObject(h, "outliers", r->hq_outliers ? "med3" : "none");
    if (r->hq_outliers)
        cJSON_AddNumberToObject(h, "C", r->hq_C);
    cJSON_AddStringToObject(h, "sigma_from", r->hq_sigma_inliers ? "inliers" : "all");
    cJSON_AddNumberToObject(h, "outlier_fraction", isfinite(r->outlier_frac) ? r->outlier_frac : 0);
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void hqmq_from_json(const cJSON *o, rb_record *r)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "hqmq");
    if (!cJSON_IsObject(h))
        return;
    const char *out = jstr(h, "outliers"), *sf = jstr(h, "sigma_from");
    r->hq_S = (int)jnum(h, "S");
    r->hq_rbits = (int)jnum(h, "radius_bits");
    r->hq_outliers = out && !strcmp(out, "med3");
    r->hq_C = r->hq_outliers ? jnum(h, "C") : 0;
    r->hq_sigma_inliers = sf && !strcmp(sf, "inliers");
    r->outlier_frac = jnum(h, "outlier_fraction");
}

/* Agreement (agree.h): the kernel's products contract to FMA, so the direction search may pick
 * another codeword where two score within rounding. Each differing chunk is such a flip when
 * both choices score within 1e-5 (fp16 outputs: 2e-3) of each other against the chunk's
 * direction; the radius (r, sigma and its code) is the same on both sides by construction. */
static long hqmq_explain(const rb_qdq_params *p, int variant, rb_dtype dt, const float *x, const float *ref,
                         const float *gpu)
{
    (void)variant;
    const int d = p->d, g = (d + 3) / 4, qmax = (1 << p->hq_rbits) - 1;
    float r[4096 / 4], sig = 0;
    if (g > 4096 / 4)
        return 0;
    for (int b = 0; b < g; b++) {
        float v[4];
        rb_hqmq_load_chunk(x, d, b, v);
        r[b] = rb_hqmq_chunk_norm(v);
        sig = rb_hqmq_sigma_acc(sig, r[b], p->hq_thresh, p->hq_sigma_inliers);
    }
    sig = rb_hqmq_sigma_store(sig);
    const double tie = dt == RB_FP16 ? 2e-3 : 1e-5; /* fp16 outputs round the scores */
    const rb_agree_tol tol = rb_agree_row_tol(p, dt, x, ref);
    long flips = 0;
    for (int b = 0; b < g; b++) {
        int over = 0;
        double dg = 0, dc = 0;
        float v[4];
        rb_hqmq_load_chunk(x, d, b, v);
        for (int k = 0; k < 4 && 4 * b + k < d; k++) {
            over |= !rb_agree_elem(&tol, gpu[4 * b + k], ref[4 * b + k]);
            dg += (double)v[k] * gpu[4 * b + k];
            dc += (double)v[k] * ref[4 * b + k];
        }
        if (!over)
            continue;
        double rh = rb_hqmq_radius_hat(rb_hqmq_radius_code(r[b], sig, qmax), sig, qmax);
        if (!(rh > 0 && r[b] > 0 && fabs(dg - dc) / (rh * r[b]) <= tie))
            return 0;
        flips++;
    }
    return flips;
}

/* Agreement's summation depth: the fma count per coordinate is the search's; an output is the
 * Hamilton product q_p q_s (four terms) times the radius, whose roundings the rule's +2 holds. */
static int hqmq_sum_depth(const rb_qdq_params *p)
{
    (void)p;
    return 4;
}

/* v (dpad >= chunk count floats) is its scratch */
static void hqmq_cpu_row(const rb_qdq_params *p, const float *x, float *out, float *v, float *tmp)
{
    (void)tmp;
    rb_hqmq_row(p->rot, p->hq_S, p->hq_rbits, p->hq_thresh, p->hq_sigma_inliers, p->d, x, out, v);
}

static const rb_method_hooks hqmq_hooks = {
    .nsettings = hqmq_nsettings,
    .setting = hqmq_setting,
    .finish = hqmq_finish,
    .op_label = hqmq_op_label,
    .to_json = hqmq_to_json,
    .from_json = hqmq_from_json,
    .explain = hqmq_explain,
    .sum_depth = hqmq_sum_depth,
    .cpu_row = hqmq_cpu_row,
    .cpu_run = rb_cpu_run_hqmq,
    .gpu_run = rb_gpu_run_hqmq,
    .kv_stored_bytes = rb_hqmq_kv_stored_bytes,
    .cpu_kvpath = rb_cpu_run_hqmq_kvpath,
    .gpu_kvpath = rb_gpu_run_hqmq_kvpath,
};

/* ---- descriptor ----------------------------------------------------------------------------- */
static int hqmq_block(int d)
{
    (void)d;
    return 4;
}

/* q_s drawn for the largest S; an operating point uses the first S */
static long hqmq_param_count(int d)
{
    (void)d;
    return rb_hqmq_params(RB_HQMQ_MAX_S);
}

/* at the paper's smallest operating point, S = 24; records carry their own S's count */
static long hqmq_fma_s24(int d) { return rb_hqmq_fma(d, 24); }

static int hqmq_launch(const rb_qdq_params *p, int variant, int dtype, const void *x, void *xh, long N, void *st)
{
    /* Med3x needs the pre-pass's threshold on the device: only the hooks' run launches it */
    if (p->hq_outliers)
        return (int)cudaErrorInvalidValue;
    if (variant == RB_VARIANT_ENCODE || variant == RB_VARIANT_DECODE) { /* records in kv_codes, sigma in kv_norms */
        const rb_hqmq_kv kv = {.rows = p->kv_codes, .sigma = p->kv_norms};
        return (int)rb_launch_hqmq_kv(p, variant, dtype, x, xh, N, NULL, &kv, (cudaStream_t)st);
    }
    return (int)rb_launch_hqmq(p, variant, dtype, x, xh, N, NULL, (cudaStream_t)st);
}

const rb_method_desc rb_method_hqmq = {
    .abi = RB_METHOD_ABI,
    .name = "hqmq",
    .paper_name = "HQMQ",
    .summary = "Hurwitz quaternion product codebook on 4-chunks (2T x S secondaries) and a radius code",
    .in_all = 0,
    .block = hqmq_block,
    .param_count = hqmq_param_count,
    .fma = hqmq_fma_s24,
    .check_d = NULL,
    .param_kind = RB_PARAMS_UNIT_GROUPS,
    .param_group = 4,
    .rotate_fwd = NULL,
    .rotate_inv = NULL,
    .launch = hqmq_launch,
    .variants = RB_VARIANT_BIT_PAPER | RB_VARIANT_BIT_FAST | RB_VARIANT_BIT_ENCODE | RB_VARIANT_BIT_DECODE,
    .hooks = &hqmq_hooks,
};
