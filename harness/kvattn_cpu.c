/* kvattn_cpu.c: decode attention over a KV cache on the CPU (kvattn_cpu.h): the fp32 reference,
 * the compressed and fp16 caches computed in the kernels' order (kvattn_split.h), the metrics. */
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

/* Sum of 32 lanes' values as the kernels' butterfly takes it (kvattn_split.h). */
static float butterfly_sum(float *v)
{
    for (int o = 16; o > 0; o >>= 1) {
        float t[32];
        for (int i = 0; i < 32; i++)
            t[i] = v[i] + v[i ^ o];
        memcpy(v, t, sizeof t);
    }
    return v[0];
}

/* q' = Pi q_pad (once per query), in the rotate kernel's order; q itself without a rotation or
 * for the fp16 cache. */
static void query_prime(const rb_kvattn_args *a, int fp16, const float *q, float *qr)
{
    const int n = fp16 ? a->d : a->dpad;
    for (int i = 0; i < n; i++) {
        if (fp16 || !a->pi) {
            qr[i] = i < a->d ? q[i] : 0.0f;
            continue;
        }
        float lane[32];
        for (int l = 0; l < 32; l++) {
            float acc = 0.0f;
            for (int j = l; j < n; j += 32)
                acc = fmaf(a->pi[(long)i * n + j], j < a->d ? q[j] : 0.0f, acc);
            lane[l] = acc;
        }
        qr[i] = butterfly_sum(lane);
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

/* One warp's state over its share of a split (kvattn_split.h): the running max, the sum and the
 * accumulators, dp of them. */
typedef struct {
    float m, l, *acc;
} warp_state;

static void warp_reset(warp_state *st, int dp)
{
    st->m = -INFINITY;
    st->l = 0.0f;
    memset(st->acc, 0, sizeof(float) * (size_t)dp);
}

/* Token row's score sum <q', c(code)> as the compressed split kernel adds it up (rb_kva_table);
 * coordinates past dpad (a compiled width's overhang) have q' = 0 and add nothing. */
static float code_score(const rb_kvattn_args *a, const uint32_t *kw, const float *qr, int table)
{
    const float *c = a->centroids;
    const int n = a->dpad, b = a->bits;
    float sc = 0.0f;
    if (table == 2) {
        for (int j = 0; j < n; j += 2) {
            const float hi = j + 1 < n ? qr[j + 1] : 0.0f, chi = j + 1 < n ? c[rb_kv_get(kw, j + 1, b)] : 0.0f;
            sc += fmaf(hi, chi, qr[j] * c[rb_kv_get(kw, j, b)]);
        }
    } else {
        for (int j = 0; j < n; j++) {
            const float cv = c[rb_kv_get(kw, j, b)];
            sc = table ? sc + qr[j] * cv : fmaf(qr[j], cv, sc);
        }
    }
    return sc;
}

/* Warp `wi` of the split [t0, t1) over the compressed cache: its tiles wi, wi + NW, ... */
static void warp_compressed(const rb_kvattn_args *a, long r0, const float *qr, long t0, long t1, int wi, int table,
                            warp_state *st)
{
    const long wpr = rb_kv_row_bytes(a->dpad, a->bits) / 4;
    const long ntiles = (t1 - t0 + RB_KVA_TT - 1) / RB_KVA_TT;
    float lane_l[32] = {0}, sg[RB_KVA_TT], wt[RB_KVA_TT];
    for (long tl = wi; tl < ntiles; tl += RB_KVA_NW) {
        const long i0 = t0 + tl * RB_KVA_TT;
        const int n = (int)(t1 - i0 < RB_KVA_TT ? t1 - i0 : RB_KVA_TT);
        float mx = st->m;
        for (int i = 0; i < n; i++) {
            const long row = r0 + i0 + i;
            sg[i] = code_score(a, (const uint32_t *)a->kcodes + row * wpr, qr, table) *
                    norm_of(a->knorms, a->norm_kind, row) * a->scale;
            mx = fmaxf(mx, sg[i]);
        }
        const float f = rb_kva_rescale(st->m, mx);
        for (int i = 0; i < 32; i++) {
            const float p = i < n ? expf(sg[i] - mx) : 0.0f;
            lane_l[i] = fmaf(lane_l[i], f, p);
            if (i < n)
                wt[i] = p * norm_of(a->vnorms, a->norm_kind, r0 + i0 + i);
        }
        st->m = mx;
        for (int j = 0; j < a->dpad; j++)
            st->acc[j] *= f;
        for (int t = 0; t < n; t++) {
            const uint32_t *vw = (const uint32_t *)a->vcodes + (r0 + i0 + t) * wpr;
            for (int j = 0; j < a->dpad; j++)
                st->acc[j] = fmaf(wt[t], a->centroids[rb_kv_get(vw, j, a->bits)], st->acc[j]);
        }
    }
    st->l = butterfly_sum(lane_l);
}

/* Warp `wi` of the split [t0, t1) over the fp16 cache: its steps of U tokens. */
static void warp_fp16(const rb_kvattn_args *a, long r0, const float *q, long t0, long t1, int wi, warp_state *st)
{
    const int d = a->d, U = rb_kva_fp16_u(a->Hq / a->Hkv), KP = rb_kva_fp16_kp(d), E = d & 1 ? 1 : 2;
    const uint16_t *K = (const uint16_t *)a->k16, *V = (const uint16_t *)a->v16;
    float sc[RB_KVA_U_MAX];
    long row[RB_KVA_U_MAX];
    for (long i0 = t0 + (long)wi * U; i0 < t1; i0 += (long)RB_KVA_NW * U) {
        float mn = st->m;
        for (int u = 0; u < U; u++) {
            row[u] = r0 + (i0 + u < t1 ? i0 + u : t1 - 1); /* a clamped token is read, then weighted 0 */
            const uint16_t *k = K + row[u] * d;
            float lane[32];
            for (int l = 0; l < 32; l++) {
                float p = 0.0f;
                for (int kk = 0; kk < KP; kk++)
                    for (int e = 0; e < E && E * (l + 32 * kk) < d; e++)
                        p = fmaf(q[E * (l + 32 * kk) + e], rb_f16_to_f32(k[E * (l + 32 * kk) + e]), p);
                lane[l] = p;
            }
            sc[u] = i0 + u < t1 ? butterfly_sum(lane) * a->scale : -INFINITY;
            mn = fmaxf(mn, sc[u]);
        }
        const float f = rb_kva_rescale(st->m, mn);
        st->l *= f;
        for (int j = 0; j < d; j++)
            st->acc[j] *= f;
        for (int u = 0; u < U; u++) {
            const float p = i0 + u < t1 ? expf(sc[u] - mn) : 0.0f;
            const uint16_t *v = V + row[u] * d;
            st->l += p;
            for (int j = 0; j < d; j++)
                st->acc[j] = fmaf(p, rb_f16_to_f32(v[j]), st->acc[j]);
        }
        st->m = mn;
    }
}

/* n states (m[s], l[s], acc[s][dim] at stride) merged in order into m, l, acc (the kernels'
 * kva_write_partials over warps, the combine over splits). */
static void merge_states(int n, const float *m, const float *l, const float *acc, long stride, int dim, float *mo,
                         float *lo, float *acco)
{
    float M = -INFINITY;
    for (int s = 0; s < n; s++)
        M = fmaxf(M, m[s]);
    float L = 0.0f;
    for (int s = 0; s < n; s++)
        L = fmaf(l[s], rb_kva_rescale(m[s], M), L);
    for (int j = 0; j < dim; j++) {
        float v = 0.0f;
        for (int s = 0; s < n; s++)
            v = fmaf(acc[s * stride + j], rb_kva_rescale(m[s], M), v);
        acco[j] = v;
    }
    *mo = M;
    *lo = L;
}

/* Query w's output as the kernels compute it (kvattn_split.h): per split its warps, their merge,
 * then the combine and the rotation back. scratch: (NW + nsplit) (dp + 2) + dp floats. */
static void attend_query(const rb_kvattn_args *a, int fp16, long w, const float *qr, float *scratch, void *ctx)
{
    (void)ctx;
    const int dp = fp16 ? a->d : a->dpad, G = a->Hq / a->Hkv, ns = rb_kvattn_nsplit(a->T, a->split);
    const int table = fp16 ? 0 : rb_kva_table(a->bits, rb_kva_nch(a->bits, G, a->dpad), G, a->dpad);
    const long r0 = kv_row0(a, w);
    float wm[RB_KVA_NW], wl[RB_KVA_NW], *wacc = scratch; /* [NW][dp] */
    float *sm = wacc + (long)RB_KVA_NW * dp, *sl = sm + ns, *sacc = sl + ns, *os = sacc + (long)ns * dp;
    for (int s = 0; s < ns; s++) {
        const long t0 = (long)s * a->split, t1 = t0 + a->split < a->T ? t0 + a->split : a->T;
        for (int wi = 0; wi < RB_KVA_NW; wi++) {
            warp_state st = {0.0f, 0.0f, wacc + (long)wi * dp};
            warp_reset(&st, dp);
            if (fp16)
                warp_fp16(a, r0, qr, t0, t1, wi, &st);
            else
                warp_compressed(a, r0, qr, t0, t1, wi, table, &st);
            wm[wi] = st.m;
            wl[wi] = st.l;
        }
        merge_states(RB_KVA_NW, wm, wl, wacc, dp, dp, &sm[s], &sl[s], sacc + (long)s * dp);
    }
    float M, L;
    merge_states(ns, sm, sl, sacc, dp, dp, &M, &L, os);
    for (int j = 0; j < dp; j++)
        os[j] /= L;
    float *o = a->o + w * a->d;
    for (int i = 0; i < a->d; i++) { /* o = (Pi^T o')[0, d), once per query */
        if (fp16 || !a->pi) {
            o[i] = os[i];
            continue;
        }
        float v = 0.0f;
        for (int j = 0; j < dp; j++)
            v = fmaf(a->pi[(long)j * dp + i], os[j], v);
        o[i] = v;
    }
}

void rb_kva_attend(const rb_kvattn_args *a, int fp16)
{
    const int dp = fp16 ? a->d : a->dpad, ns = rb_kvattn_nsplit(a->T, a->split);
    each_query(a, fp16, (size_t)(RB_KVA_NW + ns) * (size_t)(dp + 2) + (size_t)dp, attend_query, NULL);
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
