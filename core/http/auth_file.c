/* auth_file.c - password file snapshots (see auth_file.h). */
#include "core/http/auth_file.h"

#include "core/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static SP_ATOMIC(uint64_t) next_gen = 1;

struct auth_file *auth_file_new(const char *path)
{
    struct auth_file *f = sp_calloc(1, sizeof(*f));
    if (!f || !(f->path = sp_strndup(path, strlen(path)))) {
        sp_free(f);
        return NULL;
    }
    atomic_init(&f->refs, 1);
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

void auth_file_ref(struct auth_file *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void auth_file_unref(struct auth_file *f)
{
    if (!f || atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    auth_snap_unref(f->latest);
    pthread_mutex_destroy(&f->mu);
    sp_free(f->path);
    sp_free(f);
}

void auth_snap_ref(struct auth_snap *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void auth_snap_unref(struct auth_snap *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    htpasswd_free(s->pw);
    sp_free(s);
}

/* The hash an unknown user is checked against: one of the kind most accounts have, so that
 * the time of a refusal does not tell a known name from an unknown one. */
static const char *pick_dummy(const struct htpasswd *pw)
{
    unsigned count[HTPW_DES + 1] = {0}, best = 0;
    for (unsigned i = 0; i < pw->n; i++) {
        count[pw->v[i].kind]++;
    }
    for (unsigned k = 1; k <= HTPW_DES; k++) {
        best = count[k] > count[best] ? k : best;
    }
    for (unsigned i = 0; i < pw->n; i++) {
        if (pw->v[i].kind == best) {
            return pw->v[i].hash;
        }
    }
    return NULL;
}

static void set_id(struct auth_snap *s, const struct stat *st)
{
    s->have_id = true;
    s->dev = st->st_dev;
    s->ino = st->st_ino;
    s->size = st->st_size;
    s->mtime = st->st_mtim;
}

static bool same_id(const struct auth_snap *s, const struct stat *st)
{
    return s->have_id && s->dev == st->st_dev && s->ino == st->st_ino && s->size == st->st_size &&
           s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Reads the open file fd (of identity st) into s. */
static void load(struct auth_snap *s, const char *path, int fd, const struct stat *st)
{
    set_id(s, st);
    if (!S_ISREG(st->st_mode)) {
        s->err = -EINVAL;
        snprintf(s->msg, sizeof(s->msg), "\"%s\" is not a regular file", path);
        return;
    }
    if ((uint64_t)st->st_size > AUTH_FILE_MAX) {
        s->err = -EFBIG;
        snprintf(s->msg, sizeof(s->msg), "\"%s\" is larger than %u MiB", path, AUTH_FILE_MAX >> 20);
        return;
    }
    size_t cap = (size_t)st->st_size + 1, len = 0;
    char *buf = sp_malloc(cap);
    if (!buf) {
        s->err = -ENOMEM;
        snprintf(s->msg, sizeof(s->msg), "out of memory reading \"%s\"", path);
        return;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            s->err = -errno;
            snprintf(s->msg, sizeof(s->msg), "read() \"%s\" failed (%d: %s)", path, errno,
                     strerror(errno));
            sp_free(buf);
            return;
        }
        if (n == 0 || (len += (size_t)n) == cap) {
            break; /* the end, or it grew while read: what fits is read (the next stat sees it) */
        }
    }
    struct htpasswd_error perr;
    int rc = htpasswd_parse(buf, len, &s->pw, &perr);
    sp_free(buf);
    if (rc == -EINVAL) {
        s->err = rc;
        snprintf(s->msg, sizeof(s->msg), "%s:%u: %s", path, perr.line, perr.msg);
    } else if (rc < 0) {
        s->err = rc;
        snprintf(s->msg, sizeof(s->msg), "out of memory parsing \"%s\"", path);
    } else {
        s->dummy = pick_dummy(s->pw);
    }
}

struct auth_snap *auth_file_refresh(struct auth_file *f, bool *changed)
{
    *changed = false;
    pthread_mutex_lock(&f->mu);
    struct stat st;
    int serr = stat(f->path, &st) < 0 ? -errno : 0;
    struct auth_snap *cur = f->latest;
    bool same = cur && (serr ? !cur->have_id && cur->err == serr : same_id(cur, &st));
    if (!same) {
        struct auth_snap *s = sp_calloc(1, sizeof(*s));
        if (!s) {
            pthread_mutex_unlock(&f->mu);
            return NULL;
        }
        atomic_init(&s->refs, 1);
        s->gen = atomic_fetch_add(&next_gen, 1);
        int fd = serr ? -1 : open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
            int e = serr ? -serr : errno;
            s->err = -e;
            snprintf(s->msg, sizeof(s->msg), "open() \"%s\" failed (%d: %s)", f->path, e,
                     strerror(e));
        } else {
            struct stat fst;
            if (fstat(fd, &fst) < 0) {
                fst = st;
            }
            load(s, f->path, fd, &fst);
            close(fd);
        }
        auth_snap_unref(cur);
        f->latest = cur = s;
        *changed = true;
    }
    auth_snap_ref(cur);
    pthread_mutex_unlock(&f->mu);
    return cur;
}

struct auth_snap *auth_file_try_latest(struct auth_file *f)
{
    if (pthread_mutex_trylock(&f->mu) != 0) {
        return NULL;
    }
    struct auth_snap *s = f->latest;
    if (s) {
        auth_snap_ref(s);
    }
    pthread_mutex_unlock(&f->mu);
    return s;
}
