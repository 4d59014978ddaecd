/* The GPU backend: device inputs bit-identical to the host generator, device metrics equal to
 * the CPU's (NaN, Inf and zero rows included), sane timing records, and profile mode without
 * the timing loop. Needs a CUDA GPU; every test fails loudly without one. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/rb_support.h"
#include "../check.h"
#include "../driver.h"
#include "../methods.h"
#include "../qdq_setup.h"
#include "backend.h"
#include "codebook.h"
#include "counts.h"
#include "data.h"
#include "fp16.h"
#include "gpu_backend.h"
#include "metrics.h"
#include "results.h"
#include "run_options.h"

static rb_backend *gpu(void) { return rb_test_gpu_backend(); }

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

TEST(gpu_inputs_bit_identical_to_host)
{
    rb_backend *be = gpu();
    CHECK(be != NULL, "no GPU backend");
    if (!be)
        return;
    static const struct { int d; long N; } shapes[] = {
        {128, 1000}, {5, 1}, {5, 999}, {3, 7}, {256, 1}, {64, 1000}, {512, 257},
    };
    be->profile = 1; /* no copy timing at load */
    for (int t = 0; t < 2; t++) {
        rb_dtype dt = t ? RB_FP16 : RB_FP32;
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            int d = shapes[k].d;
            long N = shapes[k].N;
            uint64_t seed = 20260328 + k;
            float *host = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N));
            float *dev = malloc(sizeof(float) * (size_t)N * d);
            char err[256];
            CHECK(rb_data_sphere(seed, d, N, dt, host, err, sizeof err) == 0, "%s", err);
            int ok = be->load_data(be, seed, d, N, dt) == 0 &&
                     rb_backend_gpu_get_rows(be, 0, 0, N, dev) == 0;
            CHECK(ok, "load / read back d=%d N=%ld %s", d, N, rb_dtype_name(dt));
            long diff = 0, first = -1;
            for (long i = 0; ok && i < N * d; i++)
                if (fbits(host[i]) != fbits(dev[i]) && diff++ == 0)
                    first = i;
            CHECK(diff == 0, "d=%d N=%ld %s: %ld of %ld values differ; first [%ld]: gpu %.9g (%08x) host "
                  "%.9g (%08x)", d, N, rb_dtype_name(dt), diff, N * d, first,
                  first >= 0 ? dev[first] : 0.0, first >= 0 ? fbits(dev[first]) : 0,
                  first >= 0 ? host[first] : 0.0, first >= 0 ? fbits(host[first]) : 0);
            free(host);
            free(dev);
        }
    }
    be->profile = 0;
}

/* Why the backend draws its normals with the host generator: cuRAND's device Philox normals
 * (RB_GPU_DEVICE_RNG=1) agree with the host's only to a few ulps. Reported, not required. */
TEST(gpu_device_rng_close_to_host)
{
    rb_backend *be = gpu();
    CHECK(be != NULL, "no GPU backend");
    if (!be)
        return;
    const int d = 128;
    const long N = 1000;
    float *host = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N));
    float *dev = malloc(sizeof(float) * (size_t)N * d);
    char err[256];
    CHECK(rb_data_sphere(5, d, N, RB_FP32, host, err, sizeof err) == 0, "%s", err);
    be->profile = 1;
    setenv("RB_GPU_DEVICE_RNG", "1", 1);
    CHECK(rb_run_knobs_check(err, sizeof err) == 0 && rb_run_options_get()->gpu_device_rng == 1, "%s", err);
    CHECK(be->load_data(be, 5, d, N, RB_FP32) == 0 && rb_backend_gpu_get_rows(be, 0, 0, N, dev) == 0,
          "device-generated load");
    unsetenv("RB_GPU_DEVICE_RNG");
    CHECK(rb_run_knobs_check(err, sizeof err) == 0 && rb_run_options_get()->gpu_device_rng == 0, "%s", err);
    long diff = 0;
    double worst = 0;
    for (long i = 0; i < N * d; i++) {
        diff += fbits(host[i]) != fbits(dev[i]);
        worst = fmax(worst, fabs(dev[i] - host[i]) / fmax(fabs(host[i]), 1e-3));
    }
    fprintf(stderr, "    device Philox normals: %ld of %ld normalized values differ from the host's, "
            "worst relative difference %.2g\n", diff, N * d, worst);
    CHECK(worst < 1e-3, "device normals are not even close to the host's (%.3g)", worst);
    free(host);
    free(dev);
    be->profile = 0;
}

/* Device metrics against rb_row_stats_compute + rb_metrics_add over the same (read back) rows. */
static void metrics_case(rb_backend *be, int d, long N, rb_dtype dt)
{
    be->profile = 1;
    CHECK(be->load_data(be, 99, d, N, dt) == 0, "load d=%d N=%ld", d, N);
    size_t n = (size_t)N * d;
    float *x = malloc(sizeof(float) * n), *xh = malloc(sizeof(float) * n);
    CHECK(rb_backend_gpu_get_rows(be, 0, 0, N, x) == 0, "read x");
    /* x-hat: x plus a deterministic perturbation, like a quantizer's error */
    uint32_t lcg = 12345;
    for (size_t i = 0; i < n; i++) {
        lcg = lcg * 1664525u + 1013904223u;
        xh[i] = x[i] + 0.05f * ((float)(lcg >> 8) / 16777216.0f - 0.5f);
    }
    /* special rows (when N allows): NaN in x, Inf in x-hat, both zero, x-hat zero, x zero */
    if (N > 30) {
        x[3 * (long)d + (d > 5 ? 5 : 0)] = NAN;
        xh[7 * (long)d] = INFINITY;
        for (int j = 0; j < d; j++) {
            x[10 * (long)d + j] = 0.0f;
            xh[10 * (long)d + j] = 0.0f;
            xh[12 * (long)d + j] = 0.0f;
            x[20 * (long)d + j] = 0.0f;
        }
        xh[25 * (long)d + 1 % d] = -INFINITY;
        x[28 * (long)d] = NAN;
        xh[28 * (long)d] = NAN;
        for (int j = 0; j < d; j++) { /* a tiny row (fp32; fp16 rounds it to a zero row) */
            x[15 * (long)d + j] = 1e-25f;
            xh[15 * (long)d + j] = 0.0f;
        }
    }
    CHECK(rb_backend_gpu_set_rows(be, 0, 0, N, x) == 0 && rb_backend_gpu_set_rows(be, 1, 0, N, xh) == 0,
          "write x, x-hat");
    /* what the device holds (fp16: rounded) */
    CHECK(rb_backend_gpu_get_rows(be, 0, 0, N, x) == 0 && rb_backend_gpu_get_rows(be, 1, 0, N, xh) == 0,
          "read back x, x-hat");
    rb_metrics cpu;
    rb_metrics_init(&cpu, d);
    for (long i = 0; i < N; i++) {
        rb_row_stats r;
        rb_row_stats_compute(x + i * (long)d, xh + i * (long)d, d, &r);
        rb_metrics_add(&cpu, &r);
    }
    rb_dev_metrics g;
    memset(&g, 0, sizeof g);
    CHECK(rb_backend_gpu_metrics(be, &g) == 0, "device metrics");
    const char *tn = rb_dtype_name(dt);
    CHECK(g.rows == cpu.rows && g.finite_rows == cpu.finite_rows && g.nonzero_rows == cpu.nonzero_rows &&
              g.cos_rows == cpu.cos_rows && g.nonfinite_rows == cpu.nonfinite_rows && g.tiny_rows == cpu.tiny_rows,
          "d=%d N=%ld %s counts: gpu rows %lld finite %lld nonzero %lld cos %lld nonfinite %lld tiny %lld; cpu %ld "
          "%ld %ld %ld %ld %ld", d, N, tn, g.rows, g.finite_rows, g.nonzero_rows, g.cos_rows,
          g.nonfinite_rows, g.tiny_rows, cpu.rows, cpu.finite_rows, cpu.nonzero_rows, cpu.cos_rows,
          cpu.nonfinite_rows, cpu.tiny_rows);
    CHECK_REL(g.sum_err2, cpu.sum_err2, 1e-9);
    CHECK_REL(g.sum_rel, cpu.sum_rel, 1e-9);
    CHECK_REL(g.sum_cos, cpu.sum_cos, 1e-9);
    const long tiny = dt == RB_FP32; /* row 15 */
    if (N > 30)
        CHECK(cpu.nonfinite_rows == 4 && cpu.tiny_rows == tiny && cpu.finite_rows == N - 4 - tiny &&
                  cpu.nonzero_rows == N - 7 && cpu.cos_rows == N - 8,
              "the injected rows did not give the expected counts (%ld %ld %ld %ld %ld)",
              cpu.nonfinite_rows, cpu.tiny_rows, cpu.finite_rows, cpu.nonzero_rows, cpu.cos_rows);
    free(x);
    free(xh);
    be->profile = 0;
}

TEST(gpu_metrics_match_cpu)
{
    rb_backend *be = gpu();
    CHECK(be != NULL, "no GPU backend");
    if (!be)
        return;
    metrics_case(be, 128, 1000, RB_FP32);
    metrics_case(be, 128, 1000, RB_FP16);
    metrics_case(be, 5, 333, RB_FP32);
    metrics_case(be, 256, 70000, RB_FP32); /* more rows than one pass's threads: grid-stride */
    metrics_case(be, 3, 1, RB_FP16);
}

TEST(gpu_run_timing_is_sane)
{
    rb_backend *be = gpu();
    CHECK(be != NULL, "no GPU backend");
    if (!be)
        return;
    const int d = 128;
    const long N = 8192;
    const rb_method methods[] = {method_id("rotorquant"), method_id("turboquant-wht")};
    int rated_khz = 0;
    CHECK(cudaDeviceGetAttribute(&rated_khz, cudaDevAttrClockRate, 0) == cudaSuccess && rated_khz > 0,
          "rated SM clock");
    for (int t = 0; t < 2; t++) {
        rb_dtype dt = t ? RB_FP16 : RB_FP32;
        be->profile = 0;
        CHECK(be->load_data(be, 7, d, N, dt) == 0, "load");
        for (size_t mi = 0; mi < sizeof methods / sizeof methods[0]; mi++)
            for (int v = 0; v < be->nvariants; v++) {
                setup s;
                CHECK(setup_make(&s, methods[mi], d, 3, 7) == 0, "setup");
                rb_record r;
                memset(&r, 0, sizeof r);
                CHECK(be->run(be, &s.p, v, &r) == 0, "run");
                const char *name = rb_method_name(methods[mi]);
                rb_timing *T = &r.t;
                CHECK(T->clock && !strcmp(T->clock, "cuda-events"), "%s clock %s", name,
                      T->clock ? T->clock : "(null)");
                CHECK(T->samples >= 10 && T->samples <= 100, "%s/%s samples %d", name,
                      be->variants[v], T->samples);
                CHECK(T->batch >= 1, "batch %d", T->batch);
                CHECK(T->min_us > 0 && T->min_us <= T->q1_us && T->q1_us <= T->median_us &&
                          T->median_us <= T->q3_us && T->q3_us <= T->max_us,
                      "%s hot min %.3f q1 %.3f med %.3f q3 %.3f max %.3f", name, T->min_us, T->q1_us,
                      T->median_us, T->q3_us, T->max_us);
                CHECK(T->cold_samples >= 10 && T->cold_min_us > 0 && T->cold_min_us <= T->cold_median_us &&
                          T->cold_median_us <= T->cold_max_us,
                      "%s cold n %d min %.3f med %.3f max %.3f", name, T->cold_samples, T->cold_min_us,
                      T->cold_median_us, T->cold_max_us);
                CHECK(T->noise >= 0 && T->cold_noise >= 0, "noise");
                CHECK(T->copy_us > 0 && T->copy_cold_us > 0, "copy %.3f cold %.3f", T->copy_us,
                      T->copy_cold_us);
                CHECK(T->stop_reason != NULL, "stop reason");
                /* SM 0's clock over the samples: a real clock, never above the rated boost by more
                 * than the counters' jitter, and the lowest sample no higher than either mean */
                CHECK(T->hot_clock_khz > 0.2 * rated_khz && T->hot_clock_khz < 1.1 * rated_khz &&
                          T->cold_clock_khz > 0.2 * rated_khz && T->cold_clock_khz < 1.1 * rated_khz &&
                          T->clock_min_khz > 0 && T->clock_min_khz <= T->hot_clock_khz * 1.0001 &&
                          T->clock_min_khz <= T->cold_clock_khz * 1.0001 && T->clock_low_samples >= 0 &&
                          T->clock_low_samples <= T->samples + T->cold_samples,
                      "%s clock: hot %.0f cold %.0f min %.0f kHz, %d low, rated %d", name, T->hot_clock_khz,
                      T->cold_clock_khz, T->clock_min_khz, T->clock_low_samples, rated_khz);
                CHECK(r.check_rows == 256, "check_rows %ld", r.check_rows);
                CHECK(r.check_max_abs <= (dt == RB_FP16 ? 2e-3 : 1e-4), "%s/%s %s: max |gpu-cpu| %.3g",
                      name, be->variants[v], rb_dtype_name(dt), r.check_max_abs);
                CHECK(r.m.rows == N && r.m.finite_rows == N, "metric rows %ld finite %ld", r.m.rows,
                      r.m.finite_rows);
                double pred = rb_codebook_mse_under(&s.cb, RB_CODEBOOK_BETA, d);
                CHECK(fabs(r.m.mse / pred - 1) < 0.05, "%s/%s MSE %.5g vs Lloyd-Max %.5g", name,
                      be->variants[v], r.m.mse, pred);
                if (v == 0 && mi == 0)
                    fprintf(stderr, "    %s %s/%s: hot %.2f us (B=%d, n=%d, noise %.2f%%, %.0f MHz), cold %.2f us "
                            "(%.0f MHz), copy %.2f / %.2f us; %s\n", rb_dtype_name(dt), name, be->variants[v],
                            T->median_us, T->batch, T->samples, 100 * T->noise, T->hot_clock_khz / 1e3,
                            T->cold_median_us, T->cold_clock_khz / 1e3, T->copy_us, T->copy_cold_us,
                            T->stop_reason);
                free(s.rot);
            }
    }
}

TEST(gpu_profile_mode_skips_timing)
{
    rb_backend *be = gpu();
    CHECK(be != NULL, "no GPU backend");
    if (!be)
        return;
    const int d = 256;
    const long N = 4096;
    be->profile = 1;
    CHECK(be->load_data(be, 3, d, N, RB_FP32) == 0, "load");
    setup s;
    CHECK(setup_make(&s, method_id("isoquant-full"), d, 2, 3) == 0, "setup");
    for (int v = 0; v < be->nvariants; v++) {
        rb_record r;
        memset(&r, 0, sizeof r);
        CHECK(be->run(be, &s.p, v, &r) == 0, "run");
        CHECK(r.t.samples <= 5 && r.t.cold_samples <= 5, "profile mode sampled %d / %d times",
              r.t.samples, r.t.cold_samples);
        CHECK(r.t.clock && !strcmp(r.t.clock, "profile"), "clock %s", r.t.clock ? r.t.clock : "(null)");
        CHECK(r.m.rows == N && r.m.mse > 0, "metrics rows %ld mse %g", r.m.rows, r.m.mse);
        CHECK(r.check_rows > 0, "profile mode still checks against the CPU");
    }
    free(s.rot);
    be->profile = 0;

    cJSON *o = cJSON_CreateObject();
    be->describe(be, o);
    be->describe(be, o); /* idempotent: fields replaced, not duplicated */
    const cJSON *gbps = cJSON_GetObjectItemCaseSensitive(o, "measured_copy_gbps");
    const cJSON *peak = cJSON_GetObjectItemCaseSensitive(o, "peak_gbps_theoretical");
    CHECK(cJSON_IsNumber(gbps) && gbps->valuedouble > 0, "measured_copy_gbps");
    CHECK(cJSON_IsNumber(peak) && peak->valuedouble > 0, "peak_gbps_theoretical");
    /* the measured FMA roof lies below the issue-rate bound (128 FMA per SM per clock at the
     * rated clock) and, on an idle device, above half of it */
    const cJSON *fma = cJSON_GetObjectItemCaseSensitive(o, "measured_fma_per_s");
    const cJSON *fma_max = cJSON_GetObjectItemCaseSensitive(o, "fma_peak_theoretical_per_s");
    CHECK(cJSON_IsNumber(fma) && cJSON_IsNumber(fma_max) && fma->valuedouble > 0.5 * fma_max->valuedouble &&
              fma->valuedouble <= 1.02 * fma_max->valuedouble,
          "measured_fma_per_s %g against %g", cJSON_IsNumber(fma) ? fma->valuedouble : -1,
          cJSON_IsNumber(fma_max) ? fma_max->valuedouble : -1);
    CHECK(cJSON_GetArraySize(o) > 15, "describe wrote %d fields", cJSON_GetArraySize(o));
    if (cJSON_IsNumber(gbps) && cJSON_IsNumber(peak)) {
        char *txt = cJSON_PrintUnformatted(o);
        fprintf(stderr, "    %s\n", txt);
        free(txt);
    }
    cJSON_Delete(o);
}

/* The attention metrics on the device equal the CPU's (attention.h) to 1e-6 relative, on the
 * same rows: x loaded as a file's rows would be, x-hat set through the test hook, so the same
 * values reach both (fp16: rounded first). N = 2^20 as the sweeps run it, and a short batch with
 * a NaN row and N < T. */
static double rel_diff(double a, double b) { return fabs(a - b) / fmax(fmax(fabs(a), fabs(b)), 1e-300); }

static void attention_case_v(rb_backend *be, int d, long N, rb_dtype dt, int nq, int T, int paired)
{
    size_t n = (size_t)N * d;
    float *x = malloc(sizeof(float) * n), *xh = malloc(sizeof(float) * n), *q = malloc(sizeof(float) * (size_t)nq * d);
    float *v = paired ? malloc(sizeof(float) * n) : NULL, *vh = paired ? malloc(sizeof(float) * n) : NULL;
    char err[256];
    CHECK(x && xh && q && rb_data_generate(&(rb_data_dist){.kind = RB_DIST_LOWRANK, .rank = 8, .noise = 0.1}, 3, d, N,
                                           dt, x, err, sizeof err) == 0 && rb_data_queries(3, d, nq, q, err, sizeof err) == 0,
          "inputs");
    for (size_t i = 0; i < n; i++) /* a quantized copy: a coarse grid, rounded as the dtype stores it */
        xh[i] = dt == RB_FP16 ? rb_round_f16(roundf(x[i] * 16) / 16) : roundf(x[i] * 16) / 16;
    if (N > 40)
        x[37 * (long)d + 5] = NAN;
    for (size_t i = 0; paired && v && vh && i < n; i++) { /* values: another row of x, their own coarser grid */
        v[i] = x[(i + 7 * (size_t)d) % n] * 0.5f;
        vh[i] = dt == RB_FP16 ? rb_round_f16(roundf(v[i] * 8) / 8) : roundf(v[i] * 8) / 8;
        v[i] = dt == RB_FP16 ? rb_round_f16(v[i]) : v[i];
    }
    if (paired && N > 60)
        v[53 * (long)d + 1] = NAN;
    CHECK(be->load_rows(be, x, d, N, dt) == 0 && rb_backend_gpu_set_rows(be, 1, 0, N, xh) == 0, "upload");
    rb_attn g, c;
    CHECK(be->attention(be, q, nq, T, v, vh, &g) == 0, "gpu attention");
    const long G = rb_attn_groups(N, T);
    rb_attn_part *parts = calloc((size_t)nq * G, sizeof *parts);
    rb_attn_parts_cpu(x, xh, v, vh, d, N, q, nq, T, parts);
    rb_attn_finish(parts, nq, G, T, &c);
    const double w = fmax(fmax(rel_diff(g.ip_err, c.ip_err), rel_diff(g.ip_bias, c.ip_bias)),
                          fmax(fmax(rel_diff(g.kl, c.kl), rel_diff(g.top1, c.top1)),
                               fmax(rel_diff(g.top5, c.top5), rel_diff(g.out_cos, c.out_cos))));
    CHECK(w <= 1e-6 && g.groups == c.groups, "d=%d N=%ld %s: worst relative difference %.3g (ip %.9g / %.9g, kl %.9g / %.9g, "
          "top1 %.9g / %.9g, cos %.12g / %.12g)", d, N, rb_dtype_name(dt), w, g.ip_err, c.ip_err, g.kl, c.kl, g.top1, c.top1,
          g.out_cos, c.out_cos);
    fprintf(stderr, "    attention d=%d N=%ld %s%s: %ld groups x %d queries, worst GPU/CPU relative difference %.2g\n", d,
            N, rb_dtype_name(dt), paired ? " (values paired)" : "", G, nq, w);
    free(parts);
    free(v);
    free(vh);
    free(x);
    free(xh);
    free(q);
}

static void attention_case(rb_backend *be, int d, long N, rb_dtype dt, int nq, int T)
{
    attention_case_v(be, d, N, dt, nq, T, 0);
    attention_case_v(be, d, N, dt, nq, T, 1); /* K with its own V (distribution.values) */
}

TEST(gpu_attention_metrics_match_cpu)
{
    rb_backend *be = gpu();
    CHECK(be != NULL, "no GPU backend");
    if (!be)
        return;
    be->profile = 1;
    attention_case(be, 128, 1L << 20, RB_FP16, 16, 1024);
    attention_case(be, 128, 1L << 17, RB_FP32, 32, 1024);
    attention_case(be, 64, 300, RB_FP32, 8, 512);
    attention_case(be, 96, 5000, RB_FP16, 4, 100);
}

/* The device: the run options' (--device N, default 0), named in the machine block; a number past
 * the visible devices is exit 2 with one line, before any work. */
TEST(gpu_device_chosen_and_recorded)
{
    rb_backend *be = gpu();
    CHECK(be != NULL, "no GPU backend");
    if (!be)
        return;
    cJSON *o = cJSON_CreateObject();
    be->describe(be, o);
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, "device_index");
    const cJSON *vis = cJSON_GetObjectItemCaseSensitive(o, "cuda_visible_devices");
    CHECK(cJSON_IsNumber(idx) && idx->valuedouble == rb_run_options_get()->device && cJSON_IsString(vis),
          "machine block: device_index %g, cuda_visible_devices %s", cJSON_IsNumber(idx) ? idx->valuedouble : -1.0,
          cJSON_IsString(vis) ? vis->valuestring : "(none)");
    cJSON_Delete(o);
    int n = 0;
    CHECK(cudaGetDeviceCount(&n) == cudaSuccess && n > 0, "device count");
    char cmd[512], first[512] = "", line[512], last[512] = "";
    snprintf(cmd, sizeof cmd, "./build/rotorbench run configs/smoke.json --backend gpu --device %d "
             "--out /nonexistent/rb 2>&1 >/dev/null; echo $?", n);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL, "popen");
    if (!p)
        return;
    if (fgets(first, sizeof first, p))
        while (fgets(line, sizeof line, p))
            snprintf(last, sizeof last, "%s", line);
    pclose(p);
    CHECK(strstr(first, "--device") && strstr(first, "visible") && atoi(last) == 2,
          "--device %d: '%s' status %s", n, first, last);
}

static char *slurp_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
        }
    }
    fclose(f);
    return buf;
}

/* Rows of large norm (tests/data/largenorm.npy: norms 1..100) through every method, both
 * dtypes, bits 1..4 and HQMQ's operating points (configs/largenorm.json): the run exits 0, so
 * every setting's in-run check agreed with the CPU reference (harness/agree.h), and every
 * record says it compared all 256 rows. Every registered built-in method is in the config. */
TEST(gpu_largenorm_rows_agree_for_every_method)
{
    char dir[] = "/tmp/rb_largenormXXXXXX", args[512], err[8192], path[600];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(args, sizeof args, "configs/largenorm.json --backend gpu --out %s", dir);
    int rc = run_driver(args, err, sizeof err);
    const size_t len = strlen(err);
    const char *last = err + (len > 1500 ? len - 1500 : 0); /* the failure, if any, is last */
    CHECK(rc == 0, "rotorbench run configs/largenorm.json --backend gpu: exit %d\n%s", rc, last);
    snprintf(path, sizeof path, "%s/largenorm-gpu.json", dir);
    char *text = slurp_file(path);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    CHECK(doc != NULL, "%s: missing or not JSON", path);
    const cJSON *recs = doc ? cJSON_GetObjectItemCaseSensitive(doc, "records") : NULL;
    int n = 0, checked = 0, seen[RB_MAX_METHODS][2] = {{0}};
    const cJSON *o;
    cJSON_ArrayForEach(o, recs)
    {
        n++;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "check_vs_cpu");
        const cJSON *rows = c ? cJSON_GetObjectItemCaseSensitive(c, "rows") : NULL;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "method"), *dt = cJSON_GetObjectItemCaseSensitive(o, "dtype");
        checked += cJSON_IsNumber(rows) && rows->valuedouble == 256;
        rb_method mi = cJSON_IsString(m) ? rb_method_find(m->valuestring) : -1;
        if (mi >= 0 && cJSON_IsString(dt))
            seen[mi][!strcmp(dt->valuestring, "fp16")] = 1;
    }
    CHECK(n > 0 && checked == n, "%d of %d records compared all 256 rows with the CPU", checked, n);
    for (rb_method m = 0; m < rb_methods_builtin_count(); m++) /* the config names the built-ins, not plugins */
        CHECK(!rb_method_get(m)->launch || (seen[m][0] && seen[m][1]), "%s: no fp32 and fp16 records",
              rb_method_name(m));
    cJSON_Delete(doc);
    free(text);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "%s", cmd);
}
