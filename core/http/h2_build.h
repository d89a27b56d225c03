/*
 * h2_build.h - an HTTP/2 request's header fields into a struct http_request (RFC 9113 8.2, 8.3).
 *
 * The HTTP/2 session (http/h2.c) hands each decoded field of a request's
 * header block to h2_build_field() as nghttp2 decodes it, then calls
 * h2_build_finish() once the block ended. The result is the same struct
 * http_request the HTTP/1 parser makes, so routing and the handlers see no
 * difference: :method and :path become the request line's method and target,
 * :authority (or Host) becomes the host, cookies are joined with "; " (RFC 9113
 * 8.2.3), content-length gives the body's length; a Host field is made from :authority
 * when the request has none (as nginx does, for $http_host and upstreams). Names and values are
 * copied into the stream's arena (the decoder's buffers are transient).
 *
 * Malformed requests (RFC 9113 8.1.1) get -400: the session resets the stream
 * with PROTOCOL_ERROR. A header list over the limits (the head size and field
 * count of struct http_limits, counted as HPACK does: name + value + 32 per
 * field) gets -431, answered on the stream; past the limit nothing more is
 * stored, so an HPACK bomb costs bounded memory. Pure: no I/O, no nghttp2.
 */
#pragma once

#include "core/base/arena.h"
#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "proto/request.h"

#include <stdbool.h>
#include <stdint.h>

struct h2_cookie {
    struct slice v;
    struct h2_cookie *next;
};

struct h2_build {
    struct arena *a;
    const struct http_limits *lim;
    struct http_request *msg;
    struct slice method, scheme, authority, path, host;
    struct h2_cookie *cookies, **cookie_tail;
    size_t cookie_len;
    uint32_t bytes, count; /* the header list so far, as HPACK counts it */
    bool regular;          /* a regular field came: no pseudo-header may follow */
    bool has_length;
    int err; /* 0, -400 or -431: the first problem (later fields are only counted) */
};

/* Starts building into msg (zeroed here), with memory from a. 0 or -ENOMEM. */
int h2_build_init(struct h2_build *b, struct arena *a, const struct http_limits *lim,
                  struct http_request *msg) MUST_CHECK;

/* One decoded field. 0, -400 (malformed), -431 (over the limits) or -ENOMEM; after an error
 * the request is answered (or reset) once its block ends, so further calls only count. */
int h2_build_field(struct h2_build *b, struct slice name, struct slice value) MUST_CHECK;

/* The block ended; end_stream: no body follows. Fills the message. 0, -400, -431, -ENOMEM. */
int h2_build_finish(struct h2_build *b, bool end_stream) MUST_CHECK;
