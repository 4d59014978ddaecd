/* slurp.h: a whole result file read into memory, for the commands that parse one (compare,
 * headline) and the tests that read a committed file. */
#ifndef RB_SLURP_H
#define RB_SLURP_H

#include <stddef.h>
#include <stdio.h>

/* The bytes of path, NUL-terminated (the caller frees); *len their count when len is not NULL.
 * A file of max_bytes or more is refused as not a result file, so a wrong path (a model, a
 * device) fails at once instead of filling memory. NULL on any failure, after one line
 * "<who>: <path>: why" on err; err NULL says nothing. */
char *rb_slurp(const char *path, long max_bytes, const char *who, size_t *len, FILE *err);

#endif
