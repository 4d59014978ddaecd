/* fuzz_config.c: libFuzzer target for the config parser (harness/config.c). rb_config_parse
 * gets arbitrary bytes; it must never crash, leak or read out of bounds, and what it accepts
 * must satisfy the invariants the rest of rotorbench relies on (abort() otherwise).
 *
 *   make build/fuzz_config      (clang, -fsanitize=fuzzer,address,undefined)
 *   build/fuzz_config -max_total_time=60 tests/fuzz/corpus
 * To keep new inputs out of the committed corpus, give a scratch directory first:
 *   build/fuzz_config -max_total_time=60 /tmp/fuzz-new tests/fuzz/corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CHECK(c)   \
    do {           \
        if (!(c))  \
            abort(); \
    } while (0)

static void check_list_long(const long *v, int n, long lo, long hi)
{
    CHECK(n >= 1 && n <= RB_MAX_LIST);
    for (int i = 0; i < n; i++) {
        CHECK(v[i] >= lo && v[i] <= hi);
        for (int j = 0; j < i; j++)
            CHECK(v[i] != v[j]);
    }
}

static void check_list_int(const int *v, int n, int lo, int hi)
{
    CHECK(n >= 1 && n <= RB_MAX_LIST);
    for (int i = 0; i < n; i++) {
        CHECK(v[i] >= lo && v[i] <= hi);
        for (int j = 0; j < i; j++)
            CHECK(v[i] != v[j]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rb_config cfg;
    char err[512];
    memset(&cfg, 0xA5, sizeof cfg); /* a failed parse must leave it exactly so */
    memset(err, 'x', sizeof err);
    int rc = rb_config_parse("fuzz.json", (const char *)data, size, &cfg, err, sizeof err);

    /* Either way the message is a terminated single line. */
    CHECK(memchr(err, '\0', sizeof err) != NULL);
    CHECK(!strchr(err, '\n') && !strchr(err, '\r'));
    if (rc != 0) {
        CHECK(rc == -1);
        CHECK(strncmp(err, "fuzz.json: ", 11) == 0);
        const unsigned char *p = (const unsigned char *)&cfg;
        for (size_t i = 0; i < sizeof cfg; i++)
            CHECK(p[i] == 0xA5);
        return 0;
    }

    /* Accepted: every field in range, lists distinct, names safe for file paths. */
    size_t nl = strnlen(cfg.name, sizeof cfg.name);
    CHECK(nl >= 1 && nl < sizeof cfg.name);
    CHECK(strspn(cfg.name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == nl);
    CHECK(strcmp(cfg.name, ".") != 0 && strcmp(cfg.name, "..") != 0);
    CHECK(cfg.seed <= 9007199254740992ull);
    if (rb_config_has_synthetic(&cfg) || cfg.nN) /* a file brings its own rows */
        check_list_long(cfg.N, cfg.nN, 1, 268435456L);
    if (rb_config_has_synthetic(&cfg) || cfg.ndims)
        check_list_int(cfg.dims, cfg.ndims, 2, 4096);
    check_list_int(cfg.bits, cfg.nbits, 1, 8);
    CHECK(cfg.ndtypes >= 1 && cfg.ndtypes <= 2);
    for (int i = 0; i < cfg.ndtypes; i++)
        CHECK(cfg.dtypes[i] == RB_FP16 || cfg.dtypes[i] == RB_FP32);
    if (cfg.ndtypes == 2)
        CHECK(cfg.dtypes[0] != cfg.dtypes[1]);
    CHECK(cfg.nmethods >= 1 && cfg.nmethods <= rb_methods_count());
    for (int i = 0; i < cfg.nmethods; i++) {
        const rb_method_desc *md = rb_method_get(cfg.methods[i]);
        CHECK(md != NULL);
        for (int j = 0; j < i; j++)
            CHECK(cfg.methods[i] != cfg.methods[j]);
        for (int k = 0; md->check_d && k < cfg.ndims; k++) /* e.g. WHT: a power of two */
            CHECK(md->check_d(cfg.dims[k]) == NULL);
    }
    CHECK(cfg.codebook == RB_CODEBOOK_GAUSSIAN || cfg.codebook == RB_CODEBOOK_BETA);
    CHECK(cfg.ndists >= 1 && cfg.ndists <= RB_MAX_DISTS);
    for (int k = 0; k < cfg.ndists; k++) {
        const rb_data_dist *dd = &cfg.dists[k];
        CHECK(dd->kind >= RB_DIST_SPHERE && dd->kind <= RB_DIST_FILE);
        if (dd->kind == RB_DIST_CHANNEL_OUTLIERS) /* fits every d, finite positive scale */
            for (int i = 0; i < cfg.ndims; i++)
                CHECK(dd->channels >= 1 && dd->channels <= cfg.dims[i]);
        CHECK(dd->scale > 0 && dd->scale <= 1e6 && dd->sigma > 0 && dd->sigma <= 10 && dd->rank >= 1 &&
              dd->noise >= 0 && dd->noise <= 100);
        CHECK(dd->kind != RB_DIST_FILE || (dd->path[0] && strnlen(dd->path, sizeof dd->path) < sizeof dd->path));
        CHECK(dd->rows_mode == RB_ROWS_ALL || (dd->rows_n >= 1 && dd->rows_n <= (1L << 28)));
    }
    CHECK(rb_config_has_synthetic(&cfg) || cfg.nN == 0);
    CHECK(cfg.hqmq.nops >= 1 && cfg.hqmq.nops <= RB_HQMQ_MAX_OPS);
    for (int i = 0; i < cfg.hqmq.nops; i++) {
        CHECK(cfg.hqmq.ops[i].S >= 1 && cfg.hqmq.ops[i].S <= RB_HQMQ_MAX_S);
        CHECK(cfg.hqmq.ops[i].rbits >= 1 && cfg.hqmq.ops[i].rbits <= 16);
        for (int j = 0; j < i; j++) /* distinct operating points */
            CHECK(cfg.hqmq.ops[i].S != cfg.hqmq.ops[j].S || cfg.hqmq.ops[i].rbits != cfg.hqmq.ops[j].rbits);
    }
    CHECK(cfg.hqmq.outliers == 0 || cfg.hqmq.outliers == 1);
    CHECK(cfg.hqmq.sigma_inliers == 0 || (cfg.hqmq.sigma_inliers == 1 && cfg.hqmq.outliers == 1));
    CHECK(cfg.hqmq.C > 0 && cfg.hqmq.C <= 1000);
    CHECK(rb_method_get(cfg.baseline) != NULL && rb_method_get(cfg.baseline)->in_all);
    size_t ol = strnlen(cfg.output_dir, sizeof cfg.output_dir);
    CHECK(ol >= 1 && ol < sizeof cfg.output_dir);
    CHECK(strnlen(cfg.path, sizeof cfg.path) < sizeof cfg.path);
    return 0;
}
