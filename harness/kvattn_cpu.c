/* kvattn_cpu.c: decode attention over a KV cache on the CPU (kvattn_cpu.h): the fp32 reference,
 * the compressed and fp16 caches as the GPU computes them (kvattn_split.h), the metrics. */
#include "kvattn_cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "fp16.h"
#include "kvattn_split.h"
#include "reference.h"

double rb_kva_host_bytes(const rb_kvattn_args *a, int dpad)
{
    rb_kvattn_args c = *a;
    c.dpad = dpad;
    c.bits = 8;
    c.norm_kind = RB_KV_NORM_FP32;
    const double rows = (double)rb_kva_rows(a), qh = (double)a->B * a->Hq;
    return rows * a->d * 2 * 4.0 + rb_kvattn_cache_bytes(&c, 1) + rb_kvattn_cache_bytes(&c, 0) /* K, V fp32, fp16, codes */
           + 2 * qh * a->T * 8.0                                   /* reference and method scores */
           + qh * (a->d * 8.0 + 3 * dpad * 4.0) + (double)dpad * dpad * 4.0;
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

/* A row's stored norm (rho = 1 without norms). */
static float norm_of(const void *norms, int kind, long r)
{
    return kind == RB_KV_NORM_FP16 ? rb_f16_to_f32(((const uint16_t *)norms)[r])
           : kind == RB_KV_NORM_FP32 ? ((const float *)norms)[r]
                                     : 1.0f;
}

/* The first cache row of the kv head that query (b, h) reads. */
static long kv_row0(const rb_kvattn_args *a, long w)
{
    const long b = w / a->Hq, h = w % a->Hq;
    return (b * a->Hkv + h / (a->Hq / a->Hkv)) * a->T;
}

void rb_kva_reference(const rb_kvattn_args *a, const float *K, const float *V, double *o, double *scores)
{
    const int d = a->d;
    const double scale = 1.0 / sqrt((double)d);
#pragma omp parallel
    {
        double *sc = malloc(sizeof(double) * (size_t)a->T);
#pragma omp for schedule(dynamic)
        for (long w = 0; w < (long)a->B * a->Hq; w++) {
            const float *qq = a->q + w * d;
            const long r0 = kv_row0(a, w);
            double *ow = o + w * d, m = -INFINITY, z = 0;
            if (!sc)
                continue;
            for (long i = 0; i < a->T; i++) {
                const float *k = K + (r0 + i) * d;
                double acc = 0;
                for (int j = 0; j < d; j++)
                    acc += (double)qq[j] * (double)k[j];
                sc[i] = acc * scale;
                m = fmax(m, sc[i]);
            }
            for (long i = 0; i < a->T; i++)
                z += exp(sc[i] - m);
            for (int j = 0; j < d; j++)
                ow[j] = 0;
            for (long i = 0; i < a->T; i++) {
                const double pi = exp(sc[i] - m) / z;
                const float *v = V + (r0 + i) * d;
                for (int j = 0; j < d; j++)
                    ow[j] += pi * v[j];
            }
            if (scores)
                memcpy(scores + w * a->T, sc, sizeof(double) * (size_t)a->T);
        }
        free(sc);
    }
}

/* q' = Pi q_pad (once per query); q itself without a rotation or for the fp16 cache. */
static void query_prime(const rb_kvattn_args *a, int fp16, const float *q, float *qr)
{
    const int n = fp16 ? a->d : a->dpad;
    for (int i = 0; i < n; i++) {
        float acc = 0.0f;
        if (fp16 || !a->pi)
            acc = i < a->d ? q[i] : 0.0f;
        else
            for (int j = 0; j < a->d; j++)
                acc += a->pi[(long)i * n + j] * q[j];
        qr[i] = acc;
    }
}

/* Token row's score: scale rho <q', c(code)> (compressed) or scale <q, k> (fp16), coordinates in order. */
static float score_of(const rb_kvattn_args *a, int fp16, long row, const float *qr)
{
    float dot = 0.0f;
    if (fp16) {
        const uint16_t *k = (const uint16_t *)a->k16 + row * a->d;
        for (int j = 0; j < a->d; j++)
            dot += qr[j] * rb_f16_to_f32(k[j]);
        return a->scale * dot;
    }
    const uint32_t *w = (const uint32_t *)a->kcodes + row * (rb_kv_row_bytes(a->dpad, a->bits) / 4);
    for (int j = 0; j < a->dpad; j++)
        dot += qr[j] * a->centroids[rb_kv_get(w, j, a->bits)];
    return a->scale * norm_of(a->knorms, a->norm_kind, row) * dot;
}

typedef void (*query_fn)(const rb_kvattn_args *a, int fp16, long w, const float *qr, float *scratch, void *ctx);

/* one(a, fp16, w, q'_w, scratch, ctx) for every query head w, over threads; each thread has its own
 * q' (dp floats) and nscratch floats of scratch. */
static void each_query(const rb_kvattn_args *a, int fp16, size_t nscratch, query_fn one, void *ctx)
{
    const int dp = fp16 ? a->d : a->dpad;
#pragma omp parallel
    {
        float *qr = malloc(sizeof(float) * ((size_t)dp + nscratch));
#pragma omp for schedule(dynamic)
        for (long w = 0; w < (long)a->B * a->Hq; w++) {
            if (!qr)
                continue;
            query_prime(a, fp16, a->q + w * a->d, qr);
            one(a, fp16, w, qr, qr + dp, ctx);
        }
        free(qr);
    }
}

/* Query w's output: per split the running max, sum and weighted V, then the combine. */
static void attend_query(const rb_kvattn_args *a, int fp16, long w, const float *qr, float *scratch, void *ctx)
{
    (void)ctx;
    const int dp = fp16 ? a->d : a->dpad, S = a->split, ns = rb_kvattn_nsplit(a->T, S);
    const long wpr = rb_kv_row_bytes(a->dpad, a->bits) / 4, r0 = kv_row0(a, w);
    float *orot = scratch, *sc = orot + dp, *ms = sc + S, *ls = ms + ns, *acc = ls + ns;
    for (int sp = 0; sp < ns; sp++) {
        const long t0 = (long)sp * S;
        const int n = (int)(a->T - t0 < S ? a->T - t0 : S);
        for (int i = 0; i < n; i++)
            sc[i] = score_of(a, fp16, r0 + t0 + i, qr);
        const float m = rb_kva_split_max(sc, n);
        float l = 0.0f, *ac = acc + (long)sp * dp;
        for (int j = 0; j < dp; j++)
            ac[j] = 0.0f;
        for (int i = 0; i < n; i++) {
            const float e = expf(sc[i] - m);
            const long row = r0 + t0 + i;
            l += e;
            if (fp16) {
                const uint16_t *v = (const uint16_t *)a->v16 + row * a->d;
                for (int j = 0; j < dp; j++)
                    ac[j] += e * rb_f16_to_f32(v[j]);
            } else { /* w_i = rhov_i c(vcode_i), the weight applied once per token */
                const float rv = norm_of(a->vnorms, a->norm_kind, row);
                const uint32_t *vw = (const uint32_t *)a->vcodes + row * wpr;
                for (int j = 0; j < dp; j++)
                    ac[j] += e * (rv * a->centroids[rb_kv_get(vw, j, a->bits)]);
            }
        }
        ms[sp] = m;
        ls[sp] = l;
    }
    float *o = a->o + w * a->d;
    rb_kva_combine(ns, ms, ls, acc, dp, orot);
    if (fp16 || !a->pi) {
        memcpy(o, orot, sizeof(float) * (size_t)a->d);
    } else {
        for (int i = 0; i < a->d; i++) { /* o = (Pi^T o')[0, d), once per query */
            float s = 0.0f;
            for (int j = 0; j < dp; j++)
                s += a->pi[(long)j * dp + i] * orot[j];
            o[i] = s;
        }
    }
}

void rb_kva_attend(const rb_kvattn_args *a, int fp16)
{
    const int dp = fp16 ? a->d : a->dpad, S = a->split, ns = rb_kvattn_nsplit(a->T, S);
    each_query(a, fp16, (size_t)dp + (size_t)S + (size_t)ns * (dp + 2), attend_query, NULL);
}

static void score_query(const rb_kvattn_args *a, int fp16, long w, const float *qr, float *scratch, void *ctx)
{
    (void)scratch;
    double *scores = ctx;
    const long r0 = kv_row0(a, w);
    for (long i = 0; i < a->T; i++)
        scores[w * a->T + i] = score_of(a, fp16, r0 + i, qr);
}

void rb_kva_scores(const rb_kvattn_args *a, int fp16, double *scores)
{
    each_query(a, fp16, 0, score_query, scores);
}

void rb_kva_compare(const rb_kvattn_args *a, const double *ref_scores, const double *ref_o, const double *scores,
                    rb_kva_metrics *m)
{
    const long n = a->T, nw = (long)a->B * a->Hq;
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
        for (int x = 0; x < k; x++)
            for (int y = 0; y < k; y++)
                both += tr[x] == ta[y];
        double dot = 0, nr = 0, na = 0, emax = 0, rmax = 0;
        for (int j = 0; j < a->d; j++) {
            const double x = ref_o[w * a->d + j], y = a->o[w * a->d + j];
            dot += x * y;
            nr += x * x;
            na += y * y;
            emax = isnan(y) || isnan(emax) ? NAN : fmax(emax, fabs(y - x));
            rmax = fmax(rmax, fabs(x));
        }
        m->kl += kl;
        m->top1 += tr[0] == ta[0];
        m->top5 += (double)both / k;
        m->out_cos += nr > 0 && na > 0 ? dot / sqrt(nr * na) : 0;
        const double rel = rmax > 0 ? emax / rmax : (emax > 0 ? INFINITY : emax);
        if (isnan(rel) || isnan(m->max_rel_err) || rel > m->max_rel_err)
            m->max_rel_err = isnan(m->max_rel_err) ? m->max_rel_err : rel; /* a NaN stays */
    }
    m->kl /= nw;
    m->top1 /= nw;
    m->top5 /= nw;
    m->out_cos /= nw;
    free(ok);
}
