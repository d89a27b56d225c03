/*
 * h1_track.c - the HTTP/1 session's response records and their access-log captures.
 *
 * Every queued response gets a record with its byte range in the connection's
 * output; phase 1 of its log line is captured when it is queued (into the
 * track block after the records, or the heap for an outsize one), phase 2
 * when the transport reports its last byte sent, or when the connection dies
 * with the bytes that did go out. The block is pooled: an idle connection
 * holds none.
 */
#include "core/http/h1_track.h"

#include "core/base/alloc.h"
#include "core/http/hostname.h"
#include "core/http/ident.h"
#include "core/http/latency.h"
#include "core/io/loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static struct h1_track *track(struct h1_conn *h)
{
    if (!h->trk) {
        struct h1_env *e = h1_env_of(h);
        struct h1_track *t = block_get(&e->track_pool);
        if (!t) {
            return NULL;
        }
        t->head = t->count = 0;
        t->cap_used = 0;
        t->cap_size = e->track_pool.size - (uint32_t)sizeof(*t);
        h->trk = t;
    }
    return h->trk;
}

static void text_addr(const struct sockaddr_storage *ss, char *buf, size_t cap, unsigned *port)
{
    buf[0] = '\0';
    *port = 0;
    if (!ss) {
        return;
    }
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, buf, (socklen_t)cap);
        *port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, buf, (socklen_t)cap);
        *port = ntohs(a->sin6_port);
    }
}

/* Everything phase 1 of the access log needs to know about the request. */
static void fill_info(struct h1_conn *h, const struct log_format *fmt, const struct req *r,
                      struct slice raw, struct log_req_info *ri, char *addr, size_t addrlen)
{
    memset(ri, 0, sizeof(*ri));
    if (fmt->needs_addr) {
        text_addr(conn_peer(&h->c), addr, addrlen, &ri->client_port);
        ri->client_addr = addr[0] ? addr : NULL;
    }
    ri->worker = h1_env_of(h)->http.worker;
    ri->connection = h->c.id;
    ri->conn_requests = h->nreq + 1; /* this request included, 1-based like nginx */
    ri->status = r->resp.status;
    ri->remote_user = r->remote_user.len ? r->remote_user.ptr : NULL;
    ri->host_lookups = h->cid && h->cid->host_tried && hostname_mode_of(r->loc) != HOSTNAME_OFF;
    const struct http_request *m = r->msg;
    if (!m) {
        ri->request_line = raw;
        return;
    }
    ri->request_line = m->request_line;
    ri->method = m->method_token;
    ri->target = m->target;
    ri->path = m->path;
    ri->query = m->query;
    ri->has_query = m->has_query;
    ri->protocol = slice_make(m->request_line.ptr + m->request_line.len - 8, 8);
    ri->host = m->host;
    const struct http_header *f = hdr_get_known(&m->headers, HDR_REFERER);
    ri->referer = f ? f->value : SLICE_NULL;
    f = hdr_get_known(&m->headers, HDR_USER_AGENT);
    ri->user_agent = f ? f->value : SLICE_NULL;
    ri->headers = &m->headers;
}

/* Starts the lookups the request's server asks for that the connection has not made yet. */
static void start_lookups(struct h1_conn *h, const struct req *r)
{
    const struct route_server *s = r->server ? r->server : r->group->def;
    if (!(h->cid && h->cid->ident_tried) && ident_wanted(s)) {
        if (!h->cid && !(h->cid = client_id_new(h1_env_of(h)->log))) {
            return; /* out of memory: the lines go out without the answers */
        }
        h->cid->ident_tried = true;
        ident_start(h, s, h->cid);
    }
    if (!(h->cid && h->cid->host_tried) && hostname_mode_of(r->loc) != HOSTNAME_OFF) {
        if (!h->cid && !(h->cid = client_id_new(h1_env_of(h)->log))) {
            return;
        }
        h->cid->host_tried = true;
        hostname_start(h, r->loc, h->cid);
    }
}

/* A record for the response whose head starts at h->queued; NULL on OOM. */
struct h1_rec *h1_record(struct h1_conn *h, const struct req *r, struct slice raw)
{
    struct h1_track *t = track(h);
    if (!t) {
        return NULL;
    }
    ASSERT(t->count < H1_RECS);
    struct h1_rec *rec = &t->recs[(t->head + t->count) % H1_RECS];
    t->count++;
    memset(rec, 0, sizeof(*rec));
    rec->start = h->queued;
    rec->end = UINT64_MAX;
    rec->status = (int16_t)r->resp.status;
    rec->server = -1;
    rec->ends = h->ends;
    h->ends = NULL;
    rec->t_first_us = r->t_first_us;
    rec->lat = r->loc ? r->loc->lat : NULL;
    uint64_t since = h->defer_since_us; /* answered later: counts from when it was parsed */
    h->defer_since_us = 0;
    struct h1_env *e = h1_env_of(h);
    start_lookups(h, r);
    unsigned server = r->server ? r->server->index : r->group->def->index;
    if (!alog_enabled(e->log, server)) {
        return rec;
    }
    struct log_req_info ri;
    char addr[INET6_ADDRSTRLEN];
    fill_info(h, e->log->plan->servers[server].fmt, r, raw, &ri, addr, sizeof(addr));
    size_t need = alog_capture_need(e->log, server, &ri);
    char *cap;
    if (t->cap_size - t->cap_used >= need) {
        cap = t->cap_area + t->cap_used;
    } else if ((cap = sp_malloc(need)) != NULL) {
        rec->cap_heap = true;
    } else {
        return rec; /* out of memory: this response goes unlogged rather than unanswered */
    }
    size_t n = alog_capture(e->log, server, &ri, cap, need);
    if (!rec->cap_heap) {
        t->cap_used += (uint32_t)ALIGN_UP(n, (size_t)8);
    }
    rec->cap = cap;
    rec->cap_len = (uint32_t)n;
    rec->server = (int16_t)server;
    /* a request that waited for its file counts from when it was first parsed */
    rec->t_start_us = since                 ? since
                      : h->wait_since_us > 1 ? h->wait_since_us
                                             : e->http.loop->now_us;
    return rec;
}

void h1_run_ends(struct req_end **list)
{
    struct req_end *e = *list;
    *list = NULL;
    while (e) {
        struct req_end *next = e->next; /* fn may free e */
        e->fn(e);
        e = next;
    }
}

static void finish_rec(struct h1_conn *h, struct h1_rec *rec, uint64_t sent)
{
    struct h1_env *e = h1_env_of(h);
    h1_run_ends(&rec->ends);
    if (rec->server >= 0 && h->cid) {
        client_id_log(h->cid, rec->cap, rec->cap_len, sent, rec->head_len, rec->t_start_us);
    } else if (rec->server >= 0) {
        alog_done(e->log, (unsigned)rec->server, rec->cap, rec->cap_len, sent, rec->head_len,
                  rec->t_start_us);
    }
    if (rec->cap_heap) {
        sp_free(rec->cap);
    }
}

/* A response fully handed to the kernel: its service time, where histograms are on. */
static void record_latency(const struct h1_env *e, const struct h1_rec *rec)
{
    uint64_t now = e->http.loop->now_us;
    if (e->http.lat) {
        latency_record(&e->http.lat->service, rec->t_first_us, now);
    }
    struct hist *lh = loc_latency_hist(rec->lat, e->http.worker);
    if (lh) {
        latency_record(lh, rec->t_first_us, now);
    }
}

static void pop(struct h1_conn *h)
{
    struct h1_track *t = h->trk;
    t->head = (t->head + 1) % H1_RECS;
    if (--t->count == 0) {
        block_put(&h1_env_of(h)->track_pool, t); /* idle connections hold no track block */
        h->trk = NULL;
    }
}

void h1_completed(struct h1_conn *h)
{
    struct worker_counters *ctr = h->c.pool->ctr;
    while (h->trk && h->trk->count) {
        struct h1_rec *rec = &h->trk->recs[h->trk->head];
        if (rec->end > h->sent) {
            return;
        }
        unsigned cls = (unsigned)rec->status / 100;
        ctr_add(&ctr->responses[cls < 6 ? cls : 0], 1);
        record_latency(h1_env_of(h), rec);
        finish_rec(h, rec, rec->end - rec->start);
        pop(h);
    }
}

void h1_log_unfinished(struct h1_conn *h)
{
    while (h->trk && h->trk->count) {
        /* one line per response, with the bytes that did go out */
        struct h1_rec *rec = &h->trk->recs[h->trk->head];
        uint64_t sent = h->sent > rec->start ? MIN(h->sent, rec->end) - rec->start : 0;
        finish_rec(h, rec, sent);
        pop(h);
    }
    if (h->cid) {
        client_id_close(h->cid); /* its held lines go out when the answers come */
        h->cid = NULL;
    }
}
