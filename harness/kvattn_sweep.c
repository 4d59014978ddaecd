/* kvattn_sweep.c: the sweep of a config's "kv_attention" (kvattn_sweep.h). */
#include "kvattn_sweep.h"

#include <curand.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codebook.h"
#include "counts.h"
#include "data.h"
#include "fp16.h"
#include "hostmem.h"
#include "kvattn_cpu.h"
#include "kvattn_mem.h"
#include "kvcodec.h"
#include "method_hooks.h"
#include "results.h"
#include "tensor_file.h"

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* n N(0, 1) floats from cuRAND's host Philox (out holds n rounded up to even). */
static int normals(uint64_t seed, long n, float *out, char *err, size_t errlen)
{
    curandGenerator_t g = NULL;
    curandStatus_t st = curandCreateGeneratorHost(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10);
    if (st == CURAND_STATUS_SUCCESS)
        st = curandSetPseudoRandomGeneratorSeed(g, seed);
    if (st == CURAND_STATUS_SUCCESS)
        st = curandGenerateNormal(g, out, (size_t)(n + (n & 1)), 0.0f, 1.0f);
    if (g) {
        curandStatus_t st2 = curandDestroyGenerator(g);
        if (st == CURAND_STATUS_SUCCESS)
            st = st2;
    }
    if (st != CURAND_STATUS_SUCCESS) {
        snprintf(err, errlen, "cuRAND host generator failed (status %d)", (int)st);
        return -1;
    }
    return 0;
}

/* ---- the caches' inputs ------------------------------------------------------------------- */

typedef struct {
    rb_tensor_file t[3]; /* k, v, q */
    long rows[3];        /* rows of one slice after the rows option */
    int slices[3];
    int d, nslices;
} kv_files;

static const char *const file_key[3] = {"k", "v", "q"};

static const rb_kva_file *file_cfg(const rb_kva_config *kc, int i) { return i == 0 ? &kc->k : i == 1 ? &kc->v : &kc->q; }

static int open_files(const rb_config *cfg, kv_files *f, char *err, size_t n)
{
    const rb_kva_config *kc = &cfg->kva;
    for (int i = 0; i < 3; i++) {
        const rb_kva_file *fc = file_cfg(kc, i);
        if (rb_tensor_open(fc->path, fc->tensor, &f->t[i], err, n))
            return -1;
        const rb_tf_header *h = &f->t[i].h;
        f->slices[i] = 1;
        f->rows[i] = h->rows;
        if (fc->split_axis >= 0) {
            if (fc->split_axis >= h->ndim - 1) {
                snprintf(err, n, "%s: kv_attention.inputs.%s.split_axis %d: the tensor's leading axes are 0..%d",
                         fc->path, file_key[i], fc->split_axis, h->ndim - 2);
                return -1;
            }
            f->slices[i] = (int)h->shape[fc->split_axis];
            f->rows[i] = h->rows / h->shape[fc->split_axis];
        }
        if (fc->rows_mode == RB_ROWS_FIRST) {
            if (fc->rows_n > f->rows[i]) {
                snprintf(err, n, "%s: kv_attention.inputs.%s.rows asks for %ld rows, but %s holds %ld", fc->path,
                         file_key[i], fc->rows_n, fc->split_axis >= 0 ? "a slice" : "the tensor", f->rows[i]);
                return -1;
            }
            f->rows[i] = fc->rows_n;
        }
    }
    if (f->t[0].h.d != f->t[1].h.d || f->t[0].h.d != f->t[2].h.d) {
        snprintf(err, n, "kv_attention.inputs: d (the last dimension) differs: k %ld (%s), v %ld (%s), q %ld (%s); all "
                 "three must agree", f->t[0].h.d, kc->k.path, f->t[1].h.d, kc->v.path, f->t[2].h.d, kc->q.path);
        return -1;
    }
    f->d = (int)f->t[0].h.d;
    if (f->d < 2 || f->d > 4096) {
        snprintf(err, n, "%s: d = %d: expected 2..4096", kc->k.path, f->d);
        return -1;
    }
    if (f->rows[0] != f->rows[1]) {
        snprintf(err, n, "kv_attention.inputs: k has %ld rows, v %ld: K row i is paired with V row i, so they must agree",
                 f->rows[0], f->rows[1]);
        return -1;
    }
    if (f->slices[0] != f->slices[1] || (f->slices[2] != 1 && f->slices[2] != f->slices[0])) {
        snprintf(err, n, "kv_attention.inputs: slices differ: k %d, v %d, q %d (q may also have 1)", f->slices[0],
                 f->slices[1], f->slices[2]);
        return -1;
    }
    f->nslices = f->slices[0];
    if (cfg->ndims > 0 && (cfg->ndims != 1 || cfg->dims[0] != f->d)) {
        snprintf(err, n, "kv_attention.inputs: d = %d in the files, but the config's dims say %d%s", f->d, cfg->dims[0],
                 cfg->ndims > 1 ? ", ..." : "");
        return -1;
    }
    for (int m = 0; m < cfg->nmethods; m++) {
        const rb_method_desc *md = rb_method_get(cfg->methods[m]);
        const char *why = md->check_d ? md->check_d(f->d) : NULL;
        if (why) {
            snprintf(err, n, "%s: d = %d, which %s cannot take: it needs %s", kc->k.path, f->d, md->name, why);
            return -1;
        }
    }
    return 0;
}

/* File row of the k-th row of slice s (split_axis a): C order over the leading axes. */
static long slice_row(const rb_tensor_file *t, int axis, int s, long k)
{
    if (axis < 0)
        return k;
    long inner = 1;
    for (int a = axis + 1; a < t->h.ndim - 1; a++)
        inner *= t->h.shape[a];
    return ((k / inner) * t->h.shape[axis] + s) * inner + k % inner;
}

/* The cache rows of shape s from a K or V file: cache row (b, g, t) from the slice's row
 * ((b kv_heads + g) T + t) ("bht") or ((b T + t) kv_heads + g) ("bth"). */
static void file_cache(const kv_files *f, const rb_kva_config *kc, int i, int slice, const rb_kvattn_args *s, float *x)
{
    const rb_kva_file *fc = file_cfg(kc, i);
#pragma omp parallel for schedule(static)
    for (long r = 0; r < rb_kva_rows(s); r++) {
        const long t = r % s->T, g = (r / s->T) % s->Hkv, b = r / (s->T * s->Hkv);
        const long k = kc->order == RB_KVA_ORDER_BHT ? r : (b * s->T + t) * s->Hkv + g;
        rb_tensor_row(&f->t[i], slice_row(&f->t[i], fc->split_axis, slice, k), x + r * s->d);
    }
}

/* ---- shapes -------------------------------------------------------------------------------- */

typedef struct {
    rb_kvattn_args s;
    int slice; /* files: the slice, else -1 */
} kv_shape;

/* Every shape of the sweep (count only when out is NULL). */
static int list_shapes(const rb_config *cfg, const kv_files *f, kv_shape *out)
{
    const rb_kva_config *kc = &cfg->kva;
    const int files = kc->input == RB_KVA_FILES;
    const int nd = files ? 1 : cfg->ndims, nsl = files ? f->nslices : 1;
    const int nkv = kc->nkv ? kc->nkv : 1, nT = kc->nT ? kc->nT : 1;
    int n = 0;
    for (int sl = 0; sl < nsl; sl++)
        for (int di = 0; di < nd; di++)
            for (int bi = 0; bi < kc->nB; bi++)
                for (int hi = 0; hi < kc->nH; hi++)
                    for (int ki = 0; ki < nkv; ki++)
                        for (int ti = 0; ti < nT; ti++) {
                            if (out) {
                                rb_kvattn_args *s = &out[n].s;
                                s->B = kc->B[bi];
                                s->Hq = kc->H[hi];
                                s->Hkv = kc->nkv ? kc->kv_heads[ki] : s->Hq;
                                s->d = files ? f->d : cfg->dims[di];
                                s->T = (int)(kc->nT ? kc->T[ti] : (files ? f->rows[0] / ((long)s->B * s->Hkv) : 0));
                                /* "auto" is chosen per record (record_split); 64, its least,
                                 * bounds the workspace for the memory checks */
                                s->split = kc->split ? kc->split : 64;
                                s->scale = 1.0f / sqrtf((float)s->d);
                                out[n].slice = files ? sl : -1;
                            }
                            n++;
                        }
    return n;
}

static int max_dpad(const rb_config *cfg, int d);

/* Records a shape makes: the fp16 cache and every packing method at every bits. */
static int records_per_shape(const rb_config *cfg)
{
    int n = 1;
    for (int m = 0; m < cfg->nmethods; m++)
        n += rb_kv_method_packs(cfg->methods[m]) ? cfg->nbits : 0;
    return n;
}

/* The setting of the sweep that needs the most of the backend's memory (kvattn_mem.h's layout:
 * the fp16 cache, or a method at a bits width) into *big, *fp16. */
static void largest_setting(const rb_config *cfg, const kv_shape *sh, int n, rb_kvattn_args *big, int *fp16)
{
    double most = -1;
    rb_kva_dev_layout l;
    for (int i = 0; i < n; i++) {
        rb_kvattn_args a = sh[i].s;
        a.dpad = a.d;
        rb_kva_dev_layout_of(&a, 1, &l);
        if (l.need > most) {
            most = l.need;
            *big = a;
            *fp16 = 1;
        }
        for (int m = 0; m < cfg->nmethods; m++) {
            if (!rb_kv_method_packs(cfg->methods[m]))
                continue;
            a.dpad = rb_method_dpad(cfg->methods[m], a.d);
            a.norm_kind = rb_kv_norm_kind(cfg->unit_norm, cfg->kv_norm);
            for (int b = 0; b < cfg->nbits; b++) {
                a.bits = cfg->bits[b];
                rb_kva_dev_layout_of(&a, 0, &l);
                if (l.need > most) {
                    most = l.need;
                    *big = a;
                    *fp16 = 0;
                }
            }
        }
    }
}

/* Does every shape fit its inputs, the backend's memory (be->kv_fits for the largest setting)
 * and host memory? One line in err otherwise. */
static int check_shapes(const rb_config *cfg, rb_backend *be, const kv_files *f, const kv_shape *sh, int n, char *err,
                        size_t len)
{
    for (int i = 0; i < n && cfg->kva.input == RB_KVA_FILES; i++) {
        const rb_kvattn_args *s = &sh[i].s;
        if (s->T < 1 || (double)s->B * s->Hkv * s->T > (double)f->rows[0]) {
            snprintf(err, len, "kv_attention: B = %d x kv_heads = %d x T = %d cache rows, but %s holds %ld rows",
                     s->B, s->Hkv, s->T, cfg->kva.k.path, f->rows[0]);
            return -1;
        }
        if ((double)s->B * s->Hq > (double)f->rows[2]) {
            snprintf(err, len, "kv_attention: B = %d x H = %d queries, but %s holds %ld rows", s->B, s->Hq,
                     cfg->kva.q.path, f->rows[2]);
            return -1;
        }
    }
    if (be && be->kv_fits && n > 0) {
        rb_kvattn_args big;
        int fp16 = 1;
        char why[1024];
        largest_setting(cfg, sh, n, &big, &fp16);
        if (be->kv_fits(be, &big, fp16, why, sizeof why)) {
            snprintf(err, len, "%s: %s", be->name, why);
            return -1;
        }
    }
    const double avail = rb_hostmem_available();
    for (int i = 0; i < n; i++) {
        const rb_kvattn_args *s = &sh[i].s;
        const double need = rb_kva_host_bytes(s, max_dpad(cfg, s->d)) + RB_HOSTMEM_MARGIN;
        if (avail > 0 && need > avail) {
            snprintf(err, len, "kv_attention: B = %d, H = %d, kv_heads = %d, T = %d, d = %d needs %.0f bytes of host "
                     "memory (its caches, fp32, fp16 and compressed, the scores and outputs, a %.0f margin); %.0f are "
                     "available", s->B, s->Hq, s->Hkv, s->T, s->d, need, RB_HOSTMEM_MARGIN, avail);
            return -1;
        }
    }
    return 0;
}

/* ---- one shape ----------------------------------------------------------------------------- */

typedef struct {
    float *K, *V, *q, *o, *ocpu;
    uint16_t *K16, *V16;
    double *ref_o, *ref_s, *sc;
    void *kcodes, *vcodes, *knorms, *vnorms;
    float *Pi, *rot;
} kv_bufs;

static void free_bufs(kv_bufs *b)
{
    free(b->K); free(b->V); free(b->q); free(b->o); free(b->ocpu); free(b->K16); free(b->V16);
    free(b->ref_o); free(b->ref_s); free(b->sc);
    free(b->kcodes); free(b->vcodes); free(b->knorms); free(b->vnorms);
    free(b->Pi); free(b->rot);
    memset(b, 0, sizeof *b);
}

static int alloc_bufs(const rb_kvattn_args *s, int dpad, kv_bufs *b)
{
    const size_t rows = (size_t)rb_kva_rows(s), nw = (size_t)s->B * s->Hq, d = (size_t)s->d;
    const size_t wpr = (size_t)rb_kv_row_bytes(dpad, 8) / 4;
    memset(b, 0, sizeof *b);
    b->K = malloc(sizeof(float) * (rows * d + 1));
    b->V = malloc(sizeof(float) * (rows * d + 1));
    b->q = malloc(sizeof(float) * (nw * d + 1));
    b->o = malloc(sizeof(float) * nw * d);
    b->ocpu = malloc(sizeof(float) * nw * d);
    b->K16 = malloc(sizeof(uint16_t) * rows * d);
    b->V16 = malloc(sizeof(uint16_t) * rows * d);
    b->ref_o = malloc(sizeof(double) * nw * d);
    b->ref_s = malloc(sizeof(double) * nw * (size_t)s->T);
    b->sc = malloc(sizeof(double) * nw * (size_t)s->T);
    b->kcodes = malloc(sizeof(uint32_t) * rows * wpr);
    b->vcodes = malloc(sizeof(uint32_t) * rows * wpr);
    b->knorms = malloc(sizeof(float) * rows);
    b->vnorms = malloc(sizeof(float) * rows);
    b->Pi = malloc(sizeof(float) * (size_t)dpad * dpad);
    return b->K && b->V && b->q && b->o && b->ocpu && b->K16 && b->V16 && b->ref_o && b->ref_s && b->sc && b->kcodes &&
                   b->vcodes && b->knorms && b->vnorms && b->Pi
               ? 0
               : -1;
}

/* K, V, q of a shape: Gaussian from (seed, shape), or the files' rows. */
static int fill_inputs(const rb_config *cfg, const kv_files *f, const kv_shape *ks, kv_bufs *b, char *err, size_t n)
{
    const rb_kvattn_args *s = &ks->s;
    const long rows = rb_kva_rows(s), nw = (long)s->B * s->Hq;
    if (cfg->kva.input == RB_KVA_FILES) {
        file_cache(f, &cfg->kva, 0, ks->slice, s, b->K);
        file_cache(f, &cfg->kva, 1, ks->slice, s, b->V);
        const int qs = f->slices[2] == 1 ? 0 : ks->slice;
        for (long w = 0; w < nw; w++)
            rb_tensor_row(&f->t[2], slice_row(&f->t[2], cfg->kva.q.split_axis, qs, w), b->q + w * s->d);
        return 0;
    }
    uint64_t tag = mix64(cfg->seed ^ 0x6b7661747465ull);
    tag = mix64(tag ^ ((uint64_t)s->d << 40) ^ ((uint64_t)s->B << 20) ^ (uint64_t)s->Hkv);
    tag = mix64(tag ^ (uint64_t)s->T);
    if (normals(mix64(tag ^ 'K'), rows * s->d, b->K, err, n) || normals(mix64(tag ^ 'V'), rows * s->d, b->V, err, n) ||
        normals(mix64(tag ^ ((uint64_t)s->Hq << 8) ^ 'Q'), nw * s->d, b->q, err, n))
        return -1;
    return 0;
}

static void base_record(const rb_config *cfg, rb_backend *be, const kv_shape *ks, rb_record *r)
{
    const rb_kvattn_args *s = &ks->s;
    memset(r, 0, sizeof *r);
    snprintf(r->variant, sizeof r->variant, "%s", be->variants[0]);
    r->d = s->d;
    r->N = rb_kva_rows(s);
    r->dist = 0;
    r->slice = ks->slice;
    r->unit_norm = cfg->unit_norm;
    r->m.mse = r->m.rel_err = r->m.cosine = r->pred_mse = NAN;
    r->kva.on = 1;
    r->path = RB_PATH_ATTENTION;
    r->kva.B = s->B;
    r->kva.H = s->Hq;
    r->kva.kv_heads = s->Hkv;
    r->kva.T = s->T;
    r->kva.input = cfg->kva.input;
}

/* A record's split: the config's, or "auto": one wave of the split kernel that takes the shape
 * (a: its dpad, bits and norm kind set for a compressed cache), as many CTAs as the backend's
 * device keeps resident (be->kv_ctas), or where it has none or cannot tell, kvattn.h's model of
 * the H100. */
static int record_split(const rb_config *cfg, rb_backend *be, const rb_kvattn_args *a, int fp16)
{
    if (cfg->kva.split)
        return cfg->kva.split;
    int sms = RB_KVA_MODEL_SMS;
    int ctas = be->kv_ctas ? be->kv_ctas(be, a, fp16, &sms) : 0; /* the hook sets the device's SMs */
    if (ctas < 1)
        ctas = rb_kvattn_model_ctas(a, fp16);
    return rb_kvattn_default_split(a->B, a->Hkv, a->T, sms, ctas);
}

/* The key of a shape's fp16-cache record, and of its record for method m at bits: what the
 * driver matches earlier records on (--resume). */
static void fp16_key(const rb_config *cfg, rb_backend *be, const kv_shape *ks, rb_record *r)
{
    base_record(cfg, be, ks, r);
    r->method = rb_method_find("identity") >= 0 ? rb_method_find("identity") : cfg->methods[0];
    r->kva.fp16_cache = 1;
    r->bits = 16;
    r->dtype = RB_FP16; /* the cache's */
    r->bits_per_coord = 16;
    rb_kvattn_args a = ks->s;
    a.dpad = a.d;
    r->kva.split = record_split(cfg, be, &a, 1);
}

static void method_key(const rb_config *cfg, rb_backend *be, const kv_shape *ks, rb_method m, int bits, rb_record *r)
{
    base_record(cfg, be, ks, r);
    r->method = m;
    r->bits = bits;
    r->dtype = RB_FP32; /* queries and outputs; the cache is codes + norms */
    r->kv_norm = rb_kv_norm_kind(cfg->unit_norm, cfg->kv_norm);
    rb_kvattn_args a = ks->s;
    a.dpad = rb_method_dpad(m, a.d);
    a.bits = bits;
    a.norm_kind = r->kv_norm;
    r->kva.split = record_split(cfg, be, &a, 0);
}

/* An earlier run's record with r's key (--resume), or NULL. */
static const rb_record *done_of(const rb_kva_sink *sink, const rb_record *key)
{
    return sink->done ? sink->done(sink->ctx, key) : NULL;
}

/* Are all of a shape's records done? Then its caches need not even be made. */
static int shape_done(const rb_config *cfg, rb_backend *be, const kv_shape *ks, const rb_kva_sink *sink)
{
    rb_record k;
    fp16_key(cfg, be, ks, &k);
    if (!done_of(sink, &k))
        return 0;
    for (int mi = 0; mi < cfg->nmethods; mi++)
        for (int bi = 0; bi < cfg->nbits && rb_kv_method_packs(cfg->methods[mi]); bi++) {
            method_key(cfg, be, ks, cfg->methods[mi], cfg->bits[bi], &k);
            if (!done_of(sink, &k))
                return 0;
        }
    return 1;
}

static void finish_record(const rb_kvattn_args *s, const rb_kva_metrics *m, double bytes, rb_record *r)
{
    r->bytes = bytes;
    r->kva.cache_bytes = bytes;
    r->kva.bytes_per_token = bytes / ((double)s->B * s->T);
    r->kva.max_rel_err = m->max_rel_err;
    r->attn.computed = 1;
    r->attn.nq = s->B * s->Hq;
    r->attn.T = (int)s->T;
    r->attn.groups = 1;
    r->attn.ip_err = r->attn.ip_bias = NAN;
    r->attn.kl = m->kl;
    r->attn.top1 = m->top1;
    r->attn.top5 = m->top5;
    r->attn.out_cos = m->out_cos;
}

/* Another backend's output against the CPU's split attention on the same cache: the largest
 * |o_backend - o_cpu| / max |o_cpu| over the batch into the record's check fields. */
static void check_vs_cpu(const rb_backend *be, rb_kvattn_args *a, int fp16, float *ocpu, rb_record *r)
{
    if (!strcmp(be->name, "cpu"))
        return;
    float *o = a->o;
    a->o = ocpu;
    rb_kva_attend(a, fp16);
    a->o = o;
    double e = 0, m = 0;
    const long n = (long)a->B * a->Hq * a->d;
    for (long i = 0; i < n; i++) {
        e = isnan(o[i]) != isnan(ocpu[i]) ? INFINITY : fmax(e, fabs((double)o[i] - ocpu[i]));
        m = fmax(m, fabs(ocpu[i]));
    }
    r->check_rows = (long)a->B * a->Hq;
    r->check_max_abs = m > 0 ? e / m : e;
}

static void progress(const rb_record *r, const char *what)
{
    char chk[64] = "";
    if (r->check_rows)
        snprintf(chk, sizeof chk, ", vs cpu %.2e", r->check_max_abs);
    fprintf(stderr, "[attention] %s d=%d B=%d H=%d kv=%d T=%ld split=%d: %.3g us, %.3g B/token, cos %.6f, max rel %.3e%s\n",
            what, r->d, r->kva.B, r->kva.H, r->kva.kv_heads, r->kva.T, r->kva.split, r->t.median_us,
            r->kva.bytes_per_token, r->attn.out_cos, r->kva.max_rel_err, chk);
}

/* The largest padded width among the config's methods at d: the buffers' width. */
static int max_dpad(const rb_config *cfg, int d)
{
    int dpad = d;
    for (int m = 0; m < cfg->nmethods; m++) {
        const int pd = rb_method_dpad(cfg->methods[m], d);
        dpad = pd > dpad ? pd : dpad;
    }
    return dpad;
}

/* A shape whose records are all done (--resume): each handed on again, the speedups from the
 * stored times, nothing computed. */
static int put_done_shape(const rb_config *cfg, rb_backend *be, const kv_shape *ks, const rb_kva_sink *sink)
{
    rb_record k, r;
    fp16_key(cfg, be, ks, &k);
    r = *done_of(sink, &k);
    r.speedup = 1.0;
    const double base_us = r.t.median_us;
    int rc = sink->put(sink->ctx, &r, 1);
    for (int mi = 0; mi < cfg->nmethods && !rc; mi++)
        for (int bi = 0; bi < cfg->nbits && !rc && rb_kv_method_packs(cfg->methods[mi]); bi++) {
            method_key(cfg, be, ks, cfg->methods[mi], cfg->bits[bi], &k);
            r = *done_of(sink, &k);
            r.speedup = r.t.median_us > 0 ? base_us / r.t.median_us : 0;
            rc = sink->put(sink->ctx, &r, 1);
        }
    return rc;
}

static int run_shape(const rb_config *cfg, rb_backend *be, const kv_files *f, const kv_shape *ks, const rb_kva_sink *sink)
{
    if (shape_done(cfg, be, ks, sink))
        return put_done_shape(cfg, be, ks, sink);
    const rb_kvattn_args *s = &ks->s;
    const long rows = rb_kva_rows(s);
    const int dpad = max_dpad(cfg, s->d);
    kv_bufs b;
    char err[512];
    int rc = 1;
    if (alloc_bufs(s, dpad, &b)) {
        fprintf(stderr, "rotorbench: kv_attention: out of host memory for T = %d\n", s->T);
        goto out;
    }
    if (fill_inputs(cfg, f, ks, &b, err, sizeof err)) {
        fprintf(stderr, "rotorbench: kv_attention: %s\n", err);
        goto out;
    }
    rb_kvattn_args a = *s;
    a.q = b.q;
    a.o = b.o;
    rb_kva_reference(&a, b.K, b.V, b.ref_o, b.ref_s);
    for (long i = 0; i < rows * s->d; i++) {
        b.K16[i] = rb_f32_to_f16(b.K[i]);
        b.V16[i] = rb_f32_to_f16(b.V[i]);
    }
    /* the fp16 cache: the baseline */
    rb_record r;
    rb_kva_metrics met;
    fp16_key(cfg, be, ks, &r);
    const rb_record *old = done_of(sink, &r);
    a.k16 = b.K16;
    a.v16 = b.V16;
    a.dpad = s->d;
    a.split = r.kva.split;
    if (old) {
        r = *old;
    } else {
        if (be->kv_attention(be, &a, 1, &r.t))
            goto out;
        check_vs_cpu(be, &a, 1, b.ocpu, &r);
        rb_kva_scores(&a, 1, b.sc);
        rb_kva_compare(&a, b.ref_s, b.ref_o, b.sc, &met);
        finish_record(s, &met, rb_kvattn_cache_bytes(&a, 1), &r);
    }
    r.speedup = 1.0;
    const double base_us = r.t.median_us;
    if (!old)
        progress(&r, "fp16-cache");
    if ((rc = sink->put(sink->ctx, &r, old != NULL)) != 0)
        goto out;
    rc = 1;
    for (int mi = 0; mi < cfg->nmethods; mi++) {
        const rb_method m = cfg->methods[mi];
        if (!rb_kv_method_packs(m))
            continue; /* no scalar codes (HQMQ): said once by the sweep */
        const long len = rb_param_count(m, s->d);
        free(b.rot);
        b.rot = malloc(sizeof(float) * (size_t)(len > 0 ? len : 1));
        if (!b.rot || rb_params_generate(cfg->seed, m, s->d, b.rot, err, sizeof err)) {
            fprintf(stderr, "rotorbench: rotation for %s d=%d: %s\n", rb_method_name(m), s->d, b.rot ? err : "out of memory");
            goto out;
        }
        for (int bi = 0; bi < cfg->nbits; bi++) {
            method_key(cfg, be, ks, m, cfg->bits[bi], &r);
            if ((old = done_of(sink, &r)) != NULL) {
                r = *old;
                r.speedup = r.t.median_us > 0 ? base_us / r.t.median_us : 0;
                if ((rc = sink->put(sink->ctx, &r, 1)) != 0)
                    goto out;
                rc = 1;
                continue;
            }
            rb_codebook cb;
            if (rb_codebook_solve(cfg->codebook, s->d, cfg->bits[bi], &cb)) {
                fprintf(stderr, "rotorbench: Lloyd-Max did not converge for d=%d bits=%d\n", s->d, cfg->bits[bi]);
                goto out;
            }
            rb_qdq_params p;
            rb_qdq_params_shape(&p, m, s->d, cfg->bits[bi]);
            p.bounds = cb.bounds_f;
            p.centroids = cb.centroids_f;
            p.rot = b.rot;
            p.unit_norm = cfg->unit_norm;
            rb_kva_rotation_matrix(&p, b.Pi);
            /* the norms as the config's kv_norm stores them (none under assume_unit_norm) */
            a.dpad = p.dpad;
            a.split = r.kva.split;
            a.bits = p.bits;
            a.norm_kind = r.kv_norm;
            a.kcodes = b.kcodes;
            a.vcodes = b.vcodes;
            a.knorms = b.knorms;
            a.vnorms = b.vnorms;
            a.centroids = p.centroids;
            a.pi = b.Pi;
            if (rb_cpu_encode_rows(&p, a.norm_kind, b.K, rows, b.kcodes, b.knorms) ||
                rb_cpu_encode_rows(&p, a.norm_kind, b.V, rows, b.vcodes, b.vnorms))
                goto out;
            r.stored_bytes = rb_kvattn_cache_bytes(&a, 0);
            r.params = len;
            r.fma_nominal = rb_nominal_fma(m, s->d);
            r.bits_per_coord = 8.0 * (double)(rb_kv_row_bytes(p.dpad, p.bits) + rb_kv_norm_bytes(a.norm_kind)) / s->d;
            if (be->kv_attention(be, &a, 0, &r.t))
                goto out;
            check_vs_cpu(be, &a, 0, b.ocpu, &r);
            rb_kva_scores(&a, 0, b.sc);
            rb_kva_compare(&a, b.ref_s, b.ref_o, b.sc, &met);
            finish_record(s, &met, rb_kvattn_cache_bytes(&a, 0), &r);
            r.speedup = r.t.median_us > 0 ? base_us / r.t.median_us : 0;
            char what[96];
            snprintf(what, sizeof what, "%s b=%d norms %s", rb_method_name(m), p.bits, rb_kv_norm_name(a.norm_kind));
            progress(&r, what);
            if ((rc = sink->put(sink->ctx, &r, 0)) != 0)
                goto out;
            rc = 1;
        }
    }
    rc = 0;
out:
    free_bufs(&b);
    return rc;
}

/* Open and check the inputs, list the shapes, check them against the inputs and memory:
 * 0, or -1 with one line in err (f and *sh are then released). */
static int prepare(const rb_config *cfg, rb_backend *be, kv_files *f, kv_shape **sh, int *n, char *err, size_t len)
{
    memset(f, 0, sizeof *f);
    *sh = NULL;
    *n = 0;
    if (cfg->kva.input == RB_KVA_FILES && open_files(cfg, f, err, len))
        goto bad;
    if (cfg->kva.input == RB_KVA_SYNTHETIC && cfg->ndims < 1) {
        snprintf(err, len, "%s: kv_attention with synthetic caches takes d from the config's dims: give dims", cfg->path);
        goto bad;
    }
    *n = list_shapes(cfg, f, NULL);
    *sh = calloc((size_t)*n, sizeof **sh);
    if (!*sh) {
        snprintf(err, len, "out of host memory");
        goto bad;
    }
    list_shapes(cfg, f, *sh);
    if (check_shapes(cfg, be, f, *sh, *n, err, len))
        goto bad;
    return 0;
bad:
    free(*sh);
    *sh = NULL;
    for (int i = 0; i < 3; i++)
        rb_tensor_close(&f->t[i]);
    return -1;
}

int rb_kvattn_check(const rb_config *cfg, rb_backend *be, rb_kva_plan *plan, char *err, size_t len)
{
    kv_files f;
    kv_shape *sh;
    int n;
    memset(plan, 0, sizeof *plan);
    if (prepare(cfg, be, &f, &sh, &n, err, len))
        return -1;
    plan->nrecords = n * records_per_shape(cfg);
    if (cfg->kva.input == RB_KVA_FILES) { /* FNV-1a over the three files' own hashes */
        uint64_t h = 0xcbf29ce484222325ull;
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 8; k++)
                h = (h ^ ((f.t[i].hash >> (8 * k)) & 0xff)) * 0x100000001b3ull;
        plan->files_hash = h;
    }
    free(sh);
    for (int i = 0; i < 3; i++)
        rb_tensor_close(&f.t[i]);
    return 0;
}

int rb_kvattn_sweep(const rb_config *cfg, rb_backend *b, const rb_kva_sink *sink)
{
    kv_files f;
    kv_shape *sh;
    char err[4096];
    int n, rc = 0;
    if (!b->kv_attention) {
        fprintf(stderr, "rotorbench: kv_attention: the %s backend has no decode-attention kernel\n", b->name);
        return 1;
    }
    if (prepare(cfg, b, &f, &sh, &n, err, sizeof err)) {
        fprintf(stderr, "rotorbench: %s\n", err);
        return 2;
    }
    for (int mi = 0; mi < cfg->nmethods; mi++)
        if (!rb_kv_method_packs(cfg->methods[mi]))
            fprintf(stderr, "rotorbench: kv_attention: %s has no scalar codes: not part of the attention path, skipped\n",
                    rb_method_name(cfg->methods[mi]));
    for (int i = 0; i < n && !rc; i++)
        rc = run_shape(cfg, b, &f, &sh[i], sink);
    free(sh);
    for (int i = 0; i < 3; i++)
        rb_tensor_close(&f.t[i]);
    return rc;
}

void rb_kvattn_print_markdown(const rb_run *run, FILE *out)
{
    int any = 0;
    for (int i = 0; i < run->nrecs; i++)
        any |= run->recs[i].kva.on;
    if (!any)
        return;
    const char *clock = run->nrecs ? run->recs[0].t.clock : "";
    fprintf(out, "\n### Decode attention over a KV cache (%s backend, times: %s median)\n\n", run->backend, clock);
    const int gpu = strcmp(run->backend, "cpu") != 0; /* the copy roof exists on a GPU only */
    /* caches from files: the K file and its slice, whose rows would otherwise look alike */
    const int inputs = run->cfg && run->cfg->kva.input == RB_KVA_FILES;
    fprintf(out, "| method |%s bits | norms | d | B | H | kv | T | split | bytes / token | µs | GB/s |%s speedup vs fp16 | "
                 "out cos | KL | top-1 | top-5 | max rel err |\n", inputs ? " input |" : "", gpu ? " % copy |" : "");
    fprintf(out, "|---|%s---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|%s---:|---:|---:|---:|---:|---:|\n",
            inputs ? "---|" : "", gpu ? "---:|" : "");
    for (int i = 0; i < run->nrecs; i++) {
        const rb_record *r = &run->recs[i];
        if (!r->kva.on)
            continue;
        const double gbps = r->t.median_us > 0 ? r->bytes / (r->t.median_us * 1e3) : 0;
        char pct[32], input[160];
        rb_record_md_cells(run->cfg, r, gpu, inputs, pct, input);
        fprintf(out, "| %s |%s %d | %s | %d | %d | %d | %d | %ld | %d | %.1f | %.2f | %.1f |%s %.2f | %.6f | %.3e | %.4f | "
                     "%.4f | %.3e |\n",
                r->kva.fp16_cache ? "fp16-cache" : rb_method_name(r->method), input, r->bits,
                r->kva.fp16_cache ? "-" : rb_kv_norm_name(r->kv_norm), r->d, r->kva.B, r->kva.H, r->kva.kv_heads, r->kva.T,
                r->kva.split, r->kva.bytes_per_token, r->t.median_us, gbps, pct, r->speedup, r->attn.out_cos, r->attn.kl,
                r->attn.top1, r->attn.top5, r->kva.max_rel_err);
    }
}
