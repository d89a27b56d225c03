/*
 * auth_cache.h - auth_basic's per-worker state: each file's snapshot, and the passwords found.
 *
 * Per worker, without a lock:
 *
 *   - for each password file in use, the worker's reference to its latest snapshot
 *     (http/auth_file.h). At most once a second (AUTH_CHECK_MS) a request there asks a helper
 *     thread (core/io/offload.h) to stat the file and re-read it if it changed, and goes on
 *     with the snapshot it has; the answer swaps the worker's reference. A request finding the
 *     worker's last check older than AUTH_STALE_MS (the worker's first request for the file,
 *     or the first after a quiet spell) waits for the check (HANDLER_LATER), so a change is
 *     seen within AUTH_STALE_MS whatever the traffic.
 *
 *   - the (user, password) pairs found good recently: AUTH_CACHE_VALID_MS, at most
 *     AUTH_CACHE_MAX, least recently used evicted. The key is a 128-bit XXH3 of the snapshot's
 *     generation, the user and the password, seeded with a per-worker random key: no
 *     password is kept, and a changed file (a new generation) matches no old pair. A pair not
 *     found is hashed on a helper thread (libaprutil's apr_password_validate: the hashing and
 *     the comparison are the library's) while the request waits; requests with the same pair
 *     meanwhile wait for the same hash. An unknown user is hashed too, against one of the
 *     file's hashes, and refused whatever the result, so a refusal takes as long for a name
 *     that is not in the file. A wrong pair is not remembered (a flood of wrong passwords
 *     cannot push the good pairs out).
 *
 *   - at most AUTH_JOBS_MAX hashes in flight per worker: a request that needs one more waits
 *     in the worker's line (first come, first served; it costs nothing while it waits) until
 *     a slot is free; past AUTH_QUEUE_MAX waiting, 503 with Retry-After: 1. A client flooding
 *     wrong passwords thus gets at most AUTH_JOBS_MAX of the helpers per worker, and its
 *     connections wait instead of coming back at once; the pairs already found are answered
 *     from memory meanwhile, without waiting.
 *
 * Threads: a worker's (the helpers only run the jobs; their results come back on the ring).
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/http/auth_file.h"
#include "core/http/req.h"

#include <stdint.h>

#define AUTH_CACHE_MAX 1024
#define AUTH_CACHE_VALID_MS 60000
/* -D overrides them for bench/e2e/authbench.py's comparisons */
#ifndef AUTH_JOBS_MAX
#define AUTH_JOBS_MAX 1 /* per worker: a bcrypt hash takes a helper's CPU for milliseconds */
#endif
#ifndef AUTH_QUEUE_MAX
#define AUTH_QUEUE_MAX 1024 /* requests waiting for a slot, per worker */
#endif
#define AUTH_CHECK_MS 1000 /* how often a worker has the file's identity checked */
#define AUTH_STALE_MS 2000 /* a worker whose last check is older waits for a new one */

/*
 * The worker's snapshot of f for r: 0 with *out (valid while r's step runs), 500 (the file
 * cannot be used: the error log says why, at most once a second per worker and file),
 * HANDLER_LATER (r->wait linked), 503, -ENOMEM.
 */
int auth_cache_snapshot(struct req *r, struct auth_file *f, struct auth_snap **out) MUST_CHECK;

/*
 * Whether user:pass is an account of s: 0 (it is), 401 (it is not), HANDLER_LATER (a helper
 * is hashing it, or the request waits for a slot: r->wait linked, the request is dispatched
 * again), 503 (too many requests waiting: the caller adds Retry-After), -ENOMEM.
 */
int auth_cache_verify(struct req *r, struct auth_snap *s, struct slice user,
                      struct slice pass) MUST_CHECK;

/* Counters of the calling thread (tests, stats). */
struct auth_cache_stats {
    uint64_t hits, hashes, joined, queued, busy, refreshes;
    unsigned pairs, jobs;
};

void auth_cache_get_stats(struct auth_cache_stats *out);

/* The calling thread's state is dropped (a worker's is dropped when its thread ends). */
void auth_cache_thread_fini(void);
