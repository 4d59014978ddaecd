/* methods_cmd.h: `rotorbench methods [--json] [--plugin LIB.so ...]`, the registry as a table
 * or as JSON for tools (the plot scripts take their method order, colours and point types from
 * it, so a new method or plugin is drawn like the others without editing them). */
#ifndef RB_METHODS_CMD_H
#define RB_METHODS_CMD_H

#include <stdio.h>

#include "registry.h"

/* A colour ("#rrggbb") and a gnuplot point type per registry position, plugins included: the
 * built-ins keep theirs whatever is loaded after them. */
const char *rb_method_color(rb_method m);
int rb_method_point(rb_method m);

/* argv[0] = "methods". The listing to out, one line of error to err; exit status 0, or 2 for a
 * bad argument or a plugin refused. */
int rb_methods_run(int argc, char **argv, FILE *out, FILE *err);

#endif
