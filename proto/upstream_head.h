/*
 * upstream_head.h - a strict parser for the HTTP/1.x response head an upstream sends.
 *
 * A reverse proxy passes an upstream's response on to a client, so a head the upstream
 * frames ambiguously is where response smuggling happens: the proxy and the client would
 * disagree on where the body ends. The head is therefore parsed with the rules of the
 * request parser (proto/request.c): field names are tokens, no whitespace before the colon,
 * no obs-fold, no bare CR, no NUL or other control bytes in a value; a bare LF ends a line
 * like CRLF. Every error is one verdict: the upstream's response is not usable (the proxy
 * answers 502 and never passes a byte of it on).
 *
 * Framing (RFC 9112 6.3), decided here so that every caller decides it alike:
 *   - a response to HEAD, a 1xx, 204 or 304 has no body;
 *   - Transfer-Encoding: chunked must be the only coding (and last); any other coding, a
 *     Transfer-Encoding with a Content-Length, or one in an HTTP/1.0 response is an error;
 *   - Content-Length: every field and list member the same digits, else an error;
 *   - otherwise the body runs to the connection's close.
 *
 * Like http_parse_request it is stateless: call it with every byte received so far for
 * the current head. Slices point into the caller's buffer; the field table lives in the
 * arena. A 1xx interim response (100 Continue, 103 Early Hints) is returned like any head
 * (status < 200): the caller drops its head_len bytes and parses the next one; 101 is an
 * error (no protocol switch is passed through).
 */
#pragma once

#include "core/base/arena.h"
#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "proto/hdr_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An upstream_head_parse error: the response cannot be passed on (the proxy answers 502). */
#define UPSTREAM_HEAD_BAD (-502)

enum upstream_body {
    UPSTREAM_BODY_NONE,    /* nothing follows the head */
    UPSTREAM_BODY_LENGTH,  /* content_length bytes follow */
    UPSTREAM_BODY_CHUNKED, /* the chunked coding follows (proto/chunked.h decodes it) */
    UPSTREAM_BODY_CLOSE,   /* everything until the upstream closes */
};

struct upstream_head_limits {
    uint32_t max_head;   /* bytes of status line and fields (proxy_buffer_size) */
    uint32_t max_fields; /* number of fields */
};

struct upstream_head {
    int status;            /* 100..599 */
    uint8_t version_minor; /* HTTP/1.<minor> (1.2+ is taken as 1.1) */
    struct slice reason;   /* may be empty */
    struct hdr_table headers;
    uint32_t head_len; /* bytes of this head, its empty line included */
    uint8_t body;      /* enum upstream_body */
    uint64_t content_length;
    bool keep_alive; /* the connection may carry another request once the body is read */
};

/*
 * Parses one response head from buf[0..len). head_request: the request was HEAD (no body
 * whatever the fields say). Returns head_len (> 0) with h filled, -EAGAIN while the head is
 * incomplete and may still become valid, UPSTREAM_HEAD_BAD for a malformed, ambiguous or
 * oversized head (also as soon as the bytes so far show it can never become valid), or
 * -ENOMEM.
 */
int upstream_head_parse(const char *buf, size_t len, const struct upstream_head_limits *lim,
                        bool head_request, struct arena *a, struct upstream_head *h) MUST_CHECK;
