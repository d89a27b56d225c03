/*
 * request.h - zero-copy HTTP/1.x request-head parser (RFC 9112 sections 2-3, 5).
 *
 * http_parse_request() is stateless: it is called with all bytes received so
 * far for the current request and either parses the complete head or reports
 * that more bytes are needed. Every string in struct http_request is a slice
 * into the caller's buffer, which must not move or change until the request is
 * done. Only the header table's arrays are allocated, from the arena.
 *
 * Return convention (shared by proto/):
 *   > 0       bytes of the head consumed (leading empty lines included)
 *   -EAGAIN   incomplete; call again with more bytes (pass prev_len to skip rescanning).
 *             An incomplete head that can never become valid (its request line, or
 *             a complete field line, is malformed) is not waited for: it already
 *             gets the error its complete form would get, so the verdict does not
 *             depend on how the bytes were split into calls.
 *   -4xx/-5xx the status to answer with: -400 malformed, -414 request line too
 *             long, -431 header section too large or too many fields, -501
 *             unknown method or transfer coding, -505 unsupported version,
 *             -417 unsupported expectation. After any error the connection
 *             must close: framing can no longer be trusted.
 *
 * Choices where RFC 9112 leaves room (docs/http-conformance.md lists them):
 * bare LF ends a line like CRLF; empty lines before the request line are
 * skipped; a bare CR, obs-fold, whitespace before a colon, NUL or other
 * control bytes in a name or value are errors (400).
 */
#pragma once

#include "core/base/arena.h"
#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "proto/hdr_table.h"
#include "proto/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_limits {
    uint32_t max_request_line; /* bytes of the request line; longer: 414 */
    uint32_t max_head;         /* bytes of request line + fields; larger: 431 */
    uint32_t max_headers;      /* number of fields; more: 431 */
};

/* 8 KiB request line, 32 KiB head, 100 fields (nginx-like). */
#define HTTP_LIMITS_DEFAULT ((struct http_limits){8192, 32768, 100})

enum http_body_kind {
    HTTP_BODY_NONE,
    HTTP_BODY_LENGTH, /* content_length bytes follow the head */
    HTTP_BODY_CHUNKED /* chunked transfer coding follows the head */
};

enum http_target_form {
    HTTP_TARGET_ORIGIN,   /* /path?query */
    HTTP_TARGET_ABSOLUTE, /* http://host/path?query */
    HTTP_TARGET_ASTERISK, /* * (OPTIONS only) */
    HTTP_TARGET_AUTHORITY /* host:port (CONNECT only) */
};

struct http_request {
    /* request line */
    struct slice request_line; /* without its line ending */
    struct slice method_token;
    enum http_method method;
    struct slice target; /* as received */
    enum http_target_form form;
    struct slice path;  /* raw (percent-encoded) path, starts with '/' for origin/absolute */
    struct slice query; /* after '?', without it */
    bool has_query;
    struct slice authority; /* host[:port] of an absolute-form target */
    uint8_t version_minor;  /* HTTP/1.<minor>: 0 or 1 (1.2+ are handled as 1.1) */

    struct hdr_table headers;
    uint32_t head_len; /* bytes consumed for this head */
    struct slice head; /* the head from the request line to its final empty line */

    /* message semantics, filled by the parser from the fields (RFC 9112 6, 9.3) */
    struct slice host; /* Host (or the absolute-form authority); empty if none */
    enum http_body_kind body;
    uint64_t content_length; /* for HTTP_BODY_LENGTH */
    bool keep_alive;         /* persistence per RFC 9112 9.3 */
    bool expect_continue;    /* Expect: 100-continue */
};

/*
 * Parses one request head from buf[0..len). prev_len is how many of these
 * bytes an earlier call already saw incomplete (0 the first time). On success
 * req is filled and the head length returned; see the convention above.
 */
int http_parse_request(const char *buf, size_t len, size_t prev_len, const struct http_limits *lim,
                       struct arena *a, struct http_request *req) MUST_CHECK;
