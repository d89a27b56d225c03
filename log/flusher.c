/* flusher.c - see flusher.h. */
#include "log/flusher.h"

#include "core/base/alloc.h"
#include "log/errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_INTERVAL_MS 100
#define MAX_IOV 512

static int open_sink(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int log_flusher_init(struct log_flusher *f, const char *const *paths, unsigned npaths,
                     const char **bad)
{
    memset(f, 0, sizeof(*f));
    f->wake_fd = -1;
    f->error_fd_sink = -1;
    pthread_mutex_init(&f->leftover_mu, NULL);
    f->sinks = sp_calloc(npaths ? npaths : 1, sizeof(*f->sinks));
    if (!f->sinks) {
        return -ENOMEM;
    }
    for (unsigned i = 0; i < npaths; i++) {
        f->sinks[i].fd = 2;
        if (paths[i] && strcmp(paths[i], "stdout") == 0) {
            f->sinks[i].fd = 1;
        } else if (paths[i] && strcmp(paths[i], "stderr") != 0) {
            int fd = open_sink(paths[i]);
            if (fd < 0) {
                *bad = paths[i];
                f->nsinks = i;
                return fd;
            }
            f->sinks[i].fd = fd;
            f->sinks[i].path = sp_strndup(paths[i], strlen(paths[i]));
        }
        f->nsinks = i + 1;
    }
    f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return f->wake_fd < 0 ? -errno : 0;
}

/* Writes iov fully, retrying short writes and (once a second) errors: nothing is dropped. */
static void write_all(struct log_flusher *f, int fd, struct iovec *iov, int n)
{
    bool reported = false;
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            atomic_fetch_add(&f->write_errors, 1);
            if (!reported) {
                char msg[160];
                int m = snprintf(msg, sizeof(msg),
                                 "spate: log write failed (%s); retrying, requests wait\n",
                                 strerror(errno));
                ssize_t r = write(2, msg, (size_t)m);
                (void)r;
                reported = true;
            }
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
            continue;
        }
        atomic_fetch_add(&f->bytes, (uint64_t)w);
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
}

static int fd_for(struct log_flusher *f, uint16_t type, uint16_t sink)
{
    if (type == LOG_REC_ERROR) {
        return errlog_fd();
    }
    return sink < f->nsinks ? f->sinks[sink].fd : 2;
}

/* Drains one ring: runs of records for the same file leave in one writev. Returns records. */
static unsigned drain_ring(struct log_flusher *f, struct log_ring *r)
{
    struct iovec iov[MAX_IOV];
    unsigned total = 0;
    const struct log_rec *rec;
    while ((rec = log_ring_peek(r)) != NULL) {
        int n = 0, fd = -1;
        const struct log_rec *last = NULL;
        for (const struct log_rec *x = rec; x; x = log_ring_next(r, x)) {
            if (x->type != LOG_REC_PAD) {
                int xfd = fd_for(f, x->type, x->sink);
                if (n == MAX_IOV || (fd >= 0 && xfd != fd)) {
                    break;
                }
                fd = xfd;
                iov[n].iov_base = (void *)x->data;
                iov[n].iov_len = x->len;
                n++;
                total++;
            }
            last = x;
        }
        if (n) {
            write_all(f, fd, iov, n);
            atomic_fetch_add(&f->lines, (uint64_t)n);
            atomic_fetch_add(&f->batches, 1);
        }
        log_ring_release_through(r, last);
    }
    return total;
}

static void write_lines(struct log_flusher *f, struct log_line *l)
{
    while (l) {
        struct iovec iov = {l->data, l->len};
        write_all(f, fd_for(f, l->type, l->sink), &iov, 1);
        atomic_fetch_add(&f->lines, 1);
        struct log_line *next = l->next;
        sp_free(l);
        l = next;
    }
}

static void reopen_all(struct log_flusher *f)
{
    for (unsigned i = 0; i < f->nsinks; i++) {
        struct log_sink *s = &f->sinks[i];
        if (!s->path) {
            continue;
        }
        int fd = open_sink(s->path);
        if (fd < 0) {
            errlog(ERRLOG_ERROR,
                   "cannot reopen access log \"%s\": %s (still writing to the old "
                   "file)",
                   s->path, strerror(-fd));
            continue;
        }
        /* dup2 keeps the number: nothing else needs to learn about the new file */
        dup2(fd, s->fd);
        close(fd);
    }
}

static void drain_all(struct log_flusher *f)
{
    for (unsigned i = 0; i < f->nrings; i++) {
        drain_ring(f, f->rings[i]);
        if (atomic_exchange(&f->rings[i]->want_space, 0) && f->space_cb) {
            f->space_cb(f->space_arg, i);
        }
        atomic_store(&f->rings[i]->want_flush, 0);
    }
}

static void *flusher_main(void *arg)
{
    struct log_flusher *f = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        struct pollfd p = {f->wake_fd, POLLIN, 0};
        poll(&p, 1, FLUSH_INTERVAL_MS);
        uint64_t v;
        ssize_t r = read(f->wake_fd, &v, sizeof(v));
        (void)r;
        drain_all(f);
        if (atomic_exchange(&f->reopen, 0)) {
            reopen_all(f);
        }
        if (atomic_load(&f->stop)) {
            drain_all(f);
            pthread_mutex_lock(&f->leftover_mu);
            struct log_line *l = f->leftover;
            f->leftover = NULL;
            pthread_mutex_unlock(&f->leftover_mu);
            write_lines(f, l);
            break;
        }
    }
    return NULL;
}

int log_flusher_start(struct log_flusher *f, struct log_ring **rings, unsigned nrings,
                      log_space_fn cb, void *arg)
{
    f->rings = rings;
    f->nrings = nrings;
    f->space_cb = cb;
    f->space_arg = arg;
    int rc = pthread_create(&f->thread, NULL, flusher_main, f);
    if (rc != 0) {
        return -rc;
    }
    f->running = true;
    return 0;
}

void log_flusher_kick(struct log_flusher *f)
{
    uint64_t one = 1;
    ssize_t r = write(f->wake_fd, &one, sizeof(one));
    (void)r;
}

void log_flusher_reopen(struct log_flusher *f)
{
    atomic_store(&f->reopen, 1);
    log_flusher_kick(f);
}

void log_flusher_hand_over(struct log_flusher *f, struct log_line *lines)
{
    if (!lines) {
        return;
    }
    pthread_mutex_lock(&f->leftover_mu);
    struct log_line **tail = &f->leftover;
    while (*tail) {
        tail = &(*tail)->next;
    }
    *tail = lines;
    pthread_mutex_unlock(&f->leftover_mu);
}

void log_flusher_nudge(struct log_flusher *f)
{
    (void)f;
}

int log_flusher_stop(struct log_flusher *f, unsigned timeout_ms)
{
    (void)timeout_ms;
    if (f->running) {
        atomic_store(&f->stop, 1);
        log_flusher_kick(f);
        pthread_join(f->thread, NULL);
        f->running = false;
    }
    for (unsigned i = 0; i < f->nsinks; i++) {
        if (f->sinks[i].path && f->sinks[i].fd > 2) {
            fsync(f->sinks[i].fd);
            close(f->sinks[i].fd);
        }
        sp_free(f->sinks[i].path);
    }
    sp_free(f->sinks);
    f->sinks = NULL;
    f->nsinks = 0;
    if (f->wake_fd >= 0) {
        close(f->wake_fd);
        f->wake_fd = -1;
    }
    pthread_mutex_destroy(&f->leftover_mu);
    return 0;
}
