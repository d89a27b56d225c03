/*
 * h2_state.h - the HTTP/2 session's state: a connection's, a stream's, and a worker's.
 *
 * Types only, shared by the session's files: h2.c (the connection: nghttp2
 * session, input, output, timers), h2_stream.c (streams: requests dispatched,
 * bodies, log lines, ends) and h2_write.c (the writer: struct req_proto).
 *
 * Ownership: a connection's slot holds struct h2_conn; nghttp2's session and
 * each stream are on the heap. A stream lives from its HEADERS until nghttp2
 * closed it, its handler let go of it (a stream or deferred answer ended or
 * was aborted) and nothing holds it (req_hold); its request, fields and
 * response live in the stream's own arena. Output never points into a
 * stream: frame bytes are copied into the connection's output queue, and body
 * bytes are copied, or referenced with a file-cache reference (memory or file
 * range), so a stream can go while its last frames are still being sent.
 */
#pragma once

#include "core/http/conn.h"
#include "core/http/h1_state.h"
#include "core/http/h2_build.h"
#include "core/http/h2_conf.h"
#include "core/http/req.h"

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdint.h>

/* Per worker, shared by its HTTP/2 connections (reached through the HTTP/1 env: h1->h2). */
struct h2_env {
    struct h1_env *h1; /* settings, routes, log, what handlers see */
    const struct h2_settings *set;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    time_t date_sec; /* Date, formatted once a second */
    char date[32];
};

enum h2_stream_flag {
    S_DISPATCHED = 1u << 0, /* its request went to http_dispatch */
    S_WAITING = 1u << 1,    /* its handler waits (req_wait): dispatched again on wake */
    S_DEFER = 1u << 2,      /* answered later (resp_defer): no head yet */
    S_RESP = 1u << 3,       /* the response head is submitted */
    S_STREAM = 1u << 4,     /* a streamed body: the producer writes into sbuf */
    S_STREAM_END = 1u << 5, /* ... and it ended: EOF once sbuf is empty */
    S_WRITABLE = 1u << 6,   /* the producer waits for room (writable) */
    S_CLOSED = 1u << 7,     /* nghttp2 closed the stream (done, or reset) */
    S_BODY_EOF = 1u << 8,   /* the request body ended (END_STREAM) */
    S_BODY_FULL = 1u << 9,  /* the body's consumer took less than it was given */
    S_DONE = 1u << 10,      /* the handler let go: the response is complete or cut */
    S_LOGGED = 1u << 11,    /* its log line and ends ran */
    S_BODY_CALL = 1u << 12, /* buffered body bytes wait for the consumer (resume) */
};

enum h2_src { SRC_NONE, SRC_PIECES, SRC_STREAM };

struct h2_conn;

struct h2_stream {
    struct h2_stream *next, *prev; /* the connection's streams */
    struct h2_conn *h;
    int32_t id;
    uint16_t flags; /* enum h2_stream_flag */
    uint16_t holds; /* req_hold */
    struct arena arena;
    struct h2_build b;
    struct http_request msg;
    struct req *r;
    struct req_wait wait;
    uint64_t t_start_us; /* when its head ended (its $request_time) */
    /* the response body */
    uint8_t src; /* enum h2_src */
    struct resp_piece *pieces;
    uint32_t npieces, pi; /* pieces, the one being sent */
    uint64_t poff;        /* bytes of pieces[pi] already framed */
    char *copy;           /* heap: copies of the pieces that were to be copied at send */
    char *sbuf;           /* heap: a streamed body's bytes not yet framed */
    uint32_t soff, slen, scap;
    uint64_t stream_left; /* a streamed body of known length: bytes still to come */
    const struct resp_stream_ops *defer_ops;
    void *defer_arg;
    /* the request body */
    const struct req_body_ops *body_ops;
    char *bbuf; /* heap: body bytes received, not taken yet */
    uint32_t boff, blen, bcap;
    uint64_t body_got;
    /* its access log line */
    char *cap;
    uint32_t cap_len;
    int16_t server;
    uint64_t bytes, head_bytes; /* frame bytes queued for it, of which its HEADERS */
    struct req_end *ends;
};

enum h2_conn_flag {
    H2_GOAWAY = 1u << 0,  /* GOAWAY queued (drain, reload, limit): no new streams */
    H2_SENDING = 1u << 1, /* inside nghttp2_session_send: no re-entry */
    H2_STARTED = 1u << 2, /* a request arrived (the header timer is over) */
    H2_CALM = 1u << 3,    /* closed for abuse: what is queued goes, then close */
};

struct h2_conn {
    struct conn c; /* first (session_ops.size) */
    nghttp2_session *ng;
    struct h2_stream *streams; /* ours, newest first */
    uint32_t nstreams;
    uint32_t nreq; /* requests dispatched */
    uint16_t flags;
    /* input kept while the access log holds new requests back (alog_waiting), at most
     * http2_recv_buffer_size; reading is paused meanwhile */
    char *in;
    uint32_t in_len;
    bool paused;
    /* rapid reset: streams the client reset while they were being answered */
    uint32_t reset_tokens;
    uint64_t reset_at_ms;
};

static inline struct h2_conn *h2_of(struct conn *c)
{
    return (struct h2_conn *)c;
}

static inline struct h2_env *h2_env_of(const struct h2_conn *h)
{
    return ((struct h1_env *)h->c.pool->env)->h2;
}
