/*
 * sink.h - one log destination as the flusher writes it. Private to log/ (flusher.c,
 * flusher_thread.c, sink.c).
 *
 * A sink knows how to write to its file without ever blocking (see log_sink_setup), keeps its
 * failure state (error and backoff, or waiting for POLLOUT), and reports its failures in the
 * error log. Its backlog fields are managed by flusher_thread.c. Everything here runs on the
 * flusher thread, except log_now_ms, and log_sink_open and log_sink_setup, which flusher.c calls
 * before the thread starts.
 */
#pragma once

#include "core/base/atomic.h"
#include "log/flusher_types.h"
#include "log/ring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum log_sink_kind {
    LOG_SK_FILE,     /* regular file or a device that does not block: plain writev */
    LOG_SK_NONBLOCK, /* pipe, FIFO, terminal: writev on a description of ours with O_NONBLOCK */
    LOG_SK_SOCKET,   /* sendmsg with MSG_DONTWAIT: the shared description is left as it is */
    LOG_SK_GUARDED,  /* pipe or terminal we could not reopen: poll first, write at most PIPE_BUF */
};

/* A sequence of records consumed in order: a worker's ring, or a sink's backlog. */
struct log_src {
    struct log_ring *ring;
    uint32_t skip; /* bytes of the oldest (non-pad) record already written */
};

/* One destination: an access log, or the error log (the last one). Flusher thread only, except
 * the a_* fields, which other threads read for log_flusher_sink_stats(). */
struct log_sink {
    const char *name; /* for messages */
    char *path;       /* reopened after write errors; NULL: not ours to reopen */
    int fd;           /* the number others know; a reopen dup2s onto it */
    int wfd;          /* what we write to: fd, or a description of our own */
    bool own_fd, own_wfd, is_errlog;
    enum log_sink_kind kind;
    struct log_sink *alias; /* the same file as an earlier sink: its lines go there */
    bool have_id;           /* dev and ino are known */
    dev_t dev;
    ino_t ino;
    /* backlog: lines copied out of the rings while the sink does not take them */
    struct log_ring bl;
    struct log_src bls;
    bool bl_ready, bl_failed;
    uint64_t bl_recs, bl_bytes; /* records with bytes left, and those bytes */
    const void *owner;          /* a source holding a partly written line of ours, or NULL */
    unsigned held;              /* rings stopped at one of our records in this pass */
    /* failure state */
    int err;                /* errno of the last failed attempt, 0: fine */
    bool reopen_due;        /* reopen the path before the next attempt */
    bool wait_out;          /* EAGAIN or a short write: poll for POLLOUT first */
    uint64_t wait_since_ms; /* no progress since (while wait_out), 0: none */
    uint64_t retry_at_ms;
    unsigned backoff_ms;
    uint64_t fail_since_ms, report_at_ms;
    bool reported; /* this failure was reported: its end will be too */
    /* for other threads */
    SP_ATOMIC(int) a_failing;
    SP_ATOMIC(uint64_t) a_since_ms, a_backlog, a_lines, a_bytes, a_errors;
};

/* CLOCK_MONOTONIC in ms. */
uint64_t log_now_ms(void);

/* Opens path for appending (plus `extra` open flags). An fd, or -errno. */
int log_sink_open(const char *path, int extra);

/* With s->fd set: picks how to write it without blocking (s->kind, s->wfd), records its
 * device and inode. Never sets O_NONBLOCK on a description the sink does not own. */
void log_sink_setup(struct log_sink *s);

/* Reopens s's path onto the same fd number (after a write error, or for SIGUSR1); for the
 * error log, errlog_reopen(). No-op for stdout/stderr. 0 or -errno. */
int log_sink_reopen(struct log_sink *s);

/*
 * One attempt to write iov[0..n) (total bytes; the array is consumed) to s. Returns the
 * bytes written; an error, EAGAIN or a short write is recorded in s (backoff, or wait_out)
 * and in f's counters, and ends the attempt. A regular file is written until done or an
 * error. Reopens the path first when the last attempt failed.
 */
size_t log_sink_write(struct log_flusher *f, struct log_sink *s, struct iovec *iov, int n,
                      size_t total, uint64_t now);

/* Not waiting for POLLOUT, and not in error backoff. */
bool log_sink_can_write(const struct log_sink *s, uint64_t now);

/* The first failure, once a second while it lasts, and its end, in the error log; then
 * publishes the a_* fields. Call once per pass, after its writes. */
void log_sink_report(struct log_sink *s, uint64_t now);
