/* methods.h: the registry as the tests see it. Tests loop over every registered method of a
 * kind rather than naming them, so a newly registered method is tested without editing them. */
#ifndef RB_TEST_METHODS_H
#define RB_TEST_METHODS_H

#include <stdio.h>
#include <stdlib.h>

#include "method_hooks.h"
#include "registry.h"

/* A method on the bits axis with the scalar codebook (every rotation method, every plugin). */
static inline int is_rotation_method(rb_method m) { return rb_method_hooks_of(m) == &rb_rotation_hooks; }

/* A built-in method by name; a test naming one that is not registered cannot pass silently. */
static inline rb_method method_id(const char *name)
{
    rb_method m = rb_method_find(name);
    if (m < 0) {
        fprintf(stderr, "tests: no method '%s' in the registry\n", name);
        abort();
    }
    return m;
}

/* How many methods a config's "methods": "all" stands for. */
static inline int methods_in_all(void)
{
    int n = 0;
    for (rb_method m = 0; m < rb_methods_count(); m++)
        n += rb_method_get(m)->in_all;
    return n;
}

#define FOR_EACH_ROTATION_METHOD(m) \
    for (rb_method m = 0; m < rb_methods_count(); m++) \
        if (is_rotation_method(m))

#endif
