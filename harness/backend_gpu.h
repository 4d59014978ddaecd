/* backend_gpu.h: the GPU backend's state and helpers, for the files that make up the backend
 * (backend_gpu.c: device, buffers, data, launches; hqmq_gpu.c: HQMQ's run). Timing is the
 * measurement module's (measure_gpu.h), agreement the one rule of agree.h. */
#ifndef RB_BACKEND_GPU_H
#define RB_BACKEND_GPU_H

#include <cuda_runtime_api.h>

#include "backend.h"
#include "measure_gpu.h"
#include "registry.h"

typedef struct {
    int d;
    long len;
    float *host; /* what was uploaded, to detect a changed rotation behind the same pointer */
    float *dev;
} rb_gpu_rot_slot;

typedef struct {
    int dev;
    char name[256], pci[32];
    int cc_major, cc_minor, sms, l2_bytes, mem_clock_khz, bus_bits, ecc;
    int driver_version, runtime_version;
    size_t global_mem;

    cudaStream_t st;
    rb_meas_gpu *meas;
    void *dpart, *dmout; /* rb_dev_metrics partials and result */
    float *dbounds, *dcent, *dcells;
    rb_gpu_rot_slot rot[RB_MAX_METHODS];

    /* the loaded data set */
    int loaded, d;
    long N;
    rb_dtype dtype;
    size_t esz;
    void *x, *xh;
} rb_gpu_state;

/* Rows [row0, row0 + nrows) of x (which 0) or xh (which 1) to host floats. */
int rb_gpu_get_rows(rb_gpu_state *s, int which, long row0, long nrows, float *host);
/* p with its rotation parameters, codebook and cell table on the device, into dp. */
int rb_gpu_upload_params(rb_gpu_state *s, const rb_qdq_params *p, rb_qdq_params *dp);
/* The metrics of x against xh, reduced on the device, into rec->m. */
int rb_gpu_fill_metrics(rb_gpu_state *s, rb_record *rec);
/* rows of gpu against ref (the CPU reference of xin under hp) by agree.h's rule, into rec's
 * check fields; -1 with one line naming label when they disagree. */
int rb_gpu_agree(const rb_qdq_params *hp, int variant, rb_dtype dtype, const float *xin, const float *ref,
                 const float *gpu, long rows, rb_record *rec, const char *label);
/* The in-run check: the first rows of xh against the CPU reference of hp (host pointers) under
 * agree.h's rule, into rec's check fields. -1 with one line naming label when they disagree. */
int rb_gpu_check(rb_gpu_state *s, const rb_qdq_params *hp, int variant, rb_record *rec, const char *label);
/* One launch of rb_launch_qdq: the device parameters and buffers (rb_gpu_enq_qdq's ctx). */
typedef struct {
    rb_qdq_params dp; /* device pointers */
    int variant, dtype;
    const void *x;
    void *xh;
    long N;
} rb_gpu_qdq_ctx;
int rb_gpu_enq_qdq(void *ctx, cudaStream_t st);
/* The checked launch before a setting's check and timing: fn once, or in profile mode four
 * times inside the NVTX range label and cudaProfilerStart/Stop, so a profiler captures only
 * these; then the stream synchronized. -1 after one line when a launch or call fails. */
int rb_gpu_checked_launch(rb_backend *b, const char *label, rb_enqueue_fn fn, void *ctx);
/* An encode or decode setting (rec->path, rec->kv_norm) of a method whose launcher has the
 * encode / decode variants (kvpath_gpu.c). */
int rb_gpu_run_kvpath(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *rec);
/* A KV path's timing into rec->t: the copy roof of the bytes the path moves (half of rec->bytes,
 * at most the rows'), the path (fn over ctx, after pre over pre_ctx when pre is given), then the
 * data set's own roof back for the roundtrip settings. 0, or -1 said on stderr. */
int rb_gpu_time_kv_path(rb_gpu_state *s, rb_record *rec, const char *label, rb_enqueue_fn fn, void *ctx,
                        rb_enqueue_fn pre, void *pre_ctx);

/* Decode attention over a KV cache (backend.h's kv_attention; kvattn_gpu.c). */
int rb_gpu_kv_attention(rb_backend *b, const rb_kvattn_args *a, int fp16, rb_timing *t);
/* backend.h's kv_fits: kvattn_mem.h's layout against the free device memory. */
int rb_gpu_kv_fits(rb_backend *b, const rb_kvattn_args *a, int fp16, char *why, size_t n);
/* backend.h's kv_ctas: the residency the device reports (rb_kvattn_resident) and its SMs. */
int rb_gpu_kv_ctas(rb_backend *b, const rb_kvattn_args *a, int fp16, int *sms);
/* The one device-memory check: 0 when need bytes are free (cudaMemGetInfo), else -1 with
 * "<what>; F of T are free" in why (what names the bytes needed and their parts). */
int rb_gpu_device_fits(double need, const char *what, char *why, size_t n);
/* The copy roof of the loaded data set again, after a timing that set its own (kv_attention). */
int rb_gpu_restore_copy_roof(rb_backend *b);

#endif
