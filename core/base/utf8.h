/*
 * utf8.h - UTF-8 well-formedness, one sequence at a time (RFC 3629): what the access log's
 * escapes, the directory listings and spate-load's plot labels use to tell text from bytes.
 * Pure functions.
 */
#pragma once

#include <stddef.h>

/* The length of the UTF-8 sequence at s (at most n bytes): 1..4 when it is well formed (no
 * overlong form, no surrogate, nothing past U+10FFFF), 0 when it is not (or n is 0). */
size_t utf8_len(const unsigned char *s, size_t n);
