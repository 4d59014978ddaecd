/* TQ-WHT's half-group shared-memory layout (kernels/common/wht_half.h): one word per value, and
 * the accesses the kernel makes meet no bank conflict. */
#include <string.h>

#include "check.h"
#include "wht_half.h"

TEST(wht_half_layout_is_conflict_free)
{
    static const int shapes[][2] = {{4, 4}, {2, 8}}; /* NV, VW: fp32 and fp16 at d = 512 */
    for (int s = 0; s < 2; s++) {
        const int NV = shapes[s][0], VW = shapes[s][1], W = RB_WHT_HALF_WORDS(NV, VW);
        static unsigned char used[4096];
        memset(used, 0, sizeof used);
        int dup = 0, out = 0;
        for (int i = 0; i < NV; i++)
            for (int l = 0; l < 32; l++)
                for (int e = 0; e < VW; e++) {
                    const int w = RB_WHT_HALF_WORD(VW, i, l, e);
                    out += w < 0 || w >= W;
                    if (w >= 0 && w < W)
                        dup += used[w]++ > 0;
                }
        CHECK(out == 0 && dup == 0 && W <= 4096, "VW %d: %d words out of range, %d shared", VW, out, dup);
        /* scalar reads: lane L reads (i, 16 h + g, e) for g = 0..15 */
        int bad_reads = 0;
        for (int g = 0; g < 16; g++) {
            int seen[32] = {0}, n = 0;
            for (int L = 0; L < 32; L++) {
                const int e = L % VW, h = (L / VW) % 2, i = L / (2 * VW);
                const int b = RB_WHT_HALF_WORD(VW, i, 16 * h + g, e) % 32;
                n += !seen[b];
                seen[b] = 1;
            }
            bad_reads += n != 32;
        }
        CHECK(bad_reads == 0, "VW %d: %d of 16 scalar reads meet fewer than 32 banks", VW, bad_reads);
        /* 16-byte accesses of the load layout: each quarter-warp covers 32 banks once */
        int bad_quads = 0;
        for (int i = 0; i < NV; i++)
            for (int e = 0; e < VW; e += 4)
                for (int q = 0; q < 4; q++) {
                    int seen[32] = {0}, n = 0;
                    for (int l = 8 * q; l < 8 * q + 8; l++) {
                        const int w = RB_WHT_HALF_WORD(VW, i, l, e);
                        bad_quads += w % 4 != 0;
                        for (int k = 0; k < 4; k++) {
                            n += !seen[(w + k) % 32];
                            seen[(w + k) % 32] = 1;
                        }
                    }
                    bad_quads += n != 32;
                }
        CHECK(bad_quads == 0, "VW %d: %d quarter-warp quad accesses conflict or are misaligned", VW, bad_quads);
    }
    /* the layout ncu measured at fp16 (8 values per lane stored contiguously, 2 x 16 bytes):
     * a quarter-warp's first quads then span 256 bytes, two per bank group */
    int seen[32] = {0}, n = 0;
    for (int l = 0; l < 8; l++)
        for (int k = 0; k < 4; k++) {
            n += !seen[(8 * l + k) % 32];
            seen[(8 * l + k) % 32] = 1;
        }
    CHECK(n == 16, "the contiguous fp16 layout met %d banks", n);
}
