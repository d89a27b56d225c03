/*
 * flusher.c - see flusher.h. Every function flusher.h declares: opening the
 * sinks, starting the thread, the producers' calls, stopping within a bound
 * and reading the counters. The thread's work is in flusher_thread.c.
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
#include <time.h>
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

/* ---------------------------------------------------------------- stopping (main thread) */

static void free_lines(struct log_line *l)
{
    while (l) {
        struct log_line *next = l->next;
        sp_free(l);
        l = next;
    }
}

/* After the thread is gone (or never ran): closes and frees everything. */
static void release_all(struct log_flusher *f, bool synced)
{
    struct log_flusher_priv *p = f->p;
    if (p) {
        for (unsigned i = 0; p->sinks && i < p->nall; i++) {
            struct log_sink *s = &p->sinks[i];
            if (s->own_wfd) {
                close(s->wfd);
            }
            if (s->own_fd) {
                if (synced) {
                    fsync(s->fd);
                }
                close(s->fd);
            }
            if (s->bl_ready) {
                log_ring_destroy(&s->bl);
            }
            sp_free(s->path);
        }
        free_lines(p->left);
        sp_free(p->sinks);
        sp_free(p->srcs);
        sp_free(p->pfd);
        sp_free(p->pfd_sink);
        sp_free(p);
        f->p = NULL;
    }
    free_lines(f->leftover);
    f->leftover = NULL;
    if (f->wake_fd >= 0) {
        close(f->wake_fd);
        f->wake_fd = -1;
    }
    pthread_mutex_destroy(&f->leftover_mu);
}

/*
 * Joins t if it exits before deadline_ms (monotonic). Polls with tryjoin rather than
 * pthread_clockjoin_np: the same bound, and ThreadSanitizer understands it.
 */
static bool join_by(struct log_flusher *f, uint64_t deadline_ms, bool (*hurry)(void *), void *arg)
{
    unsigned polls = 0;
    for (;;) {
        if (pthread_tryjoin_np(f->thread, NULL) == 0) {
            return true;
        }
        uint64_t now = log_now_ms();
        if (now >= deadline_ms) {
            return false;
        }
        if (hurry && ++polls % 10 == 0 && hurry(arg)) {
            /* give up now: the thread counts what is left and exits, if it can */
            hurry = NULL;
            atomic_store(&f->giveup_ms, now);
            log_flusher_kick(f);
            deadline_ms = MIN(deadline_ms, now + STOP_GRACE_MS);
        }
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int log_flusher_stop(struct log_flusher *f, unsigned timeout_ms)
{
    return log_flusher_stop_hurried(f, timeout_ms, NULL, NULL);
}

int log_flusher_stop_hurried(struct log_flusher *f, unsigned timeout_ms, bool (*hurry)(void *arg),
                             void *arg)
{
    int rc = 0;
    if (f->running) {
        uint64_t start = log_now_ms();
        atomic_store(&f->giveup_ms, start + timeout_ms - MIN(timeout_ms / 4, STOP_GRACE_MS));
        atomic_store(&f->stop, 1);
        log_flusher_kick(f);
        if (!join_by(f, start + timeout_ms, hurry, arg)) {
            /* stopped or stuck (a debugger, a hung disk): it may still touch f, the rings
             * and its files, so leave everything to the process exit */
            f->abandoned = true;
            uint64_t bytes = 0;
            for (unsigned i = 0; i < f->nrings; i++) {
                bytes += atomic_load(&f->rings[i]->head) - atomic_load(&f->rings[i]->tail);
            }
            for (unsigned i = 0; i < f->p->nall; i++) {
                bytes += atomic_load(&f->p->sinks[i].a_backlog);
            }
            errlog(ERRLOG_ERROR,
                   "log writer did not stop within %u ms: about %llu bytes of log lines not "
                   "written",
                   (unsigned)(log_now_ms() - start), (unsigned long long)bytes);
            return -ETIMEDOUT;
        }
        f->running = false;
        f->abandoned = false;
        uint64_t lines = atomic_load(&f->unwritten_lines);
        uint64_t bytes = atomic_load(&f->unwritten_bytes);
        if (lines || bytes) {
            errlog(ERRLOG_ERROR,
                   "log writer gave up after %u ms: %llu line(s) (%llu bytes) not written",
                   timeout_ms, (unsigned long long)lines, (unsigned long long)bytes);
            rc = -ETIMEDOUT;
        }
    }
    release_all(f, rc == 0);
    return rc;
}

/* ---------------------------------------------------------------- counters (any thread) */

void log_flusher_stats(const struct log_flusher *f, struct log_flusher_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->lines = atomic_load(&f->lines);
    out->bytes = atomic_load(&f->bytes);
    out->batches = atomic_load(&f->batches);
    out->write_errors = atomic_load(&f->write_errors);
    out->wakeups = atomic_load(&f->wakeups);
    out->reports_dropped = atomic_load(&f->reports_dropped);
    out->unwritten_lines = atomic_load(&f->unwritten_lines);
    out->unwritten_bytes = atomic_load(&f->unwritten_bytes);
    for (unsigned i = 0; f->p && i < f->p->nall; i++) {
        const struct log_sink *s = &f->p->sinks[i];
        out->backlog_bytes += atomic_load(&s->a_backlog);
        out->failing_sinks += atomic_load(&s->a_failing) != 0;
    }
}

int log_flusher_sink_stats(const struct log_flusher *f, int sink, struct log_sink_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!f->p || sink < LOG_FLUSHER_ERRLOG || sink >= (int)f->nsinks) {
        return -EINVAL;
    }
    const struct log_sink *s = &f->p->sinks[sink < 0 ? f->nsinks : (unsigned)sink];
    const struct log_sink *c = s->alias ? s->alias : s; /* the failure state lives there */
    out->failing = atomic_load(&c->a_failing);
    uint64_t since = atomic_load(&c->a_since_ms);
    out->failing_for_ms = out->failing && since ? log_now_ms() - since : 0;
    out->backlog_bytes = atomic_load(&c->a_backlog);
    out->lines = atomic_load(&c->a_lines);
    out->bytes = atomic_load(&c->a_bytes);
    out->errors = atomic_load(&c->a_errors);
    return 0;
}
