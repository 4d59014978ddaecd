/* staged_stride.h: the row stride, in floats, of the fast block kernels' staged path
 * (rbk_block_fast_staged in kernels/qdq_common.cuh), usable on the host and the device.
 *
 * G lanes share a row; a warp holds 32/G rows, row r at word r * stride of the shared buffer.
 * Lane l of row r reads and writes the scalar words r * stride + K l + c (one K-block per lane,
 * c the same for the whole warp). With stride = K G (mod 32) those words are K (l + G r) + c,
 * and l + G r runs over 0..31 once, so for odd K (invertible mod 32) the 32 lanes hit 32
 * different banks. The stride is also at least dp (the padded row) and a multiple of 4 (the
 * rows are copied in 16-byte quads). Where K is even, a warp holds one row (G = 32) or
 * K G mod 32 is not a multiple of 4, the plain rounding up is kept.
 * tests/test_staged_stride.c checks the bank property for every shape the kernels compile. */
#ifndef RB_STAGED_STRIDE_H
#define RB_STAGED_STRIDE_H

#define RB_STAGED_STRIDE_MIN(dp) (((dp) + 3) & ~3)
#define RB_STAGED_STRIDE(dp, K, G)                                                               \
    (((K) % 2 == 0 || (G) >= 32 || (K) * (G) % 32 % 4 != 0)                                      \
         ? RB_STAGED_STRIDE_MIN(dp)                                                              \
         : RB_STAGED_STRIDE_MIN(dp) + ((K) * (G) % 32 - RB_STAGED_STRIDE_MIN(dp) % 32 + 32) % 32)

#endif
