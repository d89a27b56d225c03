/*
 * include.h - reading configuration files, and the names an `include` expands to
 * (core/conf only).
 *
 * Main thread, while a configuration is built.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/values.h"

#include <stddef.h>

/*
 * Reads a whole configuration file (a regular file of at most 64 MiB, no NUL byte). 0 with
 * *text (the caller sp_frees it) and *len, or -1 with a sentence in err (no file:line).
 */
int conf_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen) MUST_CHECK;

/* The absolute directory of path (the cwd for a bare name); sp_free it. NULL: OOM. */
char *conf_dir_of(const char *path);

/* The files an `include` names, in the order they are read. */
struct conf_names {
    char **v;
    unsigned n;
};

/*
 * Expands an include argument: a plain name must exist, a glob (* ? [) may match nothing;
 * matches come in strcmp order. A relative name is looked up in dir (the including file's
 * directory), then in maindir (the main file's: nginx's rule), the first that has it. 0, or
 * -1 with p's error. conf_names_free() after, either way.
 */
int conf_include_names(struct conf_parse *p, const char *arg, const char *dir, const char *maindir,
                       struct conf_names *out) MUST_CHECK;

void conf_names_free(struct conf_names *n);
