/* paper_table.c: the IsoQuant paper's Table 2 layout (RotorQuant, IsoQuant-Full, -Fast, -2D
 * latencies and the three speedups over RotorQuant) with the paper's own numbers beside ours,
 * one table per kernel variant, for GPU results only. The paper measured an RTX 4090; the table
 * says so. */
#include <stdio.h>
#include <string.h>

#include "results.h"

#define PAPER_TABLE2 "results/paper/isoquant_table2.csv"

typedef struct {
    char dtype[8];
    int bits, d;
    double us[4];      /* rotorquant, iso-full, iso-fast, iso-2d */
    double speedup[3]; /* full, fast, 2d */
} paper_row;

static int load_paper(paper_row *rows, int max)
{
    FILE *f = fopen(PAPER_TABLE2, "r");
    if (!f)
        return -1;
    char line[512];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        paper_row *r = &rows[n];
        if (line[0] == '#' || !strncmp(line, "dtype", 5))
            continue;
        if (sscanf(line, "%7[^,],%d,%d,%lf,%lf,%lf,%lf,%lf,%lf,%lf", r->dtype, &r->bits, &r->d,
                   &r->us[0], &r->us[1], &r->us[2], &r->us[3], &r->speedup[0], &r->speedup[1],
                   &r->speedup[2]) == 10)
            n++;
    }
    fclose(f);
    return n;
}

static const rb_record *find(const rb_run *run, rb_method m, const char *variant, const char *dtype,
                             int bits, int d)
{
    for (int i = 0; i < run->nrecs; i++) {
        const rb_record *r = &run->recs[i];
        if (!r->kva.on && r->method == m && !strcmp(r->variant, variant) && !strcmp(rb_dtype_name(r->dtype), dtype) &&
            r->bits == bits && r->d == d)
            return r;
    }
    return NULL;
}

int rb_paper_table_print(const rb_run *run, const char *variant, FILE *out)
{
    if (!strcmp(run->backend, "cpu")) { /* wall-clock times of the reference beside RTX 4090 kernels: no */
        fprintf(out, "\n(The paper's Table 2 layout is printed for GPU results only: CPU wall-clock times of the "
                     "reference are not comparable with the paper's GPU kernel times.)\n");
        return 0;
    }
    paper_row rows[64];
    int n = load_paper(rows, 64);
    if (n <= 0) {
        fprintf(out, "\n(paper table: %s not found, run from the repository root)\n", PAPER_TABLE2);
        return -1;
    }
    /* the paper's columns, found by the names the paper gives them (method.h, paper_name) */
    static const char *const cols[4] = {"RotorQuant", "IsoQuant-Full", "IsoQuant-Fast", "IsoQuant-2D"};
    rb_method ms[4];
    for (int k = 0; k < 4; k++)
        ms[k] = rb_method_find_paper(cols[k]);
    const char *clock = run->nrecs ? run->recs[0].t.clock : "";
    fprintf(out, "\n### Table 2 layout, variant `%s`: ours (%s backend, median µs, clock %s) | paper (RTX 4090, µs)\n\n",
            variant, run->backend, clock);
    fprintf(out, "Columns by the paper's names: Rotor = rotorquant, Full = isoquant-full, Fast = isoquant-fast, "
                 "2D = planarquant (the paper's IsoQuant-2D); × = speedup over Rotor.\n\n");
    fprintf(out, "| dtype | bits | d | N | Rotor | Full | Fast | 2D | Full× | Fast× | 2D× | paper Rotor | Full | Fast | 2D | Full× | Fast× | 2D× |\n");
    fprintf(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    double sum_ours[3] = {0}, sum_paper[3] = {0};
    int counted = 0;
    for (int i = 0; i < n; i++) {
        const paper_row *p = &rows[i];
        const rb_record *r[4];
        int have = 1;
        for (int k = 0; k < 4; k++)
            have &= (r[k] = find(run, ms[k], variant, p->dtype, p->bits, p->d)) != NULL;
        if (!have)
            continue;
        fprintf(out, "| %s | %d | %d | %ld |", p->dtype, p->bits, p->d, r[0]->N);
        for (int k = 0; k < 4; k++)
            fprintf(out, " %.2f |", r[k]->t.median_us);
        for (int k = 1; k < 4; k++) {
            double s = r[0]->t.median_us / r[k]->t.median_us;
            sum_ours[k - 1] += s;
            fprintf(out, " %.2f |", s);
        }
        for (int k = 0; k < 4; k++)
            fprintf(out, " %.1f |", p->us[k]);
        for (int k = 0; k < 3; k++) {
            sum_paper[k] += p->speedup[k];
            fprintf(out, " %.2f |", p->speedup[k]);
        }
        fprintf(out, "\n");
        counted++;
    }
    if (!counted) {
        fprintf(out, "(no setting of the paper's table in this run)\n");
        return 0;
    }
    fprintf(out, "| mean | | | | | | | | %.2f | %.2f | %.2f | | | | | %.2f | %.2f | %.2f |\n",
            sum_ours[0] / counted, sum_ours[1] / counted, sum_ours[2] / counted,
            sum_paper[0] / counted, sum_paper[1] / counted, sum_paper[2] / counted);
    return 0;
}
