/* kvattn_record.h: a decode-attention record (rb_record.kva) as the result files hold it: what
 * the writer adds to the common fields, what the reader takes back (so --resume reuses an
 * attention record like any other), and its key beyond the common one (what --resume matches). */
#ifndef RB_KVATTN_RECORD_H
#define RB_KVATTN_RECORD_H

#include <cjson/cJSON.h>

#include "backend.h"

/* The method name an fp16-cache record carries in the files (it has no method of its own). */
#define RB_KVA_FP16_NAME "fp16-cache"

/* The record's "kv_attention" object into o (nothing for other records): its shape, input kind
 * and file slice (the common "input" object describes the config's distributions, not these). */
void rb_kva_rec_to_json(const rb_record *r, cJSON *o);

/* Is o's "method" the fp16 cache's? Its record is read as identity's (the method the sweep gives it). */
int rb_kva_json_is_fp16(const cJSON *o);

/* The "kv_attention" object of o (and the fields whose meaning differs for attention, as
 * check_vs_cpu.max_rel_diff) into r, after the common fields were read; nothing without one. */
void rb_kva_rec_from_json(const cJSON *o, rb_record *r);

/* 1 when a and b agree on what decode attention adds to a record's key: attention or not, and
 * for attention records the fp16 cache or not, B, H, kv_heads, T, split, the input kind and
 * (compressed caches) the norm kind. */
int rb_kva_same_key(const rb_record *a, const rb_record *b);

#endif
