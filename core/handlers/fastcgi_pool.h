/*
 * fastcgi_pool.h - a worker's connections to FastCGI application servers, and its pool of
 * idle ones kept open with FCGI_KEEP_CONN.
 *
 * A connection is heap memory of its own, never a request's: the kernel operations on it
 * (connect, send, receive, the timer) may complete after the request is gone, so a
 * connection is freed only once none is in flight. The handler (fastcgi.c) counts what it
 * submits in `out` and calls fcgi_conn_settle at the end of each completion; fcgi_conn_done
 * says what becomes of the connection when the request is through with it: back to the idle
 * pool (the answer ended cleanly with KEEP_CONN) or closed.
 *
 * Idle connections wait with a poll for input armed: a server that closes one (php-fpm's
 * pm.max_requests, a restart) or writes to it unasked is seen at once, and the connection
 * closed. Taking one makes a non-blocking MSG_PEEK check too (a close that raced the poll),
 * and the handler retries once on a fresh connection if a reused one fails before anything
 * was received. At most FCGI_POOL_IDLE_MAX idle connections per worker (the oldest goes);
 * one idle longer than FCGI_POOL_IDLE_MS is closed when met.
 *
 * Per worker, single-threaded: the lists are thread-local, and what is left of them when the
 * worker thread exits (after its ring is gone) is closed and freed then.
 */
#pragma once

#include "core/io/loop.h"
#include "proto/fastcgi.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define FCGI_POOL_IDLE_MAX 32
#define FCGI_POOL_IDLE_MS 60000u
#define FCGI_RBUF 32768u
#define FCGI_WBUF (65536u + 64u)

struct fcgi_req;

enum fcgi_fate {
    FCGI_BUSY,  /* a request uses it */
    FCGI_KEEP,  /* to the idle pool once nothing is in flight */
    FCGI_CLOSE, /* closed and freed once nothing is in flight */
};

struct fcgi_conn {
    /* the pool's */
    struct io_loop *loop;
    int fd;
    struct fcgi_conn *prev, *next;   /* every connection of the worker */
    struct fcgi_conn *iprev, *inext; /* the idle ones */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint64_t idle_since_ms;
    struct io_op idle_op;
    bool idle, idle_out;
    uint8_t fate; /* enum fcgi_fate */
    bool reused;  /* taken from the pool for its current request */
    unsigned out; /* the handler's operations in flight */

    /* the handler's (fastcgi.c) */
    struct fcgi_req *fr; /* the request it serves, NULL once detached */
    struct io_op wop, rop;
    struct io_sleep timer;
    bool w_out, r_out, t_out;
    bool connected;
    uint16_t id;
    uint64_t deadline_ms; /* of the step waited for, 0: none (waiting for the client) */
    struct fcgi_decoder dec;
    char *wbuf;
    size_t wcap, wlen, woff;
    char *rbuf;
    size_t rlen, rpos;
    uint64_t received; /* bytes from the server for the current request */
};

/* A new connection's socket (not connected) for addr. NULL, errno set. */
struct fcgi_conn *fcgi_conn_open(struct io_loop *l, const struct sockaddr_storage *addr,
                                 socklen_t len);

/* An idle connection to addr, checked alive, or NULL. */
struct fcgi_conn *fcgi_pool_take(struct io_loop *l, const struct sockaddr_storage *addr,
                                 socklen_t len);

/* The request is through with c: keep it for another (FCGI_KEEP) or close it (FCGI_CLOSE).
 * Cancels nothing: the handler cancels what it has out first. */
void fcgi_conn_done(struct fcgi_conn *c, enum fcgi_fate fate);

/* At the end of each of the handler's completions on c: carries out the fate once nothing
 * is in flight (c may be freed). */
void fcgi_conn_settle(struct fcgi_conn *c);

/* Idle connections of this worker (tests and the status log). */
unsigned fcgi_pool_idle(void);
