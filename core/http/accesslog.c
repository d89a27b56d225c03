/* accesslog.c - see accesslog.h. */
#include "core/http/accesslog.h"

#include "core/base/alloc.h"
#include "log/errlog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ================================================================ the process */

int alog_setup_open(struct alog_setup *s, const struct alog_plan *p, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    const char **paths = sp_calloc(p->nsinks ? p->nsinks : 1, sizeof(char *));
    if (!paths) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < p->nsinks; i++) {
        paths[i] = p->sinks[i];
    }
    const char *bad = NULL;
    int rc = log_flusher_init(&s->flusher, paths, p->nsinks, &bad);
    sp_free(paths);
    if (rc < 0) {
        snprintf(err, errlen, "cannot open access log \"%s\": %s", bad ? bad : "?", strerror(-rc));
        log_flusher_stop(&s->flusher, 0);
        return -1;
    }
    s->ready = true;
    return 0;
}

int alog_setup_start(struct alog_setup *s, struct log_ring **rings, unsigned n, log_space_fn cb,
                     void *arg, char *err, size_t errlen)
{
    int rc = log_flusher_start(&s->flusher, rings, n, cb, arg);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start the log flusher: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

void alog_reopen(struct alog_setup *s)
{
    if (s->ready) {
        log_flusher_reopen(&s->flusher);
    }
}

int alog_setup_stop(struct alog_setup *s, unsigned timeout_ms, bool (*hurry)(void *arg), void *arg)
{
    if (!s->ready) {
        return 0;
    }
    s->ready = false;
    return log_flusher_stop_hurried(&s->flusher, timeout_ms, hurry, arg);
}

/* ================================================================ a worker */

static _Thread_local struct alog_worker *t_alog;

/*
 * Wakes the flusher early once a quarter of the ring is in use (it drains on its own
 * interval otherwise). The cached tail is refreshed only when the cheap check says the
 * threshold may be crossed, and want_flush makes it one wakeup per drain, not one per line.
 */
static void kick_if_filling(struct alog_worker *a)
{
    struct log_ring *r = &a->ring;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (head - r->tail_cache <= r->cap / 4) {
        return;
    }
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - r->tail_cache <= r->cap / 4) {
        return;
    }
    if (!atomic_exchange_explicit(&r->want_flush, 1, memory_order_relaxed)) {
        log_flusher_kick(a->flusher);
    }
}

static void want_space(struct alog_worker *a)
{
    atomic_store(&a->ring.want_space, 1);
    log_flusher_kick(a->flusher);
}

/* Overflow bounds: past the soft one requests wait; the hard one holds what was in flight. */
static uint64_t soft_limit(const struct alog_worker *a)
{
    return a->plan->ring_bytes;
}

/* Room for a line of at most max bytes: the ring, the overflow (behind what waits), or NULL. */
static char *line_begin(struct alog_worker *a, size_t max, struct log_line **ovf)
{
    *ovf = NULL;
    if (!a->ovf_head) {
        char *p = log_ring_reserve(&a->ring, max);
        if (p) {
            return p;
        }
    }
    uint64_t limit = a->dropping ? soft_limit(a) : 2 * soft_limit(a);
    if (a->ovf_bytes + max > limit) {
        return NULL;
    }
    struct log_line *l = sp_malloc(sizeof(*l) + max);
    if (!l) {
        return NULL;
    }
    *ovf = l;
    return l->data;
}

static void line_end(struct alog_worker *a, struct log_line *ovf, size_t len, uint16_t type,
                     uint16_t sink)
{
    if (!ovf) {
        log_ring_commit(&a->ring, len, type, sink);
        a->committed = true;
        kick_if_filling(a);
        return;
    }
    ovf->len = (uint32_t)len;
    ovf->type = type;
    ovf->sink = sink;
    ovf->next = NULL;
    if (a->ovf_tail) {
        a->ovf_tail->next = ovf;
    } else {
        a->ovf_head = ovf;
    }
    a->ovf_tail = ovf;
    a->ovf_bytes += sizeof(*ovf) + len;
    want_space(a);
    if (!a->waiting && !a->dropping && a->ovf_bytes >= soft_limit(a)) {
        /* the writer is behind by a whole ring and more: hold new requests back for a while */
        a->waiting = true;
        a->wait_until = a->loop->now_ms + a->plan->wait_ms;
        ctr_add(&a->ctr->log_stalls, 1);
    }
}

static void dropped(struct alog_worker *a, uint16_t type, uint16_t sink)
{
    if (type != LOG_REC_ACCESS) {
        a->dropped_errors++;
        return;
    }
    bool first = true;
    for (unsigned k = 0; k < a->plan->nsinks; k++) {
        first &= a->dropped[k] == 0;
    }
    if (first) {
        a->drop_since = a->loop->now_s;
    }
    a->dropped[sink]++;
    ctr_add(&a->ctr->log_dropped, 1);
}

/* errlog() on a worker thread lands here: the flusher writes the line, the worker never does. */
static int error_line(const char *line, size_t len)
{
    struct alog_worker *a = t_alog;
    if (!a || !a->flusher) {
        return -1;
    }
    if (len > LOG_REC_MAX) {
        len = LOG_REC_MAX;
    }
    struct log_line *ovf;
    char *p = line_begin(a, len, &ovf);
    if (!p) {
        dropped(a, LOG_REC_ERROR, 0);
        return 0; /* taken: a worker must not fall back to writing (and blocking) itself */
    }
    memcpy(p, line, len);
    line_end(a, ovf, len, LOG_REC_ERROR, 0);
    return 0;
}

static void resume_sessions(struct alog_worker *a)
{
    if (a->resume) {
        a->resume(a->resume_arg);
    }
}

static void iso_time(time_t t, char *buf, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends a line to the overflow whatever its bound (the few summary lines must get out). */
static bool overflow_line(struct alog_worker *a, const char *p, size_t n, uint16_t sink)
{
    struct log_line *l = sp_malloc(sizeof(*l) + n);
    if (!l) {
        return false;
    }
    memcpy(l->data, p, n);
    line_end(a, l, n, LOG_REC_ACCESS, sink);
    return true;
}

/* One line per sink that lost lines in the episode now over (or at exit), then the counts
 * start again. force: past the overflow's bound if need be. */
static void write_summaries(struct alog_worker *a, bool force)
{
    char since[32], until[32];
    iso_time(a->drop_since, since, sizeof(since));
    iso_time(a->loop->now_s, until, sizeof(until));
    for (unsigned k = 0; k < a->plan->nsinks; k++) {
        if (!a->dropped[k]) {
            continue;
        }
        char line[256];
        int n;
        if (a->plan->sink_fmt[k]->escape == LOG_ESC_JSON) {
            n = snprintf(line, sizeof(line),
                         "{\"spate_dropped_lines\":%llu,\"worker\":%u,\"since\":\"%s\","
                         "\"until\":\"%s\"}\n",
                         (unsigned long long)a->dropped[k], a->worker, since, until);
        } else {
            n = snprintf(line, sizeof(line),
                         "# spate: worker %u dropped %llu access log line(s) between %s and %s: "
                         "the log writer was stalled or failing\n",
                         a->worker, (unsigned long long)a->dropped[k], since, until);
        }
        struct log_line *ovf;
        char *p = line_begin(a, (size_t)n, &ovf);
        if (p) {
            memcpy(p, line, (size_t)n);
            line_end(a, ovf, (size_t)n, LOG_REC_ACCESS, (uint16_t)k);
        } else if (!force || !overflow_line(a, line, (size_t)n, (uint16_t)k)) {
            return; /* no room after all: the count stays and goes out with the next summary */
        }
        a->dropped[k] = 0;
    }
    if (a->dropped_errors) {
        errlog(ERRLOG_WARN,
               "%llu error log line(s) of this worker were dropped while the log "
               "writer was stalled or failing",
               (unsigned long long)a->dropped_errors);
        a->dropped_errors = 0;
    }
}

void alog_on_space(struct alog_worker *a)
{
    if (!a->flusher) {
        return;
    }
    while (a->ovf_head) {
        struct log_line *l = a->ovf_head;
        char *p = log_ring_reserve(&a->ring, l->len);
        if (!p) {
            want_space(a); /* still full: ask again */
            break;
        }
        memcpy(p, l->data, l->len);
        log_ring_commit(&a->ring, l->len, l->type, l->sink);
        a->committed = true;
        a->ovf_bytes -= sizeof(*l) + l->len;
        a->ovf_head = l->next;
        sp_free(l);
    }
    if (!a->ovf_head) {
        a->ovf_tail = NULL;
        a->ovf_bytes = 0;
    }
    kick_if_filling(a);
    if (a->waiting && a->ovf_bytes < soft_limit(a)) {
        a->waiting = false;
        errlog(ERRLOG_WARN,
               "access log backpressure: requests waited for the log writer (%llu time(s) so far "
               "on this worker)",
               (unsigned long long)ctr_get(&a->ctr->log_stalls));
        resume_sessions(a);
    }
    if (!a->ovf_head && a->dropping) {
        a->dropping = false; /* caught up: the next episode waits again before dropping */
        write_summaries(a, false);
    }
}

void alog_turn(struct alog_worker *a)
{
    time_t now = a->loop->now_s;
    if (now != a->fmt_sec) {
        a->fmt_sec = now;
        struct tm lt, ut;
        localtime_r(&now, &lt);
        gmtime_r(&now, &ut);
        strftime(a->time_local, sizeof(a->time_local), "%d/%b/%Y:%H:%M:%S %z", &lt);
        char z[8];
        strftime(z, sizeof(z), "%z", &lt); /* +0100 -> +01:00 */
        char base[24];
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &lt);
        snprintf(a->time_iso8601, sizeof(a->time_iso8601), "%s%.3s:%.2s", base, z, z + 3);
        strftime(a->time_utc, sizeof(a->time_utc), "%Y-%m-%dT%H:%M:%S.000Z", &ut);
    }
    if (a->waiting && a->loop->now_ms >= a->wait_until) {
        /* waited access_log_wait for the writer: go on, and count what cannot be kept */
        a->waiting = false;
        a->dropping = true;
        errlog(ERRLOG_ERROR,
               "access log: the log writer did not catch up within %u ms; lines that find no "
               "room are dropped and counted until it does",
               a->plan->wait_ms);
        resume_sessions(a);
    }
    if (a->committed && a->flusher) {
        a->committed = false;
        log_flusher_nudge(a->flusher);
    }
}

uint64_t alog_deadline(const struct alog_worker *a)
{
    return a->waiting ? a->wait_until : UINT64_MAX;
}

int alog_worker_prepare(struct alog_worker *a, const struct alog_plan *p)
{
    memset(a, 0, sizeof(*a));
    a->plan = p;
    a->dropped = sp_calloc(p->nsinks ? p->nsinks : 1, sizeof(uint64_t));
    if (!a->dropped) {
        return -ENOMEM;
    }
    return log_ring_init(&a->ring, p->ring_bytes);
}

void alog_worker_replan(struct alog_worker *a, const struct alog_plan *p)
{
    ASSERT(p->nsinks == a->plan->nsinks); /* alog_plan_adopt: the same sinks, in order */
    a->plan = p;
}

void alog_worker_start(struct alog_worker *a, struct log_flusher *f, struct io_loop *loop,
                       struct worker_counters *ctr, unsigned worker, void (*resume)(void *arg),
                       void *arg)
{
    a->flusher = f;
    a->loop = loop;
    a->ctr = ctr;
    a->worker = worker;
    a->resume = resume;
    a->resume_arg = arg;
    t_alog = a;
    if (f) {
        errlog_set_thread_sink(error_line);
    }
    alog_turn(a);
}

void alog_worker_stop(struct alog_worker *a)
{
    if (a->flusher) {
        write_summaries(a, true); /* an episode still going on: its count must not be lost */
    }
    errlog_set_thread_sink(NULL);
    if (a->flusher) {
        log_flusher_hand_over(a->flusher, a->ovf_head);
    } else {
        while (a->ovf_head) {
            struct log_line *l = a->ovf_head;
            a->ovf_head = l->next;
            sp_free(l);
        }
    }
    a->ovf_head = a->ovf_tail = NULL;
    a->ovf_bytes = 0;
    t_alog = NULL;
}

void alog_worker_free(struct alog_worker *a)
{
    log_ring_destroy(&a->ring);
    sp_free(a->dropped);
    a->dropped = NULL;
}

/* ---------------------------------------------------------------- lines */

/*
 * A capture starts with the sink its line goes to (8 bytes, so the format's capture after it
 * stays aligned): phase 2 then needs nothing of the plan phase 1 used, which a reload may
 * have replaced (and freed) by the time the response's last byte goes out.
 */
#define CAP_HDR 8

size_t alog_capture_need(const struct alog_worker *a, unsigned server,
                         const struct log_req_info *ri)
{
    return CAP_HDR + log_capture_bound(a->plan->servers[server].fmt, ri);
}

size_t alog_capture(const struct alog_worker *a, unsigned server, const struct log_req_info *ri,
                    char *dst, size_t cap)
{
    const struct alog_server *as = &a->plan->servers[server];
    if (cap <= CAP_HDR) {
        return 0;
    }
    uint16_t sink = (uint16_t)as->sink;
    memset(dst, 0, CAP_HDR);
    memcpy(dst, &sink, sizeof(sink));
    size_t n = log_render_request(as->fmt, ri, dst + CAP_HDR, cap - CAP_HDR);
    return n ? CAP_HDR + n : 0;
}

/* What phase 2 knows of a response done now (the time strings: the worker's, or utc). */
static void done_info(const struct alog_worker *a, struct log_done_info *di, char *utc,
                      uint64_t sent, uint64_t head_len, uint64_t t_start_us)
{
    const struct io_loop *l = a->loop;
    memset(di, 0, sizeof(*di));
    di->bytes_sent = sent;
    di->body_bytes_sent = sent > head_len ? sent - head_len : 0;
    di->duration_us = l->now_us > t_start_us ? l->now_us - t_start_us : 0;
    memcpy(utc, a->time_utc, 32);
    unsigned ms = (unsigned)(l->epoch_ms % 1000);
    utc[20] = (char)('0' + ms / 100);
    utc[21] = (char)('0' + ms / 10 % 10);
    utc[22] = (char)('0' + ms % 10);
    di->time_local = a->time_local;
    di->time_iso8601 = a->time_iso8601;
    di->time_utc = utc;
    di->epoch_ms = l->epoch_ms;
}

/* Renders a capture (CAP_HDR included) with di into the ring. */
static void write_line(struct alog_worker *a, const char *capture, size_t caplen,
                       const struct log_done_info *di)
{
    if (caplen <= CAP_HDR) {
        return;
    }
    uint16_t sink;
    memcpy(&sink, capture, sizeof(sink));
    capture += CAP_HDR;
    caplen -= CAP_HDR;
    size_t max = MIN(log_done_bound(capture, caplen), (size_t)LOG_REC_MAX);
    struct log_line *ovf;
    char *p = line_begin(a, max, &ovf);
    if (!p) {
        dropped(a, LOG_REC_ACCESS, sink);
        return;
    }
    size_t n = log_render_done(capture, caplen, di, p, max);
    ctr_add(&a->ctr->log_lines, 1);
    line_end(a, ovf, n, LOG_REC_ACCESS, sink);
}

void alog_done(struct alog_worker *a, unsigned server, const char *capture, size_t caplen,
               uint64_t sent, uint64_t head_len, uint64_t t_start_us)
{
    (void)server; /* the capture names its sink: the plan may have changed since phase 1 */
    alog_done_ident(a, capture, caplen, sent, head_len, t_start_us, NULL);
}

void alog_done_ident(struct alog_worker *a, const char *capture, size_t caplen, uint64_t sent,
                     uint64_t head_len, uint64_t t_start_us, const struct alog_ident *id)
{
    if (caplen <= CAP_HDR) {
        return;
    }
    struct log_done_info di;
    char utc[32];
    done_info(a, &di, utc, sent, head_len, t_start_us);
    if (id) {
        di.remote_host = id->host;
        di.remote_ident = id->user;
    }
    write_line(a, capture, caplen, &di);
}

struct alog_held *alog_hold(struct alog_worker *a, const char *capture, size_t caplen,
                            uint64_t sent, uint64_t head_len, uint64_t t_start_us)
{
    struct alog_held *h = sp_malloc(sizeof(*h) + caplen);
    if (!h) {
        return NULL;
    }
    h->next = NULL;
    done_info(a, &h->di, h->time_utc, sent, head_len, t_start_us);
    memcpy(h->time_local, a->time_local, sizeof(h->time_local));
    memcpy(h->time_iso8601, a->time_iso8601, sizeof(h->time_iso8601));
    h->di.time_local = h->time_local;
    h->di.time_iso8601 = h->time_iso8601;
    h->caplen = (uint32_t)caplen;
    memcpy(h->cap, capture, caplen);
    return h;
}

void alog_held_write(struct alog_worker *a, struct alog_held *h, const struct alog_ident *id)
{
    h->di.remote_host = id ? id->host : NULL;
    h->di.remote_ident = id ? id->user : NULL;
    if (a->flusher) {
        write_line(a, h->cap, h->caplen, &h->di);
    }
    sp_free(h);
}
