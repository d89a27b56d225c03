/*
 * h1_body.h - the HTTP/1 session's request bodies and deferred answers.
 *
 * A request body is read after its head (by h1.c's parsing loop), and either dropped or
 * given to the handler that asked for it (req_body_read), decoded, with backpressure: when
 * the handler takes less than it is given, parsing stops there and reading from the client
 * stops with it, until req_body_more(). A deferred request (resp_defer) is the connection's
 * h->stream with no head queued: the requests pipelined after it wait, as they wait for a
 * streamed body.
 */
#pragma once

#include "core/http/h1_state.h"

#include <stddef.h>

/* Consumes request-body bytes from buf; returns how many belonged to the body (what follows
 * is the next request). Less than the body's share: the consumer is full (h->body_full). */
size_t h1_body_bytes(struct h1_conn *h, const char *buf, size_t len);

/* The body's consumer learns how it ended (0, 400, 413 or -ECONNABORTED) and is let go. */
void h1_body_done(struct h1_conn *h, int err);

/* Lets the deferred request h->stream go: its head is being queued now (by r). */
void h1_undefer(struct h1_conn *h, const struct req *r);

/* The req_proto operations (h1_write.c's table). */
int h1_defer(struct req *r, const struct resp_stream_ops *ops, void *arg);
int h1_body_read(struct req *r, const struct req_body_ops *ops, void *arg);
void h1_body_more(struct req *r);
