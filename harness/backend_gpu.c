/* backend_gpu.c: the CUDA backend: the device, its buffers, the data sets and the launches.
 * Inputs are the host generator's Philox normals (as rb_data_sphere draws them), normalized on
 * the device bit-identically to the CPU path; every setting is checked against the CPU
 * reference on its first rows before it is timed (agree.h: a disagreement fails the run);
 * metrics are reduced on the device; timing is the measurement module's (measure_gpu.h). A
 * method with its own run (HQMQ: hqmq_gpu.c) takes it through its hooks. */
#include <cuda_profiler_api.h>
#include <cuda_runtime_api.h>
#include <curand.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agree.h"
#include "backend_gpu.h"
#include "counts.h"
#include "data.h"
#include "fp16.h"
#include "gpu_check.h"
#include "method_hooks.h"
/* the kernels' extern "C" launchers (kernels/, on the C include path) */
#include "rb_kernels.h"
#include "rb_support.h"
#include "run_options.h"

#define CHECK_ROWS 256

/* ---- data -------------------------------------------------------------------------------- */
static void free_data(rb_gpu_state *s)
{
    if (s->x)
        cudaFree(s->x);
    if (s->xh)
        cudaFree(s->xh);
    s->x = s->xh = NULL;
    s->loaded = 0;
}

/* x and xh hold the data set: note its shape, then time the D2D copy of the same bytes
 * (x -> the output buffer), once per data set. */
static int loaded(rb_backend *b, int d, long N, rb_dtype dtype)
{
    rb_gpu_state *s = b->state;
    s->d = d;
    s->N = N;
    s->dtype = dtype;
    s->esz = dtype == RB_FP16 ? 2 : 4;
    s->loaded = 1;
    return !b->profile && rb_meas_gpu_copy_roof(s->meas, s->xh, s->x, (size_t)N * d * s->esz) ? -1 : 0;
}

#define MARGIN_BYTES ((size_t)64 << 20)

/* Device bytes a data set needs, the most either load takes: input (generated fp32 normals are
 * written into it, rounded up to an even count), output, the fp16 generator's fp32 scratch, and
 * a margin. The driver checks every data set against it before any work (be->fits); the loads
 * then only check their allocations. */
static size_t device_need(int d, long N, rb_dtype dtype, size_t *x, size_t *xh, size_t *gen)
{
    const size_t alen = (size_t)rb_data_alloc_len(d, N), esz = dtype == RB_FP16 ? 2 : 4;
    *x = dtype == RB_FP16 ? (size_t)N * d * 2 : alen * 4;
    *xh = (size_t)N * d * esz;
    *gen = dtype == RB_FP16 ? alen * 4 : 0; /* fp32 generates into x directly */
    return *x + *xh + *gen + MARGIN_BYTES;
}

int rb_gpu_restore_copy_roof(rb_backend *b)
{
    rb_gpu_state *s = b->state;
    if (!s->loaded || b->profile)
        return 0;
    return rb_meas_gpu_copy_roof(s->meas, s->xh, s->x, (size_t)s->N * s->d * s->esz);
}

int rb_gpu_device_fits(double need, const char *what, char *why, size_t n)
{
    size_t fr = 0, tot = 0;
    const cudaError_t e = cudaMemGetInfo(&fr, &tot);
    if (e != cudaSuccess) {
        snprintf(why, n, "cudaMemGetInfo: %s", cudaGetErrorString(e));
        return -1;
    }
    if (need <= (double)fr)
        return 0;
    snprintf(why, n, "%s; %zu of %zu are free", what, fr, tot);
    return -1;
}

/* Input, output and (fp16, host-generated inputs) the generator's fp32 scratch, plus a margin. */
static int gpu_fits(rb_backend *b, int d, long N, rb_dtype dtype, char *why, size_t n)
{
    (void)b;
    size_t x, xh, gen;
    const size_t need = device_need(d, N, dtype, &x, &xh, &gen);
    char what[384];
    snprintf(what, sizeof what, "d=%d N=%ld %s needs %zu bytes of device memory (input %zu, output %zu, generator "
             "scratch %zu, a %zu margin)", d, N, rb_dtype_name(dtype), need, x, xh, gen, MARGIN_BYTES);
    return rb_gpu_device_fits((double)need, what, why, n);
}

/* Rows given by the host (a file's), kept as they are: only rounded to fp16 for fp16. */
static int gpu_load_rows(rb_backend *b, const float *x, int d, long N, rb_dtype dtype)
{
    rb_gpu_state *s = b->state;
    free_data(s);
    const size_t esz = dtype == RB_FP16 ? 2 : 4, bytes = (size_t)N * d * esz;
    uint16_t *h = NULL;
    CK(cudaMalloc(&s->x, bytes));
    CK(cudaMalloc(&s->xh, bytes));
    if (dtype == RB_FP16) {
        if (!(h = malloc(bytes))) {
            fprintf(stderr, "rotorbench: gpu: out of host memory\n");
            goto fail;
        }
        for (size_t i = 0; i < (size_t)N * d; i++)
            h[i] = rb_f32_to_f16(x[i]);
    }
    CK(cudaMemcpyAsync(s->x, h ? (const void *)h : (const void *)x, bytes, cudaMemcpyHostToDevice, s->st));
    CK(cudaStreamSynchronize(s->st));
    free(h);
    h = NULL;
    if (loaded(b, d, N, dtype))
        goto fail;
    return 0;
fail:
    free(h);
    free_data(s);
    return -1;
}

static int gpu_load(rb_backend *b, uint64_t seed, int d, long N, rb_dtype dtype)
{
    rb_gpu_state *s = b->state;
    curandGenerator_t g = NULL;
    float *gen = NULL, *hbuf = NULL;
    int pushed = 0;
    /* The normals come from cuRAND's host Philox generator, exactly as rb_data_sphere draws
     * them: the device generator (same seed, same order) agrees only to a few ulps, because
     * its Box-Muller uses the GPU's log/sin/cos (measured: most rows of d = 128 differ in
     * some bit). RB_GPU_DEVICE_RNG=1 generates on the device instead (faster for huge N;
     * inputs then differ from the CPU's in the last bits). Normalization is on the device
     * either way, bit-identical to rb_data_normalize_row. */
    /* other distributions shape the host normals (rb_data_shape_normals) before the upload */
    int device_rng = rb_run_options_get()->gpu_device_rng && b->dist.kind == RB_DIST_SPHERE;
    free_data(s);
    if (d < 1 || N < 1) {
        fprintf(stderr, "rotorbench: gpu: load_data: bad shape d=%d N=%ld\n", d, N);
        return -1;
    }
    const size_t alen = (size_t)rb_data_alloc_len(d, N);
    size_t xbytes, xhbytes, genbytes;
    device_need(d, N, dtype, &xbytes, &xhbytes, &genbytes);
    char name[160];
    snprintf(name, sizeof name, "load d=%d %s N=%ld", d, rb_dtype_name(dtype), N);
    rb_meas_range_push(s->meas, name);
    pushed = 1;
    CK(cudaMalloc(&s->x, xbytes));
    CK(cudaMalloc(&s->xh, xhbytes));
    if (genbytes)
        CK(cudaMalloc((void **)&gen, genbytes));
    float *dst = genbytes ? gen : (float *)s->x;
    if (device_rng) {
        CR(curandCreateGenerator(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10));
        CR(curandSetPseudoRandomGeneratorSeed(g, seed));
        CR(curandSetStream(g, s->st));
        CR(curandGenerateNormal(g, dst, alen, 0.0f, 1.0f));
    } else {
        hbuf = malloc(sizeof(float) * alen);
        if (!hbuf) {
            fprintf(stderr, "rotorbench: gpu: out of host memory for %zu normals (%zu bytes)\n", alen,
                    sizeof(float) * alen);
            goto fail;
        }
        CR(curandCreateGeneratorHost(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10));
        CR(curandSetPseudoRandomGeneratorSeed(g, seed));
        CR(curandGenerateNormal(g, hbuf, alen, 0.0f, 1.0f));
        char derr[256];
        if (rb_data_shape_normals(&b->dist, seed, d, N, hbuf, derr, sizeof derr)) {
            fprintf(stderr, "rotorbench: gpu: %s\n", derr);
            goto fail;
        }
        CK(cudaMemcpyAsync(dst, hbuf, sizeof(float) * alen, cudaMemcpyHostToDevice, s->st));
    }
    CK(rb_launch_normalize(dst, s->x, (int)dtype, d, N, s->st));
    CK(cudaStreamSynchronize(s->st));
    CR(curandDestroyGenerator(g));
    g = NULL;
    free(hbuf);
    hbuf = NULL;
    if (gen)
        CK(cudaFree(gen));
    gen = NULL;
    if (loaded(b, d, N, dtype))
        goto fail;
    rb_meas_range_pop(s->meas);
    return 0;
fail:
    if (pushed)
        rb_meas_range_pop(s->meas);
    if (g)
        curandDestroyGenerator(g);
    free(hbuf);
    if (gen)
        cudaFree(gen);
    free_data(s);
    return -1;
}

/* Rows [row0, row0 + nrows) of x (which 0) or xh (which 1) to host floats. */
int rb_gpu_get_rows(rb_gpu_state *s, int which, long row0, long nrows, float *host)
{
    size_t n = (size_t)nrows * s->d;
    const char *src = (const char *)(which ? s->xh : s->x) + (size_t)row0 * s->d * s->esz;
    uint16_t *h = NULL;
    if (s->dtype == RB_FP32) {
        CK(cudaMemcpyAsync(host, src, n * 4, cudaMemcpyDeviceToHost, s->st));
        CK(cudaStreamSynchronize(s->st));
        return 0;
    }
    h = malloc(n * 2 + 2);
    if (!h) {
        fprintf(stderr, "rotorbench: gpu: out of host memory\n");
        return -1;
    }
    CK(cudaMemcpyAsync(h, src, n * 2, cudaMemcpyDeviceToHost, s->st));
    CK(cudaStreamSynchronize(s->st));
    for (size_t i = 0; i < n; i++)
        host[i] = rb_f16_to_f32(h[i]);
    free(h);
    return 0;
fail:
    free(h);
    return -1;
}

/* ---- parameters --------------------------------------------------------------------------- */
int rb_gpu_upload_params(rb_gpu_state *s, const rb_qdq_params *p, rb_qdq_params *dp)
{
    *dp = *p;
    dp->fast_shape = rb_run_options_get()->fast_shape; /* RB_FAST_SHAPE */
    const int hq = p->bits == 0; /* a method without the bits axis has no scalar codebook */
    if (!rb_method_get(p->method) || (!hq && (p->nbounds < 1 || p->nbounds > 255))) {
        fprintf(stderr, "rotorbench: gpu: bad parameters (method %d, nbounds %d)\n", p->method,
                p->nbounds);
        return -1;
    }
    long len = rb_param_count(p->method, p->d);
    rb_gpu_rot_slot *r = &s->rot[p->method];
    dp->rot = NULL;
    if (len > 0) {
        if (!p->rot) {
            fprintf(stderr, "rotorbench: gpu: method %d needs rotation parameters\n", p->method);
            return -1;
        }
        size_t bytes = sizeof(float) * (size_t)len;
        if (!(r->dev && r->d == p->d && r->len == len && !memcmp(r->host, p->rot, bytes))) {
            if (r->dev)
                CK(cudaFree(r->dev));
            r->dev = NULL;
            free(r->host);
            r->host = malloc(bytes);
            r->d = 0;
            if (!r->host) {
                fprintf(stderr, "rotorbench: gpu: out of host memory\n");
                return -1;
            }
            CK(cudaMalloc((void **)&r->dev, bytes));
            CK(cudaMemcpyAsync(r->dev, p->rot, bytes, cudaMemcpyHostToDevice, s->st));
            CK(cudaStreamSynchronize(s->st));
            memcpy(r->host, p->rot, bytes);
            r->d = p->d;
            r->len = len;
        }
        dp->rot = r->dev;
    }
    if (hq)
        return 0;
    CK(cudaMemcpyAsync(s->dbounds, p->bounds, sizeof(float) * p->nbounds, cudaMemcpyHostToDevice, s->st));
    CK(cudaMemcpyAsync(s->dcent, p->centroids, sizeof(float) * (p->nbounds + 1),
                       cudaMemcpyHostToDevice, s->st));
    CK(cudaStreamSynchronize(s->st));
    dp->bounds = s->dbounds;
    dp->centroids = s->dcent;
    /* the fast kernels' cell table, built here once instead of in every thread block */
    float tab[4 * RB_SQ_CELLS];
    dp->cells = NULL;
    if (p->nbounds > 1 && rb_sq_cell_table(p->bounds, p->centroids, p->nbounds, tab) == 0) {
        CK(cudaMemcpyAsync(s->dcells, tab, sizeof tab, cudaMemcpyHostToDevice, s->st));
        CK(cudaStreamSynchronize(s->st));
        dp->cells = s->dcells;
    }
    return 0;
fail:
    return -1;
}

/* ---- the in-run check ----------------------------------------------------------------------- */
int rb_gpu_agree(const rb_qdq_params *hp, int variant, rb_dtype dtype, const float *xin, const float *ref,
                 const float *gpu, long rows, rb_record *rec, const char *label)
{
    rb_agree_stats st;
    rb_agree_init(&st);
    rb_agree_rows(hp, variant, dtype, xin, ref, gpu, rows, &st);
    rec->check_rows = rows;
    rec->check_max_abs = st.max_abs;
    rec->check_flips = st.flips;
    if (!rb_agree_ok(&st)) {
        char why[400];
        rb_agree_describe(&st, why, sizeof why);
        fprintf(stderr, "rotorbench: gpu %s: %s\n", label, why);
        return -1;
    }
    return 0;
}

int rb_gpu_check(rb_gpu_state *s, const rb_qdq_params *hp, int variant, rb_record *rec, const char *label)
{
    long rows = s->N < CHECK_ROWS ? s->N : CHECK_ROWS;
    { /* a costly rotation (dense: d^2 FMA per row) on the host: keep it to ~1 s */
        long fma = rb_nominal_fma(hp->method, hp->d), cap = (1L << 28) / (fma > 1 ? fma : 1);
        if (cap < 8)
            cap = 8;
        if (rows > cap)
            rows = cap;
    }
    size_t n = (size_t)rows * s->d;
    float *xin = malloc(sizeof(float) * n), *gpu = malloc(sizeof(float) * n), *ref = malloc(sizeof(float) * n);
    int rc = -1;
    if (!xin || !gpu || !ref) {
        fprintf(stderr, "rotorbench: gpu: out of host memory\n");
        goto out;
    }
    if (rb_gpu_get_rows(s, 0, 0, rows, xin) || rb_gpu_get_rows(s, 1, 0, rows, gpu))
        goto out;
    rb_cpu_qdq_rows(hp, xin, ref, rows, s->dtype);
    if (rb_gpu_agree(hp, variant, s->dtype, xin, ref, gpu, rows, rec, label))
        goto out;
    rc = 0;
out:
    free(xin);
    free(gpu);
    free(ref);
    return rc;
}

/* ---- metrics ---------------------------------------------------------------------------- */
static int device_metrics(rb_gpu_state *s, rb_dev_metrics *out)
{
    CK(rb_launch_metrics(s->x, s->xh, (int)s->dtype, s->d, s->N, s->dpart, s->dmout, s->st));
    CK(cudaMemcpyAsync(out, s->dmout, sizeof *out, cudaMemcpyDeviceToHost, s->st));
    CK(cudaStreamSynchronize(s->st));
    return 0;
fail:
    return -1;
}

int rb_gpu_fill_metrics(rb_gpu_state *s, rb_record *rec)
{
    rb_dev_metrics r;
    if (device_metrics(s, &r))
        return -1;
    rb_metrics *m = &rec->m;
    rb_metrics_init(m, s->d);
    m->sum_err2 = r.sum_err2;
    m->sum_rel = r.sum_rel;
    m->sum_cos = r.sum_cos;
    m->rows = (long)r.rows;
    m->finite_rows = (long)r.finite_rows;
    m->nonzero_rows = (long)r.nonzero_rows;
    m->cos_rows = (long)r.cos_rows;
    m->nonfinite_rows = (long)r.nonfinite_rows;
    m->tiny_rows = (long)r.tiny_rows;
    rb_metrics_finish(m);
    return 0;
}

/* ---- run ----------------------------------------------------------------------------------- */
int rb_gpu_enq_qdq(void *ctx, cudaStream_t st)
{
    rb_gpu_qdq_ctx *c = ctx;
    cudaError_t e = rb_launch_qdq(&c->dp, c->variant, c->dtype, c->x, c->xh, c->N, st);
    return e == cudaSuccess ? 0 : rb_gpu_report(e, "rb_launch_qdq", __FILE__, __LINE__);
}

int rb_gpu_checked_launch(rb_backend *b, const char *label, rb_enqueue_fn fn, void *ctx)
{
    rb_gpu_state *s = b->state;
    int pushed = 0, profiling = 0;
    if (b->profile) {
        rb_meas_range_push(s->meas, label);
        pushed = 1;
        CK(cudaProfilerStart());
        profiling = 1;
    }
    for (int i = 0; i < (b->profile ? 4 : 1); i++)
        if (fn(ctx, s->st))
            goto fail;
    CK(cudaStreamSynchronize(s->st));
    if (b->profile) {
        profiling = 0;
        CK(cudaProfilerStop());
        pushed = 0;
        rb_meas_range_pop(s->meas);
    }
    return 0;
fail:
    if (profiling)
        cudaProfilerStop();
    if (pushed)
        rb_meas_range_pop(s->meas);
    return -1;
}

static int gpu_run(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec)
{
    const rb_method_hooks *h = rb_method_hooks_of(p->method);
    if (rec->path == RB_PATH_ENCODE || rec->path == RB_PATH_DECODE)
        return h->gpu_kvpath ? h->gpu_kvpath(b, p, variant, rec) : rb_gpu_run_kvpath(b, p, variant, rec);
    if (h->gpu_run)
        return h->gpu_run(b, p, variant, rec);
    rb_gpu_state *s = b->state;
    if (!s->loaded || p->d != s->d) {
        fprintf(stderr, "rotorbench: gpu: run: no data loaded for d=%d\n", p->d);
        return -1;
    }
    if (variant < 0 || variant >= b->nvariants) {
        fprintf(stderr, "rotorbench: gpu: run: no variant %d\n", variant);
        return -1;
    }
    rb_gpu_qdq_ctx c = {.variant = variant, .dtype = (int)s->dtype, .x = s->x, .xh = s->xh, .N = s->N};
    if (rb_gpu_upload_params(s, p, &c.dp))
        return -1;
    char label[200];
    snprintf(label, sizeof label, "%s/%s d=%d b=%d %s N=%ld", rb_method_name(p->method), b->variants[variant],
             p->d, p->bits, rb_dtype_name(s->dtype), s->N);

    if (rb_gpu_checked_launch(b, label, rb_gpu_enq_qdq, &c) || rb_gpu_check(s, p, variant, rec, label) ||
        rb_gpu_fill_metrics(s, rec))
        return -1;
    if (b->profile) {
        rb_meas_profile_timing(&rec->t);
        return 0;
    }
    return rb_meas_gpu_time(s->meas, label, rb_gpu_enq_qdq, &c, NULL, NULL, &rec->t);
}

/* ---- attention metrics (not timed) ------------------------------------------------------------ */
/* n host floats to dst on the device in the data's dtype, synchronized. */
static int put_rows(rb_gpu_state *s, void *dst, const float *x, size_t n)
{
    uint16_t *h = NULL;
    if (s->dtype == RB_FP16) {
        if (!(h = malloc(n * 2 + 2))) {
            fprintf(stderr, "rotorbench: gpu: out of host memory\n");
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            h[i] = rb_f32_to_f16(x[i]);
    }
    CK(cudaMemcpyAsync(dst, h ? (const void *)h : (const void *)x, n * (h ? 2 : 4), cudaMemcpyHostToDevice,
                       s->st));
    CK(cudaStreamSynchronize(s->st));
    free(h);
    return 0;
fail:
    free(h);
    return -1;
}

/* Host rows (N x d floats) onto the device in the data's dtype: *dst is allocated here. */
static int upload_rows(rb_gpu_state *s, const float *x, void **dst)
{
    CK(cudaMalloc(dst, (size_t)s->N * s->d * s->esz));
    return put_rows(s, *dst, x, (size_t)s->N * s->d);
fail:
    return -1;
}

static int gpu_attention(rb_backend *b, const float *q, int nq, int T, const float *v, const float *vh, rb_attn *out)
{
    rb_gpu_state *s = b->state;
    const long G = rb_attn_groups(s->N, T);
    float *dq = NULL;
    void *dv = NULL, *dvh = NULL;
    rb_attn_part *dparts = NULL, *parts = malloc(sizeof *parts * (size_t)nq * G);
    int rc = -1;
    if (!parts) {
        fprintf(stderr, "rotorbench: out of host memory for the attention metrics\n");
        return -1;
    }
    if (v && vh && (upload_rows(s, v, &dv) || upload_rows(s, vh, &dvh)))
        goto fail;
    CK(cudaMalloc((void **)&dq, sizeof(float) * (size_t)nq * s->d));
    CK(cudaMalloc((void **)&dparts, sizeof *dparts * (size_t)nq * G));
    CK(cudaMemcpyAsync(dq, q, sizeof(float) * (size_t)nq * s->d, cudaMemcpyHostToDevice, s->st));
    CK(rb_launch_attn(s->x, s->xh, dv, dvh, (int)s->dtype, s->d, s->N, dq, nq, T, dparts, s->st));
    CK(cudaMemcpyAsync(parts, dparts, sizeof *parts * (size_t)nq * G, cudaMemcpyDeviceToHost, s->st));
    CK(cudaStreamSynchronize(s->st));
    rb_attn_finish(parts, nq, G, T, out);
    rc = 0;
fail:
    if (dq)
        cudaFree(dq);
    if (dparts)
        cudaFree(dparts);
    if (dv)
        cudaFree(dv);
    if (dvh)
        cudaFree(dvh);
    free(parts);
    return rc;
}

/* ---- describe ------------------------------------------------------------------------------ */
static void jnum(cJSON *o, const char *k, double v) { rb_json_replace(o, k, cJSON_CreateNumber(v)); }

static void jstr(cJSON *o, const char *k, const char *v) { rb_json_replace(o, k, cJSON_CreateString(v)); }

static void version_str(int v, char *buf, size_t len)
{
    snprintf(buf, len, "%d.%d", v / 1000, (v % 1000) / 10);
}

static void gpu_describe(rb_backend *b, cJSON *o)
{
    rb_gpu_state *s = b->state;
    char buf[300];
    gethostname(buf, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    jstr(o, "host", buf);
    jstr(o, "gpu", s->name);
    jstr(o, "pci_bus_id", s->pci);
    snprintf(buf, sizeof buf, "%d.%d", s->cc_major, s->cc_minor);
    jstr(o, "compute_capability", buf);
    jnum(o, "device_index", s->dev);
    jstr(o, "cuda_visible_devices", rb_run_options_get()->cuda_visible_devices); /* "": not set */
    jnum(o, "sm_count", s->sms);
    jnum(o, "global_memory_bytes", (double)s->global_mem);
    jnum(o, "l2_bytes", s->l2_bytes);
    jnum(o, "memory_clock_khz", s->mem_clock_khz);
    jnum(o, "memory_bus_bits", s->bus_bits);
    jnum(o, "peak_gbps_theoretical", 2.0 * s->mem_clock_khz * 1e3 * s->bus_bits / 8 / 1e9);
    rb_meas_gpu_describe(s->meas, o);
    version_str(s->driver_version, buf, sizeof buf);
    jstr(o, "cuda_driver_version", buf);
    version_str(s->runtime_version, buf, sizeof buf);
    jstr(o, "cuda_runtime_version", buf);
    cJSON_DeleteItemFromObjectCaseSensitive(o, "ecc");
    cJSON_AddBoolToObject(o, "ecc", s->ecc);
    jstr(o, "input_generation", rb_run_options_get()->gpu_device_rng
                                    ? "cuRAND device Philox normals (differ from the CPU's in the last bits)"
                                    : "cuRAND host Philox normals, normalized on the device (bit-identical "
                                      "to the CPU backend's inputs)");
}

/* ---- create / destroy ------------------------------------------------------------------------ */
static void gpu_destroy(rb_backend *b)
{
    if (!b)
        return;
    rb_gpu_state *s = b->state;
    if (s) {
        free_data(s);
        for (int m = 0; m < RB_MAX_METHODS; m++) {
            if (s->rot[m].dev)
                cudaFree(s->rot[m].dev);
            free(s->rot[m].host);
        }
        rb_meas_gpu_destroy(s->meas);
        if (s->dpart) cudaFree(s->dpart);
        if (s->dmout) cudaFree(s->dmout);
        if (s->dbounds) cudaFree(s->dbounds);
        if (s->dcent) cudaFree(s->dcent);
        if (s->dcells) cudaFree(s->dcells);
        if (s->st) cudaStreamDestroy(s->st);
        free(s);
    }
    free(b);
}

static int gpu_init(rb_gpu_state *s)
{
    const int dev = rb_run_options_get()->device; /* --device N, among CUDA_VISIBLE_DEVICES */
    struct cudaDeviceProp prop;
    CK(cudaSetDevice(dev));
    CK(cudaFree(0)); /* create the context now */
    s->dev = dev;
    CK(cudaGetDeviceProperties(&prop, dev));
    snprintf(s->name, sizeof s->name, "%s", prop.name);
    s->global_mem = prop.totalGlobalMem;
    CK(cudaDeviceGetPCIBusId(s->pci, sizeof s->pci, dev));
    CK(cudaDeviceGetAttribute(&s->cc_major, cudaDevAttrComputeCapabilityMajor, dev));
    CK(cudaDeviceGetAttribute(&s->cc_minor, cudaDevAttrComputeCapabilityMinor, dev));
    CK(cudaDeviceGetAttribute(&s->sms, cudaDevAttrMultiProcessorCount, dev));
    CK(cudaDeviceGetAttribute(&s->l2_bytes, cudaDevAttrL2CacheSize, dev));
    CK(cudaDeviceGetAttribute(&s->mem_clock_khz, cudaDevAttrMemoryClockRate, dev));
    CK(cudaDeviceGetAttribute(&s->bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev));
    CK(cudaDeviceGetAttribute(&s->ecc, cudaDevAttrEccEnabled, dev));
    CK(cudaDriverGetVersion(&s->driver_version));
    CK(cudaRuntimeGetVersion(&s->runtime_version));

    CK(cudaStreamCreateWithFlags(&s->st, cudaStreamNonBlocking));
    CK(cudaMalloc((void **)&s->dpart, sizeof(rb_dev_metrics) * RB_METRICS_MAX_PARTIALS));
    CK(cudaMalloc((void **)&s->dmout, sizeof(rb_dev_metrics)));
    CK(cudaMalloc((void **)&s->dbounds, sizeof(float) * 256));
    CK(cudaMalloc((void **)&s->dcent, sizeof(float) * 256));
    CK(cudaMalloc((void **)&s->dcells, sizeof(float) * 4 * RB_SQ_CELLS));
    /* RB_DENSE_TC=mma: TurboQuant-dense's kernel and the tensor-core roof on mma.sync */
    rb_dense_tc_force_mma(rb_run_options_get()->dense_mma);
    /* RB_KVA_FP16=registers: the fp16 cache's attention on the register kernel at every d */
    rb_kvattn_fp16_force_registers(rb_run_options_get()->kva_fp16_regs);
    /* the measurement module: events, flush buffer, blocking kernel, the run's roofs */
    if (!(s->meas = rb_meas_gpu_create(s->st)))
        goto fail;
    return 0;
fail:
    return -1;
}

int rb_gpu_device_count(char *why, size_t whylen)
{
    /* Load every module at the first CUDA call (this one initializes the driver): a lazily
     * loaded kernel enqueued behind the blocking kernel could deadlock. */
    setenv("CUDA_MODULE_LOADING", "EAGER", 1);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(why, whylen, "cudaGetDeviceCount: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
        return -1;
    }
    if (n == 0)
        snprintf(why, whylen, "no CUDA device");
    return n;
}

int rb_gpu_probe(char *why, size_t whylen) { return rb_gpu_device_count(why, whylen) > 0 ? 0 : -1; }

static const rb_backend gpu_backend = {
    .name = "gpu",
    .nvariants = 2,
    .variants = {[RB_VARIANT_PAPER] = "paper", [RB_VARIANT_FAST] = "fast"},
    .load_data = gpu_load,
    .load_rows = gpu_load_rows,
    .fits = gpu_fits,
    .kv_fits = rb_gpu_kv_fits,
    .kv_ctas = rb_gpu_kv_ctas,
    .attention = gpu_attention,
    .kv_attention = rb_gpu_kv_attention,
    .run = gpu_run,
    .describe = gpu_describe,
    .destroy = gpu_destroy,
};

rb_backend *rb_backend_gpu_create(char *why, size_t whylen)
{
    const int n = rb_gpu_device_count(why, whylen), dev = rb_run_options_get()->device;
    if (n <= 0)
        return NULL;
    if (dev >= n) {
        snprintf(why, whylen, "device %d: only %d CUDA device%s visible", dev, n, n == 1 ? "" : "s");
        return NULL;
    }
    rb_gpu_state *s = calloc(1, sizeof *s);
    rb_backend *b = rb_backend_make(&gpu_backend, s);
    if (!b) {
        free(s);
        snprintf(why, whylen, "out of host memory");
        return NULL;
    }
    rb_gpu_clear_error();
    if (gpu_init(s)) {
        snprintf(why, whylen, "GPU set-up failed: %s", rb_gpu_last_error()[0] ? rb_gpu_last_error() : "see above");
        gpu_destroy(b);
        return NULL;
    }
    return b;
}

/* ---- test hooks (kernels/rb_support.h) ------------------------------------------------------ */
static rb_gpu_state *hook_state(struct rb_backend *b, int which, long row0, long nrows)
{
    if (!b || strcmp(b->name, "gpu") != 0)
        return NULL;
    rb_gpu_state *s = b->state;
    if (!s->loaded || (which != 0 && which != 1) || row0 < 0 || nrows < 0 || row0 + nrows > s->N)
        return NULL;
    return s;
}

int rb_backend_gpu_get_rows(struct rb_backend *b, int which, long row0, long nrows, float *host)
{
    rb_gpu_state *s = hook_state(b, which, row0, nrows);
    return s ? rb_gpu_get_rows(s, which, row0, nrows, host) : -1;
}

int rb_backend_gpu_set_rows(struct rb_backend *b, int which, long row0, long nrows, const float *host)
{
    rb_gpu_state *s = hook_state(b, which, row0, nrows);
    if (!s)
        return -1;
    char *dst = (char *)(which ? s->xh : s->x) + (size_t)row0 * s->d * s->esz;
    return put_rows(s, dst, host, (size_t)nrows * s->d);
}

int rb_backend_gpu_metrics(struct rb_backend *b, rb_dev_metrics *out)
{
    rb_gpu_state *s = hook_state(b, 0, 0, 0);
    return s ? device_metrics(s, out) : -1;
}
