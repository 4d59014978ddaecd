/* main.c: the rotorbench driver. Loads and validates a sweep config, solves the codebooks,
 * draws the rotations, and walks the settings on the chosen backend; then writes
 * <output_dir>/<name>-<backend>.json and .csv and prints a Markdown table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "codebook.h"
#include "counts.h"
#include "data.h"
#include "results.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rotorbench run CONFIG.json [--backend auto|cpu|gpu] [--out DIR] [--profile]\n"
            "\n"
            "  run CONFIG    run the sweep the config describes (see README.md, Config format)\n"
            "  --backend B   auto (default): the GPU if one is usable, else the CPU\n"
            "  --out DIR     write results to DIR instead of the config's output_dir\n"
            "  --profile     run each kernel a few times without timing loops, inside NVTX\n"
            "                ranges, for ncu/nsys (see make profile-ncu); writes no results\n"
            "\n"
            "Exit status: 0 done, 1 a run-time failure, 2 a bad argument or config.\n");
}

static int bad_arg(const char *msg, const char *arg)
{
    fprintf(stderr, "rotorbench: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    usage(stderr);
    return 2;
}

/* The output directory must exist and be writable before any work starts. */
static int check_out_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "rotorbench: output directory %s: %s (create it first)\n", dir, strerror(errno));
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

static int run_sweep(const rb_config *cfg, const char *backend_sel, const char *out_dir, int profile,
                     int argc, char **argv)
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
    int nrecs_max = cfg->ndims * cfg->nN * cfg->ndtypes * cfg->nmethods * cfg->nbits * be->nvariants;
    rb_run run = {.cfg = cfg, .backend = be->name, .argc = argc, .argv = argv};
    run.recs = calloc((size_t)nrecs_max, sizeof(rb_record));
    run.machine = cJSON_CreateObject();
    be->describe(be, run.machine);
    if (!strcmp(be->name, "cpu"))
        run.notes[run.nnotes++] = "backend cpu: timings are CPU wall-clock timings of the "
                                  "reference implementation, not kernel timings";
    run.notes[run.nnotes++] = "pred_mse: Lloyd-Max prediction, E(t-Q(t))^2 per coordinate under "
                              "the exact coordinate density of a uniform unit vector";

    int rc = 0;
    float *rot = NULL;
    for (int i = 0; i < cfg->ndims && !rc; i++) {
        int d = cfg->dims[i];
        /* rotations for this d, one buffer per method */
        float *rots[RB_NUM_METHODS] = {0};
        for (int mi = 0; mi < cfg->nmethods && !rc; mi++) {
            rb_method m = cfg->methods[mi];
            long len = rb_method_rot_len(m, d);
            rots[m] = malloc(sizeof(float) * (size_t)(len > 0 ? len : 1));
            char err[256];
            if (!rots[m] || rb_params_generate(cfg->seed, m, d, rots[m], err, sizeof err)) {
                fprintf(stderr, "rotorbench: rotation for %s d=%d: %s\n", rb_method_name(m), d,
                        rots[m] ? err : "out of memory");
                rc = 1;
            }
        }
        for (int n = 0; n < cfg->nN && !rc; n++)
            for (int t = 0; t < cfg->ndtypes && !rc; t++) {
                long N = cfg->N[n];
                rb_dtype dt = cfg->dtypes[t];
                fprintf(stderr, "rotorbench: %s d=%d N=%ld %s\n", be->name, d, N, rb_dtype_name(dt));
                if (be->load_data(be, cfg->seed, d, N, dt)) {
                    rc = 1;
                    break;
                }
                for (int mi = 0; mi < cfg->nmethods && !rc; mi++)
                    for (int k = 0; k < cfg->nbits && !rc; k++)
                        for (int v = 0; v < be->nvariants && !rc; v++) {
                            rb_method m = cfg->methods[mi];
                            const rb_codebook *cb = &cbs[i][k];
                            rb_qdq_params p;
                            rb_qdq_params_shape(&p, m, d, cfg->bits[k]);
                            p.rot = rots[m];
                            p.bounds = cb->bounds_f;
                            p.centroids = cb->centroids_f;
                            rb_record *r = &run.recs[run.nrecs];
                            memset(r, 0, sizeof *r);
                            r->method = m;
                            snprintf(r->variant, sizeof r->variant, "%s", be->variants[v]);
                            r->d = d; r->bits = cfg->bits[k]; r->dtype = dt; r->N = N;
                            r->pred_mse = rb_codebook_mse_under(cb, RB_CODEBOOK_BETA, d);
                            r->fma_nominal = rb_nominal_fma(m, d);
                            r->params = rb_param_count(m, d);
                            r->bits_per_coord = rb_bits_per_coord(m, d, cfg->bits[k]);
                            r->bytes = 2.0 * (double)N * d * (dt == RB_FP16 ? 2 : 4);
                            if (be->run(be, &p, v, r)) {
                                rc = 1;
                                break;
                            }
                            if (r->m.nonfinite_rows)
                                fprintf(stderr, "rotorbench: warning: %s d=%d bits=%d: %ld rows "
                                        "with non-finite values left out of the metrics\n",
                                        rb_method_name(m), d, r->bits, r->m.nonfinite_rows);
                            run.nrecs++;
                        }
            }
        for (int m = 0; m < RB_NUM_METHODS; m++)
            free(rots[m]);
    }
    free(rot);

    if (!rc && profile) {
        fprintf(stderr, "rotorbench: --profile: %d kernels run, no results written\n", run.nrecs);
    } else if (!rc) {
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
            rb_paper_table_print(&run, be->variants[v], stdout);
    }
    cJSON_Delete(run.machine);
    free(run.recs);
    be->destroy(be);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "run") != 0)
        return bad_arg("unknown command", argv[1]);
    const char *config = NULL, *backend = "auto", *out = NULL;
    int profile = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--profile")) {
            profile = 1;
        } else if (!strcmp(argv[i], "--backend") || !strcmp(argv[i], "--out")) {
            if (i + 1 >= argc)
                return bad_arg("missing value after", argv[i]);
            if (!strcmp(argv[i], "--backend"))
                backend = argv[++i];
            else
                out = argv[++i];
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
    char err[1024];
    if (rb_config_load(config, &cfg, err, sizeof err)) {
        fprintf(stderr, "rotorbench: %s\n", err);
        return 2;
    }
    if (!out)
        out = cfg.output_dir;
    if (check_out_dir(out))
        return 2;
    return run_sweep(&cfg, backend, out, profile, argc, argv);
}
