/*
 * fastcgi_pool.h - the FastCGI handler's connections: state of their own around an upstream
 * connection (http/upstream.h: the group's peers, their health and each worker's idle
 * keep-alive connections, FCGI_KEEP_CONN's), and a worker's spare ones.
 *
 * A connection is heap memory of its own, never a request's: the kernel operations on it
 * (connect, send, receive) may complete after the request is gone, so it is let go only once
 * none is in flight. The handler (fastcgi.c) counts what it submits in `out` and calls
 * fcgi_conn_settle at the end of each completion; fcgi_conn_done says what becomes of the
 * socket then: kept idle in the group's pool (the answer ended cleanly with KEEP_CONN) or
 * closed. The structure itself, with its buffers, goes to the worker's few spare ones (no
 * allocation per request), freed when the worker thread exits.
 *
 * Per worker, single-threaded.
 */
#pragma once

#include "core/http/req.h"
#include "core/http/upstream.h"
#include "core/io/loop.h"
#include "proto/fastcgi.h"

#include <stdbool.h>
#include <stdint.h>

#define FCGI_SPARE_MAX 16
#define FCGI_RBUF 32768u
#define FCGI_WBUF (65536u + 64u)

struct fcgi_req;

enum fcgi_fate {
    FCGI_BUSY,  /* a request uses it */
    FCGI_KEEP,  /* to the group's idle pool once nothing is in flight */
    FCGI_CLOSE, /* closed once nothing is in flight */
    FCGI_SPARE, /* done with: among the spare ones (or freed) */
};

struct fcgi_conn {
    /* the pool's */
    struct http_env *env;
    struct io_loop *loop;
    const struct upstream_group *g;
    struct upstream_conn uc; /* uc.fd: the socket */
    struct fcgi_conn *next;  /* among the spare ones */
    uint8_t fate;            /* enum fcgi_fate */
    unsigned out;            /* the handler's operations in flight */

    /* the handler's (fastcgi.c) */
    struct fcgi_req *fr; /* the request it serves, NULL once detached */
    struct io_op wop, rop;
    bool w_out, r_out;
    bool connected;
    uint16_t id;
    struct upstream_watch watch; /* the deadline of the step waited for */
    struct fcgi_decoder dec;
    char *wbuf;
    size_t wcap, wlen, woff;
    char *rbuf;
    size_t rlen, rpos;
    uint64_t received; /* bytes from the server for the current request */
};

/*
 * A connection to peer of g for a request: an idle one of the group's pool (c->uc.reused,
 * c->connected) or a new socket to connect. with_body: a body that cannot be sent again
 * (the idle one is checked first). NULL with -errno in *err.
 */
struct fcgi_conn *fcgi_conn_get(struct http_env *env, const struct upstream_group *g, unsigned peer,
                                bool with_body, int *err);

/* The request is through with c: keep the socket for another (FCGI_KEEP) or close it
 * (FCGI_CLOSE). The handler cancelled what it has out first. */
void fcgi_conn_done(struct fcgi_conn *c, enum fcgi_fate fate);

/* At the end of each of the handler's completions on c: carries out the fate once nothing
 * is in flight (c is then gone: a spare one, perhaps already another request's, which this
 * call leaves alone). */
void fcgi_conn_settle(struct fcgi_conn *c);
