/*
 * conn.h - a client connection: lifetime, transport, timer, and the session that runs on it.
 *
 * Lifetime rule (io_uring): a connection is freed only when nothing of it is
 * in flight: no transport operation, no deferred work, no guard. Closing
 * therefore means: mark it dead, abort the transport so in-flight operations
 * complete early, and free it on the last completion. The memory of a freed
 * connection goes back to the worker's slot list and is reused; the io_ops'
 * generations make completions of the earlier connection unrecognisable.
 *
 * Memory: an idle keep-alive connection holds only its slot (struct conn and
 * the session state after it); the output queue block and the arena chunks
 * come from per-worker pools while a request is in progress.
 *
 * Timers: one per connection, on one of the pool's fixed-duration lists
 * (header, body, idle, send, linger); the session picks which, the pool's
 * loop fires it. The linger timer belongs to conn.c: after the last response
 * the connection sends FIN and reads (dropping) until the client's FIN or the
 * timer, so unread pipelined input never turns into an RST that destroys the
 * response.
 *
 * Single-threaded: the owning worker only.
 */
#pragma once

#include "core/base/arena.h"
#include "core/base/compiler.h"
#include "core/base/pool.h"
#include "core/http/counters.h"
#include "core/http/session.h"
#include "core/io/loop.h"
#include "core/io/timer.h"
#include "core/net/transport.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum conn_timer {
    CONN_T_HEADER, /* the request head must complete */
    CONN_T_BODY,   /* body bytes must keep coming */
    CONN_T_IDLE,   /* keep-alive idle */
    CONN_T_SEND,   /* the client must keep reading */
    CONN_T_LINGER, /* waiting for the client's FIN after ours */
    CONN_T__COUNT
};

enum conn_flag {
    CONN_DEAD = 1u << 0,   /* closing: freed when nothing is in flight */
    CONN_EOF = 1u << 1,    /* the client shut down its side */
    CONN_LINGER = 1u << 2, /* our FIN is out; reading until the client's */
};

/* Per-worker connection state, embedded in the worker. */
struct conn_pool {
    struct io_loop *loop;
    struct transport_env *tenv;
    const struct session_ops *sess; /* what runs on new connections (HTTP/1) */
    /* what a connection switches to when it speaks HTTP/2 (ALPN h2, or the h2c preface);
     * NULL: none. Slots are sized for the larger of the two. */
    const struct session_ops *h2;
    void *env;                      /* the session's per-worker environment */
    struct worker_counters *ctr;
    struct conn **slots;
    uint32_t nslots, cap;
    uint32_t free_head; /* first free slot, or UINT32_MAX */
    uint32_t nconns;    /* live connections */
    uint32_t max_conns;
    uint64_t next_id;
    size_t arena_cap; /* per-request arena limit */
    bool draining;    /* set by the worker's drain; new ones are still served (conn.c) */
    struct block_pool out_pool;
    struct arena_pool arena_pool;
    struct timer_list timers[CONN_T__COUNT];
};

struct conn {
    struct transport tr; /* first: the transport's events find the connection */
    struct timer_node timer;
    struct io_defer ready; /* session work at the end of the turn (conn_schedule) */
    struct conn_pool *pool;
    const struct session_ops *sess;
    uint32_t idx;
    uint16_t listener; /* index of the listening socket it arrived on */
    uint16_t flags;    /* enum conn_flag */
    uint64_t id;       /* connection number, unique per worker */
    struct arena arena;
    /* the client's address, looked up (getpeername) the first time something needs it */
    bool peer_known;
    struct sockaddr_storage peer;
};

struct conn_pool_params {
    uint32_t max_conns;
    uint32_t timeout_ms[CONN_T__COUNT];
    size_t arena_cap;
    uint32_t out_block; /* bytes of an output queue block */
};

/* Sets the pool up on its worker's loop. 0 or -ENOMEM. */
int conn_pool_init(struct conn_pool *p, struct io_loop *l, struct transport_env *tenv,
                   const struct session_ops *sess, void *env,
                   struct worker_counters *ctr, const struct conn_pool_params *params) MUST_CHECK;

/* Frees every connection and the pools. stuck: the kernel may still hold operations of some
 * connections (the loop gave up waiting): their memory is left to the process exit. */
void conn_pool_fini(struct conn_pool *p, bool stuck);

/*
 * A new connection on fd from listener `listener`, its bytes moved by the transport init sets
 * up with the listener's arg (transport_plain_init, NULL; the TLS transport, its SSL_CTX);
 * NULL if refused (limit, memory).
 */
struct conn *conn_open(struct conn_pool *p, int fd, unsigned listener, transport_init_fn init,
                       void *arg);

/*
 * The connection speaks another protocol from now on (HTTP/2 after ALPN h2 or its preface): the
 * session area after struct conn is cleared, s->open runs, then s->data with the n bytes at p
 * already received (none: n 0). The old session must hold nothing (no request yet) and its
 * caller must return at once without touching its state.
 */
void conn_switch(struct conn *c, const struct session_ops *s, const char *p, size_t n);

/* The connection's SSL object (SSL *), or NULL on a plain socket. */
static inline void *conn_ssl(struct conn *c)
{
    return c->tr.ops->ssl ? c->tr.ops->ssl(&c->tr) : NULL;
}

/* Runs fn on every live connection (drain, resume after log backpressure). */
void conn_pool_each(struct conn_pool *p, void (*fn)(struct conn *c));

/* The same, with an argument for fn. */
void conn_pool_each_arg(struct conn_pool *p, void (*fn)(struct conn *c, void *arg), void *arg);

/* A reload: new limits and timeouts (armed timers keep when they were armed, take the new
 * duration); the output block size cannot change. */
void conn_pool_retune(struct conn_pool *p, const struct conn_pool_params *params);

/* True when some connection still has operations the kernel holds. */
bool conn_pool_in_flight(const struct conn_pool *p);

/* Closes at once: in-flight operations are cut short; freed when they complete. */
void conn_abort(struct conn *c);

/*
 * After the last response: FIN once the output is out, then close without an RST over it.
 * linger: the client may still be sending (a body not read, bytes after the last request):
 * read and drop until its FIN or lingering_timeout, so the close finds nothing unread. Without
 * it (nginx's rule: nothing unread can arrive), the receive ends with the FIN and the socket
 * closes as soon as the output is out.
 */
void conn_close_graceful(struct conn *c, bool linger);

/* Asks for sess->resume at the start of the next loop turn. */
void conn_schedule(struct conn *c);

/* Arms the connection's timer on list kind (moving it if armed elsewhere). */
void conn_timer(struct conn *c, enum conn_timer kind);

/* The list the timer is on, or -1. */
int conn_timer_kind(const struct conn *c);

void conn_timer_cancel(struct conn *c);

/* The output queue, created on first use; NULL when memory ran out. */
struct outq *conn_outq(struct conn *c) MUST_CHECK;

/* Returns the output queue's block to the pool (the queue must be empty). */
void conn_outq_release(struct conn *c);

/* Keeps c alive across an asynchronous step taken on its behalf (a handler's timer...). */
static inline void conn_hold(struct conn *c)
{
    transport_hold(&c->tr);
}

/* Ends a conn_hold; may free c (if it died meanwhile): do not touch c afterwards. */
void conn_unhold(struct conn *c);

static inline bool conn_dead(const struct conn *c)
{
    return c->flags & CONN_DEAD;
}

/* The client's address (looked up once); NULL if unknown. */
const struct sockaddr_storage *conn_peer(struct conn *c);
