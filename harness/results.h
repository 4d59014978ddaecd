/* results.h: one run's records, written as JSON (everything), CSV (a row per setting, units
 * in the column names) and a Markdown table on stdout. Files go to a temporary name first and
 * are renamed, so a crash never leaves a half-written result. */
#ifndef RB_RESULTS_H
#define RB_RESULTS_H

#include <stdio.h>

#include "backend.h"

typedef struct {
    const rb_config *cfg;
    const char *backend;
    cJSON *machine;     /* from backend->describe */
    int argc;
    char **argv;
    rb_record *recs;
    int nrecs;
    const char *notes[8];
    int nnotes;
} rb_run;

/* speedup = baseline median / record median for records sharing (variant, d, bits, dtype, N). */
void rb_results_speedups(rb_run *run);
int rb_results_write_json(const rb_run *run, const char *path);
int rb_results_write_csv(const rb_run *run, const char *path);
void rb_results_print_markdown(const rb_run *run, FILE *out);
/* The packed KV cache's bytes per token per method (kvtable.c); nothing unless the config's
 * paths include encode or decode. */
void rb_results_print_kv_bytes(const rb_run *run, FILE *out);
/* For structured or file inputs and attention metrics: relative error, inner-product error and
 * attention agreement against the stored bits per coordinate, a row per record. */
void rb_results_print_quality(const rb_run *run, FILE *out);
/* The paper's Table 2 layout for one variant, the paper's numbers beside ours. */
int rb_paper_table_print(const rb_run *run, const char *variant, FILE *out);
/* 1 when the run has records other than decode attention's (whose table is kvattn_sweep.h's). */
int rb_results_has_qdq_records(const rb_run *run);

/* HQMQ's operating point as results name it ("s96_r4", "s192_r6+med3+sigma-inliers"); "" for
 * the other methods. */
void rb_record_op(const rb_record *r, char *buf, size_t n);

/* The record's % of copy (pct_of_copy_bw): bytes / time over the copy's bytes moved (read +
 * written) / its time; 0 without a copy time (the CPU). */
double rb_record_pct_of_copy(const rb_record *r);

/* The record's input as tables and the CSV name it: "sphere", "lowrank", "k.npy[3]". */
void rb_record_input(const rb_config *cfg, const rb_record *r, char *buf, size_t n);

/* A Markdown row's optional cells, each with its trailing " |", or "" where the table has no such
 * column: "% copy" (gpu), and the input (inputs). pct holds 32 chars, input 160. */
void rb_record_md_cells(const rb_config *cfg, const rb_record *r, int gpu, int inputs, char pct[32], char input[160]);

/* One record as JSON, and back (the .jsonl progress log of a sweep holds these). */
cJSON *rb_record_to_json(const rb_record *r, const rb_config *cfg);
int rb_record_from_json(const cJSON *o, rb_record *r);

/* The environment knobs read into the process's run options (run_options.h) and checked: 0, or
 * -1 with one line naming the knob and what it accepts in err. */
int rb_run_knobs_check(char *err, size_t errlen);

/* The environment variables set that change results, "NAME=value;..." ("" when none): recorded
 * in the result file and part of the hash --resume matches. */
const char *rb_run_knobs(void);

/* Write text to path through path.tmp + rename. 0 on success, message on stderr otherwise. */
int rb_write_file_atomic(const char *path, const char *text, size_t len);

#endif
