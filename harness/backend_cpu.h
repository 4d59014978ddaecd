/* backend_cpu.h: the CPU backend's state, for the files that make up the backend
 * (backend_cpu.c; hqmq_cpu.c: HQMQ's run). Timing is measure_cpu.h's. */
#ifndef RB_BACKEND_CPU_H
#define RB_BACKEND_CPU_H

#include "backend.h"

typedef struct {
    int d;
    long N;
    rb_dtype dtype;
    float *x, *xh;
    rb_row_stats *rows;
} rb_cpu_state;

/* The metrics of x against xh into rec->m (a fixed summation order: bit-stable results). */
void rb_cpu_metrics(rb_cpu_state *s, rb_record *rec);
/* An encode or decode setting (rec->path, rec->kv_norm) of a packing method (kvpath_cpu.c). */
int rb_cpu_run_kvpath(rb_backend *b, const rb_qdq_params *p, rb_record *rec);

#endif
