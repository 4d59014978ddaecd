/* kvchunk.h: a run of n consecutive codes of a packed row (kvpack.h) as one chunk of n b <= 64
 * bits, the unit in which the fast kernels write and read codes. A lane that holds n consecutive
 * coordinates (a 16-byte vector of the register layout) builds its codes' chunk in a register and
 * ORs it into the row's words at its stream bit s: words s / 32 .. s / 32 + 2, starting at bit
 * o = s % 32 of the first; decode reads the chunk back from the same words. gcc (the tests) and
 * nvcc (the kernels) compile this source; in the kernels n and b are compile-time constants, so
 * every shift is a constant one but the offset o's. */
#ifndef RB_KVCHUNK_H
#define RB_KVCHUNK_H

#include "kvpack.h"

/* Codes c[0, n) (each < 2^bits; n bits <= 64) as one chunk: code e in bits [e bits, e bits + bits). */
RB_HD uint64_t rb_kv_chunk_make(const uint32_t *c, int n, int bits)
{
    uint64_t v = 0;
    for (int e = 0; e < n; e++)
        v |= (uint64_t)c[e] << (e * bits);
    return v;
}

/* Code e of a chunk (bits above the chunk's end are ignored). */
RB_HD unsigned rb_kv_chunk_code(uint64_t chunk, int e, int bits)
{
    return (unsigned)(chunk >> (e * bits)) & ((1u << bits) - 1u);
}

/* Words that a chunk of nbits bits at offset o (0..31) of its first word touches: 1 to 3. */
RB_HD int rb_kv_chunk_words(int o, int nbits) { return (o + nbits + 31) >> 5; }

/* The high word of the 64-bit (hi:lo) << o and the low word of (hi:lo) >> o, o in 0..31 (o = 0
 * gives hi, lo: C's shift by 32 is undefined, hence the test). nvcc makes each one funnel shift
 * (SHF); the intrinsics would be volatile asm, which it could neither fold nor drop. */
RB_HD uint32_t rb_shl_hi(uint32_t lo, uint32_t hi, int o) { return o ? (hi << o) | (lo >> (32 - o)) : hi; }
RB_HD uint32_t rb_shr_lo(uint32_t lo, uint32_t hi, int o) { return o ? (lo >> o) | (hi << (32 - o)) : lo; }

/* The chunk at offset o (0..31) as the three words to OR into the row's words s / 32 ..
 * s / 32 + 2 (those past rb_kv_chunk_words(o, n b) come out zero). */
RB_HD void rb_kv_chunk_place(uint64_t chunk, int o, uint32_t *w)
{
    const uint32_t c0 = (uint32_t)chunk, c1 = (uint32_t)(chunk >> 32);
    w[0] = c0 << o;
    w[1] = rb_shl_hi(c0, c1, o);
    w[2] = rb_shl_hi(c1, 0u, o);
}

/* The chunk at offset o (0..31) from the row's words s / 32 .. s / 32 + 2: w[0..2]. Bits above
 * the chunk's end are whatever those words hold, so a word past rb_kv_chunk_words(o, n b) may be
 * anything (a caller sets it to zero rather than read past the row). */
RB_HD uint64_t rb_kv_chunk_get(const uint32_t *w, int o)
{
    return (uint64_t)rb_shr_lo(w[0], w[1], o) | (uint64_t)rb_shr_lo(w[1], w[2], o) << 32;
}

/* Word w of a row from its codes c[0, dpad), an int each (the staged kernels' row in shared
 * memory): the codes from j0 = 32 w / b on, whose bits cover [32 w, 32 w + 32), as one chunk
 * shifted down by r = 32 w - j0 b < b. A fixed count of codes, 1 + ceil(31 / b) (those past the
 * word land above bit 31 and drop out), so with a compile-time b the loop unrolls and the
 * division is a multiply. */
RB_HD uint32_t rb_kv_word(const int *c, int w, int bits, int dpad)
{
    const int j0 = 32 * w / bits, r = 32 * w - j0 * bits, n = 1 + (31 + bits - 1) / bits;
    uint64_t v = 0;
    for (int e = 0; e < n; e++)
        if (j0 + e < dpad)
            v |= (uint64_t)(uint32_t)c[j0 + e] << (e * bits);
    return (uint32_t)(v >> r);
}

#endif
