/*
 * accesslog.h - the worker side of transaction logging.
 *
 * Every response queued gets, if its server logs, a phase-1 capture (see
 * log/access.h) in the connection's output block; when its last byte has been
 * sent, or its connection dies, the line is completed into the worker's log
 * ring, which the flusher thread drains. Exactly one line per response.
 *
 * When the ring is full the line goes to the worker's overflow list (in
 * order) and the worker stops parsing new requests until the flusher reports
 * room: backpressure instead of loss or blocking. Each such episode is
 * counted and reported in the error log.
 *
 * All functions run on the owning worker thread, except the setup/teardown
 * ones (main thread) and alog_space_cb (flusher thread).
 */
#pragma once

#include "core/config.h"
#include "log/access.h"
#include "log/flusher.h"
#include "log/ring.h"
#include "proto/request.h"

#include <stdbool.h>
#include <stdint.h>

struct conn;
struct out_resp;
struct worker;
struct runtime;

/* Per server: where its lines go (sink index, -1 = off) and in what format. */
struct alog_server {
    int sink;
    const struct log_format *fmt;
};

/* Built from the configuration by the main thread; read-only for workers. */
struct alog_setup {
    struct log_format *formats;
    unsigned nformats;
    struct alog_server *servers; /* indexed by cfg_server.root_id */
    unsigned nservers;
    struct log_flusher flusher;
    bool flusher_ready;
};

/* Worker-side state, inside struct worker. */
struct worker_log {
    struct log_ring ring;
    struct log_line *ovf_head, *ovf_tail; /* lines waiting for room, in order */
    bool stalled;                         /* not parsing new requests */
    uint64_t stalls;                      /* episodes so far */
    uint64_t lines;                       /* lines emitted */
    time_t fmt_sec;                       /* second the strings below describe */
    char time_local[32];                  /* 26/Nov/2026:01:44:04 +0000 */
    char time_iso8601[32];                /* 2026-11-26T01:44:04+00:00 */
    char time_utc[32];                    /* 2026-11-26T01:44:04.000Z (ms patched per line) */
};

/* Compiles formats, opens the files. 0, or -1 with a message in err. */
int alog_setup_build(struct alog_setup *ls, const struct cfg *cfg, char *err, size_t errlen);

/* Starts the flusher over the workers' rings. 0 or -1 + err. */
int alog_setup_start(struct alog_setup *ls, struct runtime *rt, char *err, size_t errlen);

/* SIGUSR1: reopen every log file. */
void alog_reopen(struct alog_setup *ls);

/* After the workers exited: writes everything, stops the flusher, frees. */
void alog_setup_destroy(struct alog_setup *ls);

/* ---- worker thread ---- */

int alog_worker_init(struct worker *w) MUST_CHECK;
void alog_worker_fini(struct worker *w);

/* Refreshes the per-second time strings (cheap when the second did not change). */
void alog_tick(struct worker *w, time_t now);

/*
 * Bytes the log capture of this response will need (0: not logged). req may
 * be NULL (a head that failed to parse; raw is then its first line).
 */
size_t alog_capture_need(struct conn *c, unsigned server, const struct http_request *req,
                         struct slice raw);

/*
 * Phase 1 for response r, right after out_end_response(), with the room from
 * alog_capture_need() checked (same server, req and raw).
 */
void alog_capture(struct conn *c, struct out_resp *r, unsigned server,
                  const struct http_request *req, struct slice raw);

/* Phase 2: r's last byte was sent (or the connection died after `sent` of its bytes). */
void alog_done(struct conn *c, const struct out_resp *r, uint64_t sent);

/* Called on the worker when the flusher made room: move the overflow in, maybe resume. */
void alog_on_space(struct worker *w);

/* Flusher thread: ring i has room again. */
void alog_space_cb(void *arg, unsigned ring);
