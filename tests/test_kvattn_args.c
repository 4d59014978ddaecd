/* Decode attention's argument checks and counts (kernels/common/kvattn.h), without a GPU: the
 * shapes the kernels refuse (and the launchers refusing them before any CUDA call), the
 * workspace and cache byte counts, the default split, the runs of codes the kernels read. */
#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "kvattn.h"

static int dummy;

/* A shape the compressed kernels take: B = 2, 8 query heads over 2 kv heads, T = 1000, d = 128,
 * 3 bits, fp16 norms; every pointer non-NULL (never dereferenced: nothing launches). */
static rb_kvattn_args good(void)
{
    rb_kvattn_args a = {.B = 2, .Hq = 8, .Hkv = 2, .T = 1000, .d = 128, .dpad = 128, .split = 64,
                        .scale = 0.08838834764831845f, .bits = 3, .norm_kind = RB_KV_NORM_FP16,
                        .kcodes = &dummy, .vcodes = &dummy, .knorms = &dummy, .vnorms = &dummy,
                        .centroids = (const float *)&dummy, .k16 = &dummy, .v16 = &dummy,
                        .q = (const float *)&dummy, .o = (float *)&dummy, .work = &dummy};
    return a;
}

TEST(kvattn_args_refused)
{
    rb_kvattn_args a = good();
    CHECK(rb_kvattn_unsupported(&a, 0) == NULL, "a good shape refused: %s", rb_kvattn_unsupported(&a, 0));
    CHECK(rb_kvattn_unsupported(&a, 1) == NULL, "a good fp16 shape refused: %s", rb_kvattn_unsupported(&a, 1));
    struct {
        const char *what;
        int field, value, fp16;
    } bad[] = {
        {"heads not a multiple of kv_heads", 0, 7, 0}, {"16 query heads per kv head", 1, 16, 0},
        {"bits 0", 2, 0, 0},  {"bits 9", 2, 9, 0},  {"dpad 257", 3, 257, 0}, {"dpad below d", 3, 96, 0},
        {"split 0", 4, 0, 0}, {"T 0", 5, 0, 0},     {"norm kind 7", 6, 7, 0}, {"fp16 d 258", 7, 258, 1},
        {"B 0", 8, 0, 1},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        a = good();
        switch (bad[k].field) {
        case 0: a.Hq = bad[k].value; break;
        case 1: a.Hq = bad[k].value * a.Hkv; break;
        case 2: a.bits = bad[k].value; break;
        case 3: a.dpad = bad[k].value; break;
        case 4: a.split = bad[k].value; break;
        case 5: a.T = bad[k].value; break;
        case 6: a.norm_kind = bad[k].value; break;
        case 7: a.d = a.dpad = bad[k].value; break;
        default: a.B = bad[k].value; break;
        }
        CHECK(rb_kvattn_unsupported(&a, bad[k].fp16) != NULL, "%s: not refused", bad[k].what);
        const int e = bad[k].fp16 ? rb_kvattn_fp16_launch(&a, NULL) : rb_kvattn_launch(&a, NULL);
        CHECK(e == (int)cudaErrorInvalidValue, "%s: the launcher returned %d", bad[k].what, e);
    }
    a = good();
    a.knorms = NULL;
    CHECK(rb_kvattn_unsupported(&a, 0) != NULL, "NULL norms with fp16 norms not refused");
    a.norm_kind = RB_KV_NORM_NONE;
    CHECK(rb_kvattn_unsupported(&a, 0) == NULL, "NULL norms without norms refused");
}

TEST(kvattn_counts)
{
    rb_kvattn_args a = good();
    /* q' 2*8*128, (m, l) 2*8*16*2, acc 2*8*16*128 floats: nsplit = ceil(1000 / 64) = 16 */
    CHECK(rb_kvattn_nsplit(1000, 64) == 16, "nsplit %d", rb_kvattn_nsplit(1000, 64));
    CHECK(rb_kvattn_work_bytes(&a) == 4u * (2048 + 512 + 32768), "work bytes %zu", rb_kvattn_work_bytes(&a));
    /* 2*2*1000 rows, K and V, 48 code bytes + 2 norm bytes each; fp16: 256 bytes each */
    CHECK(rb_kvattn_cache_bytes(&a, 0) == 4000.0 * 2 * 50, "cache bytes %.0f", rb_kvattn_cache_bytes(&a, 0));
    CHECK(rb_kvattn_cache_bytes(&a, 1) == 4000.0 * 2 * 256, "fp16 cache bytes %.0f", rb_kvattn_cache_bytes(&a, 1));
    a.bits = 1;
    a.d = a.dpad = 97; /* 97 bits: 4 words */
    CHECK(rb_kvattn_cache_bytes(&a, 0) == 4000.0 * 2 * 18, "odd d cache bytes %.0f", rb_kvattn_cache_bytes(&a, 0));
}

TEST(kvattn_default_split)
{
    /* B = 1, H = 32, T = 32k on 132 SMs, 4 CTAs each: 16 splits of 2048 tokens (512 CTAs, one
     * wave; 17 would leave 16 CTAs for a second wave) */
    CHECK(rb_kvattn_default_split(1, 32, 32768, 132, 4) == 2048, "split %d",
          rb_kvattn_default_split(1, 32, 32768, 132, 4));
    /* 3 CTAs a SM (RotorQuant at 3 bits): 12 splits of 2752 (384 CTAs, one wave of 396 slots) */
    CHECK(rb_kvattn_default_split(1, 32, 32768, 132, 3) == 2752, "split %d",
          rb_kvattn_default_split(1, 32, 32768, 132, 3));
    /* B = 16, H = 32, T = 8k: 512 (b, head) pairs already, one split each, capped at 4096: 2 */
    CHECK(rb_kvattn_default_split(16, 32, 8192, 132, 4) == 4096, "split %d", rb_kvattn_default_split(16, 32, 8192, 132, 4));
    CHECK(rb_kvattn_default_split(1, 1, 1, 132, 4) == 64, "split %d", rb_kvattn_default_split(1, 1, 1, 132, 4));
    CHECK(rb_kvattn_default_split(1, 1, 1 << 30, 132, 4) == 4096, "split %d",
          rb_kvattn_default_split(1, 1, 1 << 30, 132, 4));
    CHECK(rb_kvattn_default_split(1, 32, 32768, 132, 0) == rb_kvattn_default_split(1, 32, 32768, 132, 1),
          "no residency taken as one CTA a SM");
    /* past 4096 tokens a split, B = 1, H = 32 (the cells timed on an H100, docs/PERF.md): at 3 CTAs
     * a SM, 64k in 4096-token splits leaves 116 CTAs for a last wave (one a SM): 24 splits of 2752
     * (768 CTAs, two full waves of 396) instead; 128k leaves 232 (two a SM): 36 of 3648. At 7 CTAs
     * a SM 128k leaves 100: 56 of 2368. At 5 a SM 128k leaves 364 (three a SM) and at 4, 496
     * (four): both keep 4096. */
    static const int cells[5][3] = {{65536, 3, 2752}, {131072, 3, 3648}, {131072, 7, 2368}, {131072, 5, 4096},
                                    {131072, 4, 4096}};
    for (int i = 0; i < 5; i++)
        CHECK(rb_kvattn_default_split(1, 32, cells[i][0], 132, cells[i][1]) == cells[i][2], "T %d, %d CTAs a SM: split %d",
              cells[i][0], cells[i][1], rb_kvattn_default_split(1, 32, cells[i][0], 132, cells[i][1]));
    /* any shape: a multiple of 64 in [64, 4096]; one wave where it fits in 4096-token splits; past
     * that, 4096 unless its last wave has fewer than RB_KVA_TAIL_CTAS CTAs on the busiest SM, and
     * then no more CTAs than the full waves hold */
    for (int T = 1; T <= (1 << 22); T = T * 3 + 7)
        for (int ctas = 1; ctas <= 8; ctas++)
            for (int bh = 1; bh <= 1024; bh *= 4) {
                const int sp = rb_kvattn_default_split(1, bh, T, 132, ctas);
                const long slots = 132L * ctas, per = slots / bh > 0 ? slots / bh : 1;
                const long nsplit = (T + sp - 1) / sp, one = ((T + per - 1) / per + 63) / 64 * 64;
                const long tail = (T + 4095L) / 4096 * bh % slots;
                CHECK(sp >= 64 && sp <= 4096 && sp % 64 == 0, "T %d, %d CTAs a SM, %d heads: split %d", T, ctas, bh, sp);
                if (one <= 4096)
                    CHECK(sp == (one < 64 ? 64 : one), "T %d, %d CTAs a SM, %d heads: split %d, one wave %ld", T, ctas,
                          bh, sp, one);
                else if (tail == 0 || (tail + 131) / 132 >= RB_KVA_TAIL_CTAS)
                    CHECK(sp == 4096, "T %d, %d CTAs a SM, %d heads: split %d, last wave %ld", T, ctas, bh, sp, tail);
                else
                    CHECK(nsplit <= (one + 4095) / 4096 * per, "T %d, %d CTAs a SM, %d heads: %ld splits for %ld waves of %ld",
                          T, ctas, bh, nsplit, (one + 4095) / 4096, per);
            }
}

/* The residency model (an H100's 228 KiB a SM, 1 KiB a CTA, and the register caps) against what
 * an H100 reported for the same kernels (results/h100/kv-537cb26: the "auto" splits of 537cb26
 * at B = 1, H = 32, T = 32k, d = 128): 2 / 3 / 4 bits 8 / 4 / 5 CTAs a SM (26.2, 52.9, 44.9 KB),
 * RotorQuant's 129 coordinates 7 / 3 / 4 (30.5, 61.4, 52.3 KB). The staged fp16 kernel: 4 at
 * d = 128 (51.7 KB, three stages of 8 tokens for each of 4 warps), 2 at d = 256 (103.5 KB), 8 at
 * d = 64 (64 registers); the register kernel at d = 100: 5 (93 registers). */
TEST(kvattn_model_ctas)
{
    rb_kvattn_args a = {.B = 1, .Hq = 32, .Hkv = 32, .T = 32768, .d = 128, .dpad = 128, .bits = 3,
                        .norm_kind = RB_KV_NORM_FP16};
    const int rw = (int)(rb_kv_row_bytes(128, 3) / 4);
    CHECK(4 * rb_kva_smem(3, 4, 1, 128, rw).total == 52928, "3-bit plan %d bytes", 4 * rb_kva_smem(3, 4, 1, 128, rw).total);
    static const int dpads[2] = {128, 129}, want[2][3] = {{8, 4, 5}, {7, 3, 4}}, split[2][3] = {{1024, 2048, 1664},
                                                                                             {1216, 2752, 2048}};
    for (int i = 0; i < 2; i++)
        for (int bits = 2; bits <= 4; bits++) {
            a.dpad = dpads[i];
            a.bits = bits;
            const int n = rb_kvattn_model_ctas(&a, 0);
            CHECK(n == want[i][bits - 2], "dpad %d, %d bits: %d CTAs a SM, the H100 %d", a.dpad, bits, n,
                  want[i][bits - 2]);
            CHECK(rb_kvattn_default_split(a.B, a.Hkv, a.T, RB_KVA_MODEL_SMS, n) == split[i][bits - 2],
                  "dpad %d, %d bits: split %d, the H100's %d", a.dpad, bits,
                  rb_kvattn_default_split(a.B, a.Hkv, a.T, RB_KVA_MODEL_SMS, n), split[i][bits - 2]);
        }
    CHECK(4 * rb_kva_fp16_smem_words(1, 128, 1) == 51744, "staged fp16 plan %d bytes",
          4 * rb_kva_fp16_smem_words(1, 128, 1));
    CHECK(rb_kvattn_model_ctas(&a, 1) == 4, "fp16, d = 128 (shared memory): %d", rb_kvattn_model_ctas(&a, 1));
    CHECK(rb_kvattn_default_split(1, 32, 32768, RB_KVA_MODEL_SMS, 4) == 2048, "fp16 split");
    a.d = 256;
    CHECK(rb_kvattn_model_ctas(&a, 1) == 2, "fp16, d = 256 (shared memory): %d", rb_kvattn_model_ctas(&a, 1));
    a.d = 64;
    CHECK(rb_kvattn_model_ctas(&a, 1) == 8, "fp16, d = 64 (registers): %d", rb_kvattn_model_ctas(&a, 1));
    a.d = 100;
    CHECK(rb_kvattn_model_ctas(&a, 1) == 5, "fp16, d = 100 (the register kernel): %d", rb_kvattn_model_ctas(&a, 1));
    /* grouped heads: four at most, whatever the shared memory */
    a.d = a.dpad = 128;
    a.bits = 2;
    a.Hkv = 16;
    CHECK(rb_kvattn_model_ctas(&a, 0) == 4, "2 query heads a kv head: %d", rb_kvattn_model_ctas(&a, 0));
    /* a plan larger than an SM still counts one CTA, so the split stays defined */
    a.Hkv = 4;
    a.bits = 8;
    a.dpad = 256;
    CHECK(rb_kvattn_model_ctas(&a, 0) >= 1, "8 query heads a kv head at d = 256: %d", rb_kvattn_model_ctas(&a, 0));
}

/* rb_kv_run against rb_kv_get: every run of n consecutive codes (n b <= 64) of rows of random
 * codes, every b in 1..8, widths from 1 to 70 and the kernels' 97, 128, 256; each row at the end
 * of its own allocation of exactly rb_kv_row_bytes, so a read past it shows under make test-asan. */
TEST(kvattn_code_runs)
{
    static const int widths[] = {97, 128, 256};
    uint64_t rs = 0x9E3779B97F4A7C15ull;
    long runs = 0, bad = 0;
    for (int bits = 1; bits <= 8; bits++)
        for (int wi = 0; wi < 70 + 3; wi++) {
            const int dpad = wi < 70 ? wi + 1 : widths[wi - 70];
            const long nwords = rb_kv_row_bytes(dpad, bits) / 4;
            uint32_t *row = calloc((size_t)nwords, sizeof *row);
            for (int j = 0; j < dpad; j++) {
                rs = rs * 6364136223846793005ull + 1442695040888963407ull;
                rb_kv_put(row, j, bits, (unsigned)(rs >> 33) & ((1u << bits) - 1u));
            }
            for (int j0 = 0; j0 < dpad; j0++)
                for (int n = 1; n * bits <= 64 && j0 + n <= dpad; n++) {
                    const uint64_t v = rb_kv_run(row, j0, n, bits);
                    int ok = n * bits == 64 || (v >> (n * bits)) == 0;
                    for (int i = 0; i < n; i++)
                        ok &= (unsigned)(v >> (i * bits) & ((1u << bits) - 1u)) == rb_kv_get(row, j0 + i, bits);
                    runs++;
                    bad += !ok;
                }
            free(row);
        }
    CHECK(bad == 0, "%ld of %ld runs differ from rb_kv_get", bad, runs);
}
