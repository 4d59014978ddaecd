/* compare.h: the regression gate. `rotorbench compare BASE.json NEW.json [--time-tol 0.05]`
 * matches the records of two result files by (method, variant, d, bits, dtype, N, codebook; for
 * decode attention also B, H, kv_heads, T, split, input and norms), prints a Markdown table and
 * exits
 *   0  nothing got worse,
 *   1  an MSE changed (relative difference > 1e-6; null on one side only counts too; decode
 *      attention, which has none: max_rel_err, out_cos, KL, top-1 or top-5 by the same rule), a
 *      setting got slower by more than max(time-tol, 3 x the larger relative noise of the two),
 *      no setting matched, or a setting of BASE is missing from NEW (unless --allow-missing),
 *   2  a bad argument or a bad file (missing, not JSON, no records).
 * Timings are compared only when both files come from the same backend and the same device
 * (named on one line of the report); CPU wall-clock times only with --cpu-times. Otherwise
 * only the MSEs are. Settings only in NEW are listed, not failed. A SLOWER setting whose hot
 * samples ran at an SM clock RB_COMPARE_CLOCK_DROP or more below the base's (time.hot_sm_clock_khz
 * in both files) stays SLOWER, and the report says so. */
#ifndef RB_COMPARE_H
#define RB_COMPARE_H

#include <stdio.h>

#define RB_COMPARE_MSE_RTOL 1e-6
#define RB_COMPARE_CLOCK_DROP 0.05

/* argv[0] = "compare". Prints to stdout / stderr. */
int rb_compare_main(int argc, char **argv);

/* The same, with the report written to out and messages to err (for tests). */
int rb_compare_run(int argc, char **argv, FILE *out, FILE *err);

#endif
