/*
 * nginx_compat.h - nginx directive names that no spate module has (core/conf only).
 *
 * Looked up by the parser only after every module's rows, so a module's row always wins.
 * Main thread, while a configuration is built.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/values.h"

#include <stdbool.h>

/* The spate row an nginx directive name stands for ("worker_processes" -> "workers"), or NULL. */
const char *conf_nginx_alias(const char *name);

/*
 * A directive no module has, in the main, http, server or location context: an nginx
 * directive that does nothing in spate is accepted with a notice (0); one spate does not
 * support is refused with one line saying what to use instead (-1, p's error). 1: not an
 * nginx directive spate knows of. block: it was followed by `{`.
 */
int conf_nginx_directive(struct conf_parse *p, const char *name, char **args, unsigned nargs,
                         bool block) MUST_CHECK;

/*
 * A directive inside nginx's events { }: 0 accepted with a notice, -1 refused or unknown
 * (p's error), 2: it is the spate row named *row (worker_connections -> max_connections).
 */
int conf_nginx_events(struct conf_parse *p, const char *name, char **args, unsigned nargs,
                      bool block, const char **row) MUST_CHECK;
