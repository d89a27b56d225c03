/*
 * userdir.h - user home directories: `/~bob/x` is <bob's home>/public_html/x (Apache's UserDir).
 *
 * Directives (main and server; a server inherits the main block's):
 *   userdir on | off              (off)
 *   userdir_dir NAME              (public_html) the directory in each home, a plain name
 *   userdir_allow USER ...        when given, only these users are served
 *   userdir_deny USER ...         never these users (wins over userdir_allow)
 *   userdir_cache_valid T         (60s) how long a found user is remembered
 *   userdir_cache_negative T      (10s) how long "no such user" or "no directory" is remembered
 * A user whose uid is 0 (root, and any alias of it) is refused unless userdir_allow names it:
 * Apache's recommended `UserDir disabled root`, made the default.
 *
 * It is a file-mapping rule, not a location: location matching sees the URI `/~bob/x`, so the
 * server's locations, index, try_files and error_page apply; http_file_map (files.c) asks
 * userdir_map first, and the file is looked up beneath bob's directory instead of the root.
 * `/~bob` maps to bob's directory itself: the static handler's directory redirect sends a
 * 301 to `/~bob/`. Unknown users, refused users and users without the directory get 404.
 *
 * The passwd lookup (getpwnam_r, which may read files or ask a directory service) and the
 * opening of the user's directory never run on a worker's thread: each worker keeps a
 * bounded cache of users (found and not found, each with its lifetime), and a miss, or an
 * entry past its lifetime, is resolved by a helper thread (core/io/offload.h) while the
 * request waits (HANDLER_LATER, woken like a file-cache fill) and the worker goes on serving.
 * Requests for a user being looked up join that lookup. Only where no helper can post back
 * (no ring, a kernel without IORING_OP_MSG_RING) or the session cannot wait (no r->wait) is
 * the lookup made on the worker's thread, as the file cache does then.
 *
 * Confinement: the name is checked (letters, digits, '.', '_', '-', at most 32 bytes, not
 * starting with '.' or '-'); the home must be absolute; the directory is opened beneath the
 * home (openat2 RESOLVE_BENEATH: a public_html that is a symlink out of the home is refused)
 * and every file beneath it (as for any root: no symlink leads out of it). Each opened user
 * directory gets a root id of its own, with the high bit set so that it never equals a
 * configured root's, and never reused: the worker's file cache cannot serve one user's file
 * for another, or a removed user's file after the directory was replaced.
 *
 * Threads: the module's finish and release on the main thread; userdir_map on a worker's
 * thread (per-worker state, no lock).
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/conf/conf.h"
#include "core/http/req.h"

#include <stdbool.h>

struct http_root;

extern const struct conf_module userdir_module;

/*
 * For a URI (the request's, or a try_files candidate) of request r. *mine false: not a user
 * directory URI (no "/~NAME", or userdir off for r->server): map it as usual, 0 returned.
 * *mine true: 0 with *root (valid until the request ends) and *path (the path beneath that
 * user's directory, "/x", a view into uri or a literal "/"), or a status (404: unknown,
 * refused, no such directory; 503: the lookup could not be made), HANDLER_LATER (the lookup
 * is running: r->wait is linked and the request is dispatched again when it ends), -ENOMEM.
 */
int userdir_map(struct req *r, struct slice uri, const struct http_root **root, struct slice *path,
                bool *mine) MUST_CHECK;

/* Counters of the calling thread's cache (tests, stats). */
struct userdir_stats {
    uint64_t hits, lookups, found, not_found, opened, retired, closed;
    unsigned entries, jobs, retired_open;
};

void userdir_get_stats(struct userdir_stats *out);

/* The calling thread's cache is dropped (tests; a worker's is dropped when its thread ends). */
void userdir_thread_fini(void);
