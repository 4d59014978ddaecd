/* Decode attention on the GPU (the backend's kv_attention hook) against the CPU's split attention
 * (harness/kvattn_cpu.c) on the same cache: every method that packs codes at 2/3/4 bits and the
 * fp16 cache, T = 1 and T not a multiple of the split, 4 query heads per KV head, rows of norms
 * 0.01 .. 100. Issue 28's target: the outputs agree to 1e-6 of the largest output, per query. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "backend.h"
#include "codebook.h"
#include "counts.h"
#include "data.h"
#include "fp16.h"
#include "gpu_backend.h"
#include "kvattn_cpu.h"
#include "kvcodec.h"
#include "registry.h"

static uint64_t st;
static float gauss(void)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        u[k] = ((st >> 11) + 0.5) / 9007199254740992.0;
    }
    return (float)(sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

/* Worst |o_gpu - o_cpu| / max_j |o_cpu| over the queries (b, h). */
static double worst(const rb_kvattn_args *a, const float *g, const float *c)
{
    double w = 0;
    for (long q = 0; q < (long)a->B * a->Hq; q++) {
        double e = 0, m = 0;
        for (int j = 0; j < a->d; j++) {
            const long i = q * a->d + j;
            e = isnan(g[i]) != isnan(c[i]) ? INFINITY : fmax(e, fabs((double)g[i] - c[i]));
            m = fmax(m, fabs(c[i]));
        }
        w = fmax(w, m > 0 ? e / m : e);
    }
    return w;
}

static void one_shape(rb_backend *be, int T, int split, int d)
{
    rb_kvattn_args a = {0};
    a.B = 2; a.Hq = 8; a.Hkv = 2; a.T = T; a.d = d; a.dpad = d;
    a.split = split ? split : rb_kvattn_default_split(a.B, a.Hkv, T, 132);
    a.scale = 1.0f / sqrtf((float)d);
    const long rows = rb_kva_rows(&a), nq = (long)a.B * a.Hq;
    float *K = malloc(sizeof(float) * (size_t)(rows * d)), *V = malloc(sizeof(float) * (size_t)(rows * d));
    float *q = malloc(sizeof(float) * (size_t)(nq * d)), *og = malloc(sizeof(float) * (size_t)(nq * d));
    float *oc = malloc(sizeof(float) * (size_t)(nq * d));
    uint16_t *K16 = malloc(sizeof(uint16_t) * (size_t)(rows * d)), *V16 = malloc(sizeof(uint16_t) * (size_t)(rows * d));
    st = 17 + (uint64_t)T;
    for (long r = 0; r < rows; r++) {
        const float kn = (0.2f + (float)(r % 7) * 0.3f) / sqrtf((float)d), vn = powf(10.0f, -2.0f + (float)(r % 5));
        for (int j = 0; j < d; j++) {
            K[r * d + j] = kn * gauss();
            V[r * d + j] = vn * gauss() / sqrtf((float)d);
            K16[r * d + j] = rb_f32_to_f16(K[r * d + j]);
            V16[r * d + j] = rb_f32_to_f16(V[r * d + j]);
        }
    }
    for (long i = 0; i < nq * d; i++)
        q[i] = gauss();
    a.q = q;
    a.k16 = K16;
    a.v16 = V16;
    rb_timing t;
    a.o = og;
    int ok = be->kv_attention(be, &a, 1, &t) == 0;
    a.o = oc;
    rb_kva_attend(&a, 1);
    double w = ok ? worst(&a, og, oc) : INFINITY;
    CHECK(w <= 1e-6, "fp16 cache T %d split %d d %d: GPU vs CPU %.3g", T, a.split, d, w);
    fprintf(stderr, "    fp16 cache T=%d split=%d d=%d: GPU vs CPU %.2g\n", T, a.split, d, w);
    for (rb_method m = 0; m < rb_methods_count(); m++) {
        const rb_method_desc *md = rb_method_get(m);
        if (!rb_kv_method_packs(m) || (md->check_d && md->check_d(d)))
            continue;
        const long len = rb_param_count(m, d);
        float *rot = malloc(sizeof(float) * (size_t)(len > 0 ? len : 1));
        char err[256];
        CHECK(rb_params_generate(5, m, d, rot, err, sizeof err) == 0, "%s params", md->name);
        for (int bits = 2; bits <= 4; bits++) {
            rb_codebook cb;
            rb_qdq_params p;
            CHECK(rb_codebook_solve(RB_CODEBOOK_GAUSSIAN, d, bits, &cb) == 0, "codebook");
            rb_qdq_params_shape(&p, m, d, bits);
            p.bounds = cb.bounds_f;
            p.centroids = cb.centroids_f;
            p.rot = rot;
            const size_t cbytes = (size_t)(rows * rb_kv_row_bytes(p.dpad, bits));
            void *kc = malloc(cbytes), *vc = malloc(cbytes);
            uint16_t *kn = malloc(sizeof(uint16_t) * (size_t)rows), *vn = malloc(sizeof(uint16_t) * (size_t)rows);
            float *Pi = malloc(sizeof(float) * (size_t)p.dpad * p.dpad);
            rb_kva_rotation_matrix(&p, Pi);
            CHECK(rb_cpu_encode_rows(&p, RB_KV_NORM_FP16, K, rows, kc, kn) == 0 &&
                      rb_cpu_encode_rows(&p, RB_KV_NORM_FP16, V, rows, vc, vn) == 0, "encode");
            rb_kvattn_args c = a;
            c.dpad = p.dpad;
            c.bits = bits;
            c.norm_kind = RB_KV_NORM_FP16;
            c.kcodes = kc;
            c.vcodes = vc;
            c.knorms = kn;
            c.vnorms = vn;
            c.centroids = cb.centroids_f;
            c.pi = Pi;
            c.k16 = c.v16 = NULL;
            c.o = og;
            ok = be->kv_attention(be, &c, 0, &t) == 0;
            c.o = oc;
            rb_kva_attend(&c, 0);
            w = ok ? worst(&c, og, oc) : INFINITY;
            CHECK(w <= 1e-6, "%s b %d T %d split %d d %d: GPU vs CPU %.3g", md->name, bits, T, c.split, d, w);
            fprintf(stderr, "    %s b=%d T=%d split=%d d=%d: GPU vs CPU %.2g\n", md->name, bits, T, c.split, d, w);
            free(kc); free(vc); free(kn); free(vn); free(Pi);
        }
        free(rot);
    }
    free(K); free(V); free(q); free(og); free(oc); free(K16); free(V16);
}

TEST(kvattn_gpu_matches_cpu_split_attention)
{
    rb_backend *be = rb_test_gpu_backend();
    CHECK(be != NULL && be->kv_attention != NULL, "no GPU backend with kv_attention");
    if (!be || !be->kv_attention)
        return;
    const int was = be->profile;
    be->profile = 1; /* no timing loop: the output is what is checked */
    one_shape(be, 1, 0, 128);
    one_shape(be, 1000, 128, 128);
    one_shape(be, 4100, 0, 64);
    be->profile = was;
}
