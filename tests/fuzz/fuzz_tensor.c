/* libFuzzer target for the tensor-file header parsers (harness/tensor_file.c): built twice,
 * -DFUZZ_NPY and -DFUZZ_SAFETENSORS. Whatever the bytes, a parse either fails with one
 * non-empty line or describes a tensor that lies wholly inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tensor_file.h"

#define CHECK(c)        \
    do {                \
        if (!(c))       \
            abort();    \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rb_tf_header h;
    char err[512];
    memset(err, 'x', sizeof err);
#ifdef FUZZ_NPY
    int rc = rb_npy_parse(data, size, size, &h, err, sizeof err);
#else
    int rc = rb_safetensors_parse(data, size, size, "k", &h, err, sizeof err);
#endif
    if (rc) {
        CHECK(rc == -1 && memchr(err, '\0', sizeof err) && err[0] && !strchr(err, '\n'));
        return 0;
    }
    CHECK(h.ndim >= 2 && h.ndim <= RB_TF_MAX_DIMS && h.rows >= 1 && h.d >= 1);
    long rows = 1;
    for (int i = 0; i < h.ndim - 1; i++)
        rows *= h.shape[i];
    CHECK(rows == h.rows && h.shape[h.ndim - 1] == h.d);
    CHECK(h.bytes == (size_t)h.rows * (size_t)h.d * (size_t)h.esz);
    CHECK(h.offset <= size && h.bytes <= size - h.offset);
#ifdef FUZZ_NPY
    CHECK(h.offset + h.bytes == size);
#endif
    return 0;
}
