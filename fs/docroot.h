/*
 * docroot.h - confining file access to a document root.
 *
 * Every path a client names is opened relative to the docroot's directory fd
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): no "..", no absolute
 * symlink and no symlink pointing outside the root can reach a file above it,
 * whatever the path says (the kernel enforces it, atomically).
 *
 * Thread-safe: a root is read-only once opened.
 */
#pragma once

#include "core/base/compiler.h"

#include <linux/openat2.h>
#include <stddef.h>
#include <sys/types.h>

struct fs_root {
    int fd;     /* O_PATH directory fd */
    char *path; /* as configured, for messages */
};

/* Opens dir as a root. Returns 0 or -errno (-ENOENT, -ENOTDIR, -EACCES ...). */
int fs_root_open(struct fs_root *r, const char *dir) MUST_CHECK;

void fs_root_close(struct fs_root *r);

/*
 * Opens rel (relative to the root, no leading '/'; "" means the root) with
 * oflags plus O_CLOEXEC|O_NOCTTY. Returns an fd or -errno; -EXDEV means the
 * path tried to leave the root.
 */
int fs_open_beneath(const struct fs_root *r, const char *rel, int oflags) MUST_CHECK;

/*
 * The openat2 arguments fs_open_beneath uses, for a caller that opens through another path
 * (io_uring): the same confinement, the same flags. rel "" must be given as ".".
 */
struct open_how fs_open_how(int oflags);

/* HTTP status for an open/stat failure: 404, 403, or 503 for resource shortage. */
int fs_status_for_errno(int err);

/* Reads up to n bytes of fd from offset 0 (on the calling thread): the count, or -errno. */
ssize_t fs_read_all(int fd, char *dst, size_t n) MUST_CHECK;
