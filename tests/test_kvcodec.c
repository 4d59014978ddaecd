/* The packed KV-cache format and its CPU encode/decode (kvpack.h, kvcodec.h): the bit packing at
 * every width, the bytes the encoder writes against the counts, and decode(encode(x)) against the
 * fused roundtrip, bit for bit, for every rotation method on rows of any norm and odd d. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "check.h"
#include "codebook.h"
#include "counts.h"
#include "data.h"
#include "fp16.h"
#include "kvcodec.h"
#include "methods.h"
#include "reference.h"

typedef struct {
    rb_qdq_params p;
    const rb_codebook *cb;
} kv_setup;

/* Solved codebooks by (d, bits): solving one is most of these tests' time otherwise. */
static const rb_codebook *codebook_of(int d, int bits)
{
    static rb_codebook cache[64];
    static int n;
    for (int i = 0; i < n; i++)
        if (cache[i].d == d && cache[i].bits == bits)
            return &cache[i];
    if (n == 64 || rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, bits, &cache[n]))
        return NULL;
    return &cache[n++];
}

/* Rotation parameters by (method, d, seed), kept for the whole run (reachable, not leaked):
 * cuRAND's host generator costs ~12 ms a call. */
static const float *params_of(rb_method m, int d, uint64_t seed)
{
    static struct { rb_method m; int d; uint64_t seed; float *rot; } cache[256];
    static int n;
    for (int i = 0; i < n; i++)
        if (cache[i].m == m && cache[i].d == d && cache[i].seed == seed)
            return cache[i].rot;
    float *rot = malloc(sizeof(float) * (size_t)(rb_param_count(m, d) + 1));
    char err[128];
    if (n == 256 || !rot || rb_params_generate(seed, m, d, rot, err, sizeof err)) {
        free(rot);
        return NULL;
    }
    cache[n].m = m;
    cache[n].d = d;
    cache[n].seed = seed;
    cache[n].rot = rot;
    return cache[n++].rot;
}

static int kv_setup_make(kv_setup *s, rb_method m, int d, int bits, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    if (!(s->cb = codebook_of(d, bits)) || !(s->p.rot = params_of(m, d, seed)))
        return -1;
    rb_qdq_params_shape(&s->p, m, d, bits);
    s->p.rot = params_of(m, d, seed);
    s->p.bounds = s->cb->bounds_f;
    s->p.centroids = s->cb->centroids_f;
    return 0;
}

static int method_takes(rb_method m, int d)
{
    const rb_method_desc *md = rb_method_get(m);
    return !md->check_d || !md->check_d(d);
}

/* A deterministic xorshift, so the packing tests need no seed plumbing. */
static uint32_t next_u32(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 11);
}

TEST(kvpack_roundtrips_every_width_and_odd_lengths)
{
    const int lens[] = {1, 3, 7, 31, 33, 64, 127, 129, 131, 256};
    uint64_t st = 0x9e3779b97f4a7c15ull;
    for (int bits = 1; bits <= 8; bits++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int n = lens[li];
            const long bytes = rb_kv_row_bytes(n, bits);
            CHECK(bytes == 4 * ((n * bits + 31) / 32) && bytes % 4 == 0 && bytes * 8 >= (long)n * bits &&
                      bytes * 8 - (long)n * bits < 32,
                  "b=%d n=%d: %ld bytes", bits, n, bytes);
            uint32_t *w = calloc((size_t)bytes / 4 + 1, 4);
            unsigned *c = malloc(sizeof(unsigned) * (size_t)n);
            w[bytes / 4] = 0xdeadbeefu; /* the word after the row: must stay */
            for (int j = 0; j < n; j++) {
                c[j] = next_u32(&st) & ((1u << bits) - 1u);
                if (j == 0 || j == n - 1)
                    c[j] = (1u << bits) - 1u; /* all-ones at both ends: straddles show */
                rb_kv_put(w, j, bits, c[j]);
            }
            int bad = 0;
            for (int j = 0; j < n; j++)
                bad += rb_kv_get(w, j, bits) != c[j];
            CHECK(bad == 0, "b=%d n=%d: %d codes read back wrong", bits, n, bad);
            /* the stream's bit s is bit s % 32 of word s / 32: code 0 sits in the low bits */
            CHECK((w[0] & ((1u << bits) - 1u)) == c[0], "b=%d n=%d: code 0 not in word 0's low bits", bits, n);
            const long used = (long)n * bits;
            if (used % 32)
                CHECK((w[used / 32] >> (used % 32)) == 0, "b=%d n=%d: padding bits not zero", bits, n);
            CHECK(w[bytes / 4] == 0xdeadbeefu, "b=%d n=%d: wrote past the row", bits, n);
            free(w);
            free(c);
        }
}

/* x: N rows of d Gaussian values (Box-Muller over the xorshift; no cuRAND generator per call)
 * with norms from 0 to 1e4, a tiny row, a NaN row and an Inf row; fp16 rows on the fp16 grid. */
static float *kv_rows(int d, long N, rb_dtype dt, uint64_t seed)
{
    float *x = malloc(sizeof(float) * (size_t)N * d);
    if (!x)
        return NULL;
    uint64_t st = seed * 0x9e3779b97f4a7c15ull + 1;
    const float scale[] = {1.0f, 0.0f, 1e-3f, 37.5f, 1e4f, 3e-3f, 0.25f, 2.0f, 1e-30f};
    for (long i = 0; i < N; i++)
        for (int j = 0; j < d; j++) {
            double u1 = (next_u32(&st) + 1.0) / 4294967297.0, u2 = next_u32(&st) / 4294967296.0;
            float g = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2) / sqrt((double)d));
            float v = g * scale[i % (long)(sizeof scale / sizeof scale[0])];
            x[i * d + j] = dt == RB_FP16 ? rb_round_f16(v) : v;
        }
    if (N > 4) {
        x[3 * (long)d + d / 2] = NAN;
        x[4 * (long)d] = INFINITY;
    }
    return x;
}

static int same_bits(const float *a, const float *b, long n, long *first)
{
    for (long i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i]))
            continue;
        if (rb_f32_bits(a[i]) != rb_f32_bits(b[i])) {
            *first = i;
            return 0;
        }
    }
    return 1;
}

/* The fused roundtrip's row with the norm stored in fp16: normalize by rho, scale by fp16(rho). */
static void roundtrip_fp16_norm(const rb_qdq_params *p, const float *x, long N, rb_dtype dt, float *out)
{
    float *v = malloc(sizeof(float) * 2 * (size_t)p->dpad), *tmp = v + p->dpad;
    for (long i = 0; i < N; i++, x += p->d, out += p->d) {
        float ss = 0.0f;
        for (int j = 0; j < p->d; j++)
            ss += x[j] * x[j];
        const float rho = sqrtf(ss), rho16 = rb_round_f16(rho);
        if (!rb_row_is_finite(rho) || !rb_row_is_finite(rho16)) {
            for (int j = 0; j < p->d; j++)
                out[j] = NAN;
            continue;
        }
        const float inv = rb_inv_norm(rho);
        for (int j = 0; j < p->dpad; j++)
            v[j] = j < p->d ? x[j] * inv : 0.0f;
        rb_rotate_fwd(p, v, tmp);
        for (int j = 0; j < p->dpad; j++)
            v[j] = rb_sq_qdq(v[j], p->bounds, p->centroids, p->nbounds);
        rb_rotate_inv(p, v, tmp);
        for (int j = 0; j < p->d; j++)
            out[j] = dt == RB_FP16 ? rb_round_f16(rho16 * v[j]) : rho16 * v[j];
    }
    free(v);
}

TEST(kv_decode_of_encode_is_the_roundtrip_bit_for_bit)
{
    const int dims[] = {5, 32, 37, 128, 133};
    const int bitsv[] = {1, 2, 3, 4, 8};
    const long N = 61; /* a prime: no row count the code could round to */
    int cases = 0;
    FOR_EACH_ROTATION_METHOD(m)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            const int d = dims[di];
            if (!method_takes(m, d))
                continue;
            for (size_t bi = 0; bi < sizeof bitsv / sizeof bitsv[0]; bi++)
                for (int dt = RB_FP32; dt <= RB_FP16; dt++) {
                    kv_setup s;
                    CHECK(kv_setup_make(&s, m, d, bitsv[bi], 7 + d) == 0, "setup");
                    float *x = kv_rows(d, N, (rb_dtype)dt, 100 + d);
                    const long cb = rb_kv_stored_bytes(m, d, bitsv[bi], RB_KV_NORM_NONE, N);
                    void *codes = malloc((size_t)cb);
                    float *n32 = malloc(sizeof(float) * (size_t)N);
                    uint16_t *n16 = malloc(sizeof(uint16_t) * (size_t)N);
                    float *ref = malloc(sizeof(float) * (size_t)N * d), *dec = malloc(sizeof(float) * (size_t)N * d);
                    long at = -1;
                    rb_cpu_qdq_rows(&s.p, x, ref, N, (rb_dtype)dt);
                    CHECK(rb_cpu_encode_rows(&s.p, RB_KV_NORM_FP32, x, N, codes, n32) == 0 &&
                              rb_cpu_decode_rows(&s.p, RB_KV_NORM_FP32, codes, n32, N, (rb_dtype)dt, dec) == 0,
                          "fp32 norms: encode/decode failed");
                    CHECK(same_bits(dec, ref, N * d, &at), "%s d=%d b=%d %s fp32 norms: row %ld col %ld: %.9g vs roundtrip %.9g",
                          rb_method_name(m), d, bitsv[bi], rb_dtype_name((rb_dtype)dt), at / d, at % d, dec[at], ref[at]);
                    CHECK(isnan(n32[3]) && isnan(n32[4]), "%s: NaN/Inf rows store NaN norms", rb_method_name(m));
                    CHECK(n32[1] == 0.0f, "%s: a zero row stores norm %g", rb_method_name(m), n32[1]);
                    roundtrip_fp16_norm(&s.p, x, N, (rb_dtype)dt, ref);
                    CHECK(rb_cpu_encode_rows(&s.p, RB_KV_NORM_FP16, x, N, codes, n16) == 0 &&
                              rb_cpu_decode_rows(&s.p, RB_KV_NORM_FP16, codes, n16, N, (rb_dtype)dt, dec) == 0,
                          "fp16 norms: encode/decode failed");
                    CHECK(same_bits(dec, ref, N * d, &at), "%s d=%d b=%d %s fp16 norms: row %ld col %ld: %.9g vs roundtrip %.9g",
                          rb_method_name(m), d, bitsv[bi], rb_dtype_name((rb_dtype)dt), at / d, at % d, dec[at], ref[at]);
                    for (long i = 0; i < N; i++)
                        if (!isnan(n32[i]))
                            CHECK(rb_f16_to_f32(n16[i]) == rb_round_f16(n32[i]), "row %ld: fp16 norm is not fp16(rho)", i);
                    free(x); free(codes); free(n32); free(n16); free(ref); free(dec);
                    cases++;
                }
        }
    CHECK(cases >= 5 * 2 * 2 * rb_methods_builtin_count() / 2, "only %d cases ran", cases);
}

TEST(kv_unit_norm_stores_no_norm_and_matches_the_roundtrip)
{
    FOR_EACH_ROTATION_METHOD(m) {
        const int d = method_takes(m, 37) ? 37 : 64;
        const long N = 29;
        kv_setup s;
        CHECK(kv_setup_make(&s, m, d, 3, 3) == 0, "setup");
        s.p.unit_norm = 1;
        float *x = malloc(sizeof(float) * (size_t)rb_data_alloc_len(d, N));
        char err[128];
        CHECK(rb_data_sphere(9, d, N, RB_FP32, x, err, sizeof err) == 0, "%s", err);
        void *codes = malloc((size_t)rb_kv_stored_bytes(m, d, 3, RB_KV_NORM_NONE, N));
        float *ref = malloc(sizeof(float) * (size_t)N * d), *dec = malloc(sizeof(float) * (size_t)N * d);
        rb_cpu_qdq_rows(&s.p, x, ref, N, RB_FP32);
        CHECK(rb_cpu_encode_rows(&s.p, RB_KV_NORM_NONE, x, N, codes, NULL) == 0 &&
                  rb_cpu_decode_rows(&s.p, RB_KV_NORM_NONE, codes, NULL, N, RB_FP32, dec) == 0,
              "%s: unit-norm encode/decode", rb_method_name(m));
        long at = -1;
        CHECK(same_bits(dec, ref, N * d, &at), "%s unit norm: element %ld differs", rb_method_name(m), at);
        CHECK(rb_kv_stored_bytes(m, d, 3, RB_KV_NORM_NONE, N) == N * rb_kv_row_bytes(s.p.dpad, 3), "no norm bytes");
        free(x); free(codes); free(ref); free(dec);
    }
}

/* Encode into buffers prefilled with two patterns: a byte the encoder writes is equal in both,
 * an untouched one keeps its pattern. The touched bytes must be exactly the stored bytes. */
TEST(kv_stored_bytes_are_what_the_encoder_writes)
{
    const int dims[] = {5, 37, 64, 128, 133};
    FOR_EACH_ROTATION_METHOD(m)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            const int d = dims[di];
            if (!method_takes(m, d))
                continue;
            for (int bits = 1; bits <= 8; bits++)
                for (int nk = RB_KV_NORM_FP16; nk <= RB_KV_NORM_FP32; nk++) {
                    const long N = 13, guard = 64;
                    kv_setup s;
                    CHECK(kv_setup_make(&s, m, d, bits, 1) == 0, "setup");
                    float *x = kv_rows(d, N, RB_FP32, 2);
                    const long cbytes = N * rb_kv_row_bytes(s.p.dpad, bits), nbytes = N * rb_kv_norm_bytes(nk);
                    unsigned char *c[2], *n[2];
                    for (int k = 0; k < 2; k++) {
                        c[k] = malloc((size_t)(cbytes + guard));
                        n[k] = malloc((size_t)(nbytes + guard));
                        memset(c[k], k ? 0x5a : 0xa5, (size_t)(cbytes + guard));
                        memset(n[k], k ? 0x5a : 0xa5, (size_t)(nbytes + guard));
                        CHECK(rb_cpu_encode_rows(&s.p, nk, x, N, c[k], n[k]) == 0, "encode");
                    }
                    long touched = 0, last = -1;
                    for (long i = 0; i < cbytes + guard; i++)
                        if (c[0][i] == c[1][i])
                            touched++, last = i;
                    for (long i = 0; i < nbytes + guard; i++)
                        touched += n[0][i] == n[1][i];
                    const long stored = rb_kv_stored_bytes(m, d, bits, nk, N);
                    CHECK(touched == stored && last == cbytes - 1, "%s d=%d b=%d %s: encoder wrote %ld bytes (last %ld), counts say %ld",
                          rb_method_name(m), d, bits, rb_kv_norm_name(nk), touched, last, stored);
                    if (nk == RB_KV_NORM_FP16)
                        CHECK_NEAR(rb_bits_per_coord(m, d, bits) * d * N / 8.0, (double)stored, 1e-9);
                    for (int k = 0; k < 2; k++) {
                        free(c[k]);
                        free(n[k]);
                    }
                    free(x);
                   
                }
        }
}

TEST(kv_codec_refuses_what_it_cannot_store)
{
    FOR_EACH_ROTATION_METHOD(m) {
        kv_setup s;
        CHECK(kv_setup_make(&s, m, 64, 2, 1) == 0, "setup");
        float x[64] = {1.0f}, out[64];
        uint32_t codes[8];
        uint16_t nrm[1];
        int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2); /* the one-line messages are the caller's to show */
        int a = rb_cpu_encode_rows(&s.p, RB_KV_NORM_NONE, x, 1, codes, NULL); /* unit norm not set */
        int b = rb_cpu_encode_rows(&s.p, RB_KV_NORM_FP16, x, 1, codes, NULL); /* no norm buffer */
        s.p.unit_norm = 1;
        int c = rb_cpu_decode_rows(&s.p, RB_KV_NORM_FP16, codes, nrm, 1, RB_FP32, out);
        s.p.unit_norm = 0;
        s.p.bits = 9;
        int e = rb_cpu_encode_rows(&s.p, RB_KV_NORM_FP16, x, 1, codes, nrm);
        dup2(saved, 2);
        close(saved);
        close(devnull);
        CHECK(a == -1 && b == -1 && c == -1 && e == -1, "%s: refused %d %d %d %d", rb_method_name(m), a, b, c, e);
       
    }
    for (rb_method m = 0; m < rb_methods_count(); m++)
        CHECK(rb_kv_method_packs(m) == is_rotation_method(m), "%s: packs %d", rb_method_name(m), rb_kv_method_packs(m));
    CHECK(!rb_kv_method_packs(-1) && !rb_kv_method_packs(rb_methods_count()), "unregistered methods do not pack");
    CHECK(rb_kv_norm_kind(1, RB_KV_NORM_FP32) == RB_KV_NORM_NONE && rb_kv_norm_kind(0, RB_KV_NORM_FP32) == RB_KV_NORM_FP32 &&
              rb_kv_norm_kind(0, RB_KV_NORM_FP16) == RB_KV_NORM_FP16, "norm kinds");
}

/* The cell table's 4th float is each cell's low index (rb_sq_cell_table), so the GPU encoder
 * takes rb_sq_index(y) = lo + (y > threshold) from the lookup the roundtrip already makes:
 * checked at every boundary, its neighbours, every cell edge and a spread of values. */
TEST(kv_cell_table_gives_the_index)
{
    for (int bits = 1; bits <= 6; bits++)
        for (int d = 37; d <= 256; d += 219 - 37) {
            const rb_codebook *cb = codebook_of(d, bits);
            const int n = (1 << bits) - 1;
            float tab[4 * RB_SQ_CELLS];
            CHECK(cb && rb_sq_cell_table(cb->bounds_f, cb->centroids_f, n, tab) == 0, "b=%d d=%d: table", bits, d);
            const rb_sq_cellmap m = rb_sq_cell_map(cb->bounds_f, n);
            long bad = 0, tried = 0;
            for (int k = -1; k <= n; k++)
                for (int t = -300; t <= 300; t++) {
                    float y = k < 0 ? -1.0f + t / 300.0f : k == n ? 0.5f * t / 300.0f : cb->bounds_f[k];
                    if (k >= 0 && k < n) /* the boundary and its float neighbours */
                        for (int u = 0; u < abs(t) % 4; u++)
                            y = nextafterf(y, t < 0 ? -INFINITY : INFINITY);
                    const float *e = tab + 4 * rb_sq_cell(y, m);
                    bad += rb_sq_cell_index(y, e) != rb_sq_index(y, cb->bounds_f, n) ||
                           cb->centroids_f[rb_sq_cell_index(y, e)] != rb_sq_cell_qdq(y, e);
                    tried++;
                }
            for (int t = 0; t < RB_SQ_CELLS; t++)
                bad += tab[4 * t + 3] != (float)rb_sq_cell_base(cb->bounds_f, n, t) ||
                       cb->centroids_f[(int)tab[4 * t + 3]] != tab[4 * t + 1];
            CHECK(bad == 0, "b=%d d=%d: %ld of %ld values give another index", bits, d, bad, tried);
        }
}
