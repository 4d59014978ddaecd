/* compare.c: `rotorbench compare BASE.json NEW.json [--time-tol 0.05] [--time-floor-us 0.25]`,
 * the regression gate (compare.h). MSEs are deterministic for a given config and backend, so
 * any change beyond rounding (1e-6 relative) is a change in the arithmetic; timings are noisy,
 * so a setting is SLOWER only when new/base exceeds 1 + max(tol, 3 x the larger relative noise
 * of the two) and the medians differ by more than the floor. The floor is the run-to-run step
 * of a few-microsecond kernel, which a record's own noise (its samples within one run) does
 * not show: on the H200 at N = 512 medians of unchanged kernels moved between runs by one
 * step of 0.17-0.22 us (2.92 -> 3.10 us, 6 %) with 0.0-0.3 % noise in each record.
 * Unlike NVBench's compare scripts this exits non-zero on a regression, which is what CI needs. */
#include "compare.h"
#include "config.h"
#include "record_fields.h"
#include "slurp.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES (256L << 20) /* a result file is kilobytes to a few megabytes */

/* An attention record's errors against the fp32 reference, compared under the MSE's rule. */
#define RB_KVA_NERR 5
static const char *const kva_err_name[RB_KVA_NERR] = {"max_rel_err", "out_cos", "kl", "top1", "top5"};

/* The fields of a record that form its key, from the table (record_fields.h: cmp KEY or
 * KEYREQ), as K_<id>. */
#define RB_CMP_ENUM_KEY(id) K_##id,
#define RB_CMP_ENUM_KEYREQ RB_CMP_ENUM_KEY
#define RB_CMP_ENUM_none(id)
#define RB_CMP_ENUM_MSE RB_CMP_ENUM_none
#define RB_CMP_ENUM_MEDIAN RB_CMP_ENUM_none
#define RB_CMP_ENUM_NOISE RB_CMP_ENUM_none
#define RB_CMP_ENUM_CLOCK RB_CMP_ENUM_none
#define RB_CMP_ENUM_CLOCK_KHZ RB_CMP_ENUM_none
enum {
#define X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp) RB_CMP_ENUM_##cmp(id)
    RB_RECORD_FIELDS(X)
#undef X
    NKEYS
};

/* How a key is read: text (absent: NULL, or the name of the type's default), a number (absent:
 * -1) or a flag (absent: false). */
enum { KEY_TEXT, KEY_NUM, KEY_FLAG };
#define RB_CMP_KIND_TEXT KEY_TEXT
#define RB_CMP_KIND_NAME KEY_TEXT
#define RB_CMP_KIND_METHOD KEY_TEXT
#define RB_CMP_KIND_DTYPE KEY_TEXT
#define RB_CMP_KIND_PATH KEY_TEXT
#define RB_CMP_KIND_DIST KEY_TEXT
#define RB_CMP_KIND_KVNORM KEY_TEXT
#define RB_CMP_KIND_NUM KEY_NUM
#define RB_CMP_KIND_FLAG KEY_FLAG
#define RB_CMP_ABSENT_PATH rb_path_name(RB_PATH_ROUNDTRIP) /* older files: the roundtrip */
#define RB_CMP_ABSENT_DIST rb_distribution_name(RB_DIST_SPHERE) /* older files: the sphere */
#define RB_CMP_ABSENT_TEXT NULL
#define RB_CMP_ABSENT_NAME NULL
#define RB_CMP_ABSENT_METHOD NULL
#define RB_CMP_ABSENT_DTYPE NULL
#define RB_CMP_ABSENT_KVNORM NULL
#define RB_CMP_ABSENT_NUM NULL /* numbers: -1, flags: false */
#define RB_CMP_ABSENT_FLAG NULL

typedef struct {
    int grp;
    const char *key;
    int kind, req; /* req: a record without it is a bad file */
    const char *absent;
} key_field;

#define RB_CMP_FIELD_KEY(grp, key, type) {RB_G_##grp, key, RB_CMP_KIND_##type, 0, RB_CMP_ABSENT_##type},
#define RB_CMP_FIELD_KEYREQ(grp, key, type) {RB_G_##grp, key, RB_CMP_KIND_##type, 1, RB_CMP_ABSENT_##type},
#define RB_CMP_FIELD_none(grp, key, type)
#define RB_CMP_FIELD_MSE RB_CMP_FIELD_none
#define RB_CMP_FIELD_MEDIAN RB_CMP_FIELD_none
#define RB_CMP_FIELD_NOISE RB_CMP_FIELD_none
#define RB_CMP_FIELD_CLOCK RB_CMP_FIELD_none
#define RB_CMP_FIELD_CLOCK_KHZ RB_CMP_FIELD_none

/* The key fields, in the table's order (K_<id> indexes them). */
static void key_fields(key_field f[NKEYS + 1])
{
    const key_field all[NKEYS + 1] = {
#define X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp) RB_CMP_FIELD_##cmp(grp, key, type)
        RB_RECORD_FIELDS(X)
#undef X
        {0, NULL, 0, 0, NULL}};
    memcpy(f, all, sizeof all);
}

typedef struct {
    const char *s[NKEYS]; /* the key's texts (point into the parsed JSON or are static names) */
    double x[NKEYS];      /* and numbers; a text key's is 0 */
    unsigned char has[NKEYS];
    const char *clock;    /* the timing's clock (time.clock) */
    int has_mse;
    double mse;
    double median_us; /* NAN when absent, null or not positive */
    double noise;     /* relative (0.05 = 5 %); 0 when absent */
    double clock_mhz; /* the hot samples' mean SM clock; NAN when absent (older files, the CPU) */
    /* decode attention (kv_attention): its shape in the key, its errors compared as the MSE is */
    int attn;
    double kva[6];    /* B, H, kv_heads, T, split, the files' slice (-1: none) */
    const char *kva_input, *kv_norm;
    int has_err[RB_KVA_NERR];
    double err[RB_KVA_NERR];
    int matched;
    int dup;          /* a second record with the same key: ignored */
} crec;

typedef struct {
    const char *path;
    cJSON *root;
    const char *backend; /* "?" when absent */
    const char *git;
    char device[512];    /* "" when unknown */
    crec *recs;
    int n;
} cfile;

/* ---- small helpers ----------------------------------------------------------------------- */

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* s for a Markdown table cell or one line of text: '|', '`' and control bytes become '?'. */
static void cell(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; s && *s && o + 1 < n; s++) {
        unsigned char c = (unsigned char)*s;
        out[o++] = (c < 0x20 || c == 0x7f || c == '|' || c == '`') ? '?' : (char)c;
    }
    out[o] = '\0';
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_key(const crec *a, const crec *b)
{
    for (int k = 0; k < NKEYS; k++)
        if (!same_str(a->s[k], b->s[k]) || a->x[k] != b->x[k])
            return 0;
    return a->attn == b->attn &&
           (!a->attn || (!memcmp(a->kva, b->kva, sizeof a->kva) &&
                         same_str(a->kva_input ? a->kva_input : "synthetic", b->kva_input ? b->kva_input : "synthetic") &&
                         same_str(a->kv_norm, b->kv_norm)));
}

/* "isoquant-fast ref d128 b2 fp16 N8192" (+ the codebook when with_cb). */
static void key_text(const crec *r, int with_cb, char *out, size_t n)
{
    char m[160], v[40], t[24], cb[40];
    cell(r->s[K_method], m, sizeof m);
    if (r->s[K_op]) { /* "hqmq s96_r4" */
        size_t l = strlen(m);
        if (l + 2 < sizeof m) {
            m[l] = ' ';
            cell(r->s[K_op], m + l + 1, sizeof m - l - 1);
        }
    }
    if (r->s[K_distribution] && strcmp(r->s[K_distribution], "sphere")) { /* "rotorquant channel-outliers[1]" */
        size_t l = strlen(m);
        int w = snprintf(m + l, sizeof m - l, " %s", r->s[K_distribution]);
        if (w > 0 && r->x[K_input_index] >= 0)
            snprintf(m + l + (size_t)w, sizeof m - l - (size_t)w, "#%.0f", r->x[K_input_index]);
        l = strlen(m);
        if (r->x[K_input_slice] >= 0)
            snprintf(m + l, sizeof m - l, "[%.0f]", r->x[K_input_slice]);
    }
    cell(r->s[K_variant], v, sizeof v);
    cell(r->s[K_dtype], t, sizeof t);
    cell(r->s[K_codebook] ? r->s[K_codebook] : "-", cb, sizeof cb);
    char pa[24] = ""; /* " encode": the roundtrip, every older file's path, is not named */
    if (r->s[K_path] && strcmp(r->s[K_path], "roundtrip")) {
        pa[0] = ' ';
        cell(r->s[K_path], pa + 1, sizeof pa - 1);
    }
    char at[160] = ""; /* " B1 H32 kv32 T4096 split64 synthetic norms fp16" */
    if (r->attn) {
        char in[24], kn[24];
        cell(r->kva_input ? r->kva_input : "?", in, sizeof in);
        cell(r->kv_norm ? r->kv_norm : "-", kn, sizeof kn);
        snprintf(at, sizeof at, " B%.0f H%.0f kv%.0f T%.0f split%.0f %s", r->kva[0], r->kva[1], r->kva[2], r->kva[3],
                 r->kva[4], in);
        if (r->kva[5] >= 0)
            snprintf(at + strlen(at), sizeof at - strlen(at), "[%.0f]", r->kva[5]);
        snprintf(at + strlen(at), sizeof at - strlen(at), " norms %s", kn);
    }
    snprintf(out, n, "%s %s d%.0f b%.0f %s N%.0f%s%s%s%s%s", m, v, r->x[K_d], r->x[K_bits], t, r->x[K_N],
             r->x[K_unit_norm] ? " unit-norm" : "", pa, at, with_cb ? " " : "", with_cb ? cb : "");
}

/* ---- loading ----------------------------------------------------------------------------- */

/* The device a file's timings were taken on: the GPU's name (one model times alike); for the
 * CPU backend the CPU model, its threads and the machine's id, since two hosts both called
 * "vm" are not one machine. "" when the file cannot tell (older files: timings not compared). */
static void device_of(const cJSON *root, const char *backend, char *out, size_t n)
{
    const cJSON *m = get(root, "machine");
    const char *name = str(m, "gpu_name");
    if (!name)
        name = str(m, "name");
    if (!name)
        name = str(m, "gpu");
    if (!name)
        name = str(get(m, "gpu"), "name");
    out[0] = '\0';
    if (name) {
        snprintf(out, n, "%s", name);
        return;
    }
    const char *cpu = str(m, "cpu"), *id = str(m, "machine_id");
    const cJSON *threads = get(m, "cpu_threads");
    if (!strcmp(backend, "cpu") && cpu && id && cJSON_IsNumber(threads))
        snprintf(out, n, "%s, %d threads, machine %.12s", cpu, threads->valueint, id);
}

/* A positive finite number, else otherwise. */
static double positive(const cJSON *v, double otherwise)
{
    return cJSON_IsNumber(v) && v->valuedouble > 0 && isfinite(v->valuedouble) ? v->valuedouble : otherwise;
}

/* "needs the strings "method", "variant" and "dtype"": the required keys of one kind (numbers or
 * not), in the table's order. */
static void needs(const key_field *kf, int numbers, char *out, size_t n)
{
    int total = 0, c = 0;
    for (int k = 0; k < NKEYS; k++)
        total += kf[k].req && (kf[k].kind == KEY_NUM) == numbers;
    int o = snprintf(out, n, "needs the %s ", numbers ? "numbers" : "strings");
    for (int k = 0; k < NKEYS; k++) {
        if (!kf[k].req || (kf[k].kind == KEY_NUM) != numbers)
            continue;
        const char *sep = c++ == 0 ? "" : c == total ? " and " : ", ";
        if (o >= 0 && (size_t)o < n)
            o += snprintf(out + o, n - (size_t)o, "%s\"%s\"", sep, kf[k].key);
    }
}

static int bad_record(const cfile *f, int i, const char *what, FILE *err)
{
    fprintf(err, "rotorbench compare: %s: records[%d]: %s\n", f->path, i, what);
    return -1;
}

/* Record i's key fields into r; -1 (said on err) when a required one is missing. */
static int read_keys(const cJSON *o, const key_field *kf, crec *r, const cfile *f, int i, FILE *err)
{
    int missing_text = 0, missing_num = 0;
    for (int k = 0; k < NKEYS; k++) {
        const cJSON *g = kf[k].grp == RB_G_TOP ? o : get(o, rb_record_group_key(kf[k].grp));
        const cJSON *v = get(g, kf[k].key);
        if (kf[k].kind == KEY_TEXT) {
            r->s[k] = str(g, kf[k].key);
            r->has[k] = r->s[k] != NULL;
            if (!r->s[k])
                r->s[k] = kf[k].absent;
        } else {
            r->has[k] = kf[k].kind == KEY_NUM ? cJSON_IsNumber(v) : cJSON_IsBool(v);
            r->x[k] = kf[k].kind == KEY_FLAG ? cJSON_IsTrue(v) : r->has[k] ? v->valuedouble : -1;
        }
        missing_text |= kf[k].req && kf[k].kind != KEY_NUM && !r->has[k];
        missing_num |= kf[k].req && kf[k].kind == KEY_NUM && !r->has[k];
    }
    if (missing_text || missing_num) {
        char what[256];
        needs(kf, missing_text ? 0 : 1, what, sizeof what);
        return bad_record(f, i, what, err);
    }
    return 0;
}

/* What the gate checks of record i (record_fields.h's cmp column; decode attention's shape and
 * errors) into r; -1 (said on err) when the MSE is neither a number nor null. */
static int read_checked(const cJSON *o, crec *r, const cfile *f, int i, FILE *err)
{
    const cJSON *mse = NULL;
    const char *mse_key = "";
#define RB_CMP_LOAD_none(g, k)
#define RB_CMP_LOAD_KEY RB_CMP_LOAD_none
#define RB_CMP_LOAD_KEYREQ RB_CMP_LOAD_none
#define RB_CMP_LOAD_MSE(g, k) mse = get(g, k), mse_key = k;
#define RB_CMP_LOAD_MEDIAN(g, k) r->median_us = positive(get(g, k), NAN);
#define RB_CMP_LOAD_NOISE(g, k) r->noise = positive(get(g, k), 0);
#define RB_CMP_LOAD_CLOCK(g, k) r->clock = str(g, k);
#define RB_CMP_LOAD_CLOCK_KHZ(g, k) r->clock_mhz = positive(get(g, k), NAN) / 1e3;
#define X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp) \
    RB_CMP_LOAD_##cmp(RB_G_##grp == RB_G_TOP ? o : get(o, rb_record_group_key(RB_G_##grp)), key)
    RB_RECORD_FIELDS(X)
#undef X
    if (cJSON_IsNumber(mse)) {
        r->has_mse = 1;
        r->mse = mse->valuedouble;
    } else if (mse && !cJSON_IsNull(mse)) {
        char what[128];
        snprintf(what, sizeof what, "\"%s\" is neither a number nor null", mse_key);
        return bad_record(f, i, what, err);
    }
    const cJSON *ka = get(o, "kv_attention");
    if (cJSON_IsObject(ka)) {
        static const char *const shape[6] = {"B", "H", "kv_heads", "T", "split", "slice"};
        r->attn = 1;
        for (int k = 0; k < 6; k++) {
            const cJSON *x = get(ka, shape[k]);
            r->kva[k] = cJSON_IsNumber(x) ? x->valuedouble : -1;
        }
        r->kva_input = str(ka, "input");
        r->kv_norm = str(o, "kv_norm");
        for (int k = 0; k < RB_KVA_NERR; k++) { /* max_rel_err in kv_attention, the rest in attention */
            const cJSON *x = get(k ? get(o, "attention") : ka, kva_err_name[k]);
            r->has_err[k] = cJSON_IsNumber(x);
            r->err[k] = r->has_err[k] ? x->valuedouble : NAN;
        }
    }
    return 0;
}

static int load(const char *path, cfile *f, FILE *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    size_t len = 0;
    char *text = rb_slurp(path, MAX_FILE_BYTES, "rotorbench compare", &len, err);
    if (!text)
        return -1;
    const char *end = NULL;
    f->root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (!f->root) {
        size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
        fprintf(err, "rotorbench compare: %s: not valid JSON near byte %zu\n", path, off);
        free(text);
        return -1;
    }
    free(text);
    const cJSON *recs = get(f->root, "records");
    if (!cJSON_IsArray(recs) || !recs->child) {
        fprintf(err, "rotorbench compare: %s: no records (expected a rotorbench result file with "
                     "a non-empty \"records\" array)\n", path);
        return -1;
    }
    f->backend = str(f->root, "backend");
    if (!f->backend)
        f->backend = "?";
    f->git = str(f->root, "git_revision");
    device_of(f->root, f->backend, f->device, sizeof f->device);

    int n = cJSON_GetArraySize(recs);
    f->recs = calloc((size_t)n, sizeof *f->recs);
    if (!f->recs) {
        fprintf(err, "rotorbench compare: %s: out of memory\n", path);
        return -1;
    }
    key_field kf[NKEYS + 1];
    key_fields(kf);
    int i = 0;
    for (const cJSON *o = recs->child; o; o = o->next, i++) {
        crec *r = &f->recs[i];
        if (!cJSON_IsObject(o))
            return bad_record(f, i, "not an object", err);
        if (read_keys(o, kf, r, f, i, err) || read_checked(o, r, f, i, err))
            return -1;
        for (int j = 0; j < i; j++)
            if (!f->recs[j].dup && same_key(&f->recs[j], r)) {
                char k[256];
                key_text(r, 1, k, sizeof k);
                fprintf(err, "rotorbench compare: %s: records[%d] repeats %s (records[%d]); "
                             "using the first\n", path, i, k, j);
                r->dup = 1;
                break;
            }
    }
    f->n = i;
    return 0;
}

static void unload(cfile *f)
{
    cJSON_Delete(f->root);
    free(f->recs);
    f->root = NULL;
    f->recs = NULL;
}

/* ---- comparing --------------------------------------------------------------------------- */

static void fmt_num(double v, int has, const char *fmt, char *out, size_t n)
{
    if (!has)
        snprintf(out, n, "null");
    else if (!isfinite(v))
        snprintf(out, n, isnan(v) ? "NaN" : "inf");
    else
        snprintf(out, n, fmt, v);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rotorbench compare BASE.json NEW.json [--time-tol 0.05] [--time-floor-us 0.25]\n"
            "                          [--mse-only] [--allow-missing] [--cpu-times]\n"
            "\n"
            "  Matches the records of two result files by (method, variant, d, bits or operating\n"
            "  point, dtype, N, codebook; decode attention also by B, H, kv_heads, T, split, input and\n"
            "  norms) and prints a Markdown table. A setting fails when its MSE (decode attention:\n"
            "  max_rel_err, out_cos, KL, top-1 or top-5) differs by more than 1e-6 relative, or (same\n"
            "  backend and device only) when it got slower by more than max(time-tol, 3 x the larger\n"
            "  relative noise of the two records) and by more than time-floor-us microseconds (the\n"
            "  run-to-run step of a short kernel).\n"
            "  The gate also fails when no setting matched, or when a setting of BASE is missing\n"
            "  from NEW.\n"
            "\n"
            "  --mse-only       compare MSEs only\n"
            "  --allow-missing  settings of BASE missing from NEW are listed, not failed (a run\n"
            "                   of part of a sweep); nothing matched still fails\n"
            "  --cpu-times      compare CPU-backend wall-clock times too (same machine only); by\n"
            "                   default CPU results are compared on their MSEs\n"
            "\n"
            "Exit status: 0 no regression, 1 a regression or nothing compared, 2 a bad argument\n"
            "or file.\n");
}

/* What the command line asks. */
typedef struct {
    const char *paths[2]; /* BASE, NEW */
    double tol, floor_us;
    int mse_only, allow_missing, cpu_times;
} options;

/* The command line into o: -1 to go on, else the exit status (0 after --help, 2 on a bad
 * argument, said on err). */
static int parse_args(int argc, char **argv, options *o, FILE *out, FILE *err)
{
    int npaths = 0;
    *o = (options){.tol = 0.05, .floor_us = 0.25};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(out);
            return 0;
        }
        if (!strcmp(a, "--mse-only")) { /* e.g. CI on a shared machine: gate on numerics only */
            o->mse_only = 1;
            continue;
        }
        if (!strcmp(a, "--allow-missing")) {
            o->allow_missing = 1;
            continue;
        }
        if (!strcmp(a, "--cpu-times")) {
            o->cpu_times = 1;
            continue;
        }
        const char *opt = !strncmp(a, "--time-tol", 10) ? "--time-tol"
                          : !strncmp(a, "--time-floor-us", 15) ? "--time-floor-us" : NULL;
        const size_t ol = opt ? strlen(opt) : 0;
        if (opt && a[ol] == '=')
            val = a + ol + 1;
        else if (opt && !a[ol]) {
            if (i + 1 >= argc) {
                fprintf(err, "rotorbench compare: missing value after %s\n", opt);
                usage(err);
                return 2;
            }
            val = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(err, "rotorbench compare: unknown option: %s\n", a);
            usage(err);
            return 2;
        } else if (npaths < 2) {
            o->paths[npaths++] = a;
            continue;
        } else {
            fprintf(err, "rotorbench compare: more than two files given: %s\n", a);
            usage(err);
            return 2;
        }
        char *end = NULL;
        errno = 0;
        const double x = strtod(val, &end);
        const int is_tol = !strcmp(opt, "--time-tol");
        if (!*val || *end || errno || !isfinite(x) || x < 0 || x > (is_tol ? 100 : 1e6)) {
            fprintf(err, "rotorbench compare: %s: expected %s, got '%s'\n", opt,
                    is_tol ? "a fraction such as 0.05" : "microseconds such as 0.25", val);
            return 2;
        }
        *(is_tol ? &o->tol : &o->floor_us) = x;
    }
    if (npaths != 2) {
        fprintf(err, "rotorbench compare: needs BASE.json and NEW.json\n");
        usage(err);
        return 2;
    }
    return -1;
}

/* Whether timings are compared: only on the same backend and device; CPU wall-clock times only
 * when asked. */
typedef struct {
    int same_backend, known, same_device, cpu, timed;
} timing_rule;

static timing_rule timing_rule_of(const cfile *base, const cfile *cur, const options *o)
{
    timing_rule t;
    t.same_backend = !strcmp(base->backend, cur->backend);
    t.known = base->device[0] && cur->device[0];
    t.same_device = t.same_backend && t.known && !strcmp(base->device, cur->device);
    t.cpu = !strcmp(base->backend, "cpu") || !strcmp(cur->backend, "cpu");
    t.timed = !o->mse_only && t.same_device && (!t.cpu || o->cpu_times);
    return t;
}

/* One codebook in every record of both files (said once, not in every row). */
static int one_codebook(const cfile *base, const cfile *cur)
{
    const char *cb0 = base->recs[0].s[K_codebook];
    int one = 1;
    for (int k = 0; k < 2; k++) {
        const cfile *f = k ? cur : base;
        for (int i = 0; i < f->n; i++)
            one &= same_str(f->recs[i].s[K_codebook], cb0);
    }
    return one;
}

/* The report's head: the files, the devices, the rules applied, the table's header. */
static void print_head(const cfile *base, const cfile *cur, const options *o, const timing_rule *t, int one_cb,
                       FILE *out)
{
    char s1[600], s2[600], s3[600];
    fprintf(out, "## rotorbench compare\n\n");
    for (int k = 0; k < 2; k++) {
        const cfile *f = k ? cur : base;
        cell(f->path, s1, sizeof s1);
        cell(f->backend, s2, sizeof s2);
        cell(f->device[0] ? f->device : "unknown", s3, sizeof s3);
        fprintf(out, "- %s %s: backend %s, device %s, git %s, %d records\n", k ? "new: " : "base:",
                s1, s2, s3, f->git ? f->git : "?", f->n);
    }
    cell(base->device[0] ? base->device : "unknown", s1, sizeof s1);
    cell(cur->device[0] ? cur->device : "unknown", s2, sizeof s2);
    fprintf(out, "- device: %s (%s) vs %s (%s): %s\n", s1, base->backend, s2, cur->backend,
            t->same_device ? "the same device" : "not the same device");
    if (o->mse_only)
        fprintf(out, "- timings not compared (--mse-only)\n");
    else if (t->same_device && t->cpu && !o->cpu_times)
        fprintf(out, "- CPU wall-clock timings not compared (--cpu-times compares them)\n");
    else if (t->timed)
        fprintf(out, "- timings compared (median): SLOWER when new/base > 1 + max(%.3g, 3 x noise) "
                     "and new - base > %.3g us, FASTER when base/new > 1 + the same and base - new > "
                     "the same\n", o->tol, o->floor_us);
    else if (!t->same_backend)
        fprintf(out, "- different devices: timings not compared (backend %s vs %s)\n",
                base->backend, cur->backend);
    else if (!t->known)
        fprintf(out, "- different devices: timings not compared (device unknown in %s)\n",
                base->device[0] ? "NEW" : cur->device[0] ? "BASE" : "both files");
    else
        fprintf(out, "- different devices: timings not compared\n");
    fprintf(out, "- MSE-CHANGED when |new - base| > %.0e x |base|, or null on one side only\n",
            RB_COMPARE_MSE_RTOL);
    int any_attn = 0;
    for (int i = 0; i < base->n; i++)
        any_attn |= base->recs[i].attn;
    if (any_attn)
        fprintf(out, "- decode attention (no MSE): ERROR-CHANGED when max_rel_err, out_cos, kl, top1 or top5 changes by "
                     "the same rule; its MSE columns show max_rel_err, or the error that changed\n");
    if (one_cb) {
        cell(base->recs[0].s[K_codebook] ? base->recs[0].s[K_codebook] : "(none)", s1, sizeof s1);
        fprintf(out, "- codebook: %s\n", s1);
    }
    fprintf(out, "\n| key | base MSE | new MSE | rel diff | base µs | new µs | ratio | noise | "
                 "verdict |\n");
    fprintf(out, "|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
}

/* The rule for an MSE (or an attention error): changed when null on one side only, or when
 * |new - base| > RB_COMPARE_MSE_RTOL |base|; the relative difference as text into rel. */
static int value_changed(int hb, double b, int hc, double c, char *rel, size_t n)
{
    if (hb != hc) {
        snprintf(rel, n, "null");
        return 1;
    }
    if (!hb) {
        snprintf(rel, n, "-");
        return 0;
    }
    const double diff = c - b;
    if (diff == 0) {
        snprintf(rel, n, "0");
        return 0;
    }
    if (b == 0) {
        snprintf(rel, n, "inf");
        return 1;
    }
    const double r = diff / fabs(b);
    snprintf(rel, n, "%+.1e", r);
    return !(fabs(r) <= RB_COMPARE_MSE_RTOL);
}

/* The tallies of the matched settings. */
typedef struct {
    int same, faster, slower, mse, compared, low_clock;
} tally;

/* One matched pair: its verdict, its row of the table, its counts. */
static void compare_pair(const crec *b, const crec *c, const options *o, const timing_rule *t, int one_cb,
                         tally *n, FILE *out)
{
    /* MSE; for attention records (no MSE) their errors against the reference, by one rule */
    char rel[32];
    int changed = value_changed(b->has_mse, b->mse, c->has_mse, c->mse, rel, sizeof rel), err_k = -1;
    for (int k = 0; k < RB_KVA_NERR && b->attn && err_k < 0; k++)
        if (value_changed(b->has_err[k], b->err[k], c->has_err[k], c->err[k], rel, sizeof rel))
            err_k = k;
    if (b->attn && err_k < 0) /* unchanged: max_rel_err's difference is shown */
        value_changed(b->has_err[0], b->err[0], c->has_err[0], c->err[0], rel, sizeof rel);
    changed |= err_k >= 0;

    int slower = 0, faster = 0;
    char ratio[32] = "-", noise[32] = "-", bt[32], ct[32];
    snprintf(bt, sizeof bt, isnan(b->median_us) ? "-" : "%.2f", b->median_us);
    snprintf(ct, sizeof ct, isnan(c->median_us) ? "-" : "%.2f", c->median_us);
    if (t->timed && !isnan(b->median_us) && !isnan(c->median_us) &&
        (!b->clock || !c->clock || !strcmp(b->clock, c->clock))) {
        double q = c->median_us / b->median_us;
        double nz = b->noise > c->noise ? b->noise : c->noise;
        double thr = 3 * nz > o->tol ? 3 * nz : o->tol;
        slower = q > 1 + thr && c->median_us - b->median_us > o->floor_us;
        faster = 1 / q > 1 + thr && b->median_us - c->median_us > o->floor_us;
        snprintf(ratio, sizeof ratio, "%.3f", q);
        snprintf(noise, sizeof noise, "%.1f%%", 100 * nz);
    }

    /* a slower setting whose hot samples ran at a clock 5 % or more below the base's: still
     * SLOWER (the gate cannot tell a power or thermal state from the code), but said */
    const int low_clock = slower && !isnan(b->clock_mhz) && !isnan(c->clock_mhz) &&
                          c->clock_mhz < (1 - RB_COMPARE_CLOCK_DROP) * b->clock_mhz;
    char verdict[96], clk[64] = "";
    if (low_clock)
        snprintf(clk, sizeof clk, " at a lower clock (%.0f -> %.0f MHz)", b->clock_mhz, c->clock_mhz);
    if (changed && slower)
        snprintf(verdict, sizeof verdict, "**MSE-CHANGED, SLOWER**%s", clk);
    else if (changed && err_k >= 0)
        snprintf(verdict, sizeof verdict, "**ERROR-CHANGED** (%s)", kva_err_name[err_k]);
    else if (changed)
        snprintf(verdict, sizeof verdict, "**MSE-CHANGED**");
    else if (slower)
        snprintf(verdict, sizeof verdict, "**SLOWER**%s", clk);
    else
        snprintf(verdict, sizeof verdict, faster ? "FASTER" : "SAME");
    n->low_clock += low_clock;
    n->mse += changed;
    n->slower += slower;
    n->faster += !changed && !slower && faster;
    n->same += !changed && !slower && !faster;

    char key[256], bm[32], cm[32];
    key_text(b, !one_cb, key, sizeof key);
    const int ek = err_k >= 0 ? err_k : 0; /* attention: the error shown in the MSE columns */
    fmt_num(b->attn ? b->err[ek] : b->mse, b->attn ? b->has_err[ek] : b->has_mse, "%.6e", bm, sizeof bm);
    fmt_num(c->attn ? c->err[ek] : c->mse, c->attn ? c->has_err[ek] : c->has_mse, "%.6e", cm, sizeof cm);
    fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", key, bm, cm, rel, bt, ct, ratio, noise,
            verdict);
}

/* Every setting of BASE against its match in NEW, a row each. */
static void compare_settings(cfile *base, cfile *cur, const options *o, const timing_rule *t, int one_cb, tally *n,
                             FILE *out)
{
    for (int i = 0; i < base->n; i++) {
        crec *b = &base->recs[i];
        if (b->dup)
            continue;
        crec *c = NULL;
        for (int j = 0; j < cur->n && !c; j++)
            if (!cur->recs[j].dup && !cur->recs[j].matched && same_key(b, &cur->recs[j]))
                c = &cur->recs[j];
        if (!c)
            continue;
        b->matched = c->matched = 1;
        n->compared++;
        compare_pair(b, c, o, t, one_cb, n, out);
    }
    if (n->compared == 0)
        fprintf(out, "| (no setting in both files) | | | | | | | | |\n");
}

/* The settings of one file the other lacks, listed; how many into only[0] (BASE) and only[1]. */
static void print_unmatched(const cfile *base, const cfile *cur, int one_cb, int only[2], FILE *out)
{
    for (int k = 0; k < 2; k++) {
        const cfile *f = k ? cur : base;
        only[k] = 0;
        for (int i = 0; i < f->n; i++) {
            const crec *r = &f->recs[i];
            if (r->matched || r->dup)
                continue;
            if (only[k]++ == 0)
                fprintf(out, "\nOnly in %s (not compared):\n\n", k ? "NEW" : "BASE");
            char key[256];
            key_text(r, !one_cb, key, sizeof key);
            fprintf(out, "- %s\n", key);
        }
    }
}

/* The verdict: 1 on a regression, when nothing was compared, or when settings of BASE are
 * missing (unless allowed); said in the closing lines. A gate must not pass by comparing
 * nothing, nor by losing settings on the way. */
static int print_verdict(const tally *n, const int only[2], const options *o, const timing_rule *t, FILE *out)
{
    const int missing = only[0] > 0 && !o->allow_missing;
    const int fail = n->mse > 0 || n->slower > 0 || n->compared == 0 || missing;
    if (n->compared == 0)
        fprintf(out, "\nNo setting of BASE is in NEW: nothing was compared.\n");
    else if (missing)
        fprintf(out, "\n%d setting%s missing from NEW (--allow-missing lists them without failing).\n",
                only[0], only[0] == 1 ? " of BASE is" : "s of BASE are");
    if (n->low_clock)
        fprintf(out, "\n%d of the slower setting%s ran %s hot samples at an SM clock %.0f %% or more below "
                     "the base's: a power or thermal state can explain %s.\n",
                n->low_clock, n->slower == 1 ? "" : "s", n->low_clock == 1 ? "its" : "their",
                100 * RB_COMPARE_CLOCK_DROP, n->low_clock == 1 ? "it" : "them");
    fprintf(out, "\n%d compared: %d same, %d faster, %d slower, %d MSE changed; %d only in base, "
                 "%d only in new%s. %s\n",
            n->compared, n->same, n->faster, n->slower, n->mse, only[0], only[1],
            t->timed ? "" : " (timings not compared)",
            fail ? (n->compared == 0                        ? "FAIL: NOTHING COMPARED"
                    : missing && !n->mse && !n->slower ? "FAIL: MISSING SETTINGS"
                                                       : "REGRESSION")
                 : "OK");
    return fail;
}

int rb_compare_run(int argc, char **argv, FILE *out, FILE *err)
{
    options o;
    const int rc = parse_args(argc, argv, &o, out, err);
    if (rc >= 0)
        return rc;
    cfile base, cur;
    if (load(o.paths[0], &base, err)) {
        unload(&base);
        return 2;
    }
    if (load(o.paths[1], &cur, err)) {
        unload(&base);
        unload(&cur);
        return 2;
    }
    const timing_rule t = timing_rule_of(&base, &cur, &o);
    const int one_cb = one_codebook(&base, &cur);
    print_head(&base, &cur, &o, &t, one_cb, out);
    tally n = {0};
    int only[2];
    compare_settings(&base, &cur, &o, &t, one_cb, &n, out);
    print_unmatched(&base, &cur, one_cb, only, out);
    const int fail = print_verdict(&n, only, &o, &t, out);
    unload(&base);
    unload(&cur);
    return fail ? 1 : 0;
}

int rb_compare_main(int argc, char **argv)
{
    int rc = rb_compare_run(argc, argv, stdout, stderr);
    fflush(stdout);
    return rc;
}
