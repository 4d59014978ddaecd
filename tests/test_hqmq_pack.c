/* HQMQ's packed format (kernels/common/hqmq_pack.h): field widths and byte counts by hand, the
 * field packing at every width, and one row encoded and decoded against rb_hqmq_row bit for bit
 * at every operating point, odd d, with and without Med3x, on rows of any norm. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data.h"
#include "fp16.h"
#include "hqmq_pack.h"
#include "methods.h"
#include "registry.h"

static const float *hq_secondaries(void)
{
    static float *qs;
    char err[128];
    if (!qs) {
        qs = malloc(sizeof(float) * 4 * RB_HQMQ_MAX_S);
        if (qs && rb_params_generate(7, method_id("hqmq"), 128, qs, err, sizeof err)) {
            free(qs);
            qs = NULL;
        }
    }
    return qs;
}

static uint64_t xs_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static float xs_unif(uint64_t *s) { return (float)((xs_next(s) >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f; }

TEST(hqmq_pack_widths_and_bytes)
{
    CHECK(rb_hqmq_idx_bits(1) == 5, "S=1: %d", rb_hqmq_idx_bits(1));
    CHECK(rb_hqmq_idx_bits(24) == 10, "S=24: %d", rb_hqmq_idx_bits(24));
    CHECK(rb_hqmq_idx_bits(96) == 12, "S=96: %d", rb_hqmq_idx_bits(96));
    CHECK(rb_hqmq_idx_bits(192) == 13, "S=192: %d", rb_hqmq_idx_bits(192));
    CHECK(rb_hqmq_idx_bits(1024) == 15, "S=1024: %d", rb_hqmq_idx_bits(1024));
    /* d = 128, s192_r4: 32 chunks of 17 bits = 544 bits = 17 words = 68 bytes, + 2 for sigma */
    CHECK(rb_hqmq_row_bytes(128, 192, 4, 0) == 68, "%ld", rb_hqmq_row_bytes(128, 192, 4, 0));
    CHECK(rb_hqmq_stored_bytes(128, 192, 4, 0, 1000, 0) == 70000, "%ld", rb_hqmq_stored_bytes(128, 192, 4, 0, 1000, 0));
    /* s192_r6: 32 x 19 = 608 bits = 19 words; s24_r6: 32 x 16 = 512 bits = 16 words */
    CHECK(rb_hqmq_row_bytes(128, 192, 6, 0) == 76, "%ld", rb_hqmq_row_bytes(128, 192, 6, 0));
    CHECK(rb_hqmq_row_bytes(128, 24, 6, 0) == 64, "%ld", rb_hqmq_row_bytes(128, 24, 6, 0));
    /* d = 5: 2 chunks; s24_r3: 26 bits, one word; Med3x adds one flag word; 3 outliers 24 bytes */
    CHECK(rb_hqmq_row_bytes(5, 24, 3, 0) == 4, "%ld", rb_hqmq_row_bytes(5, 24, 3, 0));
    CHECK(rb_hqmq_row_bytes(5, 24, 3, 1) == 8, "%ld", rb_hqmq_row_bytes(5, 24, 3, 1));
    CHECK(rb_hqmq_stored_bytes(5, 24, 3, 1, 10, 3) == 10 * (8 + 2) + 24, "%ld", rb_hqmq_stored_bytes(5, 24, 3, 1, 10, 3));
    /* d = 133: 34 chunks; s1024_r16: 31-bit fields, 1054 bits = 33 words; 2 flag words */
    CHECK(rb_hqmq_row_bytes(133, 1024, 16, 1) == 4 * (33 + 2), "%ld", rb_hqmq_row_bytes(133, 1024, 16, 1));
}

/* Fields of every width the config allows put at every position and read back, the bits
 * between them untouched. */
TEST(hqmq_pack_fields_round_trip)
{
    static const int Ss[] = {1, 24, 96, 192, 1024};
    uint64_t st = 0x9e3779b97f4a7c15ull;
    for (size_t si = 0; si < sizeof Ss / sizeof Ss[0]; si++)
        for (int rbits = 1; rbits <= 16; rbits++) {
            const int S = Ss[si], F = rb_hqmq_field_bits(S, rbits), d = 133, g = rb_hqmq_chunks(d);
            const long nw = rb_hqmq_code_words(d, S, rbits);
            uint32_t words[64], want[40];
            memset(words, 0, sizeof words);
            int bad = 0;
            for (int b = 0; b < g; b++) {
                int idx = (int)(xs_next(&st) % (uint64_t)(RB_HQMQ_NP * S)), rq = (int)(xs_next(&st) % (1u << rbits));
                if (b == 0) { idx = RB_HQMQ_NP * S - 1; rq = (1 << rbits) - 1; } /* all ones at the top */
                want[b] = rb_hqmq_field(S, idx, rq);
                bad += rb_hqmq_field_idx(S, want[b]) != idx || rb_hqmq_field_rq(S, want[b]) != rq;
                rb_kv_put(words, b, F, want[b]);
            }
            for (int b = 0; b < g; b++)
                bad += rb_kv_get(words, b, F) != want[b];
            for (long w = nw; w < 64; w++)
                bad += words[w] != 0;
            const int used = (int)((long)g * F - 32 * (nw - 1)); /* bits used in the last word */
            bad += used < 32 && (words[nw - 1] >> used) != 0;
            CHECK(bad == 0, "S=%d b_r=%d F=%d: %d fields or padding bits wrong", S, rbits, F, bad);
        }
}

/* Rows of norm 0 to 1e4 (some chunks far larger than others, a zero row, one with a NaN, one
 * with an Inf), odd d, each operating point, with and without Med3x: the encoder writes exactly
 * its record (a poisoned buffer shows every byte), the record decodes to rb_hqmq_row's output
 * bit for bit, and the outliers counted, flagged and stored agree. */
TEST(hqmq_pack_row_encode_decode_equals_roundtrip)
{
    const float *qs = hq_secondaries();
    CHECK(qs != NULL, "no secondaries");
    if (!qs)
        return;
    static const int ops[][2] = {{24, 3}, {96, 4}, {192, 4}, {192, 6}, {24, 6}, {1, 1}, {1024, 16}};
    static const int dims[] = {2, 5, 37, 64, 128, 133};
    uint64_t st = 12345;
    long rows = 0, outl = 0;
    for (size_t oi = 0; oi < sizeof ops / sizeof ops[0]; oi++)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
            for (int med3 = 0; med3 <= 1; med3++)
                for (int kind = 0; kind < 6; kind++) {
                    const int S = ops[oi][0], rbits = ops[oi][1], d = dims[di], g = rb_hqmq_chunks(d);
                    float x[136], ref[136], out[136], r[40];
                    const float scale = kind == 0 ? 0.0f : kind == 1 ? 1e-3f : kind == 2 ? 1.0f : 1e4f;
                    for (int j = 0; j < d; j++)
                        x[j] = scale * xs_unif(&st) * (j % 7 == 3 ? 30.0f : 1.0f); /* outlier channels */
                    if (kind == 4)
                        x[d / 2] = NAN;
                    if (kind == 5)
                        x[d - 1] = INFINITY;
                    const float thresh = med3 ? 2.0f * scale : INFINITY;
                    const int nref = rb_hqmq_row(qs, S, rbits, thresh, med3, d, x, ref, r);
                    const long nb = rb_hqmq_row_bytes(d, S, rbits, med3);
                    uint32_t rec[48];
                    uint16_t sig = 0xabcd, side[4 * 40];
                    memset(rec, 0xa5, sizeof rec);
                    memset(side, 0xa5, sizeof side);
                    const int n = rb_hqmq_encode_row(qs, S, rbits, thresh, med3, med3, d, x, rec, &sig, side, r);
                    int untouched = 0;
                    for (size_t w = (size_t)nb / 4; w < sizeof rec / 4; w++)
                        untouched += rec[w] == 0xa5a5a5a5u;
                    for (size_t k = 4 * (size_t)n; k < sizeof side / 2; k++)
                        untouched += side[k] == 0xa5a5;
                    CHECK(untouched == (int)(sizeof rec / 4 - (size_t)nb / 4) + (int)(sizeof side / 2) - 4 * n,
                          "S=%d b_r=%d d=%d med3=%d kind %d: wrote past its record or side entries", S, rbits, d,
                          med3, kind);
                    CHECK(n == nref && n == rb_hqmq_row_outliers(rec, d, S, rbits, med3),
                          "S=%d b_r=%d d=%d med3=%d kind %d: outliers %d, flagged %d, rb_hqmq_row's %d", S, rbits,
                          d, med3, kind, n, rb_hqmq_row_outliers(rec, d, S, rbits, med3), nref);
                    memset(out, 0x5a, sizeof out);
                    const int m = rb_hqmq_decode_row(qs, S, rbits, med3, d, rec, sig, side, out);
                    CHECK(m == n, "decode read %d outliers of %d", m, n);
                    CHECK(memcmp(out, ref, sizeof(float) * (size_t)d) == 0,
                          "S=%d b_r=%d d=%d med3=%d kind %d: decode(encode(x)) is not rb_hqmq_row's output", S,
                          rbits, d, med3, kind);
                    CHECK((kind >= 4) == (rb_f16_to_f32(sig) != rb_f16_to_f32(sig)),
                          "kind %d: sigma %04x (NaN exactly for a non-finite row)", kind, sig);
                    rows++;
                    outl += n;
                    (void)g;
                }
    CHECK(outl > 0 && outl < rows * 10, "the cases hold outliers (%ld in %ld rows)", outl, rows);
}
