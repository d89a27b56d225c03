/*
 * path.h - percent-decoding and normalization of a request path (RFC 3986 5.2.4).
 *
 * Turns the raw origin-form path of a request into the canonical form the
 * docroot mapping uses: percent-escapes decoded, "." and ".." segments
 * removed, repeated slashes merged. Pure; writes into a caller buffer.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stddef.h>

/* Accept %2F as a path separator instead of refusing it. */
#define HTTP_PATH_ALLOW_ENCODED_SLASH 1u

/*
 * Normalizes raw (which must start with '/') into out, NUL-terminated.
 * out needs raw.len + 1 bytes (the result is never longer than the input).
 * Returns the length (>= 1; out[0] == '/'), or:
 *   -400  malformed escape (%zz, a truncated %x) or a path not starting with '/'
 *   -403  a ".." that would climb above the root
 *   -404  %00, or %2F without HTTP_PATH_ALLOW_ENCODED_SLASH
 * A trailing slash is kept ("/a/" stays a directory request; "/a/." gives "/a/").
 */
int http_path_normalize(struct slice raw, char *out, size_t cap, unsigned flags) MUST_CHECK;
