/* npy_f32.h: tests write float32 .npy files as NumPy does (format 1.0, the header dict padded with
 * spaces to a multiple of 64 bytes and ended by a newline); the caller writes the values. */
#ifndef RB_TESTS_NPY_F32_H
#define RB_TESTS_NPY_F32_H

#include <stdio.h>
#include <string.h>

/* path opened for writing with the header of a little-endian float32 C-order array of shape
 * (text such as "(2, 32, 16)") written; NULL when it cannot be opened. */
static FILE *npy_f32_create(const char *path, const char *shape)
{
    char dict[160];
    snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
    unsigned char hdr[256];
    const size_t len = strlen(dict), hl = ((10 + len + 1 + 63) / 64) * 64 - 10;
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (unsigned char)(hl & 0xff);
    hdr[9] = (unsigned char)(hl >> 8);
    memset(hdr + 10, ' ', hl);
    memcpy(hdr + 10, dict, len);
    hdr[10 + hl - 1] = '\n';
    FILE *f = fopen(path, "wb");
    if (f)
        fwrite(hdr, 1, 10 + hl, f);
    return f;
}

#endif
