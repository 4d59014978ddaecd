/* method_hooks.h: what the harness asks of a method beyond its descriptor (method.h): its axis
 * of settings, how a record of it is named and stored, and how each backend runs it. Rotation
 * methods (and every plugin) share one implementation, rb_rotation_hooks: the config's bits
 * axis with a Lloyd-Max codebook, the reference pipeline of qdq.h, the generic backends. A
 * built-in method with its own axes and pre-passes (HQMQ) points its descriptor's hooks here,
 * so the driver, the results writer and the backends hold no branch on any method. */
#ifndef RB_METHOD_HOOKS_H
#define RB_METHOD_HOOKS_H

#include "backend.h"
#include "codebook.h"

typedef struct rb_method_hooks {
    /* Settings per (d, N, dtype, variant), and setting i at dimension d: shape p (all but
     * p->rot), fill r's key fields beyond (method, variant, d, dtype, N) and its counts.
     * cbs[k] is the solved codebook for (d, cfg->bits[k]). */
    int (*nsettings)(const rb_config *cfg);
    void (*setting)(const rb_config *cfg, int i, int d, const rb_codebook *cbs, rb_qdq_params *p,
                    rb_record *r);
    /* After a run: whatever depends on what the run measured (e.g. stored bits). */
    void (*finish)(rb_record *r);
    /* The operating point as results name it beyond bits ("s96_r4+med3"; "" for the bits
     * axis): part of a record's key. */
    void (*op_label)(const rb_record *r, char *buf, size_t n);
    /* The method's own record fields, into and out of the record's JSON object. */
    void (*to_json)(const rb_record *r, const rb_config *cfg, cJSON *o);
    void (*from_json)(const cJSON *o, rb_record *r);
    /* Agreement (agree.h): may this row's disagreement be a flip at a tie? The number of flips
     * it accounts for, or 0 when it is a real disagreement. */
    long (*explain)(const rb_qdq_params *p, int variant, rb_dtype dt, const float *x, const float *ref,
                    const float *gpu);
    /* Agreement (agree.h): the summation depth of one output coordinate. NULL: the
     * descriptor's nominal FMAs per coordinate. */
    int (*sum_depth)(const rb_qdq_params *p);
    /* One row on the CPU: x (d) -> out (d); v and tmp hold p->dpad floats each. */
    void (*cpu_row)(const rb_qdq_params *p, const float *x, float *out, float *v, float *tmp);
    /* NULL: the backend's generic run. Else the method's own (pre-passes, extra fields). */
    int (*cpu_run)(rb_backend *b, const rb_qdq_params *p, rb_record *r);
    int (*gpu_run)(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *r);
    /* The KV-cache paths (config "path": encode, decode) of a method with a packed format of its
     * own (HQMQ: hqmq_pack.h). NULL for the scalar methods' format (kvpack.h, kvcodec.h) or none.
     * kv_stored_bytes: what N rows with nout side entries store; the runs set the record's
     * stored_bytes and bytes from what they wrote. */
    long (*kv_stored_bytes)(const rb_qdq_params *p, long N, long nout);
    int (*cpu_kvpath)(rb_backend *b, const rb_qdq_params *p, rb_record *r);
    int (*gpu_kvpath)(rb_backend *b, const rb_qdq_params *p, int variant, rb_record *r);
} rb_method_hooks;

extern const rb_method_hooks rb_rotation_hooks;

/* The method's hooks: its own, or rb_rotation_hooks. */
const rb_method_hooks *rb_method_hooks_of(rb_method m);

#endif
