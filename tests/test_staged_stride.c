/* The staged path's row stride (kernels/common/staged_stride.h): long enough, quad-aligned, and
 * for odd K with 4..16 lanes per row the 32 lanes of a warp meet 32 different banks. */
#include "check.h"
#include "staged_stride.h"

/* Lane l of row r touches word r * stride + K * l (+ a constant): banks of one warp. */
static int distinct_banks(int stride, int K, int G)
{
    int seen[32] = {0}, n = 0;
    for (int r = 0; r < 32 / G; r++)
        for (int l = 0; l < G; l++) {
            const int b = (r * stride + K * l) % 32;
            n += !seen[b];
            seen[b] = 1;
        }
    return n;
}

TEST(staged_stride_is_conflict_free)
{
    for (int K = 1; K <= 7; K++)
        for (int G = 2; G <= 32; G *= 2) {
            int bad = 0, first = 0, conflicts = 0, firstc = 0;
            for (int d = 8; d <= 1024; d++) {
                const int dp = (d + K - 1) / K * K, s = RB_STAGED_STRIDE(dp, K, G);
                if (!(s >= dp && s % 4 == 0 && s < dp + 36) && !bad++)
                    first = d;
                if (K % 2 == 1 && G >= 4 && distinct_banks(s, K, G) != 32 && !conflicts++)
                    firstc = d;
            }
            CHECK(bad == 0, "K %d G %d: %d strides out of range, first at d = %d", K, G, bad, first);
            CHECK(conflicts == 0, "K %d G %d: %d strides with bank conflicts, first at d = %d", K, G,
                  conflicts, firstc);
        }
    /* the shape ncu measured (RotorQuant fp16 d = 128, 8 lanes per row): 132 met in 8 banks */
    CHECK(RB_STAGED_STRIDE(129, 3, 8) == 152, "stride %d", RB_STAGED_STRIDE(129, 3, 8));
    CHECK(distinct_banks(132, 3, 8) < 32, "132 was conflict-free after all");
    CHECK(RB_STAGED_STRIDE(129, 4, 8) == 132, "even K keeps the plain rounding");
}
