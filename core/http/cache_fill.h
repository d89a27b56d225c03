/*
 * cache_fill.h - a worker's file-cache misses and rechecks, done through its io_uring.
 *
 * A lookup that misses (or finds an entry due for a check) starts a fill: openat2
 * beneath the root, then for a small file a read of its bytes, each an io_uring
 * operation, so the worker goes on answering hits while the disk works. The
 * request waits (req_wait) and is dispatched again when the fill ends. Requests
 * for a path already being filled join that fill: one open per path however many
 * ask (no stampede when a hot file expires or arrives cold). At most `max` fills
 * run at once per worker; more wait in order.
 *
 * Requests that cannot wait (no r->wait), a disabled cache, and a request that
 * has waited several times in a row (its entries were evicted meanwhile) are
 * answered by fs_cache_get on the worker's thread, as before.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/req.h"
#include "fs/cache.h"
#include "fs/docroot.h"

#include <stdbool.h>

struct io_loop;
struct cache_fills;

/* A worker's fills (max in flight, at least 1). NULL when out of memory. */
struct cache_fills *cache_fills_new(struct io_loop *l, struct fs_cache *c,
                                    unsigned max) MUST_CHECK;

/* True when no fill is in flight or queued. */
bool cache_fills_idle(const struct cache_fills *f);

/* Frees the set; every fill must have ended (cache_fills_idle). */
void cache_fills_free(struct cache_fills *f);

/*
 * The entry for path under root, seen through v (its root id, typing and coding key the
 * cache; v is copied), for request r: referenced, now.
 * Or NULL with *status = HANDLER_LATER (a fill was started or joined and r->wait linked to
 * it: return HANDLER_LATER), or 503 (no memory).
 */
struct fs_entry *http_file_get(struct req *r, const struct fs_root *root, const struct fs_view *v,
                               struct slice path, int *status) MUST_CHECK;
