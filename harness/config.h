/* config.h: a sweep configuration, loaded from JSON with cJSON and validated before any work.
 * The format is documented in README.md ("Config format"). */
#ifndef RB_CONFIG_H
#define RB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "hqmq.h"
#include "registry.h"

#define RB_MAX_LIST 32
#define RB_MAX_NAME 64
#define RB_MAX_PATH 1024

typedef enum { RB_FP32 = 0, RB_FP16 = 1 } rb_dtype;
typedef enum { RB_CODEBOOK_GAUSSIAN = 0, RB_CODEBOOK_BETA = 1 } rb_codebook_kind;
typedef enum {
    RB_DIST_SPHERE = 0,
    RB_DIST_CHANNEL_OUTLIERS = 1,
    RB_DIST_ANISOTROPIC = 2,
    RB_DIST_LOWRANK = 3,
    RB_DIST_FILE = 4,
} rb_distribution;

/* What a setting runs (the config's "path"): the fused roundtrip (the paper's kernel), the
 * KV-cache write (x -> packed codes + norms), the read (codes + norms -> x^), or decode attention
 * over a compressed cache (wt-attn's run, connected in the driver's attention hook). */
typedef enum { RB_PATH_ROUNDTRIP = 0, RB_PATH_ENCODE = 1, RB_PATH_DECODE = 2, RB_PATH_ATTENTION = 3 } rb_path;
#define RB_NPATHS 4

#define RB_MAX_DISTS 8
#define RB_Q_NONE 0
#define RB_Q_GAUSSIAN 1 /* N(0, 1) entries, from the seed */
#define RB_Q_HELD_OUT 2 /* rows of the same input not among the keys */
#define RB_Q_FILE 3     /* rows of a .npy or safetensors tensor */
#define RB_ROWS_ALL 0
#define RB_ROWS_FIRST 1
#define RB_ROWS_SAMPLE 2

/* One input of the sweep (data.h generates the synthetic ones, tensor_file.h reads files).
 *   channel-outliers: Gaussian rows whose `channels` channels (drawn from the seed, the same for
 *     every row) are multiplied by `scale`, then normalized;
 *   anisotropic: each channel j scaled by exp(sigma z_j), z_j standard normal per (seed, d): a
 *     log-normal spread of channel magnitudes, then normalized;
 *   lowrank: rows U c_i + noise g_i with U (d x rank) and c_i Gaussian: most energy in a rank-r
 *     subspace, then normalized;
 *   file: rows of a .npy or safetensors tensor as they are (norms kept). */
typedef struct {
    rb_distribution kind;
    int channels;
    float scale;
    double sigma;
    int rank;
    double noise;
    char path[RB_MAX_PATH];   /* file */
    char tensor[128];         /* file: safetensors tensor name ("" for .npy) */
    int rows_mode;            /* file: RB_ROWS_ALL, _FIRST, _SAMPLE (rows_n of them) */
    long rows_n;
    int split_axis;           /* file: one record per index of this leading axis; -1 none */
    /* file, filled when the sweep opens it (inputs.c) */
    char file_format[16];     /* "npy" / "safetensors" */
    double file_bytes;
    unsigned long long file_hash; /* FNV-1a 64 of the file */
    int file_d, file_ndim;
    long file_shape[8];
    int file_slices;          /* 1, or the size of split_axis */
    long file_slice_rows;     /* rows of one slice, before the rows option */
} rb_data_dist;

/* HQMQ operating point "s{S}_r{rbits}". */
typedef struct {
    int S, rbits;
} rb_hqmq_op;

#define RB_HQMQ_MAX_OPS (RB_MAX_LIST * RB_MAX_LIST)

typedef struct {
    int nops;
    rb_hqmq_op ops[RB_HQMQ_MAX_OPS]; /* S x radius_bits, S outer; default: the paper's five */
    int outliers;                    /* 0 none, 1 med3 */
    double C;                        /* Med3x multiplier of the median chunk norm */
    int sigma_inliers;               /* sigma_from: 0 "all", 1 "inliers" */
} rb_hqmq_config;

typedef struct {
    char path[RB_MAX_PATH];     /* the file it came from, for messages */
    char name[RB_MAX_NAME];     /* [A-Za-z0-9_.-]+ : used in output file names */
    uint64_t seed;              /* 0 .. 2^53 */
    int nN;
    long N[RB_MAX_LIST];        /* batch sizes, each 1 .. 2^28 */
    int ndims;
    int dims[RB_MAX_LIST];      /* each 2 .. 4096 */
    int nbits;
    int bits[RB_MAX_LIST];      /* each 1 .. 8 */
    int ndtypes;
    rb_dtype dtypes[2];
    int nmethods;
    rb_method methods[RB_MAX_LIST];
    rb_codebook_kind codebook;
    int ndists;
    rb_data_dist dists[RB_MAX_DISTS]; /* the inputs: another axis of the sweep */
    rb_hqmq_config hqmq;        /* used when methods include hqmq */
    /* attention-level metrics (attention.h), when "queries" is given */
    int q_kind;                 /* RB_Q_NONE, _GAUSSIAN, _HELD_OUT, _FILE */
    int q_count;                /* queries per data set */
    char q_path[RB_MAX_PATH], q_tensor[128];
    int attn_T;                 /* keys per attention group (default 1024) */
    int unit_norm;              /* assume_unit_norm: every kernel takes |x| = 1 and computes no
                                 * norm (rb_qdq_params.unit_norm); default 0 */
    int npaths;
    int paths[RB_NPATHS];       /* rb_path values, an axis of the sweep; default roundtrip only */
    int kv_norm;                /* the packed format's norms: RB_KV_NORM_FP16 (default) / _FP32
                                 * (kvpack.h); none under assume_unit_norm */
    rb_method baseline;         /* speedups are baseline time / method time */
    char output_dir[RB_MAX_PATH];
} rb_config;

/* Parse and validate. Returns 0, or -1 with one line in err naming the file, the key and what
 * was expected (e.g. "configs/x.json: key 'bits[2]': expected an integer in 1..8, got 9"). */
int rb_config_load(const char *path, rb_config *cfg, char *err, size_t errlen);
int rb_config_parse(const char *path, const char *text, size_t len, rb_config *cfg, char *err,
                    size_t errlen);
/* The top-level keys the parser accepts, in its order; returns their count. docs/config-format.md
 * is the one reference for them: tests/test_docs.c checks that each has a row in its key table
 * and that each row names one of them. */
int rb_config_keys(const char *const **names);

/* Names as they appear in configs and results (methods: registry.h). */
const char *rb_dtype_name(rb_dtype t);        /* "fp32" / "fp16" */
const char *rb_codebook_name(rb_codebook_kind k); /* "gaussian" / "beta" */
const char *rb_path_name(int path);           /* "roundtrip", "encode", "decode", "attention" */
int rb_path_find(const char *name);           /* -1 when no path has that name */
const char *rb_distribution_name(rb_distribution k); /* "sphere", "channel-outliers", ... */
/* Does the sweep need the config's N and dims (some input is synthetic)? */
int rb_config_has_synthetic(const rb_config *cfg);

#endif
