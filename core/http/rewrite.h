/*
 * rewrite.h - `rewrite`, `return` and `break`: nginx's rewrite directives.
 *
 * A server block and each location hold a program: their rewrite, return and
 * break directives in file order (not inherited, as in nginx). The server's runs
 * once, before a location is chosen; the chosen location's runs after. In order:
 *
 *   rewrite REGEX REPLACEMENT [last|break|redirect|permanent]
 *       REGEX is matched against the current URI ($uri, decoded); on a match its
 *       captures become $1..$9 and the URI becomes REPLACEMENT. A '?' in it sets
 *       the query (the request's own is appended with '&', unless REPLACEMENT ends
 *       in '?'). `last` stops and searches the locations again with the new URI
 *       (at most 10 times: then 500); `break` stops and stays; `redirect` (302)
 *       and `permanent` (301) answer with the new URI as Location; a REPLACEMENT
 *       starting with "http://", "https://" or "$scheme" is a 302 whatever the flag.
 *       No flag: the next directive sees the new URI.
 *   return CODE [TEXT] | return CODE URL | return URL
 *       answers now: 301, 302, 303, 307 and 308 take a URL (Location); other codes
 *       take a body (text/plain); a code alone gets the standard response (and the
 *       location's error_page). `return URL` is a 302.
 *   break
 *       stops the program.
 *
 * Redirect targets are escaped (controls, spaces, non-ASCII, "<>\"\\^`{|}"), and made
 * absolute as redirect.h says.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/req.h"

#include <stdbool.h>

struct route_loc;

extern const struct conf_module rewrite_module;

#define REWRITE_AGAIN 2    /* the URI changed: search the locations again */
#define REWRITE_ANSWERED 3 /* a response was sent (return with a body) */

/*
 * Runs l's program for r. 0: go on (in this location); REWRITE_AGAIN; REWRITE_ANSWERED;
 * a status (>= 300) for the caller to answer (a redirect has its Location set); -ENOMEM.
 */
int rewrite_run(struct req *r, const struct route_loc *l) MUST_CHECK;
