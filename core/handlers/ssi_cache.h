/*
 * ssi_cache.h - parsed SSI templates kept per worker, keyed by their file's cache entry.
 *
 * A small direct-mapped table per worker thread: the slot is chosen by the entry's identity
 * (its ETag, size and mtime: the same file unchanged, even through a reloaded cache entry),
 * and a hit is checked against all three, so a changed file (new size, mtime or inode) is
 * parsed again and replaces the old template. A template is reference counted: a page being
 * rendered keeps it while its slot is taken by another. The table is freed when its thread
 * ends (a thread-specific destructor). No locks: one table per thread.
 */
#pragma once

#include "core/handlers/ssi_parse.h"
#include "fs/cache.h"

#include <stdint.h>

struct ssi_tmpl {
    struct ssi_template *t;
    uint32_t refs;
};

/* The template kept for e (its file unchanged), referenced; NULL when there is none. */
struct ssi_tmpl *ssi_cache_find(const struct fs_entry *e);

/* Parses len bytes at p (e's content: its body, or read from its file) and keeps the result
 * for e, replacing what its slot held; referenced. NULL when out of memory. */
struct ssi_tmpl *ssi_cache_add(const struct fs_entry *e, const char *p, size_t len);

void ssi_cache_put(struct ssi_tmpl *tp);

/* Templates this thread parsed. */
uint64_t ssi_cache_parses(void);
