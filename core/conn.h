/*
 * conn.h - a client connection and its output queue.
 *
 * Lifetime rule (io_uring): a connection is freed only when no operation of
 * its is in flight (pending == 0). Closing therefore means: mark it dead,
 * shut the socket down so in-flight operations complete, and free it on the
 * last completion. user_data also carries the slot's generation, so a
 * completion can never be applied to a different connection.
 *
 * Memory: an idle keep-alive connection holds only this struct (no input
 * buffer, no output block, no arena chunk); those are taken from per-worker
 * pools while a request is in progress and returned when it is done.
 *
 * Output: responses are queued as segments, in order: memory (response heads
 * and small bodies in the connection's output block, or cached file content,
 * referenced without a copy) and file ranges (sent with sendfile). At most
 * one send is in flight per connection; consecutive memory segments leave in
 * one send or sendmsg.
 */
#pragma once

#include "core/base/arena.h"
#include "core/base/compiler.h"
#include "core/timer.h"
#include "fs/cache.h"
#include "proto/chunked.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct worker;
struct conn;

/*
 * Where the bytes of a request body go, as they arrive: data pieces in order,
 * then one call with end = true (status 0, or < 0 when the body was malformed,
 * too large or timed out and the connection will close). NULL discards the
 * body, which is what static resources do; handlers that consume bodies
 * (uploads, CGI) set one.
 */
typedef void (*conn_body_fn)(struct conn *c, struct slice data, bool end, int status);

enum body_kind {
    BODY_NONE,
    BODY_LENGTH,  /* body_left bytes */
    BODY_CHUNKED, /* decoded by `chunk` */
};

enum conn_flag {
    CF_RECV = 1u << 0,        /* multishot recv armed */
    CF_SENDING = 1u << 1,     /* send or poll in flight */
    CF_CLOSE_AFTER = 1u << 2, /* close once the queued output is sent */
    CF_STOP_READ = 1u << 3,   /* ignore further input */
    CF_EOF = 1u << 4,         /* the client shut down its side */
    CF_LINGER = 1u << 5,      /* our FIN is out; waiting for the client's */
    CF_DEAD = 1u << 6,        /* closing: free when pending reaches 0 */
    CF_ON_REARM = 1u << 7,    /* on the worker's re-arm list */
    CF_ON_READY = 1u << 8,    /* on the worker's ready list */
    CF_PAUSED = 1u << 9,      /* recv cancelled: output backlog */
    CF_BLOCKED = 1u << 10,    /* parsing stopped until output drains */
    CF_HEAD_TIMER = 1u << 11, /* header timer runs for the current request */
};

enum seg_kind {
    SEG_MEM,  /* ptr, len */
    SEG_FILE, /* ref->fd, off, len */
};

struct out_seg {
    const char *ptr;
    uint64_t len;         /* bytes not yet sent */
    uint64_t off;         /* SEG_FILE: file offset of the next byte */
    struct fs_entry *ref; /* released once the segment is sent, or NULL */
    uint8_t kind;
};

/*
 * A queued response, tracked by stream position: it is complete once every
 * byte up to end_pos has been sent. Segments may merge across responses
 * (pipelined heads leave in one send); these records keep the boundaries.
 */
struct out_resp {
    uint64_t end_pos;   /* stream offset just past the response's last byte */
    uint64_t start_pos; /* stream offset of its first byte */
    int status;
    bool close;        /* the connection closes after this response */
    uint32_t head_len; /* bytes of the response head (for body_bytes_sent) */
    /* access log: phase-1 capture in the block's scratch area, or log_len == 0 */
    uint32_t log_off, log_len;
    uint16_t log_server; /* index of the server whose log gets the line */
    uint64_t t_start_us; /* when the request was parsed (monotonic) */
};

#define OUT_SEGS 64
#define OUT_IOV 64
#define OUT_RESPS 64

/* The output queue: one pooled block per busy connection. */
struct out_state {
    uint32_t head, count;   /* segment ring */
    uint32_t rhead, rcount; /* response ring */
    uint32_t len, cap;      /* bytes used in buf; never moved while sending */
    uint32_t scratch;       /* bytes used at the top of buf by log captures */
    uint64_t queued_pos;    /* bytes ever queued on this connection */
    uint64_t sent_pos;      /* bytes confirmed sent */
    uint64_t last_end;      /* queued_pos at the end of the last response */
    struct msghdr msg;
    struct iovec iov[OUT_IOV];
    struct out_seg segs[OUT_SEGS];
    struct out_resp resps[OUT_RESPS];
    char buf[];
};

struct conn {
    struct timer_node timer;
    struct worker *w;
    struct conn *next_ready, *next_rearm;
    uint32_t idx, gen;
    int fd;
    uint32_t flags;
    uint16_t group;   /* listen group it arrived on */
    uint16_t pending; /* io_uring operations in flight */

    /* input that did not form a complete request yet */
    char *in;
    uint32_t in_len, in_cap;
    uint32_t scanned; /* bytes of `in` already seen incomplete by the parser */

    /* the body of the request being received (its response may already be queued) */
    uint8_t body_kind;         /* enum body_kind */
    uint64_t body_left;        /* BODY_LENGTH: bytes still to come */
    struct http_chunked chunk; /* BODY_CHUNKED: decoder state */
    conn_body_fn body_sink;    /* NULL: discard */

    struct out_state *out;
    struct arena arena;
    char *bounce; /* file bytes read (not sendfile'd) because they were not in the page cache */

    uint64_t id;   /* connection number, unique per worker */
    uint32_t nreq; /* requests received */

    /* the client's address, looked up (getpeername) the first time a log line needs it */
    bool peer_known;
    uint8_t peer_family;
    uint16_t peer_port;
    uint8_t peer_addr[16];
};

/* ---- output queue (conn.c) ---- */

/* Room for n more bytes in the output block; NULL if the queue is full. */
char *out_reserve(struct conn *c, size_t n) MUST_CHECK;

/* Appends the n bytes just written at out_reserve() (merged with the tail when contiguous). */
void out_commit(struct conn *c, size_t n);

/* Queues len bytes at ptr, owned by ref (which gains a reference; may be NULL). */
void out_push_mem(struct conn *c, const char *ptr, size_t len, struct fs_entry *ref);

/* Queues len bytes of ref's file from off (sent with sendfile); ref gains a reference. */
void out_push_file(struct conn *c, struct fs_entry *ref, uint64_t off, uint64_t len);

/* n bytes at the top of the block that are never sent (log captures); NULL if full. */
char *out_scratch(struct conn *c, size_t n) MUST_CHECK;

/* Marks the end of a response at the current queue position; returns its record. */
struct out_resp *out_end_response(struct conn *c, int status, bool close);

/*
 * True if a response of up to `bytes` bytes of head/body copy and `segs`
 * segments can be queued now (the block, segment and response rings all have
 * room). Callers check before parsing a request, so queueing never fails.
 */
bool out_has_room(struct conn *c, size_t bytes, unsigned segs) MUST_CHECK;

/* Drops every queued segment (releasing references) and returns the block. */
void out_discard(struct conn *c);

static inline bool conn_reading_body(const struct conn *c)
{
    return c->body_kind != BODY_NONE;
}

static inline bool out_empty(const struct conn *c)
{
    return c->out == NULL || c->out->count == 0;
}

/* ---- connection I/O state machine (conn_io.c), called by the worker loop ---- */

/* A new connection on fd from listen group g; NULL if refused (limit, memory). */
struct conn *conn_open(struct worker *w, int fd, uint16_t group);

/* A completion of operation op (enum io_op) for c. */
void conn_complete(struct worker *w, struct conn *c, int op, int res, uint32_t cqe_flags);

/* Work deferred to the end of the loop turn: flush output, re-arm recv. */
void conn_run_ready(struct worker *w, struct conn *c);
void conn_run_rearm(struct worker *w, struct conn *c);

/* A timeout of kind `tk` (enum timer_kind) expired. */
void conn_timeout(struct worker *w, struct conn *c, int tk);

/* Closes at once: in-flight operations are cut short; freed when they complete. */
void conn_abort(struct worker *w, struct conn *c);

/* Shutdown: close if idle, else let the current response finish and close. */
void conn_shutdown(struct worker *w, struct conn *c);

/* Logs the responses of c that never completed (the connection is going away). */
void conn_log_unfinished(struct worker *w, struct conn *c);

/* Queues c for conn_run_ready at the end of this loop turn. */
void conn_schedule(struct worker *w, struct conn *c);
