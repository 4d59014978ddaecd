/* registry.c: the built-in methods, one line each, and the plugins loaded at run time. */
#include "registry.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* The built-in methods, in the order of "all" and of results. Append only: a method's position
 * seeds its parameters (rb_method_seed_tag), so reordering would change every result. */
#define RB_BUILTIN_METHODS(X) \
    X(identity)               \
    X(turboquant_wht)         \
    X(turboquant_dense)       \
    X(rotorquant)             \
    X(isoquant_full)          \
    X(isoquant_fast)          \
    X(planarquant)            \
    X(hqmq)

#define RB_DECLARE(n) extern const rb_method_desc rb_method_##n;
RB_BUILTIN_METHODS(RB_DECLARE)
#define RB_ENTRY(n) &rb_method_##n,

static const rb_method_desc *g_methods[RB_MAX_METHODS] = {RB_BUILTIN_METHODS(RB_ENTRY)};
#define RB_NBUILTIN ((int)(sizeof((const rb_method_desc *[]){RB_BUILTIN_METHODS(RB_ENTRY)}) / sizeof(void *)))
static const char *g_origin[RB_MAX_METHODS];
static int g_count = RB_NBUILTIN;

int rb_methods_count(void) { return g_count; }
int rb_methods_builtin_count(void) { return RB_NBUILTIN; }

const rb_method_desc *rb_method_get(rb_method m) { return m >= 0 && m < g_count ? g_methods[m] : NULL; }

const char *rb_method_name(rb_method m)
{
    const rb_method_desc *d = rb_method_get(m);
    return d ? d->name : "unknown";
}

const char *rb_method_origin(rb_method m)
{
    return m >= RB_NBUILTIN && m < g_count ? g_origin[m] : "built-in";
}

rb_method rb_method_find(const char *name)
{
    for (int i = 0; name && i < g_count; i++)
        if (!strcmp(g_methods[i]->name, name))
            return i;
    return -1;
}

rb_method rb_method_find_paper(const char *paper_name)
{
    for (int i = 0; paper_name && i < g_count; i++)
        if (g_methods[i]->paper_name && !strcmp(g_methods[i]->paper_name, paper_name))
            return i;
    return -1;
}

static int valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 31)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

int rb_method_check(const rb_method_desc *d, char *err, size_t errlen)
{
    if (!d) {
        snprintf(err, errlen, "a NULL descriptor");
        return -1;
    }
    if (d->abi != RB_METHOD_ABI) {
        snprintf(err, errlen, "descriptor ABI version %d, this rotorbench needs %d (rebuild against "
                              "its kernels/common/method.h)", d->abi, RB_METHOD_ABI);
        return -1;
    }
    const char *missing = !d->block ? "block" : !d->param_count ? "param_count" : !d->fma ? "fma" : NULL;
    if (!valid_name(d->name)) {
        snprintf(err, errlen, "method name '%s' is not 1..31 characters of a-z 0-9 - _",
                 d->name ? d->name : "(null)");
    } else if (missing) {
        snprintf(err, errlen, "method '%s': no %s function", d->name, missing);
    } else if (d->param_kind < RB_PARAMS_NONE || d->param_kind > RB_PARAMS_UNIT_GROUPS ||
               (d->param_kind == RB_PARAMS_UNIT_GROUPS && (d->param_group < 1 || d->param_group > 64))) {
        snprintf(err, errlen, "method '%s': param_kind %d / param_group %d is not a known way to draw "
                              "parameters", d->name, d->param_kind, d->param_group);
    } else if ((d->variants & ~(RB_VARIANT_BIT_PAPER | RB_VARIANT_BIT_FAST | RB_VARIANT_BIT_ENCODE | RB_VARIANT_BIT_DECODE)) ||
               (!d->launch != !d->variants) ||
               /* the KV-cache paths run as the fast variant (kvpack.h) */
               ((d->variants & (RB_VARIANT_BIT_ENCODE | RB_VARIANT_BIT_DECODE)) && !(d->variants & RB_VARIANT_BIT_FAST))) {
        snprintf(err, errlen, "method '%s': variants 0x%x do not match its launcher (%s)", d->name,
                 d->variants, d->launch ? "given" : "none");
    } else if (!d->rotate_fwd != !d->rotate_inv) {
        snprintf(err, errlen, "method '%s': rotate_fwd and rotate_inv must both be given or both NULL", d->name);
    } else {
        return 0;
    }
    return -1;
}

int rb_method_register(const rb_method_desc *d, const char *origin, char *err, size_t errlen)
{
    char why[256];
    if (rb_method_check(d, why, sizeof why)) {
        snprintf(err, errlen, "%s: %s", origin, why);
        return -1;
    }
    if (d->hooks) { /* the hooks are the harness's own, not part of the plugin ABI */
        snprintf(err, errlen, "%s: method '%s' sets hooks, which only built-in methods may", origin, d->name);
        return -1;
    }
    rb_method clash = rb_method_find(d->name);
    if (clash >= 0) {
        snprintf(err, errlen, "%s: method name '%s' is already taken (%s)", origin, d->name,
                 rb_method_origin(clash));
        return -1;
    }
    if (g_count >= RB_MAX_METHODS) {
        snprintf(err, errlen, "%s: more than %d methods", origin, RB_MAX_METHODS);
        return -1;
    }
    g_origin[g_count] = origin;
    g_methods[g_count++] = d;
    return 0;
}

int rb_plugin_load(const char *path, char *err, size_t errlen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(err, errlen, "plugin %s: cannot load: %s", path, e ? e : "unknown error");
        return -1;
    }
    const int *abi = dlsym(h, RB_PLUGIN_ABI_SYMBOL);
    const rb_method_desc *const *(*list)(void) = NULL;
    *(void **)&list = dlsym(h, RB_PLUGIN_METHODS_SYMBOL);
    const rb_method_desc *const *ms = NULL;
    if (!abi || !list) {
        snprintf(err, errlen, "plugin %s: no symbol %s (a rotorbench plugin exports %s and %s: "
                              "kernels/common/method.h)", path, !abi ? RB_PLUGIN_ABI_SYMBOL : RB_PLUGIN_METHODS_SYMBOL,
                 RB_PLUGIN_ABI_SYMBOL, RB_PLUGIN_METHODS_SYMBOL);
    } else if (*abi != RB_METHOD_ABI) {
        snprintf(err, errlen, "plugin %s: built for method ABI %d, this rotorbench needs %d", path, *abi,
                 RB_METHOD_ABI);
    } else if (!(ms = list()) || !ms[0]) {
        snprintf(err, errlen, "plugin %s: %s() lists no method", path, RB_PLUGIN_METHODS_SYMBOL);
    } else {
        int before = g_count, k = 0;
        char why[512];
        for (; ms[k]; k++)
            if (rb_method_register(ms[k], path, why, sizeof why)) {
                snprintf(err, errlen, "plugin %s", why);
                break;
            }
        if (!ms[k])
            return 0; /* stays loaded for the process's life: its descriptors point into it */
        g_count = before; /* all or nothing */
    }
    dlclose(h);
    return -1;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

uint64_t rb_method_seed_tag(rb_method m)
{
    if (m >= 0 && m < RB_NBUILTIN)
        return (uint64_t)m;
    const rb_method_desc *d = rb_method_get(m);
    return d ? fnv1a(d->name) | (1ull << 40) : ~0ull;
}
