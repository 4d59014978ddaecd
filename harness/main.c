/* main.c: the rotorbench driver. Loads and validates a sweep config, solves the codebooks,
 * draws the rotations, and walks the settings on the chosen backend; then writes
 * <output_dir>/<name>-<backend>.json and .csv and prints a Markdown table. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "codebook.h"
#include "compare.h"
#include "counts.h"
#include "data.h"
#include "headline.h"
#include "hostmem.h"
#include "fp16.h"
#include "inputs.h"
#include "kvattn_record.h"
#include "kvattn_sweep.h"
#include "kvcodec.h"
#include "method_hooks.h"
#include "methods_cmd.h"
#include "results.h"
#include "run_options.h"
#include "wallclock.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rotorbench run CONFIG.json [--backend auto|cpu|gpu] [--device N] [--out DIR] [--resume]\n"
            "                      [--profile] [--plugin LIB.so ...]\n"
            "       rotorbench compare BASE.json NEW.json [--time-tol 0.05] [--mse-only] [--allow-missing]\n"
            "                          [--cpu-times]\n"
            "       rotorbench headline RESULT.json ...   the README's headline table from result files\n"
            "       rotorbench methods [--json] [--plugin LIB.so ...]\n"
            "\n"
            "  run CONFIG    run the sweep the config describes (keys: docs/config-format.md)\n"
            "  --backend B   auto (default): the GPU if one is usable, else the CPU; cpu; gpu\n"
            "                (refused with exit status 2 where no GPU is usable)\n"
            "  --device N    the GPU backend's CUDA device (default 0), counted among\n"
            "                CUDA_VISIBLE_DEVICES; recorded in the result's machine block\n"
            "  --out DIR     write results to DIR instead of the config's output_dir\n"
            "  --resume      skip settings already in OUT/NAME-BACKEND.jsonl from an\n"
            "                interrupted run of the same config, then write the full results\n"
            "  --profile     run each kernel a few times without timing loops, inside NVTX\n"
            "                ranges, for ncu/nsys (see make profile-ncu); writes no results\n"
            "  --plugin LIB  load the methods a plugin library registers (kernels/common/method.h,\n"
            "                examples/plugin/); the config then names them like built-in ones\n"
            "\n"
            "  compare       match settings of two result files; exit 1 on a regression\n"
            "                (MSE changed by > 1e-6 relative, or slower by > max(tol, 3 x noise)\n"
            "                on the same device), when nothing matched, or when a setting of BASE\n"
            "                is missing from NEW (rotorbench compare --help)\n"
            "  methods       list the registry's methods (--json: for tools; the plots use it)\n"
            "\n"
            "  help, --help  this text (also rotorbench run --help)\n"
            "\n"
            "Exit status: 0 done, 1 a run-time failure, 2 a bad argument or config (or --backend gpu\n"
            "without a usable GPU).\n");
}

static int bad_arg(const char *msg, const char *arg)
{
    fprintf(stderr, "rotorbench: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    usage(stderr);
    return 2;
}

/* The output directory, created with its parents when missing (the default, out/, is not part
 * of the repository), must be a writable directory before any work starts. */
static int check_out_dir(const char *dir)
{
    struct stat st;
    char path[RB_MAX_PATH];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) /* mkdir -p */
        if (*p == '/') {
            *p = '\0';
            if (stat(path, &st) != 0 && mkdir(path, 0777) != 0 && errno != EEXIST)
                break;
            *p = '/';
        }
    if (stat(dir, &st) != 0 && (mkdir(dir, 0777) != 0 || stat(dir, &st) != 0)) {
        fprintf(stderr, "rotorbench: output directory %s: cannot create it: %s\n", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "rotorbench: output directory %s: not a directory\n", dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "rotorbench: output directory %s: not writable: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Ctrl-C: finish the setting under way (its record is then in the .jsonl), then stop and say
 * how to go on. A second Ctrl-C kills at once, as usual. */
static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    g_interrupted = 1;
    signal(sig, SIG_DFL);
}

/* One setting of the sweep, in the order it runs: data changes only with the data set. */
typedef struct {
    int ds, mi, bi, v, pa; /* pa: index into cfg->paths */
} setting;

/* FNV-1a over the canonical config, the backend, the plugins loaded, the environment knobs that
 * change results and the input files' contents: a .jsonl line is reused by --resume only when
 * all match. */
static uint64_t config_hash(const rb_config *cfg, const char *backend, uint64_t kva_files)
{
    cJSON *j = NULL;
    FILE *f = fopen(cfg->path, "rb");
    char *buf = malloc(1 << 20);
    if (f && buf) {
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        j = cJSON_ParseWithLength(buf, n);
    }
    if (f)
        fclose(f);
    free(buf);
    char *canon = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    /* the plugins loaded: their methods' results depend on which library was given */
    char plugins[2048] = "";
    for (int m = rb_methods_builtin_count(), o = 0; m < rb_methods_count() && o < (int)sizeof plugins; m++)
        o += snprintf(plugins + o, sizeof plugins - (size_t)o, "%s@%s;", rb_method_name(m), rb_method_origin(m));
    /* the input files' contents: a changed file is not the same input */
    char files[RB_MAX_DISTS * 24 + 1] = "";
    for (int k = 0, o = 0; k < cfg->ndists; k++)
        if (cfg->dists[k].kind == RB_DIST_FILE)
            o += snprintf(files + o, sizeof files - (size_t)o, "%016llx;", cfg->dists[k].file_hash);
    char kvf[24] = ""; /* the attention path's K, V and q files (kvattn_sweep.h) */
    if (kva_files)
        snprintf(kvf, sizeof kvf, "%016llx", (unsigned long long)kva_files);
    uint64_t h = 0xcbf29ce484222325ull;
    const char *parts[6] = {canon ? canon : cfg->path, backend, plugins, rb_run_knobs(), files, kvf};
    for (int k = 0; k < 6; k++)
        for (const unsigned char *c = (const unsigned char *)parts[k]; *c; c++)
            h = (h ^ *c) * 0x100000001b3ull;
    free(canon);
    return h;
}

/* A record's key: what the driver set from the config, plus the method's operating point. */
static int same_key(const rb_record *a, const rb_record *b)
{
    char oa[64], ob[64];
    if (a->method != b->method)
        return 0;
    const rb_method_hooks *h = rb_method_hooks_of(a->method);
    h->op_label(a, oa, sizeof oa);
    h->op_label(b, ob, sizeof ob);
    return !strcmp(a->variant, b->variant) && a->d == b->d && a->bits == b->bits && a->dtype == b->dtype &&
           a->N == b->N && a->dist == b->dist && a->slice == b->slice && a->path == b->path && !strcmp(oa, ob) &&
           rb_kva_same_key(a, b);
}

/* Settings per (d, N, dtype, variant) for method m: its own axis (bits, or HQMQ's operating
 * points). */
static int method_settings(const rb_config *cfg, rb_method m) { return rb_method_hooks_of(m)->nsettings(cfg); }

/* Does method m run as the backend's variant v? The CPU reference runs every method; a GPU
 * variant only where the method's launcher implements it. */
static int runs_variant(const rb_backend *be, rb_method m, int v)
{
    const rb_method_desc *md = rb_method_get(m);
    return !strcmp(be->name, "cpu") || (md->variants & (1u << v));
}

/* RB_PATH_ATTENTION: decode attention over a compressed cache has shapes of its own (the
 * config's kv_attention, kvattn_sweep.h), run after the data sets' settings: none here. */
static int attention_path_runs(const rb_backend *be, rb_method m, int v)
{
    (void)be; (void)m; (void)v;
    return 0;
}

/* Does the setting (m, variant v, path) run on this backend? The CPU runs every path of a
 * packing method; the GPU a packed path only as the fast variant of a launcher that has it. */
static int runs_path(const rb_backend *be, rb_method m, int v, int path)
{
    const rb_method_desc *md = rb_method_get(m);
    switch (path) {
    case RB_PATH_ROUNDTRIP:
        return runs_variant(be, m, v);
    case RB_PATH_ENCODE:
    case RB_PATH_DECODE:
        if (!rb_kv_method_has_paths(m))
            return 0;
        if (!strcmp(be->name, "cpu"))
            return 1;
        return v == 1 /* RB_VARIANT_FAST */ && (md->variants & (path == RB_PATH_ENCODE ? RB_VARIANT_BIT_ENCODE : RB_VARIANT_BIT_DECODE));
    case RB_PATH_ATTENTION:
        return attention_path_runs(be, m, v);
    }
    return 0;
}

/* Records of earlier, interrupted runs of the same config (--resume); a torn last line is
 * ignored. Returns the number loaded into done[]. */
static int load_jsonl(const char *path, const char *hash, rb_record *done, int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    static char line[1 << 16];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "config_hash");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "record");
        if (cJSON_IsString(h) && !strcmp(h->valuestring, hash) && cJSON_IsObject(r) &&
            rb_record_from_json(r, &done[n]) == 0)
            n++;
        cJSON_Delete(j);
    }
    fclose(f);
    return n;
}

/* A crash mid-write leaves a torn last line: --resume ends it before appending, so the next
 * record is a line of its own and not lost to the torn one. */
static int ends_torn(const char *path)
{
    FILE *f = fopen(path, "rb");
    int torn = f && fseek(f, -1, SEEK_END) == 0 && fgetc(f) != '\n';
    if (f)
        fclose(f);
    return torn;
}

/* Bytes of one setting's input: what its time grows with, for the progress estimate. */
static double setting_bytes(const rb_inputs *in, const setting *st)
{
    const rb_dataset *ds = &in->sets[st->ds];
    return (double)ds->N * ds->d * (ds->dtype == RB_FP16 ? 2 : 4);
}

static int append_jsonl(FILE *f, const char *hash, const rb_record *r, const rb_config *cfg)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "config_hash", hash);
    cJSON_AddItemToObject(j, "record", rb_record_to_json(r, cfg));
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    int bad = !text || fprintf(f, "%s\n", text) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0;
    free(text);
    return bad ? -1 : 0;
}

/* The Lloyd-Max codebooks of every (d, bits) the sweep's data sets need, solved before any
 * backend work: the row of d is cbs[i] for the i with ds_d[i] == d. */
#define RB_MAX_D (RB_MAX_LIST + RB_MAX_DISTS)
static rb_codebook cbs[RB_MAX_D][RB_MAX_LIST];
static int cb_d[RB_MAX_D], n_cb_d;

static const rb_codebook *codebooks_of(int d)
{
    for (int i = 0; i < n_cb_d; i++)
        if (cb_d[i] == d)
            return cbs[i];
    return NULL;
}

static int solve_codebooks(const rb_config *cfg, const rb_inputs *in)
{
    n_cb_d = 0;
    for (int s = 0; s < in->n; s++) {
        const int d = in->sets[s].d;
        if (codebooks_of(d) || n_cb_d >= RB_MAX_D)
            continue;
        for (int k = 0; k < cfg->nbits; k++)
            if (rb_codebook_solve(cfg->codebook, d, cfg->bits[k], &cbs[n_cb_d][k])) {
                fprintf(stderr, "rotorbench: Lloyd-Max did not converge for d=%d bits=%d\n", d, cfg->bits[k]);
                return -1;
            }
        cb_d[n_cb_d++] = d;
    }
    return 0;
}

/* Load a data set into the backend: generated from the seed, or a file's rows. */
static int load_dataset(rb_backend *be, const rb_config *cfg, const rb_inputs *in, const rb_dataset *ds)
{
    const rb_data_dist *dd = &cfg->dists[ds->dist];
    if (dd->kind != RB_DIST_FILE) {
        be->dist = *dd;
        return be->load_data(be, cfg->seed, ds->d, ds->N, ds->dtype);
    }
    float *x = malloc(sizeof(float) * (size_t)ds->N * ds->d);
    char err[512];
    int rc = -1;
    if (!x)
        fprintf(stderr, "rotorbench: out of host memory for %ld rows of %s\n", ds->N, dd->path);
    else if (rb_inputs_rows(cfg, in, ds, x, err, sizeof err))
        fprintf(stderr, "rotorbench: %s\n", err);
    else
        rc = be->load_rows(be, x, ds->d, ds->N, ds->dtype);
    free(x);
    return rc;
}

/* A config's "kv_attention": its records into run and, as each finishes, the .jsonl, as every
 * other setting's; --resume hands back the records of an earlier run with the same key. */
typedef struct {
    rb_run *run;
    FILE *log;              /* NULL: --profile */
    const char *hash, *jsonl;
    const rb_record *done;  /* the earlier runs' records (--resume) */
    int ndone, total;
} kva_ctx;

static int append_jsonl(FILE *f, const char *hash, const rb_record *r, const rb_config *cfg);

static int kva_put(void *ctx, const rb_record *r, int reused)
{
    kva_ctx *c = ctx;
    rb_run *run = c->run;
    rb_record *g = realloc(run->recs, sizeof *g * (size_t)(run->nrecs + 1));
    if (!g) {
        fprintf(stderr, "rotorbench: out of host memory\n");
        return 1;
    }
    run->recs = g;
    run->recs[run->nrecs++] = *r;
    if (c->log && !reused && append_jsonl(c->log, c->hash, r, run->cfg)) {
        fprintf(stderr, "rotorbench: cannot append to %s: %s\n", c->jsonl, strerror(errno));
        return 1;
    }
    if (g_interrupted) {
        fprintf(stderr, "rotorbench: interrupted after %d of %d settings; they are kept in %s: run the "
                        "same command with --resume to go on\n", run->nrecs, c->total, c->jsonl);
        return 130;
    }
    return 0;
}

static const rb_record *kva_done(void *ctx, const rb_record *key)
{
    const kva_ctx *c = ctx;
    for (int j = 0; j < c->ndone; j++)
        if (same_key(&c->done[j], key))
            return &c->done[j];
    return NULL;
}

/* A file input's paired values (distribution.values): its rows as the data set holds them (fp16:
 * rounded, as the keys are), and room for their quantized rows. */
static int load_values(const rb_config *cfg, const rb_inputs *in, const rb_dataset *ds, float **v, float **vh)
{
    const size_t n = (size_t)ds->N * ds->d;
    char err[512];
    *v = malloc(sizeof(float) * n);
    *vh = malloc(sizeof(float) * n);
    if (!*v || !*vh) {
        fprintf(stderr, "rotorbench: out of host memory for %ld value rows\n", ds->N);
        return -1;
    }
    if (rb_inputs_values(cfg, in, ds, *v, err, sizeof err)) {
        fprintf(stderr, "rotorbench: %s\n", err);
        return -1;
    }
    if (ds->dtype == RB_FP16)
        for (size_t i = 0; i < n; i++)
            (*v)[i] = rb_round_f16((*v)[i]);
    return 0;
}

/* The values quantized by the setting's method through the CPU reference, on every backend (the
 * keys go through the backend's own kernel): both backends score the same value rows. HQMQ's
 * Med3x threshold comes from the values' own batch, as a run over them would take it. */
static int quantize_values(const rb_qdq_params *p, const rb_dataset *ds, const float *v, float *vh)
{
    rb_qdq_params q = *p;
    if (rb_method_hooks_of(p->method) != &rb_rotation_hooks && q.hq_outliers) {
        float med;
        if (rb_hqmq_batch_median(v, ds->d, ds->N, NULL, &med)) {
            fprintf(stderr, "rotorbench: out of host memory for the values' median\n");
            return -1;
        }
        q.hq_thresh = rb_hqmq_threshold(q.hq_C, med);
        rb_cpu_hqmq_rows(&q, v, vh, ds->N, ds->dtype);
        return 0;
    }
    rb_cpu_qdq_rows(&q, v, vh, ds->N, ds->dtype);
    return 0;
}

/* The backend asked for: the GPU when usable (auto) or required (gpu), else the CPU. NULL, said
 * on stderr, when none can be made. */
static rb_backend *create_backend(const char *backend_sel, int profile)
{
    rb_backend *be = NULL;
    char why[256] = "";
    if (strcmp(backend_sel, "cpu") != 0) {
        be = rb_backend_gpu_create(why, sizeof why);
        if (!be && !strcmp(backend_sel, "gpu")) {
            fprintf(stderr, "rotorbench: --backend gpu: %s (--backend cpu runs without the GPU)\n", why);
            return NULL;
        }
    }
    if (!be) {
        if (!strcmp(backend_sel, "auto"))
            fprintf(stderr, "rotorbench: no usable GPU (%s): using the CPU backend; timings are CPU "
                            "wall-clock timings\n", why);
        be = rb_backend_cpu_create();
        if (!be) {
            fprintf(stderr, "rotorbench: out of host memory\n");
            return NULL;
        }
    }
    be->profile = profile;
    return be;
}

/* The attention path's inputs and memory (its plan into kplan), then every data set against the machine's memory,
 * now and not when the sweep reaches the largest: host memory (the CPU backend's buffers; a
 * file's rows as floats), device memory. 0, or -1 with one line on stderr. */
static int check_fits(const rb_config *cfg, const rb_inputs *in, rb_backend *be, rb_kva_plan *kplan)
{
    if (cfg->kva.on) {
        char why[4096];
        if (rb_kvattn_check(cfg, be, kplan, why, sizeof why)) {
            fprintf(stderr, "rotorbench: %s\n", why);
            return -1;
        }
    }
    for (int s = 0; s < in->n; s++) {
        const rb_dataset *ds = &in->sets[s];
        char why[512] = "";
        const double file_bytes = cfg->dists[ds->dist].kind == RB_DIST_FILE ? 4.0 * ds->N * ds->d : 0;
        const double avail = rb_hostmem_available();
        int bad = be->fits(be, ds->d, ds->N, ds->dtype, why, sizeof why);
        if (!bad && file_bytes > 0 && avail > 0 && file_bytes > avail) {
            snprintf(why, sizeof why, "%s: %ld rows of d = %d need %.0f bytes of host memory as floats; %.0f are "
                     "available (distribution.rows takes fewer)", cfg->dists[ds->dist].path, ds->N, ds->d, file_bytes, avail);
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "rotorbench: %s\n", why);
            return -1;
        }
    }
    return 0;
}

/* A sweep under way: what its steps share. */
typedef struct {
    const rb_config *cfg;
    const rb_inputs *in;
    rb_backend *be;
    const char *out_dir;
    int profile, resume;
    setting *sets; /* every setting, flattened, so progress can say k of n */
    int nset;
    rb_kva_plan kplan; /* the attention path's records after the settings (kvattn_sweep.h) */
    rb_run run;
    rb_record *done; /* --resume: the records of the earlier run */
    int ndone;
    char hash[20], jsonl[RB_MAX_PATH + 160];
    FILE *log;       /* the .jsonl progress log; NULL under --profile */
    int loaded_ds;   /* the data set in the backend */
    float *queries;  /* its queries, when the config asks for attention metrics */
    float *values, *values_h; /* its paired values (distribution.values) and their quantized rows */
    float *rots[RB_MAX_METHODS]; /* each method's rotation at dimension rots_d */
    int rots_d;
    double t0, bytes_left, bytes_ran; /* for the progress line's estimate */
} sweep;

/* The settings per data set on this backend, saying once which a method cannot run. */
static int settings_per_dataset(const rb_config *cfg, const rb_backend *be)
{
    int per_data = 0;
    for (int mi = 0; mi < cfg->nmethods; mi++)
        for (int v = 0; v < be->nvariants; v++)
            for (int pa = 0; pa < cfg->npaths; pa++)
                per_data += runs_path(be, cfg->methods[mi], v, cfg->paths[pa]) ? method_settings(cfg, cfg->methods[mi]) : 0;
    for (int pa = 0; pa < cfg->npaths; pa++)
        for (int mi = 0; mi < cfg->nmethods; mi++) {
            int any = 0;
            for (int v = 0; v < be->nvariants; v++)
                any |= runs_path(be, cfg->methods[mi], v, cfg->paths[pa]);
            if (!any && cfg->paths[pa] == RB_PATH_ATTENTION) {
                /* the attention path runs the kv_attention object's own shapes, after these settings */
            } else if (!any && cfg->paths[pa] != RB_PATH_ROUNDTRIP)
                fprintf(stderr, "rotorbench: %s has no %s path on the %s backend: its %s settings are skipped\n",
                        rb_method_name(cfg->methods[mi]), rb_path_name(cfg->paths[pa]), be->name,
                        rb_path_name(cfg->paths[pa]));
        }
    for (int mi = 0; mi < cfg->nmethods; mi++)
        if (strcmp(be->name, "cpu") && !rb_method_get(cfg->methods[mi])->variants)
            fprintf(stderr, "rotorbench: %s has no GPU launcher: the %s backend skips it\n",
                    rb_method_name(cfg->methods[mi]), be->name);
    return per_data;
}

/* The settings in the order they run (data changes only with the data set), and room for their
 * records. 0, or -1 on out of memory. */
static int plan_settings(sweep *s)
{
    const rb_config *cfg = s->cfg;
    s->nset = s->in->n * settings_per_dataset(cfg, s->be);
    s->sets = calloc((size_t)s->nset, sizeof *s->sets);
    s->run.recs = calloc((size_t)s->nset, sizeof(rb_record));
    s->done = calloc((size_t)(s->nset + s->kplan.nrecords) + 1, sizeof(rb_record));
    if (!s->sets || !s->run.recs || !s->done) {
        fprintf(stderr, "rotorbench: out of host memory\n");
        return -1;
    }
    int k = 0;
    for (int ds = 0; ds < s->in->n; ds++)
        for (int mi = 0; mi < cfg->nmethods; mi++)
            for (int bi = 0; bi < method_settings(cfg, cfg->methods[mi]); bi++)
                for (int v = 0; v < s->be->nvariants; v++)
                    for (int pa = 0; pa < cfg->npaths; pa++)
                        if (runs_path(s->be, cfg->methods[mi], v, cfg->paths[pa]))
                            s->sets[k++] = (setting){ds, mi, bi, v, pa};
    return 0;
}

/* The .jsonl progress log: the records of an interrupted run read back (--resume), then opened
 * for this run's (none under --profile). 0, or -1 said on stderr. */
static int open_log(sweep *s)
{
    snprintf(s->hash, sizeof s->hash, "%016llx", (unsigned long long)config_hash(s->cfg, s->be->name, s->kplan.files_hash));
    snprintf(s->jsonl, sizeof s->jsonl, "%s/%s-%s.jsonl", s->out_dir, s->cfg->name, s->be->name);
    s->ndone = s->resume && !s->profile ? load_jsonl(s->jsonl, s->hash, s->done, s->nset + s->kplan.nrecords) : 0;
    s->log = s->profile ? NULL : fopen(s->jsonl, s->resume ? "a" : "w");
    if (!s->profile && !s->log) {
        fprintf(stderr, "rotorbench: cannot write %s: %s\n", s->jsonl, strerror(errno));
        return -1;
    }
    if (s->log && s->resume && ends_torn(s->jsonl))
        fputc('\n', s->log);
    if (s->resume)
        fprintf(stderr, "rotorbench: --resume: %d of %d settings already done in %s\n", s->ndone,
                s->nset + s->kplan.nrecords, s->jsonl);
    return 0;
}

/* The run's machine and the notes every result file carries. */
static void describe_run(sweep *s)
{
    s->run.machine = cJSON_CreateObject();
    s->be->describe(s->be, s->run.machine);
    if (!strcmp(s->be->name, "cpu"))
        s->run.notes[s->run.nnotes++] = "backend cpu: timings are CPU wall-clock timings of the "
                                        "reference implementation, not kernel timings";
    s->run.notes[s->run.nnotes++] = "pred_mse: Lloyd-Max prediction, E(t-Q(t))^2 per coordinate under "
                                    "the exact coordinate density of a uniform unit vector";
}

/* Setting st's record: its key and counts from the config (the driver's fields), and the
 * parameters its run takes. */
static void start_record(const sweep *s, const setting *st, rb_record *r, rb_qdq_params *p)
{
    const rb_config *cfg = s->cfg;
    const rb_dataset *ds = &s->in->sets[st->ds];
    const rb_method m = cfg->methods[st->mi];
    const int d = ds->d;
    memset(r, 0, sizeof *r);
    r->method = m;
    snprintf(r->variant, sizeof r->variant, "%s", s->be->variants[st->v]);
    r->d = d; r->dtype = ds->dtype; r->N = ds->N;
    r->dist = ds->dist; r->slice = ds->slice;
    rb_method_hooks_of(m)->setting(cfg, st->bi, d, codebooks_of(d), p, r); /* bits or operating point, counts */
    p->unit_norm = r->unit_norm = cfg->unit_norm;
    r->path = cfg->paths[st->pa];
    r->kv_norm = rb_kv_norm_kind(cfg->unit_norm, cfg->kv_norm);
    r->stored_bytes = rb_kv_method_packs(m) ? (double)rb_kv_stored_bytes(m, d, r->bits, r->kv_norm, ds->N) : 0;
    const rb_method_hooks *hk = rb_method_hooks_of(m);
    if (hk->kv_stored_bytes && r->path != RB_PATH_ROUNDTRIP) { /* its own format: fp16 sigma, side entries */
        r->kv_norm = RB_KV_NORM_FP16;
        r->stored_bytes = (double)hk->kv_stored_bytes(p, ds->N, 0); /* the run adds what it stored beside */
    }
    const double xbytes = (double)ds->N * d * (ds->dtype == RB_FP16 ? 2 : 4);
    r->bytes = r->path == RB_PATH_ROUNDTRIP ? 2.0 * xbytes : xbytes + r->stored_bytes;
}

/* --resume: r's record from the earlier run, when it has one (1). */
static int reuse_done(const sweep *s, rb_record *r)
{
    for (int j = 0; j < s->ndone; j++)
        if (same_key(&s->done[j], r)) {
            *r = s->done[j];
            return 1;
        }
    return 0;
}

/* Every method's rotation at dimension d, drawn when d changes. 0, or -1 said on stderr. */
static int prepare_rotations(sweep *s, int d)
{
    if (s->rots_d == d)
        return 0;
    for (int mm = 0; mm < RB_MAX_METHODS; mm++) {
        free(s->rots[mm]);
        s->rots[mm] = NULL;
    }
    int rc = 0;
    for (int mi = 0; mi < s->cfg->nmethods && !rc; mi++) {
        rb_method mm = s->cfg->methods[mi];
        long len = rb_param_count(mm, d);
        s->rots[mm] = malloc(sizeof(float) * (size_t)(len > 0 ? len : 1));
        char err[256];
        if (!s->rots[mm] || rb_params_generate(s->cfg->seed, mm, d, s->rots[mm], err, sizeof err)) {
            fprintf(stderr, "rotorbench: rotation for %s d=%d: %s\n", rb_method_name(mm), d,
                    s->rots[mm] ? err : "out of memory");
            rc = -1;
        }
    }
    s->rots_d = d;
    return rc;
}

/* Data set st->ds in the backend, with its queries and paired values, loaded when it changes.
 * 0, or -1 said on stderr. */
static int prepare_dataset(sweep *s, const setting *st)
{
    if (s->loaded_ds == st->ds)
        return 0;
    const rb_config *cfg = s->cfg;
    const rb_dataset *ds = &s->in->sets[st->ds];
    char err[512];
    free(s->queries);
    s->queries = cfg->q_kind ? malloc(sizeof(float) * (size_t)cfg->q_count * ds->d) : NULL;
    if (cfg->q_kind && (!s->queries || rb_inputs_queries(cfg, s->in, ds, s->queries, err, sizeof err))) {
        fprintf(stderr, "rotorbench: queries: %s\n", s->queries ? err : "out of host memory");
        return -1;
    }
    if (load_dataset(s->be, cfg, s->in, ds))
        return -1;
    free(s->values);
    free(s->values_h);
    s->values = s->values_h = NULL;
    if (s->queries && cfg->dists[ds->dist].values_path[0] && load_values(cfg, s->in, ds, &s->values, &s->values_h))
        return -1;
    s->loaded_ds = st->ds;
    return 0;
}

/* Rows left out of a record's metrics, named by input: a file's rows are the suspects. */
static void warn_rows_left_out(const rb_config *cfg, const rb_record *r)
{
    if (!r->m.nonfinite_rows && !r->m.tiny_rows)
        return;
    char inp[160], op[64];
    rb_record_input(cfg, r, inp, sizeof inp);
    rb_method_hooks_of(r->method)->op_label(r, op, sizeof op);
    if (!op[0])
        snprintf(op, sizeof op, "bits=%d", r->bits);
    if (r->m.nonfinite_rows)
        fprintf(stderr, "rotorbench: warning: %s d=%d %s %s input %s: %ld rows with non-finite values left out "
                        "of the metrics\n", rb_method_name(r->method), r->d, op, rb_dtype_name(r->dtype), inp,
                r->m.nonfinite_rows);
    if (r->m.tiny_rows)
        fprintf(stderr, "rotorbench: warning: %s d=%d %s %s input %s: %ld rows of tiny values (|x|^2 below "
                        "2^-126: their fp32 norm underflows) left out of the metrics\n", rb_method_name(r->method),
                r->d, op, rb_dtype_name(r->dtype), inp, r->m.tiny_rows);
}

/* The progress line of setting k, with the time left in proportion to the bytes left (N spans
 * 2^10..2^24 in a scaling sweep). */
static void print_progress(const sweep *s, int k, const rb_record *r)
{
    const rb_config *cfg = s->cfg;
    const rb_dataset *ds = &s->in->sets[s->sets[k].ds];
    double el = rb_wallclock_s() - s->t0, left = el / s->bytes_ran * s->bytes_left;
    char what[64];
    rb_method_hooks_of(r->method)->op_label(r, what, sizeof what);
    if (!what[0])
        snprintf(what, sizeof what, "b=%d", r->bits);
    char input[48] = "";
    if (cfg->ndists > 1 || cfg->dists[0].kind != RB_DIST_SPHERE)
        snprintf(input, sizeof input, " %s%s", rb_distribution_name(cfg->dists[ds->dist].kind), ds->slice >= 0 ? "" : "");
    if (ds->slice >= 0)
        snprintf(input + strlen(input), sizeof input - strlen(input), "[%d]", ds->slice);
    fprintf(stderr, "[%d/%d] %s/%s%s%s%s d=%d %s %s N=%ld: %.3g us, mse %.4e, rel %.4e | %.0f s elapsed, ~%.0f s left\n",
            k + 1, s->nset, rb_method_name(r->method), r->variant, r->path ? " " : "", r->path ? rb_path_name(r->path) : "",
            input, r->d, what, rb_dtype_name(r->dtype), r->N, r->t.median_us, r->m.mse, r->m.rel_err, el, left);
}

/* Setting k: its record reused (--resume) or run, checked, logged and reported. 0, or 1 on a
 * failure said on stderr. */
static int run_setting(sweep *s, int k)
{
    const setting *st = &s->sets[k];
    const rb_config *cfg = s->cfg;
    const rb_dataset *ds = &s->in->sets[st->ds];
    rb_record *r = &s->run.recs[s->run.nrecs];
    rb_qdq_params p;
    start_record(s, st, r, &p);
    s->bytes_left -= setting_bytes(s->in, st);
    if (reuse_done(s, r)) {
        s->run.nrecs++;
        return 0;
    }
    if (prepare_rotations(s, ds->d) || prepare_dataset(s, st))
        return 1;
    p.rot = s->rots[r->method];
    if (s->values && quantize_values(&p, ds, s->values, s->values_h))
        return 1;
    if (s->be->run(s->be, &p, st->v, r) ||
        (s->queries && s->be->attention(s->be, s->queries, cfg->q_count, cfg->attn_T, s->values, s->values_h, &r->attn)))
        return 1;
    rb_method_hooks_of(r->method)->finish(r);
    warn_rows_left_out(cfg, r);
    if (s->log && append_jsonl(s->log, s->hash, r, cfg)) {
        fprintf(stderr, "rotorbench: cannot append to %s: %s\n", s->jsonl, strerror(errno));
        return 1;
    }
    s->run.nrecs++;
    s->bytes_ran += setting_bytes(s->in, st);
    print_progress(s, k, r);
    return 0;
}

/* Every setting in order; Ctrl-C stops between two (130). 0, or 1 on a failure. */
static int run_settings(sweep *s)
{
    s->loaded_ds = -1;
    s->rots_d = -1;
    s->t0 = rb_wallclock_s();
    for (int k = 0; k < s->nset; k++)
        s->bytes_left += setting_bytes(s->in, &s->sets[k]);
    if (s->log)
        signal(SIGINT, on_sigint);
    int rc = 0;
    for (int k = 0; k < s->nset && !rc; k++) {
        if (g_interrupted) {
            fprintf(stderr, "rotorbench: interrupted after %d of %d settings; they are kept in %s: run the "
                            "same command with --resume to go on\n", k, s->nset, s->jsonl);
            return 130;
        }
        rc = run_setting(s, k);
    }
    return rc;
}

/* The data sets' buffers, once the settings are done. */
static void release_settings(sweep *s)
{
    for (int mm = 0; mm < RB_MAX_METHODS; mm++)
        free(s->rots[mm]);
    free(s->queries);
    free(s->values);
    free(s->values_h);
}

/* The attention path: its own shapes, after the data sets' settings; its records into the run
 * and the .jsonl as each finishes, --resume's handed back. */
static int run_attention(sweep *s)
{
    s->run.notes[s->run.nnotes++] = "path attention: decode attention over a compressed KV cache, scores and outputs in "
                                    "the rotated domain; metrics against an fp32 reference on the same inputs";
    kva_ctx kc = {&s->run, s->log, s->hash, s->jsonl, s->done, s->ndone, s->nset + s->kplan.nrecords};
    const rb_kva_sink sink = {kva_put, kva_done, &kc};
    return rb_kvattn_sweep(s->cfg, s->be, &sink);
}

/* The result files (JSON, CSV) and the tables on stdout. 0, or 1 when a file was not written. */
static int write_results(sweep *s)
{
    rb_run *run = &s->run;
    rb_backend *be = s->be;
    int rc = 0;
    be->describe(be, run->machine); /* again: clocks at the end of the run */
    rb_results_speedups(run);
    char path[RB_MAX_PATH + 160];
    snprintf(path, sizeof path, "%s/%s-%s.json", s->out_dir, s->cfg->name, be->name);
    rc |= rb_results_write_json(run, path) ? 1 : 0;
    if (!rc)
        fprintf(stderr, "rotorbench: wrote %s\n", path);
    snprintf(path, sizeof path, "%s/%s-%s.csv", s->out_dir, s->cfg->name, be->name);
    rc |= rb_results_write_csv(run, path) ? 1 : 0;
    if (!rc)
        fprintf(stderr, "rotorbench: wrote %s\n", path);
    rb_results_print_markdown(run, stdout);
    rb_results_print_kv_bytes(run, stdout);
    rb_results_print_quality(run, stdout);
    rb_kvattn_print_markdown(run, stdout);
    for (int v = 0; v < be->nvariants && rb_results_has_qdq_records(run); v++)
        if (!v || strcmp(be->name, "cpu")) /* the CPU says once why there is none */
            rb_paper_table_print(run, be->variants[v], stdout);
    return rc;
}

/* The sweep: codebooks, backend, checks, then the settings, the attention path and the results.
 * The exit status: 0, 1 a run-time failure, 2 a data set that does not fit, 130 interrupted. */
static int run_sweep(const rb_config *cfg, const rb_inputs *in, const char *backend_sel, const char *out_dir,
                     int profile, int resume, int argc, char **argv)
{
    /* Codebooks first: a failure here is still before any backend work. */
    if (solve_codebooks(cfg, in))
        return 1;
    sweep s = {.cfg = cfg, .in = in, .out_dir = out_dir, .profile = profile, .resume = resume};
    s.be = create_backend(backend_sel, profile);
    if (!s.be)
        return 1;
    if (check_fits(cfg, in, s.be, &s.kplan)) {
        s.be->destroy(s.be);
        return 2;
    }
    s.run = (rb_run){.cfg = cfg, .backend = s.be->name, .argc = argc, .argv = argv};
    int rc = plan_settings(&s) || open_log(&s) ? 1 : 0;
    if (!rc) {
        describe_run(&s);
        rc = run_settings(&s);
        release_settings(&s);
    }
    if (!rc && cfg->kva.on)
        rc = run_attention(&s);
    if (s.log)
        fclose(s.log);
    if (!rc && profile)
        fprintf(stderr, "rotorbench: --profile: %d kernels run, no results written\n", s.run.nrecs);
    else if (!rc)
        rc = write_results(&s);
    cJSON_Delete(s.run.machine);
    free(s.run.recs);
    free(s.done);
    free(s.sets);
    s.be->destroy(s.be);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "compare"))
        return rb_compare_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "headline"))
        return rb_headline_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "methods"))
        return rb_methods_run(argc - 1, argv + 1, stdout, stderr);
    if (strcmp(argv[1], "run") != 0)
        return bad_arg("unknown command", argv[1]);
    const char *config = NULL, *backend = "auto", *out = NULL;
    int profile = 0, resume = 0;
    long device = -1;
    char err[1024];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--profile")) {
            profile = 1;
        } else if (!strcmp(argv[i], "--resume")) {
            resume = 1;
        } else if (!strcmp(argv[i], "--device")) {
            char *end = NULL;
            if (i + 1 >= argc)
                return bad_arg("missing value after", argv[i]);
            device = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end || device < 0 || device > 1023)
                return bad_arg("--device must be a device number (0, 1, ...), got", argv[i]);
        } else if (!strcmp(argv[i], "--backend") || !strcmp(argv[i], "--out") || !strcmp(argv[i], "--plugin")) {
            if (i + 1 >= argc)
                return bad_arg("missing value after", argv[i]);
            if (!strcmp(argv[i], "--backend")) {
                backend = argv[++i];
            } else if (!strcmp(argv[i], "--out")) {
                out = argv[++i];
            } else if (rb_plugin_load(argv[++i], err, sizeof err)) { /* before the config names its methods */
                fprintf(stderr, "rotorbench: %s\n", err);
                return 2;
            }
        } else if (argv[i][0] == '-') {
            return bad_arg("unknown option", argv[i]);
        } else if (!config) {
            config = argv[i];
        } else {
            return bad_arg("more than one config given", argv[i]);
        }
    }
    if (!config)
        return bad_arg("run needs a CONFIG.json", NULL);
    if (strcmp(backend, "auto") && strcmp(backend, "cpu") && strcmp(backend, "gpu"))
        return bad_arg("--backend must be auto, cpu or gpu, got", backend);

    if (rb_run_knobs_check(err, sizeof err)) {
        fprintf(stderr, "rotorbench: %s\n", err);
        return 2;
    }
    if (device >= 0 && strcmp(backend, "cpu")) { /* a device that is not there: before any work */
        const int n = rb_gpu_device_count(err, sizeof err);
        if (n > 0 && device >= n) {
            fprintf(stderr, "rotorbench: --device %ld: only %d CUDA device%s visible (CUDA_VISIBLE_DEVICES=%s)\n",
                    device, n, n == 1 ? "" : "s", rb_run_options_get()->cuda_visible_devices[0] ? rb_run_options_get()->cuda_visible_devices : "unset");
            return 2;
        }
    }
    rb_run_options_set_device(device < 0 ? 0 : (int)device);
    static rb_config cfg;
    if (rb_config_load(config, &cfg, err, sizeof err)) {
        fprintf(stderr, "rotorbench: %s\n", err);
        return 2;
    }
    /* input files: opened, checked and hashed before any work (a bad one: one line, exit 2) */
    static rb_inputs inputs;
    if (rb_inputs_open(&cfg, &inputs, err, sizeof err)) {
        fprintf(stderr, "rotorbench: %s\n", err);
        rb_inputs_close(&inputs);
        return 2;
    }
    /* --backend gpu on a machine without one: said before the output directory is created */
    if (!strcmp(backend, "gpu") && rb_gpu_probe(err, sizeof err)) {
        fprintf(stderr, "rotorbench: --backend gpu: no usable GPU (%s): use --backend cpu\n", err);
        rb_inputs_close(&inputs);
        return 2;
    }
    if (!out)
        out = cfg.output_dir;
    int rc = check_out_dir(out) ? 2 : run_sweep(&cfg, &inputs, backend, out, profile, resume, argc, argv);
    rb_inputs_close(&inputs);
    return rc;
}
