/*
 * redirect_pool.h - load-balancing and affinity redirects: `redirect_pool NAME { ... }`.
 *
 *   redirect_pool mirrors {
 *       target http://a.example.net;
 *       target http://b.example.net;
 *       policy round_robin | least_recent | hash | cookie [NAME];
 *   }
 *   location /dl/ { return 302 $redirect_pool_mirrors$request_uri; }
 *
 * $redirect_pool_NAME is a target chosen for this request:
 *   round_robin   each worker takes the targets in turn;
 *   least_recent  each worker takes the target it chose least recently (the same order as
 *                 round robin while the list is fixed; a target added by a reload is chosen
 *                 first);
 *   hash          by the client's address, with rendezvous (highest random weight) hashing:
 *                 the same client always gets the same target, and removing a target moves
 *                 only that target's clients; the hash is fixed (not seeded per process), so
 *                 every worker and every node agree;
 *   cookie NAME   the target a cookie NAME (default "spate_pool_" + pool name) names, set on
 *                 the first visit (chosen as `hash` does) with Set-Cookie on the response.
 * Per worker, no locks: round robin and least recent are exact per worker, so across W
 * workers each target gets within W of an even share of the requests.
 *
 * Pools live in the main context (http { }). A pool name that does not exist gives an
 * empty value (and so a relative redirect): check the spelling.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/conf/conf.h"
#include "core/http/req.h"

extern const struct conf_module redirect_pool_module;

/* A target's identity (a fixed hash of its URL): its weight in rendezvous hashing. */
uint64_t redirect_pool_target_id(const char *url);

/* Rendezvous hashing: which of n targets (their ids) a client key goes to. */
unsigned redirect_pool_rendezvous(const uint64_t *ids, unsigned n, const void *key, size_t len);

/* The target of pool `name` for r (in the arena); SLICE_NULL when there is no such pool. */
struct slice http_pool_pick(struct req *r, struct slice name);
