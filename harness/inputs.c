/* inputs.c: the sweep's data sets and the rows of file inputs (inputs.h). */
#include "inputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
