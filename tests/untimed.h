/* untimed.h: a result record without the fields that depend on the clock, printed as the result
 * file prints it, so that equal text means an identical record. (cJSON prints 15 digits when they
 * read back within DBL_EPSILON, else 17, so only a change below 1 ulp could hide.) */
#ifndef RB_TESTS_UNTIMED_H
#define RB_TESTS_UNTIMED_H

#include <cjson/cJSON.h>

/* The caller frees the text (cJSON_free). */
static char *untimed_text(const cJSON *rec)
{
    cJSON *r = cJSON_Duplicate(rec, 1);
    const char *timed[] = {"time", "gbps", "pct_of_copy_bw", "speedup", "fma_per_s", "pct_of_fma_peak"};
    for (size_t i = 0; i < sizeof timed / sizeof timed[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(r, timed[i]);
    char *s = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return s;
}

#endif
