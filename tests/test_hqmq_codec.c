/* HQMQ's CPU encode and decode of many rows (harness/hqmq_codec.h): the bytes written are exactly
 * the counted ones, and decode(encode(x)) is the CPU roundtrip (rb_cpu_hqmq_rows) bit for bit,
 * fp16 and fp32 rows, every paper operating point, odd d, with and without Med3x, on rows of
 * norm 0 to 1e4 with NaN and Inf rows; and a CPU sweep of HQMQ's three paths end to end. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "check.h"
#include "config.h"
#include "data.h"
#include "driver.h"
#include "fp16.h"
#include "hqmq_codec.h"
#include "hqmq_method.h"
#include "hqmq_pack.h"
#include "methods.h"

static uint64_t cx_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static float cx_unif(uint64_t *s) { return (float)((cx_next(s) >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f; }

/* N rows of d values: norms 0, 1e-3 .. 1e4 by row, every 7th channel x30 (Med3x's outliers),
 * row 3 with a NaN, row 5 with an Inf; fp16 rows hold fp16 values, as the backends load them. */
static void fill_rows(float *x, long N, int d, rb_dtype dt, uint64_t seed)
{
    for (long i = 0; i < N; i++) {
        const float scale = i % 11 == 0 ? 0.0f : powf(10.0f, (float)(i % 8) - 3.0f);
        for (int j = 0; j < d; j++) {
            float v = scale * cx_unif(&seed) * (j % 7 == 3 ? 30.0f : 1.0f);
            x[i * d + j] = dt == RB_FP16 ? rb_round_f16(v) : v;
        }
    }
    if (N > 5) {
        x[3 * d + d / 2] = NAN;
        x[5 * d] = INFINITY;
    }
}

TEST(hqmq_codec_cpu_decode_encode_equals_roundtrip)
{
    float *qs = malloc(sizeof(float) * 4 * RB_HQMQ_MAX_S);
    char err[128];
    CHECK(qs && rb_params_generate(11, method_id("hqmq"), 128, qs, err, sizeof err) == 0, "secondaries");
    static const int ops[][2] = {{192, 4}, {192, 6}, {24, 6}, {24, 3}, {96, 4}};
    static const int dims[] = {5, 37, 128, 133};
    const long N = 300; /* past the threads' threshold */
    long cases = 0, outl = 0;
    int refused = 0;
    for (size_t oi = 0; qs && oi < sizeof ops / sizeof ops[0]; oi++)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
            for (int med3 = 0; med3 <= 1; med3++)
                for (int dt = 0; dt <= 1; dt++) {
                    const int d = dims[di], S = ops[oi][0], rb = ops[oi][1];
                    const rb_dtype dtype = dt ? RB_FP16 : RB_FP32;
                    rb_qdq_params p;
                    rb_hqmq_params_shape(&p, d, S, rb, med3, 3.0, med3);
                    p.rot = qs;
                    float *x = malloc(sizeof(float) * (size_t)N * d), *ref = malloc(sizeof(float) * (size_t)N * d),
                          *out = malloc(sizeof(float) * (size_t)N * d);
                    const size_t rbytes = (size_t)N * (size_t)rb_hqmq_row_bytes(d, S, rb, med3);
                    unsigned char *rows = malloc(rbytes + 64);
                    uint16_t *sig = malloc(sizeof(uint16_t) * (size_t)(N + 8));
                    fill_rows(x, N, d, dtype, 1000 + cases);
                    if (med3) {
                        float med;
                        rb_hqmq_batch_median(x, d, N, NULL, &med);
                        p.hq_thresh = rb_hqmq_threshold(3.0f, med);
                    }
                    const long cap = rb_cpu_hqmq_count_outliers(&p, x, N);
                    uint16_t *side = malloc(8 * (size_t)cap + 64);
                    memset(rows, 0xa5, rbytes + 64);
                    memset(sig, 0xa5, sizeof(uint16_t) * (size_t)(N + 8));
                    memset(side, 0xa5, 8 * (size_t)cap + 64);
                    long nout = -1;
                    const long nref = rb_cpu_hqmq_rows(&p, x, ref, N, dtype);
                    const int e = rb_cpu_hqmq_encode_rows(&p, x, N, rows, sig, side, cap, &nout);
                    const int dd = rb_cpu_hqmq_decode_rows(&p, rows, sig, side, nout, N, dtype, out);
                    int spill = 0;
                    for (int k = 0; k < 64; k++)
                        spill += rows[rbytes + k] != 0xa5 || ((unsigned char *)side)[8 * cap + k] != 0xa5;
                    for (int k = 0; k < 8; k++)
                        spill += sig[N + k] != 0xa5a5;
                    CHECK(e == 0 && dd == 0 && nout == nref && nout == cap && spill == 0,
                          "S=%d b_r=%d d=%d med3=%d %s: rc %d/%d, outliers %ld written, %ld counted, %ld by the "
                          "roundtrip, %d bytes past the buffers",
                          S, rb, d, med3, rb_dtype_name(dtype), e, dd, nout, cap, nref, spill);
                    CHECK(memcmp(out, ref, sizeof(float) * (size_t)N * d) == 0,
                          "S=%d b_r=%d d=%d med3=%d %s: decode(encode(x)) differs from the roundtrip", S, rb, d,
                          med3, rb_dtype_name(dtype));
                    CHECK(rb_hqmq_kv_stored_bytes(&p, N, nout) ==
                              (long)rbytes + 2 * N + 8 * nout,
                          "stored bytes %ld", rb_hqmq_kv_stored_bytes(&p, N, nout));
                    if (med3 && nout > 0 && !refused++) { /* a side array one entry short is refused, not overrun */
                        CHECK(rb_cpu_hqmq_encode_rows(&p, x, N, rows, sig, side, nout - 1, &nout) == -1,
                              "a short side array was accepted");
                        CHECK(rb_cpu_hqmq_decode_rows(&p, rows, sig, side, cap - 1, N, dtype, out) == -1,
                              "a side count that disagrees with the flags was accepted");
                    }
                    outl += med3 ? cap : 0;
                    cases++;
                    free(x); free(ref); free(out); free(rows); free(sig); free(side);
                }
    CHECK(outl > 0, "the Med3x cases had no outliers");
    free(qs);
}

/* A CPU sweep of HQMQ's roundtrip, encode and decode at the operating points: every
 * path's metrics equal (decode(encode(x)) is the roundtrip), stored_bytes exact, kv_norm fp16. */
TEST(hqmq_codec_cpu_sweep_every_path)
{
    char dir[] = "/tmp/rb_hqkv_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char cfgp[128], args[400], err[4096], jp[160];
    snprintf(cfgp, sizeof cfgp, "%s/hq.json", dir);
    for (int med3 = 0; med3 <= 1; med3++) {
        FILE *f = fopen(cfgp, "w");
        CHECK(f != NULL, "cannot write %s", cfgp);
        if (!f)
            break;
        fprintf(f, "{\"name\": \"hq\", \"seed\": 5, \"N\": 301, \"dims\": 37, \"bits\": 3, \"dtypes\": [\"fp32\", \"fp16\"], "
                   "\"methods\": [\"hqmq\"], \"distribution\": {\"kind\": \"channel-outliers\", \"channels\": 3}, "
                   "\"hqmq\": {\"S\": [192, 24], \"radius_bits\": [6]%s}, "
                   "\"path\": [\"roundtrip\", \"encode\", \"decode\"]}\n",
                med3 ? ", \"outliers\": \"med3\"" : "");
        fclose(f);
        snprintf(args, sizeof args, "%s --backend cpu --out %s", cfgp, dir);
        int rc = run_driver(args, err, sizeof err);
        CHECK(rc == 0, "med3 %d: rc %d: %s", med3, rc, err);
        snprintf(jp, sizeof jp, "%s/hq-cpu.json", dir);
        static char text[1 << 18];
        read_text(jp, text, sizeof text);
        cJSON *doc = cJSON_Parse(text), *recs = cJSON_GetObjectItemCaseSensitive(doc, "records");
        CHECK(cJSON_GetArraySize(recs) == 2 * 2 * 3, "med3 %d: %d records", med3, cJSON_GetArraySize(recs));
        int seen = 0;
        for (const cJSON *r = recs ? recs->child : NULL; r; r = r->next) {
            const char *pa = cJSON_GetObjectItemCaseSensitive(r, "path")->valuestring;
            if (!strcmp(pa, "roundtrip"))
                continue;
            const cJSON *h = cJSON_GetObjectItemCaseSensitive(r, "hqmq");
            const int S = (int)cJSON_GetObjectItemCaseSensitive(h, "S")->valuedouble;
            const double p = cJSON_GetObjectItemCaseSensitive(h, "outlier_fraction")->valuedouble;
            const double fin = 301 - cJSON_GetObjectItemCaseSensitive(r, "nonfinite_rows")->valuedouble;
            const double stored = cJSON_GetObjectItemCaseSensitive(r, "stored_bytes")->valuedouble;
            const double bytes = cJSON_GetObjectItemCaseSensitive(r, "bytes")->valuedouble;
            const char *dt = cJSON_GetObjectItemCaseSensitive(r, "dtype")->valuestring;
            const cJSON *kn = cJSON_GetObjectItemCaseSensitive(r, "kv_norm");
            const long nout = lround(p * fin * 10); /* 10 chunks a row at d = 37 */
            const double want = 301.0 * (rb_hqmq_row_bytes(37, S, 6, med3) + 2) + 8.0 * nout;
            CHECK(stored == want && bytes == stored + 301.0 * 37 * (!strcmp(dt, "fp16") ? 2 : 4) &&
                      cJSON_IsString(kn) && !strcmp(kn->valuestring, "fp16") && (med3 ? nout > 0 : nout == 0),
                  "med3 %d S=%d %s %s: stored %.0f, want %.0f (%ld outliers), bytes %.0f", med3, S, dt, pa, stored,
                  want, nout, bytes);
            /* the roundtrip of the same setting: the record two before (encode) or one before that */
            const cJSON *rt = r->prev;
            while (rt && strcmp(cJSON_GetObjectItemCaseSensitive(rt, "path")->valuestring, "roundtrip"))
                rt = rt->prev;
            const double m0 = rt ? cJSON_GetObjectItemCaseSensitive(rt, "mse")->valuedouble : -1;
            const double m1 = cJSON_GetObjectItemCaseSensitive(r, "mse")->valuedouble;
            CHECK(m0 == m1 && m1 > 0, "med3 %d S=%d %s %s: MSE %.17g, the roundtrip's %.17g", med3, S, dt, pa, m1, m0);
            seen++;
        }
        CHECK(seen == 8, "med3 %d: %d encode/decode records", med3, seen);
        cJSON_Delete(doc);
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

TEST(hqmq_codec_shipped_config)
{
    rb_config cfg;
    char err[512] = "";
    CHECK(rb_config_load("configs/hqmq_kv.json", &cfg, err, sizeof err) == 0, "%s", err);
    CHECK(cfg.npaths == 3 && cfg.paths[1] == RB_PATH_ENCODE && cfg.paths[2] == RB_PATH_DECODE && cfg.N[0] == 1L << 20 &&
              cfg.ndims == 1 && cfg.dims[0] == 128 && cfg.ndtypes == 2 && cfg.nmethods == 1 &&
              cfg.methods[0] == method_id("hqmq"),
          "hqmq_kv.json: %d paths, N %ld", cfg.npaths, cfg.N[0]);
    int want = 0; /* the operating points are among the config's */
    for (int i = 0; i < cfg.hqmq.nops; i++) {
        const rb_hqmq_op *o = &cfg.hqmq.ops[i];
        want += (o->S == 192 && (o->rbits == 4 || o->rbits == 6)) || (o->S == 24 && o->rbits == 6);
    }
    CHECK(want == 3 && !cfg.hqmq.outliers, "hqmq_kv.json: %d of s192_r4, s192_r6, s24_r6", want);
}
