/*
 * entry.h - what a file-cache entry (fs/cache.h) holds, and building one from an opened
 * file: its facts from fstat, its type (fs/types.h), its validators, room for what is
 * decided later, and the owner's attachment. The cache (cache.c) decides when and keeps
 * it; this decides what it holds. No table, no locks; one getxattr (fs_entry_xattr_etag).
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "fs/types.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

enum fs_kind { FS_FILE, FS_DIR, FS_ERROR };

/*
 * How a file is looked at: beneath which root, typed by which settings, and as what. The
 * cache keys an entry by all three with its path, so the same file typed two ways (two
 * locations with other `types`, or x.css.br asked for as itself and as the br variant of
 * x.css) is two entries, each decided once.
 */
struct fs_view {
    uint32_t root_id;
    uint8_t enc; /* FS_ENC_NONE, or: path is the variant of path minus the suffix, typed as that */
    const struct fs_typing *typing; /* NULL: fs_typing_default */
};

#define FS_VIEW(root) (&(struct fs_view){(root), FS_ENC_NONE, NULL})

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
    struct slice etag; /* strong ETag, quoted: "ino-size-mtimens" in hex, or the content's hash */
    struct slice last_modified; /* IMF-fixdate */
    const char *aux;            /* the owner's attachment (fs_cache_hooks), or NULL */
    uint32_t aux_len;
    int64_t mtime_ns;   /* the file's mtime in nanoseconds (mtime is clamped to now) */
    uint8_t enc;        /* enum fs_enc: the bytes' Content-Encoding */
    bool nosniff;       /* the typing asks for X-Content-Type-Options: nosniff */
    bool etag_wanted;   /* a content ETag is wanted and not there yet: fs_entry_set_etag */
    bool etag_hashing;  /* the owner's: a hash of the file is under way */

    /* ---- private to cache.c ---- */
    /* what a lookup compares, together: the key */
    struct fs_entry *_hnext; /* hash chain */
    uint64_t _hash;
    uint64_t _typing_id;
    uint32_t _root_id;
    uint16_t _path_len;
    uint8_t _enc;
    bool _linked; /* in the table and on the LRU */
    char *_path;
    uint64_t _checked_ms; /* last validation */
    uint64_t _due_ms;     /* the next one (cache.c: ttl_of) */
    struct fs_entry *_prev, *_next; /* LRU, most recent first */
    uint32_t _refs;
    uint8_t _type_cap, _etag_cap; /* room for the type (magic) and ETag (content hash) */
    uint32_t _aux_cap;            /* and for the attachment, for the longest of both */
    uint64_t _dev, _ino;
    int64_t _mtime_ns, _ctime_ns;
    uint64_t _bytes; /* accounted size */
};

/*
 * What the cache's owner derives from an entry when it is loaded: aux_len()
 * bytes, written by aux_fill() into memory the entry owns (so they live and
 * die with it). Called for regular files only, with every fact filled in.
 */
struct fs_cache_hooks {
    size_t (*aux_len)(const struct fs_entry *e);
    void (*aux_fill)(const struct fs_entry *e, char *dst);
};


struct fs_build {
    const struct fs_view *v;
    struct slice path; /* NUL-terminated */
    uint64_t hash;     /* the cache's key */
    const struct stat *st;
    uint32_t small_max; /* files up to this size get room for their bytes */
    const struct fs_cache_hooks *hooks;
    const struct fs_entry *original; /* a variant's original, when cached: its type is taken */
};

/*
 * The entry for an opened regular file or directory: every fact but a small file's content
 * (for which it has room: *body, else NULL), a type libmagic is still to decide
 * (*want_magic), a content hash (etag_wanted) and the owner's attachment (fs_entry_attach
 * once those are known); room for each, at its longest, is reserved. One reference, not in
 * any table, not checked yet (the cache stamps it). NULL: no memory.
 */
struct fs_entry *fs_entry_build(const struct fs_build *b, char **body,
                                bool *want_magic) MUST_CHECK;

/* Writes the owner's attachment from e's final facts, into the room reserved. */
void fs_entry_attach(const struct fs_cache_hooks *h, struct fs_entry *e);

/* libmagic's answer m for e's first bytes (NULL: none) replaces the name's type. */
void fs_entry_sniffed(const struct fs_typing *ty, struct fs_entry *e, const char *m);

/* A small file's bytes are in: its content ETag, when wanted, is one pass over them. */
void fs_entry_hash_body(struct fs_entry *e);

/* A content ETag wanted for a large file: taken from its user.spate.xxh128 attribute if a
 * previous hash left one for this size and mtime (fd: the file, open). */
void fs_entry_xattr_etag(struct fs_entry *e, int fd);

/* The hash made off the worker: true when it was taken (the file had not changed). */
bool fs_entry_take_etag(struct fs_entry *e, struct slice etag, uint64_t size, int64_t mtime_ns,
                        int64_t ctime_ns) MUST_CHECK;
