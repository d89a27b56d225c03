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
 * Bounded by entry count, bytes and open fds, with LRU eviction; once full,
 * a TinyLFU admission test keeps a new entry only if it was looked up more
 * often lately than the one it would evict (cache.c). Entries are revalidated
 * (openat2 O_PATH + fstat) once `valid_ms` has passed since the last check
 * (up to an eighth sooner, spread by key); a changed file gets a fresh entry.
 * Negative entries live `negative_ms`.
 *
 * Two ways to fill it: fs_cache_get does the I/O on the calling thread; the
 * fs_cache_find / fs_fill_* / fs_recheck_done functions let the owner do the
 * opening and reading itself (asynchronously, through its event loop) while
 * the cache decides what to keep. The cache makes no blocking call then: only
 * fstat of an open descriptor, which reads nothing from disk.
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
#include "fs/entry.h"
#include "fs/types.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
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





struct fs_cache_stats {
    uint64_t hits, misses, revalidations, replaced, evictions;
    uint64_t recheck_deferred; /* revalidations put off for lack of descriptors */
    uint64_t rejected;         /* loaded, served, and not kept (admission said colder) */
    uint32_t entries, fds;
    uint64_t bytes;
};

struct fs_cache;


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

/* The same, looked at through view v. */
struct fs_entry *fs_cache_get_view(struct fs_cache *c, const struct fs_root *root,
                                   const struct fs_view *v, struct slice path,
                                   uint64_t now_ms) MUST_CHECK;

/* ---- filling asynchronously: the owner opens and reads, the cache keeps ---- */

/*
 * The fresh entry for path (as fs_cache_get takes it), referenced, or NULL. NULL with *stale
 * set: an entry exists but is due for a check (open path O_PATH, then fs_recheck_done; take a
 * reference on *stale while the check is in flight). NULL alone: not cached, load it. *hash
 * is the key for fs_fill_opened. Counts a hit; the caller counts what it starts
 * (fs_cache_count_miss).
 */
struct fs_entry *fs_cache_find(struct fs_cache *c, const struct fs_view *v, struct slice path,
                               uint64_t now_ms, uint64_t *hash, struct fs_entry **stale);

void fs_cache_count_miss(struct fs_cache *c, bool recheck);

/* The state of one load: the entry, and what the owner does next. */
struct fs_fill {
    struct fs_entry *e; /* the result, referenced (NULL: out of memory) */
    int fd;             /* for the owner to close once done, or -1 */
    char *dst;          /* FS_FILL_READ: read len bytes of fd from offset 0 into dst */
    size_t len;
    char *peek; /* a large file's first bytes for libmagic: what dst points to, the cache's */
    const struct fs_typing *typing;
};

enum { FS_FILL_DONE, FS_FILL_READ, FS_FILL_SNIFF };

/*
 * path (seen through v, key hash) was opened O_RDONLY beneath its root: fd, or -errno. Builds
 * the entry from fstat. FS_FILL_DONE: f->e is the answer (kept in the cache or not).
 * FS_FILL_READ: bytes from offset 0 must be read into f->dst first (a small file's content,
 * or a large one's head for libmagic); then fs_fill_read_done. v must stay valid until then.
 */
int fs_fill_opened(struct fs_cache *c, const struct fs_view *v, struct slice path, uint64_t hash,
                   int fd, uint64_t now_ms, struct fs_fill *f) MUST_CHECK;

/*
 * The read of an FS_FILL_READ ended with got bytes (or -errno). FS_FILL_DONE: f->e is the
 * answer. FS_FILL_SNIFF: libmagic must look at f->len bytes at f->dst first (mime_magic):
 * fs_magic_type, which costs from microseconds to a millisecond, so the owner may run it
 * off its thread; then fs_fill_sniffed with its answer, on the cache's thread.
 */
int fs_fill_read_done(struct fs_cache *c, struct fs_fill *f, ssize_t got,
                      uint64_t now_ms) MUST_CHECK;

/* libmagic said magic_type (NULL: nothing useful) for an FS_FILL_SNIFF; f->e is the answer. */
void fs_fill_sniffed(struct fs_cache *c, struct fs_fill *f, const char *magic_type);

enum fs_recheck { FS_RECHECK_SAME, FS_RECHECK_CHANGED, FS_RECHECK_UNKNOWN };

/*
 * A check of e ended: fd is e's path opened O_PATH beneath its root (the caller closes it), or
 * -errno. SAME: e is fresh again. CHANGED: e left the cache (a lookup loads the new file).
 */
enum fs_recheck fs_recheck_done(struct fs_cache *c, struct fs_entry *e, int fd, uint64_t now_ms);

/*
 * While the requests waiting for a load are woken, the entry it made is found by their
 * lookups even when admission kept it out of the cache. Set it, wake them, set NULL.
 */
void fs_cache_handoff(struct fs_cache *c, struct fs_entry *e);

/*
 * A standalone entry, in no cache, whose body is len bytes of generated content (a directory
 * listing several responses share): kind FS_FILE, size len, body writable by the caller until
 * it is shared, no fd, no MIME type or validators. One reference; freed by the last
 * fs_entry_release. Thread-safe to create (another thread may fill it and hand it over).
 * NULL when out of memory.
 */
struct fs_entry *fs_entry_new_body(size_t len) MUST_CHECK;

/*
 * e's content ETag (etag_wanted) was computed off the worker: etag (quoted) replaces the
 * inode one, and the owner's attachment is rebuilt. ctime_ns is the file's ctime after an
 * extended attribute was written with the hash (0: unchanged), so that the next check does
 * not take the attribute for a change of the file. Ignored when the file changed meanwhile.
 */
void fs_entry_set_etag(struct fs_cache *c, struct fs_entry *e, struct slice etag,
                       uint64_t size, int64_t mtime_ns, int64_t ctime_ns);

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
