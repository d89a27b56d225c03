/*
 * h1.c - the HTTP/1 session's input side and state machine (see h1.h).
 *
 * The flags, and what each means for the next byte that arrives:
 *   H1_STOP_READ   input is ignored: the connection closes after its output
 *   H1_BLOCKED     a request waits in `in` until the output (or the log, or a
 *                  streamed body) drains; then parsing resumes from `in`
 *   H1_PAUSED      the transport was told to stop reading (read_stop), so
 *                  only bytes already on their way still arrive (stashed)
 *   H1_CLOSE_AFTER the last response is queued: close once it went out
 *   H1_UNREAD      closing, and the client may still send (a body, bytes after
 *                  the last request, a keep-alive client the server closes on):
 *                  linger, reading and dropping, so the close never finds input
 *                  unread and answers it with an RST that could cut the response
 *   H1_WAITING     the handler of the first request in `in` returned HANDLER_LATER
 *                  (a file being loaded): with H1_BLOCKED, nothing is parsed until
 *                  wake() dispatches that request again
 */
#include "core/http/h1.h"

#include "core/base/alloc.h"
#include "core/http/dispatch.h"
#include "core/http/h1_body.h"
#include "core/http/handler.h"
#include "core/http/h1_track.h"
#include "core/http/h1_write.h"
#include "core/http/latency.h"
#include "core/http/respond.h"
#include "log/errlog.h"
#include "proto/request.h"

#include <errno.h>
#include <string.h>

/* Room a new request needs before it is parsed: a head, and the segments of a multipart body. */
#define ROOM_BYTES 2048
#define ROOM_SEGS 40

/* ---------------------------------------------------------------- timers */

static void update_timer(struct h1_conn *h)
{
    struct conn *c = &h->c;
    const struct http_settings *set = h1_env_of(h)->set;
    if (c->flags & (CONN_DEAD | CONN_LINGER)) {
        return;
    }
    if (!outq_empty(c->tr.out) || (c->tr.flags & TR_SENDING) || (h->flags & H1_WAITING) ||
        (h->stream && h->stream_waits)) {
        /* a wait for the disk is bounded like a send: send_timeout */
        if (conn_timer_kind(c) != CONN_T_SEND) {
            conn_timer(c, CONN_T_SEND);
        }
        return;
    }
    if (h->body_kind != H1_BODY_NONE && !h->body_full) {
        conn_timer(c, CONN_T_BODY); /* client_body_timeout: between two reads of the body */
        return;
    }
    if (h->stream) {
        /* its producer (a script, an upstream) bounds its own wait: no timer of ours */
        conn_timer_cancel(c);
        return;
    }
    if (h->in_len) {
        /* the whole head must arrive within client_header_timeout of its first byte */
        if (!(h->flags & H1_HEAD_TIMER)) {
            h->flags |= H1_HEAD_TIMER;
            conn_timer(c, CONN_T_HEADER);
        }
        return;
    }
    if (h->nreq == 0 && (h->flags & H1_HEAD_TIMER)) {
        return; /* fresh connection: client_header_timeout from accept */
    }
    h->flags &= ~H1_HEAD_TIMER;
    if (set->keepalive_timeout_ms == 0) {
        conn_abort(c);
        return;
    }
    conn_timer(c, CONN_T_IDLE);
}

/* ---------------------------------------------------------------- bodies */

/* Checks the chunked body bytes already received: 0, or -400/-413 for an error among them. */
static int chunked_prescan(uint64_t max_body, const char *p, size_t n)
{
    struct http_chunked d;
    http_chunked_init(&d, max_body);
    size_t off = 0;
    while (off < n) {
        size_t used;
        struct slice data;
        int rc = http_chunked_decode(&d, p + off, n - off, &used, &data);
        if (rc < 0) {
            return rc;
        }
        off += used;
        if (rc != HTTP_CHUNKED_DATA) {
            break;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- requests */

/* Must the next request wait (the output, the log or a streamed body is behind)? */
static bool held_back(const struct h1_conn *h)
{
    const struct h1_env *e = h1_env_of(h);
    if (h->stream || (h->flags & H1_WAITING) || alog_waiting(e->log)) {
        return true;
    }
    const struct outq *q = h->c.tr.out;
    if (q && (outq_room(q) < ROOM_BYTES || outq_free_segs(q) < ROOM_SEGS)) {
        return true;
    }
    return h->trk && h->trk->count >= MIN(e->set->max_pipeline, (uint32_t)H1_RECS);
}

/*
 * Answers one parsed request. 0, HANDLER_LATER (its handler waits: the request stays
 * unconsumed and is served again on wake), or -ENOMEM (the connection is aborted).
 */
static int serve(struct h1_conn *h, const struct http_request *msg)
{
    struct h1_env *e = h1_env_of(h);
    const struct http_settings *set = e->set;
    struct req *r = arena_alloc(&h->c.arena, sizeof(*r));
    if (!r) {
        return -ENOMEM;
    }
    memset(r, 0, sizeof(*r));
    r->msg = msg;
    r->version_minor = msg->version_minor;
    r->secure = h->c.tr.ops->ssl != NULL;
    r->method = msg->method;
    r->head_only = msg->method == HTTP_HEAD;
    r->args = msg->query;
    r->group = &e->routes->groups[h->c.listener];
    r->env = &e->http;
    r->arena = &h->c.arena;
    r->proto = &h1_proto;
    r->proto_data = h;
    r->wait = &h->wait;
    r->body_kind = (uint8_t)msg->body;
    r->body_length = msg->content_length;
    r->t_first_us = h->first_us;
    if (e->http.lat && !h->wait_since_us) {
        /* from the receive that completed its head (or a later one) to now */
        latency_record(&e->http.lat->queue, h->rx_us, latency_now_us());
    }
    resp_begin(r, 200);
    r->resp.close = !msg->keep_alive || e->http.draining || set->keepalive_timeout_ms == 0 ||
                    h->nreq + 1 >= set->keepalive_requests;
    if (msg->expect_continue && msg->body != HTTP_BODY_NONE) {
        /* answered without reading the body (RFC 9110 10.1.1): the client may not send it,
         * unless the handler reads it (req_body_read sends the 100 and undoes this) */
        h->expect_ka = !r->resp.close;
        h->flags |= H1_EXPECT;
        r->resp.close = true;
    }
    int rc = http_dispatch(r);
    if (r->msg == msg) {
        r->msg = NULL; /* it points into the receive buffer: a stream going on must not use it */
    }
    if (rc == HANDLER_LATER) {
        if (!h->wait_since_us) {
            h->wait_since_us = e->http.loop->now_us ? e->http.loop->now_us : 1;
        }
        return rc; /* nothing was answered: the request's bytes are kept and parsed again */
    }
    h->wait.rounds = 0;
    h->wait.passed = 0;
    h->wait_since_us = 0;
    if (rc == 0 && !r->resp.sent && !(h->deferred && h->stream == r)) {
        errlog(ERRLOG_ERROR, "a %s handler returned without answering", r->loc->handler->name);
        rc = resp_error(r, 500);
    }
    if (rc < 0) {
        return rc;
    }
    h->nreq++;
    ctr_add(&h->c.pool->ctr->requests, 1);
    h->first_us = h->rx_us; /* the next request's bytes, if here, came by the latest receive */
    if ((h->flags & H1_STOP_READ) && (msg->keep_alive || msg->body != HTTP_BODY_NONE)) {
        /* the client did not say it was done: a body, or its next request, may be on the way */
        h->flags |= H1_UNREAD;
    }
    if (!(h->flags & H1_STOP_READ)) {
        /* the body follows the head: consume it (and drop it) before the next request */
        if (msg->body == HTTP_BODY_LENGTH) {
            h->body_kind = H1_BODY_LENGTH;
            h->body_left = msg->content_length;
        } else if (msg->body == HTTP_BODY_CHUNKED) {
            h->body_kind = H1_BODY_CHUNKED;
            http_chunked_init(&h->chunk, e->http.max_body);
        }
    }
    return 0;
}

/* A request that can never be valid: answered, then the connection closes. */
static void refuse(struct h1_conn *h, int status, const char *buf, size_t len)
{
    if (h1_bad_request(h, status, buf, len) < 0) {
        conn_abort(&h->c);
    }
    h->flags |= H1_STOP_READ | H1_UNREAD;
}

/*
 * Parses and answers as many requests as buf holds. Returns the bytes consumed; the rest is
 * an incomplete request, or input held back (H1_BLOCKED).
 */
static size_t process(struct h1_conn *h, const char *buf, size_t len)
{
    struct h1_env *e = h1_env_of(h);
    size_t off = 0;
    while (off < len) {
        if (h->flags & H1_STOP_READ) {
            h->flags |= H1_UNREAD; /* bytes after the last request: more may follow */
            return len;            /* discarding until close */
        }
        if (h->body_kind != H1_BODY_NONE) {
            off += h1_body_bytes(h, buf + off, len - off);
            if (h->body_full) {
                h->flags |= H1_BLOCKED; /* the handler takes the rest later (req_body_more) */
                break;
            }
            continue;
        }
        if (held_back(h)) {
            h->flags |= H1_BLOCKED;
            break;
        }
        struct http_request msg;
        int rc = http_parse_request(buf + off, len - off, h->scanned, &e->set->limits, &h->c.arena,
                                    &msg);
        if (rc == -EAGAIN) {
            h->scanned = (uint32_t)(len - off);
            break;
        }
        h->scanned = 0;
        if (rc < 0) {
            refuse(h, -rc, buf + off, len - off); /* framing cannot be trusted any more */
            return len;
        }
        if (msg.body == HTTP_BODY_CHUNKED) {
            /* a framing error already in hand is answered with its status, not the resource */
            int bad = chunked_prescan(e->http.max_body, buf + off + msg.head_len,
                                      len - off - msg.head_len);
            if (bad < 0) {
                refuse(h, -bad, buf + off, len - off);
                return len;
            }
        }
        int served = serve(h, &msg);
        if (served < 0) {
            conn_abort(&h->c);
            return len;
        }
        if (served == HANDLER_LATER) {
            h->flags |= H1_WAITING | H1_BLOCKED;
            break;
        }
        off += msg.head_len;
        h->flags &= ~H1_HEAD_TIMER;
        if (!h->stream) {
            arena_reset(&h->c.arena); /* per request: its cap bounds one request */
        }
    }
    if (!h->stream) {
        arena_release(&h->c.arena);
    }
    return off;
}

static bool stash(struct h1_conn *h, const char *p, size_t n)
{
    /*
     * While output is blocked the receive is cancelled, but completions already under way
     * still arrive: at most the socket's receive buffer (256 KiB requested on the listener,
     * which the kernel doubles). Past this, the client pipelines without reading: drop it.
     */
    size_t hard_cap = (size_t)h1_env_of(h)->set->limits.max_head + (768u << 10);
    size_t need = h->in_len + n;
    if (need > hard_cap) {
        return false;
    }
    if (need > h->in_cap) {
        size_t ncap = h->in_cap ? h->in_cap : 1024;
        while (ncap < need) {
            ncap *= 2;
        }
        char *nb = sp_realloc(h->in, ncap);
        if (!nb) {
            return false;
        }
        h->in = nb;
        h->in_cap = (uint32_t)ncap;
    }
    memcpy(h->in + h->in_len, p, n);
    h->in_len += (uint32_t)n;
    return true;
}

/* Parses what is buffered in `in`. */
static void process_stash(struct h1_conn *h)
{
    size_t used = process(h, h->in, h->in_len);
    if (conn_dead(&h->c)) {
        return;
    }
    if (used >= h->in_len) {
        sp_free(h->in);
        h->in = NULL;
        h->in_len = h->in_cap = 0;
        h->scanned = 0;
        return;
    }
    memmove(h->in, h->in + used, h->in_len - used);
    h->in_len -= (uint32_t)used;
}

/* ---------------------------------------------------------------- session operations */

static void h1_wake(struct req_wait *w);

static void h1_open(struct conn *c)
{
    struct h1_conn *h = h1_of(c);
    h->wait = (struct req_wait){NULL, NULL, h1_wake, 0};
    h->wait_since_us = 0;
    c->tr.ops->read_start(&c->tr);
    conn_timer(c, CONN_T_HEADER);
    h->flags |= H1_HEAD_TIMER;
}

/* The HTTP/2 client preface (RFC 9113 3.4), which no HTTP/1 request line can be. */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN (sizeof(h2_preface) - 1)

/*
 * h2c by prior knowledge (nginx 1.25's `http2 on` on a plain listener): a connection whose first
 * bytes are the preface goes over to the HTTP/2 session with them. True when it did (h is gone)
 * or when the bytes so far are the start of the preface (kept until the rest comes).
 */
static bool h2_prior_knowledge(struct h1_conn *h, const char *p, size_t n)
{
    struct conn *c = &h->c;
    const struct route_group *g = &h1_env_of(h)->routes->groups[c->listener];
    if (!c->pool->h2 || !g->http2 || g->ssl || h->nreq || h->queued || h->stream ||
        h->body_kind != H1_BODY_NONE || (h->flags & H1_WAITING)) {
        return false; /* over TLS, ALPN decides; after a request, it is HTTP/1 */
    }
    size_t have = h->in_len, total = have + n;
    size_t cmp = total < H2_PREFACE_LEN ? total : H2_PREFACE_LEN;
    size_t first = have < cmp ? have : cmp;
    if ((first && memcmp(h->in, h2_preface, first) != 0) ||
        memcmp(p, h2_preface + first, cmp - first) != 0) {
        return false;
    }
    if (total < H2_PREFACE_LEN) {
        if (!stash(h, p, n)) {
            conn_abort(c);
        }
        return true;
    }
    conn_timer_cancel(c);
    if (!have) {
        conn_switch(c, c->pool->h2, p, n);
        return true;
    }
    if (!stash(h, p, n)) {
        conn_abort(c);
        return true;
    }
    char *in = h->in; /* the switch clears h: the bytes are handed over, then freed */
    size_t len = h->in_len;
    h->in = NULL;
    conn_switch(c, c->pool->h2, in, len);
    sp_free(in);
    return true;
}

static void h1_data(struct conn *c, const char *p, size_t n)
{
    struct h1_conn *h = h1_of(c);
    if (UNLIKELY(n && (h->in_len ? h->in[0] : p[0]) == 'P') && h2_prior_knowledge(h, p, n)) {
        return;
    }
    if (h->flags & H1_STOP_READ) {
        h->flags |= H1_UNREAD;
        return;
    }
    h->rx_us = h1_env_of(h)->http.loop->now_us;
    if (h->in_len == 0) {
        h->first_us = h->rx_us; /* nothing pending: a new request starts in these bytes */
    }
    if (h->in_len == 0 && !(h->flags & H1_BLOCKED)) {
        size_t used = process(h, p, n);
        if (used < n && !(h->flags & H1_STOP_READ) && !conn_dead(c) &&
            !stash(h, p + used, n - used)) {
            conn_abort(c);
            return;
        }
    } else {
        if (!stash(h, p, n)) {
            /* over the cap only while blocked: a client pipelining without reading */
            conn_abort(c);
            return;
        }
        if (!(h->flags & H1_BLOCKED)) {
            process_stash(h);
        }
    }
    if (conn_dead(c)) {
        return;
    }
    if ((h->flags & H1_BLOCKED) && !(h->flags & H1_PAUSED)) {
        /* a backlog: stop reading until it drains; resuming re-arms the receive */
        h->flags |= H1_PAUSED;
        c->tr.ops->read_stop(&c->tr);
    }
    conn_schedule(c);
}

/* The client shut down its side mid-body, and what it sent is all consumed: tell the handler. */
static void body_cut(struct h1_conn *h)
{
    if (h->body_ops && (h->c.flags & CONN_EOF) && h->in_len == 0 &&
        h->body_kind != H1_BODY_NONE) {
        h->body_kind = H1_BODY_NONE;
        h->flags |= H1_STOP_READ | H1_CLOSE_AFTER;
        h1_body_done(h, -ECONNABORTED);
        /* the request can never be whole: no answer can be meant for it (abort() follows) */
        conn_abort(&h->c);
    }
}

static void h1_eof(struct conn *c)
{
    struct h1_conn *h = h1_of(c);
    body_cut(h);
    if (conn_dead(c)) {
        return;
    }
    if (outq_empty(c->tr.out) && !(c->tr.flags & TR_SENDING) && !(h->flags & H1_BLOCKED) &&
        !h->stream) {
        conn_abort(c); /* an incomplete request is dropped with the connection */
        return;
    }
    if (h->deferred && h->in_len == 0 && h->body_kind == H1_BODY_NONE) {
        /* the client left while its answer is still being made (a script, an upstream): as
         * nginx does, the handler is told (abort) and stops; with requests pipelined after
         * it (in_len), it was a half-close, and they are answered */
        conn_abort(c);
    }
    /* else: buffered requests are answered, the responses go out, then drained() closes */
}

static void h1_sent(struct conn *c, uint64_t n)
{
    struct h1_conn *h = h1_of(c);
    h->sent += n;
    h1_completed(h);
    if (n) {
        conn_timer(c, CONN_T_SEND);
    }
    if (h->stream_waits) {
        conn_schedule(c); /* the producer gets its writable() at the start of the next turn */
    }
}

/* May the client still be sending when the connection closes (see H1_UNREAD)? */
static bool may_send_more(const struct h1_conn *h)
{
    return (h->flags & H1_UNREAD) || h->in_len || h->body_kind != H1_BODY_NONE;
}

/* Sends what is queued; after the last response, with the FIN (transport shutdown). */
static void flush(struct h1_conn *h)
{
    struct conn *c = &h->c;
    if ((h->flags & H1_CLOSE_AFTER) && !h->stream) {
        c->tr.ops->shutdown(&c->tr, !may_send_more(h));
    }
    c->tr.ops->flush(&c->tr);
}

static void h1_drained(struct conn *c)
{
    struct h1_conn *h = h1_of(c);
    if (!h->stream) {
        conn_outq_release(c);
    }
    if (h->flags & H1_CLOSE_AFTER && !h->stream) {
        conn_close_graceful(c, may_send_more(h));
        return;
    }
    if (h->flags & H1_WAITING) {
        update_timer(h); /* the next request goes on when wake() comes */
        return;
    }
    if (h->flags & H1_BLOCKED) {
        /* the backlog drained: answer the requests held back */
        h->flags &= ~H1_BLOCKED;
        process_stash(h);
        if (conn_dead(c)) {
            return;
        }
        if (!outq_empty(c->tr.out)) {
            flush(h);
            return;
        }
        if ((h->flags & H1_BLOCKED) && !h->stream) {
            /* still held back with nothing to send: the access log is behind. Its recovery
             * (or access_log_wait) resumes us; until then no timer may drop these requests */
            conn_timer_cancel(c);
            return;
        }
    }
    if (h->stream) {
        update_timer(h);
        return; /* the producer writes when it has something; sent() tells it about room */
    }
    if (c->flags & CONN_EOF) {
        conn_abort(c);
        return;
    }
    if (h1_env_of(h)->http.draining && h->in_len == 0 && h->body_kind == H1_BODY_NONE) {
        conn_close_graceful(c, true); /* FIN, not RST: a request on its way must not die */
        return;
    }
    if ((h->flags & H1_PAUSED) && !(h->flags & H1_BLOCKED)) {
        h->flags &= ~H1_PAUSED;
        c->tr.ops->read_start(&c->tr);
    }
    update_timer(h);
}

/* What the first request in `in` waited for is ready: dispatch it (and what follows) again. */
static void h1_wake(struct req_wait *w)
{
    struct h1_conn *h = container_of(w, struct h1_conn, wait);
    struct conn *c = &h->c;
    if (conn_dead(c)) {
        return; /* aborted, not yet freed (h1_close unlinks when it is): nothing to answer */
    }
    h->flags &= ~(H1_WAITING | H1_BLOCKED);
    conn_hold(c);
    process_stash(h);
    if (!conn_dead(c)) {
        conn_schedule(c); /* resume(): flush what was answered, set the timer */
    }
    conn_unhold(c);
}

static void h1_resume(struct conn *c)
{
    struct h1_conn *h = h1_of(c);
    if ((h->flags & H1_BLOCKED) && !(h->flags & H1_WAITING) && !h->body_full &&
        h->body_kind != H1_BODY_NONE && h->body_ops) {
        /* the body's consumer has room again (req_body_more): give it what is kept */
        h->flags &= ~H1_BLOCKED;
        process_stash(h);
        if (conn_dead(c)) {
            return;
        }
        body_cut(h);
        if (conn_dead(c)) {
            return;
        }
        if ((h->flags & H1_PAUSED) && !(h->flags & H1_BLOCKED) && !(h->flags & H1_STOP_READ)) {
            h->flags &= ~H1_PAUSED;
            c->tr.ops->read_start(&c->tr);
        }
    }
    if (h->stream && h->stream_waits) {
        const struct outq *q = c->tr.out;
        if (!q || outq_room(q) >= q->cap / 2) {
            h->stream_waits = false;
            h->stream->resp.stream->writable(h->stream);
            if (conn_dead(c)) {
                return;
            }
        }
    }
    if (!h->stream && h->in_len == 0) {
        arena_release(&c->arena); /* a streamed response ended: its request's memory goes */
    }
    flush(h);
    if (!conn_dead(c)) {
        update_timer(h);
    }
}

static void h1_timeout(struct conn *c, unsigned kind)
{
    struct h1_conn *h = h1_of(c);
    /*
     * RFC 9110 15.5.9: 408 when a request head is still incomplete. A discarded body belongs to
     * a request already answered: just close.
     */
    if (kind == CONN_T_BODY && h->body_ops && h->deferred) {
        /* client_body_timeout under a handler still answering: it answers 408, then close */
        h->body_kind = H1_BODY_NONE;
        h->flags |= H1_STOP_READ | H1_CLOSE_AFTER | H1_UNREAD;
        h1_body_done(h, 408);
        if (!conn_dead(c)) {
            conn_schedule(c);
        }
        return;
    }
    bool unanswered = kind == CONN_T_HEADER && h->in_len;
    if (unanswered && outq_empty(c->tr.out) && !(c->tr.flags & TR_SENDING) && !h->stream) {
        h->body_kind = H1_BODY_NONE;
        if (h1_bad_request(h, 408, h->in, h->in_len) == 0) {
            h->flags |= H1_STOP_READ | H1_UNREAD;
            conn_schedule(c);
            return;
        }
    }
    conn_abort(c);
}

static void h1_shutdown(struct conn *c)
{
    struct h1_conn *h = h1_of(c);
    bool idle = outq_empty(c->tr.out) && !(c->tr.flags & TR_SENDING) && h->in_len == 0 &&
                h->body_kind == H1_BODY_NONE && !h->stream;
    if (c->flags & CONN_LINGER) {
        conn_abort(c);
    } else if (idle && h->nreq > 0) {
        conn_close_graceful(c, true); /* FIN, then a linger: never an RST over a request */
    }
    /* a connection that has not sent its first request yet (just accepted: its request may be
     * on the way, or in the socket not yet read) is not idle but early: it gets its answer,
     * with Connection: close, within the header timeout and the drain's */
    /* otherwise the next response says Connection: close and drained() closes after it */
}

static void h1_close(struct conn *c)
{
    struct h1_conn *h = h1_of(c);
    h->body_ops = NULL; /* the handler hears of it through abort() */
    h->body_req = NULL;
    if (h->stream) {
        struct req *r = h->stream;
        h->stream = NULL;
        if (h->deferred) {
            /* answered later: the handler set r->resp.stream_arg as it liked since */
            h->deferred = false;
            r->resp.stream_arg = h->defer_arg;
            if (h->defer_ops && h->defer_ops->abort) {
                h->defer_ops->abort(r);
            }
        } else if (r->resp.stream && r->resp.stream->abort) {
            r->resp.stream->abort(r); /* the producer lets go; its arena goes with the conn */
        }
    }
    req_wait_unlink(&h->wait); /* a fill that ends later wakes nobody here */
    h1_log_unfinished(h);
    h1_run_ends(&h->ends); /* a request that never got its response queued */
    sp_free(h->in);
    h->in = NULL;
    h->in_len = h->in_cap = 0;
}

void h1_retire(struct conn *c)
{
    struct h1_conn *h = h1_of(c);
    if (c->flags & CONN_LINGER) {
        return; /* already closing */
    }
    if (h->flags & H1_WAITING) {
        /* its request was never answered, and cannot be routed any more: say so */
        req_wait_unlink(&h->wait);
        h->flags &= ~(H1_WAITING | H1_BLOCKED);
        if (h1_bad_request(h, 503, h->in, h->in_len) < 0) {
            conn_abort(c);
            return;
        }
    }
    /* requests not parsed yet are dropped, as a keep-alive connection that closes drops them */
    sp_free(h->in);
    h->in = NULL;
    h->in_len = h->in_cap = h->scanned = 0;
    h->flags &= ~H1_BLOCKED;
    h->flags |= H1_STOP_READ | H1_UNREAD | H1_CLOSE_AFTER;
    if (outq_empty(c->tr.out) && !(c->tr.flags & TR_SENDING) && !h->stream) {
        conn_close_graceful(c, true);
        return;
    }
    conn_schedule(c); /* FIN after what is queued (drained() closes) */
}

/* ---------------------------------------------------------------- per worker */

int h1_env_init(struct h1_env *e, const struct http_settings *set, const struct route_table *routes,
                struct alog_worker *log)
{
    e->set = set;
    e->routes = routes;
    e->log = log;
    e->date_sec = -1;
    /* records, then room for the log captures of a deep pipeline */
    block_pool_init(&e->track_pool, H1_TRACK_BLOCK, 1024);
    return 0;
}

void h1_env_fini(struct h1_env *e)
{
    block_pool_destroy(&e->track_pool);
}

const struct session_ops h1_session = {
    .name = "http/1.1",
    .size = sizeof(struct h1_conn),
    .open = h1_open,
    .data = h1_data,
    .eof = h1_eof,
    .sent = h1_sent,
    .drained = h1_drained,
    .resume = h1_resume,
    .timeout = h1_timeout,
    .shutdown = h1_shutdown,
    .close = h1_close,
};
