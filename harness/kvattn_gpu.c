/* kvattn_gpu.c: the GPU backend's decode attention (backend.h's kv_attention): the host's cache
 * (already encoded, or fp16), queries, centroids and Pi copied to the device once, one checked
 * launch whose output goes back to the host, then the launches timed by the measurement module
 * against the D2D copy of the same cache bytes. The encode is not part of the timing. */
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backend_gpu.h"
#include "gpu_check.h"

#define KVA_MARGIN (64u << 20)

static size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

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
    const long rows = (long)a->B * a->Hkv * a->T;
    const size_t qb = sizeof(float) * (size_t)a->B * a->Hq * a->d;
    size_t kb, nb = 0, centb = 0, pib = 0;
    if (fp16) {
        kb = (size_t)rows * a->d * 2;
    } else {
        kb = (size_t)rows * (size_t)rb_kv_row_bytes(a->dpad, a->bits);
        nb = (size_t)rows * (size_t)rb_kv_norm_bytes(a->norm_kind);
        centb = sizeof(float) * ((size_t)1 << a->bits);
        pib = a->pi ? sizeof(float) * (size_t)a->dpad * a->dpad : 0;
    }
    const size_t cache = 2 * kb + 2 * nb; /* what one attention reads, and what the roof copies */
    const size_t workb = rb_kvattn_work_bytes(&chk);
    /* one allocation: K, V (codes or fp16), their norms, then q, o, centroids, Pi, workspace */
    const size_t off_v = align256(kb), off_kn = off_v + align256(kb), off_vn = off_kn + align256(nb),
                 off_q = off_vn + align256(nb), off_o = off_q + align256(qb), off_c = off_o + align256(qb),
                 off_pi = off_c + align256(centb), off_w = off_pi + align256(pib), total = off_w + align256(workb);
    size_t fr = 0, tot = 0;
    CK(cudaMemGetInfo(&fr, &tot));
    if ((double)total + (double)cache + KVA_MARGIN > (double)fr) {
        fprintf(stderr, "rotorbench: gpu: kv_attention B=%d H=%d kv_heads=%d T=%d d=%d needs %.0f bytes of device "
                "memory (cache %zu, its copy for the roof %zu, queries, outputs, workspace, a %u margin); %zu of %zu "
                "are free\n", a->B, a->Hq, a->Hkv, a->T, a->d, (double)total + (double)cache + KVA_MARGIN, cache,
                cache, KVA_MARGIN, fr, tot);
        return -1;
    }
    CK(cudaMalloc((void **)&dev, total));
    CK(cudaMalloc((void **)&scratch, cache > 0 ? cache : 1));

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
        if (pib) {
            d->pi = (const float *)(dev + off_pi);
            CK(cudaMemcpyAsync(dev + off_pi, a->pi, pib, cudaMemcpyHostToDevice, s->st));
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
        if (rb_meas_gpu_copy_roof(s->meas, scratch, dev, cache) ||
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
