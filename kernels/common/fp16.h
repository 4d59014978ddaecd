/* fp16.h: IEEE binary16 conversions, bit-exact with CUDA's __float2half_rn / __half2float.
 * The CPU backend stores fp16 data as uint16_t and rounds exactly as the GPU does, so fp16
 * inputs and outputs are identical on both backends. */
#ifndef RB_FP16_H
#define RB_FP16_H

#include "rb_hd.h"

#ifdef __CUDACC__
#include <cuda_fp16.h>
#endif

/* float -> half, round to nearest even; overflow goes to Inf, NaN stays a (quiet) NaN. */
RB_HD uint16_t rb_f32_to_f16(float f)
{
    uint32_t x = rb_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)                      /* Inf or NaN */
        return (uint16_t)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (ax >= 0x477ff000u)                      /* >= 65520 rounds past the largest half */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) {                     /* below 2^-14: half subnormal or zero */
        if (ax < 0x33000000u)                   /* below 2^-25: rounds to zero */
            return (uint16_t)sign;
        uint32_t e = ax >> 23;                  /* 102..112 */
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e;              /* value / 2^-24 = m >> shift */
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t q = (ax >> 13) - (112u << 10);     /* rebias 127 -> 15 */
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u)))
        q++;                                    /* a carry into the exponent is still correct */
    return (uint16_t)(sign | q);
}

RB_HD float rb_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x3ffu;
    if (e == 0x1fu)                             /* Inf / NaN */
        return rb_bits_f32(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        if (m == 0)
            return rb_bits_f32(sign);
        /* subnormal: m * 2^-24, exact in float */
        float v = (float)m * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return rb_bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

/* Round a float through fp16 and back: what an fp16 store followed by a load yields. */
/* fp32 -> nearest fp16 -> fp32; on the device the hardware conversion (the same IEEE rounding:
 * two instructions instead of the ~40 of the bit-level version). */
RB_HD float rb_round_f16(float f)
{
#ifdef __CUDA_ARCH__
    return __half2float(__float2half_rn(f));
#else
    return rb_f16_to_f32(rb_f32_to_f16(f));
#endif
}

#endif
