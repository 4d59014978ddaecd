#include "data.h"

#include <curand.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fp16.h"

long rb_data_alloc_len(int d, long N)
{
    long n = (long)d * N;
    return n + (n & 1);
}

#define CURAND_TRY(call)                                                              \
    do {                                                                              \
        curandStatus_t st_ = (call);                                                  \
        if (st_ != CURAND_STATUS_SUCCESS) {                                           \
            snprintf(err, errlen, "cuRAND: %s failed with status %d", #call, (int)st_); \
            goto fail;                                                                \
        }                                                                             \
    } while (0)

/* n (even) Philox normals, float or double, from a fresh generator with this seed. */
static int philox_normals(uint64_t seed, long n, float *f, double *dbl, char *err, size_t errlen)
{
    curandGenerator_t g = NULL;
    CURAND_TRY(curandCreateGeneratorHost(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10));
    CURAND_TRY(curandSetPseudoRandomGeneratorSeed(g, seed));
    if (f)
        CURAND_TRY(curandGenerateNormal(g, f, (size_t)n, 0.0f, 1.0f));
    else
        CURAND_TRY(curandGenerateNormalDouble(g, dbl, (size_t)n, 0.0, 1.0));
    CURAND_TRY(curandDestroyGenerator(g));
    return 0;
fail:
    if (g)
        curandDestroyGenerator(g);
    return -1;
}

void rb_data_normalize_row(float *row, int d)
{
    double ss = 0.0;
    for (int j = 0; j < d; j++)
        ss = fma((double)row[j], (double)row[j], ss);
    double inv = ss > 0.0 ? 1.0 / sqrt(ss) : 0.0;
    for (int j = 0; j < d; j++)
        row[j] = (float)((double)row[j] * inv);
}

int rb_data_sphere(uint64_t seed, int d, long N, rb_dtype dtype, float *x, char *err, size_t errlen)
{
    rb_data_dist sphere = {.kind = RB_DIST_SPHERE, .scale = 1.0f};
    return rb_data_generate(&sphere, seed, d, N, dtype, x, err, errlen);
}

static uint64_t mix64(uint64_t z);

int rb_data_outlier_channels(const rb_data_dist *dist, uint64_t seed, int d, int *ch, char *err,
                             size_t errlen)
{
    int n = dist->channels;
    if (n < 1 || n > d) {
        snprintf(err, errlen, "channel-outliers: %d channels do not fit d = %d", n, d);
        return -1;
    }
    int *idx = malloc(sizeof(int) * (size_t)d);
    double *u = malloc(sizeof(double) * (size_t)n);
    curandGenerator_t g = NULL;
    if (!idx || !u) {
        snprintf(err, errlen, "out of host memory");
        goto fail;
    }
    /* its own stream: the channels do not move when N or the method list changes */
    CURAND_TRY(curandCreateGeneratorHost(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10));
    CURAND_TRY(curandSetPseudoRandomGeneratorSeed(g, mix64(seed ^ mix64(0x6368616e6e656cull + (uint64_t)d))));
    CURAND_TRY(curandGenerateUniformDouble(g, u, (size_t)n));
    CURAND_TRY(curandDestroyGenerator(g));
    g = NULL;
    for (int j = 0; j < d; j++)
        idx[j] = j;
    for (int i = 0; i < n; i++) { /* u in (0, 1] */
        int j = i + (int)(u[i] * (d - i));
        if (j >= d)
            j = d - 1;
        int t = idx[i]; idx[i] = idx[j]; idx[j] = t;
        ch[i] = idx[i];
    }
    free(idx);
    free(u);
    return 0;
fail:
    if (g)
        curandDestroyGenerator(g);
    free(idx);
    free(u);
    return -1;
}

int rb_data_queries(uint64_t seed, int d, int n, float *q, char *err, size_t errlen)
{
    long len = (long)n * d;
    double *g = malloc(sizeof(double) * (size_t)(len + 2));
    if (!g) {
        snprintf(err, errlen, "out of host memory for %d queries", n);
        return -1;
    }
    int rc = philox_normals(mix64(seed ^ mix64(0x7175657279ull + (uint64_t)d)), len + (len & 1), NULL, g, err, errlen);
    for (long i = 0; !rc && i < len; i++)
        q[i] = (float)g[i];
    free(g);
    return rc;
}

/* n normals of their own stream for (seed, d, tag): the shaping parameters of an input do not
 * move when N or the method list changes. */
static int side_normals(uint64_t seed, int d, uint64_t tag, long n, double *g, char *err, size_t errlen)
{
    return philox_normals(mix64(seed ^ mix64(tag + (uint64_t)d)), n + (n & 1), NULL, g, err, errlen);
}

int rb_data_shape_normals(const rb_data_dist *dist, uint64_t seed, int d, long N, float *g, char *err,
                          size_t errlen)
{
    if (dist->kind == RB_DIST_SPHERE || dist->kind == RB_DIST_FILE)
        return 0;
    if (dist->kind == RB_DIST_ANISOTROPIC) { /* channel j times exp(sigma z_j) */
        double *z = malloc(sizeof(double) * (size_t)(d + 1));
        if (!z || side_normals(seed, d, 0x616e69736full, d, z, err, errlen)) {
            if (!z)
                snprintf(err, errlen, "out of host memory");
            free(z);
            return -1;
        }
        for (int j = 0; j < d; j++)
            z[j] = exp(dist->sigma * z[j]);
        for (long i = 0; i < N; i++)
            for (int j = 0; j < d; j++)
                g[i * (long)d + j] = (float)(g[i * (long)d + j] * z[j]);
        free(z);
        return 0;
    }
    if (dist->kind == RB_DIST_LOWRANK) { /* x_i = U c_i + noise g_i, U (d x r) and c_i Gaussian */
        const int r = dist->rank < d ? dist->rank : d;
        double *U = malloc(sizeof(double) * ((size_t)d * r + 1)), *c = malloc(sizeof(double) * ((size_t)N * r + 1));
        int bad = !U || !c || side_normals(seed, d, 0x6c6f7772616e6bull, (long)d * r, U, err, errlen) ||
                  side_normals(seed ^ (uint64_t)N, d, 0x636f656666ull, N * r, c, err, errlen);
        if (!U || !c)
            snprintf(err, errlen, "out of host memory for the low-rank factors (%ld x %d)", N, r);
        for (long i = 0; !bad && i < N; i++)
            for (int j = 0; j < d; j++) {
                double acc = 0;
                for (int k = 0; k < r; k++)
                    acc += U[(long)j * r + k] * c[i * r + k];
                g[i * (long)d + j] = (float)(acc / sqrt((double)r) + dist->noise * g[i * (long)d + j]);
            }
        free(U);
        free(c);
        return bad ? -1 : 0;
    }
    int *ch = malloc(sizeof(int) * (size_t)d);
    if (!ch) {
        snprintf(err, errlen, "out of host memory");
        return -1;
    }
    if (rb_data_outlier_channels(dist, seed, d, ch, err, errlen)) {
        free(ch);
        return -1;
    }
    for (long i = 0; i < N; i++)
        for (int k = 0; k < dist->channels; k++)
            g[i * (long)d + ch[k]] *= dist->scale;
    free(ch);
    return 0;
}

int rb_data_generate(const rb_data_dist *dist, uint64_t seed, int d, long N, rb_dtype dtype, float *x,
                     char *err, size_t errlen)
{
    if (philox_normals(seed, rb_data_alloc_len(d, N), x, NULL, err, errlen))
        return -1;
    if (rb_data_shape_normals(dist, seed, d, N, x, err, errlen))
        return -1;
    for (long i = 0; i < N; i++) {
        float *row = x + i * (long)d;
        rb_data_normalize_row(row, d);
        if (dtype == RB_FP16)
            for (int j = 0; j < d; j++)
                row[j] = rb_round_f16(row[j]);
    }
    return 0;
}

/* splitmix64 finalizer: decorrelates nearby (seed, method, d) triples. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rb_param_seed(uint64_t seed, rb_method m, int d)
{
    uint64_t tag = rb_method_seed_tag(m);
    return mix64(seed ^ mix64(0x726f746f72ull + ((tag + 1) << 32) + (uint64_t)d));
}

/* Haar on O(d) with the sign fixed by diag(R) > 0: QR of a Gaussian matrix by modified
 * Gram-Schmidt, run twice per column for orthogonality to rounding. Columns of A are
 * orthonormalized in place; P = Q is stored row-major. */
static void haar_orthogonal(double *A, int d, float *P)
{
    for (int j = 0; j < d; j++) {
        for (int pass = 0; pass < 2; pass++)
            for (int k = 0; k < j; k++) {
                double dot = 0;
                for (int i = 0; i < d; i++)
                    dot += A[(long)i * d + k] * A[(long)i * d + j];
                for (int i = 0; i < d; i++)
                    A[(long)i * d + j] -= dot * A[(long)i * d + k];
            }
        double nrm = 0;
        for (int i = 0; i < d; i++)
            nrm += A[(long)i * d + j] * A[(long)i * d + j];
        nrm = sqrt(nrm);
        for (int i = 0; i < d; i++)
            A[(long)i * d + j] /= nrm;
    }
    for (long i = 0; i < (long)d * d; i++)
        P[i] = (float)A[i];
}

/* Normalize groups of k doubles to unit length (Haar on S^(k-1)) and store as float. */
static void unit_groups(const double *g, long ngroups, int k, float *out)
{
    for (long b = 0; b < ngroups; b++) {
        double n = 0;
        for (int i = 0; i < k; i++)
            n += g[b * k + i] * g[b * k + i];
        n = sqrt(n);
        for (int i = 0; i < k; i++)
            out[b * k + i] = (float)(g[b * k + i] / n);
    }
}

int rb_params_generate(uint64_t seed, rb_method m, int d, float *rot, char *err, size_t errlen)
{
    const rb_method_desc *x = rb_method_get(m);
    if (!x) {
        snprintf(err, errlen, "no method %d in the registry", (int)m);
        return -1;
    }
    long len = x->param_count(d);
    if (len <= 0 || x->param_kind == RB_PARAMS_NONE)
        return 0;
    int k = x->param_group;
    if ((x->param_kind == RB_PARAMS_HAAR && len != (long)d * d) ||
        (x->param_kind == RB_PARAMS_UNIT_GROUPS && len % k != 0)) {
        snprintf(err, errlen, "method %s: %ld parameters at d = %d do not fit its parameter kind", x->name,
                 len, d);
        return -1;
    }
    long n = len + (len & 1);
    double *g = malloc(sizeof(double) * (size_t)n);
    if (!g) {
        snprintf(err, errlen, "out of host memory for %ld rotation parameters", len);
        return -1;
    }
    if (philox_normals(rb_param_seed(seed, m, d), n, NULL, g, err, errlen)) {
        free(g);
        return -1;
    }
    switch (x->param_kind) {
    case RB_PARAMS_SIGNS:
        for (long j = 0; j < len; j++)
            rot[j] = g[j] >= 0 ? 1.0f : -1.0f;
        break;
    case RB_PARAMS_HAAR: haar_orthogonal(g, d, rot); break;
    case RB_PARAMS_UNIT_GROUPS: unit_groups(g, len / k, k, rot); break; /* a unit rotor or quaternion
                                                                          * is Haar on S^3 */
    default: break;
    }
    free(g);
    return 0;
}
