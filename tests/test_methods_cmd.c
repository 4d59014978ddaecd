/* `rotorbench methods`: the registry listed for people and, as JSON, for the plot scripts, whose
 * method order, colours and point types come from it (plots/palette.sh). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "driver.h"
#include "methods.h"
#include "methods_cmd.h"

static int run_cmd(const char *a1, char *out, size_t outlen, char *err, size_t errlen)
{
    char *argv[] = {"methods", (char *)a1, NULL};
    FILE *o = tmpfile(), *e = tmpfile();
    if (!o || !e) {
        if (o)
            fclose(o);
        if (e)
            fclose(e);
        return -1;
    }
    int rc = rb_methods_run(a1 ? 2 : 1, argv, o, e);
    rewind(o);
    rewind(e);
    out[fread(out, 1, outlen - 1, o)] = '\0';
    err[fread(err, 1, errlen - 1, e)] = '\0';
    fclose(o);
    fclose(e);
    return rc;
}

/* The JSON: one method per line in registry order (what palette.sh reads with awk), the whole a
 * JSON document, with the fields the issue names and the colour of the method's position. */
TEST(methods_json_lists_the_registry_in_order)
{
    static char out[1 << 16], err[1024];
    int rc = run_cmd("--json", out, sizeof out, err, sizeof err);
    CHECK(rc == 0 && err[0] == '\0', "exit %d, stderr %s", rc, err);
    cJSON *doc = cJSON_Parse(out);
    const cJSON *ms = cJSON_GetObjectItem(doc, "methods");
    CHECK(cJSON_GetArraySize(ms) == rb_methods_count(), "%d methods listed, registry has %d",
          cJSON_GetArraySize(ms), rb_methods_count());
    CHECK(count_lines(out) == rb_methods_count() + 2, "%d lines, want one per method and two", count_lines(out));
    for (rb_method m = 0; m < rb_methods_count() && m < cJSON_GetArraySize(ms); m++) {
        const rb_method_desc *d = rb_method_get(m);
        const cJSON *o = cJSON_GetArrayItem(ms, m), *pn = cJSON_GetObjectItem(o, "paper_name");
        const cJSON *v = cJSON_GetObjectItem(o, "variants");
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "name"));
        CHECK(name && !strcmp(name, d->name), "[%d] %s, want %s", m, name ? name : "(none)", d->name);
        CHECK(d->paper_name ? cJSON_IsString(pn) && !strcmp(pn->valuestring, d->paper_name) : cJSON_IsNull(pn),
              "%s: paper_name", d->name);
        CHECK(cJSON_IsBool(cJSON_GetObjectItem(o, "in_all")) &&
                  cJSON_IsTrue(cJSON_GetObjectItem(o, "in_all")) == (d->in_all != 0),
              "%s: in_all", d->name);
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "origin")), rb_method_origin(m)), "%s: origin",
              d->name);
        CHECK(cJSON_GetObjectItem(o, "block_d128")->valueint == d->block(128), "%s: block", d->name);
        CHECK(cJSON_GetArraySize(v) == __builtin_popcount(d->variants), "%s: %d variants listed",
              d->name, cJSON_GetArraySize(v));
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")), d->summary), "%s: summary", d->name);
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "color")), rb_method_color(m)) &&
                  cJSON_GetObjectItem(o, "point")->valueint == rb_method_point(m),
              "%s: colour / point", d->name);
    }
    cJSON_Delete(doc);
    /* palette.sh finds a method's fields on its own line, the name first */
    const char *line = strstr(out, "\n{\"name\":\"identity\",");
    CHECK(line != NULL && strstr(line, "\"color\":\"#7f7f7f\"") < strchr(line + 1, '\n'), "identity's line:\n%s", out);
}

/* The colours: the built-ins keep the ones the plots always drew them in; every method up to 20
 * has its own, so a new built-in or a plugin is never the fallback black. */
TEST(methods_colours_by_registry_position)
{
    CHECK(!strcmp(rb_method_color(method_id("identity")), "#7f7f7f") &&
              !strcmp(rb_method_color(method_id("rotorquant")), "#d62728") &&
              !strcmp(rb_method_color(method_id("planarquant")), "#9467bd") &&
              !strcmp(rb_method_color(method_id("hqmq")), "#8c564b"),
          "built-in colours changed");
    CHECK(rb_method_point(method_id("identity")) == 3 && rb_method_point(method_id("hqmq")) == 15, "points");
    for (int a = 0; a < 20; a++) {
        CHECK(strcmp(rb_method_color(a), "#000000") != 0, "method %d drawn black", a);
        for (int b = 0; b < a; b++)
            CHECK(strcmp(rb_method_color(a), rb_method_color(b)) != 0, "methods %d and %d share %s", a, b,
                  rb_method_color(a));
    }
}

TEST(methods_table_and_bad_arguments)
{
    static char out[1 << 16], err[1024];
    CHECK(run_cmd(NULL, out, sizeof out, err, sizeof err) == 0, "table: %s", err);
    CHECK(count_lines(out) == rb_methods_count() + 2, "table: %d lines", count_lines(out));
    CHECK(strstr(out, "| test-signs-cpu | - | no | none (CPU only) | 3 | tests/test_added_methods.c |") != NULL,
          "the CPU-only method's row:\n%s", out);
    CHECK(strstr(out, "| planarquant | IsoQuant-2D | yes | paper, fast, encode, decode | 2 | built-in |") != NULL, "planarquant:\n%s",
          out);
    int rc = run_cmd("--jsn", out, sizeof out, err, sizeof err);
    CHECK(rc == 2 && count_lines(err) == 1 && strstr(err, "unknown option: --jsn"), "exit %d: %s", rc, err);
    rc = run_cmd("--plugin", out, sizeof out, err, sizeof err);
    CHECK(rc == 2 && count_lines(err) == 1 && strstr(err, "missing value after: --plugin"), "exit %d: %s", rc, err);
}

/* As the plot scripts run it: the binary, with a plugin; and plots/palette.sh, which turns it
 * into gnuplot: the plugin's method gets the colour of its position (the ninth: #e377c2). */
TEST(methods_driver_and_palette_with_a_plugin)
{
    char cmd[2048], line[4096] = "";
    FILE *p = popen("build/rotorbench methods --json --plugin build/examples/libexample_signs.so", "r");
    CHECK(p != NULL, "popen");
    int found = 0;
    while (p && fgets(line, sizeof line, p))
        found += strstr(line, "{\"name\":\"example-signs\",") == line && strstr(line, "\"color\":\"#e377c2\"") &&
                 strstr(line, "\"variants\":[\"paper\",\"fast\"]");
    CHECK(p && pclose(p) == 0 && found == 1, "example-signs not listed as the ninth method with both variants");
    /* a result naming the plugin (as rotorbench writes "plugins") */
    char dir[] = "/tmp/rb_paletteXXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/r.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "%s", path);
    if (!f)
        return;
    fputs("{\n\t\"plugins\":\t[{\n\t\t\t\"method\":\t\"example-signs\",\n"
          "\t\t\t\"library\":\t\"build/examples/libexample_signs.so\"\n\t\t}]\n}\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "plots/palette.sh %s", path);
    p = popen(cmd, "r");
    static char text[1 << 14];
    size_t n = p ? fread(text, 1, sizeof text - 1, p) : 0;
    text[n] = '\0';
    CHECK(p && pclose(p) == 0, "plots/palette.sh failed:\n%s", text);
    CHECK(strstr(text, "load '") == text && strstr(text, "/palette.gp'\n"), "loads palette.gp:\n%s", text);
    CHECK(strstr(text, "m eq 'example-signs' ? '#e377c2'") && strstr(text, "m eq 'identity' ? '#7f7f7f'") &&
              strstr(text, "m eq 'identity' ? 3 :"),
          "colours:\n%s", text);
    CHECK(strstr(text, "\nrb_methods = 'identity turboquant-wht turboquant-dense rotorquant isoquant-full "
                       "isoquant-fast planarquant hqmq") &&
              strstr(text, " example-signs'\n"),
          "order:\n%s", text);
    /* and gnuplot takes it (when installed: make deps) */
    if (system("command -v gnuplot > /dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd,
                 "plots/palette.sh %s > %s/p.gp && gnuplot -e \"load '%s/p.gp'; print mcolor('example-signs').' '."
                 "mcolor('nope')\" 2>&1",
                 path, dir, dir);
        p = popen(cmd, "r");
        n = p ? fread(text, 1, sizeof text - 1, p) : 0;
        text[n] = '\0';
        CHECK(p && pclose(p) == 0 && !strcmp(text, "#e377c2 #000000\n"), "gnuplot: %s", text);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cannot remove %s", dir);
}
