/*
 * flusher.c - see flusher.h. Opening the sinks, starting the thread, and the
 * producers' calls; the thread's work is in flusher_thread.c.
 */
#include "log/flusher.h"

#include "core/base/alloc.h"
#include "log/errlog.h"
#include "log/flusher_priv.h"
#include "log/flusher_thread.h"
#include "log/sink.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---------------------------------------------------------------- setup */

int log_flusher_init(struct log_flusher *f, const char *const *paths, unsigned npaths,
                     const char **bad)
{
    memset(f, 0, sizeof(*f));
    f->wake_fd = -1;
    pthread_mutex_init(&f->leftover_mu, NULL);
    struct log_flusher_priv *p = sp_calloc(1, sizeof(*p));
    if (!p) {
        return -ENOMEM;
    }
    f->p = p;
    p->sinks = sp_calloc(npaths + 1, sizeof(*p->sinks));
    if (!p->sinks) {
        return -ENOMEM;
    }
    p->nall = npaths + 1;
    for (unsigned i = 0; i < p->nall; i++) {
        p->sinks[i].fd = p->sinks[i].wfd = 2;
        p->sinks[i].name = "stderr";
    }
    for (unsigned i = 0; i < npaths; i++) {
        struct log_sink *s = &p->sinks[i];
        if (paths[i] && strcmp(paths[i], "stdout") == 0) {
            s->fd = s->wfd = 1;
            s->name = "stdout";
        } else if (paths[i] && strcmp(paths[i], "stderr") != 0) {
            int fd = log_sink_open(paths[i], 0);
            if (fd < 0) {
                *bad = paths[i];
                return fd;
            }
            s->fd = s->wfd = fd;
            s->own_fd = true;
            s->path = sp_strndup(paths[i], strlen(paths[i]));
            if (!s->path) {
                return -ENOMEM;
            }
            s->name = s->path;
        }
    }
    p->sinks[npaths].is_errlog = true;
    p->sinks[npaths].name = "error log";
    f->nsinks = npaths;
    f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return f->wake_fd < 0 ? -errno : 0;
}

int log_flusher_start(struct log_flusher *f, struct log_ring **rings, unsigned nrings,
                      log_space_fn cb, void *arg)
{
    struct log_flusher_priv *p = f->p;
    f->rings = rings;
    f->nrings = nrings;
    f->space_cb = cb;
    f->space_arg = arg;
    p->srcs = sp_calloc(nrings ? nrings : 1, sizeof(*p->srcs));
    p->pfd = sp_calloc(p->nall + 1, sizeof(*p->pfd));
    p->pfd_sink = sp_calloc(p->nall + 1, sizeof(*p->pfd_sink));
    if (!p->srcs || !p->pfd || !p->pfd_sink) {
        return -ENOMEM;
    }
    for (unsigned i = 0; i < nrings; i++) {
        p->srcs[i].ring = rings[i];
    }
    struct log_sink *es = &p->sinks[f->nsinks];
    es->fd = es->wfd = errlog_fd();
    for (unsigned i = 0; i < p->nall; i++) {
        struct log_sink *s = &p->sinks[i];
        log_sink_setup(s);
        /* two names for one pipe or file (stdout and stderr on one pipe) get one writer, or
         * a line cut short on one could be completed after a line of the other */
        for (unsigned k = 0; k < i && s->have_id; k++) {
            struct log_sink *o = &p->sinks[k];
            if (!o->alias && o->have_id && o->dev == s->dev && o->ino == s->ino) {
                s->alias = o;
                break;
            }
        }
    }
    int rc = pthread_create(&f->thread, NULL, log_flusher_main, f);
    if (rc != 0) {
        return -rc;
    }
    pthread_setname_np(f->thread, "spate-log"); /* also here: named before start returns */
    f->running = true;
    return 0;
}

/* ---------------------------------------------------------------- other threads */

void log_flusher_kick(struct log_flusher *f)
{
    uint64_t one = 1;
    ssize_t r = write(f->wake_fd, &one, sizeof(one));
    (void)r;
}

void log_flusher_nudge(struct log_flusher *f)
{
    /* pairs with the fence in wait_for_work (flusher_thread.c): our commit before, its idle
     * flag after */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&f->idle, memory_order_relaxed) &&
        atomic_exchange_explicit(&f->idle, 0, memory_order_relaxed)) {
        log_flusher_kick(f);
    }
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
