/*
 * worker.h - one core's HTTP server: its loop, listeners, connections, file cache, log, counters.
 *
 * Nothing in a worker is shared with another worker. The only cross-thread
 * traffic: the main thread asks it to stop (worker_request_stop), the log
 * flusher tells it there is room in its ring (worker_log_space), and anyone
 * may read its counters (worker_stats). The configuration is read-only.
 *
 * The thread itself (pinning, naming, the startup barrier) is the process's
 * business (app/runtime.c): it calls worker_init, worker_run and worker_fini
 * on the worker's thread.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/accesslog.h"
#include "core/http/conn.h"
#include "core/http/counters.h"
#include "core/http/h1.h"
#include "core/io/loop.h"
#include "core/net/listener.h"
#include "core/net/transport.h"
#include "fs/cache.h"

#include <stdbool.h>
#include <stdint.h>

struct worker {
    unsigned id; /* 1..N */
    int cpu;     /* pinned CPU, or -1 */
    const struct conf *conf;
    const struct http_settings *set;
    const int *lfds; /* this worker's socket of each listen group */
    unsigned nlisten;
    struct log_flusher *flusher; /* NULL: nothing is logged */

    struct io_loop loop;
    struct transport_env tenv;
    struct accept_set accept;
    struct conn_pool conns;
    struct h1_env h1;
    struct alog_worker log;
    struct fs_cache *fcache;
    struct cache_fills *fills; /* its misses in flight; NULL: loaded on the thread */
    struct worker_counters ctr;

    SP_ATOMIC(unsigned) stop_requested; /* times main asked us to stop */
    unsigned stops_seen;
    SP_ATOMIC(int) log_space; /* the flusher made room in our ring */
    bool draining, forced;
    uint64_t drain_deadline_ms;
    time_t published_s; /* when the file cache's counters were last published */
    char init_err[256];
};

/* Main thread, before the thread starts: the wake-up fd and the log ring. 0, or -1 + err. */
int worker_prepare(struct worker *w, unsigned id, int cpu, const struct conf *c, const int *lfds,
                   unsigned nlisten, struct log_flusher *flusher, char *err,
                   size_t errlen) MUST_CHECK;

/* Worker thread: ring, pools, cache, accepting armed. 0, or -errno with w->init_err set. */
int worker_init(struct worker *w) MUST_CHECK;

/* Worker thread: serves until a stop drained every connection. */
void worker_run(struct worker *w);

/* Worker thread: frees what worker_init made (the log hands unwritten lines to the flusher). */
void worker_fini(struct worker *w);

/* Main thread, after the flusher stopped: frees what worker_prepare made. */
void worker_unprepare(struct worker *w);

/* Any thread: drain and stop (a second call cuts the drain short). */
void worker_request_stop(struct worker *w);

/* Flusher thread: ring i (worker i + 1) has room. arg: the array of workers. */
void worker_log_space(void *arg, unsigned ring);

/* Any thread: a copy of the worker's counters. */
void worker_stats(const struct worker *w, struct worker_stats *out);
