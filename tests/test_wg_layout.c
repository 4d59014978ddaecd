/* The wgmma route's layout of P (kernels/common/wg_layout.h): every element has its own two bytes,
 * and the descriptors the kernel builds name, for every element of every wgmma, the bytes where
 * the kernel wrote that element of P, under the 128-byte swizzle, in both forms it uses. */
#include <string.h>

#include "check.h"
#include "wg_layout.h"

TEST(wg_layout_descriptors_read_what_the_kernel_wrote)
{
    static const int dims[] = {128, 256};
    static unsigned char used[256 * 256];
    for (int di = 0; di < 2; di++) {
        const int d = dims[di];
        memset(used, 0, sizeof used);
        long out = 0, dup = 0, odd = 0;
        for (int r = 0; r < d; r++)
            for (int L = 0; L < d; L++) {
                const uint32_t o = rb_wg_off(d, r, L);
                odd += o & 1u;
                if (o >= (uint32_t)(d * d * 2)) {
                    out++;
                    continue;
                }
                dup += used[o / 2]++ > 0;
            }
        CHECK(out == 0 && dup == 0 && odd == 0, "d=%d: %ld offsets out of range, %ld shared, %ld odd", d, out, dup, odd);
        /* the layout is the swizzle of a plain banded one: what the hardware's XOR does */
        long unswz = 0;
        for (int r = 0; r < d; r++)
            for (int L = 0; L < d; L++)
                unswz += rb_wg_off(d, r, L) != rb_wg_swizzle((uint32_t)((L >> 6) * d * 128 + r * 128 + (L & 63) * 2));
        CHECK(unswz == 0, "d=%d: %ld offsets are not the 128-byte swizzle of the banded layout", d, unswz);
        /* Y = Xb P^T: B[k][n] = P[n0 + n][16 s + k], K-major, n0 per 64-row group (both halves of a
         * 128-column chunk); Xh = Yh P: B[k][n] = P[16 s + k][n0 + n], MN-major */
        long bad_y = 0, bad_x = 0, tried = 0;
        for (int s = 0; s < d / 16; s++)
            for (int n0 = 0; n0 < d; n0 += 64)
                for (int k = 0; k < 16; k++)
                    for (int n = 0; n < 64; n++, tried++) {
                        const uint32_t ay = rb_wg_swizzle(rb_wg_kmajor(rb_wg_y_start(d, s, n0), RB_WG_SBO, k, n));
                        bad_y += ay != rb_wg_off(d, n0 + n, 16 * s + k);
                        const uint32_t ax =
                            rb_wg_swizzle(rb_wg_mnmajor(rb_wg_x_start(d, s, n0), rb_wg_lbo(d), RB_WG_SBO, k, n));
                        bad_x += ax != rb_wg_off(d, 16 * s + k, n0 + n);
                    }
        CHECK(bad_y == 0 && bad_x == 0, "d=%d: of %ld operand elements, %ld (Y) and %ld (Xh) read elsewhere", d,
              tried, bad_y, bad_x);
        /* and a wrong stride would be caught: the MN-major form with the bands' stride as SBO */
        long wrong = 0;
        for (int k = 8; k < 16; k++)
            wrong += rb_wg_swizzle(rb_wg_mnmajor(rb_wg_x_start(d, 0, 0), RB_WG_SBO, rb_wg_lbo(d), k, 0)) !=
                     rb_wg_off(d, k, 0);
        CHECK(wrong == 8, "d=%d: swapped strides read the right bytes (%ld of 8 differ)", d, wrong);
    }
}
