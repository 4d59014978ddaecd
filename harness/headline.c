/* headline.c: the README's headline table from result files (see headline.h). The setting
 * is fixed here, once, so the caption the table prints and the records it picks cannot drift
 * apart. */
#include "headline.h"
#include "slurp.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HL_D 128
#define HL_BITS 3
#define HL_HQMQ_OP "s24_r3"
#define HL_N 1048576.0
#define HL_MAX_FILES 16
#define HL_MAX_METHODS 32
#define HL_MAX_SLICES 4
#define HL_MAX_BYTES (64L << 20) /* result files are kilobytes to a few megabytes */

typedef struct {
    const char *path;
    cJSON *root;
} hl_file;

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The number under k, or NAN when it is absent or null. */
static double num(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int is(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static int load(hl_file *f, const char *path, FILE *err)
{
    f->path = path;
    f->root = NULL;
    char *text = rb_slurp(path, HL_MAX_BYTES, "rotorbench headline", NULL, err);
    if (!text)
        return -1;
    f->root = cJSON_Parse(text);
    free(text);
    if (!f->root) {
        fprintf(err, "rotorbench headline: %s: not valid JSON\n", path);
        return -1;
    }
    const cJSON *recs = get(f->root, "records");
    if (!cJSON_IsArray(recs) || !recs->child) {
        fprintf(err, "rotorbench headline: %s: no records (expected a rotorbench result file with "
                     "a non-empty \"records\" array)\n", path);
        return -1;
    }
    return 0;
}

/* The record is the headline setting: d = 128, 3 bits or HQMQ's operating point, not unit norm. */
static int at_setting(const cJSON *r)
{
    if (num(r, "d") != HL_D || cJSON_IsTrue(get(r, "assume_unit_norm")))
        return 0;
    const char *op = str(r, "op");
    return op ? is(op, HL_HQMQ_OP) : num(r, "bits") == HL_BITS;
}

/* The first record of method m at the setting with this variant, dtype and input kind
 * ("sphere" at N = 2^20, or "file" with input.slice == slice). */
static const cJSON *find(const hl_file *files, int nfiles, const char *m, const char *variant,
                         const char *dtype, const char *dist, int slice)
{
    for (int i = 0; i < nfiles; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, get(files[i].root, "records")) {
            if (!is(str(r, "method"), m) || !is(str(r, "variant"), variant) ||
                !is(str(r, "dtype"), dtype) || !is(str(r, "distribution"), dist) || !at_setting(r))
                continue;
            if (is(dist, "sphere") && num(r, "N") != HL_N)
                continue;
            if (is(dist, "file") && num(get(r, "input"), "slice") != slice)
                continue;
            return r;
        }
    }
    return NULL;
}

static double median(const cJSON *r)
{
    return num(get(r, "time"), "median_us");
}

/* "–" for a value no file gave (NAN), else fmt. */
static void cell(char *buf, size_t n, const char *fmt, double v)
{
    if (v != v)
        snprintf(buf, n, "–");
    else
        snprintf(buf, n, fmt, v);
}

int rb_headline_run(int argc, char **argv, FILE *out, FILE *err)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fprintf(out, "usage: rotorbench headline RESULT.json ...\n"
                     "  the README's headline table (see harness/headline.h) from result files\n");
        return 0;
    }
    if (argc < 2) {
        fprintf(err, "rotorbench headline: no result file given (usage: rotorbench headline "
                     "RESULT.json ...)\n");
        return 2;
    }
    if (argc - 1 > HL_MAX_FILES) {
        fprintf(err, "rotorbench headline: %d files given; at most %d\n", argc - 1, HL_MAX_FILES);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-') {
            fprintf(err, "rotorbench headline: unknown option '%s' (usage: rotorbench headline "
                         "RESULT.json ...)\n", argv[i]);
            return 2;
        }
    hl_file files[HL_MAX_FILES];
    int nfiles = 0, rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (load(&files[nfiles], argv[i], err) != 0)
            rc = 2;
        if (files[nfiles].root)
            nfiles++;
    }
    const char *methods[HL_MAX_METHODS];
    int nmethods = 0;
    for (int i = 0; i < nfiles && rc == 0; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, get(files[i].root, "records")) {
            const char *m = str(r, "method");
            int seen = !m;
            for (int k = 0; k < nmethods && !seen; k++)
                seen = is(methods[k], m);
            if (!seen && nmethods < HL_MAX_METHODS)
                methods[nmethods++] = m;
        }
    }

    char *table = NULL;
    size_t table_len = 0;
    FILE *t = rc == 0 ? open_memstream(&table, &table_len) : NULL;
    if (rc == 0 && !t) {
        fprintf(err, "rotorbench headline: out of memory\n");
        rc = 1;
    }
    int filled = 0;
    if (t) {
        fprintf(t, "| method | MSE (÷ Lloyd–Max), fp16 | rel. error on kv_demo, slices 0 / 1 "
                   "| %% of copy, fp16 / fp32 | µs, fp16 | × over the `paper` variant, fp16 |\n"
                   "|---|---:|---:|---:|---:|---:|\n");
        for (int k = 0; k < nmethods; k++) {
            const char *m = methods[k];
            const cJSON *f16 = find(files, nfiles, m, "fast", "fp16", "sphere", 0);
            const cJSON *f32 = find(files, nfiles, m, "fast", "fp32", "sphere", 0);
            const cJSON *p16 = find(files, nfiles, m, "paper", "fp16", "sphere", 0);
            const cJSON *q[HL_MAX_SLICES];
            int nq = 0;
            for (int s = 0; s < HL_MAX_SLICES; s++)
                if ((q[nq] = find(files, nfiles, m, "fast", "fp32", "file", s)))
                    nq++;
            if (!f16 && !f32 && !p16 && nq == 0)
                continue;
            filled++;
            const char *op = str(f16 ? f16 : f32 ? f32 : p16 ? p16 : q[0], "op");
            char c1[40], c2[64] = "", c3a[16], c3b[16], c4[32], c5[32];
            char mse[16], ratio[16];
            cell(mse, sizeof mse, "%.3e", f16 ? num(f16, "mse") : NAN);
            cell(ratio, sizeof ratio, "%.3f", f16 ? num(f16, "mse") / num(f16, "pred_mse") : NAN);
            snprintf(c1, sizeof c1, "%s (%s)", mse, ratio);
            for (int s = 0; s < nq; s++) {
                char v[24];
                cell(v, sizeof v, "%.3f", num(q[s], "rel_err"));
                size_t len = strlen(c2);
                snprintf(c2 + len, sizeof c2 - len, "%s%s", s ? " / " : "", v);
            }
            if (nq == 0)
                snprintf(c2, sizeof c2, "–");
            cell(c3a, sizeof c3a, "%.0f", f16 ? num(f16, "pct_of_copy_bw") : NAN);
            cell(c3b, sizeof c3b, "%.0f", f32 ? num(f32, "pct_of_copy_bw") : NAN);
            cell(c4, sizeof c4, "%.0f", f16 ? median(f16) : NAN);
            cell(c5, sizeof c5, "%.1f×", f16 && p16 ? median(p16) / median(f16) : NAN);
            fprintf(t, "| %s%s%s%s | %s | %s | %s / %s | %s | %s |\n", m, op ? " (" : "",
                    op ? op : "", op ? ")" : "", c1, c2, c3a, c3b, c4, c5);
        }
        if (fclose(t) != 0 || !table) {
            fprintf(err, "rotorbench headline: out of memory\n");
            rc = 1;
        }
    }
    if (rc == 0 && filled == 0) {
        fprintf(err, "rotorbench headline: no record at d = %d, %d bits (or %s) in any file given\n",
                HL_D, HL_BITS, HL_HQMQ_OP);
        rc = 2;
    }
    if (rc == 0) {
        fprintf(out, "d = %d, %d bits (HQMQ: its %s point), fast kernels, hot medians at N = 2^20; "
                     "relative error on `examples/data/kv_demo.npy`, a synthetic K-cache stand-in (fp32, "
                     "2048 rows a slice).\n\n",
                HL_D, HL_BITS, HL_HQMQ_OP);
        fwrite(table, 1, table_len, out);
        fprintf(out, "\nFrom");
        for (int i = 0; i < nfiles; i++) {
            const cJSON *mach = get(files[i].root, "machine");
            const char *dev = str(mach, "gpu");
            const char *rev = str(files[i].root, "git_revision");
            fprintf(out, "%s `%s` (%s, %s)", i ? "," : "", files[i].path,
                    dev ? dev : str(files[i].root, "backend") ? str(files[i].root, "backend") : "?",
                    rev ? rev : "revision unknown");
        }
        fprintf(out, ".\n");
    }
    free(table);
    for (int i = 0; i < nfiles; i++)
        cJSON_Delete(files[i].root);
    return rc;
}

int rb_headline_main(int argc, char **argv)
{
    int rc = rb_headline_run(argc, argv, stdout, stderr);
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "rotorbench headline: writing stdout: %s\n", strerror(errno));
        rc = 1;
    }
    return rc;
}
