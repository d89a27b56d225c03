/*
 * flusher_priv.h - the flusher's private state, shared by flusher.c (setting it up,
 * stopping it, reading its counters) and flusher_thread.c (the thread). Types only.
 * Private to log/.
 */
#pragma once

#include "log/flusher_types.h"
#include "log/sink.h"

#include <poll.h>
#include <stdint.h>
#include <sys/uio.h>

#define MAX_IOV 512
#define STOP_GRACE_MS 100 /* the thread gives up this much before stop()'s deadline */
/* Record type used in backlogs only: the flusher's own error-log line. It is not a producer's
 * line, so the lines/bytes/unwritten counters leave it out. */
#define REC_SELF 3

/* One run of records for one sink, as built for a writev. */
struct batch {
    int n;
    size_t total;
    uint64_t lines; /* producers' lines among those written in full (set by account) */
    struct iovec iov[MAX_IOV];
    const struct log_rec *rec[MAX_IOV];
};

struct log_flusher_priv {
    struct log_sink *sinks; /* nsinks access sinks, then the error log */
    unsigned nall;
    struct log_src *srcs; /* one per ring */
    struct pollfd *pfd;   /* wake_fd, then sinks waiting for POLLOUT */
    struct log_sink **pfd_sink;
    struct log_line *left; /* leftover lines being written; left_skip bytes of the first done */
    uint32_t left_skip;
    unsigned held_rings; /* rings that stopped at a record in the last pass */
    uint64_t bl_total;   /* bytes in all backlogs */
    uint64_t bl_lines;   /* producers' lines in all backlogs (not the flusher's reports) */
    struct batch b;
};
