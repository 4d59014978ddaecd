/* record_fields.h: a record's fields (rb_record, backend.h) as result files carry them, in one
 * table. The JSON writer and reader and the CSV writer (results.c) and the regression gate
 * (compare.c) each expand it, so a field is named, typed and formatted in one row.
 *
 * RB_RECORD_FIELDS(X): one X(id, grp, key, type, io, when, val, col, csv, fmt, xf, cmp) per
 * field, in the order of the JSON object (which is what the writer emits):
 *   id    the row's name (an identifier, unique)
 *   grp   the JSON object holding the key: TOP (the record itself) or a group of
 *         RB_RECORD_GROUPS, created where its first written field stands
 *   key   the JSON key
 *   type  how the value is written and read:
 *           NUM      a number, written as one (counts, sizes)
 *           NUMNULL  a measurement: null when not finite (JSON has no NaN)
 *           POSNULL  null unless positive (a speedup with no baseline)
 *           FLAG     true / false
 *           TEXT     a char array of the record
 *           NAME     one of the static names of rb_timing ("none" when NULL)
 *           METHOD, PATH, DTYPE, KVNORM, DIST  an enum written by its name
 *   io    REQ   written, and read back: a record without it is refused
 *         RW    written and read back (absent: 0)
 *         W     written only (derived from other fields, or not read yet)
 *         EXT   written and read by others (the method's hooks, the input block); named
 *               here for the CSV and compare
 *         CALL  no field: val is a call that writes others' fields at this place
 *         NOJSON  a CSV column only
 *   when  written to JSON only when this holds (r: the record); the CSV writes every column
 *   val   the value (an lvalue of r for REQ and RW); may use r, cfg (the run's config) and,
 *         in CSV-only columns, the CSV writer's backend, op and input texts
 *   col   the CSV column (0 ...), -1 for none; csv its header name; fmt its printf format
 *   xf    how the CSV shows the value: same, pct (x 100), mhz (kHz / 1e3), if_attn / if_kva
 *         (NaN without attention metrics / a KV-cache attention record), none (no column)
 *   cmp   what `rotorbench compare` does with it: none; KEYREQ / KEY (part of the key that
 *         matches records; KEYREQ: a record without it is a bad file; KEY absent: NULL
 *         text, -1, false, or the type's default name); MSE (must not change beyond
 *         RB_COMPARE_MSE_RTOL); MEDIAN, NOISE, CLOCK (its timing check); CLOCK_KHZ (the
 *         lower-clock note)
 * A new field is its member in rb_record and a row here; a new CSV column takes the next
 * column number (existing columns keep theirs: files already written must read the same).
 * tests/test_record_fields.c checks every row. */
#ifndef RB_RECORD_FIELDS_H
#define RB_RECORD_FIELDS_H

#define RB_RECORD_GROUPS(G) \
    G(TOP, NULL)            \
    G(ATTN, "attention")    \
    G(TIME, "time")         \
    G(CHECK, "check_vs_cpu")\
    G(KVA, "kv_attention")  \
    G(INPUT, "input")       \
    G(HQMQ, "hqmq")

enum {
#define RB_GROUP_ENUM(g, name) RB_G_##g,
    RB_RECORD_GROUPS(RB_GROUP_ENUM)
#undef RB_GROUP_ENUM
    RB_NGROUPS
};

/* Group g's JSON key (NULL for TOP). */
static inline const char *rb_record_group_key(int g)
{
    switch (g) {
#define RB_GROUP_KEY(grp, name) \
    case RB_G_##grp:            \
        return name;
        RB_RECORD_GROUPS(RB_GROUP_KEY)
#undef RB_GROUP_KEY
    }
    return NULL;
}

/* Conditions shared by several rows. */
#define RB_F_ATTN (r->attn.computed)
#define RB_F_TIMED (r->fma_nominal > 0 && r->t.median_us > 0)

/* clang-format off */
#define RB_RECORD_FIELDS(X)                                                                                                             \
/*  id            grp    key                           type     io      when                    val                          col  csv              fmt     xf       cmp */  \
  X(method,       TOP,   "method",                     METHOD,  REQ,    1,                      r->method,                    1, "method",         "%s",   same,    KEYREQ)    \
  X(variant,      TOP,   "variant",                    TEXT,    REQ,    1,                      r->variant,                   2, "variant",        "%s",   same,    KEYREQ)    \
  X(path,         TOP,   "path",                       PATH,    RW,     1,                      r->path,                     40, "path",           "%s",   same,    KEY)       \
  X(route,        TOP,   "route",                      TEXT,    RW,     r->route[0],            r->route,                    32, "route",          "%s",   same,    none)      \
  X(d,            TOP,   "d",                          NUM,     RW,     1,                      r->d,                         3, "d",              "%d",   same,    KEYREQ)    \
  X(bits,         TOP,   "bits",                       NUM,     RW,     1,                      r->bits,                      4, "bits",           "%d",   same,    KEYREQ)    \
  X(dtype,        TOP,   "dtype",                      DTYPE,   REQ,    1,                      r->dtype,                     5, "dtype",          "%s",   same,    KEYREQ)    \
  X(N,            TOP,   "N",                          NUM,     RW,     1,                      r->N,                         6, "N",              "%ld",  same,    KEYREQ)    \
  X(unit_norm,    TOP,   "assume_unit_norm",           FLAG,    RW,     1,                      r->unit_norm,                50, "assume_unit_norm", "%d", same,    KEY)       \
  X(hooks,        TOP,   "",                           NUM,     CALL,   1,                      rb_method_hooks_of(r->method)->to_json(r, cfg, o), -1, "", "", none, none)     \
  X(codebook,     TOP,   "codebook",                   TEXT,    EXT,    1,                      r->bits ? rb_codebook_name(cfg->codebook) : "", 7, "codebook", "%s", same, KEY) \
  X(op,           TOP,   "op",                         TEXT,    EXT,    1,                      op,                          27, "op",             "%s",   same,    KEY)       \
  X(outlier_frac, HQMQ,  "outlier_fraction",           NUM,     EXT,    1,                      r->outlier_frac,             28, "outlier_frac",   "%.6g", same,    none)      \
  X(input_block,  TOP,   "",                           NUM,     CALL,   1,                      add_input(o, cfg, r),        -1, "",               "",     none,    none)      \
  X(distribution, TOP,   "distribution",               DIST,    EXT,    1,                      0,                           -1, "",               "",     none,    KEY)       \
  X(input_index,  INPUT, "index",                      NUM,     EXT,    1,                      0,                           -1, "",               "",     none,    KEY)       \
  X(input_slice,  INPUT, "slice",                      NUM,     EXT,    1,                      0,                           -1, "",               "",     none,    KEY)       \
  X(input,        TOP,   "",                           TEXT,    NOJSON, 1,                      input,                       33, "input",          "%s",   same,    none)      \
  X(mse,          TOP,   "mse",                        NUMNULL, RW,     1,                      r->m.mse,                     8, "mse",            "%.9g", same,    MSE)       \
  X(queries,      ATTN,  "queries",                    NUM,     RW,     RB_F_ATTN,              r->attn.nq,                  -1, "",               "",     none,    none)      \
  X(attn_T,       ATTN,  "T",                          NUM,     RW,     RB_F_ATTN,              r->attn.T,                   -1, "",               "",     none,    none)      \
  X(groups,       ATTN,  "groups",                     NUM,     RW,     RB_F_ATTN,              r->attn.groups,              -1, "",               "",     none,    none)      \
  X(ip_err,       ATTN,  "ip_err",                     NUMNULL, RW,     RB_F_ATTN,              r->attn.ip_err,              34, "ip_err",         "%.9g", if_attn, none)      \
  X(ip_bias,      ATTN,  "ip_bias",                    NUMNULL, RW,     RB_F_ATTN,              r->attn.ip_bias,             35, "ip_bias",        "%.9g", if_attn, none)      \
  X(kl,           ATTN,  "kl",                         NUMNULL, RW,     RB_F_ATTN,              r->attn.kl,                  36, "attn_kl",        "%.9g", if_attn, none)      \
  X(top1,         ATTN,  "top1",                       NUMNULL, RW,     RB_F_ATTN,              r->attn.top1,                37, "attn_top1",      "%.9g", if_attn, none)      \
  X(top5,         ATTN,  "top5",                       NUMNULL, RW,     RB_F_ATTN,              r->attn.top5,                38, "attn_top5",      "%.9g", if_attn, none)      \
  X(out_cos,      ATTN,  "out_cos",                    NUMNULL, RW,     RB_F_ATTN,              r->attn.out_cos,             39, "attn_out_cos",   "%.9g", if_attn, none)      \
  X(pred_mse,     TOP,   "pred_mse",                   NUMNULL, RW,     1,                      r->pred_mse,                  9, "pred_mse",       "%.9g", same,    none)      \
  X(rel_err,      TOP,   "rel_err",                    NUMNULL, RW,     1,                      r->m.rel_err,                10, "rel_err",        "%.9g", same,    none)      \
  X(cosine,       TOP,   "cosine",                     NUMNULL, RW,     1,                      r->m.cosine,                 11, "cosine",         "%.9g", same,    none)      \
  X(rows,         TOP,   "rows",                       NUM,     RW,     1,                      r->m.rows,                   -1, "",               "",     none,    none)      \
  X(nonfinite,    TOP,   "nonfinite_rows",             NUM,     RW,     1,                      r->m.nonfinite_rows,         12, "nonfinite_rows", "%ld",  same,    none)      \
  X(tiny_rows,    TOP,   "tiny_rows",                  NUM,     RW,     1,                      r->m.tiny_rows,              -1, "",               "",     none,    none)      \
  X(fma_nominal,  TOP,   "fma_nominal",                NUM,     RW,     1,                      r->fma_nominal,              13, "fma_nominal",    "%ld",  same,    none)      \
  X(params,       TOP,   "params",                     NUM,     RW,     1,                      r->params,                   14, "params",         "%ld",  same,    none)      \
  X(bits_per_coord, TOP, "bits_per_coord",             NUMNULL, RW,     1,                      r->bits_per_coord,           15, "bits_per_coord", "%.6g", same,    none)      \
  X(bytes,        TOP,   "bytes",                      NUM,     RW,     1,                      r->bytes,                    16, "bytes",          "%.0f", same,    none)      \
  X(stored_bytes, TOP,   "stored_bytes",               NUM,     RW,     r->stored_bytes > 0,    r->stored_bytes,             41, "stored_bytes",   "%.0f", same,    none)      \
  X(kv_norm,      TOP,   "kv_norm",                    KVNORM,  RW,     r->stored_bytes > 0,    r->kv_norm,                  -1, "",               "",     none,    none)      \
  X(clock,        TIME,  "clock",                      NAME,    RW,     1,                      r->t.clock,                  -1, "",               "",     none,    CLOCK)     \
  X(samples,      TIME,  "samples",                    NUM,     RW,     1,                      r->t.samples,                -1, "",               "",     none,    none)      \
  X(batch,        TIME,  "batch",                      NUM,     RW,     1,                      r->t.batch,                  -1, "",               "",     none,    none)      \
  X(median_us,    TIME,  "median_us",                  NUMNULL, RW,     1,                      r->t.median_us,              17, "time_median_us", "%.6g", same,    MEDIAN)    \
  X(min_us,       TIME,  "min_us",                     NUMNULL, RW,     1,                      r->t.min_us,                 18, "time_min_us",    "%.6g", same,    none)      \
  X(max_us,       TIME,  "max_us",                     NUMNULL, RW,     1,                      r->t.max_us,                 19, "time_max_us",    "%.6g", same,    none)      \
  X(q1_us,        TIME,  "q1_us",                      NUMNULL, RW,     1,                      r->t.q1_us,                  -1, "",               "",     none,    none)      \
  X(q3_us,        TIME,  "q3_us",                      NUMNULL, RW,     1,                      r->t.q3_us,                  -1, "",               "",     none,    none)      \
  X(noise,        TIME,  "noise",                      NUMNULL, RW,     1,                      r->t.noise,                  20, "time_noise_pct", "%.4g", pct,     NOISE)     \
  X(stop_reason,  TIME,  "stop_reason",                NAME,    RW,     r->t.stop_reason != NULL, r->t.stop_reason,          -1, "",               "",     none,    none)      \
  X(cold_samples, TIME,  "cold_samples",               NUM,     RW,     r->t.cold_samples,      r->t.cold_samples,           -1, "",               "",     none,    none)      \
  X(cold_median_us, TIME, "cold_median_us",            NUMNULL, RW,     r->t.cold_samples,      r->t.cold_median_us,         21, "cold_median_us", "%.6g", same,    none)      \
  X(cold_min_us,  TIME,  "cold_min_us",                NUMNULL, RW,     r->t.cold_samples,      r->t.cold_min_us,            -1, "",               "",     none,    none)      \
  X(cold_max_us,  TIME,  "cold_max_us",                NUMNULL, RW,     r->t.cold_samples,      r->t.cold_max_us,            -1, "",               "",     none,    none)      \
  X(cold_noise,   TIME,  "cold_noise",                 NUMNULL, RW,     r->t.cold_samples,      r->t.cold_noise,             -1, "",               "",     none,    none)      \
  X(prepass_us,   TIME,  "prepass_median_us",          NUMNULL, RW,     r->t.prepass_us > 0,    r->t.prepass_us,             29, "prepass_us",     "%.6g", same,    none)      \
  X(hot_clock,    TIME,  "hot_sm_clock_khz",           NUMNULL, RW,     r->t.hot_clock_khz > 0, r->t.hot_clock_khz,          22, "hot_clock_mhz",  "%.0f", mhz,     CLOCK_KHZ) \
  X(cold_clock,   TIME,  "cold_sm_clock_khz",          NUMNULL, RW,     r->t.hot_clock_khz > 0, r->t.cold_clock_khz,         -1, "",               "",     none,    none)      \
  X(clock_min,    TIME,  "sm_clock_min_khz",           NUMNULL, RW,     r->t.hot_clock_khz > 0, r->t.clock_min_khz,          -1, "",               "",     none,    none)      \
  X(clock_low,    TIME,  "samples_under_75pct_clock",  NUM,     RW,     r->t.hot_clock_khz > 0, r->t.clock_low_samples,      -1, "",               "",     none,    none)      \
  X(copy_us,      TIME,  "copy_us",                    NUMNULL, RW,     r->t.copy_us > 0,       r->t.copy_us,                23, "copy_us",        "%.6g", same,    none)      \
  X(copy_cold_us, TIME,  "copy_cold_us",               NUMNULL, RW,     r->t.copy_us > 0,       r->t.copy_cold_us,           -1, "",               "",     none,    none)      \
  X(copy_bytes,   TIME,  "copy_bytes",                 NUM,     RW,     r->t.copy_us > 0 && r->t.copy_bytes > 0, r->t.copy_bytes, -1, "",         "",     none,    none)      \
  X(fma_peak,     TIME,  "fma_peak_per_s",             NUMNULL, RW,     r->t.fma_peak_per_s > 0, r->t.fma_peak_per_s,        -1, "",               "",     none,    none)      \
  X(tc_peak,      TIME,  "tc_peak_flops_per_s",        NUMNULL, RW,     r->t.tc_peak_flops_per_s > 0, r->t.tc_peak_flops_per_s, -1, "",            "",     none,    none)      \
  X(gbps,         TOP,   "gbps",                       NUMNULL, W,      1,                      gbps(r),                     24, "gbps",           "%.6g", same,    none)      \
  X(pct_copy,     TOP,   "pct_of_copy_bw",             NUMNULL, W,      r->t.copy_us > 0,       rb_record_pct_of_copy(r),    25, "pct_of_copy_bw", "%.6g", same,    none)      \
  X(fma_per_s,    TOP,   "fma_per_s",                  NUMNULL, W,      RB_F_TIMED,             fma_rate(r),                 30, "fma_per_s",      "%.6g", same,    none)      \
  X(pct_fma,      TOP,   "pct_of_fma_peak",            NUMNULL, W,      RB_F_TIMED && r->t.fma_peak_per_s > 0, pct_fma(r),   31, "pct_of_fma_peak", "%.6g", same,   none)      \
  X(check_rows,   CHECK, "rows",                       NUM,     RW,     r->check_rows,          r->check_rows,               -1, "",               "",     none,    none)      \
  X(check_abs,    CHECK, "max_abs_diff",               NUMNULL, RW,     r->check_rows && !r->kva.on, r->check_max_abs,       -1, "",               "",     none,    none)      \
  X(check_rel,    CHECK, "max_rel_diff",               NUMNULL, W,      r->check_rows && r->kva.on, r->check_max_abs,        -1, "",               "",     none,    none)      \
  X(check_flips,  CHECK, "boundary_flips",             NUM,     RW,     r->check_rows,          r->check_flips,              -1, "",               "",     none,    none)      \
  X(kva_block,    TOP,   "",                           NUM,     CALL,   1,                      rb_kva_rec_to_json(r, o),    -1, "",               "",     none,    none)      \
  X(kv_B,         KVA,   "B",                          NUM,     EXT,    1,                      r->kva.B,                    42, "kv_B",           "%d",   same,    none)      \
  X(kv_H,         KVA,   "H",                          NUM,     EXT,    1,                      r->kva.H,                    43, "kv_H",           "%d",   same,    none)      \
  X(kv_heads,     KVA,   "kv_heads",                   NUM,     EXT,    1,                      r->kva.kv_heads,             44, "kv_heads",       "%d",   same,    none)      \
  X(kv_T,         KVA,   "T",                          NUM,     EXT,    1,                      r->kva.T,                    45, "kv_T",           "%ld",  same,    none)      \
  X(kv_split,     KVA,   "split",                      NUM,     EXT,    1,                      r->kva.split,                46, "kv_split",       "%d",   same,    none)      \
  X(cache_bytes,  KVA,   "cache_bytes",                NUM,     EXT,    1,                      r->kva.cache_bytes,          47, "cache_bytes",    "%.0f", same,    none)      \
  X(per_token,    KVA,   "bytes_per_token",            NUMNULL, EXT,    1,                      r->kva.bytes_per_token,      48, "bytes_per_token", "%.6g", same,   none)      \
  X(kv_rel_err,   KVA,   "max_rel_err",                NUMNULL, EXT,    1,                      r->kva.max_rel_err,          49, "attn_max_rel_err", "%.9g", if_kva, none)     \
  X(baseline,     TOP,   "baseline",                   TEXT,    W,      1,                      r->kva.on ? "fp16-cache" : rb_method_name(cfg->baseline), -1, "", "", none, none) \
  X(speedup,      TOP,   "speedup",                    POSNULL, W,      1,                      r->speedup,                  26, "speedup",        "%.6g", same,    none)      \
  X(backend,      TOP,   "",                           TEXT,    NOJSON, 1,                      backend,                      0, "backend",        "%s",   same,    none)
/* clang-format on */

/* The value as written (JSON and CSV): an enum by its name. A KV-cache attention record over
 * the fp16 cache names the cache, not a method. */
#define RB_OUT_NUM(r, v) (v)
#define RB_OUT_NUMNULL(r, v) (v)
#define RB_OUT_POSNULL(r, v) (v)
#define RB_OUT_FLAG(r, v) (v)
#define RB_OUT_TEXT(r, v) (v)
#define RB_OUT_NAME(r, v) ((v) ? (v) : "none")
#define RB_OUT_METHOD(r, v) ((r)->kva.fp16_cache ? "fp16-cache" : rb_method_name(v))
#define RB_OUT_PATH(r, v) rb_path_name(v)
#define RB_OUT_DTYPE(r, v) rb_dtype_name(v)
#define RB_OUT_KVNORM(r, v) rb_kv_norm_name(v)
#define RB_OUT_DIST(r, v) rb_distribution_name(v)

/* The CSV's view of a value (xf). */
#define RB_XF_same(r, v) (v)
#define RB_XF_pct(r, v) (100 * (v))
#define RB_XF_mhz(r, v) ((v) / 1e3)
#define RB_XF_if_attn(r, v) ((r)->attn.computed ? (v) : NAN)
#define RB_XF_if_kva(r, v) ((r)->kva.on ? (v) : NAN)

#endif
