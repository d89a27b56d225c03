/*
 * ssi_expr.h - the conditions of <!--#if expr="..." --> and elif, and $variable interpolation.
 *
 * Apache's (mod_include's legacy) forms, which contain nginx's:
 *
 *   string                    true when not empty
 *   string1 = string2         also ==, !=, <, <=, >, >= (byte order)
 *   string = /regex/          PCRE2; != /regex/ for no match
 *   ( expr )  ! expr  expr1 && expr2  expr1 || expr2     (! binds tightest, then the
 *                                                         comparisons, then &&, then ||)
 *
 * A string is a word, or 'quoted' (a backslash keeps the next character); words next to each
 * other are one string joined by a space ("$a = hello world" is nginx's `$a = hello world`).
 * $name and ${name} inside strings are replaced by variable values when evaluated (\$ is a
 * dollar); an undefined variable is empty. Compiled once with the template (regexes
 * included); evaluated per request against a variable lookup the caller gives.
 */
#pragma once

#include "core/base/arena.h"
#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stdbool.h>
#include <stddef.h>

struct ssi_expr;

/* How values are found: get() gives name's value (valid until the evaluation returns) or false
 * when it is undefined. */
struct ssi_vars {
    bool (*get)(void *arg, struct slice name, struct slice *out);
    void *arg;
};

/* Compiles text. NULL with a sentence in err (a syntax error, a bad regex) or "out of memory". */
struct ssi_expr *ssi_expr_compile(struct slice text, char *err, size_t errlen) MUST_CHECK;

void ssi_expr_free(struct ssi_expr *e);

/* Evaluates e: 0 with *result, or -ENOMEM (a, the request's arena, ran out). */
int ssi_expr_eval(const struct ssi_expr *e, const struct ssi_vars *v, struct arena *a,
                  bool *result) MUST_CHECK;

/* text with its $name / ${name} replaced (\$ a dollar, \\ a backslash), into a. 0, -ENOMEM,
 * or -E2BIG past max bytes. */
int ssi_interp(struct slice text, const struct ssi_vars *v, struct arena *a, size_t max,
               struct slice *out) MUST_CHECK;
