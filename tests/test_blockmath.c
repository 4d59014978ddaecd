/* Block math shared by the CPU reference and the kernels: every transform is orthogonal,
 * its inverse undoes it, and the rotor sandwich keeps pure vectors pure. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "methods.h"
#include "counts.h"
#include "data.h"
#include "fp16.h"
#include "dense.h"
#include "givens.h"
#include "quat.h"
#include "reference.h"
#include "rotor.h"
#include "wht.h"

/* Deterministic uniform(-1,1) and unit-vector helpers (tests only). */
static uint64_t rng_state = 0x1234567ull;
static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return ((rng_state >> 11) * (1.0 / 9007199254740992.0)) * 2.0 - 1.0;
}

static double norm2(const float *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return s;
}

TEST(quaternion_product_table)
{
    /* i*j = k, j*k = i, k*i = j, i*i = -1 */
    float i[4] = {0, 1, 0, 0}, j[4] = {0, 0, 1, 0}, k[4] = {0, 0, 0, 1}, r[4];
    rb_quat_mul(i, j, r);
    CHECK(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 1, "i*j = (%g,%g,%g,%g)", r[0], r[1], r[2], r[3]);
    rb_quat_mul(j, k, r);
    CHECK(r[1] == 1 && r[0] == 0 && r[2] == 0 && r[3] == 0, "j*k = (%g,%g,%g,%g)", r[0], r[1], r[2], r[3]);
    rb_quat_mul(k, i, r);
    CHECK(r[2] == 1 && r[0] == 0 && r[1] == 0 && r[3] == 0, "k*i = (%g,%g,%g,%g)", r[0], r[1], r[2], r[3]);
    rb_quat_mul(i, i, r);
    CHECK(r[0] == -1 && r[1] == 0, "i*i = (%g,%g,%g,%g)", r[0], r[1], r[2], r[3]);
}

/* Random unit parameters and random blocks: forward keeps the norm, inverse undoes it. */
static void check_block_method(rb_method m, int d)
{
    rb_qdq_params p = {0};
    rb_qdq_params_shape(&p, m, d, 2);
    long len = rb_param_count(m, d);
    float *rot = malloc(sizeof(float) * (size_t)(len + 1));
    char err[128];
    CHECK(rb_params_generate(99, m, d, rot, err, sizeof err) == 0, "params: %s", err);
    p.rot = rot;
    float *v = calloc((size_t)p.dpad, sizeof(float)), *w = calloc((size_t)p.dpad, sizeof(float));
    float *tmp = calloc((size_t)p.dpad, sizeof(float));
    double worst_norm = 0, worst_inv = 0;
    for (int trial = 0; trial < 50; trial++) {
        for (int j = 0; j < p.dpad; j++)
            v[j] = w[j] = j < d ? (float)urand() : 0.0f;
        double n0 = norm2(v, p.dpad);
        rb_rotate_fwd(&p, v, tmp);
        double n1 = norm2(v, p.dpad);
        worst_norm = fmax(worst_norm, fabs(sqrt(n1) / sqrt(n0) - 1));
        rb_rotate_inv(&p, v, tmp);
        for (int j = 0; j < d; j++)
            worst_inv = fmax(worst_inv, fabs(v[j] - w[j]));
    }
    CHECK(worst_norm < 1e-6, "%s d=%d: relative norm change %.3g (want < 1e-6)", rb_method_name(m), d, worst_norm);
    CHECK(worst_inv < 2e-6, "%s d=%d: |inv(fwd(v)) - v| = %.3g (want < 2e-6)", rb_method_name(m), d, worst_inv);
    free(rot); free(v); free(w); free(tmp);
}

TEST(every_transform_is_orthogonal_and_invertible)
{
    FOR_EACH_ROTATION_METHOD(m)
        for (int d = 64; d <= 256; d *= 2)
            check_block_method((rb_method)m, d);
    /* block sizes that leave a zero-padded last block */
    check_block_method(method_id("rotorquant"), 128);
    check_block_method(method_id("isoquant-full"), 130);
    check_block_method(method_id("isoquant-fast"), 97);
    check_block_method(method_id("planarquant"), 7);
}

TEST(rotor_sandwich_keeps_pure_vectors_pure)
{
    double worst_grade = 0, worst_norm = 0, worst_back = 0, worst_sparse = 0;
    for (int trial = 0; trial < 1000; trial++) {
        float R[4], n = 0;
        for (int i = 0; i < 4; i++) {
            R[i] = (float)urand();
            n += R[i] * R[i];
        }
        for (int i = 0; i < 4; i++)
            R[i] /= sqrtf(n);
        float x[8] = {0}, y[8], z[8], Rr[4];
        for (int i = 1; i <= 3; i++)
            x[i] = (float)urand();
        rb_cl3_sandwich(R, x, y);
        /* grades 0, 2, 3 must vanish */
        float other = fabsf(y[0]) + fabsf(y[4]) + fabsf(y[5]) + fabsf(y[6]) + fabsf(y[7]);
        worst_grade = fmax(worst_grade, other);
        worst_norm = fmax(worst_norm, fabs(sqrt(norm2(y + 1, 3)) - sqrt(norm2(x + 1, 3))));
        rb_cl3_reverse(R, Rr);
        rb_cl3_sandwich(Rr, y, z); /* R~ (R v R~) R = v */
        for (int i = 0; i < 8; i++)
            worst_back = fmax(worst_back, fabs(z[i] - x[i]));
        /* the sparse kernel form equals the general product's vector part */
        float v[3] = {x[1], x[2], x[3]};
        rb_rotor_fwd(R, v);
        for (int i = 0; i < 3; i++)
            worst_sparse = fmax(worst_sparse, fabs(v[i] - y[i + 1]));
    }
    CHECK(worst_grade < 1e-6, "non-vector grades after the sandwich: %.3g", worst_grade);
    CHECK(worst_norm < 1e-6, "norm change: %.3g", worst_norm);
    CHECK(worst_back < 1e-6, "R~ (R v R~) R - v: %.3g", worst_back);
    CHECK(worst_sparse < 1e-6, "sparse vs general sandwich: %.3g", worst_sparse);
}

TEST(rotor_known_rotation)
{
    /* R = cos(t/2) - sin(t/2) e12 rotates e1 toward e2 by t in this convention, or the other
     * way: either way e1 must land on (cos t, +-sin t, 0). */
    double t = 0.7;
    float R[4] = {(float)cos(t / 2), (float)sin(t / 2), 0, 0};
    float v[3] = {1, 0, 0};
    rb_rotor_fwd(R, v);
    CHECK_NEAR(v[0], cos(t), 1e-6);
    CHECK_NEAR(fabs(v[1]), sin(t), 1e-6);
    CHECK_NEAR(v[2], 0, 1e-7);
}

TEST(wht_matches_sylvester_matrix)
{
    /* H[i][j] = (-1)^popcount(i & j) */
    enum { D = 16 };
    float x[D], y[D], s[D];
    for (int j = 0; j < D; j++) {
        x[j] = (float)urand();
        s[j] = 1.0f;
    }
    for (int j = 0; j < D; j++)
        y[j] = x[j];
    rb_wht_fwd(s, y, D, 0.25f);
    double worst = 0;
    for (int i = 0; i < D; i++) {
        double acc = 0;
        for (int j = 0; j < D; j++)
            acc += (__builtin_popcount(i & j) & 1 ? -1 : 1) * x[j];
        worst = fmax(worst, fabs(acc / 4 - y[i]));
    }
    CHECK(worst < 1e-6, "WHT vs explicit H: %.3g", worst);
}

TEST(scalar_quantizer_counts_boundaries)
{
    float b[3] = {-0.5f, 0.0f, 0.5f}, c[4] = {-0.75f, -0.25f, 0.25f, 0.75f};
    CHECK(rb_sq_index(-1.0f, b, 3) == 0, "below all");
    CHECK(rb_sq_index(-0.5f, b, 3) == 0, "on a boundary: lower cell");
    CHECK(rb_sq_index(0.1f, b, 3) == 2, "between");
    CHECK(rb_sq_index(9.0f, b, 3) == 3, "above all");
    CHECK(rb_sq_qdq(0.3f, b, c, 3) == 0.25f, "qdq");
}

TEST(fp16_rounding_bit_patterns)
{
    struct { float f; uint16_t h; } cases[] = {
        {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000},
        {65504.0f, 0x7bff}, {65519.0f, 0x7bff}, {65520.0f, 0x7c00}, {1e6f, 0x7c00},
        {5.9604644775390625e-8f, 0x0001},             /* smallest subnormal 2^-24 */
        {2.98023223876953125e-8f, 0x0000},            /* 2^-25: tie, to even (zero) */
        {4.4703483581542969e-8f, 0x0001},             /* 1.5 * 2^-25 rounds up */
        {6.103515625e-05f, 0x0400},                   /* smallest normal */
        {1.0009765625f, 0x3c01},                      /* 1 + 2^-10 exact */
        {1.00048828125f, 0x3c00},                     /* 1 + 2^-11: tie, to even */
        {1.00146484375f, 0x3c02},                     /* 1 + 3*2^-11: tie, to even (up) */
        {0.1f, 0x2e66}, {0.333333343f, 0x3555},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t h = rb_f32_to_f16(cases[i].f);
        CHECK(h == cases[i].h, "f32->f16(%.9g) = 0x%04x, want 0x%04x", cases[i].f, h, cases[i].h);
    }
    CHECK(rb_f32_to_f16(NAN) == 0x7e00, "NaN -> 0x%04x", rb_f32_to_f16(NAN));
    CHECK(rb_f32_to_f16(-INFINITY) == 0xfc00, "-Inf -> 0x%04x", rb_f32_to_f16(-INFINITY));
    /* every finite half survives a round trip through float */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++)
        if (((h >> 10) & 0x1f) != 0x1f && rb_f32_to_f16(rb_f16_to_f32((uint16_t)h)) != h)
            bad++;
    CHECK(bad == 0, "%d halves do not round-trip", bad);
    CHECK(rb_f16_to_f32(0x0001) == 5.9604644775390625e-8f, "subnormal decode");
}
