/* run_options.c: the environment knobs read once (run_options.h). */
#include "run_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hqmq.h"
#include "results.h"

static const char *const knob_names[RB_RUN_KNOBS] = {"RB_HQMQ_SEARCH", "RB_HQMQ_CELLS_G", "RB_GPU_DEVICE_RNG",
                                                     "RB_FAST_SHAPE", "RB_DENSE_TC", "RB_KVA_FP16"};

/* the index of v in the NULL-terminated list, or -1 */
static int one_of(const char *v, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(v, list[i]))
            return i;
    return -1;
}

int rb_run_options_read(rb_run_options *o, char *err, size_t errlen)
{
    static const char *const searches[] = {"auto", "cells", "tc", "fp32", NULL};
    static const int search_ids[] = {RB_HQ_SEARCH_AUTO, RB_HQ_SEARCH_CELLS, RB_HQ_SEARCH_TC, RB_HQ_SEARCH_FP32};
    static const char *const shapes[] = {"small", "large", NULL};
    static const char *const bits[] = {"0", "1", NULL};
    static const char *const tcs[] = {"mma", "wgmma", NULL};
    static const char *const fp16_kernels[] = {"staged", "registers", NULL};
    memset(o, 0, sizeof *o);
    o->hqmq_search = RB_HQ_SEARCH_AUTO;
    const char *v = getenv("RB_HQMQ_SEARCH");
    int k;
    if (v) {
        if ((k = one_of(v, searches)) < 0) {
            snprintf(err, errlen, "RB_HQMQ_SEARCH must be auto, cells, tc or fp32, not \"%s\"", v);
            goto bad;
        }
        o->hqmq_search = search_ids[k];
    }
    if ((v = getenv("RB_HQMQ_CELLS_G"))) {
        char *end = NULL;
        const long g = strtol(v, &end, 10);
        if (end == v || *end || g < 2 || g > 128) {
            snprintf(err, errlen, "RB_HQMQ_CELLS_G must be an integer in 2..128, not \"%s\"", v);
            goto bad;
        }
        o->hqmq_cells_g = (int)g;
    }
    if ((v = getenv("RB_FAST_SHAPE"))) {
        if ((k = one_of(v, shapes)) < 0) {
            snprintf(err, errlen, "RB_FAST_SHAPE must be small or large, not \"%s\"", v);
            goto bad;
        }
        o->fast_shape = k + 1;
    }
    if ((v = getenv("RB_GPU_DEVICE_RNG"))) {
        if ((k = one_of(v, bits)) < 0) {
            snprintf(err, errlen, "RB_GPU_DEVICE_RNG must be 0 or 1, not \"%s\"", v);
            goto bad;
        }
        o->gpu_device_rng = k;
    }
    if ((v = getenv("RB_DENSE_TC"))) {
        if ((k = one_of(v, tcs)) < 0) {
            snprintf(err, errlen, "RB_DENSE_TC must be mma or wgmma, not \"%s\"", v);
            goto bad;
        }
        o->dense_mma = k == 0;
    }
    if ((v = getenv("RB_KVA_FP16"))) {
        if ((k = one_of(v, fp16_kernels)) < 0) {
            snprintf(err, errlen, "RB_KVA_FP16 must be staged or registers, not \"%s\"", v);
            goto bad;
        }
        o->kva_fp16_regs = k == 1;
    }
    if ((v = getenv("CUDA_VISIBLE_DEVICES")))
        snprintf(o->cuda_visible_devices, sizeof o->cuda_visible_devices, "%s", v);
    for (int i = 0, n = 0; i < RB_RUN_KNOBS; i++) {
        if (!(v = getenv(knob_names[i])))
            continue;
        snprintf(o->name[o->nset], sizeof o->name[0], "%s", knob_names[i]);
        snprintf(o->value[o->nset], sizeof o->value[0], "%s", v);
        n += snprintf(o->joined + n, sizeof o->joined - (size_t)n, "%s%s=%s", n ? ";" : "", knob_names[i],
                      o->value[o->nset]);
        o->nset++;
    }
    return 0;
bad:
    memset(o, 0, sizeof *o);
    o->hqmq_search = RB_HQ_SEARCH_AUTO;
    return -1;
}

static rb_run_options g_opts;
static int g_read;

const rb_run_options *rb_run_options_get(void)
{
    if (!g_read) {
        char err[160];
        rb_run_options_read(&g_opts, err, sizeof err);
        g_read = 1;
    }
    return &g_opts;
}

/* results.h's entry points, kept for their callers */
int rb_run_knobs_check(char *err, size_t errlen)
{
    const int device = g_opts.device; /* not from the environment */
    const int rc = rb_run_options_read(&g_opts, err, errlen);
    g_opts.device = device;
    g_read = 1;
    return rc;
}

void rb_run_options_set_device(int device)
{
    rb_run_options_get();
    g_opts.device = device;
}

const char *rb_run_knobs(void) { return rb_run_options_get()->joined; }
