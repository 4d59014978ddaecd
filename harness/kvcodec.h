/* kvcodec.h: the KV-cache paths of the scalar-quantized (rotation) methods, CPU reference.
 * encode writes the packed format of kernels/common/kvpack.h (codes + norms), decode reads it
 * back; decode(encode(x)) is the fused roundtrip (rb_cpu_qdq_rows) split at the quantizer:
 *   encode: rho = |x|, y = T(x / max(rho, eps)), code_j = rb_sq_index(y_j)   (every dpad coordinate)
 *   decode: x^ = rho' * T^-1(centroids[code]), rho' the stored norm
 * With fp32 norms rho' = rho and decode(encode(x)) equals rb_cpu_qdq_rows bit for bit; with fp16
 * norms rho' = fp16(rho) (round to nearest even), the roundtrip with rho rounded to fp16 after
 * the normalization. A stored norm that is not finite (a row with NaN/Inf, or an fp16 norm past
 * 65504) decodes to a row of NaN. docs/methods.md ("Packed format") is the prose version. */
#ifndef RB_KVCODEC_H
#define RB_KVCODEC_H

#include "config.h"
#include "kvpack.h"
#include "registry.h"

/* Does m store the packed scalar format (every rotation method and plugin; not HQMQ)? */
int rb_kv_method_packs(rb_method m);
/* Does m have the encode and decode paths: the scalar format, or one of its own (its hooks'
 * kv_stored_bytes: HQMQ)? */
int rb_kv_method_has_paths(rb_method m);

/* The norm kind a run stores: RB_KV_NORM_NONE under assume_unit_norm, else kv_norm
 * (RB_KV_NORM_FP16 / RB_KV_NORM_FP32). */
int rb_kv_norm_kind(int unit_norm, int kv_norm);
const char *rb_kv_norm_name(int norm_kind); /* "fp16", "fp32", "none" */

/* Encode N rows x (N x p->d floats) into codes (N * rb_kv_row_bytes(p->dpad, p->bits) bytes,
 * overwritten whole, padding bits zero) and norms (N * rb_kv_norm_bytes(norm_kind) bytes; NULL
 * allowed with RB_KV_NORM_NONE). 0, or -1 with one line on stderr: a method without the packed
 * format, a norm kind that does not match p->unit_norm, out of memory. OpenMP over rows. */
int rb_cpu_encode_rows(const rb_qdq_params *p, int norm_kind, const float *x, long N, void *codes,
                       void *norms);
/* Decode N rows into xh (N x p->d floats; rounded to fp16 when dtype is RB_FP16, as
 * rb_cpu_qdq_rows stores them). Same return convention. */
int rb_cpu_decode_rows(const rb_qdq_params *p, int norm_kind, const void *codes, const void *norms,
                       long N, rb_dtype dtype, float *xh);

#endif
