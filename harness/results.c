#include "results.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inputs.h"
#include "kvattn_record.h"
#include "kvcodec.h"
#include "method_hooks.h"
#include "record_fields.h"
#include "run_options.h"

#ifndef RB_GIT_REV
#define RB_GIT_REV "unknown"
#endif
#ifndef RB_GIT_DIRTY
#define RB_GIT_DIRTY 0
#endif

int rb_write_file_atomic(const char *path, const char *text, size_t len)
{
    char tmp[RB_MAX_PATH + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "rotorbench: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    int bad = fwrite(text, 1, len, f) != len;
    bad |= fflush(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "rotorbench: cannot write %s: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

void rb_results_speedups(rb_run *run)
{
    rb_method base = run->cfg->baseline;
    for (int i = 0; i < run->nrecs; i++) {
        rb_record *r = &run->recs[i];
        if (r->kva.on)
            continue; /* attention records: the speedup over the fp16 cache, set by their sweep */
        r->speedup = 0;
        for (int j = 0; j < run->nrecs; j++) {
            const rb_record *b = &run->recs[j];
            if (b->method == base && !strcmp(b->variant, r->variant) && b->d == r->d &&
                b->bits == r->bits && b->dtype == r->dtype && b->N == r->N && b->path == r->path &&
                r->t.median_us > 0) {
                r->speedup = b->t.median_us / r->t.median_us;
                break;
            }
        }
    }
}

/* JSON has no NaN or Inf: write null for them. */
static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static double gbps(const rb_record *r) { return r->t.median_us > 0 ? r->bytes / (r->t.median_us * 1e3) : 0; }
/* Nominal FMAs per second: fma_nominal (per vector) x N / time. */
static double fma_rate(const rb_record *r)
{
    return r->t.median_us > 0 ? (double)r->fma_nominal * r->N / (r->t.median_us * 1e-6) : 0;
}
static double pct_fma(const rb_record *r)
{
    return r->t.fma_peak_per_s > 0 ? 100.0 * fma_rate(r) / r->t.fma_peak_per_s : 0;
}

/* % of copy: the rate at which the path moves its bytes (read + written: bytes / time) over the
 * rate at which a D2D copy moves its own (read + written: copy_bytes / copy time). A copy of
 * half the path's bytes moves as many as the path; a read-only path (attention) divided by a
 * copy of all its bytes would otherwise read twice what it streams. */
double rb_record_pct_of_copy(const rb_record *r)
{
    if (!(r->t.copy_us > 0 && r->t.median_us > 0))
        return 0;
    const double copy_moved = r->t.copy_bytes > 0 ? r->t.copy_bytes : r->bytes; /* older files: the same bytes */
    return 100.0 * (r->bytes / r->t.median_us) / (copy_moved / r->t.copy_us);
}

void rb_record_md_cells(const rb_config *cfg, const rb_record *r, int gpu, int inputs, char pct[32], char input[160])
{
    pct[0] = input[0] = '\0';
    if (gpu)
        snprintf(pct, 32, " %.1f |", rb_record_pct_of_copy(r));
    if (inputs) {
        char in[128];
        rb_record_input(cfg, r, in, sizeof in);
        snprintf(input, 160, " %s |", in);
    }
}

void rb_record_input(const rb_config *cfg, const rb_record *r, char *buf, size_t n)
{
    const rb_data_dist *dd = &cfg->dists[r->dist >= 0 && r->dist < cfg->ndists ? r->dist : 0];
    const char *path = r->kva.on ? cfg->kva.k.path : dd->path; /* decode attention: its own K file */
    const int file = r->kva.on ? cfg->kva.input == RB_KVA_FILES : dd->kind == RB_DIST_FILE;
    const char *base = file ? strrchr(path, '/') : NULL;
    int o = snprintf(buf, n, "%s", file ? (base ? base + 1 : path) : r->kva.on ? "synthetic" : rb_distribution_name(dd->kind));
    if (r->slice >= 0 && o >= 0 && (size_t)o < n)
        snprintf(buf + o, n - (size_t)o, "[%d]", r->slice);
    for (char *c = buf; *c; c++) /* a CSV cell */
        if (*c == ',' || *c == '"' || (unsigned char)*c < 0x20)
            *c = '_';
}

void rb_record_op(const rb_record *r, char *buf, size_t n) { rb_method_hooks_of(r->method)->op_label(r, buf, n); }

/* The record's input: its kind and parameters; for a file, the path as given, its size and
 * content hash, the tensor, how rows were chosen and the slice. */
static void add_input(cJSON *o, const rb_config *cfg, const rb_record *r)
{
    const rb_data_dist *dd = &cfg->dists[r->dist >= 0 && r->dist < cfg->ndists ? r->dist : 0];
    cJSON_AddStringToObject(o, "distribution", rb_distribution_name(dd->kind));
    if (dd->kind == RB_DIST_SPHERE)
        return;
    cJSON *in = cJSON_AddObjectToObject(o, "input");
    if (cfg->ndists > 1)
        cJSON_AddNumberToObject(in, "index", r->dist);
    switch (dd->kind) {
    case RB_DIST_CHANNEL_OUTLIERS:
        cJSON_AddNumberToObject(in, "channels", dd->channels);
        cJSON_AddNumberToObject(in, "scale", dd->scale);
        break;
    case RB_DIST_ANISOTROPIC: cJSON_AddNumberToObject(in, "sigma", dd->sigma); break;
    case RB_DIST_LOWRANK:
        cJSON_AddNumberToObject(in, "rank", dd->rank);
        cJSON_AddNumberToObject(in, "noise", dd->noise);
        break;
    case RB_DIST_FILE: {
        char buf[160];
        cJSON_AddStringToObject(in, "path", dd->path);
        cJSON_AddStringToObject(in, "format", dd->file_format);
        if (dd->tensor[0])
            cJSON_AddStringToObject(in, "tensor", dd->tensor);
        cJSON_AddNumberToObject(in, "bytes", dd->file_bytes);
        snprintf(buf, sizeof buf, "%016llx", dd->file_hash);
        cJSON_AddStringToObject(in, "fnv1a64", buf);
        cJSON *sh = cJSON_AddArrayToObject(in, "shape");
        for (int i = 0; i < dd->file_ndim; i++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)dd->file_shape[i]));
        rb_inputs_rows_text(dd, buf, sizeof buf);
        cJSON_AddStringToObject(in, "rows", buf);
        if (dd->split_axis >= 0) {
            cJSON_AddNumberToObject(in, "split_axis", dd->split_axis);
            cJSON_AddNumberToObject(in, "slice", r->slice);
        }
        break;
    }
    default: break;
    }
}

/* The JSON object of group g (record_fields.h) under o: o itself for TOP, else created where
 * its first written field stands. */
static cJSON *group_out(cJSON *o, cJSON **made, int g)
{
    if (g == RB_G_TOP)
        return o;
    if (!made[g])
        made[g] = cJSON_AddObjectToObject(o, rb_record_group_key(g));
    return made[g];
}

#define RB_PUT_NUM(g, k, v) cJSON_AddNumberToObject(g, k, (double)(v))
#define RB_PUT_NUMNULL(g, k, v) add_num(g, k, v)
#define RB_PUT_POSNULL(g, k, v) add_num(g, k, (v) > 0 ? (v) : NAN)
#define RB_PUT_FLAG(g, k, v) cJSON_AddBoolToObject(g, k, v)
#define RB_PUT_TEXT(g, k, v) cJSON_AddStringToObject(g, k, v)
#define RB_PUT_NAME RB_PUT_TEXT
#define RB_PUT_METHOD RB_PUT_TEXT
#define RB_PUT_PATH RB_PUT_TEXT
#define RB_PUT_DTYPE RB_PUT_TEXT
#define RB_PUT_KVNORM RB_PUT_TEXT

#define RB_WRITE_W(grp, key, type, when, val)                                                    \
    if (when)                                                                                     \
        RB_PUT_##type(group_out(o, made, RB_G_##grp), key, RB_OUT_##type(r, val));
#define RB_WRITE_RW RB_WRITE_W
#define RB_WRITE_REQ RB_WRITE_W
#define RB_WRITE_CALL(grp, key, type, when, val) val;
#define RB_WRITE_EXT(grp, key, type, when, val)
#define RB_WRITE_NOJSON(grp, key, type, when, val)

cJSON *rb_record_to_json(const rb_record *r, const rb_config *cfg)
{
    cJSON *o = cJSON_CreateObject(), *made[RB_NGROUPS] = {0};
#define X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp) RB_WRITE_##io(grp, key, type, when, val)
    RB_RECORD_FIELDS(X)
#undef X
    return o;
}

static void iso_time(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The config file as parsed JSON, so the result carries exactly what was asked for. */
static cJSON *config_echo(const rb_config *cfg)
{
    FILE *f = fopen(cfg->path, "rb");
    if (!f)
        return cJSON_CreateNull();
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    cJSON *j = buf ? cJSON_ParseWithLength(buf, n) : NULL;
    free(buf);
    return j ? j : cJSON_CreateNull();
}

int rb_results_write_json(const rb_run *run, const char *path)
{
    cJSON *doc = cJSON_CreateObject();
    char ts[32];
    iso_time(ts, sizeof ts);
    cJSON_AddStringToObject(doc, "tool", "rotorbench");
    cJSON_AddStringToObject(doc, "git_revision", RB_GIT_REV);
    cJSON_AddBoolToObject(doc, "git_dirty", RB_GIT_DIRTY);
    cJSON_AddStringToObject(doc, "timestamp", ts);
    cJSON *argv = cJSON_AddArrayToObject(doc, "argv");
    for (int i = 0; i < run->argc; i++)
        cJSON_AddItemToArray(argv, cJSON_CreateString(run->argv[i]));
    cJSON_AddStringToObject(doc, "backend", run->backend);
    cJSON *knobs = cJSON_AddObjectToObject(doc, "knobs"); /* the environment variables set */
    const rb_run_options *ro = rb_run_options_get();
    for (int i = 0; i < ro->nset; i++)
        cJSON_AddStringToObject(knobs, ro->name[i], ro->value[i]);
    cJSON *plugins = cJSON_AddArrayToObject(doc, "plugins");
    for (rb_method m = rb_methods_builtin_count(); m < rb_methods_count(); m++) {
        cJSON *pl = cJSON_CreateObject();
        cJSON_AddStringToObject(pl, "method", rb_method_name(m));
        cJSON_AddStringToObject(pl, "library", rb_method_origin(m));
        cJSON_AddItemToArray(plugins, pl);
    }
    cJSON_AddItemToObject(doc, "machine", cJSON_Duplicate(run->machine, 1));
    cJSON_AddStringToObject(doc, "config_path", run->cfg->path);
    cJSON_AddItemToObject(doc, "config", config_echo(run->cfg));
    cJSON *notes = cJSON_AddArrayToObject(doc, "notes");
    for (int i = 0; i < run->nnotes; i++)
        cJSON_AddItemToArray(notes, cJSON_CreateString(run->notes[i]));
    cJSON *recs = cJSON_AddArrayToObject(doc, "records");
    for (int i = 0; i < run->nrecs; i++)
        cJSON_AddItemToArray(recs, rb_record_to_json(&run->recs[i], run->cfg));
    char *text = cJSON_Print(doc);
    cJSON_Delete(doc);
    if (!text) {
        fprintf(stderr, "rotorbench: out of memory printing %s\n", path);
        return -1;
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* replace the terminator: the file ends in a newline */
    int rc = rb_write_file_atomic(path, text, len + 1);
    free(text);
    return rc;
}

/* The CSV's text, grown as it is written; failed: out of memory. */
typedef struct {
    char *text;
    size_t len, cap;
    int failed;
} csv_text;

__attribute__((format(printf, 2, 3))) static void csv_put(csv_text *b, const char *fmt, ...)
{
    for (int tries = 0; tries < 2 && !b->failed; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->text ? b->text + b->len : NULL, b->text ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
        } else if (b->text && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        } else {
            size_t cap = 2 * (b->cap + (size_t)n) + 4096;
            char *t = realloc(b->text, cap);
            if (!t)
                b->failed = 1;
            b->text = t ? t : b->text;
            b->cap = t ? cap : b->cap;
        }
    }
}

/* Column col's header name (record_fields.h); NULL past the last column. */
static const char *csv_name(int col)
{
#define X(id, grp, key, type, io, when, val, c, csv, fmt, xf, cmp) \
    if (col == (c))                                              \
        return csv;
    RB_RECORD_FIELDS(X)
#undef X
    return NULL;
}

#define RB_CSV_CELL_same(c, fmt, v) \
    if (col == (c)) {               \
        csv_put(b, fmt, v);         \
        return;                     \
    }
#define RB_CSV_CELL_pct RB_CSV_CELL_same
#define RB_CSV_CELL_mhz RB_CSV_CELL_same
#define RB_CSV_CELL_if_attn RB_CSV_CELL_same
#define RB_CSV_CELL_if_kva RB_CSV_CELL_same
#define RB_CSV_CELL_none(c, fmt, v)

/* Column col of record r. backend, op and input: the texts of the CSV-only columns. */
static void csv_cell(csv_text *b, int col, const rb_record *r, const rb_config *cfg, const char *backend,
                     const char *op, const char *input)
{
#define X(id, grp, key, type, io, when, val, c, csv, fmt, xf, cmp) \
    RB_CSV_CELL_##xf(c, fmt, RB_XF_##xf(r, RB_OUT_##type(r, val)))
    RB_RECORD_FIELDS(X)
#undef X
    (void)cfg, (void)backend, (void)op, (void)input;
}

int rb_results_write_csv(const rb_run *run, const char *path)
{
    csv_text b = {0};
    for (int c = 0; csv_name(c); c++)
        csv_put(&b, "%s%s", c ? "," : "", csv_name(c));
    csv_put(&b, "\n");
    for (int i = 0; i < run->nrecs; i++) {
        const rb_record *r = &run->recs[i];
        char op[64], input[48];
        rb_record_op(r, op, sizeof op);
        rb_record_input(run->cfg, r, input, sizeof input);
        for (int c = 0; csv_name(c); c++) {
            if (c)
                csv_put(&b, ",");
            csv_cell(&b, c, r, run->cfg, run->backend, op, input);
        }
        csv_put(&b, "\n");
    }
    int rc = -1;
    if (b.failed)
        fprintf(stderr, "rotorbench: out of memory writing %s\n", path);
    else
        rc = rb_write_file_atomic(path, b.text, b.len);
    free(b.text);
    return rc;
}

/* The input column: only where a run has inputs other than the default unit sphere (file
 * slices, several inputs), whose rows would otherwise look alike. */
static int md_input_column(const rb_config *cfg)
{
    return cfg->ndists > 1 || cfg->dists[0].kind != RB_DIST_SPHERE;
}

/* Records other than decode attention's (which print their own table). */
int rb_results_has_qdq_records(const rb_run *run)
{
    for (int i = 0; i < run->nrecs; i++)
        if (!run->recs[i].kva.on)
            return 1;
    return 0;
}

void rb_results_print_markdown(const rb_run *run, FILE *out)
{
    if (!rb_results_has_qdq_records(run)) /* an attention-only run: no empty table */
        return;
    const char *clock = run->nrecs ? run->recs[0].t.clock : "";
    /* the copy roof exists on a GPU only: no column of zeros on CPU rows */
    const int gpu = strcmp(run->backend, "cpu") != 0, inputs = md_input_column(run->cfg);
    fprintf(out, "\n### All methods (%s backend, times: %s median)\n\n", run->backend, clock);
    fprintf(out, "| method | variant |%s d | bits | dtype | N | MSE | LM pred | cos | FMA | µs | GB/s |%s speedup vs %s |\n",
            inputs ? " input |" : "", gpu ? " % copy BW |" : "", rb_method_name(run->cfg->baseline));
    fprintf(out, "|---|---|%s---:|---:|---|---:|---:|---:|---:|---:|---:|---:|%s---:|\n", inputs ? "---|" : "",
            gpu ? "---:|" : "");
    for (int i = 0; i < run->nrecs; i++) {
        const rb_record *r = &run->recs[i];
        if (r->kva.on)
            continue; /* attention records: their own table (kvattn_sweep.h) */
        char bits[64], variant[40], pct[32], input[160], pred[32] = "—", speedup[32] = "—";
        rb_record_op(r, bits, sizeof bits);
        if (!bits[0])
            snprintf(bits, sizeof bits, "%d", r->bits);
        snprintf(variant, sizeof variant, r->route[0] ? "%s (%s)" : "%s", r->variant, r->route);
        if (r->path != RB_PATH_ROUNDTRIP) /* "fast encode": the roundtrip, the paper's kernel, is not named */
            snprintf(variant + strlen(variant), sizeof variant - strlen(variant), " %s", rb_path_name(r->path));
        rb_record_md_cells(run->cfg, r, gpu, inputs, pct, input);
        /* Lloyd-Max predicts the MSE of unit-norm rows: synthetic inputs (normalized), not a
         * file's rows, which keep their norms */
        const int dist = r->dist >= 0 && r->dist < run->cfg->ndists ? r->dist : 0;
        if (run->cfg->dists[dist].kind != RB_DIST_FILE && isfinite(r->pred_mse))
            snprintf(pred, sizeof pred, "%.4e", r->pred_mse);
        if (r->speedup > 0) /* the JSON's null (no baseline time, e.g. HQMQ) */
            snprintf(speedup, sizeof speedup, "%.2f", r->speedup);
        fprintf(out, "| %s | %s |%s %d | %s | %s | %ld | %.4e | %s | %.5f | %ld | %.2f | %.1f |%s %s |\n",
                rb_method_name(r->method), variant, input, r->d, bits, rb_dtype_name(r->dtype), r->N, r->m.mse, pred,
                r->m.cosine, r->fma_nominal, r->t.median_us, gbps(r), pct, speedup);
    }
}

/* The best method at each bit budget of the config, per input, dtype and d: among the records
 * (every variant, HQMQ's points too) storing at most b + 16/d + 0.05 bits per coordinate (the
 * 0.05 admits a block method's padded last block at d >= 64), the lowest relative error. */
static void print_best(const rb_run *run, FILE *out)
{
    const rb_config *cfg = run->cfg;
    fprintf(out, "\n### Best method per bit budget (lowest relative error; ≤ b + 16/d + 0.05 stored bits per coordinate)\n\n");
    fprintf(out, "| input | dtype | d | budget b | best method | bits / coord | rel. error |%s runner-up | its rel. error |\n",
            cfg->q_kind ? " IP error |" : "");
    fprintf(out, "|---|---|---:|---:|---|---:|---:|%s---|---:|\n", cfg->q_kind ? "---:|" : "");
    for (int i = 0; i < run->nrecs; i++) {
        const rb_record *a = &run->recs[i];
        int first = 1; /* one row group per (input, slice, dtype, d): at its first record */
        for (int j = 0; j < i && first; j++)
            first = !(run->recs[j].dist == a->dist && run->recs[j].slice == a->slice && run->recs[j].dtype == a->dtype &&
                      run->recs[j].d == a->d);
        if (!first)
            continue;
        char input[48];
        rb_record_input(cfg, a, input, sizeof input);
        for (int k = 0; k < cfg->nbits; k++) {
            const double budget = cfg->bits[k] + 16.0 / a->d + 0.05;
            const rb_record *best = NULL, *second = NULL;
            for (int j = 0; j < run->nrecs; j++) {
                const rb_record *r = &run->recs[j];
                if (r->dist != a->dist || r->slice != a->slice || r->dtype != a->dtype || r->d != a->d ||
                    !(r->bits_per_coord <= budget) || !isfinite(r->m.rel_err))
                    continue;
                if (!best || r->m.rel_err < best->m.rel_err) {
                    if (!best || best->method != r->method)
                        second = best;
                    best = r;
                } else if (r->method != best->method && (!second || r->m.rel_err < second->m.rel_err)) {
                    second = r;
                }
            }
            if (!best)
                continue;
            char op[64];
            rb_record_op(best, op, sizeof op);
            fprintf(out, "| %s | %s | %d | %d | %s%s%s | %.3f | %.4e |", input, rb_dtype_name(a->dtype), a->d, cfg->bits[k],
                    rb_method_name(best->method), op[0] ? " " : "", op, best->bits_per_coord, best->m.rel_err);
            if (cfg->q_kind)
                fprintf(out, " %.4e |", best->attn.computed ? best->attn.ip_err : NAN);
            if (second)
                fprintf(out, " %s | %.4e |\n", rb_method_name(second->method), second->m.rel_err);
            else
                fprintf(out, " - | - |\n");
        }
    }
}

void rb_results_print_quality(const rb_run *run, FILE *out)
{
    const rb_config *cfg = run->cfg;
    if (!cfg->q_kind && cfg->ndists == 1 && cfg->dists[0].kind == RB_DIST_SPHERE)
        return; /* the paper's inputs: every rotation gives the same error (the table above) */
    fprintf(out, "\n### Quality against stored bits (%s backend)\n\n", run->backend);
    fprintf(out, "| input | method | variant | d | bits | dtype | N | bits / coord | rel. error |%s\n",
            cfg->q_kind ? " IP error | IP bias | KL | top-1 | top-5 | out cos |" : "");
    fprintf(out, "|---|---|---|---:|---|---|---:|---:|---:|%s\n", cfg->q_kind ? "---:|---:|---:|---:|---:|---:|" : "");
    for (int i = 0; i < run->nrecs; i++) {
        const rb_record *r = &run->recs[i];
        if (r->kva.on)
            continue;
        char input[48], bits[64];
        rb_record_input(cfg, r, input, sizeof input);
        rb_record_op(r, bits, sizeof bits);
        if (!bits[0])
            snprintf(bits, sizeof bits, "%d", r->bits);
        fprintf(out, "| %s | %s | %s | %d | %s | %s | %ld | %.3f | %.4e |", input, rb_method_name(r->method), r->variant,
                r->d, bits, rb_dtype_name(r->dtype), r->N, r->bits_per_coord, r->m.rel_err);
        if (r->attn.computed)
            fprintf(out, " %.4e | %+.2e | %.3e | %.4f | %.4f | %.6f |", r->attn.ip_err, r->attn.ip_bias, r->attn.kl,
                    r->attn.top1, r->attn.top5, r->attn.out_cos);
        else if (cfg->q_kind)
            fprintf(out, " | | | | | |");
        fprintf(out, "\n");
    }
    print_best(run, out);
}

/* Strings in rb_timing point to static storage: map what a file says onto the known ones. */
static const char *known(const char *s)
{
    static const char *names[] = {"cpu-wall", "cuda-events", "profile", "time", "max-samples",
                                  "noise", "timeout", "min-samples"};
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i]))
            return names[i];
    return s ? "other" : NULL;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsNull(v) ? NAN : 0;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Readers of the table's types: 0, or -1 when the record is refused (a required field absent,
 * a name no method or path has). */
static int read_text(const cJSON *g, const char *k, int req, char *buf, size_t n)
{
    const char *s = str(g, k);
    snprintf(buf, n, "%s", s ? s : "");
    return !s && req ? -1 : 0;
}

static int read_method(const cJSON *g, const char *k, int req, rb_method *m)
{
    const char *s = rb_kva_json_is_fp16(g) ? "identity" : str(g, k); /* the fp16 cache's record, as the
                                                                       * attention sweep makes it */
    const rb_method found = s ? rb_method_find(s) : -1;
    if (found >= 0)
        *m = found;
    return s ? (found < 0 ? -1 : 0) : req ? -1 : 0;
}

static int read_path(const cJSON *g, const char *k, int req, int *path)
{
    const char *s = str(g, k); /* absent: a result from before the key, a roundtrip */
    (void)req;
    *path = s ? rb_path_find(s) : RB_PATH_ROUNDTRIP;
    return *path < 0 ? -1 : 0;
}

static int read_dtype(const cJSON *g, const char *k, int req, rb_dtype *t)
{
    const char *s = str(g, k);
    *t = s && !strcmp(s, "fp16") ? RB_FP16 : RB_FP32;
    return !s && req ? -1 : 0;
}

static int read_kvnorm(const cJSON *g, const char *k, int req, int *norm)
{
    const char *s = str(g, k);
    (void)req;
    *norm = s && !strcmp(s, "fp32") ? RB_KV_NORM_FP32 : s && !strcmp(s, "none") ? RB_KV_NORM_NONE : RB_KV_NORM_FP16;
    return 0;
}

#define RB_GET_NUM(g, k, v, req) v = num(g, k);
#define RB_GET_NUMNULL RB_GET_NUM
#define RB_GET_POSNULL RB_GET_NUM
#define RB_GET_FLAG(g, k, v, req) v = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, k));
#define RB_GET_NAME(g, k, v, req) v = known(str(g, k));
#define RB_GET_TEXT(g, k, v, req)             \
    if (read_text(g, k, req, v, sizeof v)) \
        return -1;
#define RB_GET_METHOD(g, k, v, req)        \
    if (read_method(g, k, req, &(v))) \
        return -1;
#define RB_GET_PATH(g, k, v, req)        \
    if (read_path(g, k, req, &(v))) \
        return -1;
#define RB_GET_DTYPE(g, k, v, req)        \
    if (read_dtype(g, k, req, &(v))) \
        return -1;
#define RB_GET_KVNORM(g, k, v, req) read_kvnorm(g, k, req, &(v));

#define RB_READ_REQ(grp, key, type, val) RB_GET_##type(in[RB_G_##grp], key, val, 1)
#define RB_READ_RW(grp, key, type, val) RB_GET_##type(in[RB_G_##grp], key, val, 0)
#define RB_READ_W(grp, key, type, val)
#define RB_READ_EXT RB_READ_W
#define RB_READ_CALL RB_READ_W
#define RB_READ_NOJSON RB_READ_W

int rb_record_from_json(const cJSON *o, rb_record *r)
{
    memset(r, 0, sizeof *r);
    const cJSON *in[RB_NGROUPS]; /* the groups' objects; NULL where absent */
    for (int g = 0; g < RB_NGROUPS; g++) {
        const cJSON *v = g == RB_G_TOP ? o : cJSON_GetObjectItemCaseSensitive(o, rb_record_group_key(g));
        in[g] = cJSON_IsObject(v) ? v : NULL;
    }
#define X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp) RB_READ_##io(grp, key, type, val)
    RB_RECORD_FIELDS(X)
#undef X
    r->m.d = r->d;
    r->attn.computed = in[RB_G_ATTN] != NULL; /* --resume keeps the attention metrics */
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(in[RB_G_INPUT], "index");
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(in[RB_G_INPUT], "slice");
    r->dist = cJSON_IsNumber(idx) ? idx->valueint : 0;
    r->slice = cJSON_IsNumber(sl) ? sl->valueint : -1;
    rb_method_hooks_of(r->method)->from_json(o, r);
    rb_kva_rec_from_json(o, r); /* decode attention's own fields (kvattn_record.h) */
    return 0;
}
