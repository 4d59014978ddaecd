/* slurp.c: a whole file into memory (see slurp.h). */
#include "slurp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *rb_slurp(const char *path, long max_bytes, const char *who, size_t *len, FILE *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err)
            fprintf(err, "%s: %s: cannot open: %s\n", who, path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        if (cap >= (size_t)max_bytes) {
            if (err)
                fprintf(err, "%s: %s: larger than %ld MiB; not a result file\n", who, path, max_bytes >> 20);
            free(buf);
            fclose(f);
            return NULL;
        }
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb)
            free(buf);
        buf = nb;
    }
    int rerr = ferror(f);
    fclose(f);
    if (!buf || rerr) {
        if (err)
            fprintf(err, "%s: %s: %s\n", who, path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}
