/* kvattn_config.c: the "kv_attention" object of a config (kvattn_config.h). */
#include "kvattn_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static int fail(const char *path, char *err, size_t n, const char *fmt, ...)
{
    if (!err || !n)
        return -1;
    int k = snprintf(err, n, "%s: ", path);
    if (k >= 0 && (size_t)k < n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + k, n - (size_t)k, fmt, ap);
        va_end(ap);
    }
    for (char *p = err; *p; p++) /* one line, whatever the key or path holds */
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?';
    return -1;
}

static void got(const cJSON *it, char *out, size_t n)
{
    if (!it)
        snprintf(out, n, "nothing");
    else if (cJSON_IsNumber(it))
        snprintf(out, n, "%.17g", it->valuedouble);
    else if (cJSON_IsString(it))
        snprintf(out, n, "\"%.40s\"", it->valuestring);
    else if (cJSON_IsArray(it))
        snprintf(out, n, it->child ? "an array" : "an empty array");
    else if (cJSON_IsObject(it))
        snprintf(out, n, "an object");
    else
        snprintf(out, n, cJSON_IsBool(it) ? "a boolean" : "null");
}

typedef struct {
    const char *path;
    char *err;
    size_t n;
} pctx;

static int bad(const pctx *c, const char *key, const char *what, const cJSON *it)
{
    char g[96];
    got(it, g, sizeof g);
    return fail(c->path, c->err, c->n, "key 'kv_attention.%s': expected %s, got %s", key, what, g);
}

static int as_int(const cJSON *it, double lo, double hi, long *out)
{
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble != floor(it->valuedouble) ||
        it->valuedouble < lo || it->valuedouble > hi)
        return 0;
    *out = (long)it->valuedouble;
    return 1;
}

/* A number or a non-empty array of distinct numbers in lo..hi: an axis. */
static int axis(const pctx *c, const cJSON *it, const char *key, long lo, long hi, long *out, int *n)
{
    char what[96], ek[64];
    snprintf(what, sizeof what, "an integer in %ld..%ld or a non-empty array of them", lo, hi);
    if (cJSON_IsNumber(it)) {
        if (!as_int(it, (double)lo, (double)hi, out))
            return bad(c, key, what, it);
        *n = 1;
        return 0;
    }
    if (!cJSON_IsArray(it) || !it->child)
        return bad(c, key, what, it);
    if (cJSON_GetArraySize(it) > RB_KVA_MAX_AXIS)
        return fail(c->path, c->err, c->n, "key 'kv_attention.%s': expected at most %d values, got %d", key,
                    RB_KVA_MAX_AXIS, cJSON_GetArraySize(it));
    int i = 0;
    for (const cJSON *e = it->child; e; e = e->next, i++) {
        snprintf(ek, sizeof ek, "%s[%d]", key, i);
        snprintf(what, sizeof what, "an integer in %ld..%ld", lo, hi);
        if (!as_int(e, (double)lo, (double)hi, &out[i]))
            return bad(c, ek, what, e);
        for (int j = 0; j < i; j++)
            if (out[j] == out[i])
                return fail(c->path, c->err, c->n, "key 'kv_attention.%s': expected no repeated values, got %ld again",
                            ek, out[i]);
    }
    *n = i;
    return 0;
}

static int int_axis(const pctx *c, const cJSON *it, const char *key, long lo, long hi, int *out, int *n)
{
    long v[RB_KVA_MAX_AXIS];
    if (axis(c, it, key, lo, hi, v, n))
        return -1;
    for (int i = 0; i < *n; i++)
        out[i] = (int)v[i];
    return 0;
}

/* {"path": ..., "tensor": ..., "split_axis": n, "rows": "all" | {"first": n}}; "kind": "file" allowed. */
static int file_input(const pctx *c, const cJSON *it, const char *key, rb_kva_file *f)
{
    char k2[128];
    memset(f, 0, sizeof *f);
    f->split_axis = -1;
    if (!cJSON_IsObject(it))
        return bad(c, key, "a file input object {\"path\": ..., \"tensor\": ..., \"split_axis\": n, \"rows\": ...}", it);
    for (const cJSON *e = it->child; e; e = e->next) {
        snprintf(k2, sizeof k2, "%s.%.30s", key, e->string);
        long x;
        if (!strcmp(e->string, "kind")) {
            if (!cJSON_IsString(e) || strcmp(e->valuestring, "file"))
                return bad(c, k2, "\"file\"", e);
        } else if (!strcmp(e->string, "path")) {
            if (!cJSON_IsString(e) || !e->valuestring[0] || strlen(e->valuestring) >= sizeof f->path)
                return bad(c, k2, "a non-empty path under 1024 bytes", e);
            snprintf(f->path, sizeof f->path, "%s", e->valuestring);
        } else if (!strcmp(e->string, "tensor")) {
            if (!cJSON_IsString(e) || !e->valuestring[0] || strlen(e->valuestring) >= sizeof f->tensor)
                return bad(c, k2, "a tensor name of 1..127 characters", e);
            snprintf(f->tensor, sizeof f->tensor, "%s", e->valuestring);
        } else if (!strcmp(e->string, "split_axis")) {
            if (!as_int(e, 0, 6, &x))
                return bad(c, k2, "an integer in 0..6 (a leading axis of the tensor)", e);
            f->split_axis = (int)x;
        } else if (!strcmp(e->string, "rows")) {
            const cJSON *first = cJSON_GetObjectItemCaseSensitive(e, "first");
            if (cJSON_IsString(e) && !strcmp(e->valuestring, "all"))
                f->rows_mode = RB_ROWS_ALL;
            else if (cJSON_IsObject(e) && cJSON_GetArraySize(e) == 1 && first && as_int(first, 1, 268435456.0, &x)) {
                f->rows_mode = RB_ROWS_FIRST;
                f->rows_n = x;
            } else
                return bad(c, k2, "\"all\" or {\"first\": n} (K and V rows are paired by position)", e);
        } else {
            return fail(c->path, c->err, c->n, "unknown key 'kv_attention.%s': expected one of kind, path, tensor, "
                        "split_axis, rows", k2);
        }
    }
    if (!f->path[0])
        return fail(c->path, c->err, c->n, "key 'kv_attention.%s.path': expected the path of a .npy or safetensors "
                    "file, got nothing", key);
    return 0;
}

/* "inputs": "synthetic" or {"k": file, "v": file, "q": file, "order": "bht" | "bth"}. */
static int inputs(const pctx *c, const cJSON *it, rb_kva_config *kc)
{
    const char *what = "\"synthetic\" or an object {\"k\": file, \"v\": file, \"q\": file, \"order\": \"bht\" | \"bth\"}";
    if (cJSON_IsString(it) && !strcmp(it->valuestring, "synthetic")) {
        kc->input = RB_KVA_SYNTHETIC;
        return 0;
    }
    if (!cJSON_IsObject(it))
        return bad(c, "inputs", what, it);
    kc->input = RB_KVA_FILES;
    int seen = 0;
    for (const cJSON *e = it->child; e; e = e->next) {
        char k2[64];
        snprintf(k2, sizeof k2, "inputs.%.30s", e->string);
        if (!strcmp(e->string, "k") || !strcmp(e->string, "v") || !strcmp(e->string, "q")) {
            rb_kva_file *f = e->string[0] == 'k' ? &kc->k : e->string[0] == 'v' ? &kc->v : &kc->q;
            if (file_input(c, e, k2, f))
                return -1;
            seen |= e->string[0] == 'k' ? 1 : e->string[0] == 'v' ? 2 : 4;
        } else if (!strcmp(e->string, "order")) {
            if (cJSON_IsString(e) && !strcmp(e->valuestring, "bht"))
                kc->order = RB_KVA_ORDER_BHT;
            else if (cJSON_IsString(e) && !strcmp(e->valuestring, "bth"))
                kc->order = RB_KVA_ORDER_BTH;
            else
                return bad(c, k2, "\"bht\" (rows [B][kv_heads][T]) or \"bth\" (rows [B][T][kv_heads])", e);
        } else {
            return fail(c->path, c->err, c->n, "unknown key 'kv_attention.%s': expected one of k, v, q, order", k2);
        }
    }
    if (seen != 7)
        return fail(c->path, c->err, c->n, "key 'kv_attention.inputs.%s': expected a file input object, got nothing "
                    "(file inputs need k, v and q)", !(seen & 1) ? "k" : !(seen & 2) ? "v" : "q");
    return 0;
}

int rb_kva_config_parse(const char *path, const cJSON *it, rb_kva_config *kc, char *err, size_t errlen)
{
    const pctx c = {path, err, errlen};
    memset(kc, 0, sizeof *kc);
    kc->on = 1;
    if (!cJSON_IsObject(it))
        return fail(path, err, errlen, "key 'kv_attention': expected an object {\"B\": ..., \"H\": ..., \"T\": ...}");
    for (const cJSON *e = it->child; e; e = e->next)
        for (const cJSON *f = it->child; f != e; f = f->next)
            if (!strcmp(f->string, e->string))
                return fail(path, err, errlen, "key 'kv_attention.%.30s': expected each key once, got it twice",
                            e->string);
    for (const cJSON *e = it->child; e; e = e->next) {
        const char *k = e->string;
        int rc;
        if (!strcmp(k, "B"))
            rc = int_axis(&c, e, "B", 1, 4096, kc->B, &kc->nB);
        else if (!strcmp(k, "H"))
            rc = int_axis(&c, e, "H", 1, 1024, kc->H, &kc->nH);
        else if (!strcmp(k, "kv_heads"))
            rc = int_axis(&c, e, "kv_heads", 1, 1024, kc->kv_heads, &kc->nkv);
        else if (!strcmp(k, "T"))
            rc = axis(&c, e, "T", 1, RB_KVA_T_MAX, kc->T, &kc->nT);
        else if (!strcmp(k, "split")) {
            long x;
            rc = 0;
            if (cJSON_IsString(e) && !strcmp(e->valuestring, "auto"))
                kc->split = 0;
            else if (as_int(e, 1, RB_KVA_T_MAX, &x))
                kc->split = (int)x;
            else
                rc = bad(&c, "split", "\"auto\" or an integer in 1..16777216 (tokens per split block)", e);
        } else if (!strcmp(k, "inputs"))
            rc = inputs(&c, e, kc);
        else
            rc = fail(path, err, errlen, "unknown key 'kv_attention.%.30s': expected one of B, H, kv_heads, T, split, "
                      "inputs", k);
        if (rc)
            return -1;
    }
    if (!kc->nB) {
        kc->nB = 1;
        kc->B[0] = 1;
    }
    if (!kc->nH)
        return fail(path, err, errlen, "key 'kv_attention.H': expected an integer in 1..1024 or a non-empty array of "
                    "them, got nothing (the key is required)");
    if (!kc->nT && kc->input == RB_KVA_SYNTHETIC)
        return fail(path, err, errlen, "key 'kv_attention.T': expected an integer in 1..16777216 or a non-empty array "
                    "of them, got nothing (required for synthetic caches)");
    /* every (H, kv_heads) pair of the axes must group evenly */
    for (int i = 0; i < kc->nH; i++)
        for (int j = 0; j < kc->nkv; j++)
            if (kc->H[i] % kc->kv_heads[j])
                return fail(path, err, errlen, "key 'kv_attention.kv_heads': expected a divisor of every H (query "
                            "head h reads kv head h / (H / kv_heads)), got %d for H = %d", kc->kv_heads[j], kc->H[i]);
    return 0;
}
