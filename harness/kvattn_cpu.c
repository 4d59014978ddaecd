/* kvattn_cpu.c: decode attention over a KV cache on the CPU (kvattn.h): the fp32 reference,
 * the compressed and fp16 caches as the GPU computes them (kvattn_split.h), the metrics. */
#include "kvattn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "fp16.h"
#include "kvattn_split.h"
#include "reference.h"

double rb_kva_cache_bytes(const rb_kva_shape *s, int dpad, int bits, int norm_kind)
{
    const double rows = (double)rb_kva_rows(s);
    if (bits == 0)
        return 2.0 * rows * s->d * 2.0;
    return 2.0 * rows * ((double)rb_kv_row_bytes(dpad, bits) + rb_kv_norm_bytes(norm_kind));
}

double rb_kva_device_bytes(const rb_kva_shape *s, int dpad, int max_bits)
{
    const double q = (double)s->B * s->H * dpad * 4.0;
    const double parts = (double)s->B * s->H * rb_kva_nsplits(s->T, s->split) * (dpad + 2.0) * 4.0;
    return 2 * q + parts + rb_kva_cache_bytes(s, s->d, 0, 0) + rb_kva_cache_bytes(s, dpad, max_bits, RB_KV_NORM_FP32) +
           (double)dpad * dpad * 4.0;
}

double rb_kva_host_bytes(const rb_kva_shape *s, int dpad)
{
    const double rows = (double)rb_kva_rows(s), qh = (double)s->B * s->H;
    return rows * s->d * (2 * 4.0 + 2 * 2.0)                      /* K, V fp32 and fp16 */
           + rb_kva_cache_bytes(s, dpad, 8, RB_KV_NORM_FP32)      /* the largest compressed cache */
           + 2 * qh * s->T * 8.0                                  /* reference and method scores */
           + qh * (s->d * 8.0 + 3 * dpad * 4.0) + (double)dpad * dpad * 4.0;
}

void rb_kva_rotation_matrix(const rb_qdq_params *p, float *Pi)
{
    const int n = p->dpad;
    float *v = malloc(sizeof(float) * 2 * (size_t)n);
    if (!v)
        abort(); /* n floats: a few KiB */
    for (int j = 0; j < n; j++) {
        memset(v, 0, sizeof(float) * (size_t)n);
        v[j] = 1.0f;
        rb_rotate_fwd(p, v, v + n);
        for (int i = 0; i < n; i++)
            Pi[(long)i * n + j] = v[i];
    }
    free(v);
}

void rb_kva_encode(const rb_qdq_params *p, const float *x, long rows, int norm_kind, uint32_t *codes, void *norms)
{
    const long wpr = rb_kv_row_bytes(p->dpad, p->bits) / 4;
    memset(codes, 0, sizeof(uint32_t) * (size_t)(rows * wpr));
#pragma omp parallel
    {
        float *v = malloc(sizeof(float) * 2 * (size_t)p->dpad);
#pragma omp for schedule(static)
        for (long r = 0; r < rows; r++) {
            const float *xr = x + r * p->d;
            float ss = 0.0f;
            for (int j = 0; j < p->d; j++)
                ss += xr[j] * xr[j];
            float rho = sqrtf(ss);
            if (!v)
                continue;
            if (!rb_row_is_finite(rho)) {
                rho = rb_bits_f32(0x7fc00000u); /* a NaN norm and zero codes (kvpack.h) */
            } else {
                const float inv = rb_inv_norm(rho);
                for (int j = 0; j < p->d; j++)
                    v[j] = xr[j] * inv;
                for (int j = p->d; j < p->dpad; j++)
                    v[j] = 0.0f;
                rb_rotate_fwd(p, v, v + p->dpad);
                for (int j = 0; j < p->dpad; j++)
                    rb_kv_put(codes + r * wpr, j, p->bits, (unsigned)rb_sq_index(v[j], p->bounds, p->nbounds));
            }
            if (norm_kind == RB_KV_NORM_FP16)
                ((uint16_t *)norms)[r] = rb_f32_to_f16(rho);
            else
                ((float *)norms)[r] = rho;
        }
        free(v);
    }
}

static float norm_of(const void *norms, int kind, long r)
{
    return kind == RB_KV_NORM_FP16 ? rb_f16_to_f32(((const uint16_t *)norms)[r]) : ((const float *)norms)[r];
}

/* The row of kv head g that query head h reads. */
static long kv_row0(const rb_kva_shape *s, int b, int h)
{
    const int g = h / (s->H / s->kv_heads);
    return ((long)b * s->kv_heads + g) * s->T;
}

void rb_kva_reference(const rb_kva_shape *s, const float *q, const float *K, const float *V, double *o,
                      double *scores)
{
    const int d = s->d;
    const double scale = 1.0 / sqrt((double)d);
#pragma omp parallel
    {
        double *sc = malloc(sizeof(double) * (size_t)s->T);
#pragma omp for schedule(dynamic)
        for (long w = 0; w < (long)s->B * s->H; w++) {
            const int b = (int)(w / s->H), h = (int)(w % s->H);
            const float *qq = q + w * d;
            const long r0 = kv_row0(s, b, h);
            double *ow = o + w * d, m = -INFINITY, z = 0;
            if (!sc)
                continue;
            for (long i = 0; i < s->T; i++) {
                const float *k = K + (r0 + i) * d;
                double acc = 0;
                for (int j = 0; j < d; j++)
                    acc += (double)qq[j] * (double)k[j];
                sc[i] = acc * scale;
                m = fmax(m, sc[i]);
            }
            for (long i = 0; i < s->T; i++)
                z += exp(sc[i] - m);
            for (int j = 0; j < d; j++)
                ow[j] = 0;
            for (long i = 0; i < s->T; i++) {
                const double pi = exp(sc[i] - m) / z;
                const float *v = V + (r0 + i) * d;
                for (int j = 0; j < d; j++)
                    ow[j] += pi * v[j];
            }
            if (scores)
                memcpy(scores + w * s->T, sc, sizeof(double) * (size_t)s->T);
        }
        free(sc);
    }
}

/* q' = Pi q (zero-padded) times 1/sqrt(d): the query rotated once, the scale folded in. */
static void rotate_query(const rb_kva_shape *s, int dpad, const float *Pi, const float *q, float *qr)
{
    const float scale = 1.0f / sqrtf((float)s->d);
    for (int i = 0; i < dpad; i++) {
        float a = 0.0f;
        for (int j = 0; j < s->d; j++)
            a += Pi[(long)i * dpad + j] * q[j];
        qr[i] = a * scale;
    }
}

/* rho_i <q', c(code_i)>, coordinates in order. */
static float code_score(const rb_qdq_params *p, const rb_kva_cache *c, long row, const float *qr)
{
    const uint32_t *w = c->kcodes + row * (c->row_bytes / 4);
    float a = 0.0f;
    for (int j = 0; j < p->dpad; j++)
        a += qr[j] * p->centroids[rb_kv_get(w, j, p->bits)];
    return norm_of(c->knorms, c->norm_kind, row) * a;
}

void rb_kva_attend_codes(const rb_kva_shape *s, const rb_qdq_params *p, const float *Pi, const float *q,
                         const rb_kva_cache *c, float *o)
{
    const int dp = p->dpad, S = s->split;
    const long ns = rb_kva_nsplits(s->T, S);
#pragma omp parallel
    {
        float *qr = malloc(sizeof(float) * ((size_t)dp * 2 + (size_t)S + (size_t)ns * (dp + 2)));
        float *orot = qr + dp, *sc = orot + dp, *ms = sc + S, *ls = ms + ns, *acc = ls + ns;
#pragma omp for schedule(dynamic)
        for (long w = 0; w < (long)s->B * s->H; w++) {
            if (!qr)
                continue;
            const long r0 = kv_row0(s, (int)(w / s->H), (int)(w % s->H));
            rotate_query(s, dp, Pi, q + w * s->d, qr);
            for (long sp = 0; sp < ns; sp++) {
                const long t0 = sp * S;
                const int n = (int)(s->T - t0 < S ? s->T - t0 : S);
                for (int i = 0; i < n; i++)
                    sc[i] = code_score(p, c, r0 + t0 + i, qr);
                const float m = rb_kva_split_max(sc, n);
                float l = 0.0f, *a = acc + sp * dp;
                for (int j = 0; j < dp; j++)
                    a[j] = 0.0f;
                for (int i = 0; i < n; i++) {
                    const float e = expf(sc[i] - m);
                    const long row = r0 + t0 + i;
                    const float wv = e * norm_of(c->vnorms, c->norm_kind, row);
                    const uint32_t *vw = c->vcodes + row * (c->row_bytes / 4);
                    l += e;
                    for (int j = 0; j < dp; j++)
                        a[j] += wv * p->centroids[rb_kv_get(vw, j, p->bits)];
                }
                ms[sp] = m;
                ls[sp] = l;
            }
            rb_kva_combine((int)ns, ms, ls, acc, dp, orot);
            for (int i = 0; i < s->d; i++) { /* o = Pi^T o', once per query */
                float a = 0.0f;
                for (int j = 0; j < dp; j++)
                    a += Pi[(long)j * dp + i] * orot[j];
                o[w * s->d + i] = a;
            }
        }
        free(qr);
    }
}

void rb_kva_scores_codes(const rb_kva_shape *s, const rb_qdq_params *p, const float *Pi, const float *q,
                         const rb_kva_cache *c, double *scores)
{
#pragma omp parallel
    {
        float *qr = malloc(sizeof(float) * (size_t)p->dpad);
#pragma omp for schedule(dynamic)
        for (long w = 0; w < (long)s->B * s->H; w++) {
            if (!qr)
                continue;
            const long r0 = kv_row0(s, (int)(w / s->H), (int)(w % s->H));
            rotate_query(s, p->dpad, Pi, q + w * s->d, qr);
            for (long i = 0; i < s->T; i++)
                scores[w * s->T + i] = code_score(p, c, r0 + i, qr);
        }
        free(qr);
    }
}

static float fp16_score(const rb_kva_shape *s, const uint16_t *K16, long row, const float *qs)
{
    const uint16_t *k = K16 + row * s->d;
    float a = 0.0f;
    for (int j = 0; j < s->d; j++)
        a += qs[j] * rb_f16_to_f32(k[j]);
    return a;
}

static void scaled_query(const rb_kva_shape *s, const float *q, float *qs)
{
    const float scale = 1.0f / sqrtf((float)s->d);
    for (int j = 0; j < s->d; j++)
        qs[j] = q[j] * scale;
}

void rb_kva_attend_fp16(const rb_kva_shape *s, const float *q, const uint16_t *K16, const uint16_t *V16, float *o)
{
    const int d = s->d, S = s->split;
    const long ns = rb_kva_nsplits(s->T, S);
#pragma omp parallel
    {
        float *qs = malloc(sizeof(float) * ((size_t)d + (size_t)S + (size_t)ns * (d + 2)));
        float *sc = qs + d, *ms = sc + S, *ls = ms + ns, *acc = ls + ns;
#pragma omp for schedule(dynamic)
        for (long w = 0; w < (long)s->B * s->H; w++) {
            if (!qs)
                continue;
            const long r0 = kv_row0(s, (int)(w / s->H), (int)(w % s->H));
            scaled_query(s, q + w * d, qs);
            for (long sp = 0; sp < ns; sp++) {
                const long t0 = sp * S;
                const int n = (int)(s->T - t0 < S ? s->T - t0 : S);
                for (int i = 0; i < n; i++)
                    sc[i] = fp16_score(s, K16, r0 + t0 + i, qs);
                const float m = rb_kva_split_max(sc, n);
                float l = 0.0f, *a = acc + sp * d;
                for (int j = 0; j < d; j++)
                    a[j] = 0.0f;
                for (int i = 0; i < n; i++) {
                    const float e = expf(sc[i] - m);
                    const uint16_t *v = V16 + (r0 + t0 + i) * d;
                    l += e;
                    for (int j = 0; j < d; j++)
                        a[j] += e * rb_f16_to_f32(v[j]);
                }
                ms[sp] = m;
                ls[sp] = l;
            }
            rb_kva_combine((int)ns, ms, ls, acc, d, o + w * d);
        }
        free(qs);
    }
}

void rb_kva_scores_fp16(const rb_kva_shape *s, const float *q, const uint16_t *K16, double *scores)
{
#pragma omp parallel
    {
        float *qs = malloc(sizeof(float) * (size_t)s->d);
#pragma omp for schedule(dynamic)
        for (long w = 0; w < (long)s->B * s->H; w++) {
            if (!qs)
                continue;
            const long r0 = kv_row0(s, (int)(w / s->H), (int)(w % s->H));
            scaled_query(s, q + w * s->d, qs);
            for (long i = 0; i < s->T; i++)
                scores[w * s->T + i] = fp16_score(s, K16, r0 + i, qs);
        }
        free(qs);
    }
}

void rb_kva_compare(const rb_kva_shape *s, const double *ref_scores, const double *ref_o, const double *scores,
                    const float *o, rb_kva_metrics *m)
{
    const long n = s->T, nw = (long)s->B * s->H;
    const int k = n < RB_ATTN_TOPK ? (int)n : RB_ATTN_TOPK;
    char *ok = malloc((size_t)n);
    memset(m, 0, sizeof *m);
    if (!ok) {
        m->out_cos = m->kl = m->top1 = m->top5 = m->max_rel_err = NAN;
        return;
    }
    memset(ok, 1, (size_t)n);
    for (long w = 0; w < nw; w++) {
        const double *rs = ref_scores + w * n, *as = scores + w * n;
        double mr = -INFINITY, ma = -INFINITY, zr = 0, za = 0, kl = 0;
        for (long i = 0; i < n; i++) {
            mr = fmax(mr, rs[i]);
            ma = fmax(ma, as[i]);
        }
        for (long i = 0; i < n; i++) {
            zr += exp(rs[i] - mr);
            za += exp(as[i] - ma);
        }
        const double lzr = log(zr), lza = log(za);
        for (long i = 0; i < n; i++) {
            const double lp = rs[i] - mr - lzr, lq = as[i] - ma - lza;
            kl += exp(lp) * (lp - lq);
        }
        int tr[RB_ATTN_TOPK], ta[RB_ATTN_TOPK], both = 0;
        rb_attn_top_k(rs, ok, (int)n, k, tr);
        rb_attn_top_k(as, ok, (int)n, k, ta);
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                both += tr[a] == ta[b];
        double dot = 0, nr = 0, na = 0, emax = 0, rmax = 0;
        for (int j = 0; j < s->d; j++) {
            const double x = ref_o[w * s->d + j], y = o[w * s->d + j];
            dot += x * y;
            nr += x * x;
            na += y * y;
            emax = fmax(emax, fabs(y - x));
            rmax = fmax(rmax, fabs(x));
        }
        m->kl += kl;
        m->top1 += tr[0] == ta[0];
        m->top5 += (double)both / k;
        m->out_cos += nr > 0 && na > 0 ? dot / sqrt(nr * na) : 0;
        const double rel = rmax > 0 ? emax / rmax : (emax > 0 ? INFINITY : 0);
        if (isnan(rel) || isnan(m->max_rel_err) || rel > m->max_rel_err)
            m->max_rel_err = isnan(m->max_rel_err) ? m->max_rel_err : rel; /* a NaN stays */
    }
    m->kl /= nw;
    m->top1 /= nw;
    m->top5 /= nw;
    m->out_cos /= nw;
    free(ok);
}
