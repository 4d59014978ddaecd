#include "gpu_check.h"

#include <stdio.h>

static char g_last_error[512];

const char *rb_gpu_last_error(void) { return g_last_error; }

void rb_gpu_clear_error(void) { g_last_error[0] = '\0'; }

int rb_gpu_report(cudaError_t e, const char *call, const char *file, int line)
{
    snprintf(g_last_error, sizeof g_last_error, "%s:%d: %s failed: %s (%s)", file, line, call,
             cudaGetErrorName(e), cudaGetErrorString(e));
    fprintf(stderr, "rotorbench: gpu: %s\n", g_last_error);
    return -1;
}

static const char *curand_status_name(curandStatus_t st)
{
    switch (st) {
    case CURAND_STATUS_VERSION_MISMATCH: return "CURAND_STATUS_VERSION_MISMATCH";
    case CURAND_STATUS_NOT_INITIALIZED: return "CURAND_STATUS_NOT_INITIALIZED";
    case CURAND_STATUS_ALLOCATION_FAILED: return "CURAND_STATUS_ALLOCATION_FAILED";
    case CURAND_STATUS_TYPE_ERROR: return "CURAND_STATUS_TYPE_ERROR";
    case CURAND_STATUS_OUT_OF_RANGE: return "CURAND_STATUS_OUT_OF_RANGE";
    case CURAND_STATUS_LENGTH_NOT_MULTIPLE: return "CURAND_STATUS_LENGTH_NOT_MULTIPLE";
    case CURAND_STATUS_DOUBLE_PRECISION_REQUIRED: return "CURAND_STATUS_DOUBLE_PRECISION_REQUIRED";
    case CURAND_STATUS_LAUNCH_FAILURE: return "CURAND_STATUS_LAUNCH_FAILURE";
    case CURAND_STATUS_PREEXISTING_FAILURE: return "CURAND_STATUS_PREEXISTING_FAILURE";
    case CURAND_STATUS_INITIALIZATION_FAILED: return "CURAND_STATUS_INITIALIZATION_FAILED";
    case CURAND_STATUS_ARCH_MISMATCH: return "CURAND_STATUS_ARCH_MISMATCH";
    case CURAND_STATUS_INTERNAL_ERROR: return "CURAND_STATUS_INTERNAL_ERROR";
    default: return "unknown cuRAND status";
    }
}

int rb_gpu_report_curand(curandStatus_t st, const char *call, const char *file, int line)
{
    snprintf(g_last_error, sizeof g_last_error, "%s:%d: %s failed: %s (%d)", file, line, call,
             curand_status_name(st), (int)st);
    fprintf(stderr, "rotorbench: gpu: %s\n", g_last_error);
    return -1;
}
