/*
 * flusher_thread.c - what the flusher thread does (see flusher_thread.h): draining the
 * rings into the sinks, the backlogs, the leftover lines, the reports, and waiting for work.
 *
 * Data path. Every record leaves its ring in order. A record whose sink can
 * take a direct write joins a run of records for that sink (one writev); when
 * the write stops short, the unwritten rest of the run is copied into the
 * sink's backlog (a log_ring of its own, produced and consumed by this
 * thread) and released from the worker's ring, so that the records of other
 * sinks behind it keep flowing. A sink with anything in its backlog, or in
 * error backoff, or waiting for POLLOUT, takes no direct writes: its new
 * records are copied behind the backlog, which is how each sink keeps its
 * order. Only when a backlog is full (or could not be allocated) does a ring
 * stop at a record, and then resumes there.
 *
 * Exactness: a "source" (a worker ring or a backlog) remembers in `skip` how
 * many bytes of its oldest record were already written; a record is released
 * only once fully written or copied (its unwritten rest) elsewhere. A
 * partially written record that could not be copied aside makes its ring the
 * sink's `owner`, and no other source writes to that sink until it is done,
 * so a line is never cut by another.
 */
#include "log/flusher_thread.h"

#include "core/base/alloc.h"
#include "log/errlog.h"
#include "log/flusher_priv.h"
#include "log/flusher_types.h"
#include "log/ring.h"
#include "log/sink.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* batching while lines flow, and the longest wait while anything is pending */
#define FLUSH_INTERVAL_MS 100
/* per sink, allocated on first use; log_ring_init makes this the smallest ring, 256 KiB */
#define BACKLOG_BYTES (2u * LOG_REC_MAX)

/* Set on the flusher thread: its own errlog() lines go to the error sink's backlog. */
static _Thread_local struct log_flusher *t_flusher;

/* ---------------------------------------------------------------- writing to one sink */

/* May source `who` write to s now, without going through its backlog? */
static bool sink_direct(const struct log_sink *s, const void *who, uint64_t now)
{
    return s->bl_recs == 0 && (!s->owner || s->owner == who) && log_sink_can_write(s, now);
}

static struct log_sink *sink_of(const struct log_flusher *f, uint16_t type, uint16_t sink)
{
    /* an access record with a sink index we do not have is a bug elsewhere: the error log
     * at least shows it to someone */
    struct log_sink *s =
        &f->p->sinks[type != LOG_REC_ACCESS || sink >= f->nsinks ? f->nsinks : sink];
    return s->alias ? s->alias : s;
}

/* Producers' lines and bytes that went out (the flusher's own reports are not counted). */
static void count_out(struct log_flusher *f, struct log_sink *s, uint64_t lines, uint64_t bytes)
{
    atomic_fetch_add_explicit(&f->lines, lines, memory_order_relaxed);
    atomic_fetch_add_explicit(&f->bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->a_lines, lines, memory_order_relaxed);
}

/* ---------------------------------------------------------------- backlogs */

/* Copies a line (or the unwritten end of one) behind s's backlog. False: no room. */
static bool backlog_put(struct log_flusher *f, struct log_sink *s, const char *data, size_t len,
                        uint16_t type)
{
    if (!s->bl_ready) {
        if (s->bl_failed || log_ring_init(&s->bl, BACKLOG_BYTES) < 0) {
            s->bl_failed = true; /* without a backlog, rings wait at the sink's records */
            return false;
        }
        s->bl_ready = true;
        s->bls.ring = &s->bl;
    }
    if (len > LOG_REC_MAX) {
        return false; /* never made by the producers */
    }
    char *dst = log_ring_reserve(&s->bl, len);
    if (!dst) {
        return false;
    }
    memcpy(dst, data, len);
    log_ring_commit(&s->bl, len, type, 0);
    s->bl_recs++;
    s->bl_bytes += len;
    f->p->bl_total += len;
    f->p->bl_lines += type != REC_SELF;
    return true;
}

/* Gathers the run of records from rec (the oldest of src) that go to s (all of them for a
 * backlog) into the batch. */
static void build_run(struct log_flusher *f, struct log_src *src, const struct log_rec *rec,
                      const struct log_sink *s, bool backlog)
{
    struct batch *b = &f->p->b;
    b->n = 0;
    b->total = 0;
    for (const struct log_rec *x = rec; x && b->n < MAX_IOV; x = log_ring_next(src->ring, x)) {
        if (x->type == LOG_REC_PAD) {
            continue;
        }
        if (!backlog && sink_of(f, x->type, x->sink) != s) {
            break;
        }
        uint32_t skip = x == rec ? src->skip : 0;
        b->iov[b->n].iov_base = (char *)x->data + skip;
        b->iov[b->n].iov_len = x->len - skip;
        b->rec[b->n] = x;
        b->total += x->len - skip;
        b->n++;
    }
}

/* After w bytes of the batch went out: releases the records written in full and remembers
 * how much of the next one was. Returns how many were written in full. */
static int account(struct log_flusher *f, struct log_sink *s, struct log_src *src, size_t w)
{
    struct batch *b = &f->p->b;
    uint64_t lines = 0, bytes = 0;
    int i = 0;
    while (i < b->n) {
        size_t len = b->rec[i]->len - (i == 0 ? src->skip : 0);
        bool ours = b->rec[i]->type != REC_SELF;
        if (w < len) {
            bytes += ours ? w : 0;
            break;
        }
        w -= len;
        lines += ours;
        bytes += ours ? len : 0;
        i++;
    }
    if (i > 0) {
        log_ring_release_through(src->ring, b->rec[i - 1]);
        src->skip = 0;
        if (s->owner == src) {
            s->owner = NULL;
        }
    }
    if (i < b->n) {
        src->skip += (uint32_t)w;
    }
    count_out(f, s, lines, bytes);
    b->lines = lines;
    return i;
}

/* Writes s's backlog while s takes it. */
static void flush_backlog(struct log_flusher *f, struct log_sink *s, uint64_t now)
{
    struct log_src *src = &s->bls;
    while (s->bl_recs && !s->owner && log_sink_can_write(s, now)) {
        const struct log_rec *rec = log_ring_peek(src->ring);
        if (!rec) {
            break;
        }
        if (rec->type == LOG_REC_PAD) {
            log_ring_release_through(src->ring, rec);
            continue;
        }
        build_run(f, src, rec, s, true);
        size_t w = log_sink_write(f, s, f->p->b.iov, f->p->b.n, f->p->b.total, now);
        int n = f->p->b.n;
        int done = account(f, s, src, w);
        s->bl_recs -= (uint64_t)done;
        s->bl_bytes -= w;
        f->p->bl_total -= w;
        f->p->bl_lines -= f->p->b.lines;
        if (done < n) {
            break;
        }
    }
}

static void flush_backlogs(struct log_flusher *f, uint64_t now)
{
    for (unsigned i = 0; i < f->p->nall; i++) {
        flush_backlog(f, &f->p->sinks[i], now);
    }
}

/* ---------------------------------------------------------------- draining the rings */

/*
 * Moves ring src as far as it can: direct writes, or copies into backlogs.
 * Returns true when it had to stop at a record (the ring is held there);
 * *released tells whether any room was made.
 */
static bool drain_ring(struct log_flusher *f, struct log_src *src, uint64_t now, bool *released)
{
    struct log_ring *r = src->ring;
    struct batch *b = &f->p->b;
    const struct log_rec *rec;
    while ((rec = log_ring_peek(r)) != NULL) {
        if (rec->type == LOG_REC_PAD) {
            log_ring_release_through(r, rec); /* skip, if any, is for the record after it */
            *released = true;
            continue;
        }
        struct log_sink *s = sink_of(f, rec->type, rec->sink);
        int i = 0;
        if (sink_direct(s, src, now)) {
            build_run(f, src, rec, s, false);
            size_t w = log_sink_write(f, s, b->iov, b->n, b->total, now);
            i = account(f, s, src, w);
            *released |= i > 0;
            if (i == b->n) {
                continue;
            }
        } else {
            b->n = 1;
            b->rec[0] = rec;
        }
        /* what the sink did not take goes behind its backlog, in order */
        for (; i < b->n; i++) {
            const struct log_rec *x = b->rec[i];
            if (!backlog_put(f, s, x->data + src->skip, x->len - src->skip, x->type)) {
                if (src->skip) {
                    s->owner = src; /* a line cut short: nobody else writes to s meanwhile */
                }
                s->held++;
                return true;
            }
            log_ring_release_through(r, x);
            src->skip = 0;
            if (s->owner == src) {
                s->owner = NULL;
            }
            *released = true;
        }
    }
    return false;
}

/* Lines handed over by exiting workers: after every ring is empty, like one more ring. */
static void write_leftovers(struct log_flusher *f, uint64_t now)
{
    struct log_flusher_priv *p = f->p;
    for (;;) {
        if (!p->left) {
            pthread_mutex_lock(&f->leftover_mu);
            p->left = f->leftover;
            f->leftover = NULL;
            pthread_mutex_unlock(&f->leftover_mu);
            if (!p->left) {
                return;
            }
        }
        struct log_line *l = p->left;
        struct log_sink *s = sink_of(f, l->type, l->sink);
        if (sink_direct(s, &p->left, now)) {
            struct iovec iov = {l->data + p->left_skip, l->len - p->left_skip};
            size_t w = log_sink_write(f, s, &iov, 1, iov.iov_len, now);
            p->left_skip += (uint32_t)w;
            count_out(f, s, p->left_skip == l->len, w);
        }
        if (p->left_skip < l->len &&
            !backlog_put(f, s, l->data + p->left_skip, l->len - p->left_skip, l->type)) {
            if (p->left_skip) {
                s->owner = &p->left;
            }
            return;
        }
        if (s->owner == &p->left) {
            s->owner = NULL;
        }
        p->left = l->next;
        p->left_skip = 0;
        sp_free(l);
    }
}

/* ---------------------------------------------------------------- reports */

static int self_line(const char *line, size_t len)
{
    struct log_flusher *f = t_flusher;
    if (!backlog_put(f, sink_of(f, LOG_REC_ERROR, 0), line, len, REC_SELF)) {
        atomic_fetch_add_explicit(&f->reports_dropped, 1, memory_order_relaxed);
    }
    return 0; /* never a direct write from this thread: it could block */
}

static void reopen_all(struct log_flusher *f, uint64_t now)
{
    for (unsigned i = 0; i < f->nsinks; i++) {
        struct log_sink *s = &f->p->sinks[i];
        if (!s->path || s->alias) {
            continue;
        }
        int rc = log_sink_reopen(s);
        if (rc < 0) {
            errlog(ERRLOG_ERROR,
                   "cannot reopen access log \"%s\": %s (still writing to the old "
                   "file)",
                   s->path, strerror(-rc));
        } else if (s->err) {
            s->retry_at_ms = now; /* a new file: worth a try at once */
            s->reopen_due = false;
        }
    }
}

/* ---------------------------------------------------------------- the thread */

/* One round over everything. Returns true if records left a ring. */
static bool run_pass(struct log_flusher *f, uint64_t now, bool stopping)
{
    struct log_flusher_priv *p = f->p;
    bool moved = false;
    p->held_rings = 0;
    for (unsigned i = 0; i < p->nall; i++) {
        p->sinks[i].held = 0;
    }
    flush_backlogs(f, now); /* older than anything in the rings */
    for (unsigned i = 0; i < f->nrings; i++) {
        bool released = false;
        bool held = drain_ring(f, &p->srcs[i], now, &released);
        p->held_rings += held;
        moved |= released;
        struct log_ring *r = f->rings[i];
        /* not when nothing moved: the worker would only find the ring full and ask again */
        if ((released || !held) && atomic_exchange(&r->want_space, 0) && f->space_cb) {
            f->space_cb(f->space_arg, i);
        }
        atomic_store(&r->want_flush, 0);
    }
    if (stopping && p->held_rings == 0) {
        write_leftovers(f, now);
    }
    flush_backlogs(f, now); /* what was just copied aside */
    /* last, so that it sees how every write of this pass went */
    for (unsigned i = 0; i < p->nall; i++) {
        if (!p->sinks[i].alias) {
            log_sink_report(&p->sinks[i], now);
        }
    }
    flush_backlog(f, sink_of(f, LOG_REC_ERROR, 0), now); /* the reports */
    if (atomic_exchange(&f->reopen, 0)) {
        reopen_all(f, now);
    }
    return moved;
}

static bool rings_empty(struct log_flusher *f)
{
    for (unsigned i = 0; i < f->nrings; i++) {
        struct log_ring *r = f->rings[i];
        if (atomic_load_explicit(&r->head, memory_order_acquire) !=
            atomic_load_explicit(&r->tail, memory_order_relaxed)) {
            return false;
        }
    }
    return true;
}

static bool leftovers_pending(struct log_flusher *f)
{
    pthread_mutex_lock(&f->leftover_mu);
    bool any = f->leftover != NULL;
    pthread_mutex_unlock(&f->leftover_mu);
    return any || f->p->left;
}

/* Every producer's line is out. (The flusher's own reports may still wait for a failing error
 * log: not a reason to keep the process alive.) */
static bool all_written(struct log_flusher *f)
{
    return f->p->held_rings == 0 && f->p->bl_lines == 0 && rings_empty(f) && !leftovers_pending(f);
}

/* How long to wait: -1 (idle: no timeout), or ms until the next batch, retry or deadline. */
static int next_timeout(struct log_flusher *f, bool moved, bool stopping, uint64_t now)
{
    struct log_flusher_priv *p = f->p;
    bool pending = p->held_rings || p->bl_total || (stopping && leftovers_pending(f));
    if (!pending && !moved && !stopping) {
        return -1;
    }
    uint64_t t = FLUSH_INTERVAL_MS;
    for (unsigned i = 0; pending && i < p->nall; i++) {
        const struct log_sink *s = &p->sinks[i];
        if ((s->bl_recs || s->held) && s->err && !s->wait_out) {
            t = MIN(t, s->retry_at_ms > now ? s->retry_at_ms - now : 0);
        }
    }
    if (stopping) {
        uint64_t g = atomic_load(&f->giveup_ms);
        t = MIN(t, g > now ? g - now : 0);
    }
    return (int)t;
}

static void drain_wake_fd(struct log_flusher *f)
{
    uint64_t v;
    ssize_t r = read(f->wake_fd, &v, sizeof(v));
    (void)r;
}

static void wait_for_work(struct log_flusher *f, int timeout)
{
    struct log_flusher_priv *p = f->p;
    int n = 0;
    p->pfd[n++] = (struct pollfd){.fd = f->wake_fd, .events = POLLIN};
    for (unsigned i = 0; i < p->nall; i++) {
        struct log_sink *s = &p->sinks[i];
        if (s->wait_out && !s->alias) {
            p->pfd_sink[n] = s;
            p->pfd[n++] = (struct pollfd){.fd = s->wfd, .events = POLLOUT};
        }
    }
    if (timeout < 0) {
        /*
         * Sleep without a timeout, race-free: publish idle, then look at the rings again. A
         * producer commits, then (nudge) fences and reads idle; with both fences one of us
         * sees the other's store, so either we see its record or it sees idle and kicks.
         */
        drain_wake_fd(f);
        atomic_store_explicit(&f->idle, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        if (!rings_empty(f) || atomic_load(&f->stop) || atomic_load(&f->reopen)) {
            atomic_store_explicit(&f->idle, 0, memory_order_relaxed);
            return;
        }
    }
    int r = poll(p->pfd, (nfds_t)n, timeout);
    atomic_store_explicit(&f->idle, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&f->wakeups, 1, memory_order_relaxed);
    for (int i = 1; r > 0 && i < n; i++) {
        if (p->pfd[i].revents) {
            p->pfd_sink[i]->wait_out = false; /* writable, or an error the write will tell */
        }
    }
    if (r > 0 && p->pfd[0].revents) {
        drain_wake_fd(f);
    }
}

static void count_src(struct log_src *src, uint64_t *lines, uint64_t *bytes)
{
    uint32_t skip = src->skip;
    for (const struct log_rec *x = log_ring_peek(src->ring); x; x = log_ring_next(src->ring, x)) {
        if (x->type != LOG_REC_PAD) {
            if (x->type != REC_SELF) {
                (*lines)++;
                *bytes += x->len - skip;
            }
            skip = 0;
        }
    }
}

/* Giving up at stop: counts what is left (rings, backlogs, leftovers). */
static void count_unwritten(struct log_flusher *f)
{
    struct log_flusher_priv *p = f->p;
    uint64_t lines = 0, bytes = 0;
    for (unsigned i = 0; i < f->nrings; i++) {
        count_src(&p->srcs[i], &lines, &bytes);
    }
    for (unsigned i = 0; i < p->nall; i++) {
        if (p->sinks[i].bl_ready) {
            count_src(&p->sinks[i].bls, &lines, &bytes);
        }
    }
    pthread_mutex_lock(&f->leftover_mu);
    uint32_t skip = p->left_skip;
    for (struct log_line *l = p->left; l; l = l->next, skip = 0) {
        lines++;
        bytes += l->len - skip;
    }
    for (struct log_line *l = f->leftover; l; l = l->next) {
        lines++;
        bytes += l->len;
    }
    pthread_mutex_unlock(&f->leftover_mu);
    atomic_store(&f->unwritten_lines, lines);
    atomic_store(&f->unwritten_bytes, bytes);
}

void *log_flusher_main(void *arg)
{
    struct log_flusher *f = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    /* by itself too: naming another thread writes /proc, which the sandbox refuses */
    pthread_setname_np(pthread_self(), "spate-log");
    t_flusher = f;
    errlog_set_thread_sink(self_line);
    for (;;) {
        bool stopping = atomic_load(&f->stop);
        bool moved = run_pass(f, log_now_ms(), stopping);
        uint64_t now = log_now_ms();
        if (stopping && all_written(f)) {
            break;
        }
        if (stopping && now >= atomic_load(&f->giveup_ms)) {
            count_unwritten(f);
            break;
        }
        wait_for_work(f, next_timeout(f, moved, stopping, now));
    }
    errlog_set_thread_sink(NULL);
    t_flusher = NULL;
    return NULL;
}
