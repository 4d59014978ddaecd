/* Decode attention over a KV cache, the CPU side (harness/kvattn_cpu.c, kvattn_sweep.c,
 * kvattn_config.c): the split attention against a direct computation in double on small caches
 * (T = 1, T not a multiple of the split), the rotated-domain identity for every method of the
 * registry that packs codes (scores and outputs through x^ = decode and through the rotated
 * domain agree to rounding), the GQA mapping, exact values where the math gives them, the
 * config's keys, and the driver: K, V, q from .npy files and a safetensors tensor with
 * split_axis, and bad inputs (d mismatch, unpaired K and V, a cache too large) refused with one
 * line, exit 2 and nothing written. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "codebook.h"
#include "config.h"
#include "counts.h"
#include "data.h"
#include "driver.h"
#include "fp16.h"
#include "kvattn_cpu.h"
#include "kvcodec.h"
#include "npy_f32.h"
#include "registry.h"
#include "scratch.h"

/* ---- a small cache ------------------------------------------------------------------------- */

static uint64_t lcg;
static double unif(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return ((lcg >> 11) + 0.5) / 9007199254740992.0;
}
static float gauss(void) { return (float)(sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif())); }

typedef struct {
    rb_kvattn_args a;
    rb_qdq_params p;
    rb_codebook cb;
    float *K, *V, *q, *o, *Pi, *rot, *Kh, *Vh;
    uint16_t *K16, *V16;
    void *kc, *vc, *kn, *vn;
} fx;

/* K rows of norm 0.1..3 (scores stay moderate), V rows of norm 0.01..100: any norm. */
static void fx_inputs(fx *f, int B, int Hq, int Hkv, int T, int d, int split, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    lcg = seed;
    rb_kvattn_args *a = &f->a;
    a->B = B; a->Hq = Hq; a->Hkv = Hkv; a->T = T; a->d = d; a->dpad = d; a->split = split;
    a->scale = 1.0f / sqrtf((float)d);
    const long rows = rb_kva_rows(a);
    f->K = malloc(sizeof(float) * (size_t)(rows * d));
    f->V = malloc(sizeof(float) * (size_t)(rows * d));
    f->q = malloc(sizeof(float) * (size_t)B * Hq * d);
    f->o = malloc(sizeof(float) * (size_t)B * Hq * d);
    f->K16 = malloc(sizeof(uint16_t) * (size_t)(rows * d));
    f->V16 = malloc(sizeof(uint16_t) * (size_t)(rows * d));
    for (long r = 0; r < rows; r++) {
        const float kn = (float)(0.1 + 2.9 * unif()) / sqrtf((float)d), vn = (float)pow(10.0, -2 + 4 * unif());
        for (int j = 0; j < d; j++) {
            f->K[r * d + j] = kn * gauss();
            f->V[r * d + j] = vn * gauss() / sqrtf((float)d);
        }
    }
    for (long i = 0; i < (long)B * Hq * d; i++)
        f->q[i] = gauss();
    for (long i = 0; i < rows * d; i++) {
        f->K16[i] = rb_f32_to_f16(f->K[i]);
        f->V16[i] = rb_f32_to_f16(f->V[i]);
    }
    a->q = f->q;
    a->o = f->o;
    a->k16 = f->K16;
    a->v16 = f->V16;
}

/* The compressed cache of method m at bits, and its decoded rows Kh, Vh (fp32). 0 on success. */
static int fx_codes(fx *f, rb_method m, int bits, int norm_kind)
{
    rb_kvattn_args *a = &f->a;
    const int d = a->d;
    char err[256];
    if (rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, bits, &f->cb))
        return -1;
    rb_qdq_params_shape(&f->p, m, d, bits);
    f->p.bounds = f->cb.bounds_f;
    f->p.centroids = f->cb.centroids_f;
    const long len = rb_param_count(m, d), rows = rb_kva_rows(a);
    f->rot = malloc(sizeof(float) * (size_t)(len > 0 ? len : 1));
    if (rb_params_generate(11, m, d, f->rot, err, sizeof err))
        return -1;
    f->p.rot = f->rot;
    const int dp = f->p.dpad;
    f->Pi = malloc(sizeof(float) * (size_t)dp * dp);
    rb_kva_rotation_matrix(&f->p, f->Pi);
    const size_t cb = (size_t)(rows * rb_kv_row_bytes(dp, bits));
    f->kc = malloc(cb);
    f->vc = malloc(cb);
    f->kn = malloc(sizeof(float) * (size_t)rows);
    f->vn = malloc(sizeof(float) * (size_t)rows);
    f->Kh = malloc(sizeof(float) * (size_t)(rows * d));
    f->Vh = malloc(sizeof(float) * (size_t)(rows * d));
    if (rb_cpu_encode_rows(&f->p, norm_kind, f->K, rows, f->kc, f->kn) ||
        rb_cpu_encode_rows(&f->p, norm_kind, f->V, rows, f->vc, f->vn) ||
        rb_cpu_decode_rows(&f->p, norm_kind, f->kc, f->kn, rows, RB_FP32, f->Kh) ||
        rb_cpu_decode_rows(&f->p, norm_kind, f->vc, f->vn, rows, RB_FP32, f->Vh))
        return -1;
    a->dpad = dp;
    a->bits = bits;
    a->norm_kind = norm_kind;
    a->kcodes = f->kc;
    a->vcodes = f->vc;
    a->knorms = f->kn;
    a->vnorms = f->vn;
    a->centroids = f->cb.centroids_f;
    a->pi = f->Pi;
    return 0;
}

static void fx_free(fx *f)
{
    free(f->K); free(f->V); free(f->q); free(f->o); free(f->Pi); free(f->rot); free(f->Kh); free(f->Vh);
    free(f->K16); free(f->V16); free(f->kc); free(f->vc); free(f->kn); free(f->vn);
}

/* Direct attention in double over rows K, V (floats) with its own GQA mapping: o and scaled scores. */
static void direct(const rb_kvattn_args *a, const float *K, const float *V, double *o, double *sc)
{
    const int d = a->d, grp = a->Hq / a->Hkv;
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < a->Hq; h++) {
            const long w = (long)b * a->Hq + h, base = ((long)b * a->Hkv + h / grp) * a->T;
            double m = -INFINITY, z = 0;
            for (int i = 0; i < a->T; i++) {
                double s = 0;
                for (int j = 0; j < d; j++)
                    s += (double)a->q[w * d + j] * K[(base + i) * d + j];
                sc[w * a->T + i] = s / sqrt((double)d);
                m = fmax(m, sc[w * a->T + i]);
            }
            for (int i = 0; i < a->T; i++)
                z += exp(sc[w * a->T + i] - m);
            for (int j = 0; j < d; j++) {
                double acc = 0;
                for (int i = 0; i < a->T; i++)
                    acc += exp(sc[w * a->T + i] - m) / z * V[(base + i) * d + j];
                o[w * d + j] = acc;
            }
        }
}

static double max_abs(const float *x, long n)
{
    double m = 0;
    for (long i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

/* Largest |o - ref| over the outputs, in units of the largest value summed (fp32 rounding of a
 * convex combination is relative to its summands, not to a result that may cancel). */
static double out_err(const rb_kvattn_args *a, const double *ref, const float *V, long vrows)
{
    double e = 0;
    for (long i = 0; i < (long)a->B * a->Hq * a->d; i++)
        e = fmax(e, fabs(a->o[i] - ref[i]));
    return e / max_abs(V, vrows * a->d);
}

/* ---- the fp16 cache and the reference -------------------------------------------------------- */

TEST(kvattn_fp16_cache_matches_direct)
{
    const int Ts[] = {1, 7, 37, 64}, splits[] = {8, 16, 64};
    for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++)
        for (size_t si = 0; si < sizeof splits / sizeof splits[0]; si++) {
            fx f;
            fx_inputs(&f, 2, 4, 2, Ts[ti], 24, splits[si], 100 + ti);
            const long rows = rb_kva_rows(&f.a), nq = 2L * 4 * 24;
            float *K16f = malloc(sizeof(float) * (size_t)(rows * 24)), *V16f = malloc(sizeof(float) * (size_t)(rows * 24));
            for (long i = 0; i < rows * 24; i++) {
                K16f[i] = rb_f16_to_f32(f.K16[i]);
                V16f[i] = rb_f16_to_f32(f.V16[i]);
            }
            double *o = malloc(sizeof(double) * (size_t)nq), *sc = malloc(sizeof(double) * (size_t)(8 * Ts[ti]));
            double *s2 = malloc(sizeof(double) * (size_t)(8 * Ts[ti]));
            direct(&f.a, K16f, V16f, o, sc);
            rb_kva_attend(&f.a, 1);
            const double e = out_err(&f.a, o, V16f, rows);
            CHECK(e < 2e-6, "T %d split %d: fp16 cache max err %.3g of the largest value", Ts[ti], splits[si], e);
            rb_kva_scores(&f.a, 1, s2);
            double se = 0;
            for (long i = 0; i < 8L * Ts[ti]; i++)
                se = fmax(se, fabs(s2[i] - sc[i]) / (1 + fabs(sc[i])));
            CHECK(se < 1e-5, "T %d: fp16 scores differ by %.3g", Ts[ti], se);
            /* the fp32 reference is the direct computation over the unrounded rows */
            double *ro = malloc(sizeof(double) * (size_t)nq), *rs = malloc(sizeof(double) * (size_t)(8 * Ts[ti]));
            rb_kva_reference(&f.a, f.K, f.V, ro, rs);
            direct(&f.a, f.K, f.V, o, sc);
            double re = 0;
            for (long i = 0; i < nq; i++)
                re = fmax(re, fabs(ro[i] - o[i]));
            CHECK(re <= 1e-12 * max_abs(f.V, rows * 24), "T %d: reference differs from direct by %.3g", Ts[ti], re);
            free(K16f); free(V16f); free(o); free(sc); free(s2); free(ro); free(rs);
            fx_free(&f);
        }
}

/* T = 1: p = 1, so the output is the token's value row exactly, on every path. */
TEST(kvattn_single_token_is_the_value_row)
{
    fx f;
    fx_inputs(&f, 1, 2, 1, 1, 16, 64, 5);
    rb_kva_attend(&f.a, 1);
    int same = 1;
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 16; j++)
            same &= f.o[h * 16 + j] == rb_f16_to_f32(f.V16[j]);
    CHECK(same, "fp16 cache, T = 1: output is not the value row");
    CHECK(fx_codes(&f, rb_method_find("identity"), 4, RB_KV_NORM_FP32) == 0, "identity codes");
    rb_kva_attend(&f.a, 0);
    same = 1;
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 16; j++)
            same &= f.o[h * 16 + j] == f.Vh[j];
    CHECK(same, "identity codes, T = 1: output %.9g is not the decoded value row %.9g", f.o[0], f.Vh[0]);
    double *o = malloc(sizeof(double) * 32), *s = malloc(sizeof(double) * 2);
    rb_kva_reference(&f.a, f.K, f.V, o, s);
    same = 1;
    for (int j = 0; j < 16; j++)
        same &= o[j] == f.V[j] && o[16 + j] == f.V[j];
    CHECK(same, "reference, T = 1: output is not the value row");
    free(o); free(s);
    fx_free(&f);
}

/* ---- the rotated domain, every method ------------------------------------------------------- */

TEST(kvattn_rotated_domain_identity_every_method)
{
    int tested = 0;
    for (rb_method m = 0; m < rb_methods_count(); m++) {
        if (!rb_kv_method_packs(m))
            continue;
        const rb_method_desc *md = rb_method_get(m);
        const int dims[] = {64, 30};
        for (int di = 0; di < 2; di++) {
            const int d = dims[di];
            if (md->check_d && md->check_d(d))
                continue;
            for (int bits = 2; bits <= 4; bits += 2) {
                fx f;
                fx_inputs(&f, 2, 4, 2, 45, d, 16, 1000 + (uint64_t)m * 7 + (uint64_t)d);
                if (fx_codes(&f, m, bits, bits == 2 ? RB_KV_NORM_FP16 : RB_KV_NORM_FP32)) {
                    CHECK(0, "%s d %d: encode/decode failed", md->name, d);
                    fx_free(&f);
                    continue;
                }
                const long rows = rb_kva_rows(&f.a), nw = 8;
                double *o = malloc(sizeof(double) * (size_t)(nw * d)), *sc = malloc(sizeof(double) * (size_t)(nw * 45));
                double *s2 = malloc(sizeof(double) * (size_t)(nw * 45));
                direct(&f.a, f.Kh, f.Vh, o, sc); /* through x^ = decode */
                rb_kva_attend(&f.a, 0);          /* through the rotated domain */
                rb_kva_scores(&f.a, 0, s2);
                double se = 0;
                for (long i = 0; i < nw * 45; i++)
                    se = fmax(se, fabs(s2[i] - sc[i]) / (1 + fabs(sc[i])));
                const double e = out_err(&f.a, o, f.Vh, rows);
                CHECK(se < 1e-5, "%s d %d b %d: rotated-domain scores differ from <q, x^> by %.3g", md->name, d, bits, se);
                CHECK(e < 1e-5, "%s d %d b %d: rotated-domain outputs differ from decoded by %.3g", md->name, d, bits, e);
                tested++;
                free(o); free(sc); free(s2);
                fx_free(&f);
            }
        }
    }
    CHECK(tested >= 12, "only %d (method, d, bits) tested", tested);
}

/* Query heads of one group read one kv head: equal queries give equal outputs in the group only. */
TEST(kvattn_gqa_mapping)
{
    fx f;
    fx_inputs(&f, 2, 6, 2, 33, 16, 8, 77);
    for (int b = 0; b < 2; b++)
        for (int h = 0; h < 6; h++)
            memcpy(f.q + ((long)b * 6 + h) * 16, f.q, sizeof(float) * 16); /* one query everywhere */
    CHECK(fx_codes(&f, rb_method_find("rotorquant") >= 0 ? rb_method_find("rotorquant") : 0, 3, RB_KV_NORM_FP16) == 0,
          "codes");
    for (int fp16 = 0; fp16 < 2; fp16++) {
        rb_kva_attend(&f.a, fp16);
        int in_group = 1, across = 0;
        for (int b = 0; b < 2; b++)
            for (int h = 0; h < 6; h++) {
                const float *o = f.o + ((long)b * 6 + h) * 16, *first = f.o + ((long)b * 6 + (h / 3) * 3) * 16;
                in_group &= !memcmp(o, first, sizeof(float) * 16);
                across |= h == 3 && memcmp(o, f.o + (long)b * 6 * 16, sizeof(float) * 16) != 0;
            }
        CHECK(in_group, "fp16 %d: heads of one group (3 per kv head) disagree", fp16);
        CHECK(across, "fp16 %d: heads of different kv heads agree: the mapping ignores the group", fp16);
    }
    fx_free(&f);
}

TEST(kvattn_metrics_exact_cases)
{
    fx f;
    fx_inputs(&f, 1, 2, 2, 20, 8, 8, 3);
    double *ro = malloc(sizeof(double) * 16), *rs = malloc(sizeof(double) * 40);
    rb_kva_reference(&f.a, f.K, f.V, ro, rs);
    for (int i = 0; i < 16; i++)
        f.o[i] = (float)ro[i];
    rb_kva_metrics m;
    rb_kva_compare(&f.a, rs, ro, rs, &m);
    CHECK(m.kl == 0 && m.top1 == 1 && m.top5 == 1, "same scores: kl %g top1 %g top5 %g", m.kl, m.top1, m.top5);
    CHECK(fabs(m.out_cos - 1) < 1e-12 && m.max_rel_err < 1e-7, "cos %.17g max rel %.3g", m.out_cos, m.max_rel_err);
    for (int i = 0; i < 16; i++)
        f.o[i] = (float)(-ro[i]);
    rb_kva_compare(&f.a, rs, ro, rs, &m);
    CHECK(fabs(m.out_cos + 1) < 1e-12 && fabs(m.max_rel_err - 2) < 1e-6, "negated: cos %.17g max rel %.3g", m.out_cos,
          m.max_rel_err);
    free(ro); free(rs);
    fx_free(&f);
}

/* ---- the config --------------------------------------------------------------------------- */

static int parse(const char *text, rb_config *cfg, char *err, size_t n)
{
    return rb_config_parse("t.json", text, strlen(text), cfg, err, n);
}

TEST(kvattn_config_keys)
{
    static rb_config cfg;
    char err[512];
    int rc = parse("{\"name\":\"a\",\"seed\":1,\"dims\":128,\"bits\":3,\"methods\":[\"identity\"],"
                   "\"kv_attention\":{\"B\":[1,16],\"H\":32,\"kv_heads\":8,\"T\":[1024,131072],\"split\":\"auto\"}}",
                   &cfg, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    CHECK(cfg.kva.on && cfg.kva.nB == 2 && cfg.kva.B[1] == 16 && cfg.kva.H[0] == 32 && cfg.kva.kv_heads[0] == 8 &&
              cfg.kva.nT == 2 && cfg.kva.T[1] == 131072 && cfg.kva.split == 0 && cfg.kva.input == RB_KVA_SYNTHETIC,
          "parsed fields");
    static const struct {
        const char *kva, *want;
    } bad[] = {
        {"{\"H\":32,\"kv_heads\":5,\"T\":8}", "kv_attention.kv_heads': expected a divisor of every H"},
        {"{\"H\":32}", "kv_attention.T': expected"},
        {"{\"T\":8}", "kv_attention.H': expected"},
        {"{\"H\":4,\"T\":0}", "kv_attention.T': expected an integer in 1..16777216"},
        {"{\"H\":4,\"T\":8,\"split\":\"big\"}", "kv_attention.split': expected \"auto\""},
        {"{\"H\":4,\"T\":8,\"Tokens\":8}", "unknown key 'kv_attention.Tokens'"},
        {"{\"H\":4,\"inputs\":{\"k\":{\"path\":\"k.npy\"},\"v\":{\"path\":\"v.npy\"}}}", "kv_attention.inputs.q'"},
        {"{\"H\":4,\"inputs\":{\"k\":{\"path\":\"k.npy\",\"rows\":{\"sample\":4}},\"v\":{\"path\":\"v\"},\"q\":{\"path\":\"q\"}}}",
         "paired by position"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "{\"name\":\"a\",\"seed\":1,\"dims\":64,\"bits\":3,\"methods\":[\"identity\"],"
                                    "\"kv_attention\":%s}", bad[i].kva);
        rc = parse(text, &cfg, err, sizeof err);
        CHECK(rc == -1 && strstr(err, bad[i].want) && !strchr(err, '\n'), "%s: got '%s', want '%s'", bad[i].kva, err,
              bad[i].want);
    }
}

/* ---- the driver with files ----------------------------------------------------------------- */

static char dir[64];

static const char *path_in(const char *name) { return scratch_path(dir, sizeof dir, "/tmp/rb_kva_XXXXXX", name); }

/* A float32 .npy of the given shape (text "(a, b, c)") filled from the LCG. */
static void write_npy(const char *name, const char *shape, long n)
{
    FILE *f = npy_f32_create(path_in(name), shape);
    if (!f)
        return;
    for (long i = 0; i < n; i++) {
        float x = gauss() * 0.3f;
        fwrite(&x, 4, 1, f);
    }
    fclose(f);
}

/* A safetensors file with F32 tensors "k" and "v" [2, 8, 2, 64] and "q" [2, 4, 64]. */
static void write_safetensors(const char *name)
{
    const long nk = 2 * 8 * 2 * 64, nq = 2 * 4 * 64;
    char hdr[512];
    snprintf(hdr, sizeof hdr,
             "{\"k\": {\"dtype\": \"F32\", \"shape\": [2, 8, 2, 64], \"data_offsets\": [0, %ld]}, "
             "\"v\": {\"dtype\": \"F32\", \"shape\": [2, 8, 2, 64], \"data_offsets\": [%ld, %ld]}, "
             "\"q\": {\"dtype\": \"F32\", \"shape\": [2, 4, 64], \"data_offsets\": [%ld, %ld]}}",
             4 * nk, 4 * nk, 8 * nk, 8 * nk, 8 * nk + 4 * nq);
    FILE *f = fopen(path_in(name), "wb");
    if (!f)
        return;
    uint64_t n = strlen(hdr);
    fwrite(&n, 8, 1, f);
    fwrite(hdr, 1, n, f);
    for (long i = 0; i < 2 * nk + nq; i++) {
        float x = gauss() * 0.3f;
        fwrite(&x, 4, 1, f);
    }
    fclose(f);
}

static int write_config(const char *name, const char *kva, const char *extra)
{
    FILE *f = fopen(path_in(name), "w");
    if (!f)
        return -1;
    fprintf(f, "{\"name\": \"kvt\", \"seed\": 3, %s \"bits\": [2, 4], \"dtypes\": [\"fp16\"], "
               "\"methods\": [\"identity\", \"rotorquant\"], \"kv_attention\": %s}\n", extra, kva);
    fclose(f);
    return 0;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

TEST(kvattn_driver_npy_and_safetensors)
{
    lcg = 99;
    write_npy("k.npy", "(48, 64)", 48 * 64);
    write_npy("v.npy", "(48, 64)", 48 * 64);
    write_npy("q.npy", "(4, 64)", 4 * 64);
    write_npy("q32.npy", "(4, 32)", 4 * 32);
    write_npy("v40.npy", "(40, 64)", 40 * 64);
    write_safetensors("m.safetensors");
    char kva[1024], args[512], err[4096], out[300];
    snprintf(kva, sizeof kva, "{\"H\": 4, \"kv_heads\": 2, \"split\": 16, \"inputs\": {\"k\": {\"path\": \"%s\"}, "
             "\"v\": {\"path\": \"%s\"}, \"q\": {\"path\": \"%s\"}}}", path_in("k.npy"), path_in("v.npy"), path_in("q.npy"));
    write_config("npy.json", kva, "");
    snprintf(out, sizeof out, "%s", path_in("out"));
    snprintf(args, sizeof args, "%s --backend cpu --out %s", path_in("npy.json"), out);
    int rc = run_driver(args, err, sizeof err);
    char json[400];
    snprintf(json, sizeof json, "%s/kvt-cpu.json", out);
    CHECK(rc == 0 && exists(json), "npy files: rc %d: %s", rc, err);
    CHECK(strstr(err, "T=24 split=16") != NULL, "T from the rows (48 / (B 1 x kv_heads 2) = 24): %s", err);
    unlink(json);

    /* safetensors [layer, token, head, d] with split_axis 0, rows in [T][head] order */
    const char *st = path_in("m.safetensors");
    snprintf(kva, sizeof kva, "{\"H\": 4, \"kv_heads\": 2, \"split\": 4, \"inputs\": {\"order\": \"bth\", "
             "\"k\": {\"path\": \"%s\", \"tensor\": \"k\", \"split_axis\": 0}, \"v\": {\"path\": \"%s\", \"tensor\": \"v\", "
             "\"split_axis\": 0}, \"q\": {\"path\": \"%s\", \"tensor\": \"q\", \"split_axis\": 0}}}", st, st, st);
    write_config("st.json", kva, "");
    snprintf(args, sizeof args, "%s --backend cpu --out %s", path_in("st.json"), out);
    rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0 && exists(json), "safetensors: rc %d: %s", rc, err);
    int fp16_lines = 0;
    for (const char *s = err; (s = strstr(s, "fp16-cache d=64 B=1 H=4 kv=2 T=8 split=4")); s++)
        fp16_lines++;
    CHECK(fp16_lines == 2, "one fp16-cache record per layer slice, got %d: %s", fp16_lines, err);
    unlink(json);

    /* refused before any work: one line, exit 2, nothing written */
    const struct {
        const char *k, *v, *q, *want;
    } bad[] = {
        {"k.npy", "v.npy", "q32.npy", "d (the last dimension) differs"},
        {"k.npy", "v40.npy", "q.npy", "K row i is paired with V row i"},
    };
    for (int i = 0; i < 2; i++) {
        snprintf(kva, sizeof kva, "{\"H\": 4, \"kv_heads\": 2, \"inputs\": {\"k\": {\"path\": \"%s\"}, "
                 "\"v\": {\"path\": \"%s\"}, \"q\": {\"path\": \"%s\"}}}", path_in(bad[i].k), path_in(bad[i].v),
                 path_in(bad[i].q));
        write_config("bad.json", kva, "");
        snprintf(args, sizeof args, "%s --backend cpu --out %s", path_in("bad.json"), out);
        rc = run_driver(args, err, sizeof err);
        CHECK(rc == 2 && strstr(err, bad[i].want) && count_lines(err) == 1 && !exists(json), "%s: rc %d: %s",
              bad[i].want, rc, err);
    }
    /* a cache that does not fit: the bytes needed, before any work */
    write_config("big.json", "{\"B\": 4096, \"H\": 1024, \"T\": 16777216}", "\"dims\": 128,");
    snprintf(args, sizeof args, "%s --backend cpu --out %s", path_in("big.json"), out);
    rc = run_driver(args, err, sizeof err);
    CHECK(rc == 2 && strstr(err, "bytes of host memory") && count_lines(err) == 1 && !exists(json), "too large: rc %d: %s",
          rc, err);
}

/* The roundtrip's attention metrics with a K file and its own V file (distribution.values): the
 * paired run's output cosine differs from the keys-as-values run's; a values file of another
 * shape is refused with one line, exit 2, before any work. */
static double out_cos_of(const char *json)
{
    static char buf[1 << 16];
    read_text(json, buf, sizeof buf);
    const char *p = strstr(buf, "\"out_cos\":");
    return p ? atof(p + 10) : NAN;
}

TEST(attention_metrics_values_file)
{
    lcg = 1234;
    write_npy("ak.npy", "(64, 32)", 64 * 32);
    write_npy("av.npy", "(64, 32)", 64 * 32);
    write_npy("av2.npy", "(32, 64)", 32 * 64);
    char cfg[2048], args[512], err[4096], out[300], json[400];
    snprintf(out, sizeof out, "%s", path_in("aout"));
    snprintf(json, sizeof json, "%s/av-cpu.json", out);
    const char *vals[3] = {"", "av.npy", "av2.npy"};
    double cos[2] = {NAN, NAN};
    for (int i = 0; i < 3; i++) {
        char extra[400] = "";
        if (vals[i][0])
            snprintf(extra, sizeof extra, ", \"values\": \"%s\"", path_in(vals[i]));
        snprintf(cfg, sizeof cfg, "{\"name\": \"av\", \"seed\": 1, \"bits\": 2, \"dtypes\": [\"fp32\"], \"methods\": "
                 "[\"identity\"], \"queries\": {\"kind\": \"gaussian\", \"count\": 4}, \"attention\": {\"T\": 32}, "
                 "\"distribution\": {\"kind\": \"file\", \"path\": \"%s\"%s}}", path_in("ak.npy"), extra);
        FILE *f = fopen(path_in("av.json"), "w");
        if (f) {
            fputs(cfg, f);
            fclose(f);
        }
        snprintf(args, sizeof args, "%s --backend cpu --out %s", path_in("av.json"), out);
        unlink(json);
        const int rc = run_driver(args, err, sizeof err);
        if (i < 2) {
            cos[i] = out_cos_of(json);
            CHECK(rc == 0 && isfinite(cos[i]), "values %s: rc %d: %s", vals[i], rc, err);
        } else {
            CHECK(rc == 2 && strstr(err, "the values' shape differs") && count_lines(err) == 1 && !exists(json),
                  "values of another shape: rc %d: %s", rc, err);
        }
    }
    CHECK(cos[0] != cos[1], "paired values change the output cosine: %.9g vs %.9g", cos[0], cos[1]);
}

/* The example docs/config-format.md shows runs, and docs hold it verbatim. */
TEST(kvattn_small_example_runs)
{
    char args[512], err[8192], json[400];
    const char *out = path_in("small");
    snprintf(args, sizeof args, "configs/kv_attention_small.json --backend cpu --out %s", out);
    snprintf(json, sizeof json, "%s/kv_attention_small-cpu.json", out);
    const int rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0 && exists(json), "rc %d: %s", rc, err);
    int records = 0;
    for (const char *s = err; (s = strstr(s, "[attention] ")); s++)
        records++;
    CHECK(records == 2 * (1 + 2 * 2), "records: %d (2 shapes x (fp16 cache + 2 methods x 2 bits))", records);
    static char a[4096], b[1 << 17];
    const size_t na = read_text("configs/kv_attention_small.json", a, sizeof a);
    read_text("docs/config-format.md", b, sizeof b);
    CHECK(na > 0 && strstr(b, a) != NULL, "docs/config-format.md does not show configs/kv_attention_small.json verbatim");
}

/* An attention-only run's Markdown: the attention table, and neither an empty roundtrip table
 * nor the paper's Table 2 note (there is no roundtrip record to put in them). */
TEST(kvattn_attention_only_markdown_has_no_empty_tables)
{
    char cmd[1024];
    const char *md = path_in("small2.md");
    snprintf(cmd, sizeof cmd, "build/rotorbench run configs/kv_attention_small.json --backend cpu --out %s > %s 2> /dev/null",
             path_in("small2"), md);
    CHECK(system(cmd) == 0, "%s", cmd);
    static char text[1 << 16];
    read_text(md, text, sizeof text);
    CHECK(strstr(text, "### Decode attention") && !strstr(text, "### All methods") && !strstr(text, "Table 2"),
          "stdout:\n%s", text);
}

/* "path": roundtrip and attention in one run: both kinds of records in one result file, the
 * attention ones after the roundtrip's, each with its path. */
TEST(kvattn_path_axis_with_roundtrip)
{
    char args[512], err[8192], json[400];
    FILE *f = fopen(path_in("mixed.json"), "w");
    if (f) {
        fputs("{\"name\": \"mixed\", \"seed\": 2, \"N\": 64, \"dims\": 32, \"bits\": 3, \"dtypes\": \"fp32\", "
              "\"methods\": [\"identity\"], \"path\": [\"roundtrip\", \"attention\"], "
              "\"kv_attention\": {\"H\": 2, \"T\": 20, \"split\": 8}}\n", f);
        fclose(f);
    }
    const char *out = path_in("mixed");
    snprintf(args, sizeof args, "%s --backend cpu --out %s", path_in("mixed.json"), out);
    snprintf(json, sizeof json, "%s/mixed-cpu.json", out);
    const int rc = run_driver(args, err, sizeof err);
    static char text[1 << 17];
    read_text(json, text, sizeof text);
    const char *rt = strstr(text, "\"path\":\t\"roundtrip\""), *at = strstr(text, "\"path\":\t\"attention\"");
    CHECK(rc == 0 && rt && at && rt < at, "rc %d, roundtrip record %d, attention record %d: %s", rc, rt != NULL, at != NULL,
          err);
    CHECK(strstr(text, "\"method\":\t\"fp16-cache\"") != NULL, "the fp16 cache's record");
}
