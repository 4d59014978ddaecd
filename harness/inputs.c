/* inputs.c: the sweep's data sets and the rows of file inputs (inputs.h). */
#include "inputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "registry.h"

/* splitmix64: the rows sample's generator (seeded by the config's seed, the input and the
 * slice), so a sample is the same on every backend and machine. */
static uint64_t next64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rb_inputs_rows_text(const rb_data_dist *dd, char *buf, size_t n)
{
    if (dd->rows_mode == RB_ROWS_FIRST)
        snprintf(buf, n, "first %ld", dd->rows_n);
    else if (dd->rows_mode == RB_ROWS_SAMPLE)
        snprintf(buf, n, "sample %ld without replacement (seeded by the config's seed)", dd->rows_n);
    else
        snprintf(buf, n, "all");
}

/* Check a file input against the config; fill its file_* fields. */
static int check_file(rb_config *cfg, int k, const rb_tensor_file *t, char *err, size_t errlen)
{
    rb_data_dist *dd = &cfg->dists[k];
    const rb_tf_header *h = &t->h;
    snprintf(dd->file_format, sizeof dd->file_format, "%s", h->format);
    dd->file_bytes = (double)t->file_size;
    dd->file_hash = t->hash;
    dd->file_d = (int)h->d;
    dd->file_ndim = h->ndim;
    memcpy(dd->file_shape, h->shape, sizeof dd->file_shape);
    if (h->d < 2 || h->d > 4096) {
        snprintf(err, errlen, "%s: d = %ld (the last dimension): expected 2..4096", dd->path, h->d);
        return -1;
    }
    /* a config dims, where given, must be the file's d */
    if (!rb_config_has_synthetic(cfg) && cfg->ndims > 0 && (cfg->ndims != 1 || cfg->dims[0] != h->d)) {
        snprintf(err, errlen, "%s: d = %ld, but the config's dims say %d%s", dd->path, h->d, cfg->dims[0],
                 cfg->ndims > 1 ? ", ..." : "");
        return -1;
    }
    for (int m = 0; m < cfg->nmethods; m++) {
        const rb_method_desc *md = rb_method_get(cfg->methods[m]);
        const char *why = md->check_d ? md->check_d((int)h->d) : NULL;
        if (why) {
            snprintf(err, errlen, "%s: d = %ld, which %s cannot take: it needs %s", dd->path, h->d, md->name, why);
            return -1;
        }
    }
    dd->file_slices = 1;
    dd->file_slice_rows = h->rows;
    if (dd->split_axis >= 0) {
        if (dd->split_axis >= h->ndim - 1) {
            snprintf(err, errlen, "%s: split_axis %d: the tensor's leading axes are 0..%d (shape has %d dimensions)",
                     dd->path, dd->split_axis, h->ndim - 2, h->ndim);
            return -1;
        }
        dd->file_slices = (int)h->shape[dd->split_axis];
        dd->file_slice_rows = h->rows / h->shape[dd->split_axis];
        if (dd->file_slices > 4096) {
            snprintf(err, errlen, "%s: split_axis %d has %d indices: at most 4096 records per input", dd->path,
                     dd->split_axis, dd->file_slices);
            return -1;
        }
    }
    if (dd->rows_mode != RB_ROWS_ALL && dd->rows_n > dd->file_slice_rows) {
        snprintf(err, errlen, "%s: rows asks for %ld rows, but %s holds %ld", dd->path, dd->rows_n,
                 dd->split_axis >= 0 ? "a slice" : "the tensor", dd->file_slice_rows);
        return -1;
    }
    return 0;
}

static long dataset_rows(const rb_data_dist *dd)
{
    return dd->rows_mode == RB_ROWS_ALL ? dd->file_slice_rows : dd->rows_n;
}

int rb_inputs_open(rb_config *cfg, rb_inputs *in, char *err, size_t errlen)
{
    memset(in, 0, sizeof *in);
    int n = 0;
    for (int k = 0; k < cfg->ndists; k++) {
        rb_data_dist *dd = &cfg->dists[k];
        if (dd->kind != RB_DIST_FILE) {
            n += cfg->ndims * cfg->nN * cfg->ndtypes;
            continue;
        }
        if (rb_tensor_open(dd->path, dd->tensor, &in->files[k], err, errlen) ||
            check_file(cfg, k, &in->files[k], err, errlen))
            return -1;
        n += dd->file_slices * cfg->ndtypes;
    }
    if (cfg->q_kind == RB_Q_FILE) {
        if (rb_tensor_open(cfg->q_path, cfg->q_tensor, &in->qfile, err, errlen))
            return -1;
        if (in->qfile.h.rows < cfg->q_count) {
            snprintf(err, errlen, "%s: %ld rows, fewer than the %d queries asked for", cfg->q_path, in->qfile.h.rows,
                     cfg->q_count);
            return -1;
        }
        /* every input's keys take these queries: a d that differs is the config's fault */
        const long qd = in->qfile.h.d;
        for (int k = 0; k < cfg->ndists; k++) {
            const rb_data_dist *dd = &cfg->dists[k];
            for (int i = 0; i < (dd->kind == RB_DIST_FILE ? 1 : cfg->ndims); i++) {
                const long kd = dd->kind == RB_DIST_FILE ? dd->file_d : cfg->dims[i];
                if (kd != qd) {
                    snprintf(err, errlen, "%s: queries of d = %ld, but the keys of %s have d = %ld: they must match",
                             cfg->q_path, qd, dd->kind == RB_DIST_FILE ? dd->path : "dims", kd);
                    return -1;
                }
            }
        }
    }
    for (int k = 0; cfg->q_kind == RB_Q_HELD_OUT && k < cfg->ndists; k++) {
        const rb_data_dist *dd = &cfg->dists[k];
        if (dd->kind == RB_DIST_FILE && (dd->rows_mode != RB_ROWS_FIRST || dd->rows_n + cfg->q_count > dd->file_slice_rows)) {
            snprintf(err, errlen, "%s: held-out queries are the %d rows after the keys: give rows {\"first\": n} "
                     "with n + %d <= %ld", dd->path, cfg->q_count, cfg->q_count, dd->file_slice_rows);
            return -1;
        }
    }
    in->sets = calloc((size_t)n, sizeof *in->sets);
    if (!in->sets) {
        snprintf(err, errlen, "out of host memory");
        return -1;
    }
    for (int k = 0; k < cfg->ndists; k++) {
        const rb_data_dist *dd = &cfg->dists[k];
        if (dd->kind == RB_DIST_FILE) {
            for (int s = 0; s < dd->file_slices; s++)
                for (int t = 0; t < cfg->ndtypes; t++)
                    in->sets[in->n++] = (rb_dataset){k, dd->file_d, dataset_rows(dd), cfg->dtypes[t],
                                                     dd->split_axis >= 0 ? s : -1};
            continue;
        }
        for (int di = 0; di < cfg->ndims; di++)
            for (int ni = 0; ni < cfg->nN; ni++)
                for (int t = 0; t < cfg->ndtypes; t++)
                    in->sets[in->n++] = (rb_dataset){k, cfg->dims[di], cfg->N[ni], cfg->dtypes[t], -1};
    }
    return 0;
}

void rb_inputs_close(rb_inputs *in)
{
    rb_tensor_close(&in->qfile);
    for (int k = 0; k < RB_MAX_DISTS; k++)
        rb_tensor_close(&in->files[k]);
    free(in->sets);
    in->sets = NULL;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int rb_inputs_rows(const rb_config *cfg, const rb_inputs *in, const rb_dataset *ds, float *x, char *err,
                   size_t errlen)
{
    const rb_data_dist *dd = &cfg->dists[ds->dist];
    const rb_tensor_file *t = &in->files[ds->dist];
    const rb_tf_header *h = &t->h;
    long total = dd->file_slice_rows, *idx = malloc(sizeof(long) * (size_t)total);
    if (!idx) {
        snprintf(err, errlen, "out of host memory for %ld row indices", total);
        return -1;
    }
    /* the slice: rows whose index along split_axis is ds->slice (C order) */
    long stride = 1, extent = 1;
    if (dd->split_axis >= 0) {
        for (int a = dd->split_axis + 1; a < h->ndim - 1; a++)
            stride *= h->shape[a];
        extent = h->shape[dd->split_axis];
    }
    long m = 0;
    for (long r = 0; r < h->rows && m < total; r++)
        if (dd->split_axis < 0 || (r / stride) % extent == ds->slice)
            idx[m++] = r;
    if (dd->rows_mode == RB_ROWS_SAMPLE) { /* partial Fisher-Yates, then back to file order */
        uint64_t st = cfg->seed ^ (0x726f7773ull * (uint64_t)(ds->dist + 1)) ^ ((uint64_t)(ds->slice + 1) << 40);
        for (long i = 0; i < ds->N; i++) {
            long j = i + (long)(next64(&st) % (uint64_t)(m - i));
            long tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
        qsort(idx, (size_t)ds->N, sizeof *idx, cmp_long);
    }
    for (long i = 0; i < ds->N; i++)
        rb_tensor_row(t, idx[i], x + i * (long)ds->d);
    free(idx);
    return 0;
}

int rb_inputs_queries(const rb_config *cfg, const rb_inputs *in, const rb_dataset *ds, float *q, char *err,
                      size_t errlen)
{
    const rb_data_dist *dd = &cfg->dists[ds->dist];
    const int n = cfg->q_count, d = ds->d;
    if (cfg->q_kind == RB_Q_GAUSSIAN)
        return rb_data_queries(cfg->seed, d, n, q, err, errlen);
    if (cfg->q_kind == RB_Q_FILE) {
        if (in->qfile.h.d != d) {
            snprintf(err, errlen, "%s: queries of d = %ld for keys of d = %d", cfg->q_path, in->qfile.h.d, d);
            return -1;
        }
        for (int i = 0; i < n; i++)
            rb_tensor_row(&in->qfile, i, q + (long)i * d);
        return 0;
    }
    if (dd->kind != RB_DIST_FILE) { /* the same input drawn again: rows the keys do not contain */
        float *x = malloc(sizeof(float) * ((size_t)n * d + 1));
        int rc = !x ? -1 : rb_data_generate(dd, cfg->seed ^ 0x686f6c646f7574ull, d, n, RB_FP32, x, err, errlen);
        if (!x)
            snprintf(err, errlen, "out of host memory");
        if (!rc)
            memcpy(q, x, sizeof(float) * (size_t)n * d);
        free(x);
        return rc;
    }
    /* a file: the q_count rows of the slice right after the first rows_n (checked at open) */
    rb_dataset more = *ds;
    rb_data_dist tmp = *dd;
    more.N = dd->rows_n + n;
    tmp.rows_mode = RB_ROWS_FIRST;
    tmp.rows_n = more.N;
    rb_config c2 = *cfg;
    c2.dists[ds->dist] = tmp;
    float *x = malloc(sizeof(float) * (size_t)more.N * d);
    if (!x) {
        snprintf(err, errlen, "out of host memory");
        return -1;
    }
    int rc = rb_inputs_rows(&c2, in, &more, x, err, errlen);
    if (!rc)
        memcpy(q, x + (long)dd->rows_n * d, sizeof(float) * (size_t)n * d);
    free(x);
    return rc;
}
