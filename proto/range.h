/*
 * range.h - byte ranges (RFC 9110 section 14): parsing Range against a
 * representation's length, and the Content-Range values. Pure.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stddef.h>
#include <stdint.h>

/* Most ranges answered in one multipart/byteranges response; more: the Range is ignored. */
#define HTTP_RANGES_MAX 16

struct http_range {
    uint64_t first, last; /* inclusive, last < size */
};

/*
 * Parses a Range field value for a representation of size bytes. Returns:
 *   n > 0   the ranges to send, ascending, overlapping and adjacent ones merged
 *   0       ignore the field and send the whole representation (not "bytes=", a
 *           syntax error, or more than HTTP_RANGES_MAX ranges after merging)
 *   -416    no range overlaps the representation (Range Not Satisfiable)
 */
int http_range_parse(struct slice v, uint64_t size, struct http_range *out,
                     unsigned cap) MUST_CHECK;
