/*
 * listener.h - listening sockets and the per-worker accept loop over them.
 *
 * Every configured address gets one socket per worker, each bound with
 * SO_REUSEPORT to the same address, so the kernel spreads new connections
 * over the workers with no shared accept queue. Port 0: the first socket is
 * bound to a free port and the others join that port (listen_open, main
 * thread, at startup).
 *
 * A worker accepts on its sockets with one multishot accept each. When accept
 * fails for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM)
 * the worker stops accepting for ACCEPT_PAUSE_MS, keeps serving the
 * connections it has, then tries again; one warning per episode goes to the
 * error log (an episode ends with the next successful accept).
 */
#pragma once

#include "core/base/atomic.h"
#include "core/base/compiler.h"
#include "core/io/loop.h"
#include "core/net/addr.h"

#include <stdbool.h>
#include <stdint.h>

#define ACCEPT_PAUSE_MS 100

/*
 * Opens n sockets for a (listening, SO_REUSEPORT, TCP_NODELAY inherited by
 * accepted sockets). With port 0, a's port is set to the one the kernel chose.
 * 0, or -1 with a sentence in err (the sockets opened so far are in fds, -1 after).
 */
int listen_open(struct net_addr *a, unsigned n, int *fds, char *err, size_t errlen) MUST_CHECK;

struct acceptor;

/* A worker's accepting side: one acceptor per listening socket. */
struct accept_set {
    struct io_loop *loop;
    struct acceptor *a;
    unsigned n;
    bool paused;  /* after EMFILE and friends */
    bool warned;  /* this episode was reported */
    bool stopped; /* draining: no more accepts */
    uint64_t resume_ms;
    /* a new connection on listener `index`; the callee owns fd */
    void (*on_conn)(void *arg, int fd, unsigned index);
    void *arg;
    /* counters (relaxed atomics: written here, read by anyone) */
    SP_ATOMIC(uint64_t) accepted;
    SP_ATOMIC(uint64_t) errors;
};

/* Binds the set to fds[0..n) (borrowed; closed by whoever opened them). 0 or -ENOMEM. */
int accept_set_init(struct accept_set *s, struct io_loop *l, const int *fds, unsigned n,
                    void (*on_conn)(void *arg, int fd, unsigned index), void *arg) MUST_CHECK;

void accept_set_fini(struct accept_set *s);

/* Arms every accept. */
void accept_start(struct accept_set *s);

/* Stops accepting for good (drain): armed accepts are cancelled. */
void accept_stop(struct accept_set *s);

/* When a paused set wants to be woken (UINT64_MAX: not paused). */
uint64_t accept_deadline(const struct accept_set *s);

/* Resumes a pause whose time has come (call after each loop turn). */
void accept_tick(struct accept_set *s);
