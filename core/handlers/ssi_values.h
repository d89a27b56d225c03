/*
 * ssi_values.h - how SSI writes values: file sizes (Apache's sizefmt), echo's encodings, and
 * QUERY_STRING_UNESCAPED's decoding. Into the request's arena; an empty slice when it is full.
 */
#pragma once

#include "core/base/arena.h"
#include "core/base/slice.h"

#include <stdint.h>

/* sizefmt bytes: "123,456"; abbrev (apr_strfsize's): "  3 ", "2.0K", "121K", "1.5M". */
struct slice ssi_fmt_size(struct arena *a, uint8_t sizefmt, uint64_t size);

/* echo encoding= (enum ssi_enc): entity (HTML escaped), url (a URI component), none. */
struct slice ssi_encode(struct arena *a, struct slice v, uint8_t enc);

/* s with %XX decoded and '+' as a space. */
struct slice ssi_unescape(struct arena *a, struct slice s);
