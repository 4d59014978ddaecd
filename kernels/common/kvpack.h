/* kvpack.h: the packed KV-cache format of every scalar-quantized method, one definition for the
 * CPU reference (gcc) and the CUDA kernels (nvcc). docs/methods.md ("Packed format") is the
 * prose version.
 *
 * A cache of N rows of d coordinates, method block k, dpad = ceil(d / k) k, b bits (1..8):
 *   codes  N rows of rb_kv_row_bytes(dpad, b) bytes, row r at codes + r * row_bytes. Inside a
 *          row the dpad codes form one little-endian bit stream: code j occupies stream bits
 *          [j b, j b + b), stream bit s is bit (s % 32) of the row's 32-bit little-endian word
 *          s / 32. A row ends on a 4-byte boundary (the stated alignment): its last word's
 *          unused high bits are zero. For b dpad a multiple of 32 (d = 64, 128, 256 at any b)
 *          there is no padding at all.
 *   norms  N row norms rho = |x| in a separate array, fp16 (round to nearest even) by default,
 *          or fp32 (rb_kv_norm_bytes). A non-finite row stores a NaN norm and zero codes; a
 *          config's assume_unit_norm stores none (0 bytes).
 * Code j is the Lloyd-Max cell index of the rotated, normalized coordinate y_j (rb_sq_index);
 * decode is x^ = rho * T^-1(centroids[code]), the fused roundtrip's second half. The padded
 * coordinates of the last block are coded too: the inverse rotation mixes them back in.
 * Stored bytes: N * (rb_kv_row_bytes + rb_kv_norm_bytes), exactly (counts.c, tested). */
#ifndef RB_KVPACK_H
#define RB_KVPACK_H

#include "rb_hd.h"

#define RB_KV_NORM_FP16 0
#define RB_KV_NORM_FP32 1
#define RB_KV_NORM_NONE 2 /* assume_unit_norm: rho = 1, nothing stored */

/* Bytes of one row's codes: b dpad bits rounded up to whole 32-bit words. */
RB_HD long rb_kv_row_bytes(int dpad, int bits) { return 4L * (((long)dpad * bits + 31) / 32); }

RB_HD int rb_kv_norm_bytes(int norm_kind)
{
    return norm_kind == RB_KV_NORM_FP16 ? 2 : norm_kind == RB_KV_NORM_FP32 ? 4 : 0;
}

/* Code j of a row (words: the row as little-endian 32-bit words). A code straddles at most two
 * words (b <= 8 < 32). */
RB_HD unsigned rb_kv_get(const uint32_t *words, int j, int bits)
{
    const long s = (long)j * bits;
    const int w = (int)(s >> 5), o = (int)(s & 31);
    uint64_t v = words[w];
    if (o + bits > 32)
        v |= (uint64_t)words[w + 1] << 32;
    return (unsigned)(v >> o) & ((1u << bits) - 1u);
}

/* OR code c (< 2^b) into a zeroed row at position j. */
RB_HD void rb_kv_put(uint32_t *words, int j, int bits, unsigned c)
{
    const long s = (long)j * bits;
    const int w = (int)(s >> 5), o = (int)(s & 31);
    const uint64_t v = (uint64_t)c << o;
    words[w] |= (uint32_t)v;
    if (o + bits > 32)
        words[w + 1] |= (uint32_t)(v >> 32);
}

#endif
