#include "results.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inputs.h"
#include "kvattn_record.h"
#include "kvcodec.h"
#include "method_hooks.h"
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

cJSON *rb_record_to_json(const rb_record *r, const rb_config *cfg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", rb_method_name(r->method));
    cJSON_AddStringToObject(o, "variant", r->variant);
    cJSON_AddStringToObject(o, "path", rb_path_name(r->path));
    if (r->route[0])
        cJSON_AddStringToObject(o, "route", r->route);
    cJSON_AddNumberToObject(o, "d", r->d);
    cJSON_AddNumberToObject(o, "bits", r->bits);
    cJSON_AddStringToObject(o, "dtype", rb_dtype_name(r->dtype));
    cJSON_AddNumberToObject(o, "N", (double)r->N);
    cJSON_AddBoolToObject(o, "assume_unit_norm", r->unit_norm);
    rb_method_hooks_of(r->method)->to_json(r, cfg, o); /* codebook, or the method's own fields */
    add_input(o, cfg, r);
    add_num(o, "mse", r->m.mse);
    if (r->attn.computed) {
        cJSON *a = cJSON_AddObjectToObject(o, "attention");
        cJSON_AddNumberToObject(a, "queries", r->attn.nq);
        cJSON_AddNumberToObject(a, "T", r->attn.T);
        cJSON_AddNumberToObject(a, "groups", (double)r->attn.groups);
        add_num(a, "ip_err", r->attn.ip_err);
        add_num(a, "ip_bias", r->attn.ip_bias);
        add_num(a, "kl", r->attn.kl);
        add_num(a, "top1", r->attn.top1);
        add_num(a, "top5", r->attn.top5);
        add_num(a, "out_cos", r->attn.out_cos);
    }
    add_num(o, "pred_mse", r->pred_mse);
    add_num(o, "rel_err", r->m.rel_err);
    add_num(o, "cosine", r->m.cosine);
    cJSON_AddNumberToObject(o, "rows", (double)r->m.rows);
    cJSON_AddNumberToObject(o, "nonfinite_rows", (double)r->m.nonfinite_rows);
    cJSON_AddNumberToObject(o, "tiny_rows", (double)r->m.tiny_rows);
    cJSON_AddNumberToObject(o, "fma_nominal", (double)r->fma_nominal);
    cJSON_AddNumberToObject(o, "params", (double)r->params);
    add_num(o, "bits_per_coord", r->bits_per_coord);
    cJSON_AddNumberToObject(o, "bytes", r->bytes);
    if (r->stored_bytes > 0) { /* a method with the packed format (kvpack.h) */
        cJSON_AddNumberToObject(o, "stored_bytes", r->stored_bytes);
        cJSON_AddStringToObject(o, "kv_norm", rb_kv_norm_name(r->kv_norm));
    }
    cJSON *t = cJSON_AddObjectToObject(o, "time");
    cJSON_AddStringToObject(t, "clock", r->t.clock ? r->t.clock : "none");
    cJSON_AddNumberToObject(t, "samples", r->t.samples);
    cJSON_AddNumberToObject(t, "batch", r->t.batch);
    add_num(t, "median_us", r->t.median_us);
    add_num(t, "min_us", r->t.min_us);
    add_num(t, "max_us", r->t.max_us);
    add_num(t, "q1_us", r->t.q1_us);
    add_num(t, "q3_us", r->t.q3_us);
    add_num(t, "noise", r->t.noise);
    if (r->t.stop_reason)
        cJSON_AddStringToObject(t, "stop_reason", r->t.stop_reason);
    if (r->t.cold_samples) {
        cJSON_AddNumberToObject(t, "cold_samples", r->t.cold_samples);
        add_num(t, "cold_median_us", r->t.cold_median_us);
        add_num(t, "cold_min_us", r->t.cold_min_us);
        add_num(t, "cold_max_us", r->t.cold_max_us);
        add_num(t, "cold_noise", r->t.cold_noise);
    }
    if (r->t.prepass_us > 0)
        add_num(t, "prepass_median_us", r->t.prepass_us);
    if (r->t.hot_clock_khz > 0) {
        add_num(t, "hot_sm_clock_khz", r->t.hot_clock_khz);
        add_num(t, "cold_sm_clock_khz", r->t.cold_clock_khz);
        add_num(t, "sm_clock_min_khz", r->t.clock_min_khz);
        cJSON_AddNumberToObject(t, "samples_under_75pct_clock", r->t.clock_low_samples);
    }
    if (r->t.copy_us > 0) {
        add_num(t, "copy_us", r->t.copy_us);
        add_num(t, "copy_cold_us", r->t.copy_cold_us);
        if (r->t.copy_bytes > 0)
            cJSON_AddNumberToObject(t, "copy_bytes", r->t.copy_bytes);
    }
    if (r->t.fma_peak_per_s > 0)
        add_num(t, "fma_peak_per_s", r->t.fma_peak_per_s);
    if (r->t.tc_peak_flops_per_s > 0)
        add_num(t, "tc_peak_flops_per_s", r->t.tc_peak_flops_per_s);
    add_num(o, "gbps", gbps(r));
    if (r->t.copy_us > 0)
        add_num(o, "pct_of_copy_bw", rb_record_pct_of_copy(r));
    if (r->fma_nominal > 0 && r->t.median_us > 0) {
        add_num(o, "fma_per_s", fma_rate(r));
        if (r->t.fma_peak_per_s > 0)
            add_num(o, "pct_of_fma_peak", pct_fma(r));
    }
    if (r->check_rows) {
        cJSON *c = cJSON_AddObjectToObject(o, "check_vs_cpu");
        cJSON_AddNumberToObject(c, "rows", (double)r->check_rows);
        add_num(c, r->kva.on ? "max_rel_diff" : "max_abs_diff", r->check_max_abs); /* attention: of max |o_cpu| */
        cJSON_AddNumberToObject(c, "boundary_flips", (double)r->check_flips);
    }
    rb_kva_rec_to_json(r, o); /* decode attention's own fields (kvattn_record.h) */
    cJSON_AddStringToObject(o, "baseline", r->kva.on ? "fp16-cache" : rb_method_name(cfg->baseline));
    add_num(o, "speedup", r->speedup > 0 ? r->speedup : NAN);
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

int rb_results_write_csv(const rb_run *run, const char *path)
{
    size_t cap = 512 + (size_t)run->nrecs * 1024, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -1;
    len += snprintf(buf + len, cap - len,
                    "backend,method,variant,d,bits,dtype,N,codebook,mse,pred_mse,rel_err,cosine,"
                    "nonfinite_rows,fma_nominal,params,bits_per_coord,bytes,time_median_us,"
                    "time_min_us,time_max_us,time_noise_pct,cold_median_us,hot_clock_mhz,copy_us,gbps,"
                    "pct_of_copy_bw,speedup,op,outlier_frac,prepass_us,fma_per_s,pct_of_fma_peak,route,"
                    "input,ip_err,ip_bias,attn_kl,attn_top1,attn_top5,attn_out_cos,path,stored_bytes,"
                    "kv_B,kv_H,kv_heads,kv_T,kv_split,cache_bytes,bytes_per_token,attn_max_rel_err,assume_unit_norm\n");
    for (int i = 0; i < run->nrecs; i++) {
        const rb_record *r = &run->recs[i];
        char op[64], input[48];
        rb_record_op(r, op, sizeof op);
        rb_record_input(run->cfg, r, input, sizeof input);
        len += snprintf(buf + len, cap - len,
                        "%s,%s,%s,%d,%d,%s,%ld,%s,%.9g,%.9g,%.9g,%.9g,%ld,%ld,%ld,%.6g,%.0f,%.6g,"
                        "%.6g,%.6g,%.4g,%.6g,%.0f,%.6g,%.6g,%.6g,%.6g,%s,%.6g,%.6g,%.6g,%.6g,%s,%s,%.9g,%.9g,%.9g,%.9g,"
                        "%.9g,%.9g,%s,%.0f,%d,%d,%d,%ld,%d,%.0f,%.6g,%.9g,%d\n",
                        run->backend, r->kva.fp16_cache ? "fp16-cache" : rb_method_name(r->method), r->variant, r->d, r->bits,
                        rb_dtype_name(r->dtype), r->N,
                        r->bits ? rb_codebook_name(run->cfg->codebook) : "", /* no bits axis: no codebook */
                        r->m.mse, r->pred_mse, r->m.rel_err, r->m.cosine, r->m.nonfinite_rows,
                        r->fma_nominal, r->params, r->bits_per_coord, r->bytes, r->t.median_us,
                        r->t.min_us, r->t.max_us, 100 * r->t.noise, r->t.cold_median_us,
                        r->t.hot_clock_khz / 1e3, r->t.copy_us, gbps(r), rb_record_pct_of_copy(r), r->speedup, op, r->outlier_frac,
                        r->t.prepass_us, fma_rate(r), pct_fma(r), r->route, input,
                        r->attn.computed ? r->attn.ip_err : NAN, r->attn.computed ? r->attn.ip_bias : NAN,
                        r->attn.computed ? r->attn.kl : NAN, r->attn.computed ? r->attn.top1 : NAN,
                        r->attn.computed ? r->attn.top5 : NAN, r->attn.computed ? r->attn.out_cos : NAN,
                        rb_path_name(r->path), r->stored_bytes, r->kva.B, r->kva.H, r->kva.kv_heads,
                        r->kva.T, r->kva.split, r->kva.cache_bytes, r->kva.bytes_per_token,
                        r->kva.on ? r->kva.max_rel_err : NAN, r->unit_norm);
    }
    int rc = rb_write_file_atomic(path, buf, len);
    free(buf);
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
        char bits[64], variant[40], pct[32] = "", input[160] = "", pred[32] = "—", speedup[32] = "—";
        rb_record_op(r, bits, sizeof bits);
        if (!bits[0])
            snprintf(bits, sizeof bits, "%d", r->bits);
        snprintf(variant, sizeof variant, r->route[0] ? "%s (%s)" : "%s", r->variant, r->route);
        if (r->path != RB_PATH_ROUNDTRIP) /* "fast encode": the roundtrip, the paper's kernel, is not named */
            snprintf(variant + strlen(variant), sizeof variant - strlen(variant), " %s", rb_path_name(r->path));
        if (gpu)
            snprintf(pct, sizeof pct, " %.1f |", rb_record_pct_of_copy(r));
        if (inputs) {
            char in[128];
            rb_record_input(run->cfg, r, in, sizeof in);
            snprintf(input, sizeof input, " %s |", in);
        }
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

int rb_record_from_json(const cJSON *o, rb_record *r)
{
    memset(r, 0, sizeof *r);
    const char *m = str(o, "method"), *v = str(o, "variant"), *dt = str(o, "dtype");
    if (m && rb_kva_json_is_fp16(o))
        m = "identity"; /* the fp16 cache's record, as the attention sweep makes it */
    if (!m || !v || !dt || rb_method_find(m) < 0)
        return -1;
    r->method = rb_method_find(m);
    snprintf(r->variant, sizeof r->variant, "%s", v);
    snprintf(r->route, sizeof r->route, "%s", str(o, "route") ? str(o, "route") : "");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(o, "input");
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(in, "index"), *sl = cJSON_GetObjectItemCaseSensitive(in, "slice");
    r->dist = cJSON_IsNumber(idx) ? idx->valueint : 0;
    r->slice = cJSON_IsNumber(sl) ? sl->valueint : -1;
    r->dtype = !strcmp(dt, "fp16") ? RB_FP16 : RB_FP32;
    r->unit_norm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "assume_unit_norm"));
    const char *pa = str(o, "path"); /* absent: a result from before the key, a roundtrip */
    r->path = pa ? rb_path_find(pa) : RB_PATH_ROUNDTRIP;
    if (r->path < 0)
        return -1;
    const char *kn = str(o, "kv_norm");
    r->kv_norm = kn && !strcmp(kn, "fp32") ? RB_KV_NORM_FP32 : kn && !strcmp(kn, "none") ? RB_KV_NORM_NONE : RB_KV_NORM_FP16;
    r->stored_bytes = num(o, "stored_bytes");
    r->d = (int)num(o, "d");
    r->bits = (int)num(o, "bits");
    r->N = (long)num(o, "N");
    r->m.d = r->d;
    r->m.mse = num(o, "mse");
    r->m.rel_err = num(o, "rel_err");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "attention");
    if (cJSON_IsObject(a)) { /* --resume keeps them */
        r->attn.computed = 1;
        r->attn.nq = (int)num(a, "queries");
        r->attn.T = (int)num(a, "T");
        r->attn.groups = (long)num(a, "groups");
        r->attn.ip_err = num(a, "ip_err");
        r->attn.ip_bias = num(a, "ip_bias");
        r->attn.kl = num(a, "kl");
        r->attn.top1 = num(a, "top1");
        r->attn.top5 = num(a, "top5");
        r->attn.out_cos = num(a, "out_cos");
    }
    r->m.cosine = num(o, "cosine");
    r->m.rows = (long)num(o, "rows");
    r->m.nonfinite_rows = (long)num(o, "nonfinite_rows");
    r->m.tiny_rows = (long)num(o, "tiny_rows");
    r->pred_mse = num(o, "pred_mse");
    r->fma_nominal = (long)num(o, "fma_nominal");
    r->params = (long)num(o, "params");
    r->bits_per_coord = num(o, "bits_per_coord");
    r->bytes = num(o, "bytes");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "time");
    if (cJSON_IsObject(t)) {
        r->t.clock = known(str(t, "clock"));
        r->t.stop_reason = known(str(t, "stop_reason"));
        r->t.samples = (int)num(t, "samples");
        r->t.batch = (int)num(t, "batch");
        r->t.median_us = num(t, "median_us");
        r->t.min_us = num(t, "min_us");
        r->t.max_us = num(t, "max_us");
        r->t.q1_us = num(t, "q1_us");
        r->t.q3_us = num(t, "q3_us");
        r->t.noise = num(t, "noise");
        r->t.cold_samples = (int)num(t, "cold_samples");
        r->t.cold_median_us = num(t, "cold_median_us");
        r->t.cold_min_us = num(t, "cold_min_us");
        r->t.cold_max_us = num(t, "cold_max_us");
        r->t.cold_noise = num(t, "cold_noise");
        r->t.copy_us = num(t, "copy_us");
        r->t.copy_cold_us = num(t, "copy_cold_us");
        r->t.copy_bytes = num(t, "copy_bytes");
        r->t.fma_peak_per_s = num(t, "fma_peak_per_s");
        r->t.tc_peak_flops_per_s = num(t, "tc_peak_flops_per_s");
        r->t.prepass_us = num(t, "prepass_median_us");
        r->t.hot_clock_khz = num(t, "hot_sm_clock_khz");
        r->t.cold_clock_khz = num(t, "cold_sm_clock_khz");
        r->t.clock_min_khz = num(t, "sm_clock_min_khz");
        r->t.clock_low_samples = (int)num(t, "samples_under_75pct_clock");
    }
    rb_method_hooks_of(r->method)->from_json(o, r);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "check_vs_cpu");
    if (cJSON_IsObject(c)) {
        r->check_rows = (long)num(c, "rows");
        r->check_max_abs = num(c, "max_abs_diff");
        r->check_flips = (long)num(c, "boundary_flips");
    }
    rb_kva_rec_from_json(o, r);
    return 0;
}
