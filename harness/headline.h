/* headline.h: `rotorbench headline RESULT.json ...` prints the README's first table from
 * committed result files: one row per method at d = 128, 3 bits (HQMQ: its s24_r3 point), with
 *   - MSE over the Lloyd-Max prediction (N = 2^20, fp16, fast),
 *   - relative error on the file input of a structure run (fp32, fast), one value per slice,
 *   - % of the D2D copy rate at N = 2^20, fp16 and fp32 (fast, hot median),
 *   - the fp16 fast kernel's hot median in us and the `paper` variant's time over it,
 * then one line naming each file's device and git revision. Methods are listed in the order
 * they first appear across the files, so the registry's order when a full sweep comes first.
 * A cell no file can fill prints as "–". Exit status 0, or 2 with one line for a bad argument
 * or file (missing, not JSON, no records) or when no file has a single matching record. */
#ifndef RB_HEADLINE_H
#define RB_HEADLINE_H

#include <stdio.h>

/* argv[0] = "headline". Table to stdout, messages to stderr. */
int rb_headline_main(int argc, char **argv);

/* The same, with the table written to out and messages to err (for tests). */
int rb_headline_run(int argc, char **argv, FILE *out, FILE *err);

#endif
