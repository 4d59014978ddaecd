/* methods_cmd.c: `rotorbench methods`, the registry listed (methods_cmd.h). The JSON puts one
 * method per line, so a shell script can read it with awk where jq is missing. */
#include "methods_cmd.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* tab10, then tab20's light hues: the first eight are the built-ins' colours in registry order
 * (identity grey, TurboQuant blues, RotorQuant red, ...), as the plots have always drawn them. */
/* The GPU launch structures a descriptor's variants bits name (method.h), in listing order. */
static const struct {
    unsigned bit;
    const char *name;
} g_variant_names[] = {{RB_VARIANT_BIT_PAPER, "paper"},
                       {RB_VARIANT_BIT_FAST, "fast"},
                       {RB_VARIANT_BIT_ENCODE, "encode"},
                       {RB_VARIANT_BIT_DECODE, "decode"}};

static const char *const palette[] = {
    "#7f7f7f", "#1f77b4", "#17becf", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5", "#c7c7c7",
};
static const int points[] = {3, 5, 4, 7, 9, 11, 13, 15, 8, 10, 12, 14, 1, 2, 6};

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *rb_method_color(rb_method m) { return m >= 0 ? palette[m % NELEM(palette)] : "#000000"; }
int rb_method_point(rb_method m) { return m >= 0 ? points[m % NELEM(points)] : 6; }

static cJSON *method_json(rb_method m)
{
    const rb_method_desc *d = rb_method_get(m);
    cJSON *o = cJSON_CreateObject(), *v = NULL;
    int ok = o && cJSON_AddStringToObject(o, "name", d->name) &&
             (d->paper_name ? cJSON_AddStringToObject(o, "paper_name", d->paper_name)
                            : cJSON_AddNullToObject(o, "paper_name")) &&
             cJSON_AddStringToObject(o, "summary", d->summary ? d->summary : "") &&
             cJSON_AddBoolToObject(o, "in_all", d->in_all != 0) &&
             cJSON_AddStringToObject(o, "origin", rb_method_origin(m)) &&
             (v = cJSON_AddArrayToObject(o, "variants")) && cJSON_AddNumberToObject(o, "block_d128", d->block(128)) &&
             cJSON_AddStringToObject(o, "color", rb_method_color(m)) &&
             cJSON_AddNumberToObject(o, "point", rb_method_point(m));
    for (int k = 0; ok && k < NELEM(g_variant_names); k++)
        if (d->variants & g_variant_names[k].bit) {
            cJSON *s = cJSON_CreateString(g_variant_names[k].name);
            ok = s && cJSON_AddItemToArray(v, s);
            if (!ok)
                cJSON_Delete(s);
        }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int print_json(FILE *out, FILE *err)
{
    fprintf(out, "{\"methods\": [\n");
    for (rb_method m = 0; m < rb_methods_count(); m++) {
        cJSON *o = method_json(m);
        char *text = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!text) {
            fprintf(err, "rotorbench methods: out of memory\n");
            return 1;
        }
        fprintf(out, "%s%s\n", text, m + 1 < rb_methods_count() ? "," : "");
        free(text);
    }
    fprintf(out, "]}\n");
    return 0;
}

static void print_table(FILE *out)
{
    fprintf(out, "| method | paper name | in \"all\" | GPU variants | block (d = 128) | origin | what it is |\n");
    fprintf(out, "|---|---|---|---|---|---|---|\n");
    for (rb_method m = 0; m < rb_methods_count(); m++) {
        const rb_method_desc *d = rb_method_get(m);
        char vl[64] = "";
        for (int k = 0; k < NELEM(g_variant_names); k++)
            if (d->variants & g_variant_names[k].bit)
                snprintf(vl + strlen(vl), sizeof vl - strlen(vl), "%s%s", vl[0] ? ", " : "", g_variant_names[k].name);
        fprintf(out, "| %s | %s | %s | %s | %d | %s | %s |\n", d->name, d->paper_name ? d->paper_name : "-",
                d->in_all ? "yes" : "no", vl[0] ? vl : "none (CPU only)", d->block(128), rb_method_origin(m),
                d->summary ? d->summary : "");
    }
}

int rb_methods_run(int argc, char **argv, FILE *out, FILE *err)
{
    int json = 0;
    char why[1024];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--plugin") && i + 1 < argc) {
            if (rb_plugin_load(argv[++i], why, sizeof why)) {
                fprintf(err, "rotorbench methods: %s\n", why);
                return 2;
            }
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fprintf(out, "usage: rotorbench methods [--json] [--plugin LIB.so ...]\n"
                         "  the methods of the registry (built in, then the plugins given), in the order of\n"
                         "  configs and results; --json: one object per method, with its plot colour and point\n");
            return 0;
        } else {
            fprintf(err, "rotorbench methods: %s: %s (usage: rotorbench methods [--json] [--plugin LIB.so ...])\n",
                    !strcmp(argv[i], "--plugin") ? "missing value after" : "unknown option", argv[i]);
            return 2;
        }
    }
    if (json)
        return print_json(out, err);
    print_table(out);
    return 0;
}
