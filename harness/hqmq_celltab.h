/* hqmq_celltab.h: the cell table of HQMQ's cell search (kernels/common/hqmq_cells.h), built on
 * the host in double precision from the secondaries. */
#ifndef RB_HQMQ_CELLTAB_H
#define RB_HQMQ_CELLTAB_H

#include <stddef.h>

#include "hqmq_cells.h"

/* Cells per axis used for S secondaries: 80 (a 16 MB table) for every S. On the H200 at
 * S = 24 / 96 / 192 the lists then average 1.4 / 1.8 / 2.1 codewords, and the longest list in a
 * warp's 32 chunks, which is what a warp pays for, 3.7 / 5.1 / 6.0; G = 64 and 96 were slower
 * (docs/perf-log/2026-11-29-3-third-stop-3e54e36.md, item 3). */
int rb_hqmq_cells_grid(int S);

/* The table for the first S (1..RB_HQMQ_CELL_MAX_S) of qs at G (2..128) cells per axis:
 * G^3 records of RB_HQMQ_CELL_SLOTS uint16 (count or RB_HQMQ_CELL_OVERFLOW, then codeword
 * indices p' S + s, best first), malloc'ed into *tab. stats (optional): [0] cells that overflow,
 * [1] the longest list, [2] the mean list length. 0 on success, -1 on bad arguments or no memory. */
int rb_hqmq_cells_build(const float *qs, int S, int G, unsigned short **tab, double stats[3]);

/* Bytes of the table at G. */
size_t rb_hqmq_cells_bytes(int G);

/* The table for S at *G cells per axis (rb_hqmq_cells_grid(S), written back, when *G < 2),
 * built on the host and copied to new device memory *dev (the caller frees it with cudaFree).
 * 0 on success, -1 when the build fails (arguments, host memory), -2 when the CUDA allocation or
 * copy fails (*dev NULL then). */
int rb_hqmq_cells_upload(const float *qs, int S, unsigned short **dev, int *G);

#endif
