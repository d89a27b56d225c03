/*
 * worker.h - one core's HTTP server: its loop, listeners, connections, file cache, log, counters.
 *
 * Nothing in a worker is shared with another worker. The only cross-thread
 * traffic: the main thread asks it to stop (worker_request_stop), the log
 * flusher tells it there is room in its ring (worker_log_space), anyone may
 * read its counters (worker_stats), and the main thread publishes a new
 * configuration (a reload) that the worker takes up between two loop turns.
 *
 * Reload: the process publishes a struct worker_gen through an atomic
 * pointer (release) and wakes the worker; at the end of its next turn the
 * worker sees the pointer change (an acquire load, the only cost per turn)
 * and switches: its settings, routes and access-log plan are the new
 * generation's from then on, so every request parsed afterwards (the next one
 * on a keep-alive connection too) is routed under it, while responses already
 * routed finish with the pointers they hold into the old one. Listening
 * sockets the new generation adds are accepted on, those it drops are
 * cancelled and their connections closed once what they have queued is out
 * (h1_retire); the file cache and its fills start afresh (root ids are per
 * configuration). The worker keeps a note of each older generation it still
 * uses (streams routed under it, fills that hold its roots, accepts not yet
 * cancelled) and publishes in gen_floor the oldest one it needs; the main
 * thread frees a generation once every worker's floor is past it. No lock:
 * the configuration a worker uses is read-only, as before.
 *
 * The thread itself (pinning, naming, the startup barrier) is the process's
 * business (app/runtime.c): it calls worker_init, worker_run and worker_fini
 * on the worker's thread.
 */
#pragma once

#include "core/base/atomic.h"
#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/accesslog.h"
#include "core/http/conn.h"
#include "core/http/counters.h"
#include "core/http/h1.h"
#include "core/http/h2.h"
#include "core/http/latency.h"
#include "core/io/loop.h"
#include "core/net/listener.h"
#include "core/net/transport.h"
#include "fs/cache.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * One listening address as the workers see it: its sockets, one per worker, and after a binary
 * upgrade to fewer workers the old process's others (nfds > nworkers). Those stay in the
 * address's SO_REUSEPORT group, which hands them their share of new connections, and closing
 * one would reset what waits in its queue: so they are accepted on too, worker k taking
 * fds[k - 1], fds[k - 1 + nworkers], ...
 */
struct worker_listen {
    int *fds;          /* the process owns and closes them */
    unsigned nfds;     /* >= nworkers */
    unsigned nworkers; /* the stride between one worker's sockets */
};


/* A configuration and its listening sockets: what a worker serves with (built by core/app). */
struct worker_gen {
    uint64_t seq;            /* 1, 2, ...: a later generation has a larger number */
    const struct conf *conf; /* finished, read-only */
    const struct worker_listen *const *listen; /* per listen group of route_table(conf) */
    unsigned nlisten;
};

struct worker_old; /* worker.c: an older generation this worker still uses */

struct worker {
    unsigned id;                  /* 1..N */
    int cpu;                      /* pinned CPU, or -1 */
    const struct worker_gen *gen; /* in force here */
    const struct conf *conf;      /* gen->conf */
    const struct http_settings *set;
    SP_ATOMIC(uintptr_t) *gen_src; /* the process's current struct worker_gen */
    SP_ATOMIC(uint64_t) gen_floor;  /* the oldest generation this worker still uses */
    struct worker_old *old;         /* those generations, oldest first */
    struct log_flusher *flusher;    /* NULL: nothing is logged */

    struct io_loop loop;
    struct transport_env tenv;
    struct accept_set accept;
    struct conn_pool conns;
    struct h1_env h1;
    struct h2_env h2;
    struct alog_worker log;
    struct fs_cache *fcache;
    struct cache_fills *fills; /* its misses in flight; NULL: loaded on the thread */
    struct worker_counters ctr;
    struct worker_latency *lat; /* its histograms (recorded when latency_histograms is on) */

    SP_ATOMIC(unsigned) stop_requested; /* times main asked us to stop */
    unsigned stops_seen;
    SP_ATOMIC(int) log_space; /* the flusher made room in our ring */
    bool draining, forced;
    uint64_t drain_deadline_ms;
    time_t published_s;               /* when the file cache's counters were last published */
    struct fs_cache_stats cache_base; /* counters of the caches earlier generations used */
    bool switch_failed;               /* out of memory for a switch: said once, tried again */
    char init_err[256];
};

/*
 * Main thread, before the thread starts: the wake-up fd and the log ring, serving gen (and
 * later whatever *gen_src points to). 0, or -1 + err.
 */
int worker_prepare(struct worker *w, unsigned id, int cpu, const struct worker_gen *gen,
                   SP_ATOMIC(uintptr_t) *gen_src, struct log_flusher *flusher, char *err,
                   size_t errlen) MUST_CHECK;

/* Worker thread: ring, pools, cache, accepting armed. 0, or -errno with w->init_err set. */
int worker_init(struct worker *w) MUST_CHECK;

/* Worker thread: serves until a stop drained every connection. */
void worker_run(struct worker *w);

/* Worker thread: frees what worker_init made (the log hands unwritten lines to the flusher). */
void worker_fini(struct worker *w);

/* Main thread, after the flusher stopped: frees what worker_prepare made. */
void worker_unprepare(struct worker *w);

/* Any thread: wake the worker (a new generation was published). */
void worker_wake(struct worker *w);

/* Any thread: the oldest generation the worker still uses (acquire: what it used is done). */
uint64_t worker_gen_floor(const struct worker *w);

/* Any thread: drain and stop (a second call cuts the drain short). */
void worker_request_stop(struct worker *w);

/* Flusher thread: ring i (worker i + 1) has room. arg: the array of workers. */
void worker_log_space(void *arg, unsigned ring);

/* Any thread: a copy of the worker's counters. */
void worker_stats(const struct worker *w, struct worker_stats *out);
