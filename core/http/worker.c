/* worker.c - one core's HTTP server (see worker.h). */
#include "core/http/worker.h"

#include "core/http/cache_fill.h"
#include "core/http/h1_write.h"
#include "core/http/route.h"
#include "core/http/settings.h"
#include "core/net/plain.h"
#include "core/net/settings.h"
#include "log/errlog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* After a forced close, how long the loop waits for the kernel to finish the operations. */
#define FORCED_WAIT_MS 500
#define OUT_BLOCK_SIZE 32768

int worker_prepare(struct worker *w, unsigned id, int cpu, const struct conf *c, const int *lfds,
                   unsigned nlisten, struct log_flusher *flusher, char *err, size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->cpu = cpu;
    w->conf = c;
    w->set = http_settings(c);
    w->lfds = lfds;
    w->nlisten = nlisten;
    w->flusher = flusher;
    int rc = io_loop_prepare(&w->loop);
    if (rc < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(-rc));
        return -1;
    }
    if (alog_worker_prepare(&w->log, alog_plan(c)) < 0) {
        snprintf(err, errlen, "out of memory for log rings");
        return -1;
    }
    return 0;
}

void worker_unprepare(struct worker *w)
{
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

void worker_log_space(void *arg, unsigned ring)
{
    struct worker *w = (struct worker *)arg + ring;
    atomic_store(&w->log_space, 1);
    io_loop_wake(&w->loop);
}

static void resume_blocked(struct conn *c)
{
    if (h1_of(c)->flags & H1_BLOCKED) {
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
    conn_open(&w->conns, fd, listener);
}

/* ---------------------------------------------------------------- counters */

static void publish_cache(struct worker *w)
{
    struct fs_cache_stats st;
    fs_cache_get_stats(w->fcache, &st);
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
    o->fcache_rechecks = ctr_get(&c->fcache_rechecks);
    o->fcache_rejected = ctr_get(&c->fcache_rejected);
}

/* ---------------------------------------------------------------- life */

int worker_init(struct worker *w)
{
    const struct http_settings *set = w->set;
    const struct net_settings *ns = net_settings(w->conf);
    struct io_loop_params lp = IO_LOOP_PARAMS_DEFAULT;
    char err[200];
    int rc = io_loop_init(&w->loop, &lp, err, sizeof(err));
    if (rc < 0) {
        snprintf(w->init_err, sizeof(w->init_err), "%s", err);
        return rc;
    }
    w->loop.precise_clock = w->flusher != NULL;
    io_loop_clock(&w->loop);
    io_loop_on_wake(&w->loop, on_wake, w);
    w->tenv.loop = &w->loop;
    w->tenv.sendfile_chunk = ns->sendfile_chunk;
    w->tenv.use_sendfile = ns->sendfile;
    w->tenv.cold_reads = ns->cold_reads;
    w->tenv.cachestat_ok = true;
    w->fcache = fs_cache_new(&set->file_cache, &h1_entity_hooks);
    if (!w->fcache || h1_env_init(&w->h1, set, route_table(w->conf), &w->log) < 0) {
        snprintf(w->init_err, sizeof(w->init_err), "out of memory");
        return -ENOMEM;
    }
    if (set->file_cache.enabled && set->cache_loads) {
        w->fills = cache_fills_new(&w->loop, w->fcache, set->cache_loads);
        if (!w->fills) {
            snprintf(w->init_err, sizeof(w->init_err), "out of memory");
            return -ENOMEM;
        }
    }
    w->h1.http.loop = &w->loop;
    w->h1.http.fcache = w->fcache;
    w->h1.http.fills = w->fills;
    w->h1.http.worker = w->id;
    w->h1.http.trace = set->trace;
    w->h1.http.max_body = set->max_body;
    struct conn_pool_params cp = {
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
    if (conn_pool_init(&w->conns, &w->loop, &w->tenv, transport_plain_init, &h1_session, &w->h1,
                       &w->ctr, &cp) < 0 ||
        accept_set_init(&w->accept, &w->loop, w->lfds, w->nlisten, on_conn, w) < 0) {
        snprintf(w->init_err, sizeof(w->init_err), "out of memory");
        return -ENOMEM;
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
        if (w->draining && w->conns.nconns == 0 && cache_fills_idle(w->fills)) {
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
    bool stuck = conn_pool_in_flight(&w->conns) || !cache_fills_idle(w->fills);
    if (w->fcache) {
        publish_cache(w);
    }
    io_loop_fini(&w->loop);
    conn_pool_fini(&w->conns, stuck);
    accept_set_fini(&w->accept);
    alog_worker_stop(&w->log);
    if (!stuck) {
        h1_env_fini(&w->h1);
        cache_fills_free(w->fills);
        fs_cache_free(w->fcache);
    }
    w->fcache = NULL;
    w->fills = NULL;
}
