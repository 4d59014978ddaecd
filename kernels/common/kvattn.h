/* kvattn.h: decode attention over a KV cache, one new query per head, as flash-decoding does it:
 * the T cached tokens are cut into splits of `split` tokens, each split gives a partial state
 * (max, sum, acc), and a combine step merges the splits. Two caches, one structure:
 *
 *   compressed  K and V as packed codes (kvpack.h) + norms, scored in the rotated domain:
 *               q' = Pi q_pad once per query, s_i = scale * rho_i * <q', c(kcode_i)>,
 *               o' = sum_i p_i rhov_i c(vcode_i), o = (Pi^T o')[0, d) once per query;
 *               no per-key inverse rotation. Pi is dpad x dpad fp32 row-major with
 *               Pi[i][j] = (rotate_fwd(e_j))_i, built on the host from the method's CPU
 *               rotate_fwd, so every method and plugin takes this path unchanged.
 *   fp16        K and V as fp16 rows of d, s_i = scale * <q, k_i>, o = sum_i p_i v_i: the
 *               baseline, no rotation.
 *
 * Layout (B sequences, Hq query heads, Hkv kv heads, Hq % Hkv == 0; query head h reads kv head
 * h / (Hq / Hkv)):
 *   q          [B][Hq][d] fp32
 *   kcodes     [B][Hkv][T] rows of rb_kv_row_bytes(dpad, bits) bytes; vcodes the same
 *   knorms     [B][Hkv][T] fp16 (RB_KV_NORM_FP16) or fp32; NULL with RB_KV_NORM_NONE (rho = 1)
 *   k16, v16   [B][Hkv][T][d] fp16 (the baseline)
 *   o          [B][Hq][d] fp32
 *
 * The split math, which the CPU reference (harness) and the kernels share (scale = 1/sqrt(d)):
 *   split s covers tokens [s S, min(T, (s + 1) S)), nsplit = ceil(T / S);
 *   m_s = max_i s_i, l_s = sum_i exp(s_i - m_s), acc_s[j] = sum_i exp(s_i - m_s) w_i[j]
 *         (w_i = rhov_i c(vcode_i) in the rotated domain, v_i for fp16);
 *   M = max_s m_s, L = sum_s l_s exp(m_s - M), o'[j] = sum_s acc_s[j] exp(m_s - M) / L.
 * Inside a split the CPU reference takes the kernels' order of sums (kvattn_split.h), so the
 * backends differ only where expf does (CUDA's and the C library's, an ulp or two). A row with a
 * NaN norm (a non-finite input row) makes the output of every query that reads it NaN. */
#ifndef RB_KVATTN_H
#define RB_KVATTN_H

#include <stddef.h>

#include "kvattn_split.h"
#include "kvpack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Codes j0 .. j0 + n - 1 of a packed row (kvpack.h) at once, n bits <= 64: code j0 + i sits at
 * bits [i b, i b + b) of the result. Reads only the (at most three) words that hold them; the
 * attention kernel's lanes take their run of consecutive coordinates of a V row this way. */
RB_HD uint64_t rb_kv_run(const uint32_t *words, int j0, int n, int bits)
{
    const long s = (long)j0 * bits;
    const int w = (int)(s >> 5), o = (int)(s & 31), nb = o + n * bits;
    uint64_t v = words[w];
    if (nb > 32)
        v |= (uint64_t)words[w + 1] << 32;
    v >>= o;
    if (nb > 64) /* then o > 0: word w + 2 starts 64 - o bits into the run */
        v |= (uint64_t)words[w + 2] << (64 - o);
    return n * bits >= 64 ? v : v & ((1ull << (n * bits)) - 1ull);
}

/* What the kernels take on the fp16 baseline and the compressed cache (pointers: device). */
#define RB_KVATTN_MAX_DPAD 256 /* coordinates per row after the method's padding */
#define RB_KVATTN_MAX_GROUP 8  /* Hq / Hkv */

typedef struct {
    /* shape */
    int B, Hq, Hkv, T;
    int d, dpad;    /* dpad: the method's padded width (compressed); d for the fp16 cache */
    int split;      /* tokens per split (> 0): rb_kvattn_default_split, or the caller's */
    float scale;    /* 1 / sqrt(d) */
    /* the compressed cache */
    int bits;       /* 1..8 */
    int norm_kind;  /* RB_KV_NORM_*, for K and V alike */
    const void *kcodes, *vcodes;
    const void *knorms, *vnorms;
    const float *centroids; /* 2^bits Lloyd-Max centroids */
    const float *pi;        /* dpad x dpad rotation (above); NULL: none (q' = q_pad, o = o'[0, d)) */
    /* the fp16 cache */
    const void *k16, *v16;
    /* both */
    const float *q;
    float *o;
    void *work;             /* rb_kvattn_work_bytes of device memory */
} rb_kvattn_args;

/* The default split: nsplit x Hkv x B CTAs, at most ctas_per_sm for each of sms SMs, where
 * ctas_per_sm is how many CTAs of the split kernel an SM keeps resident at once: one full wave,
 * since rounding the split count up would leave a second wave of a few CTAs (a CTA that waits
 * for a slot doubles the time). In multiples of 64 tokens, at least 64 and at most 4096 (so long
 * caches still give several waves). Where the one wave's split would pass 4096, 4096-token
 * splits leave a last wave that is only partly filled; when that wave puts fewer than
 * RB_KVA_TAIL_CTAS CTAs on its busiest SM, too few warps are left there to keep its schedulers
 * issuing, so the split takes as many full waves as keep it at 4096 or below instead (H100,
 * docs/PERF.md: RotorQuant's 3 bits at T = 64k, one CTA a SM in the last wave, 220 -> 174 us;
 * identity's 4 bits at 128k, three, 281 -> 286 us with full waves, so it keeps 4096). The same
 * function on both backends, so the CPU reference can take the GPU's split; the residency comes
 * from the device (rb_kvattn_resident) or, without one, from rb_kvattn_model_ctas. */
#define RB_KVA_TAIL_CTAS 3 /* 12 warps of RB_KVA_NW = 4: three a scheduler */
static inline int rb_kvattn_default_split(int B, int Hkv, int T, int sms, int ctas_per_sm)
{
    const long nsm = sms > 0 ? sms : 132;
    const long want = (long)(ctas_per_sm > 0 ? ctas_per_sm : 1) * nsm;
    const long bh = (long)B * Hkv;
    long nsplit = want / bh > 0 ? want / bh : 1;
    long s = (T + nsplit - 1) / nsplit;
    s = (s + 63) / 64 * 64;
    if (s > 4096) {
        const long tail = (T + 4095L) / 4096 * bh % want; /* CTAs in the last wave of 4096-token splits */
        if (tail == 0 || (tail + nsm - 1) / nsm >= RB_KVA_TAIL_CTAS)
            return 4096;
        nsplit *= (s + 4095) / 4096; /* full waves of nsplit splits each */
        s = (T + nsplit - 1) / nsplit;
        s = (s + 63) / 64 * 64;
    }
    return s < 64 ? 64 : (int)s;
}

/* The H100 SXM's and H200's SMs, as the model below takes them: their number, shared memory
 * a SM, and what the driver keeps of it for each CTA. */
#define RB_KVA_MODEL_SMS 132
#define RB_KVA_SM_SMEM (228 * 1024)
#define RB_KVA_CTA_RESERVED 1024

/* CTAs of the split kernel that takes a's shape (B, Hq, Hkv, d, and dpad and bits for a
 * compressed cache) that one SM of an H100 or H200 keeps resident: what its shared memory
 * (rb_kva_smem) allows, capped where registers bind first. The caps are nvcc 13.0's register
 * counts for one query head a kv head (cuobjdump -res-usage; 65536 registers a SM, CTAs of 128
 * threads): eight for the compressed kernels at a compiled width (48 to 64 a thread); for the
 * fp16 kernels eight at d <= 64 (the staged one 64, the register one 48), five at d <= 128
 * (the register kernel, 93; the staged one, 114, would keep four, as its shared memory does)
 * and three above (the register kernel, up to 166; the staged one, 206, two, as its shared
 * memory); four for every other kernel (grouped heads take up to 224). What "auto" takes where
 * no device is asked (the CPU backend); a GPU run takes the device's own count, so a CPU run's
 * splits are the H100's where the model holds (tests/gpu: kvattn_resident_matches_the_model). */
static inline int rb_kvattn_model_ctas(const rb_kvattn_args *a, int fp16)
{
    const int G = a->Hq / (a->Hkv > 0 ? a->Hkv : 1);
    long words;
    int cap = 4;
    if (fp16) {
        const int staged = rb_kva_fp16_staged(a->d);
        words = rb_kva_fp16_smem_words(G, a->d, staged);
        if (G == 1)
            cap = rb_kva_fp16_kp(a->d) == 1 ? 8 : rb_kva_fp16_kp(a->d) == 2 ? 5 : 3;
    } else {
        const int rw = (int)(rb_kv_row_bytes(a->dpad, a->bits) / 4);
        const int nch = rb_kva_nch(a->bits, G, a->dpad);
        words = rb_kva_smem(a->bits, nch, G, a->dpad, rw).total;
        cap = nch > 0 && G == 1 ? 8 : 4;
    }
    const long n = RB_KVA_SM_SMEM / (4 * words + RB_KVA_CTA_RESERVED);
    return n < 1 ? 1 : n > cap ? cap : (int)n;
}

static inline int rb_kvattn_nsplit(int T, int split) { return (T + split - 1) / split; }

/* Workspace floats: q' [B][Hq][dpad], then per split (m, l) [B][Hq][nsplit][2], then acc
 * [B][Hq][nsplit][dpad]. a->split must be set (non-zero); for the fp16 cache take dpad = d. */
static inline size_t rb_kvattn_work_bytes(const rb_kvattn_args *a)
{
    size_t bh = (size_t)a->B * (size_t)a->Hq;
    size_t ns = (size_t)rb_kvattn_nsplit(a->T, a->split);
    return sizeof(float) * bh * ((size_t)a->dpad + ns * 2 + ns * (size_t)a->dpad);
}

/* Bytes of the cache one attention reads (what "% of copy" counts): codes and norms of K and V,
 * or the fp16 rows. */
static inline double rb_kvattn_cache_bytes(const rb_kvattn_args *a, int fp16)
{
    double rows = (double)a->B * a->Hkv * a->T;
    if (fp16)
        return rows * 2.0 * 2.0 * a->d;
    return rows * 2.0 * (double)(rb_kv_row_bytes(a->dpad, a->bits) + rb_kv_norm_bytes(a->norm_kind));
}

/* NULL when the kernels take a's shape, else one line saying what they do not take (the
 * launchers then return cudaErrorInvalidValue without launching). fp16: the baseline. */
const char *rb_kvattn_unsupported(const rb_kvattn_args *a, int fp16);

/* How many CTAs of the split kernel that takes a's shape (no pointer or split read; fp16: the
 * fp16 cache's) one SM of the current device keeps resident, into *ctas. Returns a cudaError_t
 * (cudaErrorInvalidValue for a shape the kernels do not take); launches nothing. */
int rb_kvattn_resident(const rb_kvattn_args *a, int fp16, int *ctas);

/* Attention over the compressed cache: the query rotation, the split kernel, the combine, on
 * stream (a cudaStream_t). Returns a cudaError_t (the launch's); never synchronizes. */
int rb_kvattn_launch(const rb_kvattn_args *a, void *stream);
/* The same over the fp16 cache (k16, v16; pi, codes and norms unused). */
int rb_kvattn_fp16_launch(const rb_kvattn_args *a, void *stream);
/* 1: the fp16 cache takes the register kernel at every d (RB_KVA_FP16=registers, run_options.h);
 * 0 (the default): the staged kernel where d is a multiple of 8. The GPU backend sets it once,
 * before anything is launched. */
void rb_kvattn_fp16_force_registers(int on);

#ifdef __cplusplus
}
#endif

#endif
