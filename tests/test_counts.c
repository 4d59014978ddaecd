/* The FMA and parameter formulas reproduce the paper's Table 1 (results/paper/). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "methods.h"
#include "config.h"
#include "counts.h"

TEST(fma_and_params_match_paper_table1)
{
    FILE *f = fopen("results/paper/isoquant_table1.csv", "r");
    CHECK(f != NULL, "cannot open results/paper/isoquant_table1.csv (run from the repo root)");
    if (!f)
        return;
    /* Table 1's names: the registry's paper names (TurboQuant's row is the dense rotation) */
    const struct { const char *paper; rb_method m; } names[] = {
        {"TurboQuant", method_id("turboquant-dense")}, {"RotorQuant", rb_method_find_paper("RotorQuant")},
        {"IsoQuant-2D", rb_method_find_paper("IsoQuant-2D")}, {"IsoQuant-Full", rb_method_find_paper("IsoQuant-Full")},
        {"IsoQuant-Fast", rb_method_find_paper("IsoQuant-Fast")},
    };
    char line[512];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || !strncmp(line, "method,", 7))
            continue;
        char name[64], structure[64];
        long params, fmas;
        if (sscanf(line, "%63[^,],%63[^,],%ld,%ld", name, structure, &params, &fmas) != 4)
            continue;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (!strcmp(name, names[i].paper)) {
                rows++;
                CHECK(rb_nominal_fma(names[i].m, 128) == fmas, "%s FMA %ld, paper %ld", name,
                      rb_nominal_fma(names[i].m, 128), fmas);
                CHECK(rb_param_count(names[i].m, 128) == params, "%s params %ld, paper %ld", name,
                      rb_param_count(names[i].m, 128), params);
            }
    }
    fclose(f);
    CHECK(rows == 5, "found %d of the 5 Table 1 rows", rows);
}

TEST(counts_scale_with_d)
{
    CHECK(rb_nominal_fma(method_id("turboquant-wht"), 128) == 896, "WHT 128: %ld", rb_nominal_fma(method_id("turboquant-wht"), 128));
    CHECK(rb_nominal_fma(method_id("rotorquant"), 256) == 56 * 86, "rotor 256");
    CHECK(rb_nominal_fma(method_id("isoquant-full"), 130) == 32 * 33, "iso-full pads");
    CHECK(rb_param_count(method_id("turboquant-dense"), 512) == 512L * 512, "dense params");
    CHECK_NEAR(rb_bits_per_coord(method_id("isoquant-fast"), 128, 3), 3 + 16.0 / 128, 1e-12);
    /* 2 x 129 code bits round up to 9 words: 36 bytes + a 2-byte norm */
    CHECK_NEAR(rb_bits_per_coord(method_id("rotorquant"), 128, 2), 8.0 * (36 + 2) / 128, 1e-12);
}
