/* fastcgi.c - the FastCGI handler (see fastcgi.h). */
#include "core/handlers/fastcgi.h"

#include "core/base/alloc.h"
#include "core/handlers/fastcgi_conf.h"
#include "core/handlers/fastcgi_params.h"
#include "core/handlers/fastcgi_pool.h"
#include "core/http/cgi_reply.h"
#include "core/http/handler.h"
#include "core/http/regex.h"
#include "core/http/respond.h"
#include "core/http/vars.h"
#include "core/io/loop.h"
#include "log/errlog.h"
#include "proto/cgi_head.h"
#include "proto/fastcgi.h"
#include "proto/hdr_table.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define STDERR_LINES_MAX 8 /* error-log lines one request may write for its STDERR */
#define NAME_MAX_LOG 200   /* bytes of the script's name in those lines */

/* One request's state, in its arena; the connection (fastcgi_pool.h) holds the I/O. */
struct fcgi_req {
    struct req *r;
    struct fcgi_conn *c; /* NULL once the request is through with it */
    const struct fcgi_conf *conf;
    bool has_body, body_ended, body_paused, retried;
    struct upstream_try tries; /* the group's peers tried */
    uint64_t body_taken;
    bool head_done; /* the answer's head went out (or the request was answered) */
    char *head;
    size_t headlen;
    struct slice hrest, pend; /* body bytes waiting for room: after the head, then in rbuf */
    unsigned stderr_lines;
    /* a chunked body, collected before the request starts: PHP reads CONTENT_LENGTH bytes of
     * STDIN and no more, so the length must be known first (nginx buffers it too) */
    bool buffering;
    struct collected *col; /* NULL until a byte came */
    size_t bsent;
    char script[NAME_MAX_LOG + 1];
};

#define CHUNKED_MAX (64u << 20) /* the most of a chunked body held in memory */

/* A chunked body being collected: heap memory, freed when the request ends (the list of
 * ends outlives the request's arena). */
struct collected {
    struct req_end end;
    char *buf;
    size_t len, cap;
};

/* ---------------------------------------------------------------- the connection */

static void start_io(struct fcgi_conn *c);
static void pump(struct fcgi_conn *c);
static int begin_on(struct fcgi_req *fr, struct fcgi_conn *c);
static int start_on(struct fcgi_req *fr, unsigned peer);

static void set_deadline(struct fcgi_conn *c, uint32_t ms)
{
    c->watch.deadline_ms = ms ? c->loop->now_ms + ms : UINT64_MAX;
}

/* Lets go of the connection: back to the pool, or closed once what is out has come back. */
static void release(struct fcgi_conn *c, enum fcgi_fate fate)
{
    struct fcgi_req *fr = c->fr;
    if (fr) {
        fr->c = NULL;
    }
    upstream_watch_stop(&c->watch);
    if (fate == FCGI_CLOSE && (c->w_out || c->r_out)) {
        if (c->w_out) {
            io_cancel(c->loop, &c->wop);
        }
        if (c->r_out) {
            io_cancel(c->loop, &c->rop);
        }
        (void)shutdown(c->uc.fd, SHUT_RDWR); /* what is in flight ends now */
    }
    fcgi_conn_done(c, fate);
}

/*
 * The request ends badly: its status if nothing was answered yet, else the client must see
 * the response cut (resp_stream_abort: no last chunk, short of a Content-Length; the
 * connection closes after what is queued), as the proxy does. r may be gone afterwards.
 */
static void answer_failed(struct fcgi_req *fr, int status, const char *why)
{
    struct req *r = fr->r;
    fr->r = NULL;
    errlog(ERRLOG_ERROR, "fastcgi %s: %s (script \"%s\")", fr->conf->pass.text, why, fr->script);
    if (!fr->head_done) {
        if (resp_error(r, status) < 0) {
            return; /* the connection is closed */
        }
        return;
    }
    resp_stream_abort(r);
}

static void fail(struct fcgi_conn *c, int status, const char *why)
{
    struct fcgi_req *fr = c->fr;
    release(c, FCGI_CLOSE);
    if (fr) {
        answer_failed(fr, status, why);
    }
}

/*
 * An operation failed before anything came back. A reused connection (closed by the server
 * while idle) is tried once more on a fresh one; a connection that failed to connect or timed
 * out marks its peer failed and the next peer of the group is tried (nginx's
 * fastcgi_next_upstream error timeout), as long as no body byte was taken.
 */
static void broken(struct fcgi_conn *c, int status, const char *why)
{
    struct fcgi_req *fr = c->fr;
    if (!fr || c->received || fr->body_taken) {
        fail(c, status, why);
        return;
    }
    bool reused = c->uc.reused;
    int peer = (int)c->uc.peer;
    const struct upstream_group *g = c->g;
    if (!reused) {
        upstream_failed(c->env, g, c->uc.peer);
        peer = upstream_pick(fr->r, g, &fr->tries);
    } else if (fr->retried) {
        peer = -1;
    }
    fr->retried = fr->retried || reused;
    if (peer < 0) {
        fail(c, status, why);
        return;
    }
    release(c, FCGI_CLOSE);
    if (start_on(fr, (unsigned)peer) < 0) {
        answer_failed(fr, status, why);
    }
}

/* The step waited for took too long. */
static void watch_fired(struct upstream_watch *w)
{
    struct fcgi_conn *c = container_of(w, struct fcgi_conn, watch);
    if (!c->fr || c->fate != FCGI_BUSY) {
        return;
    }
    const char *why = !c->connected ? "connect timed out"
                      : c->w_out    ? "send timed out"
                                    : "read timed out";
    if (!c->connected) {
        broken(c, 504, why); /* no byte went out: the next peer may answer */
        return;
    }
    upstream_failed(c->env, c->g, c->uc.peer);
    fail(c, 504, why);
}

static void send_more(struct fcgi_conn *c);
static void feed(struct fcgi_conn *c);

static void on_sent(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct fcgi_conn *c = container_of(op, struct fcgi_conn, wop);
    c->w_out = false;
    c->out--;
    if (c->fate != FCGI_BUSY) {
        fcgi_conn_settle(c); /* let go meanwhile: this was the last thing out, perhaps */
        return;
    }
    struct fcgi_req *fr = c->fr;
    if (res <= 0) {
        broken(c, 502, res == 0 ? "the connection closed" : strerror(-res));
    } else {
        c->woff += (size_t)res;
        set_deadline(c, fr->conf->read_timeout_ms);
        if (c->woff == c->wlen) {
            c->woff = c->wlen = 0;
        }
        feed(c);
        send_more(c);
        if (c->fr && c->wlen == 0 && fr->body_paused) {
            fr->body_paused = false;
            req_body_more(fr->r);
        }
    }
}

static void send_more(struct fcgi_conn *c)
{
    if (c->w_out || !c->connected || c->woff == c->wlen) {
        return;
    }
    io_op_init(&c->wop, on_sent);
    c->w_out = true;
    c->out++;
    set_deadline(c, c->fr->conf->send_timeout_ms);
    io_send(c->loop, &c->wop, c->uc.fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
}

static void on_recv(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct fcgi_conn *c = container_of(op, struct fcgi_conn, rop);
    c->r_out = false;
    c->out--;
    if (c->fate != FCGI_BUSY) {
        fcgi_conn_settle(c); /* let go meanwhile: this was the last thing out, perhaps */
        return;
    }
    if (res <= 0) {
        broken(c, 502,
               res == 0 ? "the server closed the connection before the answer's end"
                        : strerror(-res));
    } else {
        c->received += (uint64_t)res;
        c->rpos = 0;
        c->rlen = (size_t)res;
        set_deadline(c, c->w_out ? c->fr->conf->send_timeout_ms : c->fr->conf->read_timeout_ms);
        pump(c);
    }
}

static void recv_more(struct fcgi_conn *c)
{
    if (c->r_out) {
        return;
    }
    c->rpos = c->rlen = 0;
    io_op_init(&c->rop, on_recv);
    c->r_out = true;
    c->out++;
    io_recv(c->loop, &c->rop, c->uc.fd, c->rbuf, FCGI_RBUF);
}

static void on_connected(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct fcgi_conn *c = container_of(op, struct fcgi_conn, wop);
    c->w_out = false;
    c->out--;
    if (c->fate != FCGI_BUSY) {
        fcgi_conn_settle(c); /* let go meanwhile: this was the last thing out, perhaps */
        return;
    }
    if (res < 0) {
        broken(c, 502, strerror(-res));
    } else {
        c->connected = true;
        start_io(c);
    }
}

static void start_io(struct fcgi_conn *c)
{
    set_deadline(c, c->fr->conf->read_timeout_ms);
    send_more(c);
    if (c->fr) {
        recv_more(c);
    }
}

/* ---------------------------------------------------------------- the answer */

/* STDERR lines a worker writes to the error log per second, at most (a script that floods
 * its STDERR must not flood the log, nor stall the worker on it). */
#define STDERR_PER_SECOND 100

static _Thread_local time_t t_stderr_second;
static _Thread_local unsigned t_stderr_lines, t_stderr_dropped;

/* Whether one more STDERR line may go to the log now. */
static bool stderr_room(struct io_loop *l)
{
    if (l->now_s != t_stderr_second) {
        if (t_stderr_dropped) {
            errlog(ERRLOG_WARN,
                   "fastcgi stderr: %u line(s) not logged in the last second "
                   "(more than %u)",
                   t_stderr_dropped, STDERR_PER_SECOND);
        }
        t_stderr_second = l->now_s;
        t_stderr_lines = t_stderr_dropped = 0;
    }
    if (t_stderr_lines >= STDERR_PER_SECOND) {
        t_stderr_dropped++;
        return false;
    }
    t_stderr_lines++;
    return true;
}

/* STDERR to the error log: each line with the script's name, at most STDERR_LINES_MAX of one
 * request and STDERR_PER_SECOND of the worker's. */
static void log_stderr(struct fcgi_req *fr, struct io_loop *l, struct slice s)
{
    while (s.len && fr->stderr_lines < STDERR_LINES_MAX) {
        const char *nl = memchr(s.ptr, '\n', s.len);
        size_t n = nl ? (size_t)(nl - s.ptr) : s.len;
        size_t shown = n;
        while (shown && (s.ptr[shown - 1] == '\r' || s.ptr[shown - 1] == '\n')) {
            shown--;
        }
        if (shown) {
            fr->stderr_lines++;
            if (stderr_room(l)) {
                errlog(ERRLOG_ERROR, "fastcgi stderr (script \"%s\"): %.*s%s", fr->script,
                       (int)(shown > 1000 ? 1000 : shown), s.ptr,
                       fr->stderr_lines == STDERR_LINES_MAX ? " (more of it not logged)" : "");
            }
        }
        s.ptr += nl ? n + 1 : n;
        s.len -= nl ? n + 1 : n;
    }
}

static const struct resp_stream_ops stream_ops;

/* STDOUT bytes before the head ended: collected and parsed. */
static void on_head_bytes(struct fcgi_conn *c, struct slice d)
{
    struct fcgi_req *fr = c->fr;
    size_t cap = fr->conf->buffer_size;
    size_t take = d.len < cap - fr->headlen ? d.len : cap - fr->headlen;
    memcpy(fr->head + fr->headlen, d.ptr, take);
    fr->headlen += take;
    struct cgi_head h;
    int n = cgi_head_parse(fr->head, fr->headlen, cap, &h);
    if (n == 0 && fr->headlen == cap) {
        n = -E2BIG;
    }
    if (n == 0) {
        return;
    }
    if (n < 0) {
        fail(c, 502,
             n == -E2BIG ? "the answer's head is longer than fastcgi_buffer_size"
                         : "the answer's head is malformed");
        return;
    }
    fr->head_done = true;
    struct req *r = fr->r;
    int rc = cgi_reply(r, &h, &stream_ops, fr);
    if (rc != CGI_REPLY_BODY) {
        /* answered (a redirect, an error page), or out of memory: the rest is not used */
        fr->r = NULL;
        release(c, FCGI_CLOSE);
        return;
    }
    fr->hrest = slice_make(fr->head + n, fr->headlen - (size_t)n);
    fr->pend = slice_make(d.ptr + take, d.len - take);
}

/* Writes s to the client as far as it fits; false when the queue is full. */
static bool put(struct fcgi_req *fr, struct slice *s)
{
    if (!s->len) {
        return true;
    }
    size_t n = resp_stream_write(fr->r, s->ptr, s->len);
    s->ptr += n;
    s->len -= n;
    return s->len == 0;
}

static void on_end(struct fcgi_conn *c)
{
    struct fcgi_req *fr = c->fr;
    if (!fr->head_done) {
        fail(c, 502, "the answer ended without a head");
        return;
    }
    bool clean = c->dec.proto_status == FCGI_REQUEST_COMPLETE && fr->conf->keep_conn &&
                 c->rpos == c->rlen && c->wlen == 0 && (!fr->has_body || fr->body_ended);
    struct req *r = fr->r;
    fr->r = NULL;
    upstream_ok(c->env, c->g, c->uc.peer);
    release(c, clean ? FCGI_KEEP : FCGI_CLOSE);
    if (resp_stream_end(r) < 0) {
        return; /* the connection is closed */
    }
}

/* Moves the answer along: what waits for room, then records from rbuf, then a receive. */
static void pump(struct fcgi_conn *c)
{
    /* fr, not c->fr: a request let go of c may see it taken by the next one meanwhile */
    struct fcgi_req *fr = c->fr;
    while (fr && c->fr == fr && c->fate == FCGI_BUSY) {
        if (fr->head_done && (!put(fr, &fr->hrest) || !put(fr, &fr->pend))) {
            set_deadline(c, 0); /* the client's turn: no read timeout while it takes its time */
            return;
        }
        if (c->rpos == c->rlen) {
            if (c->watch.deadline_ms == UINT64_MAX) {
                set_deadline(c, fr->conf->read_timeout_ms);
            }
            recv_more(c);
            return;
        }
        size_t used;
        struct slice d;
        int rc = fcgi_decode(&c->dec, c->rbuf + c->rpos, c->rlen - c->rpos, &used, &d);
        c->rpos += used;
        if (rc < 0) {
            fail(c, 502, fcgi_decode_error(rc));
            return;
        }
        if (rc == FCGI_DEC_STDERR) {
            log_stderr(fr, c->loop, d);
        } else if (rc == FCGI_DEC_STDOUT) {
            if (!fr->head_done) {
                on_head_bytes(c, d);
            } else {
                fr->pend = d;
            }
        } else if (rc == FCGI_DEC_END) {
            on_end(c);
            return;
        }
    }
}

static void writable(struct req *r)
{
    struct fcgi_req *fr = r->resp.stream_arg;
    if (fr->c) {
        pump(fr->c);
    }
}

static void aborted(struct req *r)
{
    struct fcgi_req *fr = r->resp.stream_arg;
    fr->r = NULL;
    if (fr->c) {
        release(fr->c, FCGI_CLOSE); /* the application sees its request's connection close */
    }
}

static const struct resp_stream_ops stream_ops = {writable, aborted};

/* ---------------------------------------------------------------- the request body */

static void kick(struct fcgi_conn *c)
{
    send_more(c);
}

/* The empty STDIN record: the body is complete. */
static void stdin_end(struct fcgi_conn *c)
{
    c->wlen += fcgi_stream_encode(c->wbuf + c->wlen, FCGI_STDIN, c->id, NULL, 0);
    kick(c);
}

/* Frames up to n body bytes as STDIN records in c's buffer; returns how many it took. */
static size_t to_stdin(struct fcgi_conn *c, const char *p, size_t n)
{
    size_t room = c->wcap - c->wlen;
    if (room < 2 * FCGI_HEADER_LEN + 16) {
        return 0;
    }
    size_t take = room - 2 * FCGI_HEADER_LEN - 8; /* the end record always fits after it */
    take = take < n ? take : n;
    take = take < FCGI_CONTENT_MAX ? take : FCGI_CONTENT_MAX;
    c->wlen += fcgi_stream_encode(c->wbuf + c->wlen, FCGI_STDIN, c->id, p, take);
    return take;
}

/* A collected chunked body goes out as room allows, then its end. */
static void feed(struct fcgi_conn *c)
{
    struct fcgi_req *fr = c->fr;
    size_t len = fr && fr->col ? fr->col->len : 0;
    if (!fr || !fr->buffering || fr->bsent == len + 1) {
        return;
    }
    while (fr->bsent < len) {
        size_t n = to_stdin(c, fr->col->buf + fr->bsent, len - fr->bsent);
        if (!n) {
            return;
        }
        fr->bsent += n;
    }
    fr->bsent = len + 1; /* the end record, once */
    c->wlen += fcgi_stream_encode(c->wbuf + c->wlen, FCGI_STDIN, c->id, NULL, 0);
}

static void free_collected(struct req_end *e)
{
    struct collected *col = container_of(e, struct collected, end);
    sp_free(col->buf);
    sp_free(col);
}

static size_t collect(struct fcgi_req *fr, const char *p, size_t n)
{
    struct req *r = fr->r;
    if (!r) {
        return n;
    }
    uint64_t max =
        r->env->max_body && r->env->max_body < CHUNKED_MAX ? r->env->max_body : CHUNKED_MAX;
    struct collected *col = fr->col;
    size_t len = col ? col->len : 0;
    if (len + n > max) {
        fr->r = NULL;
        fr->buffering = false;
        if (resp_error(r, 413) < 0) {
            return n;
        }
        return n;
    }
    if (!col) {
        if (!(col = sp_calloc(1, sizeof(*col)))) {
            return 0; /* backpressure, until the client gives up */
        }
        col->end.fn = free_collected;
        req_on_end(r, &col->end);
        fr->col = col;
    }
    if (len + n > col->cap) {
        size_t cap = col->cap ? col->cap : 65536;
        while (cap < len + n) {
            cap *= 2;
        }
        char *nb = sp_realloc(col->buf, cap);
        if (!nb) {
            return 0;
        }
        col->buf = nb;
        col->cap = cap;
    }
    memcpy(col->buf + len, p, n);
    col->len += n;
    return n;
}

static int start_request(struct fcgi_req *fr);

static size_t body_data(struct req *r, const char *p, size_t n)
{
    struct fcgi_req *fr = r->body_arg;
    if (fr->buffering) {
        return collect(fr, p, n);
    }
    struct fcgi_conn *c = fr->c;
    if (!c) {
        return n; /* answered already: the rest is not wanted */
    }
    size_t take = to_stdin(c, p, n);
    fr->body_taken += take;
    if (take < n) {
        fr->body_paused = true;
    }
    kick(c);
    return take;
}

static void body_end(struct req *r, int err)
{
    struct fcgi_req *fr = r->body_arg;
    struct fcgi_conn *c = fr->c;
    fr->body_ended = true;
    if (fr->buffering && fr->r) {
        if (err) {
            if (err > 0) {
                fr->r = NULL;
                if (resp_error(r, err) < 0) {
                    return; /* the connection is closed */
                }
            }
            return; /* err < 0: the client stopped sending, abort() follows */
        }
        if (start_request(fr) < 0) {
            fr->r = NULL;
            if (resp_error(r, 502) < 0) {
                return;
            }
        }
        return;
    }
    if (!c) {
        return;
    }
    if (err < 0) {
        release(c, FCGI_CLOSE); /* the client stopped sending: abort() follows */
        return;
    }
    if (err) {
        fail(c, err, "the client's request body broke off");
        return;
    }
    stdin_end(c);
}

static const struct req_body_ops body_ops = {body_data, body_end};

/* ---------------------------------------------------------------- starting */

/* Puts the request's first records in c's buffer and starts c (connect, or send). */
static int begin_on(struct fcgi_req *fr, struct fcgi_conn *c)
{
    struct req *r = fr->r;
    struct slice params;
    if (fcgi_build_params(r, fr->conf, fr->buffering ? (int64_t)(fr->col ? fr->col->len : 0) : -1,
                          &params) < 0) {
        return -ENOMEM;
    }
    size_t need = FCGI_BEGIN_LEN + fcgi_stream_size(params.len) + 2 * FCGI_HEADER_LEN;
    if (need > c->wcap) {
        char *nb = sp_realloc(c->wbuf, need + FCGI_WBUF);
        if (!nb) {
            return -ENOMEM;
        }
        c->wbuf = nb;
        c->wcap = need + FCGI_WBUF;
    }
    fr->c = c;
    c->fr = fr;
    c->id = 1;
    c->received = 0;
    c->wlen = c->woff = 0;
    c->rlen = c->rpos = 0;
    fcgi_decoder_init(&c->dec, c->id);
    fcgi_begin_request(c->wbuf, c->id, fr->conf->keep_conn);
    c->wlen = FCGI_BEGIN_LEN;
    c->wlen += fcgi_stream_encode(c->wbuf + c->wlen, FCGI_PARAMS, c->id, params.ptr, params.len);
    c->wlen += fcgi_stream_encode(c->wbuf + c->wlen, FCGI_PARAMS, c->id, NULL, 0);
    if (fr->buffering) {
        fr->bsent = 0;
        feed(c);
    } else if (!fr->has_body) {
        c->wlen += fcgi_stream_encode(c->wbuf + c->wlen, FCGI_STDIN, c->id, NULL, 0);
    }
    c->watch.fire = watch_fired;
    upstream_watch_start(c->loop, &c->watch);
    if (c->connected) {
        start_io(c);
        return 0;
    }
    set_deadline(c, fr->conf->connect_timeout_ms);
    io_op_init(&c->wop, on_connected);
    c->w_out = true;
    c->out++;
    const struct upstream_peer *p = &c->g->peers[c->uc.peer];
    io_connect(c->loop, &c->wop, c->uc.fd, (const struct sockaddr *)&p->addr, p->addrlen);
    return 0;
}

/* A connection to peer for the request (pooled or new), and its first records. 0, or -1
 * logged. */
static int start_on(struct fcgi_req *fr, unsigned peer)
{
    const struct fcgi_conf *fc = fr->conf;
    int err = 0;
    bool with_body = fr->has_body && !fr->buffering;
    struct fcgi_conn *c = fcgi_conn_get(fr->r->env, fc->pass.group, peer, with_body, &err);
    if (!c) {
        errlog(ERRLOG_ERROR, "fastcgi %s: no socket: %s", fc->pass.text, strerror(-err));
        return -1;
    }
    if (begin_on(fr, c) < 0) {
        fcgi_conn_done(c, FCGI_CLOSE);
        errlog(ERRLOG_ERROR, "fastcgi %s: out of memory", fc->pass.text);
        return -1;
    }
    return 0;
}

/* The first peer of the group for the request. */
static int start_request(struct fcgi_req *fr)
{
    int peer = upstream_pick(fr->r, fr->conf->pass.group, &fr->tries);
    if (peer < 0) {
        errlog(ERRLOG_ERROR, "fastcgi %s: no server is up (script \"%s\")", fr->conf->pass.text,
               fr->script);
        return -1;
    }
    return start_on(fr, (unsigned)peer);
}

static int handle(struct req *r, const void *conf)
{
    const struct fcgi_conf *fc = conf;
    if (!fc->pass.group) {
        return 500;
    }
    struct fcgi_req *fr = arena_alloc(r->arena, sizeof(*fr));
    char *head = arena_alloc(r->arena, fc->buffer_size);
    if (!fr || !head) {
        return 503;
    }
    memset(fr, 0, sizeof(*fr));
    fr->r = r;
    fr->conf = fc;
    fr->head = head;
    fr->has_body = r->body_kind != HTTP_BODY_NONE;
    struct slice sn, info;
    fcgi_split(r, &sn, &info);
    size_t sl = sn.len < NAME_MAX_LOG ? sn.len : NAME_MAX_LOG;
    memcpy(fr->script, sn.ptr ? sn.ptr : "", sl);
    fr->script[sl] = '\0';
    fr->buffering = r->body_kind == HTTP_BODY_CHUNKED;
    if (resp_defer(r, &stream_ops, fr) < 0) {
        return -ENOMEM;
    }
    if (!fr->buffering && start_request(fr) < 0) {
        fr->r = NULL;
        return resp_error(r, 502) < 0 ? -ENOMEM : 0;
    }
    if (fr->has_body) {
        int rc = req_body_read(r, &body_ops, fr);
        if (rc == 1) {
            fr->has_body = false;
            if (fr->buffering) {
                body_end(r, 0);
            } else if (fr->c) {
                stdin_end(fr->c);
            }
        } else if (rc < 0 && fr->c) {
            fail(fr->c, 503, "out of memory");
        } else if (rc < 0 && fr->r) {
            fr->r = NULL;
            return resp_error(r, 503) < 0 ? -ENOMEM : 0;
        }
    }
    return 0;
}

static const struct handler_ops fcgi_handler = {
    .name = "fastcgi",
    .methods = HANDLER_METHOD(HTTP_GET) | HANDLER_METHOD(HTTP_POST) | HANDLER_METHOD(HTTP_PUT) |
               HANDLER_METHOD(HTTP_DELETE) | HANDLER_METHOD(HTTP_OPTIONS) |
               HANDLER_METHOD(HTTP_PATCH),
    .handle = handle,
};

const struct conf_module fastcgi_module = {
    .name = "fastcgi",
    .rows = fcgi_conf_rows,
    .nrows = FCGI_CONF_NROWS,
    .size = {[CONF_STORE_LOC] = sizeof(struct fcgi_conf)},
    .finish = fcgi_conf_finish,
    .content = &fcgi_handler,
    .start = fcgi_vars_start,
};
