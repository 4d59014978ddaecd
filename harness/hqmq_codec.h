/* hqmq_codec.h: HQMQ's KV-cache paths (its packed format, kernels/common/hqmq_pack.h): the CPU
 * reference encode and decode of N rows, and each backend's encode / decode run (its hooks'
 * cpu_kvpath, gpu_kvpath). decode(encode(x)) is rb_cpu_hqmq_rows's output bit for bit. */
#ifndef RB_HQMQ_CODEC_H
#define RB_HQMQ_CODEC_H

#include <stdint.h>

#include "backend.h"

/* Bytes N rows with nout side entries store at p's operating point (the hooks' kv_stored_bytes). */
long rb_hqmq_kv_stored_bytes(const rb_qdq_params *p, long N, long nout);
/* The side entries (outlier chunks) an encode of x under p->hq_thresh writes. */
long rb_cpu_hqmq_count_outliers(const rb_qdq_params *p, const float *x, long N);
/* Encode N rows x (N x p->d floats) into rows (N records of rb_hqmq_row_bytes), sigma (N fp16)
 * and side (room for side_cap entries of 4 fp16; NULL allowed without Med3x); *nout gets the
 * entries written. 0, or -1 with one line on stderr (side_cap too small, out of memory). */
int rb_cpu_hqmq_encode_rows(const rb_qdq_params *p, const float *x, long N, void *rows, uint16_t *sigma,
                            uint16_t *side, long side_cap, long *nout);
/* Decode N records into xh (N x p->d floats, rounded to fp16 for RB_FP16 as rb_cpu_hqmq_rows
 * stores them). nside: the entries side holds; -1 with one line when the flags ask for others. */
int rb_cpu_hqmq_decode_rows(const rb_qdq_params *p, const void *rows, const uint16_t *sigma, const uint16_t *side,
                            long nside, long N, rb_dtype dtype, float *xh);
/* The encode or decode setting rec->path on each backend. */
int rb_cpu_run_hqmq_kvpath(rb_backend *b, const rb_qdq_params *p, rb_record *rec);
int rb_gpu_run_hqmq_kvpath(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec);

#endif
