/*
 * chunked.h - incremental decoder for the chunked transfer coding (RFC 9112 7.1).
 *
 * Zero-copy: decoded payload is returned as slices of the caller's input,
 * piece by piece, so a body of any size streams through a fixed-size state.
 * Pure: no allocation, no I/O. The state survives between calls, so input
 * may be split at any byte.
 *
 * Strictness (see docs/http-conformance.md): chunk-size lines, the CRLF after
 * chunk data and trailer lines must end in CRLF (a bare LF is an error here,
 * unlike in the request head: chunked framing is where smuggling happens);
 * chunk sizes are 1-16 hex digits and must not overflow; chunk extensions are
 * validated (token, "=", token or quoted-string) and ignored; trailer fields
 * are validated and discarded.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    HTTP_CHUNKED_MORE = 0, /* all input consumed, body not finished */
    HTTP_CHUNKED_DATA = 1, /* *data holds payload; call again with the rest */
    HTTP_CHUNKED_DONE = 2, /* the body (with trailers) ended *used bytes in */
};

/* Longest chunk-ext or trailer line, and the whole trailer section. */
#define HTTP_CHUNKED_LINE_MAX 4096u
#define HTTP_CHUNKED_TRAILER_MAX 16384u

struct http_chunked {
    uint8_t state;
    uint8_t ndigits;
    uint8_t ext;          /* position inside chunk extensions */
    uint32_t line_len;    /* bytes of the current extension or trailer line */
    uint32_t trailer_len; /* bytes of the trailer section so far */
    uint64_t chunk_left;  /* data bytes left in the current chunk */
    uint64_t total;       /* payload bytes decoded so far */
    uint64_t max_total;   /* past this: -413 */
};

/* Starts a body of at most max_total payload bytes. */
void http_chunked_init(struct http_chunked *d, uint64_t max_total);

/*
 * Decodes from buf[0..len). *used is set to the bytes consumed and *data to
 * the payload found (a slice of buf, possibly empty). Returns one of the
 * HTTP_CHUNKED_* values, or -400 (malformed), -413 (over max_total).
 */
int http_chunked_decode(struct http_chunked *d, const char *buf, size_t len, size_t *used,
                        struct slice *data) MUST_CHECK;

/*
 * Gives back the last n payload bytes of the HTTP_CHUNKED_DATA just returned (a consumer
 * that took fewer): the next call must start at those bytes (its input *used - n further
 * back). n is at most that data's length.
 */
void http_chunked_unread(struct http_chunked *d, size_t n);

/* True once HTTP_CHUNKED_DONE was returned. */
bool http_chunked_done(const struct http_chunked *d);
