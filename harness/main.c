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
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "codebook.h"
#include "compare.h"
#include "counts.h"
#include "data.h"
#include "hostmem.h"
#include "method_hooks.h"
#include "results.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rotorbench run CONFIG.json [--backend auto|cpu|gpu] [--out DIR] [--resume] [--profile]\n"
            "                      [--plugin LIB.so ...]\n"
            "       rotorbench compare BASE.json NEW.json [--time-tol 0.05] [--mse-only] [--allow-missing]\n"
            "                          [--cpu-times]\n"
            "\n"
            "  run CONFIG    run the sweep the config describes (see README.md, Config format)\n"
            "  --backend B   auto (default): the GPU if one is usable, else the CPU\n"
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
            "\n"
            "Exit status: 0 done, 1 a run-time failure, 2 a bad argument or config.\n");
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

/* One setting of the sweep, in the order it runs: data changes only with (d, N, dtype). */
typedef struct {
    int di, ni, ti, mi, bi, v;
} setting;

/* FNV-1a over the canonical config, the backend, the plugins loaded and the environment knobs
 * that change results: a .jsonl line is reused by --resume only when all match. */
static uint64_t config_hash(const rb_config *cfg, const char *backend)
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
    uint64_t h = 0xcbf29ce484222325ull;
    const char *parts[4] = {canon ? canon : cfg->path, backend, plugins, rb_run_knobs()};
    for (int k = 0; k < 4; k++)
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
           a->N == b->N && !strcmp(oa, ob);
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
static double setting_bytes(const rb_config *cfg, const setting *st)
{
    return (double)cfg->N[st->ni] * cfg->dims[st->di] * (cfg->dtypes[st->ti] == RB_FP16 ? 2 : 4);
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

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int run_sweep(const rb_config *cfg, const char *backend_sel, const char *out_dir, int profile,
                     int resume, int argc, char **argv)
{
    /* Codebooks first: a failure here is still before any backend work. */
    static rb_codebook cbs[RB_MAX_LIST][RB_MAX_LIST];
    for (int i = 0; i < cfg->ndims; i++)
        for (int k = 0; k < cfg->nbits; k++)
            if (rb_codebook_solve(cfg->codebook, cfg->dims[i], cfg->bits[k], &cbs[i][k])) {
                fprintf(stderr, "rotorbench: Lloyd-Max did not converge for d=%d bits=%d\n",
                        cfg->dims[i], cfg->bits[k]);
                return 1;
            }

    rb_backend *be = NULL;
    char why[256] = "";
    if (strcmp(backend_sel, "cpu") != 0) {
        be = rb_backend_gpu_create(why, sizeof why);
        if (!be && !strcmp(backend_sel, "gpu")) {
            fprintf(stderr, "rotorbench: --backend gpu: %s\n", why);
            return 1;
        }
    }
    if (!be) {
        if (!strcmp(backend_sel, "auto"))
            fprintf(stderr, "rotorbench: no usable GPU (%s): using the CPU backend; timings are CPU "
                            "wall-clock timings\n", why);
        be = rb_backend_cpu_create();
        if (!be) {
            fprintf(stderr, "rotorbench: out of host memory\n");
            return 1;
        }
    }
    be->profile = profile;
    be->dist = rb_config_dist(cfg);
    /* Every batch against host memory now, not when the sweep reaches the largest N. */
    for (int di = 0; !strcmp(be->name, "cpu") && di < cfg->ndims; di++)
        for (int ni = 0; ni < cfg->nN; ni++) {
            char why[512];
            if (rb_cpu_load_check(cfg->dims[di], cfg->N[ni], cfg->dtypes[0], why, sizeof why)) {
                fprintf(stderr, "rotorbench: %s\n", why);
                be->destroy(be);
                return 2;
            }
        }

    /* The settings, flattened, so progress can say k of n. */
    int per_data = 0;
    for (int mi = 0; mi < cfg->nmethods; mi++)
        for (int v = 0; v < be->nvariants; v++)
            per_data += runs_variant(be, cfg->methods[mi], v) ? method_settings(cfg, cfg->methods[mi]) : 0;
    for (int mi = 0; mi < cfg->nmethods; mi++)
        if (strcmp(be->name, "cpu") && !rb_method_get(cfg->methods[mi])->variants)
            fprintf(stderr, "rotorbench: %s has no GPU launcher: the %s backend skips it\n",
                    rb_method_name(cfg->methods[mi]), be->name);
    int nset = cfg->ndims * cfg->nN * cfg->ndtypes * per_data;
    setting *sets = calloc((size_t)nset, sizeof *sets);
    rb_run run = {.cfg = cfg, .backend = be->name, .argc = argc, .argv = argv};
    run.recs = calloc((size_t)nset, sizeof(rb_record));
    rb_record *done = calloc((size_t)nset, sizeof(rb_record));
    if (!sets || !run.recs || !done) {
        fprintf(stderr, "rotorbench: out of host memory\n");
        be->destroy(be);
        return 1;
    }
    int k = 0;
    for (int di = 0; di < cfg->ndims; di++)
        for (int ni = 0; ni < cfg->nN; ni++)
            for (int ti = 0; ti < cfg->ndtypes; ti++)
                for (int mi = 0; mi < cfg->nmethods; mi++)
                    for (int bi = 0; bi < method_settings(cfg, cfg->methods[mi]); bi++)
                        for (int v = 0; v < be->nvariants; v++)
                            if (runs_variant(be, cfg->methods[mi], v))
                                sets[k++] = (setting){di, ni, ti, mi, bi, v};

    char hash[20], jsonl[RB_MAX_PATH + 160];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)config_hash(cfg, be->name));
    snprintf(jsonl, sizeof jsonl, "%s/%s-%s.jsonl", out_dir, cfg->name, be->name);
    int ndone = resume && !profile ? load_jsonl(jsonl, hash, done, nset) : 0;
    FILE *log = profile ? NULL : fopen(jsonl, resume ? "a" : "w");
    if (!profile && !log) {
        fprintf(stderr, "rotorbench: cannot write %s: %s\n", jsonl, strerror(errno));
        be->destroy(be);
        return 1;
    }
    if (log && resume && ends_torn(jsonl))
        fputc('\n', log);
    if (resume)
        fprintf(stderr, "rotorbench: --resume: %d of %d settings already done in %s\n", ndone, nset, jsonl);

    run.machine = cJSON_CreateObject();
    be->describe(be, run.machine);
    if (!strcmp(be->name, "cpu"))
        run.notes[run.nnotes++] = "backend cpu: timings are CPU wall-clock timings of the "
                                  "reference implementation, not kernel timings";
    run.notes[run.nnotes++] = "pred_mse: Lloyd-Max prediction, E(t-Q(t))^2 per coordinate under "
                              "the exact coordinate density of a uniform unit vector";

    int rc = 0, loaded_di = -1, loaded_ni = -1, loaded_ti = -1;
    float *rots[RB_MAX_METHODS] = {0};
    int rots_di = -1;
    double t0 = now_s(), bytes_left = 0, bytes_ran = 0;
    for (k = 0; k < nset; k++)
        bytes_left += setting_bytes(cfg, &sets[k]);
    if (log)
        signal(SIGINT, on_sigint);
    for (k = 0; k < nset && !rc; k++) {
        if (g_interrupted) {
            fprintf(stderr, "rotorbench: interrupted after %d of %d settings; they are kept in %s: run the "
                            "same command with --resume to go on\n", k, nset, jsonl);
            rc = 130;
            break;
        }
        const setting *st = &sets[k];
        rb_method m = cfg->methods[st->mi];
        const rb_method_hooks *hk = rb_method_hooks_of(m);
        int d = cfg->dims[st->di];
        long N = cfg->N[st->ni];
        rb_dtype dt = cfg->dtypes[st->ti];
        rb_record *r = &run.recs[run.nrecs];
        memset(r, 0, sizeof *r);
        r->method = m;
        snprintf(r->variant, sizeof r->variant, "%s", be->variants[st->v]);
        r->d = d; r->dtype = dt; r->N = N;
        rb_qdq_params p;
        hk->setting(cfg, st->bi, d, cbs[st->di], &p, r); /* bits or operating point, counts */
        r->bytes = 2.0 * (double)N * d * (dt == RB_FP16 ? 2 : 4);
        int reused = 0;
        bytes_left -= setting_bytes(cfg, st);
        for (int j = 0; j < ndone && !reused; j++)
            if (same_key(&done[j], r)) {
                *r = done[j];
                reused = 1;
            }
        if (reused) {
            run.nrecs++;
            continue;
        }
        if (rots_di != st->di) { /* rotations for this d, one buffer per method */
            for (int mm = 0; mm < RB_MAX_METHODS; mm++) {
                free(rots[mm]);
                rots[mm] = NULL;
            }
            for (int mi = 0; mi < cfg->nmethods && !rc; mi++) {
                rb_method mm = cfg->methods[mi];
                long len = rb_param_count(mm, d);
                rots[mm] = malloc(sizeof(float) * (size_t)(len > 0 ? len : 1));
                char err[256];
                if (!rots[mm] || rb_params_generate(cfg->seed, mm, d, rots[mm], err, sizeof err)) {
                    fprintf(stderr, "rotorbench: rotation for %s d=%d: %s\n", rb_method_name(mm), d,
                            rots[mm] ? err : "out of memory");
                    rc = 1;
                }
            }
            rots_di = st->di;
            if (rc)
                break;
        }
        if (loaded_di != st->di || loaded_ni != st->ni || loaded_ti != st->ti) {
            if (be->load_data(be, cfg->seed, d, N, dt)) {
                rc = 1;
                break;
            }
            loaded_di = st->di; loaded_ni = st->ni; loaded_ti = st->ti;
        }
        p.rot = rots[m];
        if (be->run(be, &p, st->v, r)) {
            rc = 1;
            break;
        }
        hk->finish(r);
        if (r->m.nonfinite_rows)
            fprintf(stderr, "rotorbench: warning: %s d=%d bits=%d: %ld rows with non-finite "
                            "values left out of the metrics\n", rb_method_name(m), d, r->bits,
                    r->m.nonfinite_rows);
        if (log && append_jsonl(log, hash, r, cfg)) {
            fprintf(stderr, "rotorbench: cannot append to %s: %s\n", jsonl, strerror(errno));
            rc = 1;
            break;
        }
        run.nrecs++;
        bytes_ran += setting_bytes(cfg, st);
        /* Time left in proportion to bytes left: N spans 2^10..2^24 in a scaling sweep. */
        double el = now_s() - t0, left = el / bytes_ran * bytes_left;
        char what[64];
        hk->op_label(r, what, sizeof what);
        if (!what[0])
            snprintf(what, sizeof what, "b=%d", r->bits);
        fprintf(stderr, "[%d/%d] %s/%s d=%d %s %s N=%ld: %.3g us, mse %.4e | %.0f s elapsed, ~%.0f s left\n",
                k + 1, nset, rb_method_name(m), r->variant, d, what, rb_dtype_name(dt), N,
                r->t.median_us, r->m.mse, el, left);
    }
    for (int mm = 0; mm < RB_MAX_METHODS; mm++)
        free(rots[mm]);
    if (log)
        fclose(log);

    if (!rc && profile) {
        fprintf(stderr, "rotorbench: --profile: %d kernels run, no results written\n", run.nrecs);
    } else if (!rc) {
        be->describe(be, run.machine); /* again: clocks at the end of the run */
        rb_results_speedups(&run);
        char path[RB_MAX_PATH + 160];
        snprintf(path, sizeof path, "%s/%s-%s.json", out_dir, cfg->name, be->name);
        rc |= rb_results_write_json(&run, path) ? 1 : 0;
        if (!rc)
            fprintf(stderr, "rotorbench: wrote %s\n", path);
        snprintf(path, sizeof path, "%s/%s-%s.csv", out_dir, cfg->name, be->name);
        rc |= rb_results_write_csv(&run, path) ? 1 : 0;
        if (!rc)
            fprintf(stderr, "rotorbench: wrote %s\n", path);
        rb_results_print_markdown(&run, stdout);
        for (int v = 0; v < be->nvariants; v++)
            if (!v || strcmp(be->name, "cpu")) /* the CPU says once why there is none */
                rb_paper_table_print(&run, be->variants[v], stdout);
    }
    cJSON_Delete(run.machine);
    free(run.recs);
    free(done);
    free(sets);
    be->destroy(be);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "compare"))
        return rb_compare_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "run") != 0)
        return bad_arg("unknown command", argv[1]);
    const char *config = NULL, *backend = "auto", *out = NULL;
    int profile = 0, resume = 0;
    char err[1024];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--profile")) {
            profile = 1;
        } else if (!strcmp(argv[i], "--resume")) {
            resume = 1;
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

    static rb_config cfg;
    if (rb_config_load(config, &cfg, err, sizeof err)) {
        fprintf(stderr, "rotorbench: %s\n", err);
        return 2;
    }
    if (!out)
        out = cfg.output_dir;
    if (check_out_dir(out))
        return 2;
    return run_sweep(&cfg, backend, out, profile, resume, argc, argv);
}
