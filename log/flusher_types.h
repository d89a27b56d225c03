/*
 * flusher_types.h - the flusher's shared types: struct log_flusher, the lines
 * workers hand over (struct log_line) and the space callback. Types only.
 *
 * Callers outside log/ include log/flusher.h, which includes this and
 * declares the functions. flusher_thread.c and the headers flusher.c
 * depends on (log/sink.h, log/flusher_priv.h) include this instead of
 * flusher.h: they need the struct, and an include of flusher.h from any of
 * them would be a loop back to flusher.c.
 */
#pragma once

#include "core/base/atomic.h"
#include "log/ring.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* A line a worker could not put in its ring (kept in order until there is room). */
struct log_line {
    struct log_line *next;
    uint32_t len;
    uint16_t type, sink;
    char data[];
};

/* Called by the flusher when ring i has room again after its producer asked for it. */
typedef void (*log_space_fn)(void *arg, unsigned ring);

struct log_flusher_priv; /* flusher_priv.h: sinks, backlogs, per-ring state */

struct log_flusher {
    /* set by start, read-only afterwards (callers free the rings after stop) */
    struct log_ring **rings;
    unsigned nrings;
    unsigned nsinks; /* access sinks; records carry an index below this */
    /*
     * Set by stop() when the thread did not exit in time: it still owns this
     * struct, the rings and its files, so none of them may be freed; the
     * caller is expected to exit the process.
     */
    bool abandoned;

    /* ---- private to log/: flusher.c, flusher_thread.c, sink.c (two counters) ---- */
    SP_ATOMIC(int) idle; /* the thread sleeps without a timeout: nudge must kick */
    int wake_fd;         /* eventfd */
    SP_ATOMIC(int) reopen;
    SP_ATOMIC(int) stop;
    SP_ATOMIC(uint64_t) giveup_ms; /* monotonic ms at which a stopping thread gives up */
    pthread_t thread;
    bool running;
    log_space_fn space_cb;
    void *space_arg;
    struct log_line *leftover;   /* handed over by exiting workers, written after the rings */
    pthread_mutex_t leftover_mu; /* only used at worker exit, never on the request path */
    struct log_flusher_priv *p;
    /* counters, written by the flusher thread: read them with log_flusher_stats() */
    SP_ATOMIC(uint64_t) lines, bytes, batches, write_errors, wakeups, reports_dropped;
    SP_ATOMIC(uint64_t) unwritten_lines, unwritten_bytes;
};
