/* kvtable.c: the KV cache's bytes per token per method, as a Markdown table after a run whose
 * config asks for a packed path (encode or decode): what one cached vector of d coordinates
 * costs in the packed format (docs/methods.md, Packed format), against fp16. */
#include <stdio.h>

#include "counts.h"
#include "kvcodec.h"
#include "results.h"

void rb_results_print_kv_bytes(const rb_run *run, FILE *out)
{
    const rb_config *cfg = run->cfg;
    int packed = 0;
    for (int i = 0; i < cfg->npaths; i++)
        packed |= cfg->paths[i] == RB_PATH_ENCODE || cfg->paths[i] == RB_PATH_DECODE;
    int scalar = 0; /* methods of the scalar format; HQMQ's bytes are in its records (stored_bytes) */
    for (int m = 0; m < cfg->nmethods; m++)
        scalar |= rb_kv_method_packs(cfg->methods[m]);
    if (!packed || !scalar)
        return;
    const int nk = rb_kv_norm_kind(cfg->unit_norm, cfg->kv_norm);
    fprintf(out, "\n### KV cache: bytes per token (packed codes + %s norm; fp16 is 2 d)\n\n", rb_kv_norm_name(nk));
    fprintf(out, "| method | d | bits | code bytes | norm bytes | bytes/token | bits/coord | vs fp16 |\n");
    fprintf(out, "|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int m = 0; m < cfg->nmethods; m++) {
        const rb_method meth = cfg->methods[m];
        if (!rb_kv_method_packs(meth))
            continue;
        for (int di = 0; di < cfg->ndims; di++)
            for (int bi = 0; bi < cfg->nbits; bi++) {
                const int d = cfg->dims[di], b = cfg->bits[bi];
                const long tok = rb_kv_stored_bytes(meth, d, b, nk, 1), nb = rb_kv_norm_bytes(nk);
                fprintf(out, "| %s | %d | %d | %ld | %ld | %ld | %.3f | %.2fx smaller |\n", rb_method_name(meth), d, b,
                        tok - nb, nb, tok, 8.0 * tok / d, 2.0 * d / tok);
            }
    }
}
