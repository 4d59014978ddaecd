/* gpu_backend.h: the one GPU backend of the test_gpu binary. Creating one measures a 1 GiB
 * copy, so every test file shares it; a test sets be->profile to what it needs and puts back
 * the value it found. */
#ifndef RB_TEST_GPU_BACKEND_H
#define RB_TEST_GPU_BACKEND_H

#include "backend.h"

/* The backend, created on the first call; NULL (with one line on stderr, once) without a GPU. */
rb_backend *rb_test_gpu_backend(void);

#endif
