/*
 * cache.h - per-worker open-file cache.
 *
 * Maps (root id, normalized path) to what serving that path needs: the kind
 * (file, directory, or a cached error such as "not found"), the stat facts,
 * MIME type and validators. Files up to `small_max` bytes keep their whole
 * content in memory, so a hit costs no syscall at all and holds no fd; larger
 * files keep an open fd for sendfile.
 *
 * The cache holds facts, not protocol text. Its owner may attach derived
 * bytes to each entry when it is loaded (fs_cache_hooks: the HTTP/1 writer
 * keeps its prebuilt entity header block there), so a hit rebuilds nothing.
 *
 * Bounded by entry count, bytes and open fds, with LRU eviction. Entries are
 * revalidated (openat2 O_PATH + fstat) once `valid_ms` has passed since the
 * last check; a changed file gets a fresh entry. Negative entries live
 * `negative_ms`.
 *
 * Entries are reference counted: a connection sending a body holds a
 * reference, so an entry evicted or replaced mid-send stays valid (and its fd
 * open) until released. One cache per worker thread, no locks: every
 * function must be called from the owning thread.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "fs/docroot.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct fs_cache_limits {
    bool enabled;         /* false: every lookup opens and reads afresh */
    uint32_t max_entries; /* entries kept */
    uint64_t max_bytes;   /* bytes of content + metadata kept */
    uint32_t small_max;   /* files up to this many bytes are held in memory */
    uint32_t max_fds;     /* open fds held by entries of larger files */
    uint32_t valid_ms;    /* revalidate an entry this long after its last check */
    uint32_t negative_ms; /* keep "not found"/"forbidden" answers this long */
};

#define FS_CACHE_LIMITS_DEFAULT                                                                    \
    ((struct fs_cache_limits){true, 65536, 64u << 20, 64u << 10, 1024, 1000, 1000})

enum fs_kind { FS_FILE, FS_DIR, FS_ERROR };

struct fs_entry {
    /* ---- read-only for users ---- */
    uint8_t kind;               /* enum fs_kind */
    int err;                    /* FS_ERROR: positive errno */
    int status;                 /* FS_ERROR: HTTP status (404, 403, 503, 500) */
    uint64_t size;              /* file size in bytes */
    time_t mtime;               /* seconds */
    int fd;                     /* open fd of a large file, else -1 */
    const char *body;           /* content of a small file (size bytes), else NULL */
    struct slice mime;          /* Content-Type value */
    struct slice etag;          /* strong ETag, quoted: "ino-size-mtimens" in hex */
    struct slice last_modified; /* IMF-fixdate */
    const char *aux;            /* the owner's attachment (fs_cache_hooks), or NULL */
    uint32_t aux_len;

    /* ---- private to cache.c ---- */
    struct fs_entry *_hnext;        /* hash chain */
    struct fs_entry *_prev, *_next; /* LRU, most recent first */
    uint64_t _hash;
    uint64_t _checked_ms; /* last validation */
    uint64_t _dev, _ino;
    int64_t _mtime_ns, _ctime_ns;
    uint64_t _bytes; /* accounted size */
    uint32_t _refs;
    uint32_t _root_id;
    bool _linked; /* in the table and on the LRU */
    uint16_t _path_len;
    char *_path;
};

struct fs_cache_stats {
    uint64_t hits, misses, revalidations, replaced, evictions;
    uint64_t recheck_deferred; /* revalidations put off for lack of descriptors */
    uint32_t entries, fds;
    uint64_t bytes;
};

struct fs_cache;

/*
 * What the cache's owner derives from an entry when it is loaded: aux_len()
 * bytes, written by aux_fill() into memory the entry owns (so they live and
 * die with it). Called for regular files only, with every fact filled in.
 */
struct fs_cache_hooks {
    size_t (*aux_len)(const struct fs_entry *e);
    void (*aux_fill)(const struct fs_entry *e, char *dst);
};

/* A new empty cache (hooks may be NULL); NULL on allocation failure. */
struct fs_cache *fs_cache_new(const struct fs_cache_limits *lim,
                              const struct fs_cache_hooks *hooks) MUST_CHECK;

/* Frees the cache. Every entry must have been released. */
void fs_cache_free(struct fs_cache *c);

/*
 * The entry for path (normalized, starting with '/', NUL-terminated at
 * path.ptr[path.len]) under root (identified by root_id), loaded or
 * revalidated as needed. Returns a referenced entry, or NULL when memory ran
 * out. now_ms is a monotonic clock in milliseconds.
 */
struct fs_entry *fs_cache_get(struct fs_cache *c, const struct fs_root *root, uint32_t root_id,
                              struct slice path, uint64_t now_ms) MUST_CHECK;

/* Adds a reference (e.g. one per queued send of the body). */
static inline void fs_entry_ref(struct fs_entry *e)
{
    e->_refs++;
}

/* Drops a reference; the entry is freed once unreferenced and no longer cached. */
void fs_entry_release(struct fs_entry *e);

/* Drops every unreferenced entry (on shutdown, or to test eviction). */
void fs_cache_clear(struct fs_cache *c);

void fs_cache_get_stats(const struct fs_cache *c, struct fs_cache_stats *out);
