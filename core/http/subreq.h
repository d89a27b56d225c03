/*
 * subreq.h - subrequests: a GET made on behalf of a request, answered into its stream.
 *
 * A handler that builds its body from other URIs (server-side includes) starts a child
 * request for a URI. The child is a struct req of its own, dispatched with http_dispatch()
 * through the normal routing: rewrites, access rules, try_files, and whatever handler its
 * location has (static files, CGI, FastCGI, a proxy, SSI again). Its session is this module
 * (a struct req_proto): what the child answers goes into the parent's response stream, in
 * order, with the parent's backpressure:
 *
 *   - resp_send: memory pieces are written as they are; file pieces not held in memory are
 *     read on the offload pool (a large file's fd), never on the worker;
 *   - resp_stream: each write goes to the parent's resp_stream_write; when the parent's queue
 *     is full the child's write takes less, and its writable() is called once the parent has
 *     room (the parent's owner calls subreq_writable from its own writable());
 *   - resp_defer: the parent waits until the child answers;
 *   - HANDLER_LATER (a file the cache is loading): the child waits and is dispatched again.
 *
 * Only a 2xx answer's body is written; the child's fields are dropped (nginx's subrequests
 * too). The child's head is a copy of the parent's (its fields, Host, cookies) with the new
 * path and query, method GET and no body. hold, dead, peer, local_port and on_end are the
 * parent's. Memory: the child lives in the parent's arena (as nginx's subrequests live in
 * their parent's pool), so a page's includes cost its request, bounded by the arena's cap.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/http/req.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct subreq;

/* What the child answered. */
struct subreq_result {
    int status;      /* its status; 0: it failed (memory, a read error) */
    bool has_entity; /* it answered with a file (the static handler): that file's facts */
    uint64_t size;
    time_t mtime;
    bool cut; /* its body broke off (resp_stream_abort) after some of it went into the
               * parent's stream: the parent must be cut too, never end as if whole */
};

struct subreq_ops {
    /* The child's body bytes, in order: returns how many were taken; less than n, the
     * owner's queue is full and it calls subreq_writable once it has room. NULL: they go to
     * resp_stream_write(parent). */
    size_t (*write)(void *arg, const void *p, size_t n);
    /* The child is done (its result filled). Not called when subreq_start returned 1, nor
     * after subreq_abort. */
    void (*done)(void *arg);
};

/* Only the answer's facts are wanted (flastmod, fsize): nothing is written. */
#define SUBREQ_FACTS 1u

/*
 * Starts a child of parent (which streams: resp_stream was called) for target, a request
 * target as a client writes it ("/a/b.html?x=1", percent-encoded, starting with '/').
 * 1: answered at once, *res filled, nothing more comes. 0: *out is the child, done() comes
 * later (res, the caller's memory, is filled by then). -ENOMEM.
 */
int subreq_start(struct req *parent, struct slice target, unsigned flags,
                 const struct subreq_ops *ops, void *arg, struct subreq_result *res,
                 struct subreq **out) MUST_CHECK;

/* The parent's queue has room again: the child (waiting on it) goes on. */
void subreq_writable(struct subreq *s);

/* The parent is going away: the child stops (its handler's abort is called); done() is not
 * called any more. */
void subreq_abort(struct subreq *s);

/* The request r is a child of, or NULL when r is a client's request. */
struct req *subreq_parent(const struct req *r);
