/*
 * h2_stream.c - the HTTP/2 session's streams: a request each, dispatched like HTTP/1's, its
 * body, its log line, its end (see h2.h, h2_state.h).
 *
 * A stream is freed once three things are over: nghttp2's stream (S_CLOSED),
 * its handler's part (S_DONE: the response is whole or cut, a streamed body
 * ended, a deferred answer came or was aborted) and every req_hold on it. A
 * client that resets a stream whose handler still works (a script, an
 * upstream) makes the handler let go through its abort(), as a closed HTTP/1
 * connection does.
 */
#include "core/http/h2_stream.h"

#include "core/base/alloc.h"
#include "core/http/dispatch.h"
#include "core/http/h2_log.h"
#include "core/http/h2_write.h"
#include "core/http/handler.h"
#include "core/http/latency.h"
#include "core/http/respond.h"
#include "log/errlog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static void stream_wake(struct req_wait *w);

struct h2_stream *h2_stream_new(struct h2_conn *h, int32_t id)
{
    struct conn_pool *p = h->c.pool;
    struct h2_stream *st = sp_calloc(1, sizeof(*st));
    if (!st) {
        return NULL;
    }
    st->h = h;
    st->id = id;
    st->server = -1;
    st->wait = (struct req_wait){NULL, NULL, stream_wake, 0, 0};
    arena_init(&st->arena, &p->arena_pool, p->arena_cap);
    if (h2_build_init(&st->b, &st->arena, &h2_env_of(h)->h1->set->limits, &st->msg) < 0) {
        arena_release(&st->arena);
        sp_free(st);
        return NULL;
    }
    st->next = h->streams;
    if (h->streams) {
        h->streams->prev = st;
    }
    h->streams = st;
    h->nstreams++;
    return st;
}

/* ---------------------------------------------------------------- dispatch */

static struct req *new_req(struct h2_stream *st)
{
    struct h2_conn *h = st->h;
    struct h1_env *e = h2_env_of(h)->h1;
    struct req *r = arena_alloc(&st->arena, sizeof(*r));
    if (!r) {
        return NULL;
    }
    memset(r, 0, sizeof(*r));
    const struct http_request *msg = &st->msg;
    r->msg = msg;
    r->h2 = true;
    r->secure = h->c.tr.ops->ssl != NULL;
    r->version_minor = 1;
    r->method = msg->method;
    r->head_only = msg->method == HTTP_HEAD;
    r->args = msg->query;
    r->group = &e->routes->groups[h->c.listener];
    r->env = &e->http;
    r->arena = &st->arena;
    r->proto = &h2_proto;
    r->proto_data = st;
    r->wait = &st->wait;
    r->body_kind = (uint8_t)msg->body;
    r->body_length = msg->content_length;
    resp_begin(r, 200);
    st->r = r;
    return r;
}

/* A request that cannot be served as it came (its fields over the limits): its status. */
static void refuse(struct h2_stream *st, int status)
{
    struct req *r = new_req(st);
    if (!r) {
        h2_stream_reset(st, NGHTTP2_INTERNAL_ERROR);
        st->flags |= S_DONE;
        return;
    }
    r->server = r->group->def;
    st->flags |= S_DISPATCHED;
    if (resp_error(r, status) < 0) {
        h2_stream_reset(st, NGHTTP2_INTERNAL_ERROR);
        st->flags |= S_DONE;
    }
}

static void dispatch(struct h2_stream *st)
{
    struct h2_conn *h = st->h;
    struct req *r = new_req(st);
    if (!r) {
        h2_stream_reset(st, NGHTTP2_INTERNAL_ERROR);
        st->flags |= S_DONE;
        return;
    }
    r->t_first_us = st->t_start_us;
    struct worker_latency *lat = h2_env_of(h)->h1->http.lat;
    if (lat && !(st->flags & S_DISPATCHED)) {
        latency_record(&lat->queue, st->t_start_us, latency_now_us());
    }
    st->flags |= S_DISPATCHED;
    st->flags &= ~S_WAITING;
    int rc = http_dispatch(r);
    if (rc == HANDLER_LATER) {
        st->flags |= S_WAITING; /* wake() dispatches it again */
        return;
    }
    st->wait.rounds = 0;
    st->wait.passed = 0;
    if (rc == 0 && !r->resp.sent && !(st->flags & (S_DEFER | S_DONE))) {
        errlog(ERRLOG_ERROR, "a %s handler returned without answering", r->loc->handler->name);
        rc = resp_error(r, 500);
    }
    if (rc < 0) {
        h2_stream_reset(st, NGHTTP2_INTERNAL_ERROR);
        h2_stream_done(st);
    }
    h->nreq++;
    ctr_add(&h->c.pool->ctr->requests, 1);
}

static void stream_wake(struct req_wait *w)
{
    struct h2_stream *st = container_of(w, struct h2_stream, wait);
    struct conn *c = &st->h->c;
    if (conn_dead(c) || (st->flags & (S_CLOSED | S_DONE))) {
        return;
    }
    conn_hold(c);
    dispatch(st);
    if (!conn_dead(c)) {
        conn_schedule(c); /* resume(): the response's frames go out */
    }
    conn_unhold(c);
}

void h2_stream_headers(struct h2_stream *st, bool end_stream)
{
    st->t_start_us = st->h->c.pool->loop->now_us;
    if (end_stream) {
        st->flags |= S_BODY_EOF;
    }
    int rc = h2_build_finish(&st->b, end_stream);
    if (rc == -431) {
        refuse(st, 431);
        return;
    }
    if (rc < 0) {
        /* malformed (RFC 9113 8.1.1): a stream error */
        h2_stream_reset(st, rc == -ENOMEM ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_PROTOCOL_ERROR);
        st->flags |= S_DONE;
        return;
    }
    dispatch(st);
}

/* ---------------------------------------------------------------- request bodies */

static void consume(struct h2_stream *st, size_t n)
{
    if (n && st->h->ng) {
        nghttp2_session_consume(st->h->ng, st->id, n);
    }
}

static void body_end(struct h2_stream *st, int err)
{
    const struct req_body_ops *ops = st->body_ops;
    st->body_ops = NULL;
    st->flags &= ~S_BODY_FULL;
    if (ops) {
        ops->end(st->r, err);
    }
}

static bool keep(struct h2_stream *st, const char *p, size_t n)
{
    if (st->boff && st->boff + st->blen + n > st->bcap) {
        memmove(st->bbuf, st->bbuf + st->boff, st->blen);
        st->boff = 0;
    }
    if (st->boff + st->blen + n > st->bcap) {
        /* at most the stream's window: nothing is consumed while it is kept */
        size_t ncap = st->bcap ? st->bcap : 16384;
        while (ncap < st->blen + n) {
            ncap *= 2;
        }
        char *nb = sp_realloc(st->bbuf, ncap);
        if (!nb) {
            return false;
        }
        st->bbuf = nb;
        st->bcap = (uint32_t)ncap;
    }
    memcpy(st->bbuf + st->boff + st->blen, p, n);
    st->blen += (uint32_t)n;
    return true;
}

void h2_stream_body(struct h2_stream *st, const char *p, size_t n)
{
    struct h2_conn *h = st->h;
    struct conn *c = &h->c;
    if (conn_timer_kind(c) == CONN_T_BODY) {
        conn_timer(c, CONN_T_BODY); /* client_body_timeout counts between two reads */
    }
    st->body_got += n;
    if ((st->flags & (S_DONE | S_CLOSED)) && !st->body_ops) {
        consume(st, n); /* answered already: read and dropped */
        return;
    }
    uint64_t max = h2_env_of(h)->h1->http.max_body;
    if (st->msg.body != HTTP_BODY_LENGTH && st->body_got > max) {
        /* client_max_body_size, for a body whose length was not announced */
        consume(st, n);
        if (st->body_ops) {
            body_end(st, 413);
        } else if (!(st->r && st->r->resp.sent)) {
            h2_stream_reset(st, NGHTTP2_CANCEL);
        }
        return;
    }
    if (st->body_ops && !(st->flags & S_BODY_FULL) && st->blen == 0) {
        size_t took = st->body_ops->data(st->r, p, n);
        consume(st, took);
        if (took == n) {
            return;
        }
        st->flags |= S_BODY_FULL;
        p += took;
        n -= took;
    }
    if (!keep(st, p, n)) {
        h2_stream_reset(st, NGHTTP2_INTERNAL_ERROR);
    }
}

void h2_stream_body_end(struct h2_stream *st)
{
    st->flags |= S_BODY_EOF;
    if (st->body_ops && st->blen == 0) {
        body_end(st, 0);
    }
}

void h2_stream_body_deliver(struct h2_stream *st)
{
    st->flags &= ~S_BODY_CALL;
    if (!st->body_ops || (st->flags & S_BODY_FULL)) {
        return;
    }
    while (st->blen && st->body_ops) {
        size_t took = st->body_ops->data(st->r, st->bbuf + st->boff, st->blen);
        consume(st, took);
        st->boff += (uint32_t)took;
        st->blen -= (uint32_t)took;
        if (st->blen && took == 0) {
            st->flags |= S_BODY_FULL;
            return;
        }
    }
    st->boff = 0;
    if (st->body_ops && (st->flags & S_BODY_EOF)) {
        body_end(st, 0);
    }
}

/* ---------------------------------------------------------------- the end */

/* The handler still answers and the stream is gone: it lets go (its abort), as when an
 * HTTP/1 connection closes under it. */
static void abort_handler(struct h2_stream *st)
{
    struct req *r = st->r;
    uint16_t was = st->flags;
    st->body_ops = NULL;
    h2_stream_done(st);
    if (!r || (was & S_DONE)) {
        return;
    }
    if (was & S_DEFER) {
        r->resp.stream_arg = st->defer_arg;
        if (st->defer_ops && st->defer_ops->abort) {
            st->defer_ops->abort(r);
        }
    } else if ((was & S_STREAM) && r->resp.stream && r->resp.stream->abort) {
        r->resp.stream->abort(r);
    }
}

void h2_stream_closed(struct h2_stream *st, uint32_t error_code)
{
    st->flags |= S_CLOSED;
    if (error_code == 0 && (st->flags & S_RESP) && st->r) {
        /* closed after its last frame went to the transport: its service time */
        const struct http_env *e = &h2_env_of(st->h)->h1->http;
        if (e->lat) {
            latency_record(&e->lat->service, st->t_start_us, e->loop->now_us);
        }
        struct hist *lh = loc_latency_hist(st->r->loc ? st->r->loc->lat : NULL, e->worker);
        if (lh) {
            latency_record(lh, st->t_start_us, e->loop->now_us);
        }
    }
    if (!(st->flags & S_DONE)) {
        abort_handler(st);
    }
    h2_stream_log(st);
    h2_stream_release(st);
}

static void stream_free(struct h2_stream *st)
{
    struct h2_conn *h = st->h;
    if (st->prev) {
        st->prev->next = st->next;
    } else {
        h->streams = st->next;
    }
    if (st->next) {
        st->next->prev = st->prev;
    }
    h->nstreams--;
    req_wait_unlink(&st->wait);
    for (uint32_t i = 0; i < st->npieces; i++) {
        if (st->pieces[i].ref) {
            fs_entry_release(st->pieces[i].ref);
        }
    }
    if (!(st->flags & S_CLOSED) && h->ng) {
        nghttp2_session_set_stream_user_data(h->ng, st->id, NULL);
    }
    sp_free(st->copy);
    sp_free(st->sbuf);
    sp_free(st->bbuf);
    arena_release(&st->arena);
    sp_free(st);
}

bool h2_stream_release(struct h2_stream *st)
{
    if (!(st->flags & S_CLOSED) || !(st->flags & S_DONE) || st->holds) {
        return false;
    }
    h2_stream_log(st);
    stream_free(st);
    return true;
}

void h2_streams_close_all(struct h2_conn *h)
{
    while (h->streams) {
        struct h2_stream *st = h->streams;
        st->flags |= S_CLOSED;
        if (!(st->flags & S_DONE)) {
            abort_handler(st);
        }
        h2_stream_log(st);
        st->holds = 0; /* the connection is freed: nothing can hold it any more */
        stream_free(st);
    }
}
