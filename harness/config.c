/* config.c: load and validate a sweep configuration (config.h, docs/config-format.md).
 * Everything is checked before any work starts, and every failure is one line naming the file and
 * the key, so a typo in a long sweep costs seconds, not a wasted run. The config is filled into a
 * local copy and written to *cfg only on success: a failed load leaves *cfg as it was.
 *
 * Over 600 lines on purpose: one parser for every key keeps the messages uniform and lets one
 * fuzz target (tests/fuzz/fuzz_config.c) cover all of it. */
#include "config.h"
#include "attn.h"
#include "kvcodec.h"
#include "tensor_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A config is a few hundred bytes; the cap keeps a wrong path (a data file) from being slurped. */
#define RB_CONFIG_MAX_BYTES (1L << 20)
#define RB_SEED_MAX 9007199254740992.0 /* 2^53: every integer up to it is exact in a double */
#define RB_N_MAX 268435456L            /* 2^28 */

const char *rb_dtype_name(rb_dtype t)
{
    return t == RB_FP32 ? "fp32" : t == RB_FP16 ? "fp16" : "unknown";
}

const char *rb_codebook_name(rb_codebook_kind k)
{
    return k == RB_CODEBOOK_GAUSSIAN ? "gaussian" : k == RB_CODEBOOK_BETA ? "beta" : "unknown";
}

static const char *const path_names[RB_NPATHS] = {"roundtrip", "encode", "decode", "attention"};

const char *rb_path_name(int path) { return path >= 0 && path < RB_NPATHS ? path_names[path] : "unknown"; }

int rb_path_find(const char *name)
{
    for (int i = 0; name && i < RB_NPATHS; i++)
        if (!strcmp(name, path_names[i]))
            return i;
    return -1;
}

const char *rb_distribution_name(rb_distribution k)
{
    switch (k) {
    case RB_DIST_SPHERE: return "sphere";
    case RB_DIST_CHANNEL_OUTLIERS: return "channel-outliers";
    case RB_DIST_ANISOTROPIC: return "anisotropic";
    case RB_DIST_LOWRANK: return "lowrank";
    case RB_DIST_FILE: return "file";
    }
    return "unknown";
}

int rb_config_has_synthetic(const rb_config *cfg)
{
    for (int i = 0; i < cfg->ndists; i++)
        if (cfg->dists[i].kind != RB_DIST_FILE)
            return 1;
    return 0;
}

/* ---- error messages ---------------------------------------------------------------------- */

typedef struct {
    const char *path;
    char *err;
    size_t errlen;
} ctx;

/* "<path>: <message>", forced onto one line: a path or key may hold any byte. */
static int fail(const ctx *c, const char *fmt, ...)
{
    if (!c->err || c->errlen == 0)
        return -1;
    int n = snprintf(c->err, c->errlen, "%s: ", c->path);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    for (char *p = c->err; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?';
    return -1;
}

/* s escaped for a message (quotes, control and non-ASCII bytes: cJSON does not check UTF-8),
 * cut after 40 characters (or when out is full) so a pasted blob cannot flood the line; n >= 12. */
static void escape(const char *s, char *out, size_t n)
{
    size_t o = 0, shown = 0;
    for (; *s; s++, shown++) {
        unsigned char ch = (unsigned char)*s;
        if (shown == 40 || o + 8 >= n) { /* each step writes at most 4, so "..." still fits */
            o += (size_t)snprintf(out + o, n - o, "...");
            break;
        }
        if (ch == '"' || ch == '\\')
            o += (size_t)snprintf(out + o, n - o, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", ch);
        else
            out[o++] = (char)ch;
    }
    out[o] = '\0';
}

/* What a value was, for "got ...". Numbers print in the shortest form that reads back exactly. */
static void describe(const cJSON *it, char *out, size_t n)
{
    if (!it)
        snprintf(out, n, "nothing");
    else if (cJSON_IsNumber(it)) {
        double v = it->valuedouble;
        if (!isfinite(v))
            snprintf(out, n, "a number too large for a double");
        else {
            snprintf(out, n, "%.15g", v);
            if (strtod(out, NULL) != v)
                snprintf(out, n, "%.17g", v);
        }
    } else if (cJSON_IsString(it) && it->valuestring) {
        char e[100]; /* leaves room for the quotes in out */
        escape(it->valuestring, e, sizeof e);
        snprintf(out, n, "\"%s\"", e);
    } else if (cJSON_IsTrue(it))
        snprintf(out, n, "true");
    else if (cJSON_IsFalse(it))
        snprintf(out, n, "false");
    else if (cJSON_IsNull(it))
        snprintf(out, n, "null");
    else if (cJSON_IsArray(it))
        snprintf(out, n, it->child ? "an array" : "an empty array");
    else if (cJSON_IsObject(it))
        snprintf(out, n, "an object");
    else
        snprintf(out, n, "an invalid value");
}

/* The common shape: "<path>: key '<key>': expected <what>, got <it>". */
static int bad(const ctx *c, const char *key, const char *what, const cJSON *it)
{
    char got[128];
    describe(it, got, sizeof got);
    return fail(c, "key '%s': expected %s, got %s", key, what, got);
}

/* ---- values ------------------------------------------------------------------------------ */

/* valueint saturates and truncates, so integers come from valuedouble, checked here. A literal
 * such as 128.0 is the integer 128 (JSON has one number type). */
static int as_int(const cJSON *it, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(it))
        return 0;
    double v = it->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* An integer or a non-empty array of distinct integers, each in lo..hi. */
static int int_list(const ctx *c, const cJSON *it, const char *key, long lo, long hi, long *out,
                    int *n, int *scalar)
{
    char what[96], what_list[160], ekey[96], got[64];
    snprintf(what, sizeof what, "an integer in %ld..%ld", lo, hi);
    snprintf(what_list, sizeof what_list, "%s or a non-empty array of them", what);
    double v;
    *scalar = 0;
    if (cJSON_IsNumber(it)) {
        if (!as_int(it, (double)lo, (double)hi, &v))
            return bad(c, key, what, it);
        out[0] = (long)v;
        *n = 1;
        *scalar = 1;
        return 0;
    }
    if (!cJSON_IsArray(it) || !it->child)
        return bad(c, key, what_list, it);
    int count = cJSON_GetArraySize(it);
    if (count > RB_MAX_LIST)
        return fail(c, "key '%s': expected at most %d values, got %d", key, RB_MAX_LIST, count);
    int i = 0;
    for (const cJSON *e = it->child; e; e = e->next, i++) {
        snprintf(ekey, sizeof ekey, "%s[%d]", key, i);
        if (!as_int(e, (double)lo, (double)hi, &v))
            return bad(c, ekey, what, e);
        for (int j = 0; j < i; j++)
            if (out[j] == (long)v) {
                describe(e, got, sizeof got);
                return fail(c, "key '%s': expected no repeated values, got %s again (as %s[%d])",
                            ekey, got, key, j);
            }
        out[i] = (long)v;
    }
    *n = i;
    return 0;
}

typedef struct {
    const char *name;
    int value;
} choice;

/* "a", "b" or "c" -- for messages. */
static void choices_text(const choice *ch, int nch, char *out, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < nch && o < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%s\"%s\"", i == 0 ? "" : i == nch - 1 ? " or " : ", ",
                              ch[i].name);
}

static int find_choice(const cJSON *it, const choice *ch, int nch)
{
    if (!cJSON_IsString(it) || !it->valuestring)
        return -1;
    for (int i = 0; i < nch; i++)
        if (strcmp(it->valuestring, ch[i].name) == 0)
            return ch[i].value;
    return -1;
}

/* One string from ch. */
static int one_choice(const ctx *c, const cJSON *it, const char *key, const choice *ch, int nch,
                      int *out)
{
    char names[256], what[300];
    int v = find_choice(it, ch, nch);
    if (v < 0) {
        choices_text(ch, nch, names, sizeof names);
        snprintf(what, sizeof what, nch > 2 ? "one of %s" : "%s", names);
        return bad(c, key, what, it);
    }
    *out = v;
    return 0;
}

/* A non-empty array of distinct strings from ch (or one string when allow_scalar). */
static int choice_list(const ctx *c, const cJSON *it, const char *key, const choice *ch, int nch,
                       int allow_scalar, int *out, int max, int *n)
{
    char names[256], what_list[360], ekey[96], got[128];
    choices_text(ch, nch, names, sizeof names);
    if (allow_scalar)
        snprintf(what_list, sizeof what_list, "%s or a non-empty array of them", names);
    else
        snprintf(what_list, sizeof what_list, "a non-empty array of names from %s", names);
    if (allow_scalar && cJSON_IsString(it)) {
        *n = 1;
        return one_choice(c, it, key, ch, nch, &out[0]);
    }
    if (!cJSON_IsArray(it) || !it->child)
        return bad(c, key, what_list, it);
    int count = cJSON_GetArraySize(it);
    if (count > max)
        return fail(c, "key '%s': expected at most %d values, got %d", key, max, count);
    int i = 0;
    for (const cJSON *e = it->child; e; e = e->next, i++) {
        snprintf(ekey, sizeof ekey, "%s[%d]", key, i);
        int v;
        if (one_choice(c, e, ekey, ch, nch, &v))
            return -1;
        for (int j = 0; j < i; j++)
            if (out[j] == v) {
                describe(e, got, sizeof got);
                return fail(c, "key '%s': expected no repeated values, got %s again (as %s[%d])",
                            ekey, got, key, j);
            }
        out[i] = v;
    }
    *n = i;
    return 0;
}

static const choice dtype_choices[] = {{"fp16", RB_FP16}, {"fp32", RB_FP32}};
static const choice path_choices[] = {{"roundtrip", RB_PATH_ROUNDTRIP}, {"encode", RB_PATH_ENCODE},
                                      {"decode", RB_PATH_DECODE}, {"attention", RB_PATH_ATTENTION}};
static const choice kv_norm_choices[] = {{"fp16", RB_KV_NORM_FP16}, {"fp32", RB_KV_NORM_FP32}};
static const choice codebook_choices[] = {{"gaussian", RB_CODEBOOK_GAUSSIAN},
                                          {"beta", RB_CODEBOOK_BETA}};
static const choice dist_choices[] = {{"sphere", RB_DIST_SPHERE},
                                      {"channel-outliers", RB_DIST_CHANNEL_OUTLIERS},
                                      {"anisotropic", RB_DIST_ANISOTROPIC},
                                      {"lowrank", RB_DIST_LOWRANK},
                                      {"file", RB_DIST_FILE}};
static const choice outlier_choices[] = {{"none", 0}, {"med3", 1}};
static const choice sigma_choices[] = {{"all", 0}, {"inliers", 1}};
/* The registry's methods (built in, then plugins), and those "all" stands for. */
static choice method_choices[RB_MAX_METHODS], all_choices[RB_MAX_METHODS];
static int n_method_choices, n_all_choices;

static void init_method_choices(void)
{
    n_method_choices = n_all_choices = 0;
    for (int i = 0; i < rb_methods_count(); i++) {
        const rb_method_desc *m = rb_method_get(i);
        method_choices[n_method_choices++] = (choice){m->name, i};
        if (m->in_all)
            all_choices[n_all_choices++] = (choice){m->name, i};
    }
}

#define NCH(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A plain string in 1..maxlen-1 bytes; charset non-NULL restricts the bytes. */
static int string_value(const ctx *c, const cJSON *it, const char *key, const char *what,
                        size_t maxlen, const char *charset, char *out)
{
    if (!cJSON_IsString(it) || !it->valuestring)
        return bad(c, key, what, it);
    const char *s = it->valuestring;
    size_t len = strlen(s);
    if (len == 0 || len >= maxlen)
        return bad(c, key, what, it);
    for (const char *p = s; *p; p++) {
        if (charset ? !strchr(charset, *p) : (unsigned char)*p < 0x20)
            return bad(c, key, what, it);
    }
    memcpy(out, s, len + 1);
    return 0;
}

/* A finite number in (0, hi]. */
static int positive_number(const ctx *c, const cJSON *it, const char *key, double hi, double *out)
{
    char what[96];
    snprintf(what, sizeof what, "a number > 0 and <= %g", hi);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || !(it->valuedouble > 0) ||
        it->valuedouble > hi)
        return bad(c, key, what, it);
    *out = it->valuedouble;
    return 0;
}

/* Members of an object, each named in `names` (NULL-terminated) and each once. */
static int object_keys(const ctx *c, const cJSON *it, const char *prefix, const char *const *names,
                       const char *list)
{
    int seen[8] = {0};
    for (const cJSON *e = it->child; e; e = e->next) {
        char k[128];
        int i = 0;
        while (names[i] && strcmp(e->string, names[i]) != 0)
            i++;
        if (!names[i]) {
            escape(e->string, k, sizeof k);
            return fail(c, "unknown key '%s.%s': expected one of %s", prefix, k, list);
        }
        if (seen[i]++)
            return fail(c, "key '%s.%s': expected each key once, got it twice", prefix, names[i]);
    }
    return 0;
}

/* A number in [lo, hi]. */
static int number_in(const ctx *c, const cJSON *it, const char *key, double lo, double hi, double *out)
{
    char what[96];
    snprintf(what, sizeof what, "a number in %g..%g", lo, hi);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < lo || it->valuedouble > hi)
        return bad(c, key, what, it);
    *out = it->valuedouble;
    return 0;
}

/* Defaults of every kind's parameters. */
static void dist_defaults(rb_data_dist *d, rb_distribution kind)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->channels = 4;
    d->scale = 20.0f;
    d->sigma = 1.0;
    d->rank = 8;
    d->noise = 0.1;
    d->split_axis = -1;
}

/* "rows": "all", {"first": n} or {"sample": n}. */
static int rows_option(const ctx *c, const cJSON *it, const char *key, rb_data_dist *d)
{
    const char *what = "\"all\", {\"first\": n} or {\"sample\": n} with n in 1..268435456";
    if (cJSON_IsString(it) && !strcmp(it->valuestring, "all")) {
        d->rows_mode = RB_ROWS_ALL;
        return 0;
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "first"), *sm = cJSON_GetObjectItemCaseSensitive(it, "sample");
    double x;
    if (!cJSON_IsObject(it) || cJSON_GetArraySize(it) != 1 || (!f && !sm) || !as_int(f ? f : sm, 1, RB_N_MAX, &x))
        return bad(c, key, what, it);
    d->rows_mode = f ? RB_ROWS_FIRST : RB_ROWS_SAMPLE;
    d->rows_n = (long)x;
    return 0;
}

/* One input: "sphere" (or another kind's name, with its defaults), or {"kind": ..., the kind's
 * parameters}. key names it in messages ("distribution" or "distribution[i]"). */
static int one_distribution(const ctx *c, const cJSON *it, const char *key, rb_data_dist *d)
{
    static const char *const names[] = {"kind", "channels", "scale", "sigma", "rank", "noise", "path", "tensor", "rows",
                                        "split_axis", "values", "values_tensor", NULL};
    /* which kind each parameter belongs to */
    static const rb_distribution owner[] = {0, RB_DIST_CHANNEL_OUTLIERS, RB_DIST_CHANNEL_OUTLIERS, RB_DIST_ANISOTROPIC,
                                            RB_DIST_LOWRANK, RB_DIST_LOWRANK, RB_DIST_FILE, RB_DIST_FILE, RB_DIST_FILE,
                                            RB_DIST_FILE, RB_DIST_FILE, RB_DIST_FILE};
    char kinds[160], what[400], k2[160];
    choices_text(dist_choices, NCH(dist_choices), kinds, sizeof kinds);
    snprintf(what, sizeof what, "%s or an object {\"kind\": %s, ...}", kinds, kinds);
    int v;
    if (cJSON_IsString(it)) {
        if (one_choice(c, it, key, dist_choices, NCH(dist_choices), &v))
            return -1;
        if (v == RB_DIST_FILE)
            return fail(c, "key '%s': expected {\"kind\": \"file\", \"path\": ...}, got \"file\" without a path", key);
        dist_defaults(d, (rb_distribution)v);
        return 0;
    }
    if (!cJSON_IsObject(it))
        return bad(c, key, what, it);
    /* object_keys counts up to 8 keys: check the names here */
    for (const cJSON *e = it->child; e; e = e->next) {
        int i = 0;
        while (names[i] && strcmp(e->string, names[i]))
            i++;
        char k[128];
        escape(e->string, k, sizeof k);
        if (!names[i])
            return fail(c, "unknown key '%s.%s': expected one of kind, channels, scale, sigma, rank, noise, path, "
                           "tensor, rows, split_axis, values, values_tensor", key, k);
        for (const cJSON *f = it->child; f != e; f = f->next)
            if (!strcmp(f->string, e->string))
                return fail(c, "key '%s.%s': expected each key once, got it twice", key, k);
    }
    snprintf(k2, sizeof k2, "%s.kind", key);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(it, "kind");
    if (!kind)
        return bad(c, k2, kinds, NULL);
    if (one_choice(c, kind, k2, dist_choices, NCH(dist_choices), &v))
        return -1;
    dist_defaults(d, (rb_distribution)v);
    for (int i = 1; names[i]; i++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, names[i]);
        if (!p)
            continue;
        snprintf(k2, sizeof k2, "%s.%s", key, names[i]);
        if (owner[i] != (rb_distribution)v)
            return fail(c, "key '%s': expected only with kind \"%s\"", k2, rb_distribution_name(owner[i]));
        double x = 0;
        int rc = 0;
        switch (i) {
        case 1:
            if (!as_int(p, 1, 4096, &x))
                return bad(c, k2, "an integer in 1..4096", p);
            d->channels = (int)x;
            break;
        case 2: rc = positive_number(c, p, k2, 1e6, &x); d->scale = (float)x; break;
        case 3: rc = positive_number(c, p, k2, 10, &x); d->sigma = x; break;
        case 4:
            if (!as_int(p, 1, 4096, &x))
                return bad(c, k2, "an integer in 1..4096", p);
            d->rank = (int)x;
            break;
        case 5: rc = number_in(c, p, k2, 0, 100, &x); d->noise = x; break;
        case 6: rc = string_value(c, p, k2, "a non-empty path under 1024 bytes without control characters", RB_MAX_PATH, NULL, d->path); break;
        case 7: rc = string_value(c, p, k2, "a tensor name of 1..127 characters", sizeof d->tensor, NULL, d->tensor); break;
        case 8: rc = rows_option(c, p, k2, d); break;
        case 9:
            if (!as_int(p, 0, RB_TF_MAX_DIMS - 2, &x))
                return bad(c, k2, "an integer in 0..6 (a leading axis of the tensor)", p);
            d->split_axis = (int)x;
            break;
        case 10: rc = string_value(c, p, k2, "the path of the values' .npy or safetensors file (paired row by row with the keys)", RB_MAX_PATH, NULL, d->values_path); break;
        case 11: rc = string_value(c, p, k2, "a tensor name of 1..127 characters", sizeof d->values_tensor, NULL, d->values_tensor); break;
        }
        if (rc)
            return -1;
    }
    if (d->values_tensor[0] && !d->values_path[0])
        return fail(c, "key '%s.values_tensor': expected only with %s.values (the values' file)", key, key);
    if (v == RB_DIST_FILE && !d->path[0])
        return fail(c, "key '%s.path': expected the path of a .npy or safetensors file, got nothing", key);
    return 0;
}

/* "queries": {"kind": "gaussian" | "held-out" | "file", "count": n, "path": ..., "tensor": ...}. */
static int queries(const ctx *c, const cJSON *it, rb_config *cfg)
{
    static const char *const names[] = {"kind", "count", "path", "tensor", NULL};
    static const choice kinds[] = {{"gaussian", RB_Q_GAUSSIAN}, {"held-out", RB_Q_HELD_OUT}, {"file", RB_Q_FILE}};
    if (!cJSON_IsObject(it))
        return bad(c, "queries", "an object {\"kind\": \"gaussian\", \"held-out\" or \"file\", ...}", it);
    if (object_keys(c, it, "queries", names, "kind, count, path, tensor"))
        return -1;
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "kind"), *n = cJSON_GetObjectItemCaseSensitive(it, "count");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "path"), *t = cJSON_GetObjectItemCaseSensitive(it, "tensor");
    int v = RB_Q_GAUSSIAN;
    double x;
    if (k && one_choice(c, k, "queries.kind", kinds, NCH(kinds), &v))
        return -1;
    cfg->q_kind = v;
    if (n && !as_int(n, 1, 65535, &x))
        return bad(c, "queries.count", "an integer in 1..65535", n);
    if (n)
        cfg->q_count = (int)x;
    if ((p || t) && v != RB_Q_FILE)
        return fail(c, "key 'queries.%s': expected only with kind \"file\"", p ? "path" : "tensor");
    if (p && string_value(c, p, "queries.path", "a non-empty path under 1024 bytes without control characters",
                          RB_MAX_PATH, NULL, cfg->q_path))
        return -1;
    if (t && string_value(c, t, "queries.tensor", "a tensor name of 1..127 characters", sizeof cfg->q_tensor, NULL,
                          cfg->q_tensor))
        return -1;
    if (v == RB_Q_FILE && !p)
        return fail(c, "key 'queries.path': expected the path of a .npy or safetensors file, got nothing");
    return 0;
}

/* "distribution": one input or a non-empty array of them (another axis of the sweep). */
static int distribution(const ctx *c, const cJSON *it, rb_config *cfg)
{
    if (!cJSON_IsArray(it)) {
        cfg->ndists = 1;
        return one_distribution(c, it, "distribution", &cfg->dists[0]);
    }
    int n = cJSON_GetArraySize(it);
    if (n < 1 || n > RB_MAX_DISTS)
        return fail(c, "key 'distribution': expected 1..%d inputs, got %d", RB_MAX_DISTS, n);
    int i = 0;
    for (const cJSON *e = it->child; e; e = e->next, i++) {
        char key[32];
        snprintf(key, sizeof key, "distribution[%d]", i);
        if (one_distribution(c, e, key, &cfg->dists[i]))
            return -1;
    }
    cfg->ndists = n;
    return 0;
}

/* "hqmq": {"S": list, "radius_bits": list, "outliers": "none"|"med3", "C": x,
 * "sigma_from": "all"|"inliers"}; S and radius_bits together (their cross product) or neither
 * (the paper's operating points). */
static int hqmq_block(const ctx *c, const cJSON *it, rb_hqmq_config *h)
{
    static const char *const names[] = {"S", "radius_bits", "outliers", "C", "sigma_from", NULL};
    if (!cJSON_IsObject(it))
        return bad(c, "hqmq", "an object {\"S\": [...], \"radius_bits\": [...], ...}", it);
    if (object_keys(c, it, "hqmq", names, "S, radius_bits, outliers, C, sigma_from"))
        return -1;
    const cJSON *S = cJSON_GetObjectItemCaseSensitive(it, "S");
    const cJSON *rb = cJSON_GetObjectItemCaseSensitive(it, "radius_bits");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(it, "outliers");
    const cJSON *C = cJSON_GetObjectItemCaseSensitive(it, "C");
    const cJSON *sf = cJSON_GetObjectItemCaseSensitive(it, "sigma_from");
    long sv[RB_MAX_LIST], rv[RB_MAX_LIST];
    int ns = 0, nr = 0, scalar;
    if (S && int_list(c, S, "hqmq.S", 1, RB_HQMQ_MAX_S, sv, &ns, &scalar))
        return -1;
    if (rb && int_list(c, rb, "hqmq.radius_bits", 1, 16, rv, &nr, &scalar))
        return -1;
    if (S && !rb)
        return fail(c, "key 'hqmq.radius_bits': expected an integer in 1..16 or a non-empty array "
                       "of them (with hqmq.S), got nothing");
    if (rb && !S)
        return fail(c, "key 'hqmq.S': expected an integer in 1..%d or a non-empty array of them "
                       "(with hqmq.radius_bits), got nothing", RB_HQMQ_MAX_S);
    if (S) {
        h->nops = 0;
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < nr; j++)
                h->ops[h->nops++] = (rb_hqmq_op){(int)sv[i], (int)rv[j]};
    }
    if (o && one_choice(c, o, "hqmq.outliers", outlier_choices, NCH(outlier_choices), &h->outliers))
        return -1;
    if (C && positive_number(c, C, "hqmq.C", 1000, &h->C))
        return -1;
    if (sf && one_choice(c, sf, "hqmq.sigma_from", sigma_choices, NCH(sigma_choices),
                         &h->sigma_inliers))
        return -1;
    if (h->sigma_inliers && !h->outliers)
        return bad(c, "hqmq.sigma_from", "\"all\" unless hqmq.outliers is \"med3\" (without outliers "
                   "every chunk is an inlier)", sf);
    return 0;
}

/* ---- the document ------------------------------------------------------------------------ */

enum { K_NAME, K_SEED, K_N, K_DIMS, K_BITS, K_DTYPES, K_METHODS, K_CODEBOOK, K_DIST, K_BASELINE,
       K_OUTPUT_DIR, K_COMMENT, K_HQMQ, K_QUERIES, K_ATTENTION, K_UNIT_NORM, K_PATH, K_KV_NORM, K_KVA, K_COUNT };
static const char *const key_names[K_COUNT] = {
    "name", "seed", "N", "dims", "bits", "dtypes", "methods", "codebook", "distribution",
    "baseline", "output_dir", "comment", "hqmq", "queries", "attention", "assume_unit_norm",
    "path", "kv_norm", "kv_attention",
};
static const char *const key_list =
    "name, seed, N, dims, bits, dtypes, methods, codebook, distribution, baseline, output_dir, "
    "comment, hqmq, queries, attention, assume_unit_norm, path, kv_norm, kv_attention";

int rb_config_keys(const char *const **names)
{
    *names = key_names;
    return K_COUNT;
}

static int parse_root(const ctx *c, const cJSON *root, rb_config *cfg)
{
    char got[128], what[512], names[256];
    if (!cJSON_IsObject(root)) {
        describe(root, got, sizeof got);
        return fail(c, "expected a JSON object {...} at the top level, got %s", got);
    }
    init_method_choices();
    int seen[K_COUNT] = {0}, dims_scalar = 0, scalar, tmp[RB_MAX_LIST];
    long vals[RB_MAX_LIST];
    double v;

    /* Walk the members in file order, so the first mistake in the file is the one reported.
     * Unknown keys stop the walk at once, so the duplicate check stays O(number of keys). */
    for (const cJSON *it = root->child; it; it = it->next) {
        int k = 0;
        while (k < K_COUNT && strcmp(it->string, key_names[k]) != 0)
            k++;
        if (k == K_COUNT) {
            escape(it->string, got, sizeof got);
            return fail(c, "unknown key '%s': expected one of %s", got, key_list);
        }
        /* cJSON keeps both members of {"a":1,"a":2}; a silent "last one wins" hides typos. */
        if (seen[k]++)
            return fail(c, "key '%s': expected each key once, got it twice", key_names[k]);
        switch (k) {
        case K_NAME:
            if (string_value(c, it, "name", "a string of 1..63 characters from A-Z a-z 0-9 _ . -",
                             RB_MAX_NAME,
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-",
                             cfg->name))
                return -1;
            /* the name becomes part of output paths */
            if (strcmp(cfg->name, ".") == 0 || strcmp(cfg->name, "..") == 0)
                return bad(c, "name", "a name other than \".\" or \"..\"", it);
            break;
        case K_SEED:
            if (!as_int(it, 0.0, RB_SEED_MAX, &v))
                return bad(c, "seed", "an integer in 0..9007199254740992 (2^53)", it);
            cfg->seed = (uint64_t)v;
            break;
        case K_N:
            if (int_list(c, it, "N", 1, RB_N_MAX, cfg->N, &cfg->nN, &scalar))
                return -1;
            break;
        case K_DIMS:
            if (int_list(c, it, "dims", 2, 4096, vals, &cfg->ndims, &dims_scalar))
                return -1;
            for (int i = 0; i < cfg->ndims; i++)
                cfg->dims[i] = (int)vals[i];
            break;
        case K_BITS:
            if (int_list(c, it, "bits", 1, 8, vals, &cfg->nbits, &scalar))
                return -1;
            for (int i = 0; i < cfg->nbits; i++)
                cfg->bits[i] = (int)vals[i];
            break;
        case K_DTYPES:
            if (choice_list(c, it, "dtypes", dtype_choices, NCH(dtype_choices), 1, tmp, 2,
                            &cfg->ndtypes))
                return -1;
            for (int i = 0; i < cfg->ndtypes; i++)
                cfg->dtypes[i] = (rb_dtype)tmp[i];
            break;
        case K_METHODS:
            if (cJSON_IsString(it) && it->valuestring && strcmp(it->valuestring, "all") == 0) {
                for (int i = 0; i < n_all_choices; i++)
                    cfg->methods[i] = all_choices[i].value;
                cfg->nmethods = n_all_choices;
                break;
            }
            if (!cJSON_IsArray(it)) {
                choices_text(method_choices, n_method_choices, names, sizeof names);
                snprintf(what, sizeof what, "\"all\" or a non-empty array of names from %s",
                         names);
                return bad(c, "methods", what, it);
            }
            if (choice_list(c, it, "methods", method_choices, n_method_choices, 0, tmp, RB_MAX_LIST,
                            &cfg->nmethods))
                return -1;
            for (int i = 0; i < cfg->nmethods; i++)
                cfg->methods[i] = (rb_method)tmp[i];
            break;
        case K_CODEBOOK:
            if (one_choice(c, it, "codebook", codebook_choices, NCH(codebook_choices), &tmp[0]))
                return -1;
            cfg->codebook = (rb_codebook_kind)tmp[0];
            break;
        case K_DIST:
            if (distribution(c, it, cfg))
                return -1;
            break;
        case K_HQMQ:
            if (hqmq_block(c, it, &cfg->hqmq))
                return -1;
            break;
        case K_BASELINE:
            if (one_choice(c, it, "baseline", all_choices, n_all_choices, &tmp[0]))
                return -1;
            cfg->baseline = (rb_method)tmp[0];
            break;
        case K_OUTPUT_DIR:
            if (string_value(c, it, "output_dir",
                             "a non-empty path under 1024 bytes without control characters",
                             RB_MAX_PATH, NULL, cfg->output_dir))
                return -1;
            break;
        case K_COMMENT:
            if (!cJSON_IsString(it))
                return bad(c, "comment", "a string", it);
            break;
        case K_QUERIES:
            if (queries(c, it, cfg))
                return -1;
            break;
        case K_ATTENTION: {
            static const char *const an[] = {"T", NULL};
            const cJSON *T = cJSON_GetObjectItemCaseSensitive(it, "T");
            double x;
            if (!cJSON_IsObject(it))
                return bad(c, "attention", "an object {\"T\": keys per group}", it);
            if (object_keys(c, it, "attention", an, "T"))
                return -1;
            if (T && !as_int(T, 2, RB_ATTN_MAX_T, &x))
                return bad(c, "attention.T", "an integer in 2..1024", T);
            if (T)
                cfg->attn_T = (int)x;
            break;
        }
        case K_UNIT_NORM:
            if (!cJSON_IsBool(it))
                return bad(c, "assume_unit_norm", "true or false", it);
            cfg->unit_norm = cJSON_IsTrue(it) ? 1 : 0;
            break;
        case K_PATH:
            if (choice_list(c, it, "path", path_choices, NCH(path_choices), 1, cfg->paths, RB_NPATHS, &cfg->npaths))
                return -1;
            break;
        case K_KV_NORM:
            if (one_choice(c, it, "kv_norm", kv_norm_choices, NCH(kv_norm_choices), &cfg->kv_norm))
                return -1;
            break;
        case K_KVA:
            if (rb_kva_config_parse(c->path, it, &cfg->kva, c->err, c->errlen))
                return -1;
            break;
        }
    }

    /* N and dims only where some input is synthetic: a file brings its own rows and d */
    const int synthetic = rb_config_has_synthetic(cfg);
    static const struct { int k, synthetic_only; const char *what; } required[] = {
        {K_NAME, 0, "a string of 1..63 characters from A-Z a-z 0-9 _ . -"},
        {K_SEED, 0, "an integer in 0..9007199254740992 (2^53)"},
        {K_N, 1, "an integer in 1..268435456 or a non-empty array of them"},
        {K_DIMS, 1, "an integer in 2..4096 or a non-empty array of them"},
        {K_BITS, 0, "an integer in 1..8 or a non-empty array of them"},
        {K_METHODS, 0, "\"all\" or a non-empty array of method names"},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!seen[required[i].k] && (!required[i].synthetic_only || synthetic) &&
            !(cfg->kva.on && (required[i].k == K_N || (required[i].k == K_DIMS && cfg->kva.input == RB_KVA_FILES))))
            return fail(c, "key '%s': expected %s, got nothing (the key is required)",
                        key_names[required[i].k], required[i].what);
    for (int i = 0; i < cfg->npaths; i++)
        if (cfg->paths[i] == RB_PATH_ATTENTION && !cfg->kva.on)
            return fail(c, "key 'path': \"attention\" needs a \"kv_attention\" object (its B, H, T; docs/config-format.md)");
    if (!synthetic && seen[K_N])
        return fail(c, "key 'N': expected nothing when every input is a file (its rows are the batch: "
                       "distribution.rows picks them)");

    for (int k = 0; k < cfg->ndists; k++)
        for (int i = 0; cfg->dists[k].kind == RB_DIST_CHANNEL_OUTLIERS && i < cfg->ndims; i++)
            if (cfg->dists[k].channels > cfg->dims[i]) {
                char key[32] = "distribution";
                if (cfg->ndists > 1)
                    snprintf(key, sizeof key, "distribution[%d]", k);
                return fail(c, "key '%s.channels': expected at most %d (dims holds d = %d), got %d", key,
                            cfg->dims[i], cfg->dims[i], cfg->dists[k].channels);
            }

    /* The packed paths need a packed format (kvpack.h, or the method's own: hqmq_pack.h). */
    for (int i = 0; i < cfg->npaths; i++)
        for (int m = 0; (cfg->paths[i] == RB_PATH_ENCODE || cfg->paths[i] == RB_PATH_DECODE) && m < cfg->nmethods; m++)
            if (!rb_kv_method_has_paths(cfg->methods[m])) {
                char key[32];
                snprintf(key, sizeof key, cfg->npaths > 1 ? "path[%d]" : "path", i);
                return fail(c, "key '%s': expected \"roundtrip\" or \"attention\" because methods include %s "
                               "(no packed format: docs/methods.md, Packed format), got \"%s\"",
                            key, rb_method_name(cfg->methods[m]), rb_path_name(cfg->paths[i]));
            }

    /* A d some listed method cannot take (e.g. a Walsh-Hadamard transform needs a power of
     * two): caught here rather than in the middle of a sweep. */
    for (int m = 0; m < cfg->nmethods; m++) {
        const rb_method_desc *md = rb_method_get(cfg->methods[m]);
        for (int i = 0; md->check_d && i < cfg->ndims; i++) {
            const char *why = md->check_d(cfg->dims[i]);
            if (why) {
                char key[32];
                snprintf(key, sizeof key, dims_scalar ? "dims" : "dims[%d]", i);
                return fail(c, "key '%s': expected %s because methods include %s, got %d", key, why,
                            md->name, cfg->dims[i]);
            }
        }
    }
    return 0;
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

int rb_config_parse(const char *path, const char *text, size_t len, rb_config *cfg, char *err,
                    size_t errlen)
{
    ctx c = {path ? path : "(config)", err, errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!cfg)
        return fail(&c, "internal error: no rb_config to fill");
    if (!text && len)
        return fail(&c, "internal error: no text");
    if (len > (size_t)RB_CONFIG_MAX_BYTES)
        return fail(&c, "larger than 1 MiB (%zu bytes); a config is a small JSON file", len);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        return fail(&c, "starts with a UTF-8 byte-order mark; save it without one");
    size_t i = 0;
    while (i < len && is_space(text[i]))
        i++;
    if (i == len)
        return fail(&c, len ? "empty file (only whitespace)" : "empty file");
    /* cJSON would stop at a NUL and ignore the rest, silently */
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return fail(&c, "contains a NUL byte at byte %zu; a config is plain text",
                    (size_t)(nul - text));

    /* The caller's text need not be NUL-terminated, and with require_null_terminated cJSON wants
     * the terminator inside buffer_length; so parse a terminated copy of len + 1 bytes. */
    char *buf = malloc(len + 1);
    if (!buf)
        return fail(&c, "out of memory");
    memcpy(buf, text, len);
    buf[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (!root) {
        size_t off = (end && end >= buf && end <= buf + len) ? (size_t)(end - buf) : len;
        int line = 1;
        for (size_t j = 0; j < off; j++)
            line += buf[j] == '\n';
        free(buf);
        return fail(&c, "not valid JSON near byte %zu (line %d)", off, line);
    }

    rb_config tmp;
    memset(&tmp, 0, sizeof tmp);
    snprintf(tmp.path, sizeof tmp.path, "%s", c.path);
    tmp.ndtypes = 2;
    tmp.dtypes[0] = RB_FP16;
    tmp.dtypes[1] = RB_FP32;
    tmp.codebook = RB_CODEBOOK_GAUSSIAN;
    tmp.npaths = 1; /* the roundtrip: what every config meant before the key existed */
    tmp.paths[0] = RB_PATH_ROUNDTRIP;
    tmp.kv_norm = RB_KV_NORM_FP16;
    tmp.q_count = 64;
    tmp.attn_T = 1024;
    tmp.ndists = 1;
    dist_defaults(&tmp.dists[0], RB_DIST_SPHERE);
    /* the paper's operating points, in its order of presentation */
    static const rb_hqmq_op paper_ops[] = {{24, 3}, {96, 4}, {192, 4}, {192, 6}, {24, 6}};
    tmp.hqmq.nops = (int)(sizeof paper_ops / sizeof paper_ops[0]);
    memcpy(tmp.hqmq.ops, paper_ops, sizeof paper_ops);
    tmp.hqmq.outliers = 0;
    tmp.hqmq.C = 3.0;
    tmp.hqmq.sigma_inliers = 0;
    tmp.baseline = rb_method_find("rotorquant"); /* the paper's reference; -1 if not built in */
    snprintf(tmp.output_dir, sizeof tmp.output_dir, "out"); /* untracked (.gitignore): a sweep touches no committed file */

    int rc = parse_root(&c, root, &tmp);
    cJSON_Delete(root);
    free(buf);
    if (rc == 0)
        *cfg = tmp;
    return rc;
}

int rb_config_load(const char *path, rb_config *cfg, char *err, size_t errlen)
{
    ctx c = {path ? path : "(null)", err, errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!path)
        return fail(&c, "internal error: no path");
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(&c, "cannot open: %s", strerror(errno));
    /* Read at most one byte past the cap rather than trusting fstat: works for pipes too. */
    size_t cap = (size_t)RB_CONFIG_MAX_BYTES + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return fail(&c, "out of memory");
    }
    while (len < cap) {
        size_t got = fread(buf + len, 1, cap - len, f);
        if (got == 0)
            break;
        len += got;
    }
    int read_err = ferror(f) ? errno : 0;
    fclose(f);
    if (read_err) {
        free(buf);
        return fail(&c, "cannot read: %s", strerror(read_err));
    }
    if (len > (size_t)RB_CONFIG_MAX_BYTES) {
        free(buf);
        return fail(&c, "larger than 1 MiB; a config is a small JSON file");
    }
    int rc = rb_config_parse(path, buf, len, cfg, err, errlen);
    free(buf);
    return rc;
}
