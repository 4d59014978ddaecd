/* TQ-WHT's lane-group shared-memory layout (kernels/common/wht_smem.h): one word per value, and
 * the kernel's accesses meet no bank conflict (the 16-byte ones from G = 8 lanes a row up). */
#include <string.h>

#include "check.h"
#include "wht_smem.h"

/* Wavefronts of a quarter-warp's 16-byte accesses at words w[0..7]: the most quads that share
 * a bank group. */
static int quad_wavefronts(const int *w)
{
    int most = 0;
    for (int k = 0; k < 8; k++) {
        int n = 0;
        for (int j = 0; j < 8; j++)
            n += w[j] % 32 / 4 == w[k] % 32 / 4 && w[j] / 4 != w[k] / 4 ? 1 : 0;
        most = n + 1 > most ? n + 1 : most;
    }
    return most;
}

TEST(wht_smem_layout_is_conflict_free)
{
    /* every shape RbkWhtSmem::ON admits: G = 4..16, VW = 4 or 8, G >= VW, G <= NV VW <= 32 */
    int shapes = 0;
    for (int VW = 4; VW <= 8; VW *= 2)
        for (int G = 4; G <= 16; G *= 2)
            for (int NV = 1; NV * VW <= 32; NV *= 2) {
                if (G < VW || NV * VW < G)
                    continue;
                shapes++;
                const int S = RB_WHT_SMEM_S(G, NV, VW), T = NV * VW / G;
                static unsigned char used[4096];
                memset(used, 0, sizeof used);
                int dup = 0, out = 0, misaligned = 0;
                for (int i = 0; i < NV; i++)
                    for (int l = 0; l < G; l++)
                        for (int e = 0; e < VW; e++) {
                            const int w = RB_WHT_SMEM_WORD(G, VW, i, l, e);
                            out += w < 0 || w >= S;
                            misaligned += e % 4 == 0 && w % 4 != 0;
                            if (w >= 0 && w < S)
                                dup += used[w]++ > 0;
                        }
                CHECK(out == 0 && dup == 0 && misaligned == 0 && S % 4 == 0 && S <= 4096,
                      "G %d NV %d VW %d: %d words out of range, %d shared, %d quads misaligned, S %d", G, NV, VW,
                      out, dup, misaligned, S);
                /* the lane stages' scalar loads and stores: 32 lanes, 32 banks */
                int bad_scalar = 0;
                for (int t = 0; t < T; t++)
                    for (int g = 0; g < G; g++) {
                        int seen[32] = {0}, n = 0;
                        for (int L = 0; L < 32; L++) {
                            const int b = ((L / G) * S + RB_WHT_SMEM_LANE_WORD(G, VW, L % G, t, g)) % 32;
                            n += !seen[b];
                            seen[b] = 1;
                        }
                        bad_scalar += n != 32;
                    }
                CHECK(bad_scalar == 0, "G %d NV %d VW %d: %d of %d scalar accesses meet fewer than 32 banks", G,
                      NV, VW, bad_scalar, T * G);
                /* the load layout's 16-byte stores and loads: one wavefront a quarter-warp from
                 * G = 8 up; at G = 4 the two rows of a quarter-warp meet (the header says why) */
                int waves = 0, accesses = 0;
                for (int i = 0; i < NV; i++)
                    for (int e = 0; e < VW; e += 4)
                        for (int q = 0; q < 4; q++) {
                            int w[8];
                            for (int j = 0; j < 8; j++) {
                                const int L = 8 * q + j;
                                w[j] = (L / G) * S + RB_WHT_SMEM_WORD(G, VW, i, L % G, e);
                            }
                            waves += quad_wavefronts(w);
                            accesses++;
                        }
                CHECK(waves == (G >= 8 ? 1 : 2) * accesses, "G %d NV %d VW %d: %d wavefronts for %d quad accesses",
                      G, NV, VW, waves, accesses);
            }
    CHECK(shapes == 14, "%d shapes", shapes);
    /* the layout ncu measured (fp16, G = 8, NV = 2: a lane's 8 values contiguous): two
     * wavefronts a quarter-warp, which the model above must see */
    int w[8];
    for (int j = 0; j < 8; j++)
        w[j] = 8 * j;
    CHECK(quad_wavefronts(w) == 2, "the contiguous fp16 layout: %d wavefronts", quad_wavefronts(w));
}
