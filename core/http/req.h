/*
 * req.h - a request as handlers see it, and what the session under it provides.
 *
 * A session (HTTP/1 today) parses a request, fills a struct req and hands it
 * to http_dispatch() (http/dispatch.h), which routes it (server, location),
 * applies the method policy and calls the location's handler. The handler
 * answers through the response writer (http/respond.h) and never sees the
 * connection, the socket or the process. This header holds the data; the
 * writer's functions are in respond.h.
 *
 * Lifetime: `msg` points into the receive buffer and is valid only while
 * handle() runs. Everything else, and the request's arena, lives until the
 * response is complete: a handler that answers later (a stream) copies what
 * it needs from msg into the arena during handle().
 */
#pragma once

#include "core/base/arena.h"
#include "core/base/slice.h"
#include "fs/cache.h"
#include "proto/http.h"
#include "proto/request.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

struct io_loop;
struct req;
struct route_server;
struct route_loc;
struct route_group;
struct cache_fills;
struct sockaddr_storage;
struct worker_latency;

/* ---- the response a handler describes (written by respond.h's functions) ---- */

#define RESP_FIELDS_INLINE 8 /* more come from the request's arena */
#define RESP_FIELDS_MAX 128   /* an upstream's or a script's fields passed on */
#define RESP_PIECES_MAX 40   /* multipart/byteranges: 16 parts, a head before each, a tail */
#define RESP_PIECES_INLINE 3 /* more come from the request's arena */

/* What resp_entity takes from the file facts. */
enum resp_entity_part {
    RESP_ENT_TYPE = 1u << 0,       /* Content-Type */
    RESP_ENT_VALIDATORS = 1u << 1, /* Last-Modified, ETag, Accept-Ranges */
};

enum resp_body_kind {
    RESP_BODY_NONE,   /* no body (Content-Length: 0 where a length is sent) */
    RESP_BODY_PAGE,   /* the small HTML page for the status */
    RESP_BODY_PIECES, /* memory and file pieces, length known */
    RESP_BODY_STREAM, /* produced later, length unknown */
};

struct resp_field {
    struct slice name, value;
};

struct resp_piece {
    const char *ptr;      /* memory, or NULL for a file range */
    uint64_t off, len;    /* file range: offset; both: length */
    struct fs_entry *ref; /* keeps ptr alive, or names the file; NULL: copy ptr at send */
};

/* Told by the writer about a streamed body's queue. */
struct resp_stream_ops {
    /* the queue has room again: write more (called at the start of a loop turn) */
    void (*writable)(struct req *r);
    /* the connection went away: stop producing; the request ends when this returns */
    void (*abort)(struct req *r);
};

struct resp {
    int status;
    bool close; /* the connection closes after this response */
    bool sent;  /* the head is queued: nothing may change any more */
    uint8_t body;
    uint8_t entity_parts;
    uint8_t npieces, pieces_cap;
    uint8_t nfields, fields_cap;
    const struct fs_entry *entity;
    uint64_t length; /* RESP_BODY_PIECES: bytes of all pieces; RESP_BODY_STREAM: the length
                      * announced by resp_stream_length, or UINT64_MAX (unknown) */
    struct resp_field *fields; /* inline_fields, or a larger copy in the arena */
    struct resp_field inline_fields[RESP_FIELDS_INLINE];
    struct resp_piece *pieces; /* inline_pieces, or a larger copy in the arena */
    struct resp_piece inline_pieces[RESP_PIECES_INLINE];
    const struct resp_stream_ops *stream;
    void *stream_arg;
};

/* ---- the request ---- */

/*
 * A request waiting for something before its handler can answer (a file the cache is
 * loading). The handler links r->wait into the list of what it waits for (req_wait_link)
 * and returns HANDLER_LATER with nothing answered; the session keeps the request's bytes
 * and stops there. wake() dispatches the request again from the start: the handler then
 * finds what it waited for. The session unlinks the node if the connection goes first.
 */
struct req_wait {
    struct req_wait *next, *prev; /* in the waited-for thing's list; NULL when not waiting */
    void (*wake)(struct req_wait *w);
    uint8_t rounds; /* times the current request waited: past a few, handlers answer now */
    uint8_t passed; /* ACCESS_PASSED_* steps the current request went through (access.h):
                     * kept across its waits, so a step that counts it counts it once */
};

static inline void req_wait_list_init(struct req_wait *head)
{
    head->next = head->prev = head;
}

static inline void req_wait_link(struct req_wait *head, struct req_wait *w)
{
    w->prev = head->prev;
    w->next = head;
    head->prev->next = w;
    head->prev = w;
}

static inline void req_wait_unlink(struct req_wait *w)
{
    if (w->next) {
        w->prev->next = w->next;
        w->next->prev = w->prev;
        w->next = w->prev = NULL;
    }
}

/* The captures of the last regex that matched, as offsets into subject (http/vars.h uses them). */
#define HTTP_CAPTURES_MAX 10 /* $0..$9 */

struct http_captures {
    struct slice subject;
    unsigned n; /* pairs in ov */
    size_t ov[2 * HTTP_CAPTURES_MAX];
};

/*
 * Where a request goes next when a step (try_files, error_page) sends it elsewhere, returned
 * to the dispatcher instead of a status: the URI is now r->path (search the locations
 * again), or the location is now r->loc (a named one).
 */
#define REQ_NEXT_URI 4
#define REQ_NEXT_LOC 5

/* Per-worker services a handler may use. */
struct http_env {
    struct io_loop *loop;    /* clocks, and operations of handlers that answer later */
    struct fs_cache *fcache; /* the worker's open-file cache */
    struct cache_fills *fills; /* its misses in flight (http/cache_fill.h), NULL: none */
    unsigned worker;         /* 1..N */
    uint64_t boundary_seq;   /* multipart boundaries of this worker */
    bool trace;              /* TRACE is allowed */
    uint64_t max_body;       /* client_max_body_size */
    bool draining;           /* the worker is shutting down */
    struct worker_latency *lat; /* latency_histograms on: the worker's (http/latency.h) */
};

/*
 * Something to undo when a request ends: its response went out completely, or its connection
 * died first (a limit_conn count). The owner keeps the memory until fn runs; fn runs once, on
 * the worker's thread.
 */
struct req_end {
    void (*fn)(struct req_end *e);
    struct req_end *next;
};

/*
 * A request body streamed to the handler (a CGI script's stdin, an upstream), decoded (no
 * chunked framing), with backpressure. See req_body_read().
 */
struct req_body_ops {
    /* n body bytes at p (valid during the call). Returns how many it took; less than n: the
     * rest is kept, reading from the client stops, and nothing more comes until the handler
     * calls req_body_more(). Never called again after end(). */
    size_t (*data)(struct req *r, const char *p, size_t n);
    /* the body ended: err 0, all of it arrived; 400, 408 or 413, it broke with that status
     * (bad chunked framing, client_body_timeout, over client_max_body_size): answer it if
     * nothing was sent (the connection closes after the response); -ECONNABORTED, the client
     * stopped sending (it shut down its side mid-body): the connection is aborted right
     * after (abort() comes). */
    void (*end)(struct req *r, int err);
};

/* How the session under a request writes its response (http/h1_write.c for HTTP/1). */
struct req_proto {
    int (*send)(struct req *r);
    int (*stream_begin)(struct req *r);
    size_t (*stream_write)(struct req *r, const void *p, size_t len);
    int (*stream_end)(struct req *r);
    /* keep the connection alive across an asynchronous step, and end that */
    void (*hold)(struct req *r);
    void (*unhold)(struct req *r);
    /* the connection is going away: an asynchronous step that resumes stops here */
    bool (*dead)(const struct req *r);
    /* the client's address, or NULL when unknown */
    const struct sockaddr_storage *(*peer)(struct req *r);
    /* the port the request arrived on (the socket's own: a listen on port 0 included) */
    unsigned (*local_port)(struct req *r);
    /* e->fn runs when this request ends (see struct req_end), across its waits */
    void (*on_end)(struct req *r, struct req_end *e);
    /* the handler answers later, from a callback (resp_defer in respond.h) */
    int (*defer)(struct req *r, const struct resp_stream_ops *ops, void *arg);
    /* the request body goes to ops (req_body_read), and more of it (req_body_more) */
    int (*body_read)(struct req *r, const struct req_body_ops *ops, void *arg);
    void (*body_more)(struct req *r);
    /* the streamed body cannot be completed: cut it (resp_stream_abort in respond.h) */
    void (*stream_abort)(struct req *r);
    /* the connection's SSL * (http/tls_vars.c, ssl_verify_client); NULL (the op or its
     * result): not TLS */
    void *(*ssl)(struct req *r);
};

struct req {
    /* the request */
    const struct http_request *msg; /* NULL once handle() returned (a stream goes on) */
    enum http_method method;
    uint8_t version_minor; /* HTTP/1.<minor> (the response's framing depends on it) */
    bool h2;           /* an HTTP/2 stream: $server_protocol is HTTP/2.0 */
    bool secure;       /* it came over TLS: $scheme https, absolute redirects to https:// */
    bool head_only;    /* HEAD: the GET response without its body */
    struct slice path; /* normalized and percent-decoded, NUL-terminated; see path_status */
    int path_status;   /* 0, or why the path could not be normalized (400, 403, 404) */
    uint8_t redirects; /* internal redirects so far */
    bool internal;     /* reached by an internal redirect: `internal` locations may answer */
    bool in_error_page; /* answering through an error_page: no second one */
    int16_t error_status; /* nonzero: the status a successful answer is sent with (error_page) */
    struct slice args;    /* the query without '?' (a rewrite may replace it) */
    uint8_t body_kind;    /* enum http_body_kind: the request's body (see req_body_read) */
    uint64_t body_length; /* its length for HTTP_BODY_LENGTH */
    void *body_arg;       /* what req_body_read was given */
    const struct http_captures *caps; /* of the last regex that matched, or NULL */
    struct slice set_cookie; /* a Set-Cookie a redirect carries (a cookie-affinity pool) */
    const char *request_id;  /* $request_id, made when first used */
    uint64_t t_first_us;      /* the turn that received its first bytes (http/latency.h) */
    struct slice remote_user; /* $remote_user: the user auth_basic let in (arena, NUL after) */
    const struct route_group *group;   /* the address it arrived on */
    const struct route_server *server; /* the virtual host */
    const struct route_loc *loc;       /* the location, or the server's own */
    struct http_env *env;
    struct arena *arena;
    struct req_wait *wait; /* NULL: the session cannot wait, answer now */
    /* the response */
    struct resp resp;
    /* the session */
    const struct req_proto *proto;
    void *proto_data;
};

/* The SSL * of r's connection, NULL on a plain one. */
static inline void *req_ssl(struct req *r)
{
    return r->proto->ssl ? r->proto->ssl(r) : NULL;
}

/* Keeps the request (and its connection) alive across an asynchronous step. */
static inline void req_hold(struct req *r)
{
    r->proto->hold(r);
}

/* Ends a req_hold; r may be gone afterwards if its connection died meanwhile. */
static inline void req_unhold(struct req *r)
{
    r->proto->unhold(r);
}

/*
 * A hold that outlives the request's arena (a job on a helper thread that ends after the
 * request was answered or dispatched again): what unhold needs, kept by the job. unhold reads
 * only the session's data, so a stub request carries it.
 */
struct req_hold_ref {
    const struct req_proto *proto;
    void *proto_data;
};

static inline struct req_hold_ref req_hold_keep(struct req *r)
{
    req_hold(r);
    return (struct req_hold_ref){r->proto, r->proto_data};
}

static inline void req_hold_end(struct req_hold_ref h)
{
    struct req stub;
    memset(&stub, 0, sizeof(stub));
    stub.proto = h.proto;
    stub.proto_data = h.proto_data;
    h.proto->unhold(&stub);
}

/* Runs e->fn when the request ends (its response sent, or its connection gone). */
static inline void req_on_end(struct req *r, struct req_end *e)
{
    r->proto->on_end(r, e);
}

/*
 * Streams the request body to ops (r->body_arg = arg). Only for a handler that answers later
 * or streams (resp_defer, resp_stream): the body comes after handle() returns, as it arrives.
 * Expect: 100-continue is answered now (if the response head is not sent yet). Returns 0; 1
 * when the request has no body (nothing will be called); -ENOMEM. The body stops going to ops
 * when the response is complete (what is left is read and dropped).
 */
static inline int req_body_read(struct req *r, const struct req_body_ops *ops, void *arg)
{
    return r->proto->body_read(r, ops, arg);
}

/* The handler takes body bytes again, after data() took less than it was given. Not from
 * inside data(). */
static inline void req_body_more(struct req *r)
{
    r->proto->body_more(r);
}

/* True once the request's connection is closing (a step resuming later stops). */
static inline bool req_dead(const struct req *r)
{
    return r->proto->dead(r);
}
