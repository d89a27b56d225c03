/* docroot.c - see docroot.h. */
#include "fs/docroot.h"

#include "core/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int fs_root_open(struct fs_root *r, const char *dir)
{
    r->fd = -1;
    r->path = NULL;
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    r->path = sp_strndup(dir, strlen(dir));
    if (!r->path) {
        close(fd);
        return -ENOMEM;
    }
    r->fd = fd;
    return 0;
}

void fs_root_close(struct fs_root *r)
{
    if (r->fd >= 0) {
        close(r->fd);
    }
    sp_free(r->path);
    r->fd = -1;
    r->path = NULL;
}

struct open_how fs_open_how(int oflags)
{
    /* openat2 is strict: O_PATH admits no flags beyond O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW */
    int extra = (oflags & O_PATH) ? O_CLOEXEC : O_CLOEXEC | O_NOCTTY;
    return (struct open_how){
        .flags = (unsigned)(oflags | extra),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
}

int fs_open_beneath(const struct fs_root *r, const char *rel, int oflags)
{
    struct open_how how = fs_open_how(oflags);
    if (rel[0] == '\0') {
        rel = ".";
    }
    long fd = syscall(SYS_openat2, r->fd, rel, &how, sizeof(how));
    if (fd < 0) {
        return -errno;
    }
    return (int)fd;
}

int fs_status_for_errno(int err)
{
    if (err < 0) {
        err = -err;
    }
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EAGAIN:
        return 503;
    default: /* EACCES, EPERM, EXDEV (outside the root), ELOOP, ENXIO ... */
        return 403;
    }
}

ssize_t fs_read_all(int fd, char *dst, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, dst + got, n - got, (off_t)got);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (r == 0) {
            break; /* truncated: the caller sees the short count */
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}
