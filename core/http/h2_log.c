/*
 * h2_log.c - the access log lines of HTTP/2 streams (see h2_log.h): phase 1 when a stream's
 * head is submitted, into its arena; phase 2 when nghttp2 closed it, with the frame bytes
 * queued for it. $request is "METHOD TARGET HTTP/2.0", $server_protocol HTTP/2.0.
 */
#include "core/http/h2_log.h"

#include "core/http/route.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static void text_addr(const struct sockaddr_storage *ss, char *buf, size_t cap, unsigned *port)
{
    buf[0] = '\0';
    *port = 0;
    if (ss && ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, buf, (socklen_t)cap);
        *port = ntohs(a->sin_port);
    } else if (ss && ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, buf, (socklen_t)cap);
        *port = ntohs(a->sin6_port);
    }
}

void h2_stream_capture(struct h2_stream *st)
{
    struct h2_conn *h = st->h;
    struct h1_env *e = h2_env_of(h)->h1;
    const struct req *r = st->r;
    unsigned server = r->server ? r->server->index : r->group->def->index;
    if (st->cap || !alog_enabled(e->log, server)) {
        return;
    }
    const struct log_format *fmt = e->log->plan->servers[server].fmt;
    struct log_req_info ri;
    char addr[INET6_ADDRSTRLEN];
    memset(&ri, 0, sizeof(ri));
    if (fmt->needs_addr) {
        text_addr(conn_peer(&h->c), addr, sizeof(addr), &ri.client_port);
        ri.client_addr = addr[0] ? addr : NULL;
    }
    const struct http_request *m = &st->msg;
    ri.worker = e->http.worker;
    ri.connection = h->c.id;
    ri.conn_requests = h->nreq + 1;
    ri.status = r->resp.status;
    ri.remote_user = r->remote_user.len ? r->remote_user.ptr : NULL;
    ri.request_line = m->request_line;
    ri.method = m->method_token;
    ri.target = m->target;
    ri.path = m->path;
    ri.query = m->query;
    ri.has_query = m->has_query;
    ri.protocol = SLICE_LIT("HTTP/2.0");
    ri.host = m->host;
    const struct http_header *f = hdr_get_known(&m->headers, HDR_REFERER);
    ri.referer = f ? f->value : SLICE_NULL;
    f = hdr_get_known(&m->headers, HDR_USER_AGENT);
    ri.user_agent = f ? f->value : SLICE_NULL;
    ri.headers = m->headers.entries ? &m->headers : NULL;
    size_t need = alog_capture_need(e->log, server, &ri);
    char *cap = arena_alloc(&st->arena, need);
    if (!cap) {
        return; /* out of memory: this response goes unlogged rather than unanswered */
    }
    st->cap_len = (uint32_t)alog_capture(e->log, server, &ri, cap, need);
    st->cap = cap;
    st->server = (int16_t)server;
}

void h2_stream_log(struct h2_stream *st)
{
    if (st->flags & S_LOGGED) {
        return;
    }
    st->flags |= S_LOGGED;
    struct h2_conn *h = st->h;
    struct req_end *e = st->ends;
    st->ends = NULL;
    while (e) {
        struct req_end *next = e->next; /* fn may free e */
        e->fn(e);
        e = next;
    }
    if (st->r && (st->flags & S_RESP)) {
        unsigned cls = (unsigned)st->r->resp.status / 100;
        ctr_add(&h->c.pool->ctr->responses[cls < 6 ? cls : 0], 1);
    }
    if (st->cap && st->server >= 0) {
        alog_done(h2_env_of(h)->h1->log, (unsigned)st->server, st->cap, st->cap_len, st->bytes,
                  st->head_bytes, st->t_start_us);
    }
}
