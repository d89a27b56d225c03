/*
 * multiviews_names.h - the names in a directory, read by helper threads and kept per worker,
 * for MultiViews (multiviews.h) to find the variants `doc.*` of a missing `doc`.
 *
 * One read per directory answers every base name in it: the names are kept sorted by bytes,
 * so the variants of "doc" (every name starting with "doc.") are one contiguous run, found by
 * a binary search. A request for a missing name therefore costs no directory read once the
 * directory is known, however many different names are asked for (a 404 flood included).
 *
 * Reading (opendir beneath the root, readdir) runs as an offload job (core/io/offload.h):
 * the request waits (req_wait) and is dispatched again when the names are there, as
 * autoindex's listings do; requests for a directory being read join its job. Kept: names
 * that do not start with '.', hold a '.' after their first byte and are not directories
 * (a symbolic link or an entry of unknown type is kept: the file cache decides later).
 * A directory of more than 250,000 such names is not read (no variants, and a warning).
 *
 * Freshness: the names are used while the file cache's entry for the directory (revalidated
 * every open_file_cache_valid) has the ETag, mtime and size it had when they were read, so a
 * variant created, renamed or removed is seen within open_file_cache_valid. Each worker keeps
 * up to 1024 directories and 16 MiB of names, least recently used out first. The names do
 * not depend on the configuration (root ids name a directory for the life of the process),
 * so a reload keeps them.
 *
 * Worker threads only; each worker's cache is its own.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/http/req.h"
#include "fs/cache.h"
#include "fs/docroot.h"

#include <stdint.h>

/* A directory's names, sorted by bytes (the worker's; see multiviews_names_get). */
struct mv_names {
    uint32_t n;
    const uint32_t *off; /* name i is chars + off[i], NUL-terminated */
    const char *chars;
};

/* Name i of d. */
static inline struct slice mv_name(const struct mv_names *d, uint32_t i)
{
    return slice_cstr(d->chars + d->off[i]);
}

/* The first index of the run of names starting with prefix (*end: one past its last). */
uint32_t mv_names_range(const struct mv_names *d, struct slice prefix, uint32_t *end);

/*
 * The names of directory fs_dir ("/a/b/", with its trailing slash, NUL-terminated) beneath
 * root, looked at through view (its root id keys the names; its typing is the location's, so
 * the directory's cache entry is the one its listings use). 0 with *out set: valid until
 * the next call on this worker (copy what must last longer). Or a status: HANDLER_LATER
 * (r->wait is linked: they are being read, or the directory's cache entry is loading), 404
 * (not a directory), 503 (no memory, or the helpers' queue is full).
 */
int multiviews_names_get(struct req *r, const struct fs_root *root, const struct fs_view *view,
                         struct slice fs_dir, const struct mv_names **out) MUST_CHECK;

/* Main thread (the module's finish and release): counts a configuration that may read. */
void multiviews_names_use(void);
void multiviews_names_unuse(void);
