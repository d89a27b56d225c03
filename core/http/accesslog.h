/*
 * accesslog.h - transaction logging: the flusher, each worker's side (the access_log directives
 * and the plan they make: accesslog_conf.h).
 *
 * A session renders each response's line in two phases (log/format.h):
 * phase 1 when the response is queued, into a capture the session keeps with
 * the response; phase 2 when its last byte went out (or its connection died),
 * straight into the worker's log ring. The flusher thread drains every ring.
 * Exactly one line per response.
 *
 * When the ring is full, lines spill to a per-worker overflow list, in order.
 * Past access_log_buffer bytes of overflow the worker stops taking new
 * requests (alog_waiting) for at most access_log_wait; if the writer has not
 * caught up by then, requests go on and lines that find no room are dropped,
 * counted, and reported: in the error log by the main thread at most once a
 * second, and as one summary line in the access log itself once the writer
 * recovers. A stalled or failing log therefore costs requests at most
 * access_log_wait, never a hang, and every lost line is accounted for.
 *
 * Worker functions run on the owning worker thread; alog_setup_* on the main
 * thread. The flusher's "ring i has room" callback is the worker's to deliver
 * (http/worker.c wakes worker i, whose wake-up calls alog_on_space).
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/accesslog_conf.h"
#include "core/http/counters.h"
#include "core/io/loop.h"
#include "log/flusher.h"
#include "log/format.h"
#include "log/ring.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* ---- the process (main thread) ---- */

struct alog_setup {
    struct log_flusher flusher;
    bool ready;
};

/* Opens the sinks. 0, or -1 with a sentence in err. */
int alog_setup_open(struct alog_setup *s, const struct alog_plan *p, char *err,
                    size_t errlen) MUST_CHECK;

/* Starts the flusher over the workers' rings (cb(arg, i): ring i has room). 0 or -1 + err. */
int alog_setup_start(struct alog_setup *s, struct log_ring **rings, unsigned n, log_space_fn cb,
                     void *arg, char *err, size_t errlen) MUST_CHECK;

/* SIGUSR1: reopen every log file. */
void alog_reopen(struct alog_setup *s);

/* After the workers exited: writes what it can within timeout_ms (or until hurry(arg), which
 * may be NULL, says to stop waiting), stops the flusher.
 * 0, or -ETIMEDOUT when lines were left unwritten (they are reported). */
int alog_setup_stop(struct alog_setup *s, unsigned timeout_ms, bool (*hurry)(void *arg), void *arg);

/* ---- a worker ---- */

struct alog_worker {
    struct log_ring ring;
    const struct alog_plan *plan;
    struct log_flusher *flusher; /* NULL: no flusher (nothing is logged) */
    struct io_loop *loop;
    struct worker_counters *ctr;
    unsigned worker;
    /* lines waiting for room in the ring, in order */
    struct log_line *ovf_head, *ovf_tail;
    uint64_t ovf_bytes;
    bool waiting;        /* requests are held back until room or wait_until */
    bool dropping;       /* waited long enough: lines that find no room are dropped */
    uint64_t wait_until; /* monotonic ms */
    uint64_t *dropped;   /* per sink, this episode */
    uint64_t dropped_errors;
    time_t drop_since;
    bool committed; /* records were committed this loop turn */
    /* held-back sessions are resumed through this (the worker walks its connections) */
    void (*resume)(void *arg);
    void *resume_arg;
    /* per-second time strings */
    time_t fmt_sec;
    char time_local[32];   /* 26/Nov/2026:01:44:04 +0000 */
    char time_iso8601[32]; /* 2026-11-26T01:44:04+00:00 */
    char time_utc[32];     /* 2026-11-26T01:44:04.000Z (ms patched per line) */
};

/* Sets up the worker's ring (from the setup thread, before the worker starts). 0 or -ENOMEM. */
int alog_worker_prepare(struct alog_worker *a, const struct alog_plan *p) MUST_CHECK;

/* On the worker thread: binds the loop and counters, routes the thread's errlog() lines. */
void alog_worker_start(struct alog_worker *a, struct log_flusher *f, struct io_loop *loop,
                       struct worker_counters *ctr, unsigned worker, void (*resume)(void *arg),
                       void *arg);

/* On the worker thread, a reload: lines of requests queued from now on follow plan p (adopted:
 * the same sinks); lines already captured keep the sink they were captured for. */
void alog_worker_replan(struct alog_worker *a, const struct alog_plan *p);

/* On the worker thread, at exit: hands unwritten lines to the flusher. */
void alog_worker_stop(struct alog_worker *a);

/* After the flusher has stopped: frees the ring. */
void alog_worker_free(struct alog_worker *a);

/* True while sessions must not start new requests (the log is catching up). */
static inline bool alog_waiting(const struct alog_worker *a)
{
    return a->waiting;
}

/* Is server s logged at all? */
static inline bool alog_enabled(const struct alog_worker *a, unsigned server)
{
    return a->flusher && server < a->plan->nservers && a->plan->servers[server].sink >= 0;
}

/* Once per loop turn: time strings, the end of a wait, the flusher's nudge. */
void alog_turn(struct alog_worker *a);

/* When the worker must wake for the end of a wait (UINT64_MAX: none). */
uint64_t alog_deadline(const struct alog_worker *a);

/* The flusher made room (delivered on the worker's thread by its wake-up). */
void alog_on_space(struct alog_worker *a);

/* Phase 1: an upper bound of the capture for ri, then the capture itself (its length). */
size_t alog_capture_need(const struct alog_worker *a, unsigned server,
                         const struct log_req_info *ri);
size_t alog_capture(const struct alog_worker *a, unsigned server, const struct log_req_info *ri,
                    char *dst, size_t cap);

/* Phase 2: the response is done (sent bytes in all, of which the head took head_len). */
void alog_done(struct alog_worker *a, unsigned server, const char *capture, size_t caplen,
               uint64_t sent, uint64_t head_len, uint64_t t_start_us);

/* The answers of a connection's lookups (hostname_lookups, ident), NULL where none came. */
struct alog_ident {
    const char *host, *user;
};

/* alog_done with the lookups' answers for the identity fields. */
void alog_done_ident(struct alog_worker *a, const char *capture, size_t caplen, uint64_t sent,
                     uint64_t head_len, uint64_t t_start_us, const struct alog_ident *id);

/*
 * A line whose response is done while its connection's lookups are still out: phase 2 is
 * taken now (times, bytes), the identity fields when the answers come (core/http/client_id.c).
 */
struct alog_held {
    struct alog_held *next;
    struct log_done_info di;
    char time_local[32], time_iso8601[32], time_utc[32];
    uint32_t caplen;
    char cap[];
};

/* Holds a line (a copy of its capture); NULL when out of memory (log it now instead). */
struct alog_held *alog_hold(struct alog_worker *a, const char *capture, size_t caplen,
                            uint64_t sent, uint64_t head_len, uint64_t t_start_us);

/* Writes a held line with the answers, and frees it. */
void alog_held_write(struct alog_worker *a, struct alog_held *h, const struct alog_ident *id);
