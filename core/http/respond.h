/*
 * respond.h - the response writer: the one way every handler answers a request.
 *
 * A handler describes its response; it never writes protocol bytes, never
 * sizes a buffer, never decides the body framing:
 *
 *   resp_begin(r, 200);
 *   resp_entity(r, e, RESP_ENT_TYPE | RESP_ENT_VALIDATORS);   file facts: type, validators
 *   resp_field(r, SLICE_LIT("Content-Range"), value);          any other field
 *   resp_body_file(r, e, off, len);                            and/or resp_body_mem()
 *   return resp_send(r);
 *
 * or, for a body of unknown length produced bit by bit (a listing, a CGI
 * script, a proxied response):
 *
 *   resp_begin(r, 200); resp_field(...);
 *   resp_stream(r, &ops);       head now; later, whenever there is data:
 *   n = resp_stream_write(r, p, len);   takes what fits, 0 when the queue is full:
 *                                       ops->writable(r) is called when there is room
 *   resp_stream_end(r);
 *
 * The session under the request turns this into its protocol: for HTTP/1
 * (http/h1_write.c) a status line, Server and Date, the fields, framing
 * (Content-Length from the body's length; chunked, or close-delimited for
 * HTTP/1.0, for a stream), Connection, and the location's configured fields
 * (http/headers.h: add_header, expires), which replace generated fields of
 * the same name. HEAD gets the head of the GET response and no body.
 *
 * The response's data (struct resp) lives in struct req (req.h).
 *
 * Memory: field values and body pieces given without a reference are copied
 * when the response is sent, so they may live in the request's arena; a
 * piece given with a file-cache reference is sent from that memory without a
 * copy (the entry is kept alive until it is sent).
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/http/req.h"
#include "fs/cache.h"

#include <stdbool.h>
#include <stdint.h>

/* Starts (or restarts) the response: status, no fields, no body. */
void resp_begin(struct req *r, int status);

/* Adds a field (the writer copies it at send). -ENOSPC past RESP_FIELDS_MAX, -ENOMEM. */
int resp_field(struct req *r, struct slice name, struct slice value) MUST_CHECK;

/* Takes the given facts of e (which the caller keeps referenced until resp_send). */
void resp_entity(struct req *r, const struct fs_entry *e, unsigned parts);

/* Appends len bytes at p to the body; ref keeps them alive (no copy), or NULL (copied). */
int resp_body_mem(struct req *r, const char *p, size_t len, struct fs_entry *ref) MUST_CHECK;

/* Appends bytes [off, off + len) of e's file (from memory when cached, else sendfile). */
int resp_body_file(struct req *r, struct fs_entry *e, uint64_t off, uint64_t len) MUST_CHECK;

/* Sends the response. 0, or -ENOMEM (the connection is then closed). */
int resp_send(struct req *r) MUST_CHECK;

/* The status with its small HTML page (fields added so far are kept, the body replaced). */
int resp_error(struct req *r, int status) MUST_CHECK;

/*
 * The handler answers later, from a callback (a CGI script's head, an upstream's response):
 * handle() returns 0 with nothing sent, and later calls resp_send, resp_error, resp_stream,
 * or http_redirect (dispatch.h). Until then the connection waits (requests pipelined after
 * it too); no timer of the connection runs while nothing is being sent, so the handler bounds
 * its own wait. ops->abort(r) is called if the connection goes first (r->resp.stream_arg is
 * arg then); ops->writable is not used. r->msg stays valid (the head is copied into the
 * request's arena), so a later answer sees the request's fields. 0 or -ENOMEM.
 */
int resp_defer(struct req *r, const struct resp_stream_ops *ops, void *arg) MUST_CHECK;

/*
 * A streamed body of known length (an upstream's Content-Length): sent with Content-Length
 * instead of chunked framing. Call before resp_stream. Writes past len are cut; a stream
 * ended short of len closes the connection (the client sees the body cut short).
 */
void resp_stream_length(struct req *r, uint64_t len);

/* Sends the head of a streamed body; ops->writable will be called when there is room. */
int resp_stream(struct req *r, const struct resp_stream_ops *ops, void *arg) MUST_CHECK;

/* Queues up to len bytes of the streamed body; returns how many it took. Less than len:
 * the queue is full, and ops->writable will be called once there is room. */
size_t resp_stream_write(struct req *r, const void *p, size_t len);

/*
 * The streamed body cannot be completed (its script or upstream broke off): the client must
 * see it cut, never a false end. What is queued goes out, then the connection closes with no
 * end of the body (no last chunk; short of its Content-Length). The request is done when this
 * returns, as after resp_stream_end; r's own stream ops are not called (their owner is the
 * caller). Inside a page (a subrequest), the page is cut the same way.
 */
void resp_stream_abort(struct req *r);

/* Ends the streamed body; the request is done when this returns. 0 or -ENOMEM. */
int resp_stream_end(struct req *r) MUST_CHECK;
