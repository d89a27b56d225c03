/*
 * flusher.h - the one thread that moves log lines from the workers' rings to files.
 *
 * Each worker owns one log_ring (single producer); the flusher (single
 * consumer) drains them all and writes each run of records bound for the
 * same file with one writev. It wakes when a worker signals that its ring is
 * filling up, and at least every 100 ms, so lines reach the disk in large
 * batches and never wait long. A worker never waits for the flusher: when a
 * ring is full the worker keeps its lines itself and stops reading new
 * requests (see core/http/accesslog.h), and the flusher tells it when there is room.
 *
 * Nothing is dropped: a failed write is retried (once a second) and reported
 * on stderr; on shutdown every line is written before log_flusher_stop()
 * returns. SIGUSR1 (log_flusher_reopen) reopens every file after writing what
 * is pending, so logrotate's rename-then-signal loses nothing.
 */
#pragma once

#include "core/base/compiler.h"
#include "log/ring.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* A line a worker could not put in its ring (kept in order until there is room). */
struct log_line {
    struct log_line *next;
    uint32_t len;
    uint16_t type, sink;
    char data[];
};

struct log_sink {
    char *path; /* NULL: stderr */
    int fd;
};

/* Called by the flusher when ring i has room again after its producer asked for it. */
typedef void (*log_space_fn)(void *arg, unsigned ring);

struct log_flusher {
    pthread_t thread;
    bool running;
    struct log_ring **rings;
    unsigned nrings;
    struct log_sink *sinks; /* access-log files; index = record sink */
    unsigned nsinks;
    int error_fd_sink; /* -1: error records go to errlog_fd() */
    int wake_fd;       /* eventfd: producers ask for an early drain */
    _Atomic int reopen;
    _Atomic int stop;
    log_space_fn space_cb;
    void *space_arg;
    /* lines handed over by exiting workers, written after their rings */
    struct log_line *leftover;
    pthread_mutex_t leftover_mu; /* only used at worker exit, never on the request path */
    /* counters (flusher thread) */
    _Atomic uint64_t lines, bytes, batches, write_errors;
};

/* Opens the sinks; paths[i] NULL means stderr. 0, or -errno with the failing path in *bad. */
int log_flusher_init(struct log_flusher *f, const char *const *paths, unsigned npaths,
                     const char **bad) MUST_CHECK;

/* Starts the thread over nrings rings. 0 or -errno. */
int log_flusher_start(struct log_flusher *f, struct log_ring **rings, unsigned nrings,
                      log_space_fn cb, void *arg) MUST_CHECK;

/* Producer side (any worker): ask for an early drain. Lock-free; at most one eventfd write
 * per drain. */
void log_flusher_kick(struct log_flusher *f);

/* Asks for every file to be reopened after what is pending has been written (SIGUSR1). */
void log_flusher_reopen(struct log_flusher *f);

/* A worker's lines still not in its ring at exit: the flusher writes them after the ring. */
void log_flusher_hand_over(struct log_flusher *f, struct log_line *lines);

/* Producer side, once per loop turn in which it committed records: wakes an idle flusher. */
void log_flusher_nudge(struct log_flusher *f);

/* Writes everything within timeout_ms, stops the thread, closes the files.
 * 0, or -ETIMEDOUT when the thread could not finish (then nothing of f may be freed). */
int log_flusher_stop(struct log_flusher *f, unsigned timeout_ms);
