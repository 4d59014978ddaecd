/* kvattn_sweep.h: the sweep of a config's "kv_attention" (docs/config-format.md): its caches
 * (synthetic from the seed, or K, V and q files paired row by row), checked against memory
 * before any work; per shape the fp32 reference, the fp16 cache and every (rotation method,
 * bits, norm dtype) through the backend's kv_attention hook, each a record ("path":
 * "attention") with the metrics against the reference. */
#ifndef RB_KVATTN_SWEEP_H
#define RB_KVATTN_SWEEP_H

#include <stdio.h>

#include "results.h"

/* The inputs (files opened and checked, d agreeing), the shapes against them and host memory:
 * 0, or -1 with one line in err. The driver asks it before any work. */
int rb_kvattn_check(const rb_config *cfg, char *err, size_t len);

/* Hands each record to sink (0: go on). 0 done, 1 a run-time failure, 2 a bad input (one line
 * on stderr, before any work). */
typedef int (*rb_kva_sink)(void *ctx, const rb_record *r);
int rb_kvattn_sweep(const rb_config *cfg, rb_backend *b, rb_kva_sink sink, void *ctx);

/* The attention records of run as a Markdown table. */
void rb_kvattn_print_markdown(const rb_run *run, FILE *out);

#endif
