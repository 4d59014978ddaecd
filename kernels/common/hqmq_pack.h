/* hqmq_pack.h: HQMQ's packed KV-cache format, one definition for the CPU reference (gcc) and the
 * CUDA kernels (nvcc). docs/methods.md ("HQMQ's packed format") is the prose version.
 *
 * A cache of N rows of d values at operating point (S, b_r), g = ceil(d / 4) chunks a row:
 *   rows   N records of rb_hqmq_row_bytes bytes, record i at rows + i * row_bytes, each 32-bit
 *          little-endian words (the stated alignment: 4 bytes):
 *            code words  g fields of F = w_idx + b_r bits in one little-endian bit stream (field b
 *                        at stream bits [b F, b F + F), the layout of kvpack.h), field =
 *                        idx | rq << w_idx: idx = p S + s the direction index in w_idx =
 *                        ceil(log2(24 S)) bits, rq the radius code in b_r bits. An outlier
 *                        chunk's field is 0; so is every field of a non-finite row. The last
 *                        word's unused high bits are 0.
 *            flag words  Med3x only: ceil(g / 32) words, bit b set when chunk b is an outlier.
 *   sigma  N fp16 values (2 bytes each) in a separate array, as the scalar methods' norms: the
 *          row's sigma as rb_hqmq_sigma_store leaves it (already an fp16 value, so stored
 *          exactly); a non-finite row stores a NaN, and decodes to a row of NaN.
 *   side   Med3x only: each outlier chunk's 4 values as fp16 (8 bytes; past d the zero padding),
 *          in row order, then chunk order. Row i's entries start after the outliers of rows
 *          0 .. i-1 (the popcount of their flag words).
 * Stored bytes: N (row_bytes + 2) + 8 nout, nout the outlier chunks (rb_hqmq_stored_bytes). F is
 * at most 15 + 16 = 31 bits, so kvpack.h's rb_kv_put / rb_kv_get (a field in at most two words)
 * pack and unpack it. */
#ifndef RB_HQMQ_PACK_H
#define RB_HQMQ_PACK_H

#include "hqmq.h"
#include "kvpack.h"

#define RB_HQMQ_SIGMA_BYTES 2
#define RB_HQMQ_OUTLIER_BYTES 8 /* 4 fp16 values */

/* w_idx = ceil(log2(24 S)) for S >= 1: 24: 10, 96: 12, 192: 13, 1024: 15. */
RB_HD int rb_hqmq_idx_bits(int S)
{
    int w = 0;
    while ((1L << w) < (long)RB_HQMQ_NP * S)
        w++;
    return w;
}

RB_HD int rb_hqmq_field_bits(int S, int rbits) { return rb_hqmq_idx_bits(S) + rbits; }

RB_HD int rb_hqmq_chunks(int d) { return (d + 3) / 4; }

RB_HD long rb_hqmq_code_words(int d, int S, int rbits)
{
    return ((long)rb_hqmq_chunks(d) * rb_hqmq_field_bits(S, rbits) + 31) / 32;
}

RB_HD long rb_hqmq_flag_words(int d, int med3) { return med3 ? (rb_hqmq_chunks(d) + 31) / 32 : 0; }

/* Bytes of one row's record: code words, then flag words (Med3x). */
RB_HD long rb_hqmq_row_bytes(int d, int S, int rbits, int med3)
{
    return 4 * (rb_hqmq_code_words(d, S, rbits) + rb_hqmq_flag_words(d, med3));
}

/* Everything an encode of N rows with nout outlier chunks writes. */
RB_HD long rb_hqmq_stored_bytes(int d, int S, int rbits, int med3, long N, long nout)
{
    return N * (rb_hqmq_row_bytes(d, S, rbits, med3) + RB_HQMQ_SIGMA_BYTES) + RB_HQMQ_OUTLIER_BYTES * nout;
}

RB_HD uint32_t rb_hqmq_field(int S, int idx, int rq) { return (uint32_t)idx | (uint32_t)rq << rb_hqmq_idx_bits(S); }

RB_HD int rb_hqmq_field_idx(int S, uint32_t f) { return (int)(f & ((1u << rb_hqmq_idx_bits(S)) - 1u)); }

RB_HD int rb_hqmq_field_rq(int S, uint32_t f) { return (int)(f >> rb_hqmq_idx_bits(S)); }

RB_HD int rb_hqmq_flag(const uint32_t *flags, int b) { return (int)(flags[b >> 5] >> (b & 31)) & 1; }

/* The outlier chunks a record flags (0 without Med3x). */
RB_HD int rb_hqmq_row_outliers(const uint32_t *rec, int d, int S, int rbits, int med3)
{
    const uint32_t *fl = rec + rb_hqmq_code_words(d, S, rbits);
    int n = 0;
    for (long w = 0; w < rb_hqmq_flag_words(d, med3); w++)
        for (uint32_t v = fl[w]; v; v &= v - 1u) /* one per set bit */
            n++;
    return n;
}

/* Encode one row x (d values) into its record rec (rb_hqmq_row_bytes / 4 words, overwritten
 * whole), *sigma (fp16 bits) and side (4 fp16 values per outlier chunk, room for 4 g), as
 * rb_hqmq_row quantizes it: thresh +inf without Med3x (med3 0), else the batch's threshold.
 * Returns the number of outlier chunks written to side. r (g floats) is scratch. */
RB_HD int rb_hqmq_encode_row(const float *qs, int S, int rbits, float thresh, int sigma_inliers, int med3, int d,
                             const float *x, uint32_t *rec, uint16_t *sigma, uint16_t *side, float *r)
{
    const int g = rb_hqmq_chunks(d), qmax = (1 << rbits) - 1, F = rb_hqmq_field_bits(S, rbits);
    const long cw = rb_hqmq_code_words(d, S, rbits), nw = cw + rb_hqmq_flag_words(d, med3);
    uint32_t *flags = rec + cw;
    float sig = 0.0f, fin = 0.0f, v[4];
    for (long w = 0; w < nw; w++)
        rec[w] = 0;
    for (int b = 0; b < g; b++) {
        rb_hqmq_load_chunk(x, d, b, v);
        r[b] = rb_hqmq_chunk_norm(v);
        fin = rb_hqmq_sigma_acc(fin, r[b], thresh, 0);
        sig = rb_hqmq_sigma_acc(sig, r[b], thresh, sigma_inliers);
    }
    if (!(fin <= 3.402823466e38f)) {
        *sigma = rb_f32_to_f16(rb_bits_f32(0x7fc00000u));
        return 0;
    }
    sig = rb_hqmq_sigma_store(sig);
    *sigma = rb_f32_to_f16(sig);
    int nout = 0;
    for (int b = 0; b < g; b++) {
        rb_hqmq_load_chunk(x, d, b, v);
        if (r[b] > thresh) {
            flags[b >> 5] |= 1u << (b & 31);
            for (int k = 0; k < 4; k++)
                side[4 * nout + k] = rb_f32_to_f16(v[k]);
            nout++;
            continue;
        }
        int idx, rq;
        rb_hqmq_chunk_code(qs, S, qmax, sig, v, r[b], &idx, &rq);
        rb_kv_put(rec, b, F, rb_hqmq_field(S, idx, rq));
    }
    return nout;
}

/* Row x's side entries from its record's flags: what rb_hqmq_encode_row wrote to side (so an
 * encoder that learns a row's place in the side array only after every row's count, a prefix
 * sum, can write them in a second pass). Returns their count. */
RB_HD int rb_hqmq_side_row(int S, int rbits, int d, const uint32_t *rec, const float *x, uint16_t *side)
{
    const uint32_t *flags = rec + rb_hqmq_code_words(d, S, rbits);
    int n = 0;
    for (int b = 0; b < rb_hqmq_chunks(d); b++) {
        if (!rb_hqmq_flag(flags, b))
            continue;
        float v[4];
        rb_hqmq_load_chunk(x, d, b, v);
        for (int k = 0; k < 4; k++)
            side[4 * n + k] = rb_f32_to_f16(v[k]);
        n++;
    }
    return n;
}

/* Decode one record into out (d values): rb_hqmq_row's output for the row it was encoded from.
 * side: this row's outlier entries. Returns the number of them read. */
RB_HD int rb_hqmq_decode_row(const float *qs, int S, int rbits, int med3, int d, const uint32_t *rec, uint16_t sigma,
                             const uint16_t *side, float *out)
{
    const int g = rb_hqmq_chunks(d), qmax = (1 << rbits) - 1, F = rb_hqmq_field_bits(S, rbits);
    const uint32_t *flags = rec + rb_hqmq_code_words(d, S, rbits);
    const float sig = rb_f16_to_f32(sigma);
    if (sig != sig) {
        for (int j = 0; j < d; j++)
            out[j] = rb_bits_f32(0x7fc00000u);
        return 0;
    }
    int nout = 0;
    for (int b = 0; b < g; b++) {
        float o[4];
        if (med3 && rb_hqmq_flag(flags, b)) {
            for (int k = 0; k < 4; k++)
                o[k] = rb_f16_to_f32(side[4 * nout + k]);
            nout++;
        } else {
            const uint32_t f = rb_kv_get(rec, b, F);
            rb_hqmq_chunk_decode(qs, S, qmax, sig, rb_hqmq_field_idx(S, f), rb_hqmq_field_rq(S, f), o);
        }
        for (int k = 0; k < 4 && 4 * b + k < d; k++)
            out[4 * b + k] = o[k];
    }
    return nout;
}

#endif
