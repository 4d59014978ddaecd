/* rb_hd.h: one macro that lets the block math compile under gcc (C11) and nvcc (C++17).
 * Every function in kernels/common/ is RB_HD, so the CPU reference and the CUDA kernels
 * execute the very same source. */
#ifndef RB_HD_H
#define RB_HD_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define RB_HD static __host__ __device__ __forceinline__
#else
#define RB_HD static inline
#endif

/* Bit casts that work on both sides (memcpy on the host, intrinsics on the device). */
#ifdef __CUDA_ARCH__
RB_HD uint32_t rb_f32_bits(float f) { return __float_as_uint(f); }
RB_HD float rb_bits_f32(uint32_t u) { return __uint_as_float(u); }
#else
#include <string.h>
RB_HD uint32_t rb_f32_bits(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }
RB_HD float rb_bits_f32(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }
#endif

#endif
