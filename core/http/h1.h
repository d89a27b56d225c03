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
 * The writer half (http/h1_write.c) turns a struct resp into HTTP/1 bytes; it
 * owns the HTTP/1 text: status lines, the Server/Date line, the entity header
 * block prebuilt per file-cache entry, chunked framing.
 *
 * Single-threaded: the owning worker only.
 */
#pragma once

#include "core/base/pool.h"
#include "core/http/accesslog.h"
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
    char *cap;           /* access-log capture, or NULL */
    uint32_t cap_len;
    uint32_t head_len;
    int16_t server; /* whose access log gets the line, -1: none */
    int16_t status;
    bool close;
    bool cap_heap; /* cap was allocated apart (the track block had no room) */
};

#define H1_RECS 64

/* The records of a busy connection: one pooled block, with room for the captures after them. */
struct h1_track {
    uint32_t head, count;
    uint32_t cap_used, cap_size;
    struct h1_rec recs[H1_RECS];
    char cap_area[];
};

/* Per worker, shared by its HTTP/1 connections (the conn pool's env). */
struct h1_env {
    struct http_env http; /* what handlers see */
    const struct http_settings *set;
    const struct route_table *routes;
    struct alog_worker *log;
    struct block_pool track_pool;
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
};

enum h1_body { H1_BODY_NONE, H1_BODY_LENGTH, H1_BODY_CHUNKED };

struct h1_conn {
    struct conn c; /* first (session_ops.size) */
    uint16_t flags;
    uint8_t body_kind; /* enum h1_body: the request body still arriving (discarded) */
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
};

extern const struct session_ops h1_session;

/* Sets up the per-worker part. 0 or -ENOMEM. */
int h1_env_init(struct h1_env *e, const struct http_settings *set, const struct route_table *routes,
                struct alog_worker *log) MUST_CHECK;

void h1_env_fini(struct h1_env *e);

/* The file cache hooks that prebuild each file's HTTP/1 entity header block. */
extern const struct fs_cache_hooks h1_entity_hooks;

/* ---- between h1.c and h1_write.c ---- */

/* The writer's table for requests of this session. */
extern const struct req_proto h1_proto;

/* An error response for input that is not a valid request (the connection closes after it). */
int h1_bad_request(struct h1_conn *h, int status, const char *buf, size_t len) MUST_CHECK;

/* Counts and logs the records that completed, after the transport reported n sent bytes. */
void h1_completed(struct h1_conn *h);

/* Logs every record that never completed (the connection is going away). */
void h1_log_unfinished(struct h1_conn *h);

static inline struct h1_conn *h1_of(struct conn *c)
{
    return (struct h1_conn *)c;
}

static inline struct h1_env *h1_env_of(const struct h1_conn *h)
{
    return h->c.pool->env;
}
