/* kvpath_cpu.c: the CPU backend's encode and decode settings (config "path"): the pass the path
 * names is timed by measure_cpu.h, the other half runs once untimed, and the metrics compare
 * the decoded rows with the input, as for the roundtrip. */
#include <stdio.h>
#include <stdlib.h>

#include "backend_cpu.h"
#include "counts.h"
#include "kvcodec.h"
#include "measure_cpu.h"

typedef struct {
    rb_cpu_state *s;
    const rb_qdq_params *p;
    int norm_kind;
    void *codes, *norms;
} kv_pass;

static int encode_pass(void *ctx)
{
    kv_pass *c = ctx;
    return rb_cpu_encode_rows(c->p, c->norm_kind, c->s->x, c->s->N, c->codes, c->norms);
}

static int decode_pass(void *ctx)
{
    kv_pass *c = ctx;
    return rb_cpu_decode_rows(c->p, c->norm_kind, c->codes, c->norms, c->s->N, c->s->dtype, c->s->xh);
}

int rb_cpu_run_kvpath(rb_backend *b, const rb_qdq_params *p, rb_record *rec)
{
    rb_cpu_state *s = b->state;
    kv_pass c = {s, p, rec->kv_norm, NULL, NULL};
    const size_t cbytes = (size_t)s->N * (size_t)rb_kv_row_bytes(p->dpad, p->bits);
    const size_t nbytes = (size_t)s->N * (size_t)rb_kv_norm_bytes(rec->kv_norm);
    c.codes = malloc(cbytes ? cbytes : 1);
    c.norms = malloc(nbytes ? nbytes : 1);
    int rc = -1;
    if (!c.codes || !c.norms)
        fprintf(stderr, "rotorbench: out of host memory for the packed cache (%zu bytes)\n", cbytes + nbytes);
    else if (rec->path == RB_PATH_ENCODE)
        rc = rb_meas_cpu_time(b->profile, NULL, encode_pass, &c, &rec->t) || decode_pass(&c) ? -1 : 0;
    else if (rec->path == RB_PATH_DECODE)
        rc = encode_pass(&c) || rb_meas_cpu_time(b->profile, NULL, decode_pass, &c, &rec->t) ? -1 : 0;
    else
        fprintf(stderr, "rotorbench: cpu: path %s is not an encode or decode path\n", rb_path_name(rec->path));
    if (!rc)
        rb_cpu_metrics(s, rec);
    free(c.codes);
    free(c.norms);
    return rc;
}
