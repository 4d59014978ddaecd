#include "counts.h"

#include <math.h>

#include "kvpack.h"

static long ceil_div(long a, long b) { return (a + b - 1) / b; }

long rb_nominal_fma(rb_method m, int d)
{
    const rb_method_desc *x = rb_method_get(m);
    return x ? x->fma(d) : 0;
}

long rb_param_count(rb_method m, int d)
{
    const rb_method_desc *x = rb_method_get(m);
    return x ? x->param_count(d) : 0;
}

int rb_method_block_of(rb_method m, int d)
{
    const rb_method_desc *x = rb_method_get(m);
    int k = x ? x->block(d) : 1;
    return k >= 1 ? k : 1;
}

int rb_method_dpad(rb_method m, int d)
{
    const int k = rb_method_block_of(m, d);
    return (int)(ceil_div(d, k) * k);
}

long rb_kv_stored_bytes(rb_method m, int d, int bits, int norm_kind, long N)
{
    return N * (rb_kv_row_bytes(rb_method_dpad(m, d), bits) + rb_kv_norm_bytes(norm_kind));
}

double rb_bits_per_coord(rb_method m, int d, int bits)
{
    return 8.0 * (double)rb_kv_stored_bytes(m, d, bits, RB_KV_NORM_FP16, 1) / d;
}

void rb_qdq_params_shape(rb_qdq_params *p, rb_method m, int d, int bits)
{
    p->method = m;
    p->d = d;
    p->bits = bits;
    p->block = rb_method_block_of(m, d);
    p->dpad = rb_method_dpad(m, d);
    p->nblocks = p->dpad / p->block;
    p->nbounds = (1 << bits) - 1;
    p->cells = NULL;
    p->kv_codes = p->kv_norms = NULL;
    p->kv_norm = RB_KV_NORM_FP16;
    p->unit_norm = 0;
}
