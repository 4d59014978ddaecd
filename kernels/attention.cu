/* attention.cu: the attention-level metrics on the device (definition: kernels/common/attn.h;
 * the CPU's twin is harness/attention.c). One thread block per (query, group of T rows):
 * dot products in double in coordinate order (bit-identical to the CPU's), softmax, KL, top-1
 * and top-5 by block reductions with the CPU's tie rule (the lower row), and the attention
 * outputs over the values (a paired input's rows, or the keys') summed in row order, a column
 * per thread. Not timed work: it runs once per
 * record, after the kernel being measured. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>

#include "attn.h"
#include "rb_support.h"

#define ATT_THREADS 256

__device__ __forceinline__ double att_load(const float *p, long i) { return (double)p[i]; }
__device__ __forceinline__ double att_load(const __half *p, long i) { return (double)__half2float(p[i]); }

/* Block sum of v (every thread gets it). red holds ATT_THREADS doubles. */
__device__ double att_sum(double v, double *red)
{
    red[threadIdx.x] = v;
    __syncthreads();
    for (int s = ATT_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            red[threadIdx.x] += red[threadIdx.x + s];
        __syncthreads();
    }
    double r = red[0];
    __syncthreads();
    return r;
}

__device__ double att_max(double v, double *red)
{
    red[threadIdx.x] = v;
    __syncthreads();
    for (int s = ATT_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            red[threadIdx.x] = fmax(red[threadIdx.x], red[threadIdx.x + s]);
        __syncthreads();
    }
    double r = red[0];
    __syncthreads();
    return r;
}

/* The row with the largest v among the finite rows not yet in taken[0, r): ties go to the
 * lower row, as on the CPU. -1 when none is left. */
__device__ int att_argmax(const double *v, const char *ok, int n, const int *taken, int r, double *red, int *redi)
{
    double best = 0;
    int bi = -1;
    for (int i = threadIdx.x; i < n; i += ATT_THREADS) {
        bool skip = !ok[i];
        for (int t = 0; t < r; t++)
            skip |= taken[t] == i;
        if (!skip && (bi < 0 || v[i] > best)) {
            best = v[i];
            bi = i;
        }
    }
    red[threadIdx.x] = best;
    redi[threadIdx.x] = bi;
    __syncthreads();
    for (int s = ATT_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) {
            const int j = redi[threadIdx.x + s], i0 = redi[threadIdx.x];
            const double vj = red[threadIdx.x + s], vi = red[threadIdx.x];
            if (j >= 0 && (i0 < 0 || vj > vi || (vj == vi && j < i0))) {
                red[threadIdx.x] = vj;
                redi[threadIdx.x] = j;
            }
        }
        __syncthreads();
    }
    const int r0 = redi[0];
    __syncthreads();
    return r0;
}

template <typename T>
__global__ void att_kernel(const T *x, const T *xh, const T *v, const T *vh, int d, long N, int Tg, const float *qs,
                           rb_attn_part *parts)
{
    extern __shared__ double sm[];
    const int n = N < Tg ? (int)N : Tg;
    double *s = sm, *sh = s + n, *red = sh + n;
    int *redi = (int *)(red + ATT_THREADS), *taken = redi + ATT_THREADS; /* 2 x RB_ATTN_TOPK */
    char *ok = (char *)(taken + 2 * RB_ATTN_TOPK);
    const long g = blockIdx.x, G = gridDim.x;
    const float *q = qs + (long)blockIdx.y * d;
    const T *xg = x + g * Tg * (long)d, *xhg = xh + g * Tg * (long)d;
    const T *vg = v + g * Tg * (long)d, *vhg = vh + g * Tg * (long)d;
    const double scale = 1.0 / sqrt((double)d);

    double e2 = 0, r2 = 0, bs = 0, rows = 0, m = -INFINITY, mh = -INFINITY;
    for (int i = threadIdx.x; i < n; i += ATT_THREADS) {
        double acc = 0, acch = 0;
        bool fin = true;
        for (int j = 0; j < d; j++) {
            const double a = att_load(xg, (long)i * d + j), b = att_load(xhg, (long)i * d + j);
            fin = fin && isfinite(a) && isfinite(b) && isfinite(att_load(vg, (long)i * d + j)) &&
                  isfinite(att_load(vhg, (long)i * d + j));
            acc = __dadd_rn(acc, __dmul_rn((double)q[j], a));
            acch = __dadd_rn(acch, __dmul_rn((double)q[j], b));
        }
        ok[i] = fin;
        s[i] = acc;
        sh[i] = acch;
        if (fin) {
            e2 += (acc - acch) * (acc - acch);
            r2 += acc * acc;
            bs += acch - acc;
            rows += 1;
            m = fmax(m, acc * scale);
            mh = fmax(mh, acch * scale);
        }
    }
    __syncthreads();
    e2 = att_sum(e2, red);
    r2 = att_sum(r2, red);
    bs = att_sum(bs, red);
    rows = att_sum(rows, red);
    m = att_max(m, red);
    mh = att_max(mh, red);
    rb_attn_part out = {0, 0, 0, 0, e2, r2, bs, rows};
    if (rows > 0) {
        double z = 0, zh = 0;
        for (int i = threadIdx.x; i < n; i += ATT_THREADS)
            if (ok[i]) {
                z += exp(s[i] * scale - m);
                zh += exp(sh[i] * scale - mh);
            }
        z = att_sum(z, red);
        zh = att_sum(zh, red);
        const double lz = log(z), lzh = log(zh);
        double kl = 0;
        for (int i = threadIdx.x; i < n; i += ATT_THREADS)
            if (ok[i]) {
                const double lp = s[i] * scale - m - lz, lph = sh[i] * scale - mh - lzh;
                kl += exp(lp) * (lp - lph);
            }
        out.kl = att_sum(kl, red);
        const int k = rows < RB_ATTN_TOPK ? (int)rows : RB_ATTN_TOPK;
        for (int r = 0; r < k; r++) {
            const int a = att_argmax(s, ok, n, taken, r, red, redi);
            const int b = att_argmax(sh, ok, n, taken + RB_ATTN_TOPK, r, red, redi);
            if (threadIdx.x == 0) {
                taken[r] = a;
                taken[RB_ATTN_TOPK + r] = b;
            }
            __syncthreads();
        }
        int both = 0;
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                both += taken[a] == taken[RB_ATTN_TOPK + b];
        out.top1 = taken[0] == taken[RB_ATTN_TOPK];
        out.top5 = (double)both / k;
        __syncthreads();
        for (int i = threadIdx.x; i < n; i += ATT_THREADS) { /* the weights, in place */
            s[i] = ok[i] ? exp(s[i] * scale - m - lz) : 0;
            sh[i] = ok[i] ? exp(sh[i] * scale - mh - lzh) : 0;
        }
        __syncthreads();
        double dot = 0, no = 0, noh = 0;
        for (int j = threadIdx.x; j < d; j += ATT_THREADS) {
            double o = 0, oh = 0;
            for (int i = 0; i < n; i++) /* rows in order, as the CPU sums them */
                if (ok[i]) {
                    o += s[i] * att_load(vg, (long)i * d + j);
                    oh += sh[i] * att_load(vhg, (long)i * d + j);
                }
            dot += o * oh;
            no += o * o;
            noh += oh * oh;
        }
        dot = att_sum(dot, red);
        no = att_sum(no, red);
        noh = att_sum(noh, red);
        out.cos = no > 0 && noh > 0 ? dot / sqrt(no * noh) : 0;
    }
    if (threadIdx.x == 0)
        parts[(long)blockIdx.y * G + g] = out;
}

extern "C" size_t rb_attn_smem_bytes(int T, long N)
{
    const int n = N < T ? (int)N : T;
    return sizeof(double) * (2 * (size_t)n + ATT_THREADS) + sizeof(int) * (ATT_THREADS + 2 * RB_ATTN_TOPK) + (size_t)n;
}

/* v, vh: the values paired row by row with the keys x, xh (same dtype), or NULL: the keys. */
extern "C" cudaError_t rb_launch_attn(const void *x, const void *xh, const void *v, const void *vh, int dtype, int d,
                                      long N, const float *q, int nq, int T, rb_attn_part *parts, cudaStream_t stream)
{
    if (!v || !vh) {
        v = x;
        vh = xh;
    }
    if (!x || !xh || !q || !parts || d < 1 || N < 1 || nq < 1 || nq > 65535 || T < 1 || T > RB_ATTN_MAX_T)
        return cudaErrorInvalidValue;
    const long G = N < T ? 1 : N / T;
    const dim3 grid((unsigned)G, (unsigned)nq);
    const size_t smem = rb_attn_smem_bytes(T, N);
    if (dtype == 0)
        att_kernel<float><<<grid, ATT_THREADS, smem, stream>>>((const float *)x, (const float *)xh, (const float *)v,
                                                               (const float *)vh, d, N, T, q, parts);
    else
        att_kernel<__half><<<grid, ATT_THREADS, smem, stream>>>((const __half *)x, (const __half *)xh, (const __half *)v,
                                                                (const __half *)vh, d, N, T, q, parts);
    return cudaGetLastError();
}
