/* broken.c: the broken plugin builds the loader must refuse with one line and exit status 2
 * (tests/test_plugin.c), each from this file with one switch:
 *   BROKEN_ABI=99          built for another method ABI;
 *   BROKEN_NO_ABI_SYMBOL   no rb_plugin_abi symbol;
 *   BROKEN_NAME="identity" a method name a built-in has.
 * Otherwise a valid CPU-only plugin (a sign per coordinate, no launcher), so each build is
 * refused for its one defect. Plain C built by gcc: no kernel to compile. */
#include "method.h"

static void signs_rotate(const rb_qdq_params *p, float *v, float *tmp)
{
    (void)tmp;
    for (int j = 0; j < p->d; j++)
        v[j] *= p->rot[j];
}
static int one(int d) { (void)d; return 1; }
static long per_coordinate(int d) { return d; }

#ifndef BROKEN_NAME
#define BROKEN_NAME "broken-signs"
#endif

static const rb_method_desc broken = {
    .abi = RB_METHOD_ABI,
    .name = BROKEN_NAME,
    .paper_name = NULL,
    .summary = "random sign flips per coordinate (a test plugin, CPU only)",
    .in_all = 0,
    .block = one,
    .param_count = per_coordinate,
    .fma = per_coordinate,
    .check_d = NULL,
    .param_kind = RB_PARAMS_SIGNS,
    .param_group = 0,
    .rotate_fwd = signs_rotate,
    .rotate_inv = signs_rotate,
    .launch = NULL,
    .variants = 0,
    .hooks = NULL,
    .fast_ybound = NULL,
};

static const rb_method_desc *const methods[] = {&broken, NULL};

#ifndef BROKEN_NO_ABI_SYMBOL
#ifdef BROKEN_ABI
const int rb_plugin_abi = BROKEN_ABI;
#else
const int rb_plugin_abi = RB_METHOD_ABI;
#endif
#endif
const rb_method_desc *const *rb_plugin_methods(void) { return methods; }
