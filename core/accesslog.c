/* accesslog.c - see accesslog.h. */
#include "core/accesslog.h"

#include "core/base/alloc.h"
#include "core/conn.h"
#include "core/runtime.h"
#include "core/worker.h"
#include "log/errlog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RING_DEFAULT (1u << 20)

static _Thread_local struct worker *t_worker;

/* ---------------------------------------------------------------- setup (main thread) */

static const struct log_format *find_format(struct alog_setup *ls, const char *name)
{
    for (unsigned i = 0; i < ls->nformats; i++) {
        if (strcmp(ls->formats[i].name, name) == 0) {
            return &ls->formats[i];
        }
    }
    return NULL;
}

static int add_format(struct alog_setup *ls, const char *name, const char *text,
                      enum log_escape esc, char *err, size_t errlen)
{
    struct log_format *n = sp_realloc(ls->formats, (ls->nformats + 1) * sizeof(*n));
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ls->formats = n;
    if (log_format_compile(&n[ls->nformats], name, text, esc, err, errlen) < 0) {
        return -1;
    }
    ls->nformats++;
    return 0;
}

int alog_setup_build(struct alog_setup *ls, const struct cfg *cfg, char *err, size_t errlen)
{
    memset(ls, 0, sizeof(*ls));
    static const char *const builtin[] = {"common", "combined", "json"};
    for (size_t i = 0; i < ARRAY_SIZE(builtin); i++) {
        enum log_escape esc;
        const char *text = log_format_builtin(builtin[i], &esc);
        if (add_format(ls, builtin[i], text, esc, err, errlen) < 0) {
            return -1;
        }
    }
    for (unsigned i = 0; i < cfg->nlog_formats; i++) {
        if (add_format(ls, cfg->log_format_names[i], cfg->log_format_values[i],
                       (enum log_escape)cfg->log_format_escapes[i], err, errlen) < 0) {
            return -1;
        }
    }
    ls->servers = sp_calloc(cfg->nservers ? cfg->nservers : 1, sizeof(*ls->servers));
    const char **paths = sp_calloc(cfg->nservers ? cfg->nservers : 1, sizeof(char *));
    if (!ls->servers || !paths) {
        sp_free(paths);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ls->nservers = cfg->nservers;
    unsigned npaths = 0;
    for (unsigned i = 0; i < cfg->nservers; i++) {
        const struct cfg_server *s = &cfg->servers[i];
        const char *path = s->access_log ? s->access_log : cfg->access_log;
        const char *fmt = s->access_format     ? s->access_format
                          : cfg->access_format ? cfg->access_format
                                               : "common";
        struct alog_server *as = &ls->servers[i];
        as->sink = -1;
        if (!path || strcmp(path, "off") == 0) {
            continue;
        }
        as->fmt = find_format(ls, fmt);
        if (!as->fmt) {
            snprintf(err, errlen,
                     "%s:%d: unknown log format \"%s\" (common, combined, json, or "
                     "a log_format name)",
                     s->file, s->line, fmt);
            sp_free(paths);
            return -1;
        }
        for (unsigned k = 0; k < npaths; k++) {
            if (strcmp(paths[k], path) == 0) {
                as->sink = (int)k;
            }
        }
        if (as->sink < 0) {
            as->sink = (int)npaths;
            paths[npaths++] = path;
        }
    }
    const char *bad = NULL;
    int rc = log_flusher_init(&ls->flusher, paths, npaths, &bad);
    sp_free(paths);
    if (rc < 0) {
        snprintf(err, errlen, "cannot open access log \"%s\": %s", bad ? bad : "?", strerror(-rc));
        log_flusher_stop(&ls->flusher);
        return -1;
    }
    ls->flusher_ready = true;
    return 0;
}

int alog_setup_start(struct alog_setup *ls, struct runtime *rt, char *err, size_t errlen)
{
    struct log_ring **rings = sp_calloc(rt->nworkers, sizeof(*rings));
    if (!rings) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct worker *w = &rt->workers[i];
        if (log_ring_init(&w->log.ring, rt->cfg->log_buffer ? rt->cfg->log_buffer : RING_DEFAULT) <
            0) {
            sp_free(rings);
            snprintf(err, errlen, "out of memory for log rings");
            return -1;
        }
        rings[i] = &w->log.ring;
    }
    int rc = log_flusher_start(&ls->flusher, rings, rt->nworkers, alog_space_cb, rt);
    if (rc < 0) {
        sp_free(rings);
        snprintf(err, errlen, "cannot start the log flusher: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

void alog_reopen(struct alog_setup *ls)
{
    if (ls->flusher_ready) {
        log_flusher_reopen(&ls->flusher);
    }
}

void alog_setup_destroy(struct alog_setup *ls)
{
    if (ls->flusher_ready) {
        struct log_ring **rings = ls->flusher.rings;
        unsigned n = ls->flusher.nrings;
        log_flusher_stop(&ls->flusher);
        for (unsigned i = 0; rings && i < n; i++) {
            log_ring_destroy(rings[i]);
        }
        sp_free(rings);
    }
    for (unsigned i = 0; i < ls->nformats; i++) {
        log_format_free(&ls->formats[i]);
    }
    sp_free(ls->formats);
    sp_free(ls->servers);
    memset(ls, 0, sizeof(*ls));
}

/* ---------------------------------------------------------------- emitting (worker) */

/*
 * Wakes the flusher early once a quarter of the ring is in use (it also wakes
 * every 100 ms on its own). The cached tail is refreshed only when the cheap
 * check says the threshold may be crossed, and want_flush makes it one wakeup
 * per drain, not one per line.
 */
static void kick_if_filling(struct worker *w)
{
    struct log_ring *r = &w->log.ring;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (head - r->tail_cache <= r->cap / 4) {
        return;
    }
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - r->tail_cache <= r->cap / 4) {
        return;
    }
    if (!atomic_exchange_explicit(&r->want_flush, 1, memory_order_relaxed)) {
        log_flusher_kick(&w->rt->logs->flusher);
    }
}

static void stall(struct worker *w)
{
    if (!w->log.stalled) {
        w->log.stalled = true;
        w->log.stalls++;
    }
    atomic_store(&w->log.ring.want_space, 1);
    log_flusher_kick(&w->rt->logs->flusher);
}

/* A new line of at most max bytes: in the ring if possible, else at the overflow's end. */
static char *line_begin(struct worker *w, size_t max, struct log_line **ovf)
{
    *ovf = NULL;
    if (!w->log.ovf_head) {
        char *p = log_ring_reserve(&w->log.ring, max);
        if (p) {
            return p;
        }
    }
    struct log_line *l = sp_malloc(sizeof(*l) + max);
    if (!l) {
        return NULL; /* out of memory: nothing sane left to do with the line */
    }
    *ovf = l;
    return l->data;
}

static void line_end(struct worker *w, struct log_line *ovf, size_t len, uint16_t type,
                     uint16_t sink)
{
    w->log.lines++;
    if (!ovf) {
        log_ring_commit(&w->log.ring, len, type, sink);
        kick_if_filling(w);
        return;
    }
    ovf->len = (uint32_t)len;
    ovf->type = type;
    ovf->sink = sink;
    ovf->next = NULL;
    if (w->log.ovf_tail) {
        w->log.ovf_tail->next = ovf;
    } else {
        w->log.ovf_head = ovf;
    }
    w->log.ovf_tail = ovf;
    stall(w);
}

/* errlog() on a worker thread lands here: the flusher writes the line. */
static int error_line(const char *line, size_t len)
{
    struct worker *w = t_worker;
    if (!w || !w->rt->logs || !w->rt->logs->flusher_ready) {
        return -1;
    }
    struct log_line *ovf;
    char *p = line_begin(w, len, &ovf);
    if (!p) {
        return -1;
    }
    memcpy(p, line, len);
    line_end(w, ovf, len, LOG_REC_ERROR, 0);
    return 0;
}

int alog_worker_init(struct worker *w)
{
    t_worker = w;
    if (w->rt->logs && w->rt->logs->flusher_ready) {
        errlog_set_thread_sink(error_line);
    }
    return 0;
}

void alog_worker_fini(struct worker *w)
{
    errlog_set_thread_sink(NULL);
    if (w->rt->logs && w->rt->logs->flusher_ready) {
        log_flusher_hand_over(&w->rt->logs->flusher, w->log.ovf_head);
    }
    w->log.ovf_head = w->log.ovf_tail = NULL;
    t_worker = NULL;
}

void alog_on_space(struct worker *w)
{
    while (w->log.ovf_head) {
        struct log_line *l = w->log.ovf_head;
        char *p = log_ring_reserve(&w->log.ring, l->len);
        if (!p) {
            stall(w); /* still full: ask again */
            return;
        }
        memcpy(p, l->data, l->len);
        log_ring_commit(&w->log.ring, l->len, l->type, l->sink);
        w->log.ovf_head = l->next;
        sp_free(l);
    }
    w->log.ovf_tail = NULL;
    kick_if_filling(w);
    if (w->log.stalled) {
        w->log.stalled = false;
        errlog(ERRLOG_WARN,
               "access log backpressure: requests waited for the log writer "
               "(%llu time(s) so far on this worker)",
               (unsigned long long)w->log.stalls);
        /* resume every connection that stopped parsing */
        for (uint32_t i = 0; i < w->nslots; i++) {
            struct conn *c = w->slots[i];
            if (c->w && (c->flags & CF_BLOCKED)) {
                conn_schedule(w, c);
            }
        }
    }
}

void alog_space_cb(void *arg, unsigned ring)
{
    struct runtime *rt = arg;
    struct worker *w = &rt->workers[ring];
    atomic_store(&w->log_space, 1);
    uint64_t one = 1;
    ssize_t r = write(w->wake_fd, &one, sizeof(one));
    (void)r;
}

/* ---------------------------------------------------------------- lines */

void alog_tick(struct worker *w, time_t now)
{
    struct worker_log *l = &w->log;
    if (now == l->fmt_sec) {
        return;
    }
    l->fmt_sec = now;
    struct tm lt, ut;
    localtime_r(&now, &lt);
    gmtime_r(&now, &ut);
    strftime(l->time_local, sizeof(l->time_local), "%d/%b/%Y:%H:%M:%S %z", &lt);
    char z[8];
    strftime(z, sizeof(z), "%z", &lt); /* +0100 -> +01:00 */
    char base[24];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &lt);
    snprintf(l->time_iso8601, sizeof(l->time_iso8601), "%s%.3s:%.2s", base, z, z + 3);
    strftime(l->time_utc, sizeof(l->time_utc), "%Y-%m-%dT%H:%M:%S.000Z", &ut);
}

/* The client's address as text (getpeername once per connection). */
static const char *peer_text(struct conn *c, char *buf, size_t cap, unsigned *port)
{
    if (!c->peer_known) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        c->peer_known = true;
        c->peer_family = 0;
        if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0) {
            if (ss.ss_family == AF_INET) {
                struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                c->peer_family = AF_INET;
                memcpy(c->peer_addr, &a->sin_addr, 4);
                c->peer_port = ntohs(a->sin_port);
            } else if (ss.ss_family == AF_INET6) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                c->peer_family = AF_INET6;
                memcpy(c->peer_addr, &a->sin6_addr, 16);
                c->peer_port = ntohs(a->sin6_port);
            }
        }
    }
    *port = c->peer_port;
    if (!c->peer_family || !inet_ntop(c->peer_family, c->peer_addr, buf, (socklen_t)cap)) {
        return NULL;
    }
    return buf;
}

static const struct alog_server *server_log(const struct worker *w, unsigned server)
{
    const struct alog_setup *ls = w->rt->logs;
    if (!ls || server >= ls->nservers || ls->servers[server].sink < 0) {
        return NULL;
    }
    return &ls->servers[server];
}

/* Everything phase 1 needs to know about the request. */
static void fill_info(struct conn *c, const struct alog_server *as, const struct http_request *req,
                      struct slice raw, struct log_req_info *ri, char *addr, size_t addrlen)
{
    memset(ri, 0, sizeof(*ri));
    if (as->fmt->needs_addr) {
        ri->client_addr = peer_text(c, addr, addrlen, &ri->client_port);
    }
    ri->worker = c->w->id;
    ri->connection = c->id;
    ri->conn_requests = c->nreq + 1; /* this request included, 1-based like nginx */
    if (!req) {
        ri->request_line = raw;
        return;
    }
    ri->request_line = req->request_line;
    ri->method = req->method_token;
    ri->target = req->target;
    ri->path = req->path;
    ri->query = req->query;
    ri->has_query = req->has_query;
    ri->protocol = slice_make(req->request_line.ptr + req->request_line.len - 8, 8);
    ri->host = req->host;
    const struct http_header *h = hdr_get_known(&req->headers, HDR_REFERER);
    ri->referer = h ? h->value : SLICE_NULL;
    h = hdr_get_known(&req->headers, HDR_USER_AGENT);
    ri->user_agent = h ? h->value : SLICE_NULL;
    ri->headers = &req->headers;
}

size_t alog_capture_need(struct conn *c, unsigned server, const struct http_request *req,
                         struct slice raw)
{
    const struct alog_server *as = server_log(c->w, server);
    if (!as) {
        return 0;
    }
    struct log_req_info ri;
    char addr[INET6_ADDRSTRLEN];
    fill_info(c, as, req, raw, &ri, addr, sizeof(addr));
    return log_capture_bound(as->fmt, &ri);
}

void alog_capture(struct conn *c, struct out_resp *r, unsigned server,
                  const struct http_request *req, struct slice raw)
{
    struct worker *w = c->w;
    const struct alog_server *as = server_log(w, server);
    if (!as) {
        return;
    }
    struct log_req_info ri;
    char addr[INET6_ADDRSTRLEN];
    fill_info(c, as, req, raw, &ri, addr, sizeof(addr));
    ri.status = r->status;
    size_t need = log_capture_bound(as->fmt, &ri);
    char *p = out_scratch(c, need);
    if (!p) {
        return; /* callers checked the room; not reached */
    }
    size_t n = log_render_request(as->fmt, &ri, p, need);
    struct out_state *o = c->out;
    /* give back the unused part of the reservation: move the capture to the top */
    size_t keep = ALIGN_UP(n, (size_t)8);
    if (keep < need) {
        memmove(p + (need - keep), p, n);
        o->scratch -= (uint32_t)(need - keep);
        p += need - keep;
    }
    r->log_off = (uint32_t)(p - o->buf);
    r->log_len = (uint32_t)n;
    r->log_server = (uint16_t)server;
    r->t_start_us = w->now_us;
}

void alog_done(struct conn *c, const struct out_resp *r, uint64_t sent)
{
    if (!r->log_len) {
        return;
    }
    struct worker *w = c->w;
    const struct alog_server *as = &w->rt->logs->servers[r->log_server];
    const char *cap = c->out->buf + r->log_off;
    size_t max = MIN(log_done_bound(cap, r->log_len), (size_t)LOG_REC_MAX);
    struct log_done_info di;
    di.bytes_sent = sent;
    di.body_bytes_sent = sent > r->head_len ? sent - r->head_len : 0;
    di.duration_us = w->now_us > r->t_start_us ? w->now_us - r->t_start_us : 0;
    char utc[32];
    memcpy(utc, w->log.time_utc, sizeof(utc));
    unsigned ms = (unsigned)(w->epoch_ms % 1000);
    utc[20] = (char)('0' + ms / 100);
    utc[21] = (char)('0' + ms / 10 % 10);
    utc[22] = (char)('0' + ms % 10);
    di.time_local = w->log.time_local;
    di.time_iso8601 = w->log.time_iso8601;
    di.time_utc = utc;
    di.epoch_ms = w->epoch_ms;
    struct log_line *ovf;
    char *p = line_begin(w, max, &ovf);
    if (!p) {
        return;
    }
    size_t n = log_render_done(cap, r->log_len, &di, p, max);
    line_end(w, ovf, n, LOG_REC_ACCESS, (uint16_t)as->sink);
}
