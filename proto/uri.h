/*
 * uri.h - writing values into URIs (percent-encoding, RFC 3986 2.1) and reading the pairs of a
 * query or a Cookie field. Pure: no allocation, no I/O.
 *
 * Which bytes are encoded depends on where the value goes:
 *   URI_ESC_TARGET     a URI reference as written (a Location, a redirect target from the
 *                      configuration): only what a URI can never carry: controls, space,
 *                      non-ASCII and "<>\"\\^`{|}". '%' stays: "%20" is already encoded.
 *   URI_ESC_PATH       a decoded path ($uri, its captures) put into a URI: also '%', '?', '#',
 *                      '[' and ']', so that nothing in it starts a query, a fragment or an escape.
 *   URI_ESC_HOST       a Host value put in front of a path: also '/', '?', '#' and '@'.
 *   URI_ESC_COMPONENT  a query value (`name=VALUE`): everything but the unreserved bytes.
 */
#pragma once

#include "core/base/slice.h"

#include <stddef.h>

enum uri_esc {
    URI_ESC_TARGET,
    URI_ESC_PATH,
    URI_ESC_HOST,
    URI_ESC_COMPONENT,
};

/* Writes src encoded for `how` into dst (room for 3 * src.len bytes); returns the length. */
size_t uri_escape(char *dst, struct slice src, enum uri_esc how);

/* A Host value without its port and a trailing dot ("[::1]:80" -> "[::1]", "a.b.:8" -> "a.b"). */
struct slice uri_host_name(struct slice host);

/* The value of name in a "a=1&b=2" list (sep '&') or a "a=1; b=2" Cookie value (sep ';'):
 * "" for a name without '=', SLICE_NULL when absent. Names are compared exactly. */
struct slice uri_param(struct slice list, struct slice name, char sep);
