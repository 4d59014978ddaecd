/* wg_layout.h: where P lives in shared memory for the wgmma route of the tensor-core
 * TurboQuant-dense kernel (kernels/dense_wgmma.cuh), where each wgmma's descriptor starts, and
 * the address a descriptor names for an operand element in the two 128-byte-swizzled forms the
 * kernel uses, so that a CPU test (tests/test_wg_layout.c) can check that the descriptors read
 * P where the kernel wrote it.
 *
 * P (fp16, d x d, columns in dense_tc.cuh's permuted order): bands of 64 columns, band b holding
 * rows 0..d-1 at 128 bytes each, the 16-byte chunk c of row r at chunk position c ^ (r & 7). */
#ifndef RB_WG_LAYOUT_H
#define RB_WG_LAYOUT_H

#include "rb_hd.h"

#define RB_WG_SBO 1024u /* 8 rows of 128 bytes: the stride between 8-row groups in both forms */

/* Byte offset of column L of row r of P (from a 1024-byte-aligned base). */
RB_HD uint32_t rb_wg_off(int d, int r, int L)
{
    return (uint32_t)((L >> 6) * d * 128 + r * 128 + ((((L >> 3) & 7) ^ (r & 7)) << 4) + (L & 7) * 2);
}

/* The hardware's 128-byte swizzle of a shared-memory byte address: bits 4-6 XOR bits 7-9. */
RB_HD uint32_t rb_wg_swizzle(uint32_t a) { return a ^ (((a >> 7) & 7u) << 4); }

/* The unswizzled address of B[k][n] (k < 16) of one wgmma: K-major (k contiguous, rows of n
 * 128 bytes apart, 8-row groups sbo apart), or MN-major (n contiguous, 64 n per 128-byte row, k
 * rows 128 bytes apart, 8-row groups of k sbo apart, 64-column groups lbo apart). */
RB_HD uint32_t rb_wg_kmajor(uint32_t start, uint32_t sbo, int k, int n)
{
    return start + (uint32_t)(n >> 3) * sbo + (uint32_t)(n & 7) * 128u + (uint32_t)k * 2u;
}
RB_HD uint32_t rb_wg_mnmajor(uint32_t start, uint32_t lbo, uint32_t sbo, int k, int n)
{
    return start + (uint32_t)(n >> 6) * lbo + (uint32_t)(k >> 3) * sbo + (uint32_t)(k & 7) * 128u + (uint32_t)(n & 63) * 2u;
}

/* Start offsets of the kernel's descriptors: Y = Xb P^T's k-step s for the n (rows of P) from
 * n0, K-major with stride RB_WG_SBO; Xh = Yh P's k-step s (rows 16 s .. of P) for the columns
 * from n0 (a multiple of 64), MN-major with leading offset rb_wg_lbo(d) and stride RB_WG_SBO. */
RB_HD uint32_t rb_wg_y_start(int d, int s, int n0) { return (uint32_t)((s >> 2) * d * 128 + n0 * 128 + (s & 3) * 32); }
RB_HD uint32_t rb_wg_x_start(int d, int s, int n0) { return (uint32_t)((n0 >> 6) * d * 128 + s * 2048); }
RB_HD uint32_t rb_wg_lbo(int d) { return (uint32_t)d * 128u; }

#endif
