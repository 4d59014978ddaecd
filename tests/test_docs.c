/* test_docs.c: the docs against the code. docs/config-format.md is the one reference for the
 * config's keys: its key table has a row for every key the parser accepts and none other, and
 * the defaults it states for output_dir match the parser's. Every shell example in README.md
 * and the docs/ pages says how it is checked (tests/docs_examples.sh runs the runnable ones). */
#include "check.h"
#include "config.h"

#include <glob.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

#define MAX_DOC_KEYS 64

/* The keys of the key table (header "| key | type | default | allowed values |"): the first
 * cell of each row, `key` in backticks; default[i] gets the third cell, trimmed. */
static int doc_keys(const char *text, char keys[][64], char defaults[][128], int max)
{
    const char *t = strstr(text, "\n| key | type | default |");
    int n = 0;
    if (!t)
        return -1;
    t = strchr(t + 1, '\n'); /* the header */
    t = t ? strchr(t + 1, '\n') : NULL; /* the |---| row */
    while (t && t[1] == '|' && n < max) {
        const char *row = t + 1, *end = strchr(row, '\n');
        const char *a = strchr(row, '`'), *b = a ? strchr(a + 1, '`') : NULL;
        if (!a || !b || (end && b > end))
            return -1;
        snprintf(keys[n], 64, "%.*s", (int)(b - a - 1), a + 1);
        /* cells 2 and 3: after the second and third '|' */
        const char *c = row;
        for (int k = 0; k < 2 && c; k++)
            c = strchr(c + 1, '|');
        const char *ce = c ? strchr(c + 1, '|') : NULL;
        defaults[n][0] = '\0';
        if (c && ce && (!end || ce < end)) {
            c++;
            while (*c == ' ')
                c++;
            while (ce > c && ce[-1] == ' ')
                ce--;
            snprintf(defaults[n], 128, "%.*s", (int)(ce - c), c);
        }
        n++;
        t = end;
    }
    return n;
}

TEST(config_format_documents_every_parser_key)
{
    char *doc = slurp("docs/config-format.md");
    CHECK(doc != NULL, "cannot read docs/config-format.md");
    if (!doc)
        return;
    static char keys[MAX_DOC_KEYS][64], defs[MAX_DOC_KEYS][128];
    int nd = doc_keys(doc, keys, defs, MAX_DOC_KEYS);
    CHECK(nd > 0, "docs/config-format.md: no key table (| key | type | default | allowed values |)");
    const char *const *pk;
    int np = rb_config_keys(&pk);
    CHECK(np >= 16, "the parser lists %d keys", np);
    /* every key the parser takes has exactly one row */
    for (int i = 0; i < np; i++) {
        int rows = 0;
        for (int j = 0; j < nd; j++)
            rows += !strcmp(pk[i], keys[j]);
        CHECK(rows == 1, "config key '%s' (harness/config.c) has %d rows in docs/config-format.md's key "
              "table: add one row | `%s` | type | default | allowed values |", pk[i], rows, pk[i]);
    }
    /* every documented key is one the parser takes */
    for (int j = 0; j < nd; j++) {
        int found = 0;
        for (int i = 0; i < np; i++)
            found |= !strcmp(pk[i], keys[j]);
        CHECK(found, "docs/config-format.md documents key '%s', which harness/config.c does not accept",
              keys[j]);
    }
    /* the default output directory as the parser sets it */
    static rb_config cfg;
    char err[512];
    const char *text = "{\"name\": \"t\", \"seed\": 1, \"N\": 64, \"dims\": 128, \"bits\": 2, \"methods\": \"all\"}";
    CHECK(rb_config_parse("t.json", text, strlen(text), &cfg, err, sizeof err) == 0, "%s", err);
    char want[RB_MAX_PATH + 8];
    snprintf(want, sizeof want, "`\"%s\"`", cfg.output_dir);
    for (int j = 0; j < nd; j++)
        if (!strcmp(keys[j], "output_dir"))
            CHECK(!strcmp(defs[j], want), "docs/config-format.md: output_dir's default is %s, the parser's %s",
                  defs[j], want);
    free(doc);
}

/* The README links to the key reference instead of keeping a second key table. */
TEST(readme_has_no_second_key_table)
{
    char *readme = slurp("README.md");
    CHECK(readme != NULL, "cannot read README.md");
    if (!readme)
        return;
    CHECK(strstr(readme, "\n| key | type | default |") == NULL,
          "README.md has a config key table: docs/config-format.md is the one reference, link to it");
    CHECK(strstr(readme, "(docs/config-format.md)") != NULL, "README.md does not link docs/config-format.md");
    free(readme);
}

/* Every fenced shell block (```sh, ```bash, ```shell, ```console) in README.md and docs/ (.md) has
 * a marker on the line before it saying how it is checked:
 *   <!-- docs-test: run [VAR=value ...] -->  tests/docs_examples.sh runs it (CPU backend)
 *   <!-- docs-test: ci -->                   CI runs each of its commands: each line is in .ci/run
 *   <!-- docs-test: gpu -->                  needs a GPU: skipped with one line
 *   <!-- docs-test: template -->             a synopsis or names files the reader supplies
 * and a ```json block after <!-- docs-test: file PATH --> is PATH's text, byte for byte. */
static int is_shell_fence(const char *line)
{
    static const char *const langs[] = {"```sh", "```bash", "```shell", "```console"};
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
        size_t n = strlen(langs[i]);
        if (!strncmp(line, langs[i], n) && (line[n] == '\n' || line[n] == ' ' || line[n] == '\0'))
            return 1;
    }
    return 0;
}

static int line_of(const char *text, const char *at)
{
    int n = 1;
    for (; text < at; text++)
        n += *text == '\n';
    return n;
}

/* A problem found in a doc: printed unless quiet, counted. */
static int g_quiet;
#define PROBLEM(...)                                                            \
    do {                                                                        \
        nproblems++;                                                            \
        if (!g_quiet) {                                                         \
            fprintf(stderr, "    ");                                            \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
        }                                                                       \
    } while (0)

/* The commands of a ci block, each a line of .ci/run (comments after '#' dropped). */
static int check_ci_block(const char *path, int at, const char *body, const char *close, const char *ci)
{
    int nproblems = 0;
    for (const char *l = body; l < close;) {
        const char *e = strchr(l, '\n');
        int n = (int)(e - l);
        const char *hash = memchr(l, '#', (size_t)n);
        if (hash)
            n = (int)(hash - l);
        while (n > 0 && l[n - 1] == ' ')
            n--;
        char cmd[256];
        snprintf(cmd, sizeof cmd, "\n%.*s\n", n, l);
        if (n > 0 && !strstr(ci, cmd))
            PROBLEM("%s:%d: '%.*s' is marked ci but .ci/run has no such line", path, at, n, l);
        l = e + 1;
    }
    return nproblems;
}

/* The number of problems in the doc at path (each printed unless g_quiet). */
static int doc_example_problems(const char *path, const char *ci)
{
    int nproblems = 0;
    char *text = slurp(path);
    if (!text) {
        PROBLEM("cannot read %s", path);
        return nproblems;
    }
    char prev[256] = ""; /* the line before the current one */
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        if (!end)
            break;
        if (strncmp(line, "```", 3) || line[3] == '\n') { /* not an opening fence */
            snprintf(prev, sizeof prev, "%.*s", (int)(end - line), line);
            line = end + 1;
            continue;
        }
        const int at = line_of(text, line);
        char *body = end + 1, *close = body;
        while (*close && strncmp(close, "```", 3)) {
            char *e = strchr(close, '\n');
            close = e ? e + 1 : close + strlen(close);
        }
        if (!*close) {
            PROBLEM("%s:%d: a fenced block that is never closed", path, at);
            break;
        }
        if (is_shell_fence(line)) {
            const char *m = strstr(prev, "<!-- docs-test: ");
            const char *kind = m ? m + 16 : "";
            int ok = !strncmp(kind, "run ", 4) || !strncmp(kind, "ci ", 3) || !strncmp(kind, "gpu ", 4) ||
                     !strncmp(kind, "template ", 9);
            if (!ok)
                PROBLEM("%s:%d: a shell example without a marker on the line before it: "
                        "<!-- docs-test: run|ci|gpu|template --> (tests/test_docs.c says what each means)", path, at);
            if (!strncmp(kind, "ci ", 3))
                nproblems += check_ci_block(path, at, body, close, ci);
        }
        const char *f = strstr(prev, "<!-- docs-test: file ");
        if (!strncmp(line, "```json", 7) && f) {
            char fp[256] = "";
            char *want = sscanf(f + 21, "%255s", fp) == 1 ? slurp(fp) : NULL;
            if (!want)
                PROBLEM("%s:%d: docs-test: file: cannot read '%s'", path, at, fp);
            else if (strlen(want) != (size_t)(close - body) || strncmp(want, body, strlen(want)))
                PROBLEM("%s:%d: the block differs from %s: copy the file into it", path, at, fp);
            free(want);
        }
        prev[0] = '\0';
        char *e = strchr(close, '\n');
        line = e ? e + 1 : close + strlen(close);
    }
    free(text);
    return nproblems;
}

TEST(shell_examples_say_how_they_are_checked)
{
    char *ci = slurp(".ci/run");
    CHECK(ci != NULL, "cannot read .ci/run");
    if (!ci)
        return;
    int n = doc_example_problems("README.md", ci);
    CHECK(n == 0, "README.md: %d problems (above)", n);
    glob_t g;
    int rc = glob("docs/*.md", 0, NULL, &g);
    CHECK(rc == 0 && g.gl_pathc > 0, "no docs/*.md");
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
        n = doc_example_problems(g.gl_pathv[i], ci);
        CHECK(n == 0, "%s: %d problems (above)", g.gl_pathv[i], n);
    }
    if (rc == 0)
        globfree(&g);
    free(ci);
}

/* The checks above find what they are for: each doc below has exactly one mistake. */
TEST(shell_example_checks_find_mistakes)
{
    static const struct { const char *doc; int problems; } cases[] = {
        {"text\n<!-- docs-test: run -->\n```sh\nls\n```\n", 0},
        {"text\n\n```sh\nls\n```\n", 1},                                    /* no marker */
        {"<!-- docs-test: gpu -->\n\n```bash\nls\n```\n", 1},                 /* not on the line before */
        {"<!-- docs-test: sometimes -->\n```sh\nls\n```\n", 1},                /* no such kind */
        {"<!-- docs-test: ci -->\n```sh\nmake test\nmake nothing\n```\n", 1}, /* not in .ci/run */
        {"<!-- docs-test: file configs/smoke.json -->\n```json\n{}\n```\n", 1}, /* not the file */
        {"<!-- docs-test: file no/such.json -->\n```json\n{}\n```\n", 1},
        {"<!-- docs-test: template -->\n```sh\nls\n", 1},                       /* never closed */
        {"```json\n{}\n```\n```c\nint x;\n```\n", 0},                           /* not shell */
    };
    const char *ci = "set -e\nmake test\n";
    const char *path = "/tmp/rb_docs_test.md";
    g_quiet = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "w");
        CHECK(f && fputs(cases[i].doc, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
        int n = doc_example_problems(path, ci);
        CHECK(n == cases[i].problems, "case %zu: %d problems, want %d:\n%s", i, n, cases[i].problems, cases[i].doc);
    }
    g_quiet = 0;
    unlink(path);
}
