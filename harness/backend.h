/* backend.h: what the driver asks of a backend (CPU reference or GPU), and the records it
 * gets back. A backend loads data and launches; timing is the measurement modules'
 * (measure_gpu.h, measure_cpu.h); the driver only sequences settings. */
#ifndef RB_BACKEND_H
#define RB_BACKEND_H

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "config.h"
#include "attention.h"
#include "kvattn_types.h"
#include "metrics.h"
#include "stats.h"

#define RB_MAX_VARIANTS 4

/* Timing summary of one kernel (or CPU loop). Times in microseconds. */
typedef struct {
    const char *clock;   /* "cpu-wall" or "cuda-events" */
    int samples;         /* batch (hot) samples */
    int batch;           /* launches per batch sample */
    double median_us, min_us, max_us, q1_us, q3_us, noise; /* noise = stddev / mean */
    int cold_samples;    /* 0 when not measured */
    double cold_median_us, cold_min_us, cold_max_us, cold_noise;
    double copy_us, copy_cold_us; /* a D2D copy moving the bytes the path moves, same rules (0 on the CPU) */
    double copy_bytes;            /* what that copy moved: read + written, twice the bytes copied (0: not
                                   * known, an older file, where it moved the record's bytes) */
    double fma_peak_per_s;        /* the device's measured fp32 FMA rate (0 on the CPU) */
    double tc_peak_flops_per_s;   /* its measured rate of the tensor-core instruction TurboQuant-dense's
                                   * fast kernel uses, mma.sync or wgmma (0 on the CPU) */
    const char *stop_reason;      /* which stopping condition ended the sampling */
    double prepass_us;            /* HQMQ Med3x: median time of the median pre-pass alone; the
                                   * times above include it (pre-pass + quantize pass) */
    double hot_clock_khz, cold_clock_khz; /* SM 0's mean clock over the hot / cold samples (0: not
                                           * measured, the CPU) */
    double clock_min_khz;         /* the lowest sample's */
    int clock_low_samples;        /* samples under 75 % of the rated clock */
} rb_timing;

/* A loop's summary (stats.h) as t's hot times (median, min, max, quartiles, noise), or as its
 * cold ones (median, min, max, noise): the measurement modules' one mapping. */
void rb_timing_set_hot(rb_timing *t, const rb_summary *s);
void rb_timing_set_cold(rb_timing *t, const rb_summary *s);

/* A record. The driver writes its key (method, variant, d, bits or the method's operating point,
 * dtype, N) and the counts from the config; the backend writes the metrics, timing, check and
 * route; the results writer adds the speedups. No field has two authors. */
typedef struct {
    rb_method method;
    int dist, slice;      /* the input (cfg->dists) and the file slice (-1: none) */
    char variant[16];     /* the launch structure asked for: "paper", "fast" (GPU), "ref" (CPU) */
    char route[16];       /* the path the kernel took where a variant has several ("cells", "tc",
                           * "fp32": HQMQ's searches); "" where there is one */
    int d, bits;
    rb_dtype dtype;
    long N;
    int unit_norm;        /* the config's assume_unit_norm: no norm computed, rho = 1 */
    rb_metrics m;
    rb_attn attn;         /* attention-level metrics, when the config gives queries */
    double pred_mse;      /* Lloyd-Max prediction of per-element MSE for unit vectors */
    long fma_nominal;     /* forward rotation FMA as the paper counts them */
    long params;
    double bits_per_coord;
    int path;             /* rb_path (config.h): what the setting runs; the driver writes it */
    int kv_norm;          /* the packed format's norm kind (RB_KV_NORM_*; kvpack.h) */
    double stored_bytes;  /* the packed cache's bytes (rb_kv_stored_bytes); 0: no packed format */
    double bytes;         /* what the path moves: roundtrip 2 N d sizeof(T) (x in, x-hat out);
                           * encode N d sizeof(T) + stored_bytes; decode stored_bytes + N d sizeof(T) */
    rb_timing t;
    double speedup;       /* baseline median / this median, 0 when no baseline record */
    /* GPU: the kernel checked against the CPU reference on the first rows before timing */
    long check_rows;      /* rows compared (0: not checked) */
    double check_max_abs; /* largest |gpu - cpu| outside boundary flips */
    long check_flips;     /* elements differing because a coordinate sat within rounding of a boundary */
    /* HQMQ only (its hooks write them; bits 0): the operating point and what Med3x did */
    int hq_S, hq_rbits, hq_outliers, hq_sigma_inliers;
    double hq_C;
    double outlier_frac;  /* Med3x: outlier chunks / chunks of finite rows (0 without) */
    rb_kva_rec kva;       /* decode attention over a KV cache (kvattn.h): kva.on */
} rb_record;

typedef struct rb_backend rb_backend;
struct rb_backend {
    const char *name; /* "cpu" or "gpu" */
    int nvariants;
    const char *variants[RB_MAX_VARIANTS];
    void *state;
    int profile; /* set by the driver: run each kernel a few times, no timing loop (ncu/nsys) */
    rb_data_dist dist; /* set by the driver before load_data; zero (calloc) is sphere */
    /* Make the inputs for (seed, d, N, dtype): Philox normals, rows normalized. */
    int (*load_data)(rb_backend *b, uint64_t seed, int d, long N, rb_dtype dtype);
    /* 0 when a data set of (d, N, dtype) fits the machine's memory, else -1 with one line in
     * why naming the bytes needed and available: asked of every data set before the sweep. */
    int (*fits)(rb_backend *b, int d, long N, rb_dtype dtype, char *why, size_t n);
    /* Or take N rows of d floats from the host (a file's), kept as they are (fp16: rounded). */
    int (*load_rows)(rb_backend *b, const float *x, int d, long N, rb_dtype dtype);
    /* Run one (method, bits, variant) over the loaded data: metrics and timing into rec. */
    int (*run)(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec);
    /* The attention metrics (attention.h) of the last run's rows against the loaded input, for
     * nq queries q (host, nq x d) over groups of T rows. v, vh (host, N x d, in the data's dtype's
     * values): the values paired row by row with the keys and their quantized rows; NULL: the
     * keys' own rows serve as values. */
    int (*attention)(rb_backend *b, const float *q, int nq, int T, const float *v, const float *vh, rb_attn *out);
    /* Decode attention (kernels/common/kvattn.h) over a's compressed cache, or its fp16 cache
     * when fp16, timed by the measurement module into t; the output into a->o. Every pointer
     * of a is a host pointer (a->work NULL, a->split resolved): the GPU copies them over once
     * and times the launches alone. NULL where the backend has none yet. */
    int (*kv_attention)(rb_backend *b, const rb_kvattn_args *a, int fp16, rb_timing *t);
    /* 0 when kv_attention over a's shape (a->split set; dpad, bits and norm_kind for a compressed
     * cache; no pointer read) fits the memory it allocates, else -1 with one line in why naming
     * the bytes needed and available. The sweep asks it for its largest setting before any work.
     * NULL where kv_attention allocates nothing beyond the sweep's host buffers (the CPU, whose
     * sweep checks those against host memory itself). */
    int (*kv_fits)(rb_backend *b, const rb_kvattn_args *a, int fp16, char *why, size_t n);
    /* What the "auto" split is sized by: how many CTAs of the split kernel that takes a's shape
     * (no pointer or split read; dpad, bits and norm_kind set for a compressed cache) one SM of
     * this device keeps resident, and its SMs into *sms; 0 where it cannot tell (said on stderr).
     * NULL where there is no device: the sweep then takes kvattn.h's model of the H100
     * (rb_kvattn_model_ctas, RB_KVA_MODEL_SMS). */
    int (*kv_ctas)(rb_backend *b, const rb_kvattn_args *a, int fp16, int *sms);
    /* Describe the machine into a JSON object (device fields, clocks, versions). */
    void (*describe)(rb_backend *b, cJSON *obj);
    void (*destroy)(rb_backend *b);
};

/* Set o[k] = v, replacing an earlier value: describe runs at the start and the end of a run. */
static inline void rb_json_replace(cJSON *o, const char *k, cJSON *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    cJSON_AddItemToObject(o, k, v);
}

/* A backend as its template says (name, variants, functions) over its state; NULL on out of
 * memory or without a state (the caller frees the state then). */
static inline rb_backend *rb_backend_make(const rb_backend *tmpl, void *state)
{
    rb_backend *b = state ? (rb_backend *)malloc(sizeof *b) : NULL;
    if (b) {
        *b = *tmpl;
        b->state = state;
    }
    return b;
}

rb_backend *rb_backend_cpu_create(void);
/* The CPU reference over N rows (OpenMP over rows; fp16 runs round the output to fp16). */
void rb_cpu_qdq_rows(const rb_qdq_params *p, const float *x, float *xh, long N, rb_dtype dtype);
/* HQMQ over N rows (p->hq_thresh already set): returns the number of outlier chunks. */
long rb_cpu_hqmq_rows(const rb_qdq_params *p, const float *x, float *xh, long N, rb_dtype dtype);
/* Med3x: median of the finite chunk norms (rb_hqmq_chunk_norm) of N rows of d values, by
 * selection (ranks (n-1)/2 and n/2 averaged, as torch.quantile(0.5)); 0 when there are none.
 * norms: scratch for N * ceil(d/4) floats, or NULL to allocate. -1 on out of memory. */
int rb_hqmq_batch_median(const float *x, int d, long N, float *norms, float *median);
/* HQMQ's outlier threshold C * median, as every backend computes it. */
float rb_hqmq_threshold(float C, float median);
/* HQMQ's runs (its hooks, hqmq_method.c): the Med3x pre-pass, then the quantize pass. */
int rb_cpu_run_hqmq(rb_backend *b, const rb_qdq_params *p, rb_record *rec);
int rb_gpu_run_hqmq(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec);
const float *rb_backend_cpu_input(rb_backend *b);
const float *rb_backend_cpu_output(rb_backend *b);
/* The GPU backend on the device of the run options (run_options.h: --device N, counted among
 * CUDA_VISIBLE_DEVICES); NULL with a reason in why when no usable GPU is there. */
rb_backend *rb_backend_gpu_create(char *why, size_t whylen);
/* The CUDA devices visible, or -1 with the reason in why (0: why says so). Sets
 * CUDA_MODULE_LOADING=EAGER first, as the GPU backend needs before any CUDA call. */
int rb_gpu_device_count(char *why, size_t whylen);
/* 0 when the CUDA runtime sees a device (rb_gpu_device_count > 0); else -1 with the reason in
 * why. Creates no context, so `--backend gpu` is refused before anything is written. */
int rb_gpu_probe(char *why, size_t whylen);

#endif
