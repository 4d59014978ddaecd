/* Decode attention on the GPU (the backend's kv_attention hook) against the CPU's split attention
 * (harness/kvattn_cpu.c) on the same cache: every method that packs codes at 2/3/4 bits and the
 * fp16 cache, T = 1 and T not a multiple of the split, 4 query heads per KV head, rows of norms
 * 0.01 .. 100. Issue 28's target: the outputs agree to 1e-6 of the largest output, per query.
 * Then the host side on the device: a cache larger than the device refused before any work
 * (kv_fits, and the driver), and the record's % of copy against a copy moving the bytes read. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "../driver.h"
#include "backend.h"
#include "codebook.h"
#include "counts.h"
#include "data.h"
#include "fp16.h"
#include "gpu_backend.h"
#include "kvattn_cpu.h"
#include "kvattn_mem.h"
#include "kvcodec.h"
#include "registry.h"
#include "results.h"

static uint64_t st;
static float gauss(void)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        u[k] = ((st >> 11) + 0.5) / 9007199254740992.0;
    }
    return (float)(sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

/* Worst |o_gpu - o_cpu| / max_j |o_cpu| over the queries (b, h). */
static double worst(const rb_kvattn_args *a, const float *g, const float *c)
{
    double w = 0;
    for (long q = 0; q < (long)a->B * a->Hq; q++) {
        double e = 0, m = 0;
        for (int j = 0; j < a->d; j++) {
            const long i = q * a->d + j;
            e = isnan(g[i]) != isnan(c[i]) ? INFINITY : fmax(e, fabs((double)g[i] - c[i]));
            m = fmax(m, fabs(c[i]));
        }
        w = fmax(w, m > 0 ? e / m : e);
    }
    return w;
}

static void one_shape(rb_backend *be, int B, int Hq, int Hkv, int T, int split, int d)
{
    rb_kvattn_args a = {0};
    a.B = B; a.Hq = Hq; a.Hkv = Hkv; a.T = T; a.d = d; a.dpad = d;
    a.split = split ? split : rb_kvattn_default_split(a.B, a.Hkv, T, 132, 4);
    a.scale = 1.0f / sqrtf((float)d);
    const long rows = rb_kva_rows(&a), nq = (long)a.B * a.Hq;
    float *K = malloc(sizeof(float) * (size_t)(rows * d)), *V = malloc(sizeof(float) * (size_t)(rows * d));
    float *q = malloc(sizeof(float) * (size_t)(nq * d)), *og = malloc(sizeof(float) * (size_t)(nq * d));
    float *oc = malloc(sizeof(float) * (size_t)(nq * d));
    uint16_t *K16 = malloc(sizeof(uint16_t) * (size_t)(rows * d)), *V16 = malloc(sizeof(uint16_t) * (size_t)(rows * d));
    st = 17 + (uint64_t)T;
    for (long r = 0; r < rows; r++) {
        const float kn = (0.2f + (float)(r % 7) * 0.3f) / sqrtf((float)d), vn = powf(10.0f, -2.0f + (float)(r % 5));
        for (int j = 0; j < d; j++) {
            K[r * d + j] = kn * gauss();
            V[r * d + j] = vn * gauss() / sqrtf((float)d);
            K16[r * d + j] = rb_f32_to_f16(K[r * d + j]);
            V16[r * d + j] = rb_f32_to_f16(V[r * d + j]);
        }
    }
    for (long i = 0; i < nq * d; i++)
        q[i] = gauss();
    a.q = q;
    a.k16 = K16;
    a.v16 = V16;
    rb_timing t;
    a.o = og;
    int ok = be->kv_attention(be, &a, 1, &t) == 0;
    a.o = oc;
    rb_kva_attend(&a, 1);
    double w = ok ? worst(&a, og, oc) : INFINITY;
    CHECK(w <= 1e-6, "fp16 cache T %d split %d d %d: GPU vs CPU %.3g", T, a.split, d, w);
    fprintf(stderr, "    fp16 cache T=%d split=%d d=%d: GPU vs CPU %.2g\n", T, a.split, d, w);
    for (rb_method m = 0; m < rb_methods_count(); m++) {
        const rb_method_desc *md = rb_method_get(m);
        if (!rb_kv_method_packs(m) || (md->check_d && md->check_d(d)))
            continue;
        const long len = rb_param_count(m, d);
        float *rot = malloc(sizeof(float) * (size_t)(len > 0 ? len : 1));
        char err[256];
        CHECK(rb_params_generate(5, m, d, rot, err, sizeof err) == 0, "%s params", md->name);
        for (int bits = 2; bits <= 4; bits++) {
            rb_codebook cb;
            rb_qdq_params p;
            CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, bits, &cb) == 0, "codebook");
            rb_qdq_params_shape(&p, m, d, bits);
            p.bounds = cb.bounds_f;
            p.centroids = cb.centroids_f;
            p.rot = rot;
            const size_t cbytes = (size_t)(rows * rb_kv_row_bytes(p.dpad, bits));
            void *kc = malloc(cbytes), *vc = malloc(cbytes);
            uint16_t *kn = malloc(sizeof(uint16_t) * (size_t)rows), *vn = malloc(sizeof(uint16_t) * (size_t)rows);
            float *Pi = malloc(sizeof(float) * (size_t)p.dpad * p.dpad);
            rb_kva_rotation_matrix(&p, Pi);
            CHECK(rb_cpu_encode_rows(&p, RB_KV_NORM_FP16, K, rows, kc, kn) == 0 &&
                      rb_cpu_encode_rows(&p, RB_KV_NORM_FP16, V, rows, vc, vn) == 0, "encode");
            rb_kvattn_args c = a;
            c.dpad = p.dpad;
            c.bits = bits;
            c.norm_kind = RB_KV_NORM_FP16;
            c.kcodes = kc;
            c.vcodes = vc;
            c.knorms = kn;
            c.vnorms = vn;
            c.centroids = cb.centroids_f;
            c.pi = Pi;
            c.k16 = c.v16 = NULL;
            c.o = og;
            ok = be->kv_attention(be, &c, 0, &t) == 0;
            c.o = oc;
            rb_kva_attend(&c, 0);
            w = ok ? worst(&c, og, oc) : INFINITY;
            CHECK(w <= 1e-6, "%s b %d T %d split %d d %d: GPU vs CPU %.3g", md->name, bits, T, c.split, d, w);
            fprintf(stderr, "    %s b=%d T=%d split=%d d=%d: GPU vs CPU %.2g\n", md->name, bits, T, c.split, d, w);
            free(kc); free(vc); free(kn); free(vn); free(Pi);
        }
        free(rot);
    }
    free(K); free(V); free(q); free(og); free(oc); free(K16); free(V16);
}

TEST(kvattn_gpu_matches_cpu_split_attention)
{
    rb_backend *be = rb_test_gpu_backend();
    CHECK(be != NULL && be->kv_attention != NULL, "no GPU backend with kv_attention");
    if (!be || !be->kv_attention)
        return;
    const int was = be->profile;
    be->profile = 1; /* no timing loop: the output is what is checked */
    one_shape(be, 2, 8, 2, 1, 0, 128); /* 4 query heads a kv head: the run-time-width kernel */
    one_shape(be, 2, 8, 2, 1000, 128, 128);
    one_shape(be, 2, 8, 2, 4100, 0, 64);
    one_shape(be, 1, 4, 2, 1000, 128, 64); /* 1 and 2 a kv head: the compiled widths (kvattn_split.h) */
    one_shape(be, 1, 2, 2, 32768, 2048, 128); /* the sweep's split at B = 1, H = 32, T = 32k */
    be->profile = was;
}

/* A cache larger than the device is refused before any work: by the backend's kv_fits with the
 * bytes kvattn_mem.h's layout needs (the allocation the launch would make) and the bytes free, and
 * by the driver with exit status 2, one line and nothing written. A cache that fits passes. */
TEST(kvattn_gpu_cache_larger_than_the_device_refused)
{
    rb_backend *be = rb_test_gpu_backend();
    CHECK(be != NULL && be->kv_fits != NULL, "no GPU backend with kv_fits");
    if (!be || !be->kv_fits)
        return;
    /* 2^26 tokens x 32 heads x d 128: 1.1 TB of fp16 cache and 320 GB at 3 bits, beyond any one
     * GPU (2^24 tokens' 3-bit cache, 80 GB, fits an H100's 85 GB) */
    rb_kvattn_args a = {.B = 1, .Hq = 32, .Hkv = 32, .T = 1 << 26, .d = 128, .dpad = 128, .bits = 3,
                        .norm_kind = RB_KV_NORM_FP16};
    a.split = rb_kvattn_default_split(a.B, a.Hkv, a.T, 132, 4);
    for (int fp16 = 0; fp16 < 2; fp16++) {
        char why[1024] = "", want[128];
        rb_kva_dev_layout l;
        rb_kva_dev_layout_of(&a, fp16, &l);
        snprintf(want, sizeof want, "needs %.0f bytes of device memory", l.need);
        CHECK(be->kv_fits(be, &a, fp16, why, sizeof why) == -1 && strstr(why, want) && strstr(why, "are free") &&
                  !strchr(why, '\n'),
              "fp16 %d: want '%s': %s", fp16, want, why);
        fprintf(stderr, "    fp16 %d: %s\n", fp16, why);
    }
    a.T = 4096;
    a.split = rb_kvattn_default_split(a.B, a.Hkv, a.T, 132, 4);
    char why[1024] = "";
    CHECK(be->kv_fits(be, &a, 1, why, sizeof why) == 0 && be->kv_fits(be, &a, 0, why, sizeof why) == 0,
          "T = 4096 refused: %s", why);

    const char *dir = "/tmp/rb_gpu_kvfit", *cfg = "/tmp/rb_gpu_kvfit.json";
    FILE *f = fopen(cfg, "w");
    if (f) {
        fprintf(f, "{\"name\": \"kvfit\", \"seed\": 1, \"dims\": 128, \"bits\": 3, \"methods\": [\"identity\"], "
                   "\"kv_attention\": {\"B\": 1, \"H\": 32, \"T\": [1024, 16777216]}, \"output_dir\": \"%s\"}\n", dir);
        fclose(f);
    }
    char args[256], err[4096];
    snprintf(args, sizeof args, "%s --backend gpu", cfg);
    const int rc = run_driver(args, err, sizeof err);
    CHECK(rc == 2 && strstr(err, "rotorbench: gpu: kv_attention B=1 H=32 kv_heads=32 T=16777216 d=128") &&
              strstr(err, "bytes of device memory") && strstr(err, "are free") &&
              !strstr(strstr(err, "kv_attention") + 1, "kv_attention"), /* one line says it */
          "driver: rc %d: %s", rc, err);
    CHECK(access("/tmp/rb_gpu_kvfit/kvfit-gpu.jsonl", F_OK) != 0 && access("/tmp/rb_gpu_kvfit/kvfit-gpu.json", F_OK) != 0,
          "the refused run wrote a result");
    unlink(cfg);
    rmdir(dir);
}

/* % of copy on the attention path (read-only): the record's copy moved the bytes one attention
 * reads (half of them copied), so an fp16 cache of 537 MB, far beyond L2, streams at most about
 * the copy's rate: under 115 % (the old copy of all the cache bytes read 183 % on an H100 where
 * this reads 92 %), and above 30 %. */
TEST(kvattn_gpu_pct_of_copy_counts_what_the_copy_moves)
{
    rb_backend *be = rb_test_gpu_backend();
    CHECK(be != NULL && be->kv_attention != NULL, "no GPU backend");
    if (!be || !be->kv_attention)
        return;
    rb_kvattn_args a = {.B = 1, .Hq = 32, .Hkv = 32, .T = 32768, .d = 128, .dpad = 128};
    a.split = rb_kvattn_default_split(a.B, a.Hkv, a.T, 132, 4);
    a.scale = 1.0f / sqrtf(128.0f);
    const long rows = rb_kva_rows(&a), nq = (long)a.B * a.Hq;
    uint16_t *k16 = calloc((size_t)(rows * a.d), 2), *v16 = calloc((size_t)(rows * a.d), 2);
    float *q = calloc((size_t)(nq * a.d), sizeof(float)), *o = calloc((size_t)(nq * a.d), sizeof(float));
    CHECK(k16 && v16 && q && o, "out of host memory");
    if (!k16 || !v16 || !q || !o)
        goto out;
    st = 5;
    for (long i = 0; i < rows * a.d; i++) {
        k16[i] = rb_f32_to_f16(0.1f * gauss());
        v16[i] = rb_f32_to_f16(gauss());
    }
    for (long i = 0; i < nq * a.d; i++)
        q[i] = gauss();
    a.k16 = k16;
    a.v16 = v16;
    a.q = q;
    a.o = o;
    const int was = be->profile;
    be->profile = 0;
    rb_record r;
    memset(&r, 0, sizeof r);
    const int rc = be->kv_attention(be, &a, 1, &r.t);
    be->profile = was;
    r.bytes = rb_kvattn_cache_bytes(&a, 1);
    r.kva.on = 1;
    const double pct = rb_record_pct_of_copy(&r);
    CHECK(rc == 0 && r.t.copy_bytes == r.bytes, "rc %d: the copy moved %.0f bytes, the attention reads %.0f", rc,
          r.t.copy_bytes, r.bytes);
    CHECK(pct > 30 && pct < 115, "fp16 cache T = 32k: %.1f %% of copy (%.1f us, copy %.1f us of %.0f bytes moved)", pct,
          r.t.median_us, r.t.copy_us, r.t.copy_bytes);
    fprintf(stderr, "    fp16 cache B=1 H=32 T=32768 d=128: %.1f us, %.0f GB/s, %.1f %% of copy (copy %.1f us)\n",
            r.t.median_us, r.bytes / (r.t.median_us * 1e3), pct, r.t.copy_us);
out:
    free(k16); free(v16); free(q); free(o);
}
