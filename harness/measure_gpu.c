/* measure_gpu.c: the GPU measurement module (measure_gpu.h). */
#include "measure_gpu.h"

#include <math.h>
#include <nvtx3/nvToolsExt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_check.h"
#include "rb_support.h"
#include "stats.h"
#include "wallclock.h"

#define MAX_BATCH 512          /* launches queued behind the blocking kernel */
#define BLOCK_TIMEOUT_NS 500000000ull
#define CLOCK_PROBE_NS 1000000ull
#define THROTTLE_FRACTION 0.75

struct rb_meas_gpu {
    cudaStream_t st;
    cudaEvent_t e0, e1;
    void *flush;
    size_t flush_bytes;
    unsigned flush_val;
    volatile int *hflag; /* [0] release, [1] timed out: host-mapped */
    int *dflag;
    unsigned long long *dclk;
    volatile unsigned long long *hstamp; /* SM 0 stamps around a sample: host-mapped */
    unsigned long long *dstamp;
    float *fma_sink;
    int max_batch, sms, sm_clock_rated_khz;
    nvtxDomainHandle_t dom;

    double copy_gbps, copy_gbps_bytes, fma_per_s, tc_flops_per_s, sm_clock_create_khz, tc_clock_khz;
    double copy_us, copy_cold_us; /* the loaded data set's */
    double copy_moved;            /* bytes that copy read and wrote */
    double clk_min_khz, clk_max_khz;
    int timed_settings, throttled_settings, low_clock_settings;
    double hot[RB_MEAS_MAX_SAMPLES], cold[RB_MEAS_MAX_SAMPLES];
};

void rb_meas_opts_default(rb_meas_opts *o)
{
    o->min_samples = 10;
    o->max_samples = 100;
    o->min_time_s = 0.1;
    o->loop_timeout_s = 1.0; /* per loop (cold, hot): about 2 s per setting */
    o->max_noise = 0.005;
    o->target_sample_us = 1000.0;
    o->batch = 0;
    o->warmup = 1;
    o->cold = 1;
    o->hot = 1;
    o->flush_l2 = 1;
}

cudaStream_t rb_meas_gpu_stream(const rb_meas_gpu *m) { return m->st; }

void rb_meas_range_push(rb_meas_gpu *m, const char *name)
{
    nvtxEventAttributes_t a;
    memset(&a, 0, sizeof a);
    a.version = NVTX_VERSION;
    a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
    a.message.registered = nvtxDomainRegisterStringA(m->dom, name);
    nvtxDomainRangePushEx(m->dom, &a);
}

void rb_meas_range_pop(rb_meas_gpu *m) { nvtxDomainRangePop(m->dom); }

/* ---- sampling ------------------------------------------------------------------------------ */
/* SM 0's clock over a phase's samples: the sum of its cycles and of the nanoseconds between the
 * stamps around each sample (rb_launch_sm0_stamp), the lowest sample's clock, and how many
 * samples ran under THROTTLE_FRACTION of the rated clock. A GPU at its power cap lowers the
 * clock within a fraction of a second of back-to-back work (H200, 700 W: TurboQuant-dense's
 * tensor-core kernel at d = 256 ran its hot samples at 1.39-1.45 GHz, its cold ones at 1.58-1.63,
 * rated 1.98), so the hot samples can run slower than the cold ones; this says when. */
typedef struct {
    double cycles, ns, min_khz;
    int n, low;
} clk_acc;

static double clk_mean_khz(const clk_acc *a) { return a->ns > 0 ? a->cycles / a->ns * 1e6 : 0; }

static void clk_add(rb_meas_gpu *m, clk_acc *a, double cycles, double ns)
{
    if (ns <= 0 || cycles <= 0)
        return; /* no block ran on SM 0: no stamp */
    const double khz = cycles / ns * 1e6;
    a->cycles += cycles;
    a->ns += ns;
    if (a->n == 0 || khz < a->min_khz)
        a->min_khz = khz;
    a->n++;
    if (m->sm_clock_rated_khz > 0 && khz < THROTTLE_FRACTION * m->sm_clock_rated_khz)
        a->low++;
}

/* One sample: [flush L2], hold the stream, stamp, e0, `count` launches, e1, stamp, release, wait.
 * *us = GPU time per launch; *timed_out = 1 when the blocking kernel gave up before the host
 * released it (the host could not enqueue everything in time: the sample is not valid); SM 0's
 * clock over the sample goes to ca (NULL: not kept). */
static int take_sample(rb_meas_gpu *m, rb_enqueue_fn fn, void *ctx, int count, int flush, double *us,
                       int *timed_out, clk_acc *ca)
{
    m->hflag[0] = 0;
    m->hflag[1] = 0;
    for (int i = 0; i < 4; i++)
        m->hstamp[i] = 0;
    __sync_synchronize();
    if (flush)
        CK(cudaMemsetAsync(m->flush, (int)(m->flush_val++ & 0xff), m->flush_bytes, m->st));
    CK(rb_launch_block_stream(m->dflag, m->dflag + 1, BLOCK_TIMEOUT_NS, m->st));
    CK(rb_launch_sm0_stamp(m->dstamp, m->sms, m->st));
    CK(cudaEventRecord(m->e0, m->st));
    for (int i = 0; i < count; i++)
        if (fn(ctx, m->st))
            goto fail;
    CK(cudaEventRecord(m->e1, m->st));
    CK(rb_launch_sm0_stamp(m->dstamp + 2, m->sms, m->st));
    __sync_synchronize();
    m->hflag[0] = 1;
    __sync_synchronize();
    CK(cudaStreamSynchronize(m->st));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, m->e0, m->e1));
    *us = 1e3 * (double)ms / count;
    *timed_out = m->hflag[1];
    if (ca && !*timed_out && m->hstamp[0] && m->hstamp[2] > m->hstamp[0])
        clk_add(m, ca, (double)(m->hstamp[3] - m->hstamp[1]), (double)(m->hstamp[2] - m->hstamp[0]));
    return 0;
fail:
    m->hflag[0] = 1; /* never leave the spin kernel waiting */
    cudaStreamSynchronize(m->st);
    return -1;
}

enum { STOP_NOISE = RB_MEAS_STOP_NOISE, STOP_MAX = RB_MEAS_STOP_MAX, STOP_TIMEOUT = RB_MEAS_STOP_TIME };

/* A loop's stop reason in words, from the limit that ended it. */
static void stop_words(const rb_meas_opts *o, int stop, char *buf, size_t n)
{
    if (stop == STOP_NOISE)
        snprintf(buf, n, "noise <= %g%%", 100.0 * o->max_noise);
    else if (stop == STOP_MAX)
        snprintf(buf, n, "%d samples", o->max_samples);
    else
        snprintf(buf, n, "time limit");
}

void rb_meas_stop_reason(const rb_meas_opts *o, int cold_stop, int hot_stop, char *buf, size_t n)
{
    char c[40], h[40];
    stop_words(o, cold_stop, c, sizeof c);
    stop_words(o, hot_stop, h, sizeof h);
    if (o->cold && o->hot)
        snprintf(buf, n, "cold: %s, hot: %s", c, h);
    else
        snprintf(buf, n, "%s: %s", o->cold ? "cold" : "hot", o->cold ? c : h);
}

/* The default options' reasons, for rb_timing.stop_reason (a pointer that outlives the module). */
static char default_reasons[3][3][96];

static const char *default_reason(const char *words)
{
    if (!default_reasons[0][0][0]) {
        rb_meas_opts o;
        rb_meas_opts_default(&o);
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 3; h++)
                rb_meas_stop_reason(&o, c, h, default_reasons[c][h], sizeof default_reasons[c][h]);
    }
    for (int c = 0; c < 3; c++)
        for (int h = 0; h < 3; h++)
            if (!strcmp(words, default_reasons[c][h]))
                return default_reasons[c][h];
    return "unknown";
}

/* Sample until the stopping rule says so. *batch may shrink when the blocking kernel timed
 * out (too many launches queued behind it). */
static int sample_loop(rb_meas_gpu *m, const rb_meas_opts *o, rb_enqueue_fn fn, void *ctx, int flush, int *batch,
                       double *x, int *n, int *stop, clk_acc *ca)
{
    double t0 = rb_wallclock_s(), acc = 0;
    int timeouts = 0;
    *n = 0;
    for (;;) {
        double us = 0;
        int to = 0;
        if (take_sample(m, fn, ctx, *batch, flush, &us, &to, ca))
            return -1;
        if (to) {
            if (++timeouts > 6) {
                fprintf(stderr, "rotorbench: gpu: the blocking kernel keeps timing out (batch %d): "
                        "the host cannot enqueue the launches\n", *batch);
                return -1;
            }
            if (*batch > 1) {
                *batch /= 2;
                if (*batch < m->max_batch)
                    m->max_batch = *batch;
            }
            continue;
        }
        x[(*n)++] = us;
        acc += us * 1e-6 * *batch;
        if (*n >= o->min_samples && acc >= o->min_time_s) {
            rb_summary sm;
            rb_summarize(x, *n, &sm);
            if (sm.noise <= o->max_noise) {
                *stop = STOP_NOISE;
                return 0;
            }
        }
        if (*n >= o->max_samples) {
            *stop = STOP_MAX;
            return 0;
        }
        if (*n >= o->min_samples && rb_wallclock_s() - t0 >= o->loop_timeout_s) {
            *stop = STOP_TIMEOUT;
            return 0;
        }
    }
}

typedef struct {
    rb_summary hot, cold;
    int nhot, ncold, batch, hot_stop, cold_stop;
    clk_acc hot_clk, cold_clk;
} meas;

/* Warm-up, batch sizing, cold samples, hot samples, as o says. */
static int measure(rb_meas_gpu *m, const rb_meas_opts *o, rb_enqueue_fn fn, void *ctx, meas *r)
{
    memset(r, 0, sizeof *r);
    int B = o->batch > 0 ? o->batch : 1;
    if (o->warmup) {
        /* warm-up, timed loosely (host latency included): long launches need no batch estimate */
        CK(cudaEventRecord(m->e0, m->st));
        if (fn(ctx, m->st))
            return -1;
        CK(cudaEventRecord(m->e1, m->st));
        CK(cudaEventSynchronize(m->e1));
        float warm_ms = 0;
        CK(cudaEventElapsedTime(&warm_ms, m->e0, m->e1));
        if (o->batch <= 0 && 1e3 * warm_ms < o->target_sample_us) {
            double est = 0;
            int to = 0;
            if (take_sample(m, fn, ctx, 4, 0, &est, &to, NULL))
                return -1;
            B = est > 0 ? (int)ceil(o->target_sample_us / est) : m->max_batch;
            if (B > m->max_batch)
                B = m->max_batch;
            if (B < 1)
                B = 1;
        }
    }
    int one = 1;
    if (o->cold && sample_loop(m, o, fn, ctx, o->flush_l2, &one, m->cold, &r->ncold, &r->cold_stop, &r->cold_clk))
        return -1;
    if (o->hot && sample_loop(m, o, fn, ctx, 0, &B, m->hot, &r->nhot, &r->hot_stop, &r->hot_clk))
        return -1;
    r->batch = B;
    rb_summarize(m->cold, r->ncold, &r->cold);
    rb_summarize(m->hot, r->nhot, &r->hot);
    return 0;
fail:
    return -1;
}

int rb_meas_gpu_run(rb_meas_gpu *m, const rb_meas_opts *o, rb_enqueue_fn fn, void *ctx, rb_meas_result *res)
{
    rb_meas_opts def;
    if (!o) {
        rb_meas_opts_default(&def);
        o = &def;
    }
    memset(res, 0, sizeof *res);
    if (o->min_samples < 1 || o->max_samples < o->min_samples || o->max_samples > RB_MEAS_MAX_SAMPLES ||
        !(o->max_noise >= 0) || !(o->loop_timeout_s > 0) || !(o->min_time_s >= 0) || o->batch < 0 ||
        o->batch > m->max_batch || (!o->cold && !o->hot)) {
        fprintf(stderr, "rotorbench: gpu: bad measurement options (samples %d..%d of at most %d, batch %d of at "
                "most %d, cold %d, hot %d)\n", o->min_samples, o->max_samples, RB_MEAS_MAX_SAMPLES, o->batch,
                m->max_batch, o->cold, o->hot);
        return -1;
    }
    meas r;
    if (measure(m, o, fn, ctx, &r))
        return -1;
    res->hot = r.hot;
    res->cold = r.cold;
    res->hot_samples = r.nhot;
    res->cold_samples = r.ncold;
    res->batch = r.batch;
    res->hot_clock_khz = clk_mean_khz(&r.hot_clk);
    res->cold_clock_khz = clk_mean_khz(&r.cold_clk);
    res->clock_min_khz = r.hot_clk.min_khz;
    if (r.cold_clk.n && (!r.hot_clk.n || r.cold_clk.min_khz < res->clock_min_khz))
        res->clock_min_khz = r.cold_clk.min_khz;
    res->clock_samples = r.hot_clk.n + r.cold_clk.n;
    res->clock_low_samples = r.hot_clk.low + r.cold_clk.low;
    rb_meas_stop_reason(o, r.cold_stop, r.hot_stop, res->stop_reason, sizeof res->stop_reason);
    return 0;
}

void rb_meas_gpu_roofs(const rb_meas_gpu *m, double *copy_gbps, double *fma_per_s, double *tc_flops_per_s)
{
    if (copy_gbps)
        *copy_gbps = m->copy_gbps;
    if (fma_per_s)
        *fma_per_s = m->fma_per_s;
    if (tc_flops_per_s)
        *tc_flops_per_s = m->tc_flops_per_s;
}

/* SM clock in kHz from clock64 against %globaltimer over a 1 ms spin. */
static int probe_clock(rb_meas_gpu *m, double *khz)
{
    unsigned long long h[2] = {0, 0};
    CK(rb_launch_clock_probe(CLOCK_PROBE_NS, m->dclk, m->st));
    CK(cudaMemcpyAsync(h, m->dclk, sizeof h, cudaMemcpyDeviceToHost, m->st));
    CK(cudaStreamSynchronize(m->st));
    *khz = h[1] ? (double)h[0] / (double)h[1] * 1e6 : 0;
    return 0;
fail:
    return -1;
}

static void note_clock(rb_meas_gpu *m, double khz)
{
    if (khz <= 0)
        return;
    if (m->clk_min_khz == 0 || khz < m->clk_min_khz)
        m->clk_min_khz = khz;
    if (khz > m->clk_max_khz)
        m->clk_max_khz = khz;
}

/* ---- roofs ------------------------------------------------------------------------------- */
typedef struct {
    void *dst;
    const void *src;
    size_t bytes;
} copy_ctx;

static int enq_copy(void *ctx, cudaStream_t st)
{
    copy_ctx *c = ctx;
    cudaError_t e = cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice, st);
    return e == cudaSuccess ? 0 : rb_gpu_report(e, "cudaMemcpyAsync (D2D)", __FILE__, __LINE__);
}

int rb_meas_gpu_copy_roof(rb_meas_gpu *m, void *dst, const void *src, size_t bytes)
{
    copy_ctx c = {dst, src, bytes};
    meas r;
    rb_meas_opts o;
    rb_meas_opts_default(&o);
    m->copy_us = m->copy_cold_us = m->copy_moved = 0;
    if (measure(m, &o, enq_copy, &c, &r))
        return -1;
    m->copy_moved = 2.0 * (double)bytes;
    m->copy_us = r.hot.median;
    m->copy_cold_us = r.cold.median;
    return 0;
}

/* The fp32 FMA roof, timed like the kernels (hot batches of 4 launches, 10 samples, median):
 * 8 blocks of 256 threads per SM (full occupancy), 2^12 iterations of 8 chains per thread,
 * about 0.3 ms per launch on an H100. */
typedef struct {
    float *sink;
    int blocks, iters;
} fma_ctx;

static int enq_fma(void *ctx, cudaStream_t st)
{
    fma_ctx *c = ctx;
    cudaError_t e = rb_launch_fma_peak(c->sink, c->blocks, c->iters, st);
    return e == cudaSuccess ? 0 : rb_gpu_report(e, "rb_launch_fma_peak", __FILE__, __LINE__);
}

/* Median of 10 hot samples of `count` launches (the roofs: no stopping rule needed); *khz: SM 0's
 * mean clock over them (NULL: not wanted). */
static int median_of_10(rb_meas_gpu *m, rb_enqueue_fn fn, void *ctx, int count, double *us, double *khz)
{
    double x[10];
    clk_acc ca = {0};
    if (fn(ctx, m->st))
        return -1;
    CK(cudaStreamSynchronize(m->st));
    for (int i = 0; i < 10; i++) {
        int to = 0;
        if (take_sample(m, fn, ctx, count, 0, &x[i], &to, &ca))
            return -1;
    }
    if (khz)
        *khz = clk_mean_khz(&ca);
    rb_summary sm;
    rb_summarize(x, 10, &sm);
    *us = sm.median;
    return 0;
fail:
    return -1;
}

static int measure_fma_peak(rb_meas_gpu *m)
{
    fma_ctx c = {m->fma_sink, 8 * m->sms, 4096};
    double us = 0;
    if (median_of_10(m, enq_fma, &c, 4, &us, NULL))
        return -1;
    const double fmas = (double)c.blocks * RB_FMA_PEAK_THREADS * c.iters * RB_FMA_PEAK_CHAINS;
    m->fma_per_s = us > 0 ? fmas / (us * 1e-6) : 0;
    return 0;
}

/* The tensor-core roof of the instruction TurboQuant-dense's fast kernel uses (mma.sync
 * m16n8k16, or wgmma m64n128k16 where the kernel does; fp16 in, fp32 accumulation;
 * kernels/tc_peak.cu), timed the same way: its floor is 4 N d^2 FLOP at this rate. */
static int enq_tc(void *ctx, cudaStream_t st)
{
    fma_ctx *c = ctx;
    cudaError_t e = rb_launch_tc_peak(c->sink, c->blocks, c->iters, st);
    return e == cudaSuccess ? 0 : rb_gpu_report(e, "rb_launch_tc_peak", __FILE__, __LINE__);
}

static int measure_tc_peak(rb_meas_gpu *m)
{
    fma_ctx c = {m->fma_sink, 8 * m->sms, 4096};
    double us = 0;
    if (median_of_10(m, enq_tc, &c, 4, &us, &m->tc_clock_khz))
        return -1;
    m->tc_flops_per_s = us > 0 ? rb_tc_peak_flops(c.blocks, c.iters) / (us * 1e-6) : 0;
    return 0;
}

/* A large D2D copy, timed like the kernels (hot batches): the achievable bandwidth. */
static int measure_big_copy(rb_meas_gpu *m)
{
    void *a = NULL, *c = NULL;
    size_t fr = 0, tot = 0, bytes = (size_t)1 << 30;
    CK(cudaMemGetInfo(&fr, &tot));
    while (bytes > ((size_t)16 << 20) && 2 * bytes + ((size_t)256 << 20) > fr)
        bytes /= 2;
    CK(cudaMalloc(&a, bytes));
    CK(cudaMalloc(&c, bytes));
    CK(cudaMemsetAsync(a, 1, bytes, m->st));
    copy_ctx cc = {c, a, bytes};
    double us = 0;
    if (median_of_10(m, enq_copy, &cc, 1, &us, NULL))
        goto fail;
    m->copy_gbps = us > 0 ? 2.0 * (double)bytes / (us * 1e-6) / 1e9 : 0;
    m->copy_gbps_bytes = (double)bytes;
    cudaFree(a);
    cudaFree(c);
    return 0;
fail:
    if (a)
        cudaFree(a);
    if (c)
        cudaFree(c);
    return -1;
}

/* ---- a setting ------------------------------------------------------------------------------- */
int rb_meas_gpu_time(rb_meas_gpu *m, const char *label, rb_enqueue_fn fn, void *ctx, rb_enqueue_fn pre,
                     void *prectx, rb_timing *t)
{
    double clk0 = 0, clk1 = 0;
    rb_meas_result r, rp;
    memset(t, 0, sizeof *t);
    if (probe_clock(m, &clk0))
        return -1;
    rb_meas_range_push(m, label);
    int bad = rb_meas_gpu_run(m, NULL, fn, ctx, &r) || (pre && rb_meas_gpu_run(m, NULL, pre, prectx, &rp));
    rb_meas_range_pop(m);
    if (bad || probe_clock(m, &clk1))
        return -1;
    note_clock(m, clk0);
    note_clock(m, clk1);
    m->timed_settings++;
    double lo = clk0 < clk1 ? clk0 : clk1;
    if (m->sm_clock_rated_khz > 0 && lo < THROTTLE_FRACTION * m->sm_clock_rated_khz) {
        m->throttled_settings++;
        fprintf(stderr, "rotorbench: WARNING: gpu %s: SM clock %.0f / %.0f MHz (start / end) is under "
                "75%% of the rated %.0f MHz: the GPU may be throttling\n", label, clk0 / 1e3, clk1 / 1e3,
                m->sm_clock_rated_khz / 1e3);
    }
    t->clock = "cuda-events";
    t->samples = r.hot_samples;
    t->batch = r.batch;
    rb_timing_set_hot(t, &r.hot);
    t->cold_samples = r.cold_samples;
    rb_timing_set_cold(t, &r.cold);
    t->copy_us = m->copy_us;
    t->copy_cold_us = m->copy_cold_us;
    t->copy_bytes = m->copy_moved;
    t->fma_peak_per_s = m->fma_per_s;
    t->tc_peak_flops_per_s = m->tc_flops_per_s;
    t->stop_reason = default_reason(r.stop_reason);
    t->prepass_us = pre ? rp.hot.median : 0;
    t->hot_clock_khz = r.hot_clock_khz;
    t->cold_clock_khz = r.cold_clock_khz;
    t->clock_min_khz = r.clock_min_khz;
    t->clock_low_samples = r.clock_low_samples;
    if (t->clock_low_samples) {
        m->low_clock_settings++;
        fprintf(stderr, "rotorbench: WARNING: gpu %s: %d of %d samples ran under 75%% of the rated %.0f MHz "
                "(hot mean %.0f MHz, cold %.0f, lowest %.0f): power or thermal limit\n", label,
                t->clock_low_samples, r.clock_samples, m->sm_clock_rated_khz / 1e3,
                t->hot_clock_khz / 1e3, t->cold_clock_khz / 1e3, t->clock_min_khz / 1e3);
    }
    return 0;
}

void rb_meas_profile_timing(rb_timing *t)
{
    memset(t, 0, sizeof *t);
    t->clock = "profile";
    t->stop_reason = "profile: 4 launches, not timed";
}

/* ---- life cycle --------------------------------------------------------------------------- */
void rb_meas_gpu_destroy(rb_meas_gpu *m)
{
    if (!m)
        return;
    if (m->flush)
        cudaFree(m->flush);
    if (m->dclk)
        cudaFree(m->dclk);
    if (m->fma_sink)
        cudaFree(m->fma_sink);
    if (m->hflag)
        cudaFreeHost((void *)m->hflag);
    if (m->hstamp)
        cudaFreeHost((void *)m->hstamp);
    if (m->e0)
        cudaEventDestroy(m->e0);
    if (m->e1)
        cudaEventDestroy(m->e1);
    free(m);
}

rb_meas_gpu *rb_meas_gpu_create(cudaStream_t st)
{
    rb_meas_gpu *m = calloc(1, sizeof *m);
    if (!m) {
        fprintf(stderr, "rotorbench: gpu: out of host memory\n");
        return NULL;
    }
    int dev = 0, l2 = 0;
    m->st = st;
    m->max_batch = MAX_BATCH;
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&m->sms, cudaDevAttrMultiProcessorCount, dev));
    CK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    CK(cudaDeviceGetAttribute(&m->sm_clock_rated_khz, cudaDevAttrClockRate, dev));
    CK(cudaEventCreate(&m->e0));
    CK(cudaEventCreate(&m->e1));
    m->flush_bytes = 2 * (size_t)(l2 > 0 ? l2 : (64 << 20));
    CK(cudaMalloc(&m->flush, m->flush_bytes));
    void *hf = NULL;
    CK(cudaHostAlloc(&hf, 2 * sizeof(int), cudaHostAllocMapped));
    m->hflag = hf;
    m->hflag[0] = 1;
    m->hflag[1] = 0;
    CK(cudaHostGetDevicePointer((void **)&m->dflag, hf, 0));
    void *hs = NULL;
    CK(cudaHostAlloc(&hs, 4 * sizeof(unsigned long long), cudaHostAllocMapped));
    m->hstamp = hs;
    CK(cudaHostGetDevicePointer((void **)&m->dstamp, hs, 0));
    CK(cudaMalloc((void **)&m->dclk, 2 * sizeof(unsigned long long)));
    CK(cudaMalloc((void **)&m->fma_sink, sizeof(float)));
    nvtxInitialize(NULL);
    m->dom = nvtxDomainCreateA("rotorbench");

    /* every support kernel once before any blocking kernel (module loading), then the clock */
    CK(rb_launch_block_stream(m->dflag, m->dflag + 1, BLOCK_TIMEOUT_NS, m->st));
    CK(rb_launch_sm0_stamp(m->dstamp, m->sms, m->st));
    CK(cudaStreamSynchronize(m->st));
    if (probe_clock(m, &m->sm_clock_create_khz) || measure_big_copy(m) || measure_fma_peak(m) || measure_tc_peak(m))
        goto fail;
    return m;
fail:
    rb_meas_gpu_destroy(m);
    return NULL;
}

static void jnum(cJSON *o, const char *k, double v) { rb_json_replace(o, k, cJSON_CreateNumber(v)); }

static void jstr(cJSON *o, const char *k, const char *v) { rb_json_replace(o, k, cJSON_CreateString(v)); }

void rb_meas_gpu_describe(rb_meas_gpu *m, cJSON *o)
{
    jnum(o, "measured_copy_gbps", m->copy_gbps);
    jnum(o, "measured_copy_bytes", m->copy_gbps_bytes);
    jstr(o, "gbps_unit", "1e9 bytes per second, counting bytes read plus bytes written");
    jnum(o, "measured_fma_per_s", m->fma_per_s);
    jnum(o, "fma_peak_theoretical_per_s", 128.0 * m->sms * m->sm_clock_rated_khz * 1e3);
    jnum(o, "measured_tc_flops_per_s", m->tc_flops_per_s);
    jstr(o, "tc_flops_unit",
         rb_tc_peak_is_wgmma()
             ? "FLOP/s of wgmma m64n128k16 fp16 x fp16 -> fp32, A in registers, B in shared memory (2 x 64 x 128 x 16 "
               "per instruction), 8 back to back per wait, 4 warpgroups per SM: the dense tensor-core rate of "
               "TurboQuant-dense's fast kernel, which uses wgmma on this device"
             : "FLOP/s of mma.sync m16n8k16 fp16 x fp16 -> fp32 (2 x 16 x 8 x 16 per MMA), "
               "independent back-to-back MMAs: the dense tensor-core rate of TurboQuant-dense's fast kernel");
    jnum(o, "sm_clock_rated_khz", m->sm_clock_rated_khz);
    jnum(o, "sm_clock_at_create_khz", m->sm_clock_create_khz);
    double now = 0;
    if (!probe_clock(m, &now))
        jnum(o, "sm_clock_at_describe_khz", now);
    if (m->timed_settings) {
        jnum(o, "sm_clock_min_khz", m->clk_min_khz); /* over every setting's start and end */
        jnum(o, "sm_clock_max_khz", m->clk_max_khz);
    }
    jnum(o, "settings_timed", m->timed_settings);
    jnum(o, "settings_under_75pct_clock", m->throttled_settings);
    jnum(o, "settings_with_samples_under_75pct_clock", m->low_clock_settings);
    if (m->tc_clock_khz > 0)
        jnum(o, "measured_tc_sm_clock_khz", m->tc_clock_khz);
    jnum(o, "l2_flush_bytes", (double)m->flush_bytes);
    jstr(o, "timing", "cuda events; cold: L2 flushed (memset over 2x L2), one launch held behind a "
                      "blocking kernel; hot: batches of back-to-back launches behind a blocking kernel, "
                      "per launch; >= 10 samples, stop at rel. std <= 0.5% after >= 0.1 s GPU time, "
                      "100 samples or ~1 s per loop; each record's time.hot_sm_clock_khz / cold_sm_clock_khz: "
                      "SM 0's mean clock over the hot / cold samples (clock64 against %globaltimer, stamped "
                      "around each sample)");
}
