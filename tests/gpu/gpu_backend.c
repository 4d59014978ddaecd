/* gpu_backend.c: the shared GPU backend of the test_gpu binary (gpu_backend.h). */
#include "gpu_backend.h"

#include <stdio.h>

rb_backend *rb_test_gpu_backend(void)
{
    static rb_backend *be;
    static int tried;
    if (!tried) {
        tried = 1;
        char why[256] = "";
        be = rb_backend_gpu_create(why, sizeof why);
        if (!be)
            fprintf(stderr, "    no GPU backend: %s\n", why);
    }
    return be;
}
