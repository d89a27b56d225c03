/*
 * response.h - writing response heads and error bodies into caller memory.
 *
 * struct http_buf is an append-only byte writer over a fixed buffer: writes
 * past the end set `overflow` and are dropped, so a caller checks once at the
 * end. Pure: no allocation, no I/O.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct http_buf {
    char *ptr;
    size_t len, cap;
    bool overflow;
};

static inline void hbuf_init(struct http_buf *b, char *mem, size_t cap)
{
    b->ptr = mem;
    b->len = 0;
    b->cap = cap;
    b->overflow = false;
}

static inline void hbuf_put(struct http_buf *b, const void *s, size_t n)
{
    if (n == 0) {
        return; /* s may be NULL (an empty slice) */
    }
    if (UNLIKELY(b->cap - b->len < n)) {
        b->overflow = true;
        return;
    }
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
}

static inline void hbuf_slice(struct http_buf *b, struct slice s)
{
    hbuf_put(b, s.ptr, s.len);
}

#define hbuf_lit(b, s) hbuf_put((b), (s), sizeof(s) - 1)

/* Appends v in decimal. */
void hbuf_u64(struct http_buf *b, uint64_t v);

/* "HTTP/1.1 <status> <reason>\r\n". */
void http_put_status_line(struct http_buf *b, int status);

/* "<name>: <value>\r\n". The caller guarantees value holds no CR/LF. */
void http_put_header(struct http_buf *b, struct slice name, struct slice value);

/* "<name>: <v>\r\n" with v in decimal. */
void http_put_header_u64(struct http_buf *b, struct slice name, uint64_t v);

/* Appends the small HTML page sent with an error status; returns its length. */
size_t http_put_error_body(struct http_buf *b, int status);

/* Length of the error page for status (to write Content-Length before the body). */
size_t http_error_body_len(int status);
