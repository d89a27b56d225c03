/* h1_body.c - request bodies and deferred answers of the HTTP/1 session (see h1_body.h). */
#include "core/http/h1_body.h"

#include "core/base/alloc.h"
#include "core/net/outq.h"
#include "log/errlog.h"
#include "proto/request.h"

#include <errno.h>
#include <string.h>

void h1_body_done(struct h1_conn *h, int err)
{
    const struct req_body_ops *ops = h->body_ops;
    struct req *r = h->body_req;
    h->body_ops = NULL;
    h->body_req = NULL;
    h->body_full = false;
    if (ops) {
        ops->end(r, err);
    }
}

/* A framing error in a chunked body: the rest of the connection's input cannot be trusted. */
static void chunked_broken(struct h1_conn *h, int status)
{
    if (!h->body_ops) {
        /* the response is already queued: framing is lost, so close after it */
        errlog(ERRLOG_INFO, "conn %llu: malformed chunked body after the response (%d): closing",
               (unsigned long long)h->c.id, status);
    }
    h->body_kind = H1_BODY_NONE;
    h->flags |= H1_STOP_READ | H1_CLOSE_AFTER | H1_UNREAD;
    h1_body_done(h, status); /* a handler still answering says 400 or 413 */
}

size_t h1_body_bytes(struct h1_conn *h, const char *buf, size_t len)
{
    if (h->body_kind == H1_BODY_LENGTH) {
        size_t take = (size_t)MIN((uint64_t)len, h->body_left);
        if (h->body_ops && take) {
            size_t took = h->body_ops->data(h->body_req, buf, take);
            if (took < take) {
                h->body_full = true;
            }
            take = took;
        }
        h->body_left -= take;
        if (h->body_left == 0) {
            h->body_kind = H1_BODY_NONE;
            h1_body_done(h, 0);
        }
        return take;
    }
    size_t off = 0;
    while (off < len) {
        size_t used;
        struct slice data;
        int rc = http_chunked_decode(&h->chunk, buf + off, len - off, &used, &data);
        off += used;
        if (rc < 0) {
            chunked_broken(h, -rc);
            return len;
        }
        if (rc == HTTP_CHUNKED_DATA && data.len && h->body_ops) {
            size_t took = h->body_ops->data(h->body_req, data.ptr, data.len);
            if (took < data.len) {
                /* the rest of this data is given again when the consumer has room */
                http_chunked_unread(&h->chunk, data.len - took);
                off -= data.len - took;
                h->body_full = true;
                return off;
            }
        }
        if (rc == HTTP_CHUNKED_DONE) {
            h->body_kind = H1_BODY_NONE;
            h1_body_done(h, 0);
            break;
        }
        if (rc == HTTP_CHUNKED_MORE) {
            break;
        }
    }
    return off;
}

void h1_undefer(struct h1_conn *h, const struct req *r)
{
    if (h->deferred && h->stream == r) {
        h->deferred = false;
        h->stream = NULL;
        h->defer_ops = NULL;
        h->defer_arg = NULL;
        conn_schedule(&h->c); /* answered from a callback: the output goes at the next turn */
    }
    h->flags &= ~H1_EXPECT; /* a final response is on its way: no 100-continue any more */
}

/*
 * The request's head, copied into its arena and parsed again there: the receive buffer it
 * was parsed from is reused once handle() returns, but a deferred answer still reads the
 * request's fields (its log line, an internal redirect's handler).
 */
static int keep_head(struct h1_conn *h, struct req *r)
{
    const struct http_request *m = r->msg;
    char *copy = arena_alloc(r->arena, m->head.len);
    struct http_request *km = arena_alloc(r->arena, sizeof(*km));
    if (!copy || !km) {
        return -ENOMEM;
    }
    memcpy(copy, m->head.ptr, m->head.len);
    int rc = http_parse_request(copy, m->head.len, 0, &h1_env_of(h)->set->limits, r->arena, km);
    if (rc < 0) {
        return rc == -ENOMEM ? rc : -EINVAL; /* the same bytes parsed once already */
    }
    if (r->args.ptr >= m->head.ptr && r->args.ptr < m->head.ptr + m->head.len) {
        r->args.ptr = copy + (r->args.ptr - m->head.ptr);
    }
    r->msg = km;
    return 0;
}

int h1_defer(struct req *r, const struct resp_stream_ops *ops, void *arg)
{
    struct h1_conn *h = r->proto_data;
    if (h->stream && h->stream != r) {
        return -EBUSY; /* cannot happen: a request is parsed only once the previous one ended */
    }
    if (r->msg && !h->deferred) {
        int rc = keep_head(h, r);
        if (rc < 0) {
            return rc;
        }
    }
    if (!h->deferred) {
        uint64_t now = h1_env_of(h)->http.loop->now_us;
        h->defer_since_us = h->wait_since_us > 1 ? h->wait_since_us : (now ? now : 1);
    }
    h->stream = r;
    h->stream_waits = false;
    h->deferred = true;
    h->defer_ops = ops;
    h->defer_arg = arg;
    r->resp.stream = ops;
    r->resp.stream_arg = arg;
    return 0;
}

int h1_body_read(struct req *r, const struct req_body_ops *ops, void *arg)
{
    struct h1_conn *h = r->proto_data;
    if (r->body_kind == HTTP_BODY_NONE) {
        return 1;
    }
    r->body_arg = arg;
    h->body_ops = ops;
    h->body_req = r;
    h->body_full = false;
    if ((h->flags & H1_EXPECT) && !r->resp.sent) {
        /* RFC 9110 10.1.1: the client waits for this before it sends the body */
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        struct outq *q = conn_outq(&h->c);
        char *p = q ? outq_reserve(q, sizeof(cont) - 1) : NULL;
        if (!p) {
            return -ENOMEM;
        }
        memcpy(p, cont, sizeof(cont) - 1);
        outq_commit(q, sizeof(cont) - 1);
        h->queued += sizeof(cont) - 1;
        h->flags &= ~H1_EXPECT;
        r->resp.close = !h->expect_ka;
        conn_schedule(&h->c);
    }
    return 0;
}

void h1_body_more(struct req *r)
{
    struct h1_conn *h = r->proto_data;
    if (h->body_req == r && h->body_full) {
        h->body_full = false;
        conn_schedule(&h->c); /* resume() parses what is kept, and reads again */
    }
}
