/*
 * h2_stream.h - the HTTP/2 session's streams (h2_stream.c): created at a request's HEADERS,
 * dispatched, fed its body, logged and freed. Called by the connection (h2.c) and the writer
 * (h2_write.c); other modules use h2.h.
 */
#pragma once

#include "core/http/h2_state.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A new stream for a request's HEADERS; NULL when memory ran out. */
struct h2_stream *h2_stream_new(struct h2_conn *h, int32_t id);

/* The request's header block ended (end_stream: no body): build it, dispatch it. */
void h2_stream_headers(struct h2_stream *st, bool end_stream);

/* Request body bytes arrived; the end of the body. */
void h2_stream_body(struct h2_stream *st, const char *p, size_t n);
void h2_stream_body_end(struct h2_stream *st);

/* Body bytes kept for the consumer go to it now (resume). */
void h2_stream_body_deliver(struct h2_stream *st);

/* nghttp2 closed the stream (its response is out, or it was reset). */
void h2_stream_closed(struct h2_stream *st, uint32_t error_code);

/* Frees st if nothing needs it any more (closed, done, not held). True if freed. */
bool h2_stream_release(struct h2_stream *st);

/* The connection goes: every stream's handler lets go, lines are logged, streams freed. */
void h2_streams_close_all(struct h2_conn *h);
