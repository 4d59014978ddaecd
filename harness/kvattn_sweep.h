/* kvattn_sweep.h: the sweep of a config's "kv_attention" (docs/config-format.md): its caches
 * (synthetic from the seed, or K, V and q files paired row by row), checked against memory
 * before any work; per shape the fp32 reference, the fp16 cache and every (rotation method,
 * bits, norm dtype) through the backend's kv_attention hook, each a record ("path":
 * "attention") with the metrics against the reference. */
#ifndef RB_KVATTN_SWEEP_H
#define RB_KVATTN_SWEEP_H

#include <stdint.h>
#include <stdio.h>

#include "results.h"

/* What the sweep will do, known once its inputs are checked: the records it makes and the FNV-1a
 * hash of its K, V and q files' contents (0 for synthetic caches), which --resume must match. */
typedef struct {
    int nrecords;
    uint64_t files_hash;
} rb_kva_plan;

/* The inputs (files opened and checked, d agreeing), the shapes against them, host memory and
 * (be->kv_fits, where the backend has one) the memory the backend's kernels need for the largest
 * setting: 0 with *plan filled, or -1 with one line in err. The driver asks it before any work. */
int rb_kvattn_check(const rb_config *cfg, rb_backend *be, rb_kva_plan *plan, char *err, size_t len);

/* Where the records go. put takes each record in the sweep's order, reused when it is done's
 * (0: go on; any other value stops the sweep, which returns it). done (or NULL) gives the record
 * an earlier run made with the same key (--resume): the sweep hands that to put instead of
 * computing it, and a shape whose records are all done is not even generated. */
typedef struct {
    int (*put)(void *ctx, const rb_record *r, int reused);
    const rb_record *(*done)(void *ctx, const rb_record *key);
    void *ctx;
} rb_kva_sink;

/* 0 done, 1 a run-time failure, 2 a bad input (one line on stderr, before any work), or what
 * sink->put returned to stop it. */
int rb_kvattn_sweep(const rb_config *cfg, rb_backend *b, const rb_kva_sink *sink);

/* The attention records of run as a Markdown table. */
void rb_kvattn_print_markdown(const rb_run *run, FILE *out);

#endif
