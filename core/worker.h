/*
 * worker.h - one worker: a thread pinned to a CPU with its own io_uring,
 * its own SO_REUSEPORT listeners, connections, pools, timers and file cache.
 *
 * Nothing in a worker is shared with another worker; the only cross-thread
 * traffic is the main thread writing the worker's eventfd (shutdown) and
 * reading its counters after it has exited. The configuration is read-only.
 */
#pragma once

#include "core/accesslog.h"
#include "core/base/arena.h"
#include "core/config.h"
#include "core/timer.h"
#include "core/uring.h"
#include "fs/cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct conn;
struct runtime;

/* Per-worker counters, readable by main after the worker exits. */
struct worker_stats {
    uint64_t accepted, refused, closed;
    uint64_t requests, responses;
    uint64_t bytes_in, bytes_out;
    uint64_t enobufs, accept_errors, timeouts;
};

enum timer_kind {
    TK_HEADER, /* request head must complete */
    TK_BODY,   /* body bytes must keep coming */
    TK_IDLE,   /* keep-alive idle */
    TK_SEND,   /* client must keep reading */
    TK_LINGER, /* waiting for the client's FIN after ours */
    TK__COUNT
};

/* Fixed-size blocks for output queues (a per-worker free list, no locks). */
struct block_pool {
    void *free_list;
    uint32_t nfree, max_free, size;
};

struct worker {
    unsigned id;
    int cpu; /* pinned CPU, or -1 */
    pthread_t thread;
    const struct cfg *cfg;
    struct runtime *rt;

    struct io_uring ring;
    const char *ring_mode;
    struct io_bufring bufs;

    /* listeners: one fd per listen group (runtime.h) */
    int *lfds;
    unsigned nlisten;
    bool *accept_armed;
    bool accept_paused; /* after EMFILE/ENFILE */
    bool accept_warned; /* the error log heard about this episode */
    uint64_t accept_resume_ms;

    /* connections: slots indexed by user_data idx */
    struct conn **slots;
    uint32_t nslots, slots_cap;
    uint32_t free_head; /* first free slot index, or UINT32_MAX */
    uint32_t nconns;    /* live connections */
    uint64_t next_conn_id;
    uint64_t boundary_seq; /* multipart/byteranges boundaries */
    uint32_t cold_buffers; /* connections holding a bounce buffer (cold file reads) */
    bool cachestat_ok;     /* the kernel has cachestat(2) */

    struct conn *ready; /* connections with work to resume this turn */
    struct conn *rearm; /* connections whose recv must be re-armed */

    struct arena_pool arena_pool;
    struct block_pool out_pool;

    struct timer_list timers[TK__COUNT];

    struct fs_cache *fcache;

    uint64_t now_ms;   /* CLOCK_MONOTONIC_COARSE, refreshed each loop turn */
    uint64_t now_us;   /* CLOCK_MONOTONIC, for request durations (when logging) */
    uint64_t epoch_ms; /* CLOCK_REALTIME (when logging) */
    time_t date_sec;
    char date_line[64]; /* "Server: spate\r\nDate: ...\r\n" */
    uint32_t date_line_len;

    int wake_fd; /* eventfd: main asks for shutdown, the log flusher reports room */
    _Atomic unsigned stop_requested; /* times main asked us to stop */
    unsigned stops_seen;
    _Atomic int log_space;
    struct worker_log log;
    uint64_t wake_buf;
    bool draining;
    uint64_t drain_deadline_ms;

    bool logging; /* an access log or the log flusher is in use */
    int init_rc;  /* set before the startup barrier */
    char init_err[256];

    struct worker_stats stats;
};

/* Thread entry point; arg is the struct worker. */
void *worker_main(void *arg);

/* Asks the worker to drain and stop (any thread). */
void worker_request_stop(struct worker *w);

/* Block pool helpers (owning worker only). */
void *block_get(struct block_pool *p);
void block_put(struct block_pool *p, void *b);
