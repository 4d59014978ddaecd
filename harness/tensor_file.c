/* tensor_file.c: .npy and safetensors readers (tensor_file.h). */
#include "tensor_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fp16.h"

static int fail(char *err, size_t n, const char *what)
{
    snprintf(err, n, "%s", what);
    return -1;
}

/* rows = product of shape[0..ndim-1), d = shape[ndim-1], bytes = rows d esz, with overflow and
 * emptiness refused. */
static int shape_sizes(rb_tf_header *h, char *err, size_t n)
{
    if (h->ndim < 2) {
        snprintf(err, n, "shape has %d dimension%s: expected at least 2 (rows x d)", h->ndim, h->ndim == 1 ? "" : "s");
        return -1;
    }
    long rows = 1;
    for (int i = 0; i < h->ndim - 1; i++) {
        if (h->shape[i] > 0 && rows > (1L << 40) / h->shape[i])
            return fail(err, n, "shape too large (more than 2^40 rows)");
        rows *= h->shape[i];
    }
    h->rows = rows;
    h->d = h->shape[h->ndim - 1];
    if (h->rows == 0 || h->d == 0)
        return fail(err, n, "empty: the shape holds no rows or no columns");
    if (h->d > (1L << 20))
        return fail(err, n, "d (the last dimension) is larger than 2^20");
    h->bytes = (size_t)h->rows * (size_t)h->d * (size_t)h->esz;
    return 0;
}

/* The data the header describes must be exactly what the file holds after it. */
static int check_extent(const rb_tf_header *h, size_t avail, char *err, size_t n)
{
    if (avail < h->bytes)
        snprintf(err, n, "truncated data: the shape needs %zu bytes, the file holds %zu", h->bytes, avail);
    else if (avail > h->bytes)
        snprintf(err, n, "header and size disagree: the shape needs %zu bytes, the file holds %zu", h->bytes, avail);
    else
        return 0;
    return -1;
}

/* ---- .npy ----------------------------------------------------------------------------------- */
typedef struct {
    const char *s, *e;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->s < c->e && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r'))
        c->s++;
}

static int take(cursor *c, char ch)
{
    skip_ws(c);
    if (c->s < c->e && *c->s == ch) {
        c->s++;
        return 1;
    }
    return 0;
}

/* A Python string literal in ' or " (no escapes: NumPy writes none) into out. */
static int py_string(cursor *c, char *out, size_t n)
{
    skip_ws(c);
    if (c->s >= c->e || (*c->s != '\'' && *c->s != '"'))
        return -1;
    char q = *c->s++;
    size_t k = 0;
    while (c->s < c->e && *c->s != q) {
        if (*c->s == '\\' || (unsigned char)*c->s < 0x20 || k + 1 >= n) /* keys go into messages */
            return -1;
        out[k++] = *c->s++;
    }
    if (c->s >= c->e)
        return -1;
    c->s++;
    out[k] = '\0';
    return 0;
}

static int py_word(cursor *c, const char *w)
{
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->e - c->s) >= n && !memcmp(c->s, w, n)) {
        c->s += n;
        return 1;
    }
    return 0;
}

/* (a, b, ...) of non-negative integers. */
static int py_shape(cursor *c, rb_tf_header *h, char *err, size_t n)
{
    if (!take(c, '('))
        return fail(err, n, "header: 'shape' is not a tuple");
    h->ndim = 0;
    for (;;) {
        if (take(c, ')'))
            return 0;
        skip_ws(c);
        if (c->s >= c->e || *c->s < '0' || *c->s > '9')
            return fail(err, n, "header: 'shape' holds something other than non-negative integers");
        long v = 0;
        while (c->s < c->e && *c->s >= '0' && *c->s <= '9') {
            if (v > (1L << 40))
                return fail(err, n, "header: a dimension of 'shape' is larger than 2^40");
            v = v * 10 + (*c->s++ - '0');
        }
        if (h->ndim >= RB_TF_MAX_DIMS)
            return fail(err, n, "header: 'shape' has more than 8 dimensions");
        h->shape[h->ndim++] = v;
        skip_ws(c);
        if (!take(c, ',') && !(c->s < c->e && *c->s == ')'))
            return fail(err, n, "header: 'shape' is not a tuple of integers");
    }
}

int rb_npy_parse(const unsigned char *buf, size_t len, size_t file_size, rb_tf_header *h, char *err,
                 size_t errlen)
{
    memset(h, 0, sizeof *h);
    h->format = "npy";
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return fail(err, errlen, len < 10 ? "truncated: too short for a .npy header" : "not a .npy file (no \\x93NUMPY magic)");
    const int major = buf[6];
    if (major < 1 || major > 3) {
        snprintf(err, errlen, ".npy format version %d.%d: expected 1, 2 or 3", major, buf[7]);
        return -1;
    }
    size_t hl, start;
    if (major == 1) {
        hl = (size_t)buf[8] | (size_t)buf[9] << 8;
        start = 10;
    } else {
        if (len < 12)
            return fail(err, errlen, "truncated: too short for a .npy header");
        hl = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        start = 12;
    }
    if (hl > file_size - start || start + hl > len) {
        snprintf(err, errlen, "header of %zu bytes points outside the file (%zu bytes)", hl, file_size);
        return -1;
    }
    h->offset = start + hl;
    cursor c = {(const char *)buf + start, (const char *)buf + start + hl};
    char key[32], descr[16] = "";
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    if (!take(&c, '{'))
        return fail(err, errlen, "header: not a Python dict literal");
    for (;;) {
        if (take(&c, '}'))
            break;
        if (py_string(&c, key, sizeof key) || !take(&c, ':'))
            return fail(err, errlen, "header: not a Python dict literal of 'descr', 'fortran_order' and 'shape'");
        if (!strcmp(key, "descr") && !have_descr) {
            if (py_string(&c, descr, sizeof descr))
                return fail(err, errlen, "header: 'descr' is not a string");
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order") && !have_fortran) {
            if (py_word(&c, "True"))
                fortran = 1;
            else if (!py_word(&c, "False"))
                return fail(err, errlen, "header: 'fortran_order' is neither True nor False");
            have_fortran = 1;
        } else if (!strcmp(key, "shape") && !have_shape) {
            if (py_shape(&c, h, err, errlen))
                return -1;
            have_shape = 1;
        } else {
            snprintf(err, errlen, "header: unexpected or repeated key '%s'", key);
            return -1;
        }
        if (!take(&c, ',')) {
            if (!take(&c, '}'))
                return fail(err, errlen, "header: not a Python dict literal");
            break;
        }
    }
    skip_ws(&c);
    if (c.s != c.e)
        return fail(err, errlen, "header: text after the dict");
    if (!have_descr || !have_fortran || !have_shape)
        return fail(err, errlen, "header: needs 'descr', 'fortran_order' and 'shape'");
    if (fortran)
        return fail(err, errlen, "Fortran order (fortran_order: True): save it in C order (np.ascontiguousarray)");
    if (descr[0] == '>' && descr[1] == 'f')
        return fail(err, errlen, "big-endian data (descr '>f...'): save it little-endian (astype('<f4'))");
    if (!strcmp(descr, "<f2"))
        h->dtype = RB_TF_F16, h->esz = 2;
    else if (!strcmp(descr, "<f4"))
        h->dtype = RB_TF_F32, h->esz = 4;
    else if (!strcmp(descr, "<f8"))
        h->dtype = RB_TF_F64, h->esz = 8;
    else {
        snprintf(err, errlen, "unsupported dtype '%s': expected '<f2', '<f4' or '<f8'", descr);
        return -1;
    }
    if (shape_sizes(h, err, errlen))
        return -1;
    return check_extent(h, file_size - h->offset, err, errlen);
}

/* ---- safetensors ---------------------------------------------------------------------------- */
/* s for a one-line message: control bytes become '?', at most n - 1 bytes. */
static const char *printable(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; s && *s && k + 1 < n; s++)
        out[k++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    out[k] = '\0';
    return out;
}

static void tensor_names(const cJSON *root, char *out, size_t n)
{
    size_t o = 0;
    char nm[96];
    out[0] = '\0';
    for (const cJSON *e = root->child; e && o + 1 < n; e = e->next)
        if (e->string && strcmp(e->string, "__metadata__"))
            o += (size_t)snprintf(out + o, n - o, "%s%s", o ? ", " : "", printable(e->string, nm, sizeof nm));
    if (o >= n)
        out[n - 1] = '\0';
}

int rb_safetensors_parse(const unsigned char *buf, size_t len, size_t file_size, const char *tensor,
                         rb_tf_header *h, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    h->format = "safetensors";
    if (len < 8 || file_size < 8)
        return fail(err, errlen, "truncated: too short for a safetensors header");
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | buf[i];
    if (n > file_size - 8 || n > len - 8) {
        snprintf(err, errlen, "header of %llu bytes points outside the file (%zu bytes)", (unsigned long long)n,
                 file_size);
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)n);
    char names[512];
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        fail(err, errlen, "the header is not a JSON object");
        goto out;
    }
    tensor_names(root, names, sizeof names);
    if (!tensor || !*tensor) {
        snprintf(err, errlen, "a safetensors file needs \"tensor\": one of %s", names[0] ? names : "(none)");
        goto out;
    }
    char tn[96], dn[24];
    printable(tensor, tn, sizeof tn);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, tn);
    if (!t || !strcmp(tensor, "__metadata__")) {
        snprintf(err, errlen, "no tensor '%s' (the file has: %s)", tn, names[0] ? names : "none");
        goto out;
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2) {
        snprintf(err, errlen, "tensor '%s': needs \"dtype\", \"shape\" and \"data_offsets\" [begin, end]", tn);
        goto out;
    }
    if (!strcmp(dt->valuestring, "F16"))
        h->dtype = RB_TF_F16, h->esz = 2;
    else if (!strcmp(dt->valuestring, "BF16"))
        h->dtype = RB_TF_BF16, h->esz = 2;
    else if (!strcmp(dt->valuestring, "F32"))
        h->dtype = RB_TF_F32, h->esz = 4;
    else {
        snprintf(err, errlen, "tensor '%s': unsupported dtype '%s': expected F16, BF16 or F32", tn,
                 printable(dt->valuestring, dn, sizeof dn));
        goto out;
    }
    if (cJSON_GetArraySize(sh) > RB_TF_MAX_DIMS) {
        snprintf(err, errlen, "tensor '%s': shape has more than 8 dimensions", tn);
        goto out;
    }
    for (const cJSON *e = sh->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e12 || e->valuedouble != (double)(long)e->valuedouble) {
            snprintf(err, errlen, "tensor '%s': shape holds something other than non-negative integers", tn);
            goto out;
        }
        h->shape[h->ndim++] = (long)e->valuedouble;
    }
    double b = cJSON_GetArrayItem(off, 0)->valuedouble, e = cJSON_GetArrayItem(off, 1)->valuedouble;
    const double avail = (double)(file_size - 8 - n);
    if (!cJSON_IsNumber(cJSON_GetArrayItem(off, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(off, 1)) || b < 0 ||
        e < b || e > avail || b != (double)(size_t)b || e != (double)(size_t)e) {
        snprintf(err, errlen, "tensor '%s': data_offsets [%.0f, %.0f] point outside the file's %.0f data bytes", tn,
                 b, e, avail);
        goto out;
    }
    if (shape_sizes(h, err, errlen))
        goto out;
    h->offset = 8 + (size_t)n + (size_t)b;
    if ((size_t)(e - b) != h->bytes) {
        snprintf(err, errlen, "tensor '%s': shape and data_offsets disagree: the shape needs %zu bytes, the offsets "
                 "span %.0f", tn, h->bytes, e - b);
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

/* ---- files ---------------------------------------------------------------------------------- */
int rb_tensor_open(const char *path, const char *tensor, rb_tensor_file *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    char why[400];
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
        snprintf(err, errlen, "%s: %s", path, S_ISREG(st.st_mode) ? "empty file" : "not a regular file");
        close(fd);
        return -1;
    }
    t->file_size = (size_t)st.st_size;
    void *m = mmap(NULL, t->file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
        return -1;
    }
    t->map = m;
    int rc;
    if (t->file_size >= 6 && !memcmp(t->map, "\x93NUMPY", 6)) {
        rc = tensor && *tensor ? (snprintf(why, sizeof why, "a .npy file holds one array: no \"tensor\" to pick"), -1)
                               : rb_npy_parse(t->map, t->file_size, t->file_size, &t->h, why, sizeof why);
    } else if (t->file_size >= 9 && t->map[8] == '{') {
        rc = rb_safetensors_parse(t->map, t->file_size, t->file_size, tensor, &t->h, why, sizeof why);
    } else {
        snprintf(why, sizeof why, "neither a .npy file (\\x93NUMPY) nor safetensors (8-byte length, then '{')");
        rc = -1;
    }
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, why);
        rb_tensor_close(t);
        return -1;
    }
    uint64_t hsh = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < t->file_size; i++)
        hsh = (hsh ^ t->map[i]) * 0x100000001b3ull;
    t->hash = hsh;
    return 0;
}

void rb_tensor_close(rb_tensor_file *t)
{
    if (t->map)
        munmap((void *)t->map, t->file_size);
    t->map = NULL;
}

void rb_tensor_row(const rb_tensor_file *t, long r, float *out)
{
    const unsigned char *p = t->map + t->h.offset + (size_t)r * (size_t)t->h.d * (size_t)t->h.esz;
    for (long j = 0; j < t->h.d; j++, p += t->h.esz) {
        switch (t->h.dtype) {
        case RB_TF_F16: {
            uint16_t v;
            memcpy(&v, p, 2);
            out[j] = rb_f16_to_f32(v);
            break;
        }
        case RB_TF_BF16: {
            uint16_t v;
            memcpy(&v, p, 2);
            out[j] = rb_bits_f32((uint32_t)v << 16);
            break;
        }
        case RB_TF_F32: memcpy(&out[j], p, 4); break;
        case RB_TF_F64: {
            double v;
            memcpy(&v, p, 8);
            out[j] = (float)v;
            break;
        }
        }
    }
}
