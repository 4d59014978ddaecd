/* kvattn_gpu.c: the GPU backend's decode attention (backend.h's kv_attention): the host's cache
 * (already encoded, or fp16), queries, centroids and Pi copied to the device once, one checked
 * launch whose output goes back to the host, then the launches timed by the measurement module
 * against a D2D copy of half the cache bytes (a copy reads and writes each byte: the same
 * traffic as one attention reading the cache). The encode is not part of the timing. The
 * device memory is kvattn_mem.h's layout, which kv_fits checks before any work. */
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backend_gpu.h"
#include "gpu_check.h"
#include "kvattn_mem.h"

typedef struct {
    rb_kvattn_args da; /* device pointers */
    int fp16;
} kva_ctx;

static int enq_kva(void *ctx, cudaStream_t st)
{
    kva_ctx *c = ctx;
    int e = c->fp16 ? rb_kvattn_fp16_launch(&c->da, st) : rb_kvattn_launch(&c->da, st);
    return e == (int)cudaSuccess ? 0
                                 : rb_gpu_report((cudaError_t)e, c->fp16 ? "rb_kvattn_fp16_launch" : "rb_kvattn_launch",
                                                 __FILE__, __LINE__);
}

int rb_gpu_kv_fits(rb_backend *b, const rb_kvattn_args *a, int fp16, char *why, size_t n)
{
    (void)b;
    rb_kva_dev_layout l;
    char what[512];
    rb_kva_dev_layout_of(a, fp16, &l);
    rb_kva_dev_need_text(a, fp16, &l, what, sizeof what);
    return rb_gpu_device_fits(l.need, what, why, n);
}

int rb_gpu_kv_ctas(rb_backend *b, const rb_kvattn_args *a, int fp16, int *sms)
{
    const rb_gpu_state *s = b->state;
    int ctas = 0;
    const cudaError_t e = (cudaError_t)rb_kvattn_resident(a, fp16, &ctas);
    *sms = s->sms;
    if (e == cudaSuccess && ctas >= 1)
        return ctas;
    /* said, not fatal: the split changes the work's partition, not its result; a device that
     * cannot answer fails loudly at the launch */
    fprintf(stderr, "rotorbench: gpu: kv_attention: the split kernel's residency (%s); the model's taken\n",
            e != cudaSuccess ? cudaGetErrorString(e) : "no CTA fits an SM");
    return 0;
}

int rb_gpu_kv_attention(rb_backend *b, const rb_kvattn_args *a, int fp16, rb_timing *t)
{
    rb_gpu_state *s = b->state;
    kva_ctx c = {.da = *a, .fp16 = fp16};
    char *dev = NULL, *scratch = NULL;
    int rc = -1;

    /* the shape as the kernels see it (the workspace is checked when it exists) */
    rb_kvattn_args chk = *a;
    chk.work = (void *)a; /* any non-NULL: not allocated yet */
    if (fp16)
        chk.dpad = a->d; /* the fp16 workspace's width */
    const char *why = rb_kvattn_unsupported(&chk, fp16);
    if (why) {
        fprintf(stderr, "rotorbench: gpu: kv_attention: %s\n", why);
        return -1;
    }
    rb_kva_dev_layout l;
    rb_kva_dev_layout_of(a, fp16, &l);
    const size_t kb = l.kb, nb = l.nb, qb = l.qb, centb = l.centb;
    const size_t off_v = l.off_v, off_kn = l.off_kn, off_vn = l.off_vn, off_q = l.off_q, off_o = l.off_o,
                 off_c = l.off_c, off_pi = l.off_pi, off_w = l.off_w, total = l.total;
    { /* checked before any work by the sweep; again here, for a caller that did not */
        char msg[768];
        if (rb_gpu_kv_fits(b, a, fp16, msg, sizeof msg)) {
            fprintf(stderr, "rotorbench: gpu: %s\n", msg);
            return -1;
        }
    }
    CK(cudaMalloc((void **)&dev, total));
    CK(cudaMalloc((void **)&scratch, l.roof > 0 ? l.roof : 1));

    rb_kvattn_args *d = &c.da;
    d->q = (const float *)(dev + off_q);
    d->o = (float *)(dev + off_o);
    d->work = dev + off_w;
    CK(cudaMemcpyAsync(dev + off_q, a->q, qb, cudaMemcpyHostToDevice, s->st));
    if (fp16) {
        d->k16 = dev;
        d->v16 = dev + off_v;
        CK(cudaMemcpyAsync(dev, a->k16, kb, cudaMemcpyHostToDevice, s->st));
        CK(cudaMemcpyAsync(dev + off_v, a->v16, kb, cudaMemcpyHostToDevice, s->st));
        d->kcodes = d->vcodes = d->knorms = d->vnorms = NULL;
        d->centroids = d->pi = NULL;
    } else {
        d->kcodes = dev;
        d->vcodes = dev + off_v;
        CK(cudaMemcpyAsync(dev, a->kcodes, kb, cudaMemcpyHostToDevice, s->st));
        CK(cudaMemcpyAsync(dev + off_v, a->vcodes, kb, cudaMemcpyHostToDevice, s->st));
        d->knorms = d->vnorms = NULL;
        if (nb) {
            d->knorms = dev + off_kn;
            d->vnorms = dev + off_vn;
            CK(cudaMemcpyAsync(dev + off_kn, a->knorms, nb, cudaMemcpyHostToDevice, s->st));
            CK(cudaMemcpyAsync(dev + off_vn, a->vnorms, nb, cudaMemcpyHostToDevice, s->st));
        }
        d->centroids = (const float *)(dev + off_c);
        CK(cudaMemcpyAsync(dev + off_c, a->centroids, centb, cudaMemcpyHostToDevice, s->st));
        d->pi = NULL;
        if (a->pi) {
            d->pi = (const float *)(dev + off_pi);
            CK(cudaMemcpyAsync(dev + off_pi, a->pi, l.pib, cudaMemcpyHostToDevice, s->st));
        }
        d->k16 = d->v16 = NULL;
    }
    /* an output element the kernels forget shows up as NaN */
    CK(cudaMemsetAsync(dev + off_o, 0xFF, qb, s->st));

    char label[200];
    if (fp16)
        snprintf(label, sizeof label, "kv-attention fp16 d=%d B=%d H=%d/%d T=%d", a->d, a->B, a->Hq, a->Hkv, a->T);
    else
        snprintf(label, sizeof label, "kv-attention b=%d d=%d dpad=%d B=%d H=%d/%d T=%d", a->bits, a->d, a->dpad, a->B,
                 a->Hq, a->Hkv, a->T);
    if (rb_gpu_checked_launch(b, label, enq_kva, &c))
        goto fail;
    CK(cudaMemcpy(a->o, dev + off_o, qb, cudaMemcpyDeviceToHost));
    if (b->profile) {
        rb_meas_profile_timing(t);
    } else {
        if (rb_meas_gpu_copy_roof(s->meas, scratch, dev, l.roof) ||
            rb_meas_gpu_time(s->meas, label, enq_kva, &c, NULL, NULL, t) || rb_gpu_restore_copy_roof(b))
            goto fail;
    }
    rc = 0;
fail:
    if (dev)
        cudaFree(dev);
    if (scratch)
        cudaFree(scratch);
    return rc;
}
