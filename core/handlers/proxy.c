/* proxy.c - the reverse proxy's handler: connections, both bodies, failures (see proxy.h). */
#include "core/handlers/proxy.h"

#include "core/base/alloc.h"
#include "core/base/numfmt.h"
#include "core/handlers/proxy_conf.h"
#include "core/handlers/proxy_msg.h"
#include "core/handlers/proxy_state.h"
#include "core/handlers/proxy_vars.h"
#include "core/http/respond.h"
#include "core/http/upstream.h"
#include "core/http/vars.h"
#include "core/io/loop.h"
#include "log/errlog.h"
#include "proto/chunked.h"
#include "proto/upstream_head.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define RBUF_MIN 16384u /* the response buffer: the head limit, or this, whichever is larger */
#define SBUF 16384u     /* the request body on its way to the upstream */
#define CHUNK_ROOM 24u  /* a chunk's size line and CRLF, and the last chunk */

_Thread_local struct px *proxy_live;

static void px_unref(struct px *px)
{
    if (--px->refs) {
        return;
    }
    if (px->prev) {
        px->prev->next = px->next;
    } else if (proxy_live == px) {
        proxy_live = px->next;
    }
    if (px->next) {
        px->next->prev = px->prev;
    }
    sp_free(px->head);
    sp_free(px);
}

/* ---------------------------------------------------------------- connections */

static void conn_maybe_free(struct pconn *c)
{
    if (!c->orphan || c->c_out || c->s_out || c->r_out) {
        return;
    }
    upstream_give(c->env, c->g, &c->uc, c->reuse);
    struct px *px = c->px;
    sp_free(c);
    px_unref(px);
}

/* The request is done with c: kept (reuse, when nothing is in flight) or closed once its
 * operations completed. */
static void conn_let_go(struct px *px, bool reuse)
{
    struct pconn *c = px->cur;
    if (!c) {
        return;
    }
    px->cur = NULL;
    c->orphan = true;
    c->reuse = reuse && !c->c_out && !c->s_out && !c->r_out;
    if (c->c_out || c->s_out || c->r_out) {
        if (c->c_out) {
            io_cancel(px->loop, &c->cop);
        }
        if (c->s_out) {
            io_cancel(px->loop, &c->sop);
        }
        if (c->r_out) {
            io_cancel(px->loop, &c->rop);
        }
        (void)shutdown(c->uc.fd, SHUT_RDWR); /* what is in flight ends now */
    }
    conn_maybe_free(c);
}

static void deadline(struct px *px, uint32_t ms)
{
    px->watch.deadline_ms = px->loop->now_ms + ms;
}

/* ---------------------------------------------------------------- ending */

/* The request lets go of px (its answer is on its way, or the client went). */
static void detach(struct px *px)
{
    if (!px->r) {
        return;
    }
    upstream_watch_stop(&px->watch);
    px->r = NULL;
    px_unref(px);
}

static void respond_error(struct px *px, int status)
{
    struct req *r = px->r;
    conn_let_go(px, false);
    detach(px);
    if (r) {
        resp_begin(r, status);
        int rc = resp_error(r, status); /* on failure the connection closes */
        (void)rc;
    }
}

/*
 * The response is under way and cannot be completed: the client must see it cut
 * (resp_stream_abort: no last chunk, the connection closes after what is queued).
 */
static void cut_client(struct px *px)
{
    struct req *r = px->r;
    conn_let_go(px, false);
    detach(px);
    if (r) {
        resp_stream_abort(r);
    }
}

static bool non_idempotent(enum http_method m)
{
    return m == HTTP_POST || m == HTTP_PATCH || m == HTTP_METHOD_UNKNOWN;
}

static bool can_retry(const struct px *px, unsigned why)
{
    const struct proxy_conf *pc = px->pc;
    return !px->started && !px->has_body && (pc->next.mask & why) &&
           (!non_idempotent(px->r->method) || (pc->next.mask & PROXY_NEXT_NON_IDEMPOTENT)) &&
           px->tries.count < px->g->npeers;
}

static int start_peer(struct px *px, int peer);

/* The current peer failed for reason why (a PROXY_NEXT_* bit): the next one, or an error. */
static void fail(struct px *px, unsigned why, const char *what)
{
    struct pconn *c = px->cur;
    if (c) {
        if (why & (PROXY_NEXT_ERROR | PROXY_NEXT_TIMEOUT | PROXY_NEXT_INVALID_HEADER |
                   PROXY_NEXT_500 | PROXY_NEXT_502 | PROXY_NEXT_503 | PROXY_NEXT_504 |
                   PROXY_NEXT_429)) {
            upstream_failed(px->env, px->g, c->uc.peer);
        }
        errlog(ERRLOG_ERROR, "proxy: %s from upstream %s", what,
               px->g->peers[c->uc.peer].name);
        conn_let_go(px, false);
    }
    if (!px->r) {
        return;
    }
    if (can_retry(px, why)) {
        int st = start_peer(px, -1);
        if (st == 0) {
            return;
        }
        why = PROXY_NEXT_ERROR;
    }
    if (px->started) {
        cut_client(px);
    } else {
        respond_error(px, why == PROXY_NEXT_TIMEOUT ? 504 : 502);
    }
}

/* The response came whole: the connection is kept if nothing about it is in doubt. */
static void complete(struct px *px)
{
    bool sent = px->head_off == px->head_len && (!px->has_body || px->body_ended) &&
                px->s_len == px->s_off;
    if (px->cur) {
        upstream_ok(px->env, px->g, px->cur->uc.peer);
    }
    conn_let_go(px, px->keep_alive && !px->extra && sent);
    struct req *r = px->r;
    bool started = px->started;
    detach(px); /* px may be gone now */
    if (r && started) {
        int rc = resp_stream_end(r); /* on failure the connection closes */
        (void)rc;
    }
}

/* ---------------------------------------------------------------- response */

static void start_recv(struct px *px);
static const struct resp_stream_ops stream_ops;

/* Passes what the buffer holds of the body to the client, as far as its queue takes it. */
static void pump(struct px *px)
{
    while (px->r && px->roff < px->rlen) {
        const char *p = px->rbuf + px->roff;
        size_t avail = px->rlen - px->roff;
        if (px->kind == UPSTREAM_BODY_CHUNKED) {
            size_t used;
            struct slice data;
            int rc = http_chunked_decode(&px->ch, p, avail, &used, &data);
            if (rc < 0) {
                fail(px, PROXY_NEXT_ERROR, "broken chunked body");
                return;
            }
            px->roff += (uint32_t)used;
            if (data.len) {
                size_t w = resp_stream_write(px->r, data.ptr, data.len);
                if (w < data.len) {
                    http_chunked_unread(&px->ch, data.len - w);
                    px->roff -= (uint32_t)(data.len - w);
                    px->waiting_client = true;
                    px->watch.deadline_ms = UINT64_MAX; /* the client's send timeout runs */
                    return;
                }
            }
            if (rc == HTTP_CHUNKED_DONE) {
                px->extra = px->roff < px->rlen;
                complete(px);
                return;
            }
            if (rc == HTTP_CHUNKED_MORE) {
                break;
            }
            continue;
        }
        size_t n = avail;
        if (px->kind == UPSTREAM_BODY_LENGTH && n > px->left) {
            n = (size_t)px->left;
        }
        size_t w = resp_stream_write(px->r, p, n);
        px->roff += (uint32_t)w;
        if (px->kind == UPSTREAM_BODY_LENGTH) {
            px->left -= w;
            if (px->left == 0) {
                px->extra = px->roff < px->rlen; /* past its Content-Length: dropped */
                complete(px);
                return;
            }
        }
        if (w < n) {
            px->waiting_client = true;
            px->watch.deadline_ms = UINT64_MAX;
            return;
        }
    }
    if (px->r) {
        px->roff = px->rlen = 0;
        start_recv(px);
    }
}

static unsigned status_bit(int status)
{
    switch (status) {
    case 500:
        return PROXY_NEXT_500;
    case 502:
        return PROXY_NEXT_502;
    case 503:
        return PROXY_NEXT_503;
    case 504:
        return PROXY_NEXT_504;
    case 403:
        return PROXY_NEXT_403;
    case 404:
        return PROXY_NEXT_404;
    case 429:
        return PROXY_NEXT_429;
    default:
        return 0;
    }
}

/* The head is complete in the buffer: the client's response starts. */
static void got_head(struct px *px, const struct upstream_head *uh)
{
    struct req *r = px->r;
    px->head_done = true;
    px->up_status = uh->status;
    px->keep_alive = uh->keep_alive;
    px->kind = uh->body;
    px->roff = uh->head_len;
    unsigned bit = status_bit(uh->status);
    if (bit && (px->pc->next.mask & bit) && can_retry(px, bit)) {
        char what[48];
        snprintf(what, sizeof(what), "status %d", uh->status);
        fail(px, bit, what);
        return;
    }
    if (proxy_response_head(r, px->pc, uh) < 0) {
        respond_error(px, 500);
        return;
    }
    size_t avail = px->rlen - px->roff;
    if (px->kind == UPSTREAM_BODY_NONE ||
        (px->kind == UPSTREAM_BODY_LENGTH && avail >= uh->content_length)) {
        /* the whole response is here: sent from memory, in one piece */
        const struct http_header *cl = hdr_get_known(&uh->headers, HDR_CONTENT_LENGTH);
        bool head_len = px->head_req && cl && uh->status != 204 && uh->status != 304;
        uint64_t n = px->kind == UPSTREAM_BODY_LENGTH ? uh->content_length : 0;
        px->extra = avail > n;
        int rc = 0;
        if (!head_len) {
            rc = n ? resp_body_mem(r, px->rbuf + px->roff, (size_t)n, NULL) : 0;
            if (rc == 0) {
                rc = resp_send(r); /* copies the body now */
            }
        } else {
            uint64_t len;
            if (num_parse_u64(cl->value, UINT64_MAX - 1, &len) < 0) {
                len = 0;
            }
            resp_stream_length(r, len);
            rc = resp_stream(r, &stream_ops, px);
            if (rc == 0 && px->r) {
                rc = resp_stream_end(r);
            }
        }
        (void)rc;
        px->started = false;
        complete(px);
        return;
    }
    if (px->kind == UPSTREAM_BODY_LENGTH) {
        px->left = uh->content_length;
        resp_stream_length(r, uh->content_length);
    } else if (px->kind == UPSTREAM_BODY_CHUNKED) {
        http_chunked_init(&px->ch, UINT64_MAX);
    }
    if (resp_stream(r, &stream_ops, px) < 0) {
        cut_client(px);
        return;
    }
    px->started = true;
    pump(px);
}

static void process(struct px *px)
{
    if (px->head_done) {
        pump(px);
        return;
    }
    struct upstream_head_limits lim = {px->pc->buffer_size, 100};
    for (;;) {
        struct upstream_head uh;
        int rc = upstream_head_parse(px->rbuf, px->rlen, &lim, px->head_req, px->r->arena, &uh);
        if (rc == -EAGAIN) {
            start_recv(px);
            return;
        }
        if (rc < 0) {
            fail(px, PROXY_NEXT_INVALID_HEADER, "an invalid response head");
            return;
        }
        if (uh.status >= 200) {
            got_head(px, &uh);
            return;
        }
        /* an interim response (100 Continue, 103): not passed on */
        memmove(px->rbuf, px->rbuf + rc, px->rlen - (uint32_t)rc);
        px->rlen -= (uint32_t)rc;
    }
}

static void on_recv(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct pconn *c = container_of(op, struct pconn, rop);
    c->r_out = false;
    struct px *px = c->px;
    if (c->orphan || !px->r) {
        conn_maybe_free(c);
        return;
    }
    if (res > 0) {
        px->rlen += (uint32_t)res;
        px->got_any = true;
        deadline(px, px->pc->read_timeout_ms);
        process(px);
        return;
    }
    if (px->head_done && px->kind == UPSTREAM_BODY_CLOSE && res == 0) {
        complete(px); /* a body delimited by the close */
        return;
    }
    if (!px->got_any && c->uc.reused && !px->has_body && !px->stale_retried) {
        /* an idle connection the peer had closed: once more on a new one, not a failure */
        unsigned peer = c->uc.peer;
        px->stale_retried = true;
        conn_let_go(px, false);
        if (start_peer(px, (int)peer) != 0) {
            respond_error(px, 502);
        }
        return;
    }
    fail(px, PROXY_NEXT_ERROR,
         res == 0 ? "a premature close" : px->head_done ? "a reset mid-body" : "a reset");
}

static void start_recv(struct px *px)
{
    struct pconn *c = px->cur;
    if (!c || c->r_out || px->waiting_client || px->rlen == px->rcap) {
        if (c && px->rlen == px->rcap && !px->head_done) {
            fail(px, PROXY_NEXT_INVALID_HEADER, "a response head over proxy_buffer_size");
        }
        return;
    }
    c->r_out = true;
    io_op_init(&c->rop, on_recv);
    io_recv(px->loop, &c->rop, c->uc.fd, px->rbuf + px->rlen, px->rcap - px->rlen);
    if (c->s_out == false) {
        deadline(px, px->pc->read_timeout_ms);
    }
}

static void stream_writable(struct req *r)
{
    struct px *px = r->resp.stream_arg;
    if (px->r && px->waiting_client) {
        px->waiting_client = false;
        deadline(px, px->pc->read_timeout_ms);
        pump(px);
    }
}

static void stream_abort(struct req *r)
{
    struct px *px = r->resp.stream_arg;
    if (!px->r) {
        return;
    }
    conn_let_go(px, false);
    detach(px);
}

static const struct resp_stream_ops stream_ops = {stream_writable, stream_abort};

/* ---------------------------------------------------------------- request */

static void send_more(struct px *px);

static void on_sent(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct pconn *c = container_of(op, struct pconn, sop);
    c->s_out = false;
    struct px *px = c->px;
    if (c->orphan || !px->r) {
        conn_maybe_free(c);
        return;
    }
    if (res <= 0) {
        if (!px->got_any && c->uc.reused && !px->has_body && !px->stale_retried) {
            unsigned peer = c->uc.peer;
            px->stale_retried = true;
            conn_let_go(px, false);
            if (start_peer(px, (int)peer) != 0) {
                respond_error(px, 502);
            }
            return;
        }
        if (px->head_done) {
            /* the upstream answered and stopped reading the body: its answer goes on */
            px->has_body = false;
            return;
        }
        fail(px, PROXY_NEXT_ERROR, "a send error");
        return;
    }
    if (px->head_off < px->head_len) {
        px->head_off += (size_t)res;
    } else {
        px->s_off += (size_t)res;
        if (px->s_off == px->s_len) {
            px->s_off = px->s_len = 0;
            if (px->body_refused) {
                px->body_refused = false;
                req_body_more(px->r);
                if (!px->r) {
                    return;
                }
            }
        }
    }
    deadline(px, px->pc->send_timeout_ms);
    send_more(px);
}

static void send_more(struct px *px)
{
    struct pconn *c = px->cur;
    if (!c || c->c_out || c->s_out) {
        return;
    }
    const char *p = NULL;
    size_t n = 0;
    if (px->head_off < px->head_len) {
        p = px->head + px->head_off;
        n = px->head_len - px->head_off;
    } else if (px->s_off < px->s_len) {
        p = px->sbuf + px->s_off;
        n = px->s_len - px->s_off;
    }
    if (n) {
        c->s_out = true;
        io_op_init(&c->sop, on_sent);
        io_send(px->loop, &c->sop, c->uc.fd, p, n, MSG_NOSIGNAL);
        deadline(px, px->pc->send_timeout_ms);
    }
    if (px->head_off == px->head_len && !px->head_done && !c->r_out) {
        start_recv(px); /* the upstream may answer before the body is all there */
    }
}

static size_t body_data(struct req *r, const char *p, size_t n)
{
    struct px *px = r->body_arg;
    if (!px->r || !px->has_body) {
        return n; /* answered already: dropped */
    }
    size_t over = px->chunked_out ? CHUNK_ROOM : 0;
    size_t room = SBUF - px->s_len;
    if (room <= over + 5) {
        px->body_refused = true;
        return 0;
    }
    size_t take = MIN(n, room - over - 5);
    char *d = px->sbuf + px->s_len;
    if (px->chunked_out) {
        int w = snprintf(d, 20, "%zx\r\n", take);
        d += w;
        px->s_len += (size_t)w;
    }
    memcpy(d, p, take);
    px->s_len += take;
    if (px->chunked_out) {
        memcpy(px->sbuf + px->s_len, "\r\n", 2);
        px->s_len += 2;
    }
    if (take < n) {
        px->body_refused = true;
    }
    send_more(px);
    return take;
}

static void body_end(struct req *r, int err)
{
    struct px *px = r->body_arg;
    if (!px->r || !px->has_body) {
        return;
    }
    if (err == 0) {
        px->body_ended = true;
        if (px->chunked_out) {
            memcpy(px->sbuf + px->s_len, "0\r\n\r\n", 5); /* room was kept for it */
            px->s_len += 5;
        }
        send_more(px);
        return;
    }
    /* a broken body: the upstream must not take it as whole */
    if (px->started) {
        cut_client(px);
    } else {
        respond_error(px, err > 0 ? err : 400);
    }
}

static const struct req_body_ops body_ops = {body_data, body_end};

static void on_connected(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct pconn *c = container_of(op, struct pconn, cop);
    c->c_out = false;
    struct px *px = c->px;
    if (c->orphan || !px->r) {
        conn_maybe_free(c);
        return;
    }
    if (res < 0) {
        char what[96];
        snprintf(what, sizeof(what), "connect: %s", strerror(-res));
        fail(px, PROXY_NEXT_ERROR, what);
        return;
    }
    send_more(px);
}

/* A connection to peer (or a peer the group picks, peer < 0): 0, or the status to answer. */
static int start_peer(struct px *px, int peer)
{
    struct req *r = px->r;
    if (peer < 0) {
        peer = upstream_pick(r, px->g, &px->tries);
        if (peer < 0) {
            errlog(ERRLOG_ERROR, "proxy: no live upstreams in \"%s\"", px->g->name);
            return 502;
        }
    }
    struct pconn *c = sp_calloc(1, sizeof(*c));
    if (!c) {
        return 500;
    }
    c->px = px;
    c->env = px->env;
    c->g = px->g;
    px->refs++;
    int rc = upstream_take(px->env, px->g, (unsigned)peer, px->has_body, &c->uc);
    px->cur = c;
    if (px->ntried < PROXY_TRIED_MAX) {
        px->tried[px->ntried++] = (uint8_t)peer; /* $upstream_addr, written when asked for */
    }
    px->rlen = px->roff = 0;
    px->head_off = 0;
    px->head_done = px->got_any = false;
    if (rc < 0) {
        errlog(ERRLOG_ERROR, "proxy: socket: %s", strerror(-rc));
        conn_let_go(px, false);
        return 502;
    }
    if (c->uc.reused) {
        send_more(px);
    } else {
        const struct upstream_peer *pe = &px->g->peers[peer];
        c->c_out = true;
        io_op_init(&c->cop, on_connected);
        io_connect(px->loop, &c->cop, c->uc.fd, (const struct sockaddr *)&pe->addr, pe->addrlen);
        deadline(px, px->pc->connect_timeout_ms);
    }
    return 0;
}

static void watch_fired(struct upstream_watch *w)
{
    struct px *px = container_of(w, struct px, watch);
    if (px->r) {
        upstream_watch_start(px->loop, &px->watch); /* a retry waits again */
        fail(px, PROXY_NEXT_TIMEOUT, "a timeout");
    }
}

static void defer_abort(struct req *r)
{
    stream_abort(r);
}

static const struct resp_stream_ops defer_ops = {NULL, defer_abort};

static int handle(struct req *r, const void *conf)
{
    const struct proxy_conf *pc = conf;
    if (!pc->pass.group || !pc->plan) {
        return 500;
    }
    bool chunked = r->body_kind == HTTP_BODY_CHUNKED;
    if (chunked && pc->http_version == 0) {
        return 411; /* HTTP/1.0 has no chunked body, and spate does not spool one */
    }
    bool body = r->body_kind != HTTP_BODY_NONE;
    uint32_t rcap = MAX(pc->buffer_size, RBUF_MIN);
    struct px *px = sp_malloc(sizeof(*px) + rcap + (body ? SBUF : 0));
    if (!px) {
        return 500;
    }
    memset(px, 0, sizeof(*px)); /* not the buffers: what they hold is always counted */
    px->r = r;
    px->pc = pc;
    px->g = pc->pass.group;
    px->env = r->env;
    px->loop = r->env->loop;
    px->refs = 1;
    px->rbuf = (char *)(px + 1);
    px->rcap = rcap;
    px->sbuf = body ? px->rbuf + rcap : NULL;
    px->has_body = body;
    px->chunked_out = chunked;
    px->head_req = r->method == HTTP_HEAD;
    px->t0_ms = px->loop->now_ms;
    px->watch.deadline_ms = UINT64_MAX;
    px->watch.fire = watch_fired;
    px->next = proxy_live;
    if (proxy_live) {
        proxy_live->prev = px;
    }
    proxy_live = px;
    int st = 0;
    if (proxy_request_head(r, pc, chunked, &px->head, &px->head_len) < 0) {
        st = 500;
    } else {
        st = start_peer(px, -1);
    }
    if (st) {
        conn_let_go(px, false);
        px->r = NULL;
        px_unref(px);
        return st;
    }
    if (resp_defer(r, &defer_ops, px) < 0) {
        conn_let_go(px, false);
        px->r = NULL;
        px_unref(px);
        return -ENOMEM;
    }
    upstream_watch_start(px->loop, &px->watch);
    if (body && req_body_read(r, &body_ops, px) != 0) {
        px->has_body = false; /* no body after all */
        px->body_ended = true;
    }
    return 0;
}

const struct handler_ops proxy_handler = {
    .name = "proxy",
    .methods = HANDLER_METHOD(HTTP_GET) | HANDLER_METHOD(HTTP_HEAD) | HANDLER_METHOD(HTTP_POST) |
               HANDLER_METHOD(HTTP_PUT) | HANDLER_METHOD(HTTP_DELETE) |
               HANDLER_METHOD(HTTP_OPTIONS) | HANDLER_METHOD(HTTP_PATCH),
    .handle = handle,
};

const struct conf_module proxy_module = {
    .name = "proxy",
    .rows = proxy_rows,
    .nrows = PROXY_NROWS,
    .size = {[CONF_STORE_LOC] = sizeof(struct proxy_conf)},
    .finish = proxy_conf_finish,
    .release = proxy_conf_release,
    .content = &proxy_handler,
    .start = proxy_vars_start,
};
