/*
 * numfmt.h - integer formatting and strict parsing without locale or libc stdio.
 *
 * Used on the response path (Content-Length) and by the parsers. Pure functions.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stddef.h>
#include <stdint.h>

/* Writes v in decimal to dst (at least 20 bytes); returns the number of digits. */
size_t num_u64_to_dec(char *dst, uint64_t v);

/* The number of decimal digits of v (what num_u64_to_dec would write). */
static inline size_t num_u64_dec_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/*
 * Parses a non-empty string of ASCII digits only (no sign, no spaces) into
 * *out. Returns 0, or -ERANGE on overflow past max, or -EINVAL on any other byte.
 */
int num_parse_u64(struct slice s, uint64_t max, uint64_t *out) MUST_CHECK;

/* "0123456789ABCDEF": the digits of percent-escapes and \xHH escapes. */
extern const char num_hex_upper[16];

/* Lowercase hex of v (no leading zeros, "0" for 0); dst needs 16 bytes. Returns length. */
size_t num_u64_to_hex(char *dst, uint64_t v);
