/* The fast kernels' bit math for the packed format (kernels/common/kvchunk.h), against the
 * format's definition (kvpack.h's rb_kv_put / rb_kv_get, and a bit-by-bit stream): a chunk of
 * consecutive codes placed at every offset and read back, rows assembled chunk by chunk in the
 * register layouts of the fast kernels (in any order), and rows packed word by word. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kvchunk.h"

static uint32_t chunk_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 11);
}

/* Stream bit s of words w set to v (the definition: bit s % 32 of word s / 32). */
static void bit_set(uint32_t *w, long s, unsigned v)
{
    if (v)
        w[s >> 5] |= 1u << (s & 31);
}

TEST(kvchunk_places_and_reads_every_width_and_offset)
{
    uint64_t st = 0x243f6a8885a308d3ull;
    long bad_place = 0, bad_get = 0, bad_words = 0, bad_code = 0, cases = 0;
    for (int bits = 1; bits <= 8; bits++)
        for (int n = 1; n <= 8 && n * bits <= 64; n++)
            for (int s0 = 0; s0 < 70; s0++) {
                uint32_t c[8], ref[6] = {0}, w[6] = {0}, p[3];
                for (int e = 0; e < n; e++) {
                    c[e] = chunk_rand(&st) & ((1u << bits) - 1u);
                    if (e == 0 || e == n - 1)
                        c[e] = (1u << bits) - 1u; /* all ones at both ends: a lost or shifted bit shows */
                }
                for (int e = 0; e < n; e++)
                    for (int k = 0; k < bits; k++)
                        bit_set(ref, s0 + (long)e * bits + k, (c[e] >> k) & 1u);
                const uint64_t ch = rb_kv_chunk_make(c, n, bits);
                const int o = s0 & 31, w0 = s0 >> 5, nw = rb_kv_chunk_words(o, n * bits);
                rb_kv_chunk_place(ch, o, p);
                for (int k = 0; k < 3; k++) {
                    w[w0 + k] |= p[k];
                    bad_words += k >= nw && p[k] != 0; /* past the chunk's words: nothing */
                }
                bad_place += memcmp(w, ref, sizeof w) != 0;
                /* read back, with the word past the chunk's last one holding garbage */
                uint32_t r[3] = {ref[w0], nw > 1 ? ref[w0 + 1] : 0xa5a5a5a5u, nw > 2 ? ref[w0 + 2] : 0x5a5a5a5au};
                const uint64_t g = rb_kv_chunk_get(r, o);
                for (int e = 0; e < n; e++)
                    bad_code += rb_kv_chunk_code(g, e, bits) != c[e];
                const uint64_t m = n * bits == 64 ? ~0ull : (1ull << (n * bits)) - 1ull;
                bad_get += (g & m) != ch;
                cases++;
            }
    CHECK(cases == 64 * 70, "%ld cases", cases); /* every (bits, n) with n <= 8: n b <= 64 */
    CHECK(bad_place == 0, "%ld of %ld chunks placed wrong", bad_place, cases);
    CHECK(bad_words == 0, "%ld chunks wrote past rb_kv_chunk_words", bad_words);
    CHECK(bad_get == 0, "%ld of %ld chunks read back wrong", bad_get, cases);
    CHECK(bad_code == 0, "%ld codes read back wrong", bad_code);
}

/* A row assembled as the register-layout kernels do: lane l of G holds vectors l, l + G, ...
 * of VW coordinates; each vector's chunk of VW b bits goes to stream bit (i G + l) VW b, the
 * lanes in a scrambled order (the atomics' order is free). The row must be rb_kv_put's. */
TEST(kvchunk_rows_from_the_register_layout_are_the_format)
{
    static const int shapes[][3] = {/* G, NV, VW */ {8, 1, 8}, {4, 2, 8}, {8, 2, 8}, {16, 2, 8}, {32, 1, 8},
                                    {16, 1, 4}, {4, 4, 4}, {8, 4, 4}, {32, 4, 4}, {32, 2, 8}};
    uint64_t st = 0x13198a2e03707344ull;
    long bad = 0, rows = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int bits = 1; bits <= 8; bits++) {
            const int G = shapes[si][0], NV = shapes[si][1], VW = shapes[si][2], D = G * NV * VW;
            const long rw = rb_kv_row_bytes(D, bits) / 4;
            uint32_t *ref = calloc((size_t)rw + 3, 4), *w = calloc((size_t)rw + 3, 4);
            unsigned *code = malloc(sizeof(unsigned) * (size_t)D);
            for (int j = 0; j < D; j++) {
                code[j] = chunk_rand(&st) & ((1u << bits) - 1u);
                rb_kv_put(ref, j, bits, code[j]);
            }
            for (int k = 0; k < G * NV; k++) {
                const int v = (k * 7 + 3) % (G * NV); /* vector v = i G + l, out of order */
                uint32_t c[8], p[3];
                for (int e = 0; e < VW; e++)
                    c[e] = code[v * VW + e];
                const long s = (long)v * VW * bits;
                rb_kv_chunk_place(rb_kv_chunk_make(c, VW, bits), (int)(s & 31), p);
                for (int q = 0; q < rb_kv_chunk_words((int)(s & 31), VW * bits); q++)
                    w[(s >> 5) + q] |= p[q];
            }
            bad += memcmp(w, ref, sizeof(uint32_t) * (size_t)(rw + 3)) != 0;
            rows++;
            free(ref);
            free(w);
            free(code);
        }
    CHECK(rows == 80, "%ld rows", rows);
    CHECK(bad == 0, "%ld of %ld rows assembled from chunks differ from rb_kv_put's", bad, rows);
}

TEST(kvchunk_word_packing_is_the_format)
{
    const int lens[] = {1, 3, 7, 31, 33, 64, 127, 129, 132, 256};
    uint64_t st = 0xa4093822299f31d0ull;
    long bad = 0, words = 0;
    for (int bits = 1; bits <= 8; bits++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int n = lens[li];
            const long rw = rb_kv_row_bytes(n, bits) / 4;
            uint32_t *ref = calloc((size_t)rw, 4);
            int *c = malloc(sizeof(int) * (size_t)n + 64); /* codes past n (garbage) must not count */
            for (int j = 0; j < n + 16; j++)
                c[j] = j < n ? (int)(chunk_rand(&st) & ((1u << bits) - 1u)) : -1;
            for (int j = 0; j < n; j++)
                rb_kv_put(ref, j, bits, (unsigned)c[j]);
            for (int w = 0; w < rw; w++, words++)
                bad += rb_kv_word(c, w, bits, n) != ref[w];
            free(ref);
            free(c);
        }
    CHECK(words > 400, "%ld words", words);
    CHECK(bad == 0, "%ld of %ld words differ from rb_kv_put's", bad, words);
}
