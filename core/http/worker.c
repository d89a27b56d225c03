/* worker.c - one core's HTTP server (see worker.h). */
#include "core/http/worker.h"

#include "core/base/alloc.h"
#include "core/http/access.h"
#include "core/http/cache_fill.h"
#include "core/http/h1_write.h"
#include "core/http/h2_conf.h"
#include "core/http/hostname.h"
#include "core/http/ident.h"
#include "core/http/route.h"
#include "core/http/settings.h"
#include "core/net/plain.h"
#include "core/net/tls.h"
#include "core/net/settings.h"
#include "log/errlog.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

/* After a forced close, how long the loop waits for the kernel to finish the operations. */
#define FORCED_WAIT_MS 500
#define OUT_BLOCK_SIZE 32768

int worker_prepare(struct worker *w, unsigned id, int cpu, const struct worker_gen *gen,
                   SP_ATOMIC(uintptr_t) *gen_src, struct log_flusher *flusher, char *err,
                   size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->cpu = cpu;
    w->gen = gen;
    w->conf = gen->conf;
    w->set = http_settings(gen->conf);
    w->gen_src = gen_src;
    atomic_init(&w->gen_floor, gen->seq);
    w->flusher = flusher;
    int rc = io_loop_prepare(&w->loop);
    if (rc < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(-rc));
        return -1;
    }
    if (alog_worker_prepare(&w->log, alog_plan(gen->conf)) < 0) {
        snprintf(err, errlen, "out of memory for log rings");
        return -1;
    }
    /* made now, whether on or not: readers on other threads may look at it any time */
    if (!(w->lat = sp_calloc(1, sizeof(*w->lat)))) {
        snprintf(err, errlen, "out of memory for latency histograms");
        return -1;
    }
    return 0;
}

void worker_unprepare(struct worker *w)
{
    sp_free(w->lat);
    w->lat = NULL;
    alog_worker_free(&w->log);
    io_loop_unprepare(&w->loop);
}

/* ---------------------------------------------------------------- events from elsewhere */

static void shut(struct conn *c)
{
    c->sess->shutdown(c);
}

static void start_drain(struct worker *w)
{
    if (w->draining) {
        /* asked twice: stop waiting for in-flight responses */
        w->drain_deadline_ms = w->loop.now_ms;
        return;
    }
    w->draining = true;
    w->h1.http.draining = true;
    w->conns.draining = true;
    w->drain_deadline_ms = w->loop.now_ms + w->set->drain_timeout_ms;
    accept_stop(&w->accept);
    conn_pool_each(&w->conns, shut);
}

static void on_wake(void *arg)
{
    struct worker *w = arg;
    /* one eventfd for two senders: the log flusher (room again) and main (stop) */
    if (atomic_exchange(&w->log_space, 0)) {
        alog_on_space(&w->log);
    }
    while (w->stops_seen < atomic_load(&w->stop_requested)) {
        w->stops_seen++;
        start_drain(w); /* the second request cuts the drain short */
    }
}

void worker_request_stop(struct worker *w)
{
    atomic_fetch_add(&w->stop_requested, 1);
    io_loop_wake(&w->loop);
}

void worker_wake(struct worker *w)
{
    io_loop_wake(&w->loop);
}

uint64_t worker_gen_floor(const struct worker *w)
{
    return atomic_load_explicit(&w->gen_floor, memory_order_acquire);
}

void worker_log_space(void *arg, unsigned ring)
{
    struct worker *w = (struct worker *)arg + ring;
    atomic_store(&w->log_space, 1);
    io_loop_wake(&w->loop);
}

static void resume_blocked(struct conn *c)
{
    if ((c->sess == &h1_session && (h1_of(c)->flags & H1_BLOCKED)) ||
        (c->sess == &h2_session && h2_held_back(c))) {
        conn_schedule(c);
    }
}

/* The access log caught up (or stopped making requests wait): held-back requests go on. */
static void log_resume(void *arg)
{
    struct worker *w = arg;
    conn_pool_each(&w->conns, resume_blocked);
}

static void on_conn(void *arg, int fd, unsigned listener)
{
    struct worker *w = arg;
    const struct route_group *g = &w->h1.routes->groups[listener];
    transport_init_fn init = transport_plain_init;
    void *tr_arg = NULL;
    if (UNLIKELY(g->ssl)) {
        if (!g->tls) {
            /* never plain text on an ssl address: with no context (no certificate) to speak
             * TLS with, nothing is served */
            close(fd);
            ctr_add(&w->ctr.refused, 1);
            return;
        }
        init = transport_tls_init;
        tr_arg = g->tls;
    }
    if (UNLIKELY(http_access_at_accept(g))) {
        /* every server here has rules: a client they all refuse is closed unread */
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
            ss.ss_family = AF_UNSPEC;
        }
        if (!http_access_accept(g, &ss)) {
            close(fd);
            ctr_add(&w->ctr.denied, 1);
            http_access_log_refusal(&ss, w->loop.now_s);
            return;
        }
        struct conn *c = conn_open(&w->conns, fd, listener, init, tr_arg);
        if (c && ss.ss_family != AF_UNSPEC) {
            c->peer = ss; /* the session's own lookup is done */
            c->peer_known = true;
        }
        return;
    }
    conn_open(&w->conns, fd, listener, init, tr_arg);
}

/* ---------------------------------------------------------------- counters */

static void add_cache_stats(struct fs_cache_stats *t, const struct fs_cache *c)
{
    struct fs_cache_stats s;
    fs_cache_get_stats(c, &s);
    t->hits += s.hits;
    t->misses += s.misses;
    t->revalidations += s.revalidations;
    t->replaced += s.replaced;
    t->evictions += s.evictions;
    t->recheck_deferred += s.recheck_deferred;
    t->rejected += s.rejected;
    t->entries += s.entries;
    t->fds += s.fds;
    t->bytes += s.bytes;
}

static void worker_old_cache_stats(const struct worker *w, struct fs_cache_stats *st);

static void publish_cache(struct worker *w)
{
    struct fs_cache_stats st = w->cache_base; /* freed caches: their gauges are 0 */
    st.entries = st.fds = 0;
    st.bytes = 0;
    add_cache_stats(&st, w->fcache);
    worker_old_cache_stats(w, &st);
    ctr_set(&w->ctr.fcache_hits, st.hits);
    ctr_set(&w->ctr.fcache_misses, st.misses);
    ctr_set(&w->ctr.fcache_evictions, st.evictions);
    ctr_set(&w->ctr.fcache_entries, st.entries);
    ctr_set(&w->ctr.fcache_bytes, st.bytes);
    ctr_set(&w->ctr.fcache_rechecks, st.revalidations);
    ctr_set(&w->ctr.fcache_rejected, st.rejected);
    w->published_s = w->loop.now_s;
}

void worker_stats(const struct worker *w, struct worker_stats *o)
{
    const struct worker_counters *c = &w->ctr;
    memset(o, 0, sizeof(*o));
    o->worker = w->id;
    o->cpu = w->cpu;
    o->requests = ctr_get(&c->requests);
    for (unsigned i = 0; i < 6; i++) {
        o->responses[i] = ctr_get(&c->responses[i]);
    }
    o->bytes_in = ctr_get(&c->bytes_in);
    o->bytes_out = ctr_get(&c->bytes_out);
    o->conns_open = ctr_get(&c->conns_open);
    o->accepted = ctr_get(&w->accept.accepted);
    o->accept_errors = ctr_get(&w->accept.errors);
    o->refused = ctr_get(&c->refused);
    o->denied = ctr_get(&c->denied);
    o->closed = ctr_get(&c->closed);
    o->timeouts = ctr_get(&c->timeouts);
    o->fcache_hits = ctr_get(&c->fcache_hits);
    o->fcache_misses = ctr_get(&c->fcache_misses);
    o->fcache_evictions = ctr_get(&c->fcache_evictions);
    o->fcache_entries = ctr_get(&c->fcache_entries);
    o->fcache_bytes = ctr_get(&c->fcache_bytes);
    o->log_lines = ctr_get(&c->log_lines);
    o->log_stalls = ctr_get(&c->log_stalls);
    o->log_dropped = ctr_get(&c->log_dropped);
    o->enobufs = ctr_get(&w->tenv.enobufs);
    o->cold_reads = ctr_get(&w->tenv.reads);
    o->tls_handshakes = ctr_get(&w->tenv.tls_handshakes);
    o->tls_failed = ctr_get(&w->tenv.tls_failed);
    o->tls_resumed = ctr_get(&w->tenv.tls_resumed);
    o->tls_ktls = ctr_get(&w->tenv.tls_ktls);
    o->tls_user = ctr_get(&w->tenv.tls_user);
    o->tls_sealed = ctr_get(&w->tenv.tls_sealed);
    o->fcache_rechecks = ctr_get(&c->fcache_rechecks);
    o->fcache_rejected = ctr_get(&c->fcache_rejected);
}

/* ---------------------------------------------------------------- generations (reload) */

/* A connection whose streamed response was routed under an older generation. */
struct old_stream {
    uint32_t idx;          /* its slot */
    uint64_t id;           /* the connection (a slot is reused) */
    const struct req *req; /* the request being streamed */
};

/* An older generation this worker still uses, and what it used it with. */
struct worker_old {
    struct worker_old *next;
    const struct worker_gen *gen;
    struct fs_cache *fcache;   /* its file cache: the fills below fill it */
    struct cache_fills *fills; /* started under it: they hold its roots */
    struct old_stream *streams;
    unsigned nstreams, cap;
};

static void worker_old_cache_stats(const struct worker *w, struct fs_cache_stats *st)
{
    for (const struct worker_old *o = w->old; o; o = o->next) {
        if (o->fcache) {
            add_cache_stats(st, o->fcache);
        }
    }
}

/* What the settings of the generation in force say, applied to the worker's parts. */
static void conn_params(const struct http_settings *set, struct conn_pool_params *cp)
{
    *cp = (struct conn_pool_params){
        .max_conns = set->max_connections,
        .timeout_ms = {[CONN_T_HEADER] = set->header_timeout_ms,
                       [CONN_T_BODY] = set->body_timeout_ms,
                       [CONN_T_IDLE] = set->keepalive_timeout_ms,
                       [CONN_T_SEND] = set->send_timeout_ms,
                       [CONN_T_LINGER] = set->linger_timeout_ms},
        /* the per-request arena: the header table and copies, bounded by the head limit */
        .arena_cap = (size_t)set->limits.max_head * 4 + 65536,
        .out_block = OUT_BLOCK_SIZE,
    };
}

static void apply_net(struct worker *w)
{
    const struct net_settings *ns = net_settings(w->conf);
    w->tenv.sendfile_chunk = ns->sendfile_chunk;
    w->tenv.use_sendfile = ns->sendfile;
    w->tenv.cold_reads = ns->cold_reads;
}

static void apply_http(struct worker *w)
{
    const struct http_settings *set = w->set;
    w->h1.set = set;
    w->h1.routes = route_table(w->conf);
    w->h1.http.fcache = w->fcache;
    w->h1.http.fills = w->fills;
    w->h1.http.trace = set->trace;
    w->h1.http.max_body = set->max_body;
    /* the fine clock runs for the log's durations and for the histograms; off, no cost */
    bool locs = latency_attach(w->h1.routes, w->id);
    w->h1.http.lat = set->latency ? w->lat : NULL;
    w->loop.precise_clock = w->flusher != NULL || set->latency || locs;
    h2_env_retune(&w->h2, h2_settings_of(w->conf));
}

/* A file cache (and its fills) for settings set: 0, or -ENOMEM with nothing made. */
static int new_cache(struct worker *w, const struct http_settings *set, struct fs_cache **cache,
                     struct cache_fills **fills)
{
    *fills = NULL;
    *cache = fs_cache_new(&set->file_cache, &h1_entity_hooks);
    if (!*cache) {
        return -ENOMEM;
    }
    if (set->file_cache.enabled && set->cache_loads) {
        *fills = cache_fills_new(&w->loop, *cache, set->cache_loads);
        if (!*fills) {
            fs_cache_free(*cache);
            *cache = NULL;
            return -ENOMEM;
        }
    }
    return 0;
}

struct switch_pass {
    struct worker_old *old;
    const int *to; /* per listen group of the old generation: its index in the new, or -1 */
    unsigned nfrom;
    bool oom;
};

/* Under the old generation still: note its streams, retire what arrived on removed addresses,
 * and give each connection its listen group's index in the new generation. */
static void switch_conn(struct conn *c, void *arg)
{
    struct switch_pass *x = arg;
    struct h1_conn *h = h1_of(c);
    bool h2 = c->sess == &h2_session;
    if (h2 ? h2_busy(c) : h->stream != NULL) {
        struct worker_old *o = x->old;
        if (o->nstreams == o->cap) {
            unsigned ncap = o->cap ? o->cap * 2 : 16;
            struct old_stream *n = sp_realloc(o->streams, ncap * sizeof(*n));
            if (!n) {
                x->oom = true; /* cannot track it: the connection goes, not the old memory */
                conn_abort(c);
                return;
            }
            o->streams = n;
            o->cap = ncap;
        }
        /* an HTTP/2 connection's streams are routed under the old generation until they end */
        o->streams[o->nstreams++] = (struct old_stream){c->idx, c->id, h2 ? NULL : h->stream};
    }
    int to = c->listener < x->nfrom ? x->to[c->listener] : -1;
    if (h2) {
        h2_retire(c); /* GOAWAY: its client opens a new connection under the new generation */
    } else if (to < 0) {
        h1_retire(c); /* its address is gone: finish what is queued, then close */
    }
    if (to < 0) {
        to = 0; /* never routed again; an index that exists */
    }
    c->listener = (uint16_t)to;
}

/* The acceptors follow the new generation's addresses (the old ones' indices are x->to). */
static void switch_accept(struct worker *w, const struct worker_gen *from,
                          const struct worker_gen *g, const int *to)
{
    /* an acceptor's key is its socket's slot in its worker_listen, which a kept address keeps */
    for (unsigned i = 0; i < from->nlisten; i++) {
        const struct worker_listen *l = from->listen[i];
        for (unsigned k = w->id - 1; k < l->nfds; k += l->nworkers) {
            struct acceptor *a = accept_find(&w->accept, &l->fds[k]);
            if (!a) {
                continue;
            }
            if (to[i] < 0) {
                accept_remove(&w->accept, a);
            } else {
                accept_set_index(a, (unsigned)to[i]);
            }
        }
    }
    for (unsigned j = 0; j < g->nlisten; j++) {
        const struct worker_listen *l = g->listen[j];
        for (unsigned k = w->id - 1; k < l->nfds; k += l->nworkers) {
            if (!accept_find(&w->accept, &l->fds[k]) &&
                !accept_add(&w->accept, l->fds[k], j, &l->fds[k])) {
                errlog(ERRLOG_ERROR, "reload: out of memory: worker %u misses a new address",
                       w->id);
            }
        }
    }
}

static bool same_cache_settings(const struct http_settings *a, const struct http_settings *b)
{
    const struct fs_cache_limits *x = &a->file_cache, *y = &b->file_cache;
    return x->enabled == y->enabled && x->max_entries == y->max_entries &&
           x->max_bytes == y->max_bytes && x->small_max == y->small_max &&
           x->max_fds == y->max_fds && x->valid_ms == y->valid_ms &&
           x->negative_ms == y->negative_ms && a->cache_loads == b->cache_loads;
}

/* At a turn boundary: the worker takes up generation g. */
static void switch_gen(struct worker *w, const struct worker_gen *g)
{
    const struct worker_gen *from = w->gen;
    const struct http_settings *set = http_settings(g->conf);
    struct worker_old *o = sp_calloc(1, sizeof(*o));
    int *to = sp_calloc(from->nlisten ? from->nlisten : 1, sizeof(*to));
    struct fs_cache *cache = NULL;
    struct cache_fills *fills = NULL;
    /*
     * The file cache stays when its settings do and no load is in flight (a load holds the old
     * generation's root): entries are keyed by root ids that name one directory for the life
     * of the process (files.c), so an unchanged root stays warm and a changed one, having a
     * new id, is never answered from the old entries (they age out).
     */
    bool keep = same_cache_settings(w->set, set) && cache_fills_idle(w->fills);
    if (keep) {
        cache = w->fcache;
        fills = w->fills;
    }
    if (!o || !to || (!keep && new_cache(w, set, &cache, &fills) < 0)) {
        sp_free(o);
        sp_free(to);
        if (!w->switch_failed) {
            /* nothing changed yet: the previous configuration stays, the next turn retries */
            errlog(ERRLOG_ERROR, "reload: worker %u is out of memory, retrying", w->id);
            w->switch_failed = true;
        }
        return;
    }
    w->switch_failed = false;
    for (unsigned i = 0; i < from->nlisten; i++) {
        to[i] = -1;
        for (unsigned j = 0; j < g->nlisten; j++) {
            if (g->listen[j] == from->listen[i]) {
                to[i] = (int)j;
            }
        }
    }
    o->gen = from;
    o->fcache = keep ? NULL : w->fcache;
    o->fills = keep ? NULL : w->fills;
    struct switch_pass x = {o, to, from->nlisten, false};
    conn_pool_each_arg(&w->conns, switch_conn, &x);
    if (x.oom) {
        errlog(ERRLOG_ERROR, "reload: out of memory: streamed responses were cut short");
    }
    switch_accept(w, from, g, to);
    sp_free(to);
    /* from here on, everything new is the new generation's */
    w->gen = g;
    w->conf = g->conf;
    w->set = set;
    w->fcache = cache;
    w->fills = fills;
    apply_http(w);
    apply_net(w);
    alog_worker_replan(&w->log, alog_plan(g->conf));
    struct conn_pool_params cp;
    conn_params(set, &cp);
    conn_pool_retune(&w->conns, &cp);
    struct worker_old **tail = &w->old;
    while (*tail) {
        tail = &(*tail)->next;
    }
    *tail = o;
    errlog(ERRLOG_INFO, "worker %u: configuration %llu in force", w->id,
           (unsigned long long)g->seq);
}

static bool stream_done(const struct worker *w, const struct old_stream *s)
{
    if (s->idx >= w->conns.nslots) {
        return true;
    }
    struct conn *c = w->conns.slots[s->idx];
    if (c->pool && c->id == s->id && c->sess == &h2_session) {
        return !h2_busy(c);
    }
    return !c->pool || c->id != s->id || h1_of(c)->stream != s->req;
}

static void free_old(struct worker *w, struct worker_old *o)
{
    struct fs_cache_stats st = {0};
    if (o->fcache) {
        add_cache_stats(&st, o->fcache);
    }
    w->cache_base.hits += st.hits;
    w->cache_base.misses += st.misses;
    w->cache_base.revalidations += st.revalidations;
    w->cache_base.replaced += st.replaced;
    w->cache_base.evictions += st.evictions;
    w->cache_base.recheck_deferred += st.recheck_deferred;
    w->cache_base.rejected += st.rejected;
    cache_fills_free(o->fills);
    fs_cache_free(o->fcache); /* entries still being sent live on until released */
    sp_free(o->streams);
    sp_free(o);
}

/* After each turn while older generations are in use: let go of those nothing uses. */
static void release_old(struct worker *w)
{
    struct worker_old **pp = &w->old;
    while (*pp) {
        struct worker_old *o = *pp;
        unsigned k = 0;
        while (k < o->nstreams) {
            if (stream_done(w, &o->streams[k])) {
                o->streams[k] = o->streams[--o->nstreams];
            } else {
                k++;
            }
        }
        /* a removed address's accept that has not ended yet belongs to an older generation */
        if (o->nstreams == 0 && cache_fills_idle(o->fills) && w->accept.removing == 0) {
            *pp = o->next;
            free_old(w, o);
        } else {
            pp = &o->next;
        }
    }
    uint64_t floor = w->gen->seq;
    for (const struct worker_old *o = w->old; o; o = o->next) {
        floor = MIN(floor, o->gen->seq);
    }
    if (floor != atomic_load_explicit(&w->gen_floor, memory_order_relaxed)) {
        atomic_store_explicit(&w->gen_floor, floor, memory_order_release);
    }
}

static bool old_fills_idle(const struct worker *w)
{
    for (const struct worker_old *o = w->old; o; o = o->next) {
        if (!cache_fills_idle(o->fills)) {
            return false;
        }
    }
    return true;
}

/* Once per turn: a new generation published? (one acquire load when there is none) */
static void check_gen(struct worker *w)
{
    uintptr_t cur = atomic_load_explicit(w->gen_src, memory_order_acquire);
    if (UNLIKELY(cur != (uintptr_t)w->gen)) {
        switch_gen(w, (const struct worker_gen *)cur);
    }
    if (UNLIKELY(w->old != NULL)) {
        release_old(w);
    }
}

/* ---------------------------------------------------------------- life */

int worker_init(struct worker *w)
{
    const struct http_settings *set = w->set;
    struct io_loop_params lp = IO_LOOP_PARAMS_DEFAULT;
    char err[200];
    int rc = io_loop_init(&w->loop, &lp, err, sizeof(err));
    if (rc < 0) {
        snprintf(w->init_err, sizeof(w->init_err), "%s", err);
        return rc;
    }
    w->loop.precise_clock = w->flusher != NULL; /* apply_http may add the histograms' need */
    io_loop_clock(&w->loop);
    io_loop_on_wake(&w->loop, on_wake, w);
    w->tenv.loop = &w->loop;
    w->tenv.cachestat_ok = true;
    apply_net(w);
    if (new_cache(w, set, &w->fcache, &w->fills) < 0 ||
        h1_env_init(&w->h1, set, route_table(w->conf), &w->log) < 0 ||
        h2_env_init(&w->h2, &w->h1, h2_settings_of(w->conf)) < 0) {
        snprintf(w->init_err, sizeof(w->init_err), "out of memory");
        return -ENOMEM;
    }
    w->h1.http.loop = &w->loop;
    w->h1.http.worker = w->id;
    apply_http(w);
    io_loop_clock(&w->loop);
    struct conn_pool_params cp;
    conn_params(set, &cp);
    accept_set_init(&w->accept, &w->loop, on_conn, w);
    if (conn_pool_init(&w->conns, &w->loop, &w->tenv, &h1_session, &w->h1, &w->ctr, &cp) < 0) {
        snprintf(w->init_err, sizeof(w->init_err), "out of memory");
        return -ENOMEM;
    }
    w->conns.h2 = &h2_session; /* h2c prior knowledge and ALPN h2 switch to it */
    for (unsigned g = 0; g < w->gen->nlisten; g++) {
        const struct worker_listen *l = w->gen->listen[g];
        for (unsigned k = w->id - 1; k < l->nfds; k += l->nworkers) {
            if (!accept_add(&w->accept, l->fds[k], g, &l->fds[k])) {
                snprintf(w->init_err, sizeof(w->init_err), "out of memory");
                return -ENOMEM;
            }
        }
    }
    alog_worker_start(&w->log, w->flusher, &w->loop, &w->ctr, w->id, log_resume, w);
    accept_start(&w->accept);
    rc = io_loop_submit(&w->loop);
    if (rc < 0) {
        snprintf(w->init_err, sizeof(w->init_err), "io_uring_submit: %s", strerror(-rc));
        return rc;
    }
    publish_cache(w);
    return 0;
}

static uint64_t wake_by(const struct worker *w)
{
    uint64_t d = MIN(accept_deadline(&w->accept), alog_deadline(&w->log));
    if (w->draining) {
        d = MIN(d, w->forced ? w->drain_deadline_ms + FORCED_WAIT_MS : w->drain_deadline_ms);
    }
    return d;
}

static void force_close(struct conn *c)
{
    conn_abort(c);
}

void worker_run(struct worker *w)
{
    errlog(ERRLOG_INFO, "worker %u on cpu %d, io_uring %s", w->id, w->cpu, w->loop.mode);
    for (;;) {
        io_loop_run_deferred(&w->loop);
        if (w->draining && w->conns.nconns == 0 && accept_quiet(&w->accept) &&
            cache_fills_idle(w->fills) && old_fills_idle(w)) {
            break;
        }
        if (w->draining && !w->forced && w->loop.now_ms >= w->drain_deadline_ms) {
            errlog(ERRLOG_WARN, "drain timeout: closing %u connection(s) with responses in flight",
                   w->conns.nconns);
            conn_pool_each(&w->conns, force_close);
            w->forced = true;
            continue;
        }
        if (w->forced && w->loop.now_ms >= w->drain_deadline_ms + FORCED_WAIT_MS) {
            break; /* kernel operations refuse to finish: give up, exiting tears them down */
        }
        if (io_loop_wait(&w->loop, wake_by(w)) < 0) {
            break;
        }
        check_gen(w);
        accept_tick(&w->accept);
        alog_turn(&w->log);
        if (w->loop.now_s != w->published_s) {
            publish_cache(w);
        }
    }
}

void worker_fini(struct worker *w)
{
    /* what the kernel may still write into stays allocated (exiting frees it) */
    bool stuck =
        conn_pool_in_flight(&w->conns) || !cache_fills_idle(w->fills) || !old_fills_idle(w);
    if (w->fcache) {
        publish_cache(w);
    }
    io_loop_fini(&w->loop);
    conn_pool_fini(&w->conns, stuck);
    tls_env_fini(&w->tenv);
    accept_set_fini(&w->accept);
    ident_worker_exit(stuck); /* lines still waiting for ident go out before the log stops */
    hostname_worker_exit(stuck);
    alog_worker_stop(&w->log);
    if (!stuck) {
        h1_env_fini(&w->h1);
        h2_env_fini(&w->h2);
        cache_fills_free(w->fills);
        fs_cache_free(w->fcache);
        while (w->old) {
            struct worker_old *o = w->old;
            w->old = o->next;
            free_old(w, o);
        }
    }
    w->fcache = NULL;
    w->fills = NULL;
}
