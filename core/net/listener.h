/*
 * listener.h - listening sockets and the per-worker accept loop over them.
 *
 * Every configured address gets one socket per worker, each bound with
 * SO_REUSEPORT to the same address, so the kernel spreads new connections
 * over the workers with no shared accept queue. Port 0: the first socket is
 * bound to a free port and the others join that port (listen_open, main
 * thread, at startup, and at a reload for an address it adds).
 *
 * A worker accepts on its sockets with one multishot accept each. When accept
 * fails for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM)
 * the worker stops accepting for ACCEPT_PAUSE_MS, keeps serving the
 * connections it has, then tries again; one warning per episode goes to the
 * error log (an episode ends with the next successful accept).
 *
 * Listening sockets are non-blocking (O_NONBLOCK on the open file, which a binary upgrade's
 * processes share): nothing accepts on them with a call that could wait.
 */
#pragma once

#include "core/base/atomic.h"
#include "core/base/compiler.h"
#include "core/io/loop.h"
#include "core/net/addr.h"

#include <stdbool.h>
#include <stdint.h>

#define ACCEPT_PAUSE_MS 100

#define LISTEN_BACKLOG 4096
#define LISTEN_RCVBUF (256u * 1024)

/*
 * The socket options of one listening address (nginx's listen parameters). Every option
 * except the backlog is set on the listening socket and inherited by the sockets accepted
 * from it, so none costs a system call per connection.
 */
struct listen_opts {
    uint32_t backlog;     /* listen(2) backlog (backlog=) */
    uint32_t rcvbuf;      /* SO_RCVBUF (rcvbuf=): bounds what a client can push in */
    uint32_t sndbuf;      /* SO_SNDBUF (sndbuf=); 0: the kernel's autotuning */
    uint32_t notsent_lowat; /* TCP_NOTSENT_LOWAT (notsent_lowat=); 0: the system's */
    char congestion[16];  /* TCP_CONGESTION (tcp_congestion=); "": the system default */
    uint32_t defer_s;     /* TCP_DEFER_ACCEPT seconds (deferred); 0: off */
    uint32_t fastopen;    /* TCP_FASTOPEN queue (fastopen=); 0: off */
    int8_t keepalive;     /* SO_KEEPALIVE (so_keepalive=): -1 system default, 0 off, 1 on */
    uint16_t keepidle, keepintvl, keepcnt; /* TCP_KEEP* (so_keepalive=idle:intvl:cnt); 0 */
    bool ipv6only;        /* IPV6_V6ONLY (ipv6only=), IPv6 addresses only */
};

/* The defaults: backlog 4096, rcvbuf 256k, everything else the system's. */
void listen_opts_default(struct listen_opts *o);

/*
 * Checks that TCP congestion control `name` can be set here (by trying it on a socket).
 * 0, or -1 with a sentence in msg naming the algorithms that are available.
 */
int net_congestion_check(const char *name, char *msg, size_t msglen) MUST_CHECK;

/*
 * Opens n sockets for a (listening, SO_REUSEPORT, TCP_NODELAY and the options o inherited
 * by accepted sockets). With port 0, a's port is set to the one the kernel chose.
 * 0, or -1 with a sentence in err (the sockets opened so far are in fds, -1 after).
 */
int listen_open(struct net_addr *a, const struct listen_opts *o, unsigned n, int *fds, char *err,
                size_t errlen) MUST_CHECK;

struct acceptor;

/*
 * A worker's accepting side: one acceptor per listening socket. Acceptors come and go while
 * the worker runs (a reload adds and removes addresses): a removed one is cancelled and freed
 * when its last completion arrives; a connection it accepted meanwhile is closed.
 */
struct accept_set {
    struct io_loop *loop;
    struct acceptor *list; /* live acceptors, then the removed ones still in flight */
    unsigned n;            /* live acceptors */
    unsigned removing;     /* removed, their accept not yet ended */
    bool paused;  /* after EMFILE and friends */
    bool warned;  /* this episode was reported */
    bool started; /* accept_start was called: new acceptors arm at once */
    bool stopped; /* draining: no more accepts */
    uint64_t resume_ms;
    /* a new connection on listener `index`; the callee owns fd */
    void (*on_conn)(void *arg, int fd, unsigned index);
    void *arg;
    /* counters (relaxed atomics: written here, read by anyone) */
    SP_ATOMIC(uint64_t) accepted;
    SP_ATOMIC(uint64_t) errors;
};

/* An empty set on loop l. */
void accept_set_init(struct accept_set *s, struct io_loop *l,
                     void (*on_conn)(void *arg, int fd, unsigned index), void *arg);

/* Frees every acceptor (the worker's ring is gone, or nothing is armed). */
void accept_set_fini(struct accept_set *s);

/*
 * Accepts on fd (borrowed: whoever opened it closes it, after accept_remove's acceptor is
 * gone), reporting `index` with each connection; key names the socket for accept_find.
 * Armed at once if the set is started. NULL when memory ran out.
 */
struct acceptor *accept_add(struct accept_set *s, int fd, unsigned index,
                            const void *key) MUST_CHECK;

/* The live acceptor added with key, or NULL. */
struct acceptor *accept_find(const struct accept_set *s, const void *key);

/* What its connections report from now on. */
void accept_set_index(struct acceptor *a, unsigned index);

/* Stops accepting on a's socket; a is freed once its accept has ended (s->removing counts). */
void accept_remove(struct accept_set *s, struct acceptor *a);

/* Arms every accept. */
void accept_start(struct accept_set *s);

/*
 * Stops accepting for good (drain): armed accepts are cancelled. Once each has ended, what
 * waits in its socket's queue is accepted without waiting and handed to on_conn like any
 * connection (a cancelled accept may have spent the kernel's wake-up for it, see sweep() in
 * listener.c). Only the first call counts.
 */
void accept_stop(struct accept_set *s);

/* When a paused set wants to be woken (UINT64_MAX: not paused). */
uint64_t accept_deadline(const struct accept_set *s);

/* After accept_stop: true once no accept is in flight any more, so none can complete with a
 * connection that nobody would serve (a draining worker waits for this before it exits). */
bool accept_quiet(const struct accept_set *s);

/* Resumes a pause whose time has come (call after each loop turn). */
void accept_tick(struct accept_set *s);
