/* meas_lambda.h: the standalone GPU programs (latency_floor.cu, tc_dense_check.cu) time through
 * the harness's measurement module (harness/measure_gpu.h), so every number they print follows
 * the rules of rotorbench's records. Their launches go to the legacy default stream, which the
 * module then holds and times. */
#ifndef RB_TESTS_MEAS_LAMBDA_H
#define RB_TESTS_MEAS_LAMBDA_H

#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "measure_gpu.h"

template <class F> static int rb_meas_enq_lambda(void *ctx, cudaStream_t)
{
    (*static_cast<F *>(ctx))(); /* a failing API call exits inside f (CK) */
    const cudaError_t e = cudaGetLastError(); /* a failing kernel launch */
    if (e != cudaSuccess)
        fprintf(stderr, "a launch failed: %s\n", cudaGetErrorString(e));
    return e == cudaSuccess ? 0 : -1;
}

/* f() timed under o (NULL: the defaults every rotorbench setting is timed with) into *out;
 * returns the hot median per launch in microseconds. Exits 1 when the module fails. */
template <class F>
static double rb_meas_lambda_us(rb_meas_gpu *m, const rb_meas_opts *o, F &&f, rb_meas_result *out = nullptr)
{
    using Fn = std::remove_reference_t<F>;
    rb_meas_result r;
    if (rb_meas_gpu_run(m, o, rb_meas_enq_lambda<Fn>, const_cast<void *>(static_cast<const void *>(&f)), &r)) {
        fprintf(stderr, "the measurement failed (see above)\n");
        exit(1);
    }
    if (out)
        *out = r;
    return r.hot.median;
}

/* The module on the legacy default stream. Call before any other CUDA call: every module is
 * loaded at the first one (a kernel loaded lazily behind the module's blocking kernel could
 * deadlock). Exits 1 on failure. */
static rb_meas_gpu *rb_meas_standalone()
{
    setenv("CUDA_MODULE_LOADING", "EAGER", 1);
    rb_meas_gpu *m = rb_meas_gpu_create(0);
    if (!m) {
        fprintf(stderr, "the measurement module could not be set up (see above)\n");
        exit(1);
    }
    return m;
}

#endif
