/*
 * h1.h - the HTTP/1.x session: parsing, pipelining, keep-alive, bodies, response bookkeeping.
 *
 *   bytes -> [parse -> dispatch (route, policy, handler) -> response queued]* -> sent -> logged
 *
 * Input arrives through the connection's transport and is parsed in place;
 * only the tail of a request split across reads is copied (into `in`).
 * Requests are answered in order; each queued response gets a record (its
 * byte range in the connection's output, its status, its access-log capture)
 * that completes when its last byte went out. While the output or the log is
 * backed up, or a streamed body is being produced, parsing stops (the input
 * waits in `in`, bounded) and reading pauses; it resumes once the backlog is
 * gone.
 *
 * The writer (http/h1_write.c) turns a struct resp into HTTP/1 bytes; it owns
 * the HTTP/1 text: status lines, the Server/Date line, the entity header block
 * prebuilt per file-cache entry, chunked framing. The records of queued
 * responses and their log lines are http/h1_track.c's.
 *
 * Single-threaded: the owning worker only.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/h1_state.h"
#include "core/http/session.h"

extern const struct session_ops h1_session;

/* Sets up the per-worker part. 0 or -ENOMEM. */
int h1_env_init(struct h1_env *e, const struct http_settings *set, const struct route_table *routes,
                struct alog_worker *log) MUST_CHECK;

void h1_env_fini(struct h1_env *e);

/*
 * A reload removed the address c arrived on (called before the worker switches): what is
 * queued goes out, nothing more is parsed (a request waiting for its file is answered 503),
 * then the connection closes with a FIN.
 */
void h1_retire(struct conn *c);
