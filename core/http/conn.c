/*
 * conn.c - connection lifetime: slots, guards, timers, graceful close (see conn.h).
 *
 * The transport raises its events inside its own guard (net/plain.c enter/
 * leave) and says when the last operation of an aborted connection ended
 * (release); the connection's own entry points, deferred work and timers,
 * hold a guard here. So a connection aborted deep inside a session callback
 * is freed only on the way out, never under the callback's feet.
 */
#include "core/http/conn.h"

#include "core/base/alloc.h"
#include "log/errlog.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static struct conn *of(struct transport *t)
{
    return container_of(t, struct conn, tr);
}

/* ---------------------------------------------------------------- freeing */

static void conn_free(struct conn *c)
{
    struct conn_pool *p = c->pool;
    timer_cancel(&c->timer);
    c->sess->close(c); /* logs what never finished, with the bytes that did go out */
    outq_free(c->tr.out);
    c->tr.out = NULL;
    c->tr.ops->close(&c->tr);
    arena_release(&c->arena);
    p->nconns--;
    ctr_set(&p->ctr->conns_open, p->nconns);
    ctr_add(&p->ctr->closed, 1);
    c->flags = 0;
    c->pool = NULL;
    /* free list threaded through the ready node (unused while the slot is free) */
    c->ready.next = (struct io_defer *)(uintptr_t)p->free_head;
    p->free_head = c->idx;
}

/* Frees c once it is dead and nothing of it is in flight or scheduled. */
static void maybe_free(struct conn *c)
{
    if ((c->flags & CONN_DEAD) && !transport_busy(&c->tr) && !c->ready.queued) {
        conn_free(c);
    }
}

void conn_unhold(struct conn *c)
{
    transport_unhold(&c->tr);
    maybe_free(c);
}

void conn_abort(struct conn *c)
{
    if (c->flags & CONN_DEAD) {
        return;
    }
    c->flags |= CONN_DEAD;
    timer_cancel(&c->timer);
    c->tr.ops->abort(&c->tr);
    maybe_free(c);
}

void conn_close_graceful(struct conn *c, bool linger)
{
    if (c->flags & CONN_DEAD) {
        return;
    }
    if (c->flags & CONN_EOF) {
        conn_abort(c);
        return;
    }
    /* with linger off the receive ends at once (eof); the timer only guards that */
    c->tr.ops->shutdown(&c->tr, !linger);
    c->flags |= CONN_LINGER;
    conn_timer(c, CONN_T_LINGER);
    c->tr.ops->read_start(&c->tr); /* read (and drop) until the client's FIN */
}

/* ---------------------------------------------------------------- transport events */

static void ev_data(struct transport *t, const char *p, size_t n)
{
    struct conn *c = of(t);
    ctr_add(&c->pool->ctr->bytes_in, n);
    if (c->flags & (CONN_DEAD | CONN_LINGER)) {
        return; /* lingering: whatever the client still sends is dropped */
    }
    c->sess->data(c, p, n);
}

static void ev_eof(struct transport *t)
{
    struct conn *c = of(t);
    c->flags |= CONN_EOF;
    if (c->flags & CONN_LINGER) {
        conn_abort(c);
        return;
    }
    c->sess->eof(c);
}

static void ev_error(struct transport *t, int err)
{
    (void)err;
    conn_abort(of(t));
}

static void ev_sent(struct transport *t, uint64_t n)
{
    struct conn *c = of(t);
    ctr_add(&c->pool->ctr->bytes_out, n);
    c->sess->sent(c, n);
}

static void ev_drained(struct transport *t)
{
    struct conn *c = of(t);
    if (!(c->flags & (CONN_DEAD | CONN_LINGER))) {
        c->sess->drained(c);
    }
}

static void ev_release(struct transport *t)
{
    maybe_free(of(t));
}

/* The TLS handshake is done: ALPN may have chosen HTTP/2 (offered only where it is on). */
static void ev_secured(struct transport *t)
{
    struct conn *c = of(t);
    if (c->flags & CONN_DEAD) {
        return;
    }
    struct slice proto = t->ops->alpn ? t->ops->alpn(t) : SLICE_NULL;
    if (c->pool->h2 && slice_eq(proto, SLICE_LIT("h2"))) {
        conn_switch(c, c->pool->h2, NULL, 0);
    }
}

static const struct transport_events conn_events = {
    .data = ev_data,
    .eof = ev_eof,
    .error = ev_error,
    .sent = ev_sent,
    .drained = ev_drained,
    .release = ev_release,
    .secured = ev_secured,
};

/* ---------------------------------------------------------------- deferred work, timers */

static void on_ready(struct io_defer *d)
{
    struct conn *c = container_of(d, struct conn, ready);
    conn_hold(c);
    if (!(c->flags & CONN_DEAD)) {
        c->sess->resume(c);
    }
    conn_unhold(c);
}

void conn_schedule(struct conn *c)
{
    io_defer(c->pool->loop, &c->ready);
}

static void on_timer(struct timer_list *l, struct timer_node *n)
{
    struct conn *c = container_of(n, struct conn, timer);
    struct conn_pool *p = l->owner;
    ctr_add(&p->ctr->timeouts, 1);
    conn_hold(c);
    if (l->kind == CONN_T_LINGER) {
        conn_abort(c);
    } else if (!(c->flags & CONN_DEAD)) {
        c->sess->timeout(c, l->kind);
    }
    conn_unhold(c);
}

void conn_timer(struct conn *c, enum conn_timer kind)
{
    timer_arm(&c->pool->timers[kind], &c->timer, c->pool->loop->now_ms);
}

int conn_timer_kind(const struct conn *c)
{
    return c->timer.list ? c->timer.list->kind : -1;
}

void conn_timer_cancel(struct conn *c)
{
    timer_cancel(&c->timer);
}

/* ---------------------------------------------------------------- the rest */

struct outq *conn_outq(struct conn *c)
{
    if (LIKELY(c->tr.out != NULL)) {
        return c->tr.out;
    }
    c->tr.out = outq_new(&c->pool->out_pool);
    return c->tr.out;
}

void conn_outq_release(struct conn *c)
{
    if (c->tr.out && c->tr.out->count == 0) {
        outq_free(c->tr.out); /* back to the pool: idle connections hold no block */
        c->tr.out = NULL;
    }
}

const struct sockaddr_storage *conn_peer(struct conn *c)
{
    if (!c->peer_known) {
        c->peer_known = true;
        if (c->tr.ops->peer(&c->tr, &c->peer) < 0) {
            c->peer.ss_family = AF_UNSPEC;
        }
    }
    return c->peer.ss_family == AF_UNSPEC ? NULL : &c->peer;
}

/* Bytes of a slot: the connection and the larger session's state after it. */
static size_t slot_size(const struct conn_pool *p)
{
    size_t n = p->sess->size;
    return p->h2 && p->h2->size > n ? p->h2->size : n;
}

/* A free slot (reused, or a new one); NULL when memory ran out. */
static struct conn *take_slot(struct conn_pool *p)
{
    if (p->free_head != UINT32_MAX) {
        struct conn *c = p->slots[p->free_head];
        p->free_head = (uint32_t)(uintptr_t)c->ready.next;
        return c;
    }
    if (p->nslots == p->cap) {
        uint32_t ncap = p->cap ? p->cap * 2 : 1024;
        struct conn **ns = sp_realloc(p->slots, ncap * sizeof(*ns));
        if (!ns) {
            return NULL;
        }
        p->slots = ns;
        p->cap = ncap;
    }
    struct conn *c = sp_calloc(1, slot_size(p));
    if (!c) {
        return NULL;
    }
    c->idx = p->nslots;
    p->slots[p->nslots++] = c;
    return c;
}

struct conn *conn_open(struct conn_pool *p, int fd, unsigned listener, transport_init_fn init,
                       void *arg)
{
    struct conn *c = NULL;
    /* not refused while draining: one the listener accepted as the drain began (a binary
     * upgrade's old process, sharing its sockets with the new one) is served, with
     * Connection: close, rather than reset */
    if (p->nconns >= p->max_conns || !(c = take_slot(p))) {
        close(fd);
        ctr_add(&p->ctr->refused, 1);
        return NULL;
    }
    /* the io_ops keep their generations across uses (the transport's init retires them) */
    struct transport keep = c->tr;
    uint32_t idx = c->idx;
    memset(c, 0, slot_size(p));
    c->tr = keep;
    c->idx = idx;
    c->pool = p;
    c->sess = p->sess;
    c->listener = (uint16_t)listener;
    c->id = ++p->next_id;
    c->ready.fn = on_ready;
    init(&c->tr, fd, p->tenv, &conn_events, arg);
    c->tr.id = c->id;
    arena_init(&c->arena, &p->arena_pool, p->arena_cap);
    p->nconns++;
    ctr_set(&p->ctr->conns_open, p->nconns);
    c->sess->open(c);
    return c;
}

void conn_switch(struct conn *c, const struct session_ops *s, const char *p, size_t n)
{
    memset((char *)c + sizeof(struct conn), 0, slot_size(c->pool) - sizeof(struct conn));
    c->sess = s;
    s->open(c);
    if (n && !(c->flags & CONN_DEAD)) {
        s->data(c, p, n);
    }
}

void conn_pool_each(struct conn_pool *p, void (*fn)(struct conn *c))
{
    for (uint32_t i = 0; i < p->nslots; i++) {
        struct conn *c = p->slots[i];
        if (c->pool && !(c->flags & CONN_DEAD)) {
            conn_hold(c);
            fn(c);
            conn_unhold(c);
        }
    }
}

void conn_pool_each_arg(struct conn_pool *p, void (*fn)(struct conn *c, void *arg), void *arg)
{
    for (uint32_t i = 0; i < p->nslots; i++) {
        struct conn *c = p->slots[i];
        if (c->pool && !(c->flags & CONN_DEAD)) {
            conn_hold(c);
            fn(c, arg);
            conn_unhold(c);
        }
    }
}

bool conn_pool_in_flight(const struct conn_pool *p)
{
    for (uint32_t i = 0; i < p->nslots; i++) {
        if (p->slots[i]->pool && p->slots[i]->tr.pending) {
            return true;
        }
    }
    return false;
}

int conn_pool_init(struct conn_pool *p, struct io_loop *l, struct transport_env *tenv,
                   const struct session_ops *sess, void *env,
                   struct worker_counters *ctr, const struct conn_pool_params *params)
{
    memset(p, 0, sizeof(*p));
    p->loop = l;
    p->tenv = tenv;
    p->sess = sess;
    p->env = env;
    p->ctr = ctr;
    p->free_head = UINT32_MAX;
    p->max_conns = params->max_conns;
    p->arena_cap = params->arena_cap;
    block_pool_init(&p->out_pool, params->out_block, 1024);
    arena_pool_init(&p->arena_pool, 4096, 4096);
    for (unsigned k = 0; k < CONN_T__COUNT; k++) {
        timer_list_init(&p->timers[k], params->timeout_ms[k], (uint8_t)k);
        p->timers[k].fired = on_timer;
        p->timers[k].owner = p;
        io_loop_add_timers(l, &p->timers[k]);
    }
    return 0;
}

void conn_pool_retune(struct conn_pool *p, const struct conn_pool_params *params)
{
    p->max_conns = params->max_conns;
    p->arena_cap = params->arena_cap;
    for (unsigned k = 0; k < CONN_T__COUNT; k++) {
        struct timer_list *l = &p->timers[k];
        uint32_t was = l->duration_ms, now = params->timeout_ms[k];
        if (was == now) {
            continue;
        }
        /*
         * Every node on a list was armed with the list's duration, so its deadline minus the
         * old duration is when it was armed: moving each by the same difference keeps the list
         * sorted, and each timer counts from when it was armed, with the new duration.
         */
        for (struct timer_node *n = l->head.next; n != &l->head; n = n->next) {
            n->deadline_ms = n->deadline_ms - was + now;
        }
        l->duration_ms = now;
    }
}

void conn_pool_fini(struct conn_pool *p, bool stuck)
{
    if (stuck) {
        /* the kernel may still write into these connections' buffers as it cancels their
         * operations after the ring is gone: leave that memory to the process exit */
        errlog(ERRLOG_WARN, "exiting with operations still in flight");
        return;
    }
    for (uint32_t i = 0; i < p->nslots; i++) {
        struct conn *c = p->slots[i];
        if (c->pool) {
            c->flags |= CONN_DEAD;
            c->tr.pending = 0;
            c->ready.queued = false;
            c->tr.rearm.queued = c->tr.resume.queued = false;
            conn_free(c);
        }
        sp_free(c);
    }
    sp_free(p->slots);
    p->slots = NULL;
    p->nslots = p->cap = 0;
    arena_pool_destroy(&p->arena_pool);
    block_pool_destroy(&p->out_pool);
}
