/* h1_pace.c - see h1_pace.h. */
#include "core/http/h1_pace.h"

#include "core/base/alloc.h"
#include "core/io/loop.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

/*
 * Heap memory, not the request's arena: the timer may complete after the connection (and its
 * arena) is gone. Then `r` is NULL (abort) and the completion frees it.
 */
struct pace {
    struct io_sleep sleep;
    struct req *r;
    struct h1_conn *h;
    uint64_t rate, after;
    uint64_t start_ms;
    uint64_t pushed; /* body bytes queued */
    unsigned piece;  /* the next piece, and the bytes of it already queued */
    uint64_t piece_off;
    bool armed;
    struct pace *prev, *next; /* among the worker's orphans (r == NULL, timer in flight) */
};

/*
 * Paces whose connection went while their timer ran: freed by the timer's completion, or when
 * the thread ends if the ring went first (a worker that stops does not wait for its timers).
 */
static _Thread_local struct pace *orphans;
static pthread_key_t orphans_key;
static pthread_once_t orphans_once = PTHREAD_ONCE_INIT;

static void orphans_free(void *arg)
{
    (void)arg;
    while (orphans) {
        struct pace *p = orphans;
        orphans = p->next;
        sp_free(p);
    }
}

static void orphans_key_make(void)
{
    (void)pthread_key_create(&orphans_key, orphans_free);
}

static void orphan(struct pace *p)
{
    (void)pthread_once(&orphans_once, orphans_key_make);
    (void)pthread_setspecific(orphans_key, (void *)1); /* the destructor runs at thread exit */
    p->prev = NULL;
    p->next = orphans;
    if (orphans) {
        orphans->prev = p;
    }
    orphans = p;
}

static void unorphan(struct pace *p)
{
    if (p->prev) {
        p->prev->next = p->next;
    } else {
        orphans = p->next;
    }
    if (p->next) {
        p->next->prev = p->prev;
    }
}

/* The bytes one tick lets in: an eighth of a second's worth (at least 1, at most 256 KiB). */
static uint64_t tick_bytes(const struct pace *p)
{
    uint64_t n = p->rate / 8;
    return n < 1 ? 1 : n > (256u << 10) ? 256u << 10 : n;
}

/* Queues up to n bytes of the body; returns the bytes queued (less when the queue is full). */
static uint64_t push(struct pace *p, struct outq *q, uint64_t n)
{
    const struct resp *s = &p->r->resp;
    uint64_t done = 0;
    while (done < n && p->piece < s->npieces && outq_free_segs(q) > 2) {
        const struct resp_piece *pc = &s->pieces[p->piece];
        uint64_t len = MIN(pc->len - p->piece_off, n - done);
        if (!pc->ptr) {
            outq_push_file(q, pc->ref, pc->off + p->piece_off, len);
        } else if (pc->ref) {
            outq_push_mem(q, pc->ptr + p->piece_off, (size_t)len, pc->ref);
        } else {
            /* memory nothing keeps alive: copied, as the writer does */
            char *dst = outq_reserve(q, (size_t)len);
            if (dst) {
                memcpy(dst, pc->ptr + p->piece_off, (size_t)len);
                outq_commit(q, (size_t)len);
            } else {
                char *own = sp_malloc((size_t)len);
                if (!own) {
                    break;
                }
                memcpy(own, pc->ptr + p->piece_off, (size_t)len);
                outq_push_owned(q, own, (size_t)len);
            }
        }
        done += len;
        p->piece_off += len;
        if (p->piece_off == pc->len) {
            p->piece++;
            p->piece_off = 0;
        }
    }
    p->pushed += done;
    p->h->queued += done;
    return done;
}

/* The body is queued: the response ends as a stream does (its record gets its end). */
static void finish(struct pace *p)
{
    struct h1_conn *h = p->h;
    struct req *r = p->r;
    for (uint32_t i = 0; h->trk && i < h->trk->count; i++) {
        struct h1_rec *x = &h->trk->recs[(h->trk->head + i) % H1_RECS];
        if (x->end == UINT64_MAX) {
            x->end = h->queued;
        }
    }
    h->stream = NULL;
    h->stream_waits = false;
    r->resp.stream = NULL;
    r->resp.stream_arg = NULL;
    sp_free(p);
    conn_schedule(&h->c);
}

static void on_tick(struct io_op *op, int res, unsigned flags);

/* Queues what the rate allows by now; arms the timer for the rest, or waits for room. */
static void run(struct pace *p)
{
    struct h1_conn *h = p->h;
    struct io_loop *l = p->r->env->loop;
    struct outq *q = conn_outq(&h->c);
    if (!q) {
        conn_abort(&h->c); /* no memory for the queue: as the writer does */
        return;
    }
    uint64_t total = p->r->resp.length;
    uint64_t elapsed = l->now_ms - p->start_ms;
    uint64_t allowed = p->after + p->rate * elapsed / 1000u;
    if (allowed > total) {
        allowed = total;
    }
    h->stream_waits = false;
    if (allowed > p->pushed) {
        uint64_t want = allowed - p->pushed;
        if (push(p, q, want) < want) {
            h->stream_waits = true; /* the queue is full: writable() comes once it has room */
        }
        conn_schedule(&h->c);
    }
    if (p->pushed >= total) {
        finish(p);
        return;
    }
    if (h->stream_waits) {
        return;
    }
    /* the time at which one more tick's worth is allowed */
    uint64_t target = MIN(p->pushed + tick_bytes(p), total) - p->after;
    uint64_t due = p->start_ms + (target * 1000u + p->rate - 1) / p->rate;
    uint64_t ms = due > l->now_ms ? due - l->now_ms : 1;
    io_op_init(&p->sleep.op, on_tick);
    io_sleep(l, &p->sleep, MIN(ms, (uint64_t)1000));
    p->armed = true;
}

static void on_tick(struct io_op *op, int res, unsigned flags)
{
    (void)res, (void)flags;
    struct pace *p = container_of(op, struct pace, sleep.op);
    p->armed = false;
    if (!p->r) {
        unorphan(p);
        sp_free(p); /* the connection went while the timer ran */
        return;
    }
    if (conn_dead(&p->h->c)) {
        return; /* its close aborts the stream (pace_abort) */
    }
    run(p);
}

static void pace_writable(struct req *r)
{
    struct pace *p = r->resp.stream_arg;
    if (p && !p->armed) {
        run(p);
    }
}

static void pace_abort(struct req *r)
{
    struct pace *p = r->resp.stream_arg;
    r->resp.stream_arg = NULL;
    if (!p) {
        return;
    }
    if (p->armed) {
        p->r = NULL;
        orphan(p);
        io_cancel(r->env->loop, &p->sleep.op); /* on_tick frees it */
        return;
    }
    sp_free(p);
}

static const struct resp_stream_ops pace_ops = {pace_writable, pace_abort};

int h1_pace_start(struct h1_conn *h, struct req *r, uint64_t rate, uint64_t after)
{
    struct pace *p = sp_calloc(1, sizeof(*p));
    if (!p) {
        return -ENOMEM;
    }
    p->r = r;
    p->h = h;
    p->rate = rate;
    p->after = after;
    p->start_ms = r->env->loop->now_ms;
    r->resp.stream = &pace_ops;
    r->resp.stream_arg = p;
    h->stream = r;
    h->stream_waits = false;
    run(p);
    return 0;
}
