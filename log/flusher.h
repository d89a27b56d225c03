/*
 * flusher.h - the one thread that moves log lines from the workers' rings to files.
 *
 * Each worker owns one log_ring (single producer); the flusher (single
 * consumer, a thread named "spate-log") drains them all and writes each run
 * of records bound for the same sink with one writev. A worker never waits
 * for the flusher: when a ring is full the worker keeps its lines itself
 * (a bounded overflow, then a bounded wait, then counted drops: see
 * core/http/accesslog.h), and the flusher tells it when there is room.
 *
 * The contract, so that the log can never hang the server:
 *
 *  - The thread never blocks indefinitely. Pipes, FIFOs, sockets and
 *    terminals are written without blocking (through a description of the
 *    flusher's own, so an inherited fd 1 or 2 is never switched to
 *    O_NONBLOCK), and every wait is a poll() of at most 100 ms while anything
 *    is pending. Regular files are written as usual: a full disk or an I/O
 *    error comes back at once.
 *  - Nothing is lost while the process lives. A line that a sink does not
 *    take (error, EAGAIN, short write) stays in the ring, or is copied into
 *    that sink's bounded backlog so that the records of other sinks behind it
 *    keep flowing; writing continues exactly where it stopped (never a byte
 *    twice, never a gap). Failed sinks are retried with a backoff from 50 ms
 *    to 1 s; on a write error a sink opened from a path is reopened first
 *    (O_APPEND, same fd number), so writing resumes by itself once space is
 *    freed or the file is replaced.
 *  - Ordering: lines of one sink keep the order of each ring. When a sink's
 *    backlog is full, the ring holding its next line is held at that line,
 *    and the lines behind it in that ring (any sink, error-log lines
 *    included) wait too; other rings keep flowing. See docs/logging.md.
 *  - Failures are reported in the error log: the first failure of a sink (at
 *    level error, with its path and the errno text), then at most one line a
 *    second while it keeps failing, and one line when it recovers.
 *  - Idle costs nothing: with every ring empty and no retry pending the
 *    thread sleeps without a timeout, and producers wake it with
 *    log_flusher_nudge(). While lines are flowing it batches them: it drains
 *    every 100 ms, or at once when a producer kicks it (a ring a quarter
 *    full: want_flush).
 *  - Stopping is bounded: log_flusher_stop() gives up after its timeout.
 *
 * Threads: init, start, reopen, hand_over and stop are for the main thread
 * (hand_over: an exiting worker); kick and nudge for producers; stats from
 * any thread between start and stop.
 */
#pragma once

#include "core/base/compiler.h"
#include "log/flusher_types.h"
#include "log/ring.h"

#include <stdint.h>

/* struct log_flusher (callers read rings, nrings, nsinks and abandoned), struct log_line and
 * log_space_fn are defined in log/flusher_types.h. */

/* Sink index of the error log, for log_flusher_sink_stats(). */
#define LOG_FLUSHER_ERRLOG (-1)

/* A consistent-enough copy of the counters (each field is read atomically on its own). */
struct log_flusher_stats {
    uint64_t lines, bytes;    /* written, all sinks (a line counts once its last byte is out) */
    uint64_t batches;         /* write calls that wrote something */
    uint64_t write_errors;    /* write calls that failed (EAGAIN excluded) */
    uint64_t wakeups;         /* times the thread woke up (idle must not add to it) */
    uint64_t backlog_bytes;   /* copied aside for failing or slow sinks, not yet written */
    uint64_t reports_dropped; /* the flusher's own error-log lines that found no room */
    uint64_t unwritten_lines, unwritten_bytes; /* given up at stop (0 unless it timed out) */
    unsigned failing_sinks;                    /* sinks (error log included) failing right now */
};

/* One sink's state. */
struct log_sink_stats {
    int failing;             /* 0, or the errno it fails with (EAGAIN: not read for 1 s+) */
    uint64_t failing_for_ms; /* how long it has been failing */
    uint64_t backlog_bytes;  /* waiting in its backlog */
    uint64_t lines, bytes;   /* written to it */
    uint64_t errors;         /* failed write calls */
};

/* Opens the sinks; paths[i] NULL or "stderr": stderr, "stdout": stdout. A FIFO is opened
 * blocking here (startup waits for its reader). 0, or -errno with the failing path in *bad. */
int log_flusher_init(struct log_flusher *f, const char *const *paths, unsigned npaths,
                     const char **bad) MUST_CHECK;

/*
 * Starts the thread over nrings rings (the caller keeps owning them) and takes
 * errlog_fd() as the error log's sink. cb is called on the flusher thread when
 * a ring whose want_space was set has room again. 0 or -errno.
 */
int log_flusher_start(struct log_flusher *f, struct log_ring **rings, unsigned nrings,
                      log_space_fn cb, void *arg) MUST_CHECK;

/* Producer side (any worker): wake the flusher now (one eventfd write). */
void log_flusher_kick(struct log_flusher *f);

/*
 * Producer side: call once per event-loop turn in which records were
 * committed. Wakes the flusher if it sleeps without a timeout; when it is
 * awake this is one fence and one atomic load.
 */
void log_flusher_nudge(struct log_flusher *f);

/* Asks for every file to be reopened after what is pending has been written (SIGUSR1). */
void log_flusher_reopen(struct log_flusher *f);

/* A worker's lines still not in its ring at exit: the flusher writes them after the rings. */
void log_flusher_hand_over(struct log_flusher *f, struct log_line *lines);

/*
 * Writes what it can within timeout_ms, stops the thread, closes the files.
 * Call it after the producers stopped. Returns 0 when every line was written,
 * or -ETIMEDOUT: the lines left are counted (stats) and reported in the error
 * log. If the thread did not even exit (stopped by a debugger, stuck in the
 * kernel), f->abandoned is set and nothing was freed: f and the rings must
 * stay untouched (exit the process, or call stop again later; a stop that
 * joins the thread clears it). Safe on a flusher that never started.
 */
int log_flusher_stop(struct log_flusher *f, unsigned timeout_ms);

/* log_flusher_stop, and hurry(arg) is asked every 10 ms or so while it waits: true means stop
 * waiting (a second signal), after giving the thread a last moment to count what is left. */
int log_flusher_stop_hurried(struct log_flusher *f, unsigned timeout_ms, bool (*hurry)(void *arg),
                             void *arg);

/* Copies the counters; any thread, between start and stop. */
void log_flusher_stats(const struct log_flusher *f, struct log_flusher_stats *out);

/* One sink (0..nsinks-1, or LOG_FLUSHER_ERRLOG); 0 or -EINVAL. Same threads as stats. */
int log_flusher_sink_stats(const struct log_flusher *f, int sink, struct log_sink_stats *out);
