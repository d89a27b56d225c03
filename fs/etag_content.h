/*
 * etag_content.h - strong ETags from a file's bytes (XXH3-128), the same on every machine.
 *
 * The default ETag ("<inode>-<size>-<mtime>", fs/cache.c) differs between two servers that
 * hold the same file, so behind a load balancer a client's If-None-Match rarely matches. A
 * content ETag depends on the bytes alone: every member of a fleet, and the same server after
 * a redeploy that rewrote identical files, hands out the same validator. It is
 * `"` + 32 lowercase hex digits + `"`: XXH3-128 (seed 0) of the bytes in xxHash's canonical
 * big-endian form, so it is what `xxhsum -H2` prints for the file. XXH3 is not a
 * cryptographic hash: a validator only has to change when the bytes do, and a collision
 * would need someone who can write the files, who can serve what they like anyway.
 *
 * A precompressed variant (foo.css.gz beside foo.css) gets the hash of its own bytes, like
 * any other file: nothing here knows about encodings.
 *
 * Hashing a buffer neither allocates nor makes system calls. Hashing a file (fs_etag_content_fd)
 * reads it all: at memory speed from the page cache, at disk speed otherwise, so it belongs
 * on a helper thread (core/io/offload.h), never on a worker. The extended attribute cache
 * (fs_etag_xattr_get/set) lets a restart skip the rehash. All functions are thread-safe:
 * no shared state.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a content ETag, quotes included; the ETag is not NUL-terminated. */
#define FS_ETAG_CONTENT_LEN 34

/* The most fs_etag_content_fd reads at once (one heap buffer per call, at most the file). */
#define FS_ETAG_CHUNK (256u * 1024u)

/* The extended attribute that keeps a file's content ETag across restarts. */
#define FS_ETAG_XATTR "user.spate.xxh128"

/* Writes the ETag of the n bytes at p (p may be NULL when n is 0). No allocation, no I/O. */
void fs_etag_content_of(const void *p, size_t n, char out[FS_ETAG_CONTENT_LEN]);

/*
 * Hashes the open regular file fd, which the caller's fstat said is size bytes long, with
 * pread from offset 0 (the file offset is not used, so the fd may be shared). Returns 0 and
 * writes out; -ESTALE when the file turned out shorter or longer than size (it is being
 * rewritten: keep the old ETag, try later); -ENOMEM; or -errno of a failed read. A rewrite
 * in place that keeps the length cannot be seen from here: the caller compares its fstat
 * (mtime, ctime) from before with one from after and discards the ETag when they differ.
 *
 * A file that is not in the page cache when hashing starts is read with sequential
 * readahead and dropped from the cache again as it is hashed, so hashing a large tree
 * does not push the hot files out; one that is cached is read as is and left there.
 */
int fs_etag_content_fd(int fd, uint64_t size, char out[FS_ETAG_CONTENT_LEN]);

/*
 * The extended attribute FS_ETAG_XATTR holds `1 <size> <mtime_ns> <32 hex>`: a version, then
 * the file's size and modification time in nanoseconds (decimal, the mtime may be negative)
 * when it was hashed, then the hash. The size and mtime tie it to one state of the file: a
 * copy that keeps the attribute but not the mtime, or an edit, makes it stale. An edit that
 * keeps both size and mtime (`touch -r` after it) is not caught, as it is not by the default
 * ETag either. The owner of the files may also write the attribute ahead (a deploy step:
 * `setfattr -n user.spate.xxh128 -v "1 $size $mtime_ns $(xxhsum -H2 ...)"`).
 *
 * fs_etag_xattr_get: 0 and out written when the attribute is there, well formed and made
 * for this size and mtime; -ENODATA when there is none; -ESTALE when it was made for another
 * size or mtime; -EINVAL when it is malformed or of another version (rehash and set it
 * again); -ENOTSUP when the filesystem has no user attributes; or another -errno.
 */
int fs_etag_xattr_get(int fd, uint64_t size, int64_t mtime_ns, char out[FS_ETAG_CONTENT_LEN]);

/*
 * Stores etag (as fs_etag_content_of writes it; else -EINVAL) for this size and mtime.
 * Best effort: returns 0 or -errno, and logs nothing. A user attribute needs write
 * permission on the file, not on the fd (an O_RDONLY fd is fine), so -EACCES and -EPERM
 * (files the server may only read), -ENOTSUP and -EROFS are expected: see
 * fs_etag_xattr_quiet.
 *
 * Setting an attribute changes the file's ctime (not its mtime). A caller that validates its
 * cache by ctime must fstat the file again after a successful set and keep that ctime, or
 * its next check sees a change and starts over.
 */
int fs_etag_xattr_set(int fd, uint64_t size, int64_t mtime_ns,
                      const char etag[FS_ETAG_CONTENT_LEN]);

/* Whether fs_etag_xattr_set's error err (-errno) is an expected one, not worth a log line. */
bool fs_etag_xattr_quiet(int err);
