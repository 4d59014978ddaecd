/* kvattn_mem.h: the device memory one decode-attention setting takes, laid out as the GPU
 * backend allocates it (kvattn_gpu.c), so that the check before any work (kvattn_sweep.c,
 * be->kv_fits) and the allocation cannot disagree. Plain C: the CPU tests compute it too. */
#ifndef RB_KVATTN_MEM_H
#define RB_KVATTN_MEM_H

#include <stddef.h>

#include "kvattn.h"

#define RB_KVA_DEV_MARGIN ((size_t)64 << 20) /* left for the context's own allocations */

typedef struct {
    size_t kb, nb;      /* K codes (or fp16 rows), K norms; V the same */
    size_t qb;          /* the queries; the outputs the same */
    size_t centb, pib;  /* the centroids, the dpad x dpad rotation (compressed caches) */
    size_t workb;       /* rb_kvattn_work_bytes */
    /* one allocation, each part at a 256-byte boundary: K, V, K norms, V norms, q, o,
     * centroids, Pi, workspace */
    size_t off_v, off_kn, off_vn, off_q, off_o, off_c, off_pi, off_w, total;
    size_t cache;       /* what one attention reads: K and V with their norms */
    size_t roof;        /* the copy roof's destination: a copy of cache / 2 bytes reads and
                         * writes cache bytes, the traffic of one attention */
    double need;        /* total + roof + RB_KVA_DEV_MARGIN */
} rb_kva_dev_layout;

/* The layout for a's shape (a->split set; bits, dpad and norm_kind for a compressed cache;
 * no pointer is read), over the fp16 cache when fp16. */
void rb_kva_dev_layout_of(const rb_kvattn_args *a, int fp16, rb_kva_dev_layout *l);

/* One line: "kv_attention B=1 H=32 kv_heads=32 T=4096 d=128 fp16 cache needs N bytes of device
 * memory (cache ..., the copy roof's buffer ..., queries, outputs, centroids, rotation, workspace
 * and alignment ..., a ... margin)". */
void rb_kva_dev_need_text(const rb_kvattn_args *a, int fp16, const rb_kva_dev_layout *l, char *buf, size_t n);

#endif
