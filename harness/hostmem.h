/* hostmem.h: host memory checked before the CPU backend allocates a batch, so an N too large
 * for this machine fails with one line giving the bytes needed and available instead of an
 * OOM kill (Linux overcommits: malloc rarely says no) halfway through a sweep. */
#ifndef RB_HOSTMEM_H
#define RB_HOSTMEM_H

#include <stddef.h>

#include "config.h"

/* Left for the stack, the rotations, cuRAND and everything else the process holds. */
#define RB_HOSTMEM_MARGIN (64.0 * 1024 * 1024)

/* Bytes the kernel says can be allocated without swapping: /proc/meminfo MemAvailable, else
 * free pages (sysconf). 0 when neither is known. */
double rb_hostmem_available(void);

/* What the CPU backend's load_data allocates for (d, N): the input, the output, one
 * rb_row_stats per row. Doubles, so an absurd N cannot overflow. */
double rb_cpu_load_bytes(int d, long N);

/* 0 when the CPU backend's buffers for (d, N, dtype) fit in available host memory (or it is
 * unknown); otherwise -1 with one line in msg (no newline) naming the bytes needed and
 * available. */
int rb_cpu_load_check(int d, long N, rb_dtype dtype, char *msg, size_t msglen);

#endif
