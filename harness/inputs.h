/* inputs.h: the data sets of a sweep. Each input of the config (distribution) gives data sets:
 * a synthetic one, one per (d, N) of the config; a file, one per slice of its split axis (or
 * one), with d and N from the file and its rows option. Files are opened, checked and hashed
 * before any work: a bad file or a d that a listed method cannot take is one line and exit 2. */
#ifndef RB_INPUTS_H
#define RB_INPUTS_H

#include <stddef.h>

#include "config.h"
#include "tensor_file.h"

typedef struct {
    int dist;     /* index into cfg->dists */
    int d;
    long N;
    rb_dtype dtype;
    int slice;    /* index along the file's split axis, or -1 */
} rb_dataset;

typedef struct {
    int n;
    rb_dataset *sets;
    rb_tensor_file files[RB_MAX_DISTS];
    rb_tensor_file vfiles[RB_MAX_DISTS]; /* a file input's paired values (distribution.values), or none */
    rb_tensor_file qfile; /* "queries": {"kind": "file"} */
} rb_inputs;

/* Open the config's files (filling their file_* fields), check them against the config and
 * list the data sets. 0, or -1 with one line in err. */
int rb_inputs_open(rb_config *cfg, rb_inputs *in, char *err, size_t errlen);
void rb_inputs_close(rb_inputs *in);

/* A file data set's rows, as floats (x holds N d): the slice's rows, then the rows option
 * (the first N, or a sample of N without replacement seeded by the config's seed, kept in file
 * order). 0, or -1 with one line in err. */
int rb_inputs_rows(const rb_config *cfg, const rb_inputs *in, const rb_dataset *ds, float *x, char *err,
                   size_t errlen);

/* A file data set's paired values (distribution.values), the rows rb_inputs_rows takes of the
 * keys, from the values' tensor (same shape, checked at open). 0, or -1 with one line in err. */
int rb_inputs_values(const rb_config *cfg, const rb_inputs *in, const rb_dataset *ds, float *v, char *err,
                     size_t errlen);

/* The config's queries for a data set, cfg->q_count x d floats into q (attention.h):
 * gaussian: N(0, 1) entries from the seed; held-out: rows of the same input that are not keys
 * (a synthetic input drawn again with another seed; a file's rows right after the first N it
 * takes); file: the first q_count rows of the queries' tensor. 0, or -1 with one line in err. */
int rb_inputs_queries(const rb_config *cfg, const rb_inputs *in, const rb_dataset *ds, float *q, char *err,
                      size_t errlen);

/* How a data set's rows were chosen, for records: "all", "first 4096", "sample 4096 (seed 7)". */
void rb_inputs_rows_text(const rb_data_dist *dd, char *buf, size_t n);

#endif
