/* scratch.h: a test file's scratch directory, made once by mkdtemp from tmpl (e.g.
 * "/tmp/rb_kva_XXXXXX"; /tmp itself if that fails), and paths in it, four live at a time. */
#ifndef RB_TESTS_SCRATCH_H
#define RB_TESTS_SCRATCH_H

#include <stdio.h>
#include <stdlib.h>

static const char *scratch_path(char *dir, size_t dirlen, const char *tmpl, const char *name)
{
    static char p[4][256];
    static int k;
    if (!dir[0]) {
        snprintf(dir, dirlen, "%s", tmpl);
        if (!mkdtemp(dir))
            snprintf(dir, dirlen, "/tmp");
    }
    char *s = p[k++ % 4];
    snprintf(s, 256, "%s/%s", dir, name);
    return s;
}

#endif
