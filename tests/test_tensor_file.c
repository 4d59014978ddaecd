/* Inputs from files (harness/tensor_file.c, harness/inputs.c): .npy and safetensors files written
 * here with known contents read back bit-exactly; every malformed file refused with its one
 * line; split_axis and the rows options choose the right rows; the driver runs a file input and
 * exits 2 on a bad one before any work. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "driver.h"
#include "fp16.h"
#include "inputs.h"
#include "registry.h"
#include "tensor_file.h"

static char dir[64];

static const char *tmpdir(void)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/rb_tf_XXXXXX");
        if (!mkdtemp(dir))
            snprintf(dir, sizeof dir, "/tmp");
    }
    return dir;
}

static const char *write_file(const char *name, const void *a, size_t na, const void *b, size_t nb)
{
    static char paths[4][256];
    static int k;
    char *p = paths[k++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir(), name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(a, 1, na, f);
        if (b)
            fwrite(b, 1, nb, f);
        fclose(f);
    }
    return p;
}

/* A .npy file: header dict text padded to 64 bytes as NumPy does, then data. */
static const char *npy(const char *name, int major, const char *dict, const void *data, size_t nbytes)
{
    unsigned char buf[512];
    size_t pre = major == 1 ? 10 : 12, len = strlen(dict);
    size_t hl = ((pre + len + 1 + 63) / 64) * 64 - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    buf[8] = (unsigned char)(hl & 0xff);
    buf[9] = (unsigned char)(hl >> 8);
    if (major > 1)
        buf[10] = buf[11] = 0;
    memset(buf + pre, ' ', hl);
    memcpy(buf + pre, dict, len);
    buf[pre + hl - 1] = '\n';
    return write_file(name, buf, pre + hl, data, nbytes);
}

static int open_err(const char *path, const char *tensor, char *err, size_t n)
{
    rb_tensor_file t;
    int rc = rb_tensor_open(path, tensor, &t, err, n);
    if (!rc)
        rb_tensor_close(&t);
    return rc;
}

TEST(tensor_npy_reads_back_exactly)
{
    float f4[2 * 3 * 4];
    for (int i = 0; i < 24; i++)
        f4[i] = (float)(i * 0.37 - 3.1) * (i % 5 == 0 ? 1e-30f : 1.0f);
    const char *p = npy("a.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", f4, sizeof f4);
    rb_tensor_file t;
    char err[512];
    CHECK(rb_tensor_open(p, NULL, &t, err, sizeof err) == 0, "%s", err);
    CHECK(t.h.rows == 6 && t.h.d == 4 && t.h.ndim == 3 && !strcmp(t.h.format, "npy"), "rows %ld d %ld", t.h.rows, t.h.d);
    float row[4];
    int same = 1;
    for (long r = 0; r < 6; r++) {
        rb_tensor_row(&t, r, row);
        same &= !memcmp(row, f4 + 4 * r, sizeof row);
    }
    CHECK(same, "f4 rows read back bit-exactly");
    CHECK(t.hash != 0 && t.file_size > sizeof f4, "hash and size");
    rb_tensor_close(&t);

    uint16_t f2[2 * 8];
    for (int i = 0; i < 16; i++)
        f2[i] = rb_f32_to_f16((float)(i - 7) / 3.0f);
    p = npy("b.npy", 2, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 8)}", f2, sizeof f2);
    CHECK(rb_tensor_open(p, NULL, &t, err, sizeof err) == 0, "v2 f2: %s", err);
    float r8[8];
    rb_tensor_row(&t, 1, r8);
    CHECK(r8[0] == rb_f16_to_f32(f2[8]) && r8[7] == rb_f16_to_f32(f2[15]), "f2 widened exactly");
    rb_tensor_close(&t);

    double f8[3 * 2] = {1.0, -2.5, 1e-3, 3.0, 0.1, 7.0};
    p = npy("c.npy", 3, "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (3, 2)}", f8, sizeof f8);
    CHECK(rb_tensor_open(p, NULL, &t, err, sizeof err) == 0, "v3 f8: %s", err);
    float r2[2];
    rb_tensor_row(&t, 2, r2);
    CHECK(r2[0] == (float)0.1 && r2[1] == 7.0f, "f8 rounded to float");
    rb_tensor_close(&t);
}

/* A safetensors file of three tensors: F32 "k" [2, 2, 4], F16 "v" [4, 4], BF16 "q" [2, 4]. */
static const char *safetensors(const char *name, const char *header_override, int data_short)
{
    static unsigned char data[64 + 32 + 16];
    float k[16];
    for (int i = 0; i < 16; i++) {
        k[i] = (float)i * 0.25f - 1.0f;
        memcpy(data + 4 * i, &k[i], 4);
    }
    for (int i = 0; i < 16; i++) {
        uint16_t h = rb_f32_to_f16((float)i / 8.0f);
        memcpy(data + 64 + 2 * i, &h, 2);
    }
    for (int i = 0; i < 8; i++) {
        uint16_t b = (uint16_t)(rb_f32_bits((float)(i + 1) * 1.5f) >> 16);
        memcpy(data + 96 + 2 * i, &b, 2);
    }
    const char *hdr = header_override ? header_override
                                      : "{\"__metadata__\": {\"format\": \"pt\"}, "
                                        "\"k\": {\"dtype\": \"F32\", \"shape\": [2, 2, 4], \"data_offsets\": [0, 64]}, "
                                        "\"v\": {\"dtype\": \"F16\", \"shape\": [4, 4], \"data_offsets\": [64, 96]}, "
                                        "\"q\": {\"dtype\": \"BF16\", \"shape\": [2, 4], \"data_offsets\": [96, 112]}}";
    unsigned char buf[1024];
    uint64_t n = strlen(hdr);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, hdr, n);
    memcpy(buf + 8 + n, data, sizeof data - (size_t)data_short);
    return write_file(name, buf, 8 + n + sizeof data - (size_t)data_short, NULL, 0);
}

TEST(tensor_safetensors_reads_back_exactly)
{
    const char *p = safetensors("m.safetensors", NULL, 0);
    rb_tensor_file t;
    char err[512];
    float r[4];
    CHECK(rb_tensor_open(p, "k", &t, err, sizeof err) == 0, "k: %s", err);
    CHECK(t.h.rows == 4 && t.h.d == 4 && !strcmp(t.h.format, "safetensors"), "k shape");
    rb_tensor_row(&t, 3, r);
    CHECK(r[0] == 12 * 0.25f - 1 && r[3] == 15 * 0.25f - 1, "F32 row 3: %g %g", r[0], r[3]);
    rb_tensor_close(&t);
    CHECK(rb_tensor_open(p, "v", &t, err, sizeof err) == 0, "v: %s", err);
    rb_tensor_row(&t, 2, r);
    CHECK(r[0] == 1.0f && r[3] == 11.0f / 8, "F16 row 2: %g %g", r[0], r[3]);
    rb_tensor_close(&t);
    CHECK(rb_tensor_open(p, "q", &t, err, sizeof err) == 0, "q: %s", err);
    rb_tensor_row(&t, 1, r);
    CHECK(r[0] == 7.5f && r[3] == 12.0f, "BF16 row 1: %g %g", r[0], r[3]);
    rb_tensor_close(&t);
}

TEST(tensor_bad_files_one_line_each)
{
    static const struct {
        const char *dict, *want;
        int data_bytes;
    } npys[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", "truncated data", 16},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", "header and size disagree", 40},
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 4), }", "unsupported dtype '<i4'", 32},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 4), }", "big-endian", 32},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4), }", "Fortran order", 32},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (8,), }", "expected at least 2", 32},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", "empty", 0},
        {"{'descr': '<f4', 'fortran_order': False}", "needs 'descr', 'fortran_order' and 'shape'", 32},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), 'x': 1}", "unexpected or repeated key 'x'", 32},
        {"['not', 'a', 'dict']", "not a Python dict literal", 32},
    };
    static const float zeros[16];
    char err[512], name[128];
    for (size_t i = 0; i < sizeof npys / sizeof npys[0]; i++) {
        snprintf(name, sizeof name, "bad%zu.npy", i);
        const char *p = npy(name, 1, npys[i].dict, zeros, (size_t)npys[i].data_bytes);
        CHECK(open_err(p, NULL, err, sizeof err) == -1 && strstr(err, npys[i].want) && strstr(err, name) &&
                  !strchr(err, '\n'),
              "%s: %s (want '%s')", npys[i].dict, err, npys[i].want);
    }
    /* the header length itself points past the end */
    unsigned char shortnpy[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0x7f, '{'};
    const char *p = write_file("huge.npy", shortnpy, sizeof shortnpy, NULL, 0);
    CHECK(open_err(p, NULL, err, sizeof err) == -1 && strstr(err, "points outside the file"), "%s", err);
    p = write_file("empty.npy", "", 0, NULL, 0);
    CHECK(open_err(p, NULL, err, sizeof err) == -1 && strstr(err, "empty file"), "%s", err);
    snprintf(name, sizeof name, "%s/missing.npy", tmpdir());
    CHECK(open_err(name, NULL, err, sizeof err) == -1 && strstr(err, "cannot open"), "%s", err);
    p = write_file("text.bin", "hello world, not a tensor", 25, NULL, 0);
    CHECK(open_err(p, NULL, err, sizeof err) == -1 && strstr(err, "neither a .npy file"), "%s", err);

    p = safetensors("s.safetensors", NULL, 0);
    CHECK(open_err(p, "nope", err, sizeof err) == -1 && strstr(err, "no tensor 'nope'") && strstr(err, "k, v, q"), "%s",
          err);
    CHECK(open_err(p, NULL, err, sizeof err) == -1 && strstr(err, "needs \"tensor\""), "%s", err);
    p = safetensors("trunc.safetensors", NULL, 8);
    CHECK(open_err(p, "q", err, sizeof err) == -1 && strstr(err, "point outside the file"), "truncated: %s", err);
    p = safetensors("notjson.safetensors", "{\"k\": {\"dtype\": \"F32\", ", 0);
    CHECK(open_err(p, "k", err, sizeof err) == -1 && strstr(err, "not a JSON object"), "%s", err);
    p = safetensors("i8.safetensors", "{\"k\": {\"dtype\": \"I8\", \"shape\": [4, 4], \"data_offsets\": [0, 16]}}", 0);
    CHECK(open_err(p, "k", err, sizeof err) == -1 && strstr(err, "unsupported dtype 'I8'"), "%s", err);
    p = safetensors("size.safetensors", "{\"k\": {\"dtype\": \"F32\", \"shape\": [4, 4], \"data_offsets\": [0, 60]}}", 0);
    CHECK(open_err(p, "k", err, sizeof err) == -1 && strstr(err, "disagree"), "%s", err);
    p = safetensors("off.safetensors", "{\"k\": {\"dtype\": \"F32\", \"shape\": [4, 4], \"data_offsets\": [64, 9999]}}", 0);
    CHECK(open_err(p, "k", err, sizeof err) == -1 && strstr(err, "point outside the file"), "%s", err);
    unsigned char big[12] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    p = write_file("hlen.safetensors", big, sizeof big, NULL, 0);
    CHECK(open_err(p, "k", err, sizeof err) == -1 && strstr(err, "points outside the file"), "%s", err);
}

/* [L = 2, T = 3, H = 2, d = 4], each value encoding (l, t, h, j): the slices of split_axis 2
 * are the heads; "first" and "sample" take rows of the slice in file order. */
TEST(tensor_split_axis_and_rows)
{
    float v[2 * 3 * 2 * 4];
    for (int l = 0; l < 2; l++)
        for (int t = 0; t < 3; t++)
            for (int h = 0; h < 2; h++)
                for (int j = 0; j < 4; j++)
                    v[((l * 3 + t) * 2 + h) * 4 + j] = (float)(1000 * l + 100 * t + 10 * h + j);
    const char *p = npy("kv.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 2, 4), }", v, sizeof v);
    static rb_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.seed = 5;
    cfg.ndtypes = 1;
    cfg.dtypes[0] = RB_FP32;
    cfg.ndists = 1;
    rb_data_dist *dd = &cfg.dists[0];
    dd->kind = RB_DIST_FILE;
    snprintf(dd->path, sizeof dd->path, "%s", p);
    dd->split_axis = 2;
    rb_inputs in;
    char err[512];
    CHECK(rb_inputs_open(&cfg, &in, err, sizeof err) == 0, "%s", err);
    CHECK(in.n == 2 && in.sets[0].d == 4 && in.sets[0].N == 6 && in.sets[1].slice == 1, "2 slices of 6 rows (n %d)", in.n);
    float x[6 * 4];
    CHECK(rb_inputs_rows(&cfg, &in, &in.sets[1], x, err, sizeof err) == 0, "%s", err);
    int ok = 1;
    for (int r = 0; r < 6; r++) /* head 1, (l, t) in order */
        ok &= x[4 * r] == (float)(1000 * (r / 3) + 100 * (r % 3) + 10) && x[4 * r + 3] == x[4 * r] + 3;
    CHECK(ok, "slice 1 holds head 1's rows in file order (first %g)", x[0]);
    rb_inputs_close(&in);

    dd->rows_mode = RB_ROWS_FIRST;
    dd->rows_n = 2;
    CHECK(rb_inputs_open(&cfg, &in, err, sizeof err) == 0 && in.sets[0].N == 2, "first 2");
    CHECK(rb_inputs_rows(&cfg, &in, &in.sets[0], x, err, sizeof err) == 0 && x[0] == 0 && x[4] == 100, "first rows");
    rb_inputs_close(&in);

    dd->rows_mode = RB_ROWS_SAMPLE;
    dd->rows_n = 4;
    float y[4 * 4];
    CHECK(rb_inputs_open(&cfg, &in, err, sizeof err) == 0, "%s", err);
    CHECK(rb_inputs_rows(&cfg, &in, &in.sets[0], x, err, sizeof err) == 0 &&
              rb_inputs_rows(&cfg, &in, &in.sets[0], y, err, sizeof err) == 0 && !memcmp(x, y, sizeof y),
          "a sample is the same twice");
    int distinct = 1, ordered = 1, head0 = 1;
    for (int r = 0; r < 4; r++) {
        head0 &= ((int)x[4 * r] / 10) % 10 == 0;
        if (r)
            ordered &= x[4 * r] > x[4 * (r - 1)], distinct &= x[4 * r] != x[4 * (r - 1)];
    }
    CHECK(distinct && ordered && head0, "4 distinct rows of head 0 in file order");
    rb_inputs_close(&in);

    dd->rows_n = 7; /* more than a slice holds */
    CHECK(rb_inputs_open(&cfg, &in, err, sizeof err) == -1 && strstr(err, "asks for 7 rows") && strstr(err, "holds 6"),
          "%s", err);
    rb_inputs_close(&in);
    dd->rows_mode = RB_ROWS_ALL;
    dd->split_axis = 3; /* d is not a leading axis */
    CHECK(rb_inputs_open(&cfg, &in, err, sizeof err) == -1 && strstr(err, "split_axis 3"), "%s", err);
    rb_inputs_close(&in);
    dd->split_axis = -1;
    cfg.nmethods = 1;
    cfg.methods[0] = rb_method_find("turboquant-wht");
    v[0] = 0;
    p = npy("d6.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 6), }", v, 4 * 6 * 4);
    snprintf(dd->path, sizeof dd->path, "%s", p);
    CHECK(rb_inputs_open(&cfg, &in, err, sizeof err) == -1 && strstr(err, "d = 6, which turboquant-wht cannot take"),
          "%s", err);
    rb_inputs_close(&in);
}

TEST(tensor_driver_runs_a_file_and_refuses_a_bad_one)
{
    float v[64 * 32];
    for (int i = 0; i < 64 * 32; i++)
        v[i] = (float)sin(0.1 * i) * (1 + (i % 32 == 3) * 10); /* norms kept: channel 3 large */
    const char *p = npy("k.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 32, 32), }", v, sizeof v);
    char cfgp[300], args[900], err[4096];
    snprintf(cfgp, sizeof cfgp, "%s/file.json", tmpdir());
    FILE *f = fopen(cfgp, "w");
    if (f) {
        fprintf(f, "{\"name\": \"file\", \"seed\": 1, \"bits\": 3, \"dtypes\": \"fp32\", "
                   "\"methods\": [\"identity\", \"turboquant-dense\"], "
                   "\"distribution\": {\"kind\": \"file\", \"path\": \"%s\", \"split_axis\": 0}}\n", p);
        fclose(f);
    }
    snprintf(args, sizeof args, "%s --backend cpu --out %s", cfgp, tmpdir());
    int rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0, "exit %d: %s", rc, err);
    char res[300];
    snprintf(res, sizeof res, "%s/file-cpu.json", tmpdir());
    static char buf[1 << 18];
    read_text(res, buf, sizeof buf);
    cJSON *j = cJSON_Parse(buf);
    const cJSON *recs = cJSON_GetObjectItem(j, "records"), *r0 = cJSON_GetArrayItem(recs, 0);
    const cJSON *in = cJSON_GetObjectItem(r0, "input");
    CHECK(cJSON_GetArraySize(recs) == 4, "2 slices x 2 methods: %d records", cJSON_GetArraySize(recs));
    CHECK(in && !strcmp(cJSON_GetObjectItem(in, "path")->valuestring, p) &&
              cJSON_GetObjectItem(in, "fnv1a64") && cJSON_GetObjectItem(in, "slice")->valueint == 0 &&
              cJSON_GetObjectItem(r0, "N")->valueint == 32 && cJSON_GetObjectItem(r0, "d")->valueint == 32,
          "the record names its input:\n%.600s", buf);
    CHECK(cJSON_GetObjectItem(r0, "rel_err")->valuedouble > 0, "relative error reported");
    cJSON_Delete(j);

    /* a bad file: one line, exit 2, before any work (no result written) */
    p = npy("bad.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 32, 32), }", v, sizeof v);
    f = fopen(cfgp, "w");
    if (f) {
        fprintf(f, "{\"name\": \"bad\", \"seed\": 1, \"bits\": 3, \"methods\": [\"identity\"], "
                   "\"distribution\": {\"kind\": \"file\", \"path\": \"%s\"}}\n", p);
        fclose(f);
    }
    rc = run_driver(args, err, sizeof err);
    int lines = count_lines(err);
    snprintf(res, sizeof res, "%s/bad-cpu.jsonl", tmpdir());
    CHECK(rc == 2 && lines == 1 && strstr(err, "big-endian") && access(res, F_OK) != 0, "exit %d, %d lines: %s", rc,
          lines, err);
}

/* Queries from a file and held out of a file input: the driver takes them, or refuses a held-out
 * set that would overlap the keys (exit 2, one line). */
TEST(tensor_queries_from_files)
{
    float v[2 * 64 * 16], qv[8 * 16];
    for (int i = 0; i < 2 * 64 * 16; i++)
        v[i] = (float)cos(0.3 * i);
    for (int i = 0; i < 8 * 16; i++)
        qv[i] = (float)sin(0.7 * i);
    const char *k = npy("qk.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 64, 16), }", v, sizeof v);
    char kpath[256];
    snprintf(kpath, sizeof kpath, "%s", k);
    const char *q = npy("qq.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 16), }", qv, sizeof qv);
    char cfgp[300], args[900], err[4096];
    snprintf(cfgp, sizeof cfgp, "%s/q.json", tmpdir());
    static const char *const forms[3] = {
        "\"queries\": {\"kind\": \"file\", \"path\": \"%s\", \"count\": 8}",
        "\"queries\": {\"kind\": \"held-out\", \"count\": 8}, \"distribution\": {\"kind\": \"file\", \"path\": \"%s\", \"rows\": {\"first\": 40}}",
        "\"queries\": {\"kind\": \"held-out\", \"count\": 8}, \"distribution\": {\"kind\": \"file\", \"path\": \"%s\"}"};
    for (int t = 0; t < 3; t++) {
        FILE *f = fopen(cfgp, "w");
        if (!f)
            continue;
        fprintf(f, "{\"name\": \"q%d\", \"seed\": 1, \"bits\": 2, \"dtypes\": \"fp32\", \"methods\": [\"identity\"], ", t);
        fprintf(f, forms[t], t ? kpath : q);
        if (!t)
            fprintf(f, ", \"distribution\": {\"kind\": \"file\", \"path\": \"%s\"}", kpath);
        fprintf(f, ", \"attention\": {\"T\": 16}}\n");
        fclose(f);
        snprintf(args, sizeof args, "%s --backend cpu --out %s", cfgp, tmpdir());
        int rc = run_driver(args, err, sizeof err);
        if (t < 2)
            CHECK(rc == 0, "queries form %d: exit %d: %s", t, rc, err);
        else
            CHECK(rc == 2 && strstr(err, "held-out queries are the 8 rows after the keys"), "exit %d: %s", rc, err);
    }
}

/* A queries file whose d is not the keys': refused when the config is loaded (exit 2, one line
 * naming both d), with nothing written, for a file input and for synthetic dims alike. */
TEST(tensor_queries_d_differs_from_keys)
{
    float v[64 * 16], qv[8 * 12];
    for (int i = 0; i < 64 * 16; i++)
        v[i] = (float)cos(0.3 * i);
    for (int i = 0; i < 8 * 12; i++)
        qv[i] = (float)sin(0.7 * i);
    char kpath[256];
    snprintf(kpath, sizeof kpath, "%s", npy("dk.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (64, 16), }", v, sizeof v));
    const char *q = npy("dq.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 12), }", qv, sizeof qv);
    char cfgp[300], args[900], err[4096], out[300];
    snprintf(cfgp, sizeof cfgp, "%s/qd.json", tmpdir());
    snprintf(out, sizeof out, "%s/qd_out", tmpdir());
    for (int t = 0; t < 2; t++) {
        FILE *f = fopen(cfgp, "w");
        if (!f)
            continue;
        fprintf(f, "{\"name\": \"qd\", \"seed\": 1, \"bits\": 2, \"dtypes\": \"fp32\", \"methods\": [\"identity\"], "
                   "\"queries\": {\"kind\": \"file\", \"path\": \"%s\", \"count\": 8}, ", q);
        if (t == 0)
            fprintf(f, "\"distribution\": {\"kind\": \"file\", \"path\": \"%s\"}}\n", kpath);
        else
            fprintf(f, "\"N\": 64, \"dims\": [12, 16]}\n");
        fclose(f);
        snprintf(args, sizeof args, "%s --backend cpu --out %s", cfgp, out);
        int rc = run_driver(args, err, sizeof err);
        char want[400];
        snprintf(want, sizeof want, "%s: queries of d = 12, but the keys of %s have d = 16: they must match", q,
                 t ? "dims" : kpath);
        CHECK(rc == 2 && count_lines(err) == 1 && strstr(err, want) != NULL, "form %d: exit %d, expected '%s': %s", t, rc,
              want, err);
        CHECK(access(out, F_OK) != 0, "form %d: %s was created", t, out);
    }
}

/* A file's row of tiny values (1e-25: |x|^2 underflows fp32's normal range) is counted and
 * left out of the metrics, as a non-finite row is, and both warnings name the input. */
TEST(tensor_tiny_and_nonfinite_rows_counted_and_named)
{
    float v[8 * 16];
    for (int i = 0; i < 8 * 16; i++)
        v[i] = (float)cos(0.3 * i);
    for (int j = 0; j < 16; j++)
        v[2 * 16 + j] = 1e-25f;
    v[5 * 16 + 3] = NAN;
    const char *p = npy("tiny.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 16), }", v, sizeof v);
    char cfgp[300], args[900], err[4096], res[300];
    snprintf(cfgp, sizeof cfgp, "%s/tiny.json", tmpdir());
    FILE *f = fopen(cfgp, "w");
    if (f) {
        fprintf(f, "{\"name\": \"tiny\", \"seed\": 1, \"bits\": 2, \"dtypes\": \"fp32\", \"methods\": [\"isoquant-fast\"], "
                   "\"distribution\": {\"kind\": \"file\", \"path\": \"%s\"}}\n", p);
        fclose(f);
    }
    snprintf(args, sizeof args, "%s --backend cpu --out %s", cfgp, tmpdir());
    int rc = run_driver(args, err, sizeof err);
    CHECK(rc == 0, "exit %d: %s", rc, err);
    CHECK(strstr(err, "warning: isoquant-fast d=16 bits=2 fp32 input tiny.npy: 1 rows with non-finite values left out") &&
              strstr(err, "warning: isoquant-fast d=16 bits=2 fp32 input tiny.npy: 1 rows of tiny values"),
          "both warnings, naming the input:\n%s", err);
    snprintf(res, sizeof res, "%s/tiny-cpu.json", tmpdir());
    static char buf[1 << 16];
    read_text(res, buf, sizeof buf);
    cJSON *j = cJSON_Parse(buf);
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "records"), 0);
    const cJSON *tiny = cJSON_GetObjectItem(r0, "tiny_rows"), *bad = cJSON_GetObjectItem(r0, "nonfinite_rows"),
                *rel = cJSON_GetObjectItem(r0, "rel_err");
    CHECK(cJSON_IsNumber(tiny) && tiny->valueint == 1 && cJSON_IsNumber(bad) && bad->valueint == 1, "tiny_rows 1, "
          "nonfinite_rows 1:\n%.800s", buf);
    /* the 6 ordinary rows at 2 bits: well under 1, which the zeroed tiny row would have added */
    CHECK(cJSON_IsNumber(rel) && rel->valuedouble < 0.3, "rel_err %.4g", rel ? rel->valuedouble : -1.0);
    cJSON_Delete(j);
}
