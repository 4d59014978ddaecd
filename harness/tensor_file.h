/* tensor_file.h: K/V vectors from a file: NumPy .npy (format versions 1-3, little-endian <f2,
 * <f4, <f8, C order, rank >= 2) and safetensors (F16, BF16, F32, one named tensor). Rows are the
 * product of the leading dimensions, d the last. The file is memory-mapped, never copied whole;
 * rows are converted to float as they are taken. Every malformed file is refused with one line
 * naming what is wrong. */
#ifndef RB_TENSOR_FILE_H
#define RB_TENSOR_FILE_H

#include <stddef.h>
#include <stdint.h>

#define RB_TF_MAX_DIMS 8

typedef enum { RB_TF_F16, RB_TF_BF16, RB_TF_F32, RB_TF_F64 } rb_tf_dtype;

typedef struct {
    const char *format;   /* "npy" or "safetensors" */
    rb_tf_dtype dtype;
    int esz;              /* bytes per element */
    int ndim;
    long shape[RB_TF_MAX_DIMS];
    long rows, d;         /* product of the leading dimensions; the last one */
    size_t offset, bytes; /* where the tensor's data lies in the file */
} rb_tf_header;

typedef struct {
    rb_tf_header h;
    size_t file_size;
    const unsigned char *map; /* the whole file, read-only */
    uint64_t hash;            /* FNV-1a 64 of the file's bytes */
} rb_tensor_file;

/* Parse a header held in buf (the file's first len bytes, file_size in all). npy: tensor must
 * be NULL or empty. safetensors: the tensor's name. 0, or -1 with one line in err. These are
 * what the fuzzers drive. */
int rb_npy_parse(const unsigned char *buf, size_t len, size_t file_size, rb_tf_header *h, char *err,
                 size_t errlen);
int rb_safetensors_parse(const unsigned char *buf, size_t len, size_t file_size, const char *tensor,
                         rb_tf_header *h, char *err, size_t errlen);

/* Open path (the format from its first bytes), map it, parse, hash. 0, or -1 with one line in err
 * naming the file and what is wrong. */
int rb_tensor_open(const char *path, const char *tensor, rb_tensor_file *t, char *err, size_t errlen);
void rb_tensor_close(rb_tensor_file *t);

/* Row r (0 <= r < rows) as d floats (f16 and bf16 widened exactly, f64 rounded to float). */
void rb_tensor_row(const rb_tensor_file *t, long r, float *out);

#endif
