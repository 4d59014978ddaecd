/* registry.h: the methods rotorbench knows, built in and loaded from plugins. A method's index
 * in the registry (rb_method) is what configs, parameters and records carry; everything else
 * about it comes from its descriptor (method.h). */
#ifndef RB_REGISTRY_H
#define RB_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "method.h"

#define RB_MAX_METHODS 32

#ifdef __cplusplus
extern "C" {
#endif

typedef int rb_method; /* registry index */

int rb_methods_count(void);
int rb_methods_builtin_count(void);
const rb_method_desc *rb_method_get(rb_method m); /* NULL when m is not registered */
const char *rb_method_name(rb_method m);          /* "unknown" when m is not registered */
rb_method rb_method_find(const char *name);       /* -1 when no method has that name */
rb_method rb_method_find_paper(const char *paper_name); /* by the paper's name, -1 if none */

/* 0 when d is a usable descriptor; else -1 with one line in err saying what is wrong. */
int rb_method_check(const rb_method_desc *d, char *err, size_t errlen);
/* Check and append d (origin names where it came from, for messages). -1 with one line in err:
 * a bad descriptor, a name already taken, or a full registry. */
int rb_method_register(const rb_method_desc *d, const char *origin, char *err, size_t errlen);
/* dlopen a plugin and register every method it exports (method.h); all or nothing. -1 with
 * one line in err naming the file and what is wrong (not found, missing symbol, ABI version,
 * bad descriptor, name clash). */
int rb_plugin_load(const char *path, char *err, size_t errlen);
/* Where the method came from: "built-in" or the plugin's path. */
const char *rb_method_origin(rb_method m);

/* Seeds the method's parameters (data.c): built-ins keep their registry position (the built-in
 * list is append-only for that reason); a plugin's method hashes its name, so its parameters
 * do not depend on the order plugins are loaded in. */
uint64_t rb_method_seed_tag(rb_method m);

#ifdef __cplusplus
}
#endif

#endif
