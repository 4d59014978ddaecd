/* kvattn_mem.c: the device memory of one decode-attention setting (kvattn_mem.h). */
#include "kvattn_mem.h"

#include <stdio.h>
#include <string.h>

static size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

void rb_kva_dev_layout_of(const rb_kvattn_args *a, int fp16, rb_kva_dev_layout *l)
{
    memset(l, 0, sizeof *l);
    rb_kvattn_args w = *a;
    if (fp16)
        w.dpad = a->d; /* the fp16 workspace's width */
    const size_t rows = (size_t)a->B * (size_t)a->Hkv * (size_t)a->T;
    l->qb = sizeof(float) * (size_t)a->B * (size_t)a->Hq * (size_t)a->d;
    if (fp16) {
        l->kb = rows * (size_t)a->d * 2;
    } else {
        l->kb = rows * (size_t)rb_kv_row_bytes(a->dpad, a->bits);
        l->nb = rows * (size_t)rb_kv_norm_bytes(a->norm_kind);
        l->centb = sizeof(float) * ((size_t)1 << a->bits);
        l->pib = sizeof(float) * (size_t)a->dpad * (size_t)a->dpad;
    }
    l->workb = rb_kvattn_work_bytes(&w);
    l->off_v = align256(l->kb);
    l->off_kn = l->off_v + align256(l->kb);
    l->off_vn = l->off_kn + align256(l->nb);
    l->off_q = l->off_vn + align256(l->nb);
    l->off_o = l->off_q + align256(l->qb);
    l->off_c = l->off_o + align256(l->qb);
    l->off_pi = l->off_c + align256(l->centb);
    l->off_w = l->off_pi + align256(l->pib);
    l->total = l->off_w + align256(l->workb);
    l->cache = 2 * l->kb + 2 * l->nb;
    l->roof = l->cache / 2;
    l->need = (double)l->total + (double)l->roof + (double)RB_KVA_DEV_MARGIN;
}

void rb_kva_dev_need_text(const rb_kvattn_args *a, int fp16, const rb_kva_dev_layout *l, char *buf, size_t n)
{
    char what[64];
    if (fp16)
        snprintf(what, sizeof what, "fp16 cache");
    else
        snprintf(what, sizeof what, "%d-bit cache, dpad=%d", a->bits, a->dpad);
    snprintf(buf, n, "kv_attention B=%d H=%d kv_heads=%d T=%d d=%d %s needs %.0f bytes of device memory (cache %zu, "
             "the copy roof's buffer %zu, queries, outputs, centroids, rotation, workspace and alignment %zu, a %zu margin)",
             a->B, a->Hq, a->Hkv, a->T, a->d, what, l->need, l->cache, l->roof, l->total - l->cache, RB_KVA_DEV_MARGIN);
}
