/* counts.h: nominal cost and storage of each method as functions of d, from its descriptor
 * (method.h; docs/methods.md gives the forms). */
#ifndef RB_COUNTS_H
#define RB_COUNTS_H

#include "registry.h"

long rb_nominal_fma(rb_method m, int d);   /* forward rotation, per vector */
long rb_param_count(rb_method m, int d);   /* stored rotation parameters */
int rb_method_block_of(rb_method m, int d); /* coordinates per rotation block, >= 1 */
int rb_method_dpad(rb_method m, int d);     /* d rounded up to whole blocks: the coded width */
/* Bytes the packed format (kvpack.h) stores for N rows: N (rb_kv_row_bytes(dpad, bits) +
 * rb_kv_norm_bytes(norm_kind)), exactly what the encoders write. */
long rb_kv_stored_bytes(rb_method m, int d, int bits, int norm_kind, long N);
/* Stored bits per coordinate of the packed format with fp16 norms: 8 rb_kv_stored_bytes(.., 1) / d
 * (b codes for every padded rotated coordinate, the row rounded up to 4 bytes, a 2-byte norm). */
double rb_bits_per_coord(rb_method m, int d, int bits);
/* Fill the block-structure fields of p (method, block, nblocks, dpad, nbounds). */
void rb_qdq_params_shape(rb_qdq_params *p, rb_method m, int d, int bits);

#endif
