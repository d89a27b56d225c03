/*
 * proxy_state.h - one proxied request and its connections to peers, as proxy.c drives them
 * and proxy_vars.c reads them (its variables). Private to the proxy.
 */
#pragma once

#include "core/handlers/proxy_conf.h"
#include "core/http/req.h"
#include "core/http/upstream.h"
#include "core/io/loop.h"
#include "proto/chunked.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXY_TRIED_MAX 8

struct px;

/* A connection to a peer; outlives its request while operations on it are in flight. */
struct pconn {
    struct px *px;
    struct http_env *env;
    const struct upstream_group *g;
    struct upstream_conn uc;
    struct io_op cop, sop, rop;
    bool c_out, s_out, r_out;
    bool orphan, reuse;
};

/* One proxied request. Freed when its request let go and no connection uses its buffers. */
struct px {
    struct req *r; /* NULL once the request is answered or gone */
    const struct proxy_conf *pc;
    const struct upstream_group *g;
    struct http_env *env;
    struct io_loop *loop;
    unsigned refs;     /* the request, and each pconn */
    struct pconn *cur; /* the connection in use, or NULL */
    struct upstream_try tries;
    struct upstream_watch watch;
    struct px *next, *prev; /* this worker's live ones (the variables find theirs) */
    /* request */
    char *head;
    size_t head_len, head_off;
    bool has_body, chunked_out, body_ended, body_refused, stale_retried;
    char *sbuf;
    size_t s_len, s_off;
    /* response */
    char *rbuf;
    uint32_t rcap, rlen, roff;
    bool head_done, started, waiting_client, extra, got_any, keep_alive, head_req;
    uint8_t kind; /* enum upstream_body */
    uint64_t left;
    struct http_chunked ch;
    int up_status;
    uint64_t t0_ms;
    uint8_t tried[PROXY_TRIED_MAX]; /* the peers tried, in order ($upstream_addr) */
    uint8_t ntried;
};

/* This worker's proxied requests, newest first. */
extern _Thread_local struct px *proxy_live;
