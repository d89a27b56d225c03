/*
 * cgi_run.h - one script's run, from the spawn request to its reaped process (cgi.c starts
 * it; see cgi.h for what happens on each pipe).
 *
 * A run is malloc'd, not in the request's arena: it outlives the request while its io_uring
 * operations complete and the script's exit is awaited. Its rules:
 *   - r is valid until the request ends (req_on_end clears it); `answered` is set once a
 *     response went out or the client went away: nothing else is sent then;
 *   - each pipe (struct cgi_chan) has at most one operation in flight; closing one that is
 *     busy cancels the operation and closes the descriptor when it completes;
 *   - closing the status pipe before the exit record came is how the script is killed (the
 *     spawner sees it, cgi_spawn.h);
 *   - the run is freed when the request ended, nothing is in flight, every descriptor is
 *     closed, and no callback of the run is on the stack (depth: enter/leave around each).
 *     It holds no connection (req_hold): a held connection is not freed, and the end of a
 *     request that closes its connection is run only when the connection is freed. A run
 *     left when its worker stops (a script still exiting) is not freed.
 *
 * The worker's thread only.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/handlers/cgi_conf.h"
#include "core/handlers/cgi_spawn.h"
#include "core/http/req.h"
#include "core/io/loop.h"
#include "core/io/offload.h"
#include "fs/docroot.h"
#include "proto/cgi_head.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define OUT_BUF 16384          /* stdout reads; a head must fit in one buffer */
#define IN_BUF 65536           /* stdin writes */
#define ERR_BUF 2048           /* stderr: longer lines are logged in pieces */
#define ERR_LINES_MAX 100      /* per script; the rest are counted */
#define ERR_LINES_PER_SEC 200  /* per worker */
#define DISCARD_MAX (1u << 20) /* output read and dropped after the answer, at most */

struct cgi_chan {
    int fd;
    struct io_op op;
    bool busy, closing;
};

struct cgi_run {
    struct req *r; /* until the request ends */
    struct req_end end;
    struct io_loop *loop;
    const struct cgi_conf *conf; /* used only while r is set (its configuration lives) */
    unsigned depth;
    uint32_t timeout_ms;
    uint64_t max_output;
    /* the walk */
    struct offload_job job;
    struct fs_root root; /* a copy: the walk reads no configuration memory, which a reload
                          * may free once the request is gone */
    const char *root_path;
    char *rel; /* the file under the root: "/a/b.cgi/x" */
    size_t rel_len, ext_end, script_len;
    int walk_err;
    /* the spawn */
    struct io_op send_op;
    bool sending, spawned;
    struct msghdr mh;
    struct iovec iov;

    union {
        char buf[CMSG_SPACE(sizeof(int) * CGI_SPAWN_FDS)];
        struct cmsghdr align;
    } cmsg;

    int child_fds[CGI_SPAWN_FDS];
    char *msg;
    char *script; /* absolute */
    /* the pipes and the clock */
    struct cgi_chan in, out, err, st;
    struct io_sleep timer;
    bool timing, shut;
    uint64_t last_ms;
    /* where it is */
    bool answered, head_done, streaming, paused, out_eof, err_eof, exited, failed, body_end,
        body_waits, in_done, discard, ended_ok;
    int pid, wstatus;
    /* stdout */
    char *obuf;
    size_t olen, ooff;
    uint64_t out_total;
    struct cgi_head *head;
    /* stdin */
    char *ibuf;
    size_t ilen, ioff;
    /* stderr */
    char ebuf[ERR_BUF];
    size_t elen;
    unsigned err_lines, err_dropped;
    /* status */
    char stbuf[2 * sizeof(struct cgi_rec)];
    size_t stlen;
};

/* The ops a run gives resp_defer / resp_stream and req_body_read. */
extern const struct resp_stream_ops cgi_stream_ops;
extern const struct req_body_ops cgi_body_ops;

/* Scripts of this worker with a run (cgi_limit). */
unsigned cgi_run_count(void);

/* Sets u's descriptors to -1 and its operations' callbacks; counts it. */
void cgi_run_init(struct cgi_run *u);

/* Around each callback into u; leave frees it when nothing holds it any more. */
void cgi_run_enter(struct cgi_run *u);
void cgi_run_leave(struct cgi_run *u);

/* Frees u (nothing in flight, no descriptor open but the ones it closes). */
void cgi_run_destroy(struct cgi_run *u);

/* Logs why, answers status if nothing was sent (or cuts the response), kills the script. */
void cgi_run_fail(struct cgi_run *u, int status, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Lets go of every pipe (the script is killed if it still runs). */
void cgi_run_shut(struct cgi_run *u);

/* The request of u ended (its req_end's fn). */
void cgi_run_on_end(struct req_end *e);
