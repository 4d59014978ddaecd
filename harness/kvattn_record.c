/* kvattn_record.c: a decode-attention record in the result files and back (kvattn_record.h). */
#include "kvattn_record.h"

#include <math.h>
#include <string.h>

#include "kvattn_config.h"

/* JSON has no NaN or Inf: null for them. */
static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

void rb_kva_rec_to_json(const rb_record *r, cJSON *o)
{
    if (!r->kva.on)
        return;
    if (r->kva.fp16_cache)
        cJSON_ReplaceItemInObjectCaseSensitive(o, "method", cJSON_CreateString(RB_KVA_FP16_NAME));
    cJSON *k = cJSON_AddObjectToObject(o, "kv_attention");
    cJSON_AddBoolToObject(k, "fp16_cache", r->kva.fp16_cache);
    cJSON_AddNumberToObject(k, "B", r->kva.B);
    cJSON_AddNumberToObject(k, "H", r->kva.H);
    cJSON_AddNumberToObject(k, "kv_heads", r->kva.kv_heads);
    cJSON_AddNumberToObject(k, "T", (double)r->kva.T);
    cJSON_AddNumberToObject(k, "split", r->kva.split);
    cJSON_AddStringToObject(k, "input", r->kva.input == RB_KVA_FILES ? "files" : "synthetic");
    if (r->slice >= 0) /* the files' split_axis index (the common "input" object describes cfg->dists) */
        cJSON_AddNumberToObject(k, "slice", r->slice);
    cJSON_AddNumberToObject(k, "cache_bytes", r->kva.cache_bytes);
    add_num(k, "bytes_per_token", r->kva.bytes_per_token);
    add_num(k, "max_rel_err", r->kva.max_rel_err);
}

int rb_kva_json_is_fp16(const cJSON *o)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "method");
    return cJSON_IsString(m) && !strcmp(m->valuestring, RB_KVA_FP16_NAME) &&
           cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "kv_attention"));
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

void rb_kva_rec_from_json(const cJSON *o, rb_record *r)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kv_attention");
    if (!cJSON_IsObject(k))
        return;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(k, "input");
    r->kva.on = 1;
    r->kva.fp16_cache = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "fp16_cache"));
    r->kva.B = (int)num(k, "B");
    r->kva.H = (int)num(k, "H");
    r->kva.kv_heads = (int)num(k, "kv_heads");
    r->kva.T = (long)num(k, "T");
    r->kva.split = (int)num(k, "split");
    r->kva.input = cJSON_IsString(in) && !strcmp(in->valuestring, "files") ? RB_KVA_FILES : RB_KVA_SYNTHETIC;
    r->slice = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(k, "slice")) ? (int)num(k, "slice") : -1;
    r->kva.cache_bytes = num(k, "cache_bytes");
    r->kva.bytes_per_token = num(k, "bytes_per_token");
    r->kva.max_rel_err = num(k, "max_rel_err");
    /* the GPU's output against the CPU's, relative to max |o_cpu| (results.c writes it so) */
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "check_vs_cpu");
    if (cJSON_IsObject(c))
        r->check_max_abs = num(c, "max_rel_diff");
}

int rb_kva_same_key(const rb_record *a, const rb_record *b)
{
    if (a->kva.on != b->kva.on)
        return 0;
    if (!a->kva.on)
        return 1;
    const rb_kva_rec *x = &a->kva, *y = &b->kva;
    return x->fp16_cache == y->fp16_cache && x->B == y->B && x->H == y->H && x->kv_heads == y->kv_heads &&
           x->T == y->T && x->split == y->split && x->input == y->input &&
           (x->fp16_cache || a->kv_norm == b->kv_norm);
}
