/*
 * transport.h - how a connection's bytes move: the socket under it, behind a table of operations.
 *
 * The protocol above (the HTTP/1 session) never touches the socket: it reads
 * through the events a transport raises (data, eof, error) and writes by
 * filling the connection's output queue (net/outq.h) and calling flush. The
 * transport reports progress (sent) and an empty queue (drained). Today there
 * is one transport, the plain socket (net/plain.c: multishot receive into the
 * loop's provided buffers, send/sendmsg of memory, sendfile of file ranges
 * with cold reads through io_uring); TLS (net/tls.c) is another table over the
 * same socket state, with its own state behind `priv`. Which kind a connection
 * gets is the listener's choice (conn_open's init and arg).
 *
 * Lifetime: `pending` counts the transport's operations in flight plus the
 * guards the connection holds while it runs a callback. The owner frees the
 * transport only when pending is 0 (io_uring may still write into anything an
 * operation points at). abort() cuts everything short; the operations then
 * complete and the owner frees on the last one.
 *
 * Events are raised only from the loop's completions and deferred work, never
 * from inside an operation the owner called, except drained(), which flush()
 * may raise at once when there is nothing to send.
 *
 * Single-threaded: the owning worker only.
 */
#pragma once

#include "core/base/atomic.h"
#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/io/loop.h"
#include "core/net/outq.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct transport;

/* Upcalls into the connection that owns the transport. */
struct transport_events {
    /* n received bytes at p, valid during the call only */
    void (*data)(struct transport *t, const char *p, size_t n);
    /* the peer shut down its side: no more data */
    void (*eof)(struct transport *t);
    /* the connection is broken (reset, failed send): the owner aborts it */
    void (*error)(struct transport *t, int err);
    /* n more queued bytes were handed to the kernel */
    void (*sent)(struct transport *t, uint64_t n);
    /* the output queue is empty and no send is in flight */
    void (*drained)(struct transport *t);
    /* the transport was aborted and its last operation ended: the owner may free it */
    void (*release)(struct transport *t);
    /* TLS: the handshake completed (once, before the first data event); alpn() is known */
    void (*secured)(struct transport *t);
};

struct transport_ops {
    const char *name;
    /* deliver data events (re-arms the receive at the end of the turn if needed) */
    void (*read_start)(struct transport *t);
    /* stop asking for data; bytes already on their way may still arrive */
    void (*read_stop)(struct transport *t);
    /* start sending what the output queue holds (no-op while a send is in flight) */
    void (*flush)(struct transport *t);
    /*
     * Our side is done: FIN once the bytes queued by then are out (with the last of them, in
     * one segment, where the socket allows). With reading_too, the receive ends as well (an
     * eof event follows), for when nothing more is wanted from the peer.
     */
    void (*shutdown)(struct transport *t, bool reading_too);
    /* close now: in-flight operations are cancelled and complete early */
    void (*abort)(struct transport *t);
    /* the peer's address; 0 or -errno */
    int (*peer)(struct transport *t, struct sockaddr_storage *ss);
    /* releases what the transport holds once nothing is in flight (closes the socket) */
    void (*close)(struct transport *t);
    /* optional (NULL on plain sockets): the protocol ALPN chose (SLICE_NULL: none), and the
     * connection's SSL object (for $ssl_* variables and client certificates) */
    struct slice (*alpn)(struct transport *t);
    void *(*ssl)(struct transport *t);
};

/* Per-worker transport settings and state (shared by every connection of the worker). */
struct transport_env {
    struct io_loop *loop;
    uint32_t sendfile_chunk; /* bytes per connection per turn (sendfile_max_chunk) */
    bool use_sendfile;       /* off: every file range is read and sent */
    bool cold_reads;         /* ask cachestat before sendfile; read uncached ranges */
    bool cachestat_ok;       /* the kernel has cachestat(2) */
    uint32_t cold_buffers;   /* connections holding a bounce buffer now */
    /* counters, written by the worker only, read by anyone (relaxed atomics) */
    SP_ATOMIC(uint64_t) enobufs; /* receives that found the buffer ring empty */
    SP_ATOMIC(uint64_t) reads;   /* file ranges read and sent (not cached, or sendfile off) */
    /* TLS (net/tls.c): the worker's buffers, made on its first TLS connection (tls_env_fini
     * frees them); handshakes completed, failed, resumed; connections whose keys went to the
     * kernel (kernel TLS), those encrypted in user space, and of those the ones whose records
     * the transport seals itself (tls_seal.c) */
    struct tls_worker *tls;
    SP_ATOMIC(uint64_t) tls_handshakes, tls_failed, tls_resumed;
    SP_ATOMIC(uint64_t) tls_ktls, tls_user, tls_sealed;
};

enum transport_flag {
    TR_RECV = 1u << 0,    /* a multishot receive is armed */
    TR_READING = 1u << 1, /* data events are wanted */
    TR_SENDING = 1u << 2, /* a send, poll or read for sending is in flight */
    TR_CLOSED = 1u << 3,  /* aborted: nothing new is started */
    TR_FIN = 1u << 4,     /* shutdown asked for: FIN after the queue */
    TR_FIN_RD = 1u << 5,  /* ... and the receive ends too */
    TR_FIN_OUT = 1u << 6, /* the shutdown is in flight or done */
    TR_IN_SEND = 1u << 7, /* inside a synchronous sendfile loop: flush() waits for its end */
};

struct transport {
    const struct transport_ops *ops;
    const struct transport_events *ev;
    struct transport_env *env;
    struct outq *out; /* what to send; created and freed by the owner */
    int fd;
    uint16_t pending; /* operations in flight + guards */
    uint16_t flags;   /* enum transport_flag */
    uint64_t id;      /* the owner's connection number, for log messages */
    void *priv;       /* the kind's own state (TLS), or NULL */
    struct io_op recv_op, send_op, poll_op, read_op, shut_op;
    struct io_defer rearm;  /* re-arm the receive at the end of the turn */
    struct io_defer resume; /* go on sending next turn (sendfile_max_chunk spent) */
    char *bounce; /* file bytes read for sending (not in the page cache, or sendfile off) */
    /* the file range last found in the page cache (plain.c: known_cached) */
    const void *warm_ref;
    uint64_t warm_end, warm_to;
};

/* True while the transport may still be called back: the owner must not free it. */
static inline bool transport_busy(const struct transport *t)
{
    return t->pending || t->rearm.queued || t->resume.queued;
}

/* Counts the owner's own callback as in flight, so no event frees it meanwhile. */
static inline void transport_hold(struct transport *t)
{
    t->pending++;
}

static inline void transport_unhold(struct transport *t)
{
    t->pending--;
}

/*
 * Sets up t over the connected socket fd (the owner then calls read_start): one per kind. arg
 * is the listener's (NULL for plain sockets, its default SSL_CTX for TLS).
 */
typedef void (*transport_init_fn)(struct transport *t, int fd, struct transport_env *env,
                                  const struct transport_events *ev, void *arg);
