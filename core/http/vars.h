/*
 * vars.h - request variables and the values written with them ("scripts").
 *
 * A directive's argument may hold `$name` or `${name}` references: the
 * request's variables (nginx's names: $uri, $args, $arg_NAME, $http_NAME,
 * $cookie_NAME, $host, ...; see docs/config.md) and the captures $1..$9 of
 * the last regular expression that matched (a regex location or a rewrite).
 * The text is compiled once, when the configuration is finished, into a list
 * of parts; evaluating it for a request concatenates literal bytes and
 * variable values into the request's arena. An unknown variable is a
 * configuration error at the directive's line, never an empty string at run
 * time.
 *
 * Values come from the request as it is now: $uri is the current (possibly
 * rewritten) path, $args the current query, so a rewrite is seen by what
 * follows it. Evaluation needs r->msg (a handler's handle(), or dispatch).
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/http/req.h"

#include <stdbool.h>
#include <stddef.h>

struct http_script;

#define HTTP_SCRIPT_PARTS_MAX 64 /* variables and texts in one value */

/* How a value is inserted into a redirect target (see http_script_eval). */
enum http_script_escape {
    HTTP_SCRIPT_RAW,      /* as they are (paths, file names, bodies) */
    HTTP_SCRIPT_ESC_URI,  /* variable values percent-encoded where a URI cannot hold them (and
                             '%', '?', '#' of decoded ones: $uri and its captures) */
};

/*
 * Compiles text. *out is NULL-free on success (free with http_script_free). 0, or -1 with a
 * sentence (no file:line: the caller adds it) in err. max_capture: the highest $N the text
 * may use (the number of groups of the regex in force; -1: any, checked when run).
 */
int http_script_compile(struct http_script **out, const char *text, char *err,
                        size_t errlen) MUST_CHECK;

void http_script_free(struct http_script *s);

/* True when the text has no variable: eval returns it unchanged. */
bool http_script_literal(const struct http_script *s);

/* The highest capture number the text uses (-1: none). */
int http_script_max_capture(const struct http_script *s);

/* The bytes before the first variable. */
struct slice http_script_prefix(const struct http_script *s);

/* Evaluates s for r into its arena. 0, or -ENOMEM. */
int http_script_eval(struct req *r, const struct http_script *s, enum http_script_escape esc,
                     struct slice *out) MUST_CHECK;

/* One variable's value for r by name (without '$'). false when the name is unknown. */
bool http_var_get(struct req *r, struct slice name, struct slice *out);

/* The port r arrived on. */
unsigned http_local_port(struct req *r);

/*
 * A variable a module provides ($fastcgi_script_name, $upstream_addr, $ssi_...): get() gives
 * its value for r, in r's arena or pointing at memory that lives as long. With `prefix`, the
 * name is a prefix ("upstream_http_") and arg is the rest of the name as written.
 */
struct http_var_def {
    const char *name;
    bool prefix;
    struct slice (*get)(struct req *r, struct slice arg);
};

/*
 * Makes defs known to scripts. Called once per module at start (core/app/modules.c), before
 * any configuration is read; defs stay alive for the process. 0, or -ENOSPC past 16 sets.
 */
int http_vars_provide(const struct http_var_def *defs, unsigned n) MUST_CHECK;

/* True when name (without '$') is a variable this module knows. */
bool http_var_known(struct slice name);
