/* backend_gpu.c: the CUDA backend. Inputs are the host generator's Philox normals (as
 * rb_data_sphere draws them), normalized on the device bit-identically to the CPU path; each
 * (method, bits, variant) is checked against the CPU reference on its first rows before it is
 * timed; metrics are reduced on the device; timing follows NVBench (MEASUREMENT.md):
 *
 *   cold: L2 flushed by a memset over 2x the L2 size, then one launch between two events,
 *         enqueued while a spin kernel holds the stream (host launch latency stays out);
 *   hot:  B launches back to back between two events (same blocking kernel), divided by B,
 *         with B sized from a warm-up so one sample is about 1 ms of GPU time;
 *   stop: at least 10 samples; then relative std <= 0.5 % with >= 0.1 s of GPU time
 *         ("noise"), or 100 samples ("max-samples"), or about 1 s of wall time per loop
 *         ("timeout"); cold first, then hot.
 *
 * The D2D copy of the same bytes is timed the same way once per data set. The SM clock is
 * probed (clock64 against %globaltimer) before and after every setting and a warning is
 * printed under 75 % of the rated clock; clocks are never changed. Each timed region sits in
 * an NVTX range "<method>/<variant> d=.. b=.. <dtype> N=.." of the domain "rotorbench". */
#include <cuda_profiler_api.h>
#include <cuda_runtime_api.h>
#include <curand.h>
#include <math.h>
#include <nvtx3/nvToolsExt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "counts.h"
#include "method_hooks.h"
#include "reference.h"
#include "data.h"
#include "fp16.h"
#include "hqmq_celltab.h"
/* kernels/ is not on the include path (only kernels/common is): include relative to here */
#include "rb_kernels.h"
#include "rb_support.h"
#include "stats.h"

/* ---- sampling parameters ----------------------------------------------------------------- */
#define MIN_SAMPLES 10
#define MAX_SAMPLES 100
#define MIN_TIME_S 0.1         /* accumulated GPU time before the noise criterion may stop */
#define MAX_NOISE 0.005        /* relative standard deviation */
#define LOOP_TIMEOUT_S 1.0     /* wall time per loop (cold, hot): about 2 s per setting */
#define TARGET_SAMPLE_US 1000.0
#define MAX_BATCH 512          /* launches queued behind the blocking kernel */
#define BLOCK_TIMEOUT_NS 500000000ull
#define CHECK_ROWS 256
#define CLOCK_PROBE_NS 1000000ull
#define THROTTLE_FRACTION 0.75

/* ---- error reporting ----------------------------------------------------------------------- */
static char g_last_error[512];

static int report_cuda(cudaError_t e, const char *call, const char *file, int line)
{
    snprintf(g_last_error, sizeof g_last_error, "%s:%d: %s failed: %s (%s)", file, line, call,
             cudaGetErrorName(e), cudaGetErrorString(e));
    fprintf(stderr, "rotorbench: gpu: %s\n", g_last_error);
    return -1;
}

static const char *curand_status_name(curandStatus_t st)
{
    switch (st) {
    case CURAND_STATUS_VERSION_MISMATCH: return "CURAND_STATUS_VERSION_MISMATCH";
    case CURAND_STATUS_NOT_INITIALIZED: return "CURAND_STATUS_NOT_INITIALIZED";
    case CURAND_STATUS_ALLOCATION_FAILED: return "CURAND_STATUS_ALLOCATION_FAILED";
    case CURAND_STATUS_TYPE_ERROR: return "CURAND_STATUS_TYPE_ERROR";
    case CURAND_STATUS_OUT_OF_RANGE: return "CURAND_STATUS_OUT_OF_RANGE";
    case CURAND_STATUS_LENGTH_NOT_MULTIPLE: return "CURAND_STATUS_LENGTH_NOT_MULTIPLE";
    case CURAND_STATUS_DOUBLE_PRECISION_REQUIRED: return "CURAND_STATUS_DOUBLE_PRECISION_REQUIRED";
    case CURAND_STATUS_LAUNCH_FAILURE: return "CURAND_STATUS_LAUNCH_FAILURE";
    case CURAND_STATUS_PREEXISTING_FAILURE: return "CURAND_STATUS_PREEXISTING_FAILURE";
    case CURAND_STATUS_INITIALIZATION_FAILED: return "CURAND_STATUS_INITIALIZATION_FAILED";
    case CURAND_STATUS_ARCH_MISMATCH: return "CURAND_STATUS_ARCH_MISMATCH";
    case CURAND_STATUS_INTERNAL_ERROR: return "CURAND_STATUS_INTERNAL_ERROR";
    default: return "unknown cuRAND status";
    }
}

/* CK / CR: check a CUDA runtime / cuRAND call; on failure print file:line, the call and the
 * error string, then goto fail (every function here cleans up there and returns -1). */
#define CK(call)                                                                  \
    do {                                                                          \
        cudaError_t e_ = (call);                                                  \
        if (e_ != cudaSuccess) {                                                  \
            report_cuda(e_, #call, __FILE__, __LINE__);                           \
            goto fail;                                                            \
        }                                                                         \
    } while (0)

#define CR(call)                                                                  \
    do {                                                                          \
        curandStatus_t st_ = (call);                                              \
        if (st_ != CURAND_STATUS_SUCCESS) {                                       \
            snprintf(g_last_error, sizeof g_last_error, "%s:%d: %s failed: %s (%d)", \
                     __FILE__, __LINE__, #call, curand_status_name(st_), (int)st_); \
            fprintf(stderr, "rotorbench: gpu: %s\n", g_last_error);               \
            goto fail;                                                            \
        }                                                                         \
    } while (0)

/* ---- state -------------------------------------------------------------------------------- */
typedef struct {
    int d;
    long len;
    float *host; /* what was uploaded, to detect a changed rotation behind the same pointer */
    float *dev;
} rot_slot;

typedef struct {
    int dev;
    char name[256], pci[32];
    int cc_major, cc_minor, sms, l2_bytes, mem_clock_khz, bus_bits, sm_clock_rated_khz, ecc;
    int driver_version, runtime_version;
    size_t global_mem;
    double copy_gbps, copy_gbps_bytes, sm_clock_create_khz;
    double fma_per_s;                /* measured fp32 FMA rate (fma_peak.cu) */
    float *fma_sink;
    double clk_min_khz, clk_max_khz; /* over the settings' start/end probes */
    int throttled_settings, timed_settings;

    cudaStream_t st;
    cudaEvent_t e0, e1;
    void *flush;
    size_t flush_bytes;
    unsigned flush_val;
    volatile int *hflag;   /* [0] release, [1] timed out: host-mapped */
    int *dflag;
    unsigned long long *dclk;
    rb_dev_metrics *dpart, *dmout;
    float *dbounds, *dcent, *dcells;
    rot_slot rot[RB_MAX_METHODS];
    int max_batch;
    nvtxDomainHandle_t dom;

    /* the loaded data set */
    int loaded, d;
    long N;
    rb_dtype dtype;
    size_t esz;
    void *x, *xh;
    double copy_us, copy_cold_us;

    double hot[MAX_SAMPLES], cold[MAX_SAMPLES];
} gpu_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* ---- NVTX ----------------------------------------------------------------------------------- */
static void range_push(gpu_state *s, const char *name)
{
    nvtxEventAttributes_t a;
    memset(&a, 0, sizeof a);
    a.version = NVTX_VERSION;
    a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
    a.message.registered = nvtxDomainRegisterStringA(s->dom, name);
    nvtxDomainRangePushEx(s->dom, &a);
}

static void range_pop(gpu_state *s) { nvtxDomainRangePop(s->dom); }

/* ---- measurement ------------------------------------------------------------------------- */
typedef int (*enqueue_fn)(gpu_state *s, void *ctx);

typedef struct {
    rb_qdq_params dp; /* device pointers */
    int variant;
} qdq_ctx;

static int enq_qdq(gpu_state *s, void *ctx)
{
    qdq_ctx *c = ctx;
    cudaError_t e = rb_launch_qdq(&c->dp, c->variant, (int)s->dtype, s->x, s->xh, s->N, s->st);
    if (e != cudaSuccess)
        return report_cuda(e, "rb_launch_qdq", __FILE__, __LINE__);
    return 0;
}

typedef struct {
    void *dst;
    const void *src;
    size_t bytes;
} copy_ctx;

static int enq_copy(gpu_state *s, void *ctx)
{
    copy_ctx *c = ctx;
    cudaError_t e = cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice, s->st);
    if (e != cudaSuccess)
        return report_cuda(e, "cudaMemcpyAsync (D2D)", __FILE__, __LINE__);
    return 0;
}

/* One sample: [flush L2], hold the stream, e0, `count` launches, e1, release, wait.
 * *us = GPU time per launch; *timed_out = 1 when the blocking kernel gave up before the host
 * released it (the host could not enqueue everything in time: the sample is not valid). */
static int take_sample(gpu_state *s, enqueue_fn fn, void *ctx, int count, int flush, double *us,
                       int *timed_out)
{
    s->hflag[0] = 0;
    s->hflag[1] = 0;
    __sync_synchronize();
    if (flush)
        CK(cudaMemsetAsync(s->flush, (int)(s->flush_val++ & 0xff), s->flush_bytes, s->st));
    CK(rb_launch_block_stream(s->dflag, s->dflag + 1, BLOCK_TIMEOUT_NS, s->st));
    CK(cudaEventRecord(s->e0, s->st));
    for (int i = 0; i < count; i++)
        if (fn(s, ctx))
            goto fail;
    CK(cudaEventRecord(s->e1, s->st));
    __sync_synchronize();
    s->hflag[0] = 1;
    __sync_synchronize();
    CK(cudaEventSynchronize(s->e1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, s->e0, s->e1));
    *us = 1e3 * (double)ms / count;
    *timed_out = s->hflag[1];
    return 0;
fail:
    s->hflag[0] = 1; /* never leave the spin kernel waiting */
    cudaStreamSynchronize(s->st);
    return -1;
}

enum { STOP_NOISE, STOP_MAX, STOP_TIMEOUT };
static const char *const stop_reasons[3][3] = {
    {"cold: noise <= 0.5%, hot: noise <= 0.5%", "cold: noise <= 0.5%, hot: 100 samples",
     "cold: noise <= 0.5%, hot: time limit"},
    {"cold: 100 samples, hot: noise <= 0.5%", "cold: 100 samples, hot: 100 samples",
     "cold: 100 samples, hot: time limit"},
    {"cold: time limit, hot: noise <= 0.5%", "cold: time limit, hot: 100 samples",
     "cold: time limit, hot: time limit"},
};

/* Sample until the stopping rule says so. *batch may shrink when the blocking kernel timed
 * out (too many launches queued behind it). */
static int sample_loop(gpu_state *s, enqueue_fn fn, void *ctx, int flush, int *batch, double *x,
                       int *n, int *stop)
{
    double t0 = now_s(), acc = 0;
    int timeouts = 0;
    *n = 0;
    for (;;) {
        double us = 0;
        int to = 0;
        if (take_sample(s, fn, ctx, *batch, flush, &us, &to))
            return -1;
        if (to) {
            if (++timeouts > 6) {
                fprintf(stderr, "rotorbench: gpu: the blocking kernel keeps timing out (batch %d): "
                        "the host cannot enqueue the launches\n", *batch);
                return -1;
            }
            if (*batch > 1) {
                *batch /= 2;
                if (*batch < s->max_batch)
                    s->max_batch = *batch;
            }
            continue;
        }
        x[(*n)++] = us;
        acc += us * 1e-6 * *batch;
        if (*n >= MIN_SAMPLES && acc >= MIN_TIME_S) {
            rb_summary sm;
            rb_summarize(x, *n, &sm);
            if (sm.noise <= MAX_NOISE) {
                *stop = STOP_NOISE;
                return 0;
            }
        }
        if (*n >= MAX_SAMPLES) {
            *stop = STOP_MAX;
            return 0;
        }
        if (*n >= MIN_SAMPLES && now_s() - t0 >= LOOP_TIMEOUT_S) {
            *stop = STOP_TIMEOUT;
            return 0;
        }
    }
}

typedef struct {
    rb_summary hot, cold;
    int nhot, ncold, batch, hot_stop, cold_stop;
} meas;

/* Warm-up, batch sizing, cold samples, hot samples. */
static int measure(gpu_state *s, enqueue_fn fn, void *ctx, meas *m)
{
    memset(m, 0, sizeof *m);
    /* warm-up, timed loosely (host latency included): long launches need no batch estimate */
    CK(cudaEventRecord(s->e0, s->st));
    if (fn(s, ctx))
        return -1;
    CK(cudaEventRecord(s->e1, s->st));
    CK(cudaEventSynchronize(s->e1));
    float warm_ms = 0;
    CK(cudaEventElapsedTime(&warm_ms, s->e0, s->e1));
    int B = 1;
    if (1e3 * warm_ms < TARGET_SAMPLE_US) {
        double est = 0;
        int to = 0;
        if (take_sample(s, fn, ctx, 4, 0, &est, &to))
            return -1;
        B = est > 0 ? (int)ceil(TARGET_SAMPLE_US / est) : s->max_batch;
        if (B > s->max_batch)
            B = s->max_batch;
        if (B < 1)
            B = 1;
    }
    int one = 1;
    if (sample_loop(s, fn, ctx, 1, &one, s->cold, &m->ncold, &m->cold_stop))
        return -1;
    if (sample_loop(s, fn, ctx, 0, &B, s->hot, &m->nhot, &m->hot_stop))
        return -1;
    m->batch = B;
    rb_summarize(s->cold, m->ncold, &m->cold);
    rb_summarize(s->hot, m->nhot, &m->hot);
    return 0;
fail:
    return -1;
}

/* SM clock in kHz from clock64 against %globaltimer over a 1 ms spin. */
static int probe_clock(gpu_state *s, double *khz)
{
    unsigned long long h[2] = {0, 0};
    CK(rb_launch_clock_probe(CLOCK_PROBE_NS, s->dclk, s->st));
    CK(cudaMemcpyAsync(h, s->dclk, sizeof h, cudaMemcpyDeviceToHost, s->st));
    CK(cudaStreamSynchronize(s->st));
    *khz = h[1] ? (double)h[0] / (double)h[1] * 1e6 : 0;
    return 0;
fail:
    return -1;
}

static void note_clock(gpu_state *s, double khz)
{
    if (khz <= 0)
        return;
    if (s->clk_min_khz == 0 || khz < s->clk_min_khz)
        s->clk_min_khz = khz;
    if (khz > s->clk_max_khz)
        s->clk_max_khz = khz;
}

/* ---- data -------------------------------------------------------------------------------- */
static void free_data(gpu_state *s)
{
    if (s->x)
        cudaFree(s->x);
    if (s->xh)
        cudaFree(s->xh);
    s->x = s->xh = NULL;
    s->loaded = 0;
}

static int gpu_load(rb_backend *b, uint64_t seed, int d, long N, rb_dtype dtype)
{
    gpu_state *s = b->state;
    curandGenerator_t g = NULL;
    float *gen = NULL, *hbuf = NULL;
    int pushed = 0;
    /* The normals come from cuRAND's host Philox generator, exactly as rb_data_sphere draws
     * them: the device generator (same seed, same order) agrees only to a few ulps, because
     * its Box-Muller uses the GPU's log/sin/cos (measured: most rows of d = 128 differ in
     * some bit). RB_GPU_DEVICE_RNG=1 generates on the device instead (faster for huge N;
     * inputs then differ from the CPU's in the last bits). Normalization is on the device
     * either way, bit-identical to rb_data_normalize_row. */
    const char *env = getenv("RB_GPU_DEVICE_RNG");
    /* other distributions shape the host normals (rb_data_shape_normals) before the upload */
    int device_rng = env && env[0] == '1' && b->dist.kind == RB_DIST_SPHERE;
    free_data(s);
    if (d < 1 || N < 1) {
        fprintf(stderr, "rotorbench: gpu: load_data: bad shape d=%d N=%ld\n", d, N);
        return -1;
    }
    size_t esz = dtype == RB_FP16 ? 2 : 4;
    size_t alen = (size_t)rb_data_alloc_len(d, N);
    size_t xbytes = dtype == RB_FP16 ? (size_t)N * d * 2 : alen * 4;
    size_t xhbytes = (size_t)N * d * esz;
    size_t genbytes = dtype == RB_FP16 ? alen * 4 : 0; /* fp32 generates into x directly */
    size_t need = xbytes + xhbytes + genbytes, fr = 0, tot = 0;
    const size_t margin = 64u << 20;
    CK(cudaMemGetInfo(&fr, &tot));
    if (need + margin > fr) {
        fprintf(stderr, "rotorbench: gpu: d=%d N=%ld %s needs %zu bytes of device memory (input %zu, "
                "output %zu, generator scratch %zu, plus a %zu margin); %zu of %zu are free\n",
                d, N, rb_dtype_name(dtype), need + margin, xbytes, xhbytes, genbytes, margin, fr, tot);
        return -1;
    }
    char name[160];
    snprintf(name, sizeof name, "load d=%d %s N=%ld", d, rb_dtype_name(dtype), N);
    range_push(s, name);
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
    s->d = d;
    s->N = N;
    s->dtype = dtype;
    s->esz = esz;
    s->loaded = 1;

    /* the D2D copy of the same bytes (x -> the output buffer), once per data set */
    s->copy_us = s->copy_cold_us = 0;
    if (!b->profile) {
        copy_ctx c = {s->xh, s->x, (size_t)N * d * esz};
        meas m;
        if (measure(s, enq_copy, &c, &m))
            goto fail;
        s->copy_us = m.hot.median;
        s->copy_cold_us = m.cold.median;
    }
    range_pop(s);
    return 0;
fail:
    if (pushed)
        range_pop(s);
    if (g)
        curandDestroyGenerator(g);
    free(hbuf);
    if (gen)
        cudaFree(gen);
    free_data(s);
    return -1;
}

/* Rows [row0, row0 + nrows) of x (which 0) or xh (which 1) to host floats. */
static int get_rows(gpu_state *s, int which, long row0, long nrows, float *host)
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
static int upload_params(gpu_state *s, const rb_qdq_params *p, rb_qdq_params *dp)
{
    *dp = *p;
    const int hq = p->bits == 0; /* a method without the bits axis has no scalar codebook */
    if (!rb_method_get(p->method) || (!hq && (p->nbounds < 1 || p->nbounds > 255))) {
        fprintf(stderr, "rotorbench: gpu: bad parameters (method %d, nbounds %d)\n", p->method,
                p->nbounds);
        return -1;
    }
    long len = rb_param_count(p->method, p->d);
    rot_slot *r = &s->rot[p->method];
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
    if (p->nbounds > 3 && rb_sq_cell_table(p->bounds, p->centroids, p->nbounds, tab) == 0) {
        CK(cudaMemcpyAsync(s->dcells, tab, sizeof tab, cudaMemcpyHostToDevice, s->st));
        CK(cudaStreamSynchronize(s->st));
        dp->cells = s->dcells;
    }
    return 0;
fail:
    return -1;
}

/* ---- validation against the CPU reference ----------------------------------------------------- */
static double f16_ulp(double a)
{
    a = fabs(a);
    if (a < 6.103515625e-05) /* below the smallest normal: subnormal spacing 2^-24 */
        return 5.9604644775390625e-08;
    int e;
    frexp(a, &e);
    return ldexp(1.0, e - 11);
}

/* Does some rotated coordinate of the (normalized) row sit within 1e-5 max(1,|y|) of a
 * boundary? Then a rounding difference may legitimately move it to the other cell. */
static int near_boundary(const rb_qdq_params *p, const float *x, float *v, float *tmp)
{
    float ss = 0.0f;
    for (int j = 0; j < p->d; j++)
        ss += x[j] * x[j];
    float rho = sqrtf(ss);
    if (!rb_row_is_finite(rho))
        return 0;
    float inv = rb_inv_norm(rho);
    for (int j = 0; j < p->d; j++)
        v[j] = x[j] * inv;
    for (int j = p->d; j < p->dpad; j++)
        v[j] = 0.0f;
    rb_rotate_fwd(p, v, tmp);
    for (int j = 0; j < p->dpad; j++) {
        double y = v[j], tol = 1e-5 * fmax(1.0, fabs(y));
        for (int k = 0; k < p->nbounds; k++)
            if (fabs(y - (double)p->bounds[k]) <= tol)
                return 1;
    }
    return 0;
}

static int validate(gpu_state *s, const rb_qdq_params *p, rb_record *rec, const char *label)
{
    long rows = s->N < CHECK_ROWS ? s->N : CHECK_ROWS;
    { /* a costly rotation (dense: d^2 FMA per row) on the host: keep it to ~1 s */
        long fma = rb_nominal_fma(p->method, p->d), cap = (1L << 28) / (fma > 1 ? fma : 1);
        if (cap < 8)
            cap = 8;
        if (rows > cap)
            rows = cap;
    }
    int d = s->d;
    size_t n = (size_t)rows * d;
    float *xin = malloc(sizeof(float) * n), *gpu = malloc(sizeof(float) * n),
          *ref = malloc(sizeof(float) * n);
    char *near = calloc((size_t)rows, 1);
    int rc = -1;
    if (!xin || !gpu || !ref || !near) {
        fprintf(stderr, "rotorbench: gpu: out of host memory\n");
        goto out;
    }
    if (get_rows(s, 0, 0, rows, xin) || get_rows(s, 1, 0, rows, gpu))
        goto out;
    rb_cpu_qdq_rows(p, xin, ref, rows, s->dtype);
#pragma omp parallel
    {
        float *v = malloc(sizeof(float) * 2 * (size_t)p->dpad);
#pragma omp for schedule(static)
        for (long i = 0; i < rows; i++)
            near[i] = v ? (char)near_boundary(p, xin + i * (long)d, v, v + p->dpad) : 1;
        free(v);
    }
    double max_abs = 0, max_ulps = 0;
    long flips = 0, bad = 0, bad_i = -1;
    int bad_j = -1;
    for (long i = 0; i < rows; i++)
        for (int j = 0; j < d; j++) {
            double a = gpu[i * (long)d + j], c = ref[i * (long)d + j], diff;
            if (isnan(a) && isnan(c))
                diff = 0;
            else if (isnan(a) || isnan(c))
                diff = INFINITY;
            else
                diff = fabs(a - c);
            double ulps = s->dtype == RB_FP16 ? diff / f16_ulp(fmax(fabs(a), fabs(c))) : 0;
            int over = s->dtype == RB_FP16 ? ulps > 2.0 : diff > 1e-4;
            if (near[i]) {
                flips += over;
                continue;
            }
            if (diff > max_abs)
                max_abs = diff;
            if (ulps > max_ulps)
                max_ulps = ulps;
            if (over && bad++ == 0) {
                bad_i = i;
                bad_j = j;
            }
        }
    rec->check_rows = rows;
    rec->check_max_abs = max_abs;
    rec->check_flips = flips;
    if (bad) {
        fprintf(stderr,
                "rotorbench: WARNING: gpu %s disagrees with the CPU reference: %ld elements of the "
                "first %ld rows beyond %s (max |diff| %.3g); first at row %ld col %d: gpu %.9g "
                "cpu %.9g\n",
                label, bad, rows, s->dtype == RB_FP16 ? "2 fp16 ulps" : "1e-4", max_abs, bad_i, bad_j,
                gpu[bad_i * (long)d + bad_j], ref[bad_i * (long)d + bad_j]);
        if (s->dtype == RB_FP16)
            fprintf(stderr, "rotorbench: WARNING: (largest difference %.1f fp16 ulps)\n", max_ulps);
    }
    rc = 0;
out:
    free(xin); free(gpu); free(ref); free(near);
    return rc;
}

/* ---- metrics ---------------------------------------------------------------------------- */
static int device_metrics(gpu_state *s, rb_dev_metrics *out)
{
    CK(rb_launch_metrics(s->x, s->xh, (int)s->dtype, s->d, s->N, s->dpart, s->dmout, s->st));
    CK(cudaMemcpyAsync(out, s->dmout, sizeof *out, cudaMemcpyDeviceToHost, s->st));
    CK(cudaStreamSynchronize(s->st));
    return 0;
fail:
    return -1;
}

static void fill_metrics(rb_metrics *m, const rb_dev_metrics *r, int d)
{
    rb_metrics_init(m, d);
    m->sum_err2 = r->sum_err2;
    m->sum_rel = r->sum_rel;
    m->sum_cos = r->sum_cos;
    m->rows = (long)r->rows;
    m->finite_rows = (long)r->finite_rows;
    m->nonzero_rows = (long)r->nonzero_rows;
    m->cos_rows = (long)r->cos_rows;
    m->nonfinite_rows = (long)r->nonfinite_rows;
    rb_metrics_finish(m);
}

/* ---- HQMQ ---------------------------------------------------------------------------------- */
typedef struct {
    rb_qdq_params dp; /* device q_s */
    int variant, med3;
    void *scratch;    /* Med3x: norms, histograms and the threshold (rb_hqmq_med3_state) */
    unsigned short *cells; /* the cell search's table (device), or NULL */
} hq_ctx;

static int enq_hq_pre(gpu_state *s, void *ctx)
{
    hq_ctx *c = ctx;
    cudaError_t e = rb_launch_hqmq_med3(s->x, (int)s->dtype, s->d, s->N, c->dp.hq_C, c->scratch, s->st);
    return e == cudaSuccess ? 0 : report_cuda(e, "rb_launch_hqmq_med3", __FILE__, __LINE__);
}

/* Med3x pre-pass (when asked) + the quantize pass: what a user of HQMQ pays per batch. */
static int enq_hq(gpu_state *s, void *ctx)
{
    hq_ctx *c = ctx;
    if (c->med3 && enq_hq_pre(s, ctx))
        return -1;
    cudaError_t e = rb_launch_hqmq(&c->dp, c->variant, (int)s->dtype, s->x, s->xh, s->N,
                                   c->med3 ? rb_hqmq_med3_thresh(c->scratch) : NULL, s->st);
    return e == cudaSuccess ? 0 : report_cuda(e, "rb_launch_hqmq", __FILE__, __LINE__);
}

/* The kernel against rb_hqmq_row on the first rows (the CPU reference takes the GPU's Med3x
 * threshold; the median itself is checked against the CPU's when the batch is small enough to
 * copy). A chunk may legitimately differ where two codewords score within rounding of each
 * other (the kernel's products contract to FMA): such chunks count as flips when both chosen
 * codewords score within 1e-5 (fp16: 2e-3) of each other against the chunk's direction; anything else is a
 * disagreement and is reported. */
static int hq_validate(gpu_state *s, const rb_qdq_params *p, const rb_hqmq_med3_state *st, rb_record *rec,
                       const char *label)
{
    const int d = s->d, g = (d + 3) / 4, qmax = (1 << p->hq_rbits) - 1;
    long rows = s->N < CHECK_ROWS ? s->N : CHECK_ROWS;
    size_t n = (size_t)rows * d;
    float *xin = malloc(sizeof(float) * n), *gpu = malloc(sizeof(float) * n), *ref = malloc(sizeof(float) * n);
    float *all = NULL;
    int rc = -1;
    if (!xin || !gpu || !ref) {
        fprintf(stderr, "rotorbench: gpu: out of host memory\n");
        goto out;
    }
    if (get_rows(s, 0, 0, rows, xin) || get_rows(s, 1, 0, rows, gpu))
        goto out;
    rb_qdq_params pc = *p; /* host q_s */
    if (p->hq_outliers) {
        pc.hq_thresh = st->thresh;
        if ((long)g * s->N <= (1L << 22)) {
            float med = 0;
            all = malloc(sizeof(float) * (size_t)s->N * d);
            if (all && !get_rows(s, 0, 0, s->N, all) && !rb_hqmq_batch_median(all, d, s->N, NULL, &med) &&
                med != st->median)
                fprintf(stderr, "rotorbench: WARNING: gpu %s: Med3x median %.9g, CPU %.9g\n", label,
                        st->median, med);
        }
    }
    rb_cpu_qdq_rows(&pc, xin, ref, rows, s->dtype);
    double max_abs = 0;
    long flips = 0, bad = 0, bad_i = -1;
    for (long i = 0; i < rows; i++) {
        const float *xr = xin + i * (long)d, *gr = gpu + i * (long)d, *cr = ref + i * (long)d;
        float sig = 0, r[4096 / 4];
        for (int b = 0; b < g; b++) {
            float v[4];
            rb_hqmq_load_chunk(xr, d, b, v);
            r[b] = rb_hqmq_chunk_norm(v);
            sig = rb_hqmq_sigma_acc(sig, r[b], pc.hq_thresh, pc.hq_sigma_inliers);
        }
        sig = rb_hqmq_sigma_store(sig);
        for (int b = 0; b < g; b++) {
            double cdiff = 0, dg = 0, dc = 0;
            int over = 0;
            float v[4];
            rb_hqmq_load_chunk(xr, d, b, v);
            for (int k = 0; k < 4 && 4 * b + k < d; k++) {
                double a = gr[4 * b + k], c = cr[4 * b + k];
                double diff = isnan(a) && isnan(c) ? 0 : (isnan(a) || isnan(c)) ? INFINITY : fabs(a - c);
                cdiff = fmax(cdiff, diff);
                over |= s->dtype == RB_FP16 ? diff > 2.0 * f16_ulp(fmax(fabs(a), fabs(c))) : diff > 1e-4;
                dg += (double)v[k] * a;
                dc += (double)v[k] * c;
            }
            if (!over) {
                max_abs = fmax(max_abs, cdiff);
                continue;
            }
            /* same radius on both sides (identical r and sigma): compare the directions' scores */
            double rh = rb_hqmq_radius_hat(rb_hqmq_radius_code(r[b], sig, qmax), sig, qmax);
            const double tie = s->dtype == RB_FP16 ? 2e-3 : 1e-5; /* fp16 outputs round the scores */
            if (rh > 0 && r[b] > 0 && fabs(dg - dc) / (rh * r[b]) <= tie)
                flips++;
            else if (bad++ == 0)
                bad_i = i;
        }
    }
    rec->check_rows = rows;
    rec->check_max_abs = max_abs;
    rec->check_flips = flips;
    if (bad)
        fprintf(stderr, "rotorbench: WARNING: gpu %s disagrees with the CPU reference in %ld chunks of the "
                "first %ld rows (not near-ties), first in row %ld\n", label, bad, rows, bad_i);
    rc = 0;
out:
    free(xin); free(gpu); free(ref); free(all);
    return rc;
}

int rb_gpu_run_hqmq(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec)
{
    gpu_state *s = b->state;
    int pushed = 0, rc = -1;
    hq_ctx c;
    memset(&c, 0, sizeof c);
    c.variant = variant;
    c.med3 = p->hq_outliers;
    if (!s->loaded || p->d != s->d) {
        fprintf(stderr, "rotorbench: gpu: run: no data loaded for d=%d\n", p->d);
        return -1;
    }
    if (upload_params(s, p, &c.dp))
        return -1;
    /* RB_HQMQ_SEARCH=auto (default) | cells | tc | fp32: the fast kernel's search (qdq.h); the
     * same answers by each. Records say variant "fast+cells" / "fast+tc" where those ran. */
    const char *route = getenv("RB_HQMQ_SEARCH");
    if (route && strcmp(route, "auto") && strcmp(route, "cells") && strcmp(route, "tc") && strcmp(route, "fp32")) {
        fprintf(stderr, "rotorbench: RB_HQMQ_SEARCH must be \"auto\", \"cells\", \"tc\" or \"fp32\", not \"%s\"\n",
                route);
        return -1;
    }
    c.dp.hq_search = !route || !strcmp(route, "auto") ? RB_HQ_SEARCH_AUTO
                     : !strcmp(route, "cells")        ? RB_HQ_SEARCH_CELLS
                     : !strcmp(route, "tc")           ? RB_HQ_SEARCH_TC
                                                      : RB_HQ_SEARCH_FP32;
    if (variant == RB_VARIANT_FAST && p->hq_S <= RB_HQMQ_CELL_MAX_S &&
        (c.dp.hq_search == RB_HQ_SEARCH_AUTO || c.dp.hq_search == RB_HQ_SEARCH_CELLS)) {
        /* the cell search's table, built here from the host's q_s (hqmq_celltab.c) */
        int G = 0;
        const int e = rb_hqmq_cells_upload(p->rot, p->hq_S, &c.cells, &G);
        if (e) {
            fprintf(stderr, "rotorbench: gpu: HQMQ cell table (S=%d): %s\n", p->hq_S,
                    e == -1 ? "out of host memory" : cudaGetErrorString(cudaGetLastError()));
            goto fail;
        }
        c.dp.hq_cells = c.cells;
        c.dp.hq_cells_g = G;
    }
    const int hq_route = rb_hqmq_route(&c.dp, variant, (int)s->dtype, s->x, s->xh);
    if (variant == RB_VARIANT_FAST && hq_route != RB_HQ_SEARCH_FP32)
        snprintf(rec->variant, sizeof rec->variant, "%s+%s", b->variants[variant],
                 hq_route == RB_HQ_SEARCH_CELLS ? "cells" : "tc");
    if (c.med3)
        CK(cudaMalloc(&c.scratch, rb_hqmq_med3_scratch_bytes(s->d, s->N)));
    char label[200];
    snprintf(label, sizeof label, "%s/%s d=%d s%d_r%d%s %s N=%ld", rb_method_name(p->method),
             rec->variant, p->d, p->hq_S, p->hq_rbits, c.med3 ? "+med3" : "", rb_dtype_name(s->dtype),
             s->N);
    if (b->profile) {
        range_push(s, label);
        pushed = 1;
    }
    for (int i = 0; i < (b->profile ? 4 : 1); i++)
        if (enq_hq(s, &c))
            goto fail;
    CK(cudaStreamSynchronize(s->st));
    if (pushed) {
        pushed = 0;
        range_pop(s);
    }
    rb_hqmq_med3_state st;
    memset(&st, 0, sizeof st);
    if (c.med3) {
        if (rb_launch_hqmq_count_outliers(s->d, s->N, c.scratch, s->st) != cudaSuccess)
            goto fail;
        CK(cudaMemcpyAsync(&st, c.scratch, sizeof st, cudaMemcpyDeviceToHost, s->st));
        CK(cudaStreamSynchronize(s->st));
    }
    if (hq_validate(s, p, &st, rec, label))
        goto fail;
    rb_dev_metrics dm;
    if (device_metrics(s, &dm))
        goto fail;
    fill_metrics(&rec->m, &dm, s->d);
    /* outliers are counted over finite chunk norms; inputs with NaN rows may count a few more */
    rec->outlier_frac = rec->m.finite_rows ? (double)st.outliers / ((double)rec->m.finite_rows * ((s->d + 3) / 4)) : 0;

    memset(&rec->t, 0, sizeof rec->t);
    if (b->profile) {
        rec->t.clock = "profile";
        rec->t.stop_reason = "profile: 4 launches, not timed";
        rc = 0;
        goto fail;
    }
    double clk0 = 0, clk1 = 0;
    if (probe_clock(s, &clk0))
        goto fail;
    meas m, mp;
    range_push(s, label);
    pushed = 1;
    if (measure(s, enq_hq, &c, &m) || (c.med3 && measure(s, enq_hq_pre, &c, &mp)))
        goto fail;
    pushed = 0;
    range_pop(s);
    if (probe_clock(s, &clk1))
        goto fail;
    note_clock(s, clk0);
    note_clock(s, clk1);
    s->timed_settings++;
    rec->t.clock = "cuda-events";
    rec->t.samples = m.nhot;
    rec->t.batch = m.batch;
    rec->t.median_us = m.hot.median;
    rec->t.min_us = m.hot.min;
    rec->t.max_us = m.hot.max;
    rec->t.q1_us = m.hot.q1;
    rec->t.q3_us = m.hot.q3;
    rec->t.noise = m.hot.noise;
    rec->t.cold_samples = m.ncold;
    rec->t.cold_median_us = m.cold.median;
    rec->t.cold_min_us = m.cold.min;
    rec->t.cold_max_us = m.cold.max;
    rec->t.cold_noise = m.cold.noise;
    rec->t.copy_us = s->copy_us;
    rec->t.copy_cold_us = s->copy_cold_us;
    rec->t.fma_peak_per_s = s->fma_per_s;
    rec->t.stop_reason = stop_reasons[m.cold_stop][m.hot_stop];
    rec->t.prepass_us = c.med3 ? mp.hot.median : 0;
    rc = 0;
fail:
    if (pushed)
        range_pop(s);
    if (c.scratch)
        cudaFree(c.scratch);
    if (c.cells)
        cudaFree(c.cells);
    return rc;
}

/* ---- run ----------------------------------------------------------------------------------- */
static int gpu_run(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec)
{
    const rb_method_hooks *h = rb_method_hooks_of(p->method);
    if (h->gpu_run)
        return h->gpu_run(b, p, variant, rec);
    gpu_state *s = b->state;
    int pushed = 0, profiling = 0;
    if (!s->loaded || p->d != s->d) {
        fprintf(stderr, "rotorbench: gpu: run: no data loaded for d=%d\n", p->d);
        return -1;
    }
    if (variant < 0 || variant >= b->nvariants) {
        fprintf(stderr, "rotorbench: gpu: run: no variant %d\n", variant);
        return -1;
    }
    qdq_ctx c;
    c.variant = variant;
    if (upload_params(s, p, &c.dp))
        return -1;
    char label[200];
    snprintf(label, sizeof label, "%s/%s d=%d b=%d %s N=%ld", rb_method_name((rb_method)p->method),
             b->variants[variant], p->d, p->bits, rb_dtype_name(s->dtype), s->N);

    /* the validation launch (profile mode: plus three more, inside the range) */
    if (b->profile) {
        range_push(s, label);
        pushed = 1;
        CK(cudaProfilerStart());
        profiling = 1;
    }
    if (enq_qdq(s, &c))
        goto fail;
    CK(cudaStreamSynchronize(s->st));
    if (b->profile) {
        for (int i = 0; i < 3; i++)
            if (enq_qdq(s, &c))
                goto fail;
        CK(cudaStreamSynchronize(s->st));
        profiling = 0;
        CK(cudaProfilerStop());
        pushed = 0;
        range_pop(s);
    }
    if (validate(s, p, rec, label))
        goto fail;
    rb_dev_metrics dm;
    if (device_metrics(s, &dm))
        goto fail;
    fill_metrics(&rec->m, &dm, s->d);

    memset(&rec->t, 0, sizeof rec->t);
    if (b->profile) {
        rec->t.clock = "profile";
        rec->t.stop_reason = "profile: 4 launches, not timed";
        return 0;
    }

    double clk0 = 0, clk1 = 0;
    if (probe_clock(s, &clk0))
        goto fail;
    meas m;
    range_push(s, label);
    pushed = 1;
    if (measure(s, enq_qdq, &c, &m))
        goto fail;
    pushed = 0;
    range_pop(s);
    if (probe_clock(s, &clk1))
        goto fail;
    note_clock(s, clk0);
    note_clock(s, clk1);
    s->timed_settings++;
    double lo = clk0 < clk1 ? clk0 : clk1;
    if (s->sm_clock_rated_khz > 0 && lo < THROTTLE_FRACTION * s->sm_clock_rated_khz) {
        s->throttled_settings++;
        fprintf(stderr, "rotorbench: WARNING: gpu %s: SM clock %.0f / %.0f MHz (start / end) is under "
                "75%% of the rated %.0f MHz: the GPU may be throttling\n", label, clk0 / 1e3,
                clk1 / 1e3, s->sm_clock_rated_khz / 1e3);
    }

    rec->t.clock = "cuda-events";
    rec->t.samples = m.nhot;
    rec->t.batch = m.batch;
    rec->t.median_us = m.hot.median;
    rec->t.min_us = m.hot.min;
    rec->t.max_us = m.hot.max;
    rec->t.q1_us = m.hot.q1;
    rec->t.q3_us = m.hot.q3;
    rec->t.noise = m.hot.noise;
    rec->t.cold_samples = m.ncold;
    rec->t.cold_median_us = m.cold.median;
    rec->t.cold_min_us = m.cold.min;
    rec->t.cold_max_us = m.cold.max;
    rec->t.cold_noise = m.cold.noise;
    rec->t.copy_us = s->copy_us;
    rec->t.copy_cold_us = s->copy_cold_us;
    rec->t.fma_peak_per_s = s->fma_per_s;
    rec->t.stop_reason = stop_reasons[m.cold_stop][m.hot_stop];
    return 0;
fail:
    if (profiling)
        cudaProfilerStop();
    if (pushed)
        range_pop(s);
    return -1;
}

/* ---- describe ------------------------------------------------------------------------------ */
static void jnum(cJSON *o, const char *k, double v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    cJSON_AddNumberToObject(o, k, v);
}

static void jstr(cJSON *o, const char *k, const char *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    cJSON_AddStringToObject(o, k, v);
}

static void version_str(int v, char *buf, size_t len)
{
    snprintf(buf, len, "%d.%d", v / 1000, (v % 1000) / 10);
}

static void gpu_describe(rb_backend *b, cJSON *o)
{
    gpu_state *s = b->state;
    char buf[300];
    gethostname(buf, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    jstr(o, "host", buf);
    jstr(o, "gpu", s->name);
    jstr(o, "pci_bus_id", s->pci);
    snprintf(buf, sizeof buf, "%d.%d", s->cc_major, s->cc_minor);
    jstr(o, "compute_capability", buf);
    jnum(o, "sm_count", s->sms);
    jnum(o, "global_memory_bytes", (double)s->global_mem);
    jnum(o, "l2_bytes", s->l2_bytes);
    jnum(o, "memory_clock_khz", s->mem_clock_khz);
    jnum(o, "memory_bus_bits", s->bus_bits);
    jnum(o, "peak_gbps_theoretical", 2.0 * s->mem_clock_khz * 1e3 * s->bus_bits / 8 / 1e9);
    jnum(o, "measured_copy_gbps", s->copy_gbps);
    jnum(o, "measured_copy_bytes", s->copy_gbps_bytes);
    jstr(o, "gbps_unit", "1e9 bytes per second, counting bytes read plus bytes written");
    jnum(o, "measured_fma_per_s", s->fma_per_s);
    jnum(o, "fma_peak_theoretical_per_s", 128.0 * s->sms * s->sm_clock_rated_khz * 1e3);
    jnum(o, "sm_clock_rated_khz", s->sm_clock_rated_khz);
    jnum(o, "sm_clock_at_create_khz", s->sm_clock_create_khz);
    double now = 0;
    if (!probe_clock(s, &now))
        jnum(o, "sm_clock_at_describe_khz", now);
    if (s->timed_settings) {
        jnum(o, "sm_clock_min_khz", s->clk_min_khz); /* over every setting's start and end */
        jnum(o, "sm_clock_max_khz", s->clk_max_khz);
    }
    jnum(o, "settings_timed", s->timed_settings);
    jnum(o, "settings_under_75pct_clock", s->throttled_settings);
    version_str(s->driver_version, buf, sizeof buf);
    jstr(o, "cuda_driver_version", buf);
    version_str(s->runtime_version, buf, sizeof buf);
    jstr(o, "cuda_runtime_version", buf);
    cJSON_DeleteItemFromObjectCaseSensitive(o, "ecc");
    cJSON_AddBoolToObject(o, "ecc", s->ecc);
    jnum(o, "l2_flush_bytes", (double)s->flush_bytes);
    const char *env = getenv("RB_GPU_DEVICE_RNG");
    jstr(o, "input_generation", env && env[0] == '1'
                                    ? "cuRAND device Philox normals (differ from the CPU's in the last bits)"
                                    : "cuRAND host Philox normals, normalized on the device (bit-identical "
                                      "to the CPU backend's inputs)");
    jstr(o, "timing", "cuda events; cold: L2 flushed (memset over 2x L2), one launch held behind a "
                      "blocking kernel; hot: batches of back-to-back launches behind a blocking kernel, "
                      "per launch; >= 10 samples, stop at rel. std <= 0.5% after >= 0.1 s GPU time, "
                      "100 samples or ~1 s per loop");
}

/* ---- create / destroy ------------------------------------------------------------------------ */
static void gpu_destroy(rb_backend *b)
{
    if (!b)
        return;
    gpu_state *s = b->state;
    if (s) {
        free_data(s);
        for (int m = 0; m < RB_MAX_METHODS; m++) {
            if (s->rot[m].dev)
                cudaFree(s->rot[m].dev);
            free(s->rot[m].host);
        }
        if (s->flush) cudaFree(s->flush);
        if (s->dclk) cudaFree(s->dclk);
        if (s->dpart) cudaFree(s->dpart);
        if (s->dmout) cudaFree(s->dmout);
        if (s->dbounds) cudaFree(s->dbounds);
        if (s->dcent) cudaFree(s->dcent);
        if (s->dcells) cudaFree(s->dcells);
        if (s->fma_sink) cudaFree(s->fma_sink);
        if (s->hflag) cudaFreeHost((void *)s->hflag);
        if (s->e0) cudaEventDestroy(s->e0);
        if (s->e1) cudaEventDestroy(s->e1);
        if (s->st) cudaStreamDestroy(s->st);
        free(s);
    }
    free(b);
}

/* The fp32 FMA roof, timed like the kernels (hot batches of 4 launches, 10 samples, median):
 * 8 blocks of 256 threads per SM (full occupancy), 2^12 iterations of 8 chains per thread,
 * about 0.3 ms per launch on an H100. */
typedef struct {
    int blocks, iters;
} fma_ctx;

static int enq_fma(gpu_state *s, void *ctx)
{
    fma_ctx *c = ctx;
    cudaError_t e = rb_launch_fma_peak(s->fma_sink, c->blocks, c->iters, s->st);
    if (e != cudaSuccess)
        return report_cuda(e, "rb_launch_fma_peak", __FILE__, __LINE__);
    return 0;
}

static int measure_fma_peak(gpu_state *s)
{
    fma_ctx c = {8 * s->sms, 4096};
    if (enq_fma(s, &c))
        return -1;
    CK(cudaStreamSynchronize(s->st));
    double x[10];
    for (int i = 0; i < 10; i++) {
        int to = 0;
        if (take_sample(s, enq_fma, &c, 4, 0, &x[i], &to))
            return -1;
    }
    rb_summary sm;
    rb_summarize(x, 10, &sm);
    const double fmas = (double)c.blocks * RB_FMA_PEAK_THREADS * c.iters * RB_FMA_PEAK_CHAINS;
    s->fma_per_s = sm.median > 0 ? fmas / (sm.median * 1e-6) : 0;
    return 0;
fail:
    return -1;
}

/* A large D2D copy, timed like the kernels (hot batches): the achievable bandwidth. */
static int measure_big_copy(gpu_state *s)
{
    void *a = NULL, *c = NULL;
    size_t fr = 0, tot = 0, bytes = (size_t)1 << 30;
    CK(cudaMemGetInfo(&fr, &tot));
    while (bytes > ((size_t)16 << 20) && 2 * bytes + ((size_t)256 << 20) > fr)
        bytes /= 2;
    CK(cudaMalloc(&a, bytes));
    CK(cudaMalloc(&c, bytes));
    CK(cudaMemsetAsync(a, 1, bytes, s->st));
    copy_ctx cc = {c, a, bytes};
    if (enq_copy(s, &cc) || enq_copy(s, &cc))
        goto fail;
    CK(cudaStreamSynchronize(s->st));
    double x[10];
    for (int i = 0; i < 10; i++) {
        int to = 0;
        if (take_sample(s, enq_copy, &cc, 1, 0, &x[i], &to))
            goto fail;
    }
    rb_summary sm;
    rb_summarize(x, 10, &sm);
    s->copy_gbps = sm.median > 0 ? 2.0 * (double)bytes / (sm.median * 1e-6) / 1e9 : 0;
    s->copy_gbps_bytes = (double)bytes;
    cudaFree(a);
    cudaFree(c);
    return 0;
fail:
    if (a) cudaFree(a);
    if (c) cudaFree(c);
    return -1;
}

static int gpu_init(gpu_state *s)
{
    int dev = 0;
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
    CK(cudaDeviceGetAttribute(&s->sm_clock_rated_khz, cudaDevAttrClockRate, dev));
    CK(cudaDeviceGetAttribute(&s->ecc, cudaDevAttrEccEnabled, dev));
    CK(cudaDriverGetVersion(&s->driver_version));
    CK(cudaRuntimeGetVersion(&s->runtime_version));

    CK(cudaStreamCreateWithFlags(&s->st, cudaStreamNonBlocking));
    CK(cudaEventCreate(&s->e0));
    CK(cudaEventCreate(&s->e1));
    s->flush_bytes = 2 * (size_t)(s->l2_bytes > 0 ? s->l2_bytes : (64 << 20));
    CK(cudaMalloc(&s->flush, s->flush_bytes));
    void *hf = NULL;
    CK(cudaHostAlloc(&hf, 2 * sizeof(int), cudaHostAllocMapped));
    s->hflag = hf;
    s->hflag[0] = 1;
    s->hflag[1] = 0;
    CK(cudaHostGetDevicePointer((void **)&s->dflag, hf, 0));
    CK(cudaMalloc((void **)&s->dclk, 2 * sizeof(unsigned long long)));
    CK(cudaMalloc((void **)&s->dpart, sizeof(rb_dev_metrics) * RB_METRICS_MAX_PARTIALS));
    CK(cudaMalloc((void **)&s->dmout, sizeof(rb_dev_metrics)));
    CK(cudaMalloc((void **)&s->dbounds, sizeof(float) * 256));
    CK(cudaMalloc((void **)&s->dcent, sizeof(float) * 256));
    CK(cudaMalloc((void **)&s->dcells, sizeof(float) * 4 * RB_SQ_CELLS));
    CK(cudaMalloc((void **)&s->fma_sink, sizeof(float)));
    s->max_batch = MAX_BATCH;

    nvtxInitialize(NULL);
    s->dom = nvtxDomainCreateA("rotorbench");

    /* every support kernel once before any blocking kernel (module loading), then the clock */
    CK(rb_launch_block_stream(s->dflag, s->dflag + 1, BLOCK_TIMEOUT_NS, s->st));
    CK(cudaStreamSynchronize(s->st));
    if (probe_clock(s, &s->sm_clock_create_khz))
        goto fail;
    if (measure_big_copy(s))
        goto fail;
    if (measure_fma_peak(s))
        goto fail;
    return 0;
fail:
    return -1;
}

rb_backend *rb_backend_gpu_create(char *why, size_t whylen)
{
    /* Load every module at the first CUDA call: a lazily loaded kernel enqueued behind the
     * blocking kernel could deadlock. */
    setenv("CUDA_MODULE_LOADING", "EAGER", 1);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(why, whylen, "cudaGetDeviceCount: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
        return NULL;
    }
    if (n == 0) {
        snprintf(why, whylen, "no CUDA device");
        return NULL;
    }
    rb_backend *b = calloc(1, sizeof *b);
    gpu_state *s = calloc(1, sizeof *s);
    if (!b || !s) {
        free(b);
        free(s);
        snprintf(why, whylen, "out of host memory");
        return NULL;
    }
    b->name = "gpu";
    b->nvariants = 2;
    b->variants[RB_VARIANT_PAPER] = "paper";
    b->variants[RB_VARIANT_FAST] = "fast";
    b->state = s;
    b->load_data = gpu_load;
    b->run = gpu_run;
    b->describe = gpu_describe;
    b->destroy = gpu_destroy;
    g_last_error[0] = 0;
    if (gpu_init(s)) {
        snprintf(why, whylen, "GPU set-up failed: %s", g_last_error[0] ? g_last_error : "see above");
        gpu_destroy(b);
        return NULL;
    }
    return b;
}

/* ---- test hooks (kernels/rb_support.h) ------------------------------------------------------ */
static gpu_state *hook_state(struct rb_backend *b, int which, long row0, long nrows)
{
    if (!b || strcmp(b->name, "gpu") != 0)
        return NULL;
    gpu_state *s = b->state;
    if (!s->loaded || (which != 0 && which != 1) || row0 < 0 || nrows < 0 || row0 + nrows > s->N)
        return NULL;
    return s;
}

int rb_backend_gpu_get_rows(struct rb_backend *b, int which, long row0, long nrows, float *host)
{
    gpu_state *s = hook_state(b, which, row0, nrows);
    return s ? get_rows(s, which, row0, nrows, host) : -1;
}

int rb_backend_gpu_set_rows(struct rb_backend *b, int which, long row0, long nrows, const float *host)
{
    gpu_state *s = hook_state(b, which, row0, nrows);
    if (!s)
        return -1;
    size_t n = (size_t)nrows * s->d;
    char *dst = (char *)(which ? s->xh : s->x) + (size_t)row0 * s->d * s->esz;
    uint16_t *h = NULL;
    if (s->dtype == RB_FP32) {
        CK(cudaMemcpyAsync(dst, host, n * 4, cudaMemcpyHostToDevice, s->st));
    } else {
        h = malloc(n * 2 + 2);
        if (!h)
            return -1;
        for (size_t i = 0; i < n; i++)
            h[i] = rb_f32_to_f16(host[i]);
        CK(cudaMemcpyAsync(dst, h, n * 2, cudaMemcpyHostToDevice, s->st));
    }
    CK(cudaStreamSynchronize(s->st));
    free(h);
    return 0;
fail:
    free(h);
    return -1;
}

int rb_backend_gpu_metrics(struct rb_backend *b, rb_dev_metrics *out)
{
    gpu_state *s = hook_state(b, 0, 0, 0);
    return s ? device_metrics(s, out) : -1;
}
