/* run_options.h: the environment variables that change what a run measures, read in one place.
 * The driver reads them once, before any work (rb_run_knobs_check: a bad value is one line and
 * exit status 2); the backends and the kernels' launchers take their values from here, never
 * from getenv, so a result's recorded knobs are the ones that ran.
 *
 *   RB_FAST_SHAPE=small|large   the fast kernels' shape forced at every N (unset: chosen by N)
 *   RB_DENSE_TC=mma|wgmma       TurboQuant-dense's tensor-core instruction (unset: wgmma where
 *                               built and on a 9.0 device, else mma.sync)
 *   RB_HQMQ_SEARCH=auto|cells|tc|fp32   HQMQ's search in the fast GPU kernel (same answers)
 *   RB_HQMQ_CELLS_G=2..128      HQMQ's cell table resolution (same answers)
 *   RB_GPU_DEVICE_RNG=0|1       inputs drawn on the device (last bits differ from the CPU's)
 *   RB_KVA_FP16=staged|registers   the fp16 cache's attention split kernel (unset: staged where
 *                               d is a multiple of 8, else registers; same answers) */
#ifndef RB_RUN_OPTIONS_H
#define RB_RUN_OPTIONS_H

#include <stddef.h>

#define RB_RUN_KNOBS 6

typedef struct {
    int fast_shape;     /* 0 chosen by N, 1 small, 2 large (rb_qdq_params.fast_shape) */
    int dense_mma;      /* 1: RB_DENSE_TC=mma (rb_dense_tc_force_mma) */
    int hqmq_search;    /* RB_HQ_SEARCH_* (hqmq.h); AUTO when unset */
    int hqmq_cells_g;   /* 0 unset, else the cells per axis */
    int gpu_device_rng; /* 1: RB_GPU_DEVICE_RNG=1 */
    int kva_fp16_regs;  /* 1: RB_KVA_FP16=registers (rb_kvattn_fp16_force_registers) */
    int device;         /* the CUDA device the GPU backend takes (rotorbench run --device N; 0) */
    char cuda_visible_devices[128]; /* CUDA_VISIBLE_DEVICES as set ("" unset), for the record */
    /* the knobs set, as given: recorded in every result and part of --resume's hash */
    int nset;
    char name[RB_RUN_KNOBS][24], value[RB_RUN_KNOBS][64];
    char joined[RB_RUN_KNOBS * 96]; /* "NAME=value;..." ("" when none) */
} rb_run_options;

/* Read the environment into *o: 0, or -1 with one line naming the knob and what it accepts
 * in err (*o then holds the defaults). */
int rb_run_options_read(rb_run_options *o, char *err, size_t errlen);

/* The process's options: the last ones rb_run_knobs_check read, else the environment read at
 * the first call (a bad value then counts as unset; the driver has refused it already). */
const rb_run_options *rb_run_options_get(void);

/* The driver's --device N, into the process's options (after rb_run_knobs_check). */
void rb_run_options_set_device(int device);

#endif
