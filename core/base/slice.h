/*
 * slice.h - a read-only view of bytes: {ptr, len}, passed by value.
 *
 * A slice never owns its memory and is never NUL-terminated. Request data is
 * handled as slices into the receive buffer; NUL-terminated copies are made
 * only at syscall boundaries.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct slice {
    const char *ptr;
    size_t len;
};

/* A slice over a string literal (length known at compile time). */
#define SLICE_LIT(s) ((struct slice){(s), sizeof(s) - 1})
#define SLICE_NULL ((struct slice){NULL, 0})

static inline struct slice slice_make(const char *p, size_t n)
{
    struct slice s = {p, n};
    return s;
}

static inline struct slice slice_cstr(const char *s)
{
    return slice_make(s, s ? strlen(s) : 0);
}

static inline bool slice_eq(struct slice a, struct slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline char slice_lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

/* ASCII case-insensitive equality (header names, tokens). */
static inline bool slice_eq_nocase(struct slice a, struct slice b)
{
    if (a.len != b.len) {
        return false;
    }
    for (size_t i = 0; i < a.len; i++) {
        if (slice_lower_ascii(a.ptr[i]) != slice_lower_ascii(b.ptr[i])) {
            return false;
        }
    }
    return true;
}

static inline bool slice_starts_with(struct slice s, struct slice prefix)
{
    return s.len >= prefix.len && memcmp(s.ptr, prefix.ptr, prefix.len) == 0;
}

static inline struct slice slice_sub(struct slice s, size_t off, size_t len)
{
    return slice_make(s.ptr + off, len);
}

/* Strips leading and trailing spaces and tabs (HTTP OWS). */
static inline struct slice slice_trim_ows(struct slice s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t')) {
        s.len--;
    }
    return s;
}
