/*
 * h2.h - the HTTP/2 session (RFC 9113) over Debian's libnghttp2: framing, HPACK and flow
 * control are nghttp2's; streams, requests, responses and limits are ours.
 *
 *   preface, frames -> nghttp2_session_mem_recv -> per stream: fields -> struct http_request
 *   (h2_build.h) -> struct req -> http_dispatch (the handlers HTTP/1 uses) -> response head
 *   (HEADERS, from the same field walk as HTTP/1: resp_fields.h) and body (DATA frames whose
 *   payload is referenced, not copied: file ranges go out with sendfile, cached bodies from
 *   the cache's memory) -> nghttp2_session_send -> the connection's output queue.
 *
 * A connection reaches this session with prior knowledge on a listener whose group has
 * `http2 on` (h1.c sees the client preface and switches, conn_switch), or by ALPN "h2" on TLS
 * (conn.c, on the transport's secured event). Each stream becomes a struct req whose
 * operations are h2_proto's; a streamed or deferred answer, a request body, holds and ends
 * work as under HTTP/1 (req.h), with backpressure from the stream's and the connection's
 * windows and from the output queue.
 *
 * Limits (docs/config.md "HTTP/2"): SETTINGS_MAX_CONCURRENT_STREAMS (REFUSED_STREAM
 * beyond), a header list bounded like an HTTP/1 head (431), streams reset faster than
 * http2_max_resets (GOAWAY ENHANCE_YOUR_CALM), nghttp2's limits on CONTINUATION frames,
 * SETTINGS entries and queued acknowledgements (PING and SETTINGS floods: the connection
 * closes), send_timeout while the client does not take what is queued (zero windows
 * included), keepalive_timeout while no stream is open, client_header_timeout until the first
 * request. Draining (and a reload) send GOAWAY with the last stream id, finish the streams
 * open, then close.
 *
 * Single-threaded: the owning worker only.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/h2_state.h"
#include "core/http/session.h"

extern const struct session_ops h2_session;

/* Sets up the per-worker part over the HTTP/1 env (which points back: h1->h2 = e). 0 or
 * -ENOMEM. */
int h2_env_init(struct h2_env *e, struct h1_env *h1, const struct h2_settings *set) MUST_CHECK;

void h2_env_fini(struct h2_env *e);

/* A reload: new settings for connections opened from now on. */
void h2_env_retune(struct h2_env *e, const struct h2_settings *set);

/* A reload: GOAWAY, the streams open finish, then the connection closes (the client opens a
 * new one under the new configuration, as with nginx). */
void h2_retire(struct conn *c);

/* True while c's input waits for the access log (the worker resumes it: conn_schedule). */
bool h2_held_back(struct conn *c);

/* True while some stream of c is open or its handler still answers. */
bool h2_busy(struct conn *c);

/* Frames to send go into the output queue and out (never from inside nghttp2's calls). */
void h2_flush(struct h2_conn *h);
