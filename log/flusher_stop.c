/*
 * flusher_stop.c - stopping the flusher within a bound, and reading its counters (see
 * flusher.h). The owner's side: the main thread, and any thread for the counters.
 */
#include "core/base/alloc.h"
#include "log/errlog.h"
#include "log/flusher.h"
#include "log/flusher_priv.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
static bool join_by(pthread_t t, uint64_t deadline_ms)
{
    for (;;) {
        if (pthread_tryjoin_np(t, NULL) == 0) {
            return true;
        }
        if (log_now_ms() >= deadline_ms) {
            return false;
        }
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int log_flusher_stop(struct log_flusher *f, unsigned timeout_ms)
{
    int rc = 0;
    if (f->running) {
        uint64_t start = log_now_ms();
        atomic_store(&f->giveup_ms, start + timeout_ms - MIN(timeout_ms / 4, STOP_GRACE_MS));
        atomic_store(&f->stop, 1);
        log_flusher_kick(f);
        if (!join_by(f->thread, start + timeout_ms)) {
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
                   timeout_ms, (unsigned long long)bytes);
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
