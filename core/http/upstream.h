/*
 * upstream.h - groups of upstream servers (nginx's `upstream NAME { server ...; }`), which
 * one a request goes to, their health, and each worker's idle keep-alive connections to them.
 *
 *   upstream app {
 *       server 127.0.0.1:8081 weight=2 max_fails=3 fail_timeout=10s;
 *       server unix:/run/app.sock backup;
 *       least_conn;                     or: hash $request_uri consistent;
 *       keepalive 32;  keepalive_timeout 60s;  keepalive_requests 1000;
 *   }
 *
 * A group is chosen by a content module (proxy_pass http://app; later fastcgi_pass app),
 * which then drives the connection itself on the worker's ring. The small API a module uses:
 *
 *   upstream_pick(r, g, &t)           a peer for r (round robin, least_conn or hash), one
 *                                      not tried yet for this request; -1: none is live
 *   upstream_take(r, g, peer, &uc)    an idle pooled connection to it (checked alive), or a
 *                                      new non-blocking socket to io_connect to peer->addr
 *   upstream_give(r, g, &uc, reuse)   done with it: back to the pool (reuse) or closed
 *   upstream_failed(r, g, peer) / upstream_ok(r, g, peer)   passive health (max_fails)
 *
 * Health, round-robin weights, active counts and pools are per worker (each in its own
 * slot, as redirect pools are), so choosing needs no lock; nginx does the same without a
 * shared zone. Pools are per configuration: a reload starts with empty ones, and the old
 * generation's idle connections are closed when it is freed.
 *
 * A group is also made for a bare address (proxy_pass http://127.0.0.1:8080): one peer,
 * never marked down (nginx's rule for a single server).
 *
 * upstream_watch: a per-worker coarse timer (100 ms ticks) that bounds a wait with a
 * deadline that moves on each bit of progress, at the cost of two pointer writes: what the
 * connect, send and read timeouts of a module need without a kernel timer per operation.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/req.h"
#include "core/io/timer.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct http_script;
struct io_loop;

#define UPSTREAM_PEERS_MAX 64

struct upstream_peer {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char name[128]; /* "127.0.0.1:8081", "[::1]:80", "unix:/run/app.sock" ($upstream_addr) */
    uint32_t weight, max_fails, fail_timeout_ms;
    bool backup, down;
};

enum upstream_policy { UPSTREAM_RR, UPSTREAM_LEAST_CONN, UPSTREAM_HASH };

struct upstream_worker; /* upstream.c: one worker's state of a group */

struct upstream_group {
    char *name;
    struct upstream_peer *peers;
    unsigned npeers, nprimary; /* primaries first, then backups */
    uint8_t policy;            /* enum upstream_policy */
    bool consistent;
    bool implicit; /* made for a bare address */
    char *hash_text;
    struct http_script *hash_key;
    uint32_t keepalive; /* idle connections each worker keeps (0: none) */
    uint32_t keepalive_timeout_ms, keepalive_requests;
    struct conf_where where;
    /* consistent hash: sorted points of the ring */
    struct upstream_point *ring;
    unsigned npoints;
    struct upstream_worker *w; /* [nslots] */
    unsigned nslots;
};

/* What one request tried (proxy_next_upstream): peers as bits. */
struct upstream_try {
    uint64_t tried;
    unsigned count;
    uint64_t hash; /* the key's hash, once computed */
    bool hashed;
};

/* A connection to a peer. */
struct upstream_conn {
    int fd;
    unsigned peer;
    uint32_t requests; /* requests it carried before this one */
    bool reused;       /* taken from the pool: it may have been closed by the peer meanwhile */
};

/* Makes g's per-worker state (finish of the module that made g). 0 or -ENOMEM. */
int upstream_group_prepare(struct upstream_group *g) MUST_CHECK;

/* Frees g (closes its idle connections). */
void upstream_group_free(struct upstream_group *g);

/* A peer for r not tried yet (marked tried), or -1: none is live. */
int upstream_pick(struct req *r, const struct upstream_group *g, struct upstream_try *t);

/*
 * A connection to peer: an idle one from the worker's pool (uc->reused), else a new
 * non-blocking socket the caller connects (io_connect to the peer's addr). An idle one is
 * checked (a non-blocking peek: no EOF, nothing unread) when it was idle for a second or
 * more, or with_body (a request whose body cannot be sent again); one idle for less is
 * taken as it is, and a close the caller finds on it before any byte came back is worth
 * one more try on a new connection. 0 or -errno.
 */
int upstream_take(struct http_env *env, const struct upstream_group *g, unsigned peer,
                  bool with_body, struct upstream_conn *uc) MUST_CHECK;

/*
 * Done with uc (uc->fd is -1 after): kept idle when reuse and the pool has room (and it
 * carried fewer than keepalive_requests), else closed. Nothing may be in flight on it.
 */
void upstream_give(struct http_env *env, const struct upstream_group *g, struct upstream_conn *uc,
                   bool reuse);

/* Passive health: a peer failed (connect, reset, timeout), or answered. */
void upstream_failed(struct http_env *env, const struct upstream_group *g, unsigned peer);
void upstream_ok(struct http_env *env, const struct upstream_group *g, unsigned peer);

/* ---- the coarse watch ---- */

struct upstream_watch {
    struct timer_node node;
    uint64_t deadline_ms; /* UINT64_MAX: not waiting */
    void (*fire)(struct upstream_watch *w);
};

/* Starts watching w on loop l (the calling worker's); fire runs once deadline_ms passed. */
void upstream_watch_start(struct io_loop *l, struct upstream_watch *w);

/* Stops watching w. */
void upstream_watch_stop(struct upstream_watch *w);
