/*
 * h1_state.h - the HTTP/1 session's state: a connection's, and a worker's.
 *
 * Types only (and two accessors), shared by the session's files: h1.c (the
 * input side and the state machine), h1_write.c (the writer) and h1_track.c
 * (response records and their log lines).
 */
#pragma once

#include "core/base/pool.h"
#include "core/http/accesslog.h"
#include "core/http/client_id.h"
#include "core/http/conn.h"
#include "core/http/req.h"
#include "core/http/route.h"
#include "core/http/settings.h"
#include "proto/chunked.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* A queued response, tracked by position in the connection's output stream. */
struct h1_rec {
    uint64_t start, end; /* end: UINT64_MAX while a streamed body is still being produced */
    uint64_t t_start_us; /* when its request was parsed (for $request_time) */
    uint64_t t_first_us; /* when its first bytes came (the latency histograms) */
    struct loc_latency *lat; /* its location's histograms, NULL: none */
    char *cap;           /* access-log capture, or NULL */
    uint32_t cap_len;
    uint32_t head_len;
    int16_t server; /* whose access log gets the line, -1: none */
    int16_t status;
    bool close;
    bool cap_heap; /* cap was allocated apart (the track block had no room) */
    struct req_end *ends; /* run when its last byte went out, or the connection died */
};

#define H1_RECS 64

/* The records of a busy connection: one pooled block, with room for the captures after them. */
struct h1_track {
    uint32_t head, count;
    uint32_t cap_used, cap_size;
    struct h1_rec recs[H1_RECS];
    char cap_area[];
};

/* bytes of a track block: the records, then room for the log captures of a deep pipeline */
#define H1_TRACK_BLOCK ((uint32_t)sizeof(struct h1_track) + 12288)

struct h2_env;

/* Per worker, shared by its HTTP/1 connections (the conn pool's env). */
struct h1_env {
    struct http_env http; /* what handlers see */
    const struct http_settings *set;
    const struct route_table *routes;
    struct alog_worker *log;
    struct block_pool track_pool;
    struct h2_env *h2; /* the HTTP/2 session's part (http/h2_state.h), NULL: none */
    time_t date_sec;
    uint32_t date_len;
    char date_line[64]; /* "Server: spate\r\nDate: ...\r\n", rebuilt once a second */
};

enum h1_flag {
    H1_CLOSE_AFTER = 1u << 0, /* close once the queued output is sent */
    H1_STOP_READ = 1u << 1,   /* ignore further input */
    H1_BLOCKED = 1u << 2,     /* parsing stopped until the backlog is gone */
    H1_PAUSED = 1u << 3,      /* reading stopped on purpose (read_stop) */
    H1_HEAD_TIMER = 1u << 4,  /* the header timer runs for the current request */
    H1_UNREAD = 1u << 5,      /* closing, but the client may still be sending: linger */
    H1_WAITING = 1u << 6,     /* the first request in `in` waits for its handler (req_wait) */
    H1_EXPECT = 1u << 7,      /* Expect: 100-continue not answered yet (the response closes) */
};

enum h1_body { H1_BODY_NONE, H1_BODY_LENGTH, H1_BODY_CHUNKED };

struct h1_conn {
    struct conn c; /* first (session_ops.size) */
    uint16_t flags;
    uint8_t body_kind; /* enum h1_body: the request body still arriving (to body_ops, or
                        * discarded) */
    uint32_t nreq;     /* requests answered */
    /* input that did not form a complete request yet */
    char *in;
    uint32_t in_len, in_cap;
    uint32_t scanned; /* bytes of `in` already seen incomplete by the parser */
    uint64_t body_left;
    struct http_chunked chunk;
    /* output positions: bytes ever queued, bytes the transport reported sent */
    uint64_t queued, sent;
    struct h1_track *trk;
    struct req *stream; /* the request whose body is being streamed, or NULL */
    bool stream_waits;  /* its producer waits for room (writable) */
    bool stream_chunked; /* its body goes out in chunked framing */
    uint64_t stream_left; /* a stream of known length: bytes still to come; else UINT64_MAX */
    /* a request answered later (resp_defer): it is h->stream, its head not queued yet */
    bool deferred;
    bool expect_ka; /* the connection may stay open once the 100-continue is sent */
    const struct resp_stream_ops *defer_ops;
    void *defer_arg;
    uint64_t defer_since_us; /* when the deferred request was parsed (its $request_time) */
    /* the request body's consumer (req_body_read); NULL: the body is read and dropped */
    const struct req_body_ops *body_ops;
    struct req *body_req;
    bool body_full; /* the consumer took less than it was given: wait for req_body_more */
    struct req_wait wait; /* a request waiting for its handler (H1_WAITING) */
    struct req_end *ends; /* what the request being served asked to run at its end (req_on_end):
                           * moves to its record when its response is queued */
    uint64_t wait_since_us; /* when it was first parsed (its $request_time starts there), 0 */
    uint64_t first_us; /* the turn that brought the first bytes of the request being read */
    uint64_t rx_us;    /* the turn of the latest receive */
    struct client_id *cid; /* who the client is (ident, hostname_lookups), NULL: not asked */
};

static inline struct h1_conn *h1_of(struct conn *c)
{
    return (struct h1_conn *)c;
}

static inline struct h1_env *h1_env_of(const struct h1_conn *h)
{
    return h->c.pool->env;
}
