/*
 * regex.h - the regular expressions of locations and rewrites: PCRE2, compiled once, JIT on.
 *
 * Patterns are compiled when the configuration is finished (a bad one is a
 * configuration error at its line) and JIT-compiled when the platform allows;
 * matching uses one match block per thread (workers match on their own
 * thread, never sharing it). Subjects are bytes, not UTF-8: a decoded path may
 * hold any byte, as nginx treats it.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/http/req.h"

#include <stdbool.h>

struct http_regex;

/* Compiles pattern (caseless for `~*`). NULL with a sentence in err. */
struct http_regex *http_regex_compile(const char *pattern, bool caseless, char *err,
                                      size_t errlen) MUST_CHECK;

void http_regex_free(struct http_regex *re);

/* Capturing groups of the pattern. */
unsigned http_regex_groups(const struct http_regex *re);

/*
 * Matches subject. 1 with the captures in *caps (caps may be NULL), 0 for no match, or
 * -ENOMEM / -EINVAL (matching failed: a resource limit) .
 */
int http_regex_match(const struct http_regex *re, struct slice subject,
                     struct http_captures *caps) MUST_CHECK;
