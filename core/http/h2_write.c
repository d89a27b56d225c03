/*
 * h2_write.c - the HTTP/2 writer: a struct resp into HEADERS and DATA frames (see h2.h).
 *
 * The head is the same list of fields HTTP/1 sends (resp_fields.h), as
 * lowercase HPACK fields after :status; Content-Length where the body's length
 * is known; no connection-specific fields (RFC 9113 8.2.2). The body goes
 * through nghttp2's data provider with NGHTTP2_DATA_FLAG_NO_COPY: nghttp2
 * decides each DATA frame's length (windows, frame size, http2_chunk_size) and
 * h2_data_send() queues the frame header and a reference to the payload: a
 * file range (sendfile on a plain socket; TLS reads it), a cached body's
 * memory (kept alive by its cache reference), or bytes copied into the queue
 * (a streamed body's, or pieces the handler gave to be copied at send).
 */
#include "core/http/h2_write.h"

#include "core/base/alloc.h"
#include "core/base/numfmt.h"
#include "core/http/h2_log.h"
#include "core/http/resp_fields.h"
#include "core/http/respond.h"
#include "core/io/loop.h"
#include "proto/date.h"
#include "proto/response.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define FRAME_HD 9u
/* Frames waiting in the queue past which nghttp2 waits too (OUTQ_SEGS bounds segments). */
#define OUT_PENDING_MAX (1u << 20)
/* Payloads up to this size are copied behind their frame header: one contiguous send. */
#define COPY_MAX 2048u
/* A copy this large may go into memory of its own when the queue's block is full. */
#define OWN_COPY_MIN 4096u
#define NV_MAX (8 + RESP_FIELDS_MAX + 64)

/* ---------------------------------------------------------------- the stream's state */

void h2_stream_reset(struct h2_stream *st, uint32_t code)
{
    struct h2_conn *h = st->h;
    if (!(st->flags & S_CLOSED) && h->ng) {
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, code);
        conn_schedule(&h->c);
    }
}

void h2_stream_done(struct h2_stream *st)
{
    st->flags |= S_DONE;
    st->flags &= ~(S_WRITABLE | S_DEFER);
    req_wait_unlink(&st->wait);
}

static void consume(struct h2_stream *st, size_t n)
{
    if (n && st->h->ng) {
        nghttp2_session_consume(st->h->ng, st->id, n);
    }
}

void h2_stream_body_let_go(struct h2_stream *st)
{
    st->body_ops = NULL;
    st->flags &= ~S_BODY_FULL;
    consume(st, st->blen);
    st->blen = st->boff = 0;
}

/* ---------------------------------------------------------------- the head */

struct nvs {
    nghttp2_nv v[NV_MAX];
    unsigned n;
    struct arena *a;
    bool full;
};

static void nv_put(struct nvs *o, struct slice name, struct slice value, bool lower)
{
    if (o->n == NV_MAX) {
        o->full = true;
        return;
    }
    const char *nm = name.ptr;
    if (lower) {
        char *l = arena_alloc(o->a, name.len ? name.len : 1);
        if (!l) {
            o->full = true;
            return;
        }
        for (size_t i = 0; i < name.len; i++) {
            l[i] = slice_lower_ascii(name.ptr[i]);
        }
        nm = l;
    }
    o->v[o->n++] = (nghttp2_nv){(uint8_t *)(uintptr_t)nm, (uint8_t *)(uintptr_t)value.ptr, name.len,
                                value.len, NGHTTP2_NV_FLAG_NONE};
}

/* A field of the walk: lowercase, and never one of HTTP/1's connection fields. */
static void nv_field(void *arg, struct slice name, struct slice value)
{
    static const struct slice drop[] = {SLICE_LIT("connection"), SLICE_LIT("keep-alive"),
                                        SLICE_LIT("proxy-connection"),
                                        SLICE_LIT("transfer-encoding"), SLICE_LIT("upgrade")};
    for (size_t i = 0; i < ARRAY_SIZE(drop); i++) {
        if (slice_eq_nocase(name, drop[i])) {
            return;
        }
    }
    nv_put(arg, name, value, true);
}

static struct slice date_value(struct h2_env *e)
{
    time_t now = e->h1->http.loop->now_s;
    if (now != e->date_sec) {
        e->date_sec = now;
        http_date_format(e->date, now);
    }
    return slice_make(e->date, HTTP_DATE_LEN);
}

/* Statuses whose responses never have a body or a Content-Length (RFC 9110 6.4.1, 8.6). */
static bool bodiless(int status)
{
    return status == 304 || status == 204 || (status >= 100 && status < 200);
}

struct head_bufs {
    char status[4], length[24];
    struct resp_fields_bufs rf;
};

/* The head of st's response into o; cl: the Content-Length to send, UINT64_MAX for none. */
static void build_head(struct h2_stream *st, struct nvs *o, struct head_bufs *b, uint64_t cl)
{
    struct h2_env *e = h2_env_of(st->h);
    const struct req *r = st->r;
    const struct resp *s = &r->resp;
    unsigned rep = headers_replaced(resp_fields_deco(r), s->status);
    o->n = 0;
    o->a = &st->arena;
    o->full = false;
    int status = s->status >= 100 && s->status <= 999 ? s->status : 500;
    b->status[0] = (char)('0' + status / 100);
    b->status[1] = (char)('0' + status / 10 % 10);
    b->status[2] = (char)('0' + status % 10);
    nv_put(o, SLICE_LIT(":status"), slice_make(b->status, 3), false);
    if (!(rep & HG_SERVER)) {
        nv_put(o, SLICE_LIT("server"), SLICE_LIT("spate"), false);
    }
    if (!(rep & HG_DATE)) {
        nv_put(o, SLICE_LIT("date"), date_value(e), false);
    }
    if (cl != UINT64_MAX) {
        size_t n = num_u64_to_dec(b->length, cl);
        nv_put(o, SLICE_LIT("content-length"), slice_make(b->length, n), false);
    }
    resp_fields_walk(r, e->h1->http.loop->now_s, &b->rf, nv_field, o);
}

static int submit(struct h2_stream *st, const struct nvs *o, bool body)
{
    nghttp2_data_provider prd = {.source = {.ptr = st}, .read_callback = h2_data_read};
    int rv = nghttp2_submit_response(st->h->ng, st->id, o->v, o->n, body ? &prd : NULL);
    if (rv != 0) {
        return -ENOMEM;
    }
    st->flags |= S_RESP;
    h2_stream_capture(st);
    conn_schedule(&st->h->c);
    return 0;
}

/* The stream is gone (reset by the client) or cannot take a response: nothing to write. */
static bool unwritable(const struct h2_stream *st)
{
    return (st->flags & (S_CLOSED | S_RESP)) || !st->h->ng || conn_dead(&st->h->c);
}

/* The body's pieces, kept by the stream until they are framed: copies of those the handler
 * gave to be copied at send, references on the others. */
static int keep_pieces(struct h2_stream *st, const struct resp *s)
{
    size_t ncopy = 0;
    for (unsigned i = 0; i < s->npieces; i++) {
        if (s->pieces[i].ptr && !s->pieces[i].ref) {
            ncopy += (size_t)s->pieces[i].len;
        }
    }
    st->pieces = arena_alloc(&st->arena, (s->npieces ? s->npieces : 1) * sizeof(*st->pieces));
    if (!st->pieces || (ncopy && !(st->copy = sp_malloc(ncopy)))) {
        return -ENOMEM;
    }
    size_t at = 0;
    for (unsigned i = 0; i < s->npieces; i++) {
        struct resp_piece pc = s->pieces[i];
        if (pc.ptr && !pc.ref) {
            memcpy(st->copy + at, pc.ptr, (size_t)pc.len);
            pc.ptr = st->copy + at;
            at += (size_t)pc.len;
        } else if (pc.ref) {
            fs_entry_ref(pc.ref);
        }
        st->pieces[st->npieces++] = pc;
    }
    st->src = SRC_PIECES;
    return 0;
}

static int keep_page(struct h2_stream *st, int status)
{
    size_t n = http_error_body_len(status);
    st->pieces = arena_alloc(&st->arena, sizeof(*st->pieces));
    if (!st->pieces || !(st->copy = sp_malloc(n ? n : 1))) {
        return -ENOMEM;
    }
    struct http_buf b;
    hbuf_init(&b, st->copy, n);
    http_put_error_body(&b, status);
    st->pieces[0] = (struct resp_piece){st->copy, 0, n, NULL};
    st->npieces = 1;
    st->src = SRC_PIECES;
    return 0;
}

static int h2_send(struct req *r)
{
    struct h2_stream *st = r->proto_data;
    const struct resp *s = &r->resp;
    h2_stream_body_let_go(st);
    if (unwritable(st)) {
        h2_stream_done(st);
        return 0;
    }
    uint64_t length = s->body == RESP_BODY_PAGE     ? http_error_body_len(s->status)
                      : s->body == RESP_BODY_PIECES ? s->length
                                                    : 0;
    bool no_length = bodiless(s->status);
    bool body = !r->head_only && !no_length && s->body != RESP_BODY_NONE && length > 0;
    struct nvs o;
    struct head_bufs b;
    build_head(st, &o, &b, no_length ? UINT64_MAX : length);
    int rc = o.full ? -ENOMEM : 0;
    if (rc == 0 && body) {
        rc = s->body == RESP_BODY_PAGE ? keep_page(st, s->status) : keep_pieces(st, s);
    }
    if (rc == 0) {
        rc = submit(st, &o, body);
    }
    h2_stream_done(st);
    if (rc < 0) {
        h2_stream_reset(st, NGHTTP2_INTERNAL_ERROR); /* the stream fails, not the connection */
    }
    return 0;
}

/* ---------------------------------------------------------------- streams */

static int h2_stream_begin(struct req *r)
{
    struct h2_stream *st = r->proto_data;
    st->flags &= ~S_DEFER;
    st->flags |= S_STREAM;
    if (unwritable(st)) {
        return 0; /* writes are taken and dropped until the producer ends */
    }
    uint64_t known = r->resp.length; /* resp_stream_length, or UINT64_MAX */
    bool empty = bodiless(r->resp.status);
    bool body = !empty && !r->head_only && known != 0;
    struct nvs o;
    struct head_bufs b;
    build_head(st, &o, &b, empty ? UINT64_MAX : known);
    if (o.full) {
        h2_stream_reset(st, NGHTTP2_INTERNAL_ERROR);
        h2_stream_done(st);
        return 0;
    }
    if (body) {
        uint32_t chunk = h2_env_of(st->h)->set->chunk;
        st->scap = MAX(2 * chunk, 16384u);
        st->sbuf = sp_malloc(st->scap);
        if (!st->sbuf) {
            h2_stream_reset(st, NGHTTP2_INTERNAL_ERROR);
            h2_stream_done(st);
            return 0;
        }
        st->src = SRC_STREAM;
    }
    st->stream_left = known;
    if (submit(st, &o, body) < 0) {
        h2_stream_reset(st, NGHTTP2_INTERNAL_ERROR);
        h2_stream_done(st);
    }
    return 0;
}

static size_t h2_stream_write(struct req *r, const void *p, size_t len)
{
    struct h2_stream *st = r->proto_data;
    if ((st->flags & (S_CLOSED | S_DONE)) || conn_dead(&st->h->c)) {
        return 0;
    }
    if (st->src != SRC_STREAM || len == 0) {
        return len; /* HEAD, a bodiless status: the same head, no body */
    }
    size_t all = len;
    if (st->stream_left != UINT64_MAX) {
        if (st->stream_left == 0) {
            return all; /* past the announced length: cut */
        }
        len = (size_t)MIN((uint64_t)len, st->stream_left);
    }
    if (st->soff && st->soff + st->slen + len > st->scap) {
        memmove(st->sbuf, st->sbuf + st->soff, st->slen);
        st->soff = 0;
    }
    size_t room = st->scap - st->soff - st->slen;
    size_t n = MIN(len, room);
    if (n < len) {
        st->flags |= S_WRITABLE; /* writable() once the frames took half of it */
    }
    if (n) {
        memcpy(st->sbuf + st->soff + st->slen, p, n);
        st->slen += (uint32_t)n;
        nghttp2_session_resume_data(st->h->ng, st->id);
        conn_schedule(&st->h->c);
    }
    if (st->stream_left != UINT64_MAX) {
        st->stream_left -= n;
        if (n == len) {
            return all;
        }
    }
    return n;
}

static int h2_stream_end(struct req *r)
{
    struct h2_stream *st = r->proto_data;
    if (st->flags & S_DONE) {
        return 0;
    }
    h2_stream_body_let_go(st);
    st->flags |= S_STREAM_END;
    if (st->src == SRC_STREAM && st->stream_left != UINT64_MAX && st->stream_left) {
        /* shorter than its Content-Length: the client must see it cut */
        h2_stream_reset(st, NGHTTP2_INTERNAL_ERROR);
    } else if (st->src == SRC_STREAM && st->h->ng && !(st->flags & S_CLOSED)) {
        nghttp2_session_resume_data(st->h->ng, st->id);
    }
    h2_stream_done(st);
    conn_schedule(&st->h->c);
    return 0;
}

/* The body cannot be completed: the stream is reset, never ended as if whole. */
static void h2_stream_abort(struct req *r)
{
    struct h2_stream *st = r->proto_data;
    if (st->flags & S_DONE) {
        return;
    }
    h2_stream_body_let_go(st);
    h2_stream_reset(st, NGHTTP2_INTERNAL_ERROR);
    h2_stream_done(st);
}

static int h2_defer(struct req *r, const struct resp_stream_ops *ops, void *arg)
{
    struct h2_stream *st = r->proto_data;
    st->flags |= S_DEFER;
    st->defer_ops = ops;
    st->defer_arg = arg;
    r->resp.stream = ops;
    r->resp.stream_arg = arg;
    return 0;
}

void h2_writable(struct h2_conn *h)
{
    for (struct h2_stream *st = h->streams, *next; st && !conn_dead(&h->c); st = next) {
        next = st->next;
        if ((st->flags & S_WRITABLE) && !(st->flags & (S_CLOSED | S_DONE)) &&
            st->slen <= st->scap / 2) {
            st->flags &= ~S_WRITABLE;
            st->r->resp.stream->writable(st->r);
        }
    }
}

bool h2_stream_has_output(const struct h2_stream *st)
{
    if (st->flags & S_CLOSED) {
        return false;
    }
    return (st->src == SRC_PIECES && st->pi < st->npieces) ||
           (st->src == SRC_STREAM && st->slen > 0);
}

/* ---------------------------------------------------------------- nghttp2's body callbacks */

ssize_t h2_data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                     nghttp2_data_source *src, void *arg)
{
    (void)ng;
    (void)id;
    (void)buf;
    (void)arg;
    struct h2_stream *st = src->ptr;
    if (st->src == SRC_PIECES) {
        while (st->pi < st->npieces && st->poff == st->pieces[st->pi].len) {
            st->pi++;
            st->poff = 0;
        }
        if (st->pi == st->npieces) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            return 0;
        }
        uint64_t left = st->pieces[st->pi].len - st->poff;
        size_t n = (size_t)MIN((uint64_t)len, left);
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
        if (n == left && st->pi + 1 == st->npieces) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        }
        return (ssize_t)n;
    }
    if (st->src != SRC_STREAM) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    if (st->slen == 0) {
        if (st->flags & S_STREAM_END) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            return 0;
        }
        return NGHTTP2_ERR_DEFERRED; /* resumed by the next write or the end */
    }
    size_t n = MIN(len, (size_t)st->slen);
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if ((st->flags & S_STREAM_END) && n == st->slen) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (ssize_t)n;
}

/* The frame header and n payload bytes from p, copied into the queue; false: wait. */
static bool copy_frame(struct outq *q, const uint8_t *hd, const char *p, size_t n)
{
    char *dst = outq_reserve(q, FRAME_HD + n);
    bool own = false;
    if (!dst) {
        if (n < OWN_COPY_MIN || !(dst = sp_malloc(FRAME_HD + n))) {
            return false;
        }
        own = true;
    }
    memcpy(dst, hd, FRAME_HD);
    memcpy(dst + FRAME_HD, p, n);
    if (own) {
        outq_push_owned(q, dst, FRAME_HD + n);
    } else {
        outq_commit(q, FRAME_HD + n);
    }
    return true;
}

static bool copy_hd(struct outq *q, const uint8_t *hd)
{
    char *dst = outq_reserve(q, FRAME_HD);
    if (!dst) {
        return false;
    }
    memcpy(dst, hd, FRAME_HD);
    outq_commit(q, FRAME_HD);
    return true;
}

int h2_data_send(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd, size_t len,
                 nghttp2_data_source *src, void *arg)
{
    (void)ng;
    (void)frame; /* no padding is ever asked for: the payload is len bytes */
    struct h2_conn *h = arg;
    struct h2_stream *st = src->ptr;
    struct outq *q = conn_outq(&h->c);
    if (!q) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (outq_free_segs(q) < 3 || q->queued_pos - q->sent_pos > OUT_PENDING_MAX) {
        return NGHTTP2_ERR_WOULDBLOCK; /* sent() or drained() sends again */
    }
    if (st->src == SRC_STREAM) {
        if (!copy_frame(q, framehd, st->sbuf + st->soff, len)) {
            return NGHTTP2_ERR_WOULDBLOCK;
        }
        st->soff += (uint32_t)len;
        st->slen -= (uint32_t)len;
        if (st->slen == 0) {
            st->soff = 0;
        }
        if ((st->flags & S_WRITABLE) && st->slen <= st->scap / 2) {
            conn_schedule(&h->c); /* resume() gives the producer its writable() */
        }
    } else {
        struct resp_piece *pc = &st->pieces[st->pi];
        bool ok;
        if (pc->ptr && (!pc->ref || len <= COPY_MAX)) {
            ok = copy_frame(q, framehd, pc->ptr + st->poff, len);
        } else if (pc->ptr) {
            ok = copy_hd(q, framehd);
            if (ok) {
                outq_push_mem(q, pc->ptr + st->poff, len, pc->ref);
            }
        } else {
            ok = copy_hd(q, framehd);
            if (ok) {
                outq_push_file(q, pc->ref, pc->off + st->poff, len);
            }
        }
        if (!ok) {
            return NGHTTP2_ERR_WOULDBLOCK;
        }
        st->poff += len;
        if (st->poff == pc->len) {
            st->pi++;
            st->poff = 0;
        }
    }
    st->bytes += FRAME_HD + len;
    st->head_bytes += FRAME_HD; /* framing: $body_bytes_sent counts the payload only */
    return 0;
}

/* ---------------------------------------------------------------- the rest of req_proto */

static void h2_hold(struct req *r)
{
    struct h2_stream *st = r->proto_data;
    st->holds++;
    conn_hold(&st->h->c);
}

static void h2_unhold(struct req *r)
{
    struct h2_stream *st = r->proto_data;
    struct conn *c = &st->h->c;
    st->holds--;
    if (st->holds == 0 && !conn_dead(c)) {
        conn_schedule(c); /* resume() frees it if it is over */
    }
    conn_unhold(c);
}

static bool h2_dead(const struct req *r)
{
    const struct h2_stream *st = r->proto_data;
    return (st->flags & S_CLOSED) || conn_dead(&st->h->c);
}

static const struct sockaddr_storage *h2_peer(struct req *r)
{
    struct h2_stream *st = r->proto_data;
    return conn_peer(&st->h->c);
}

static void h2_on_end(struct req *r, struct req_end *e)
{
    struct h2_stream *st = r->proto_data;
    e->next = st->ends;
    st->ends = e;
}

static unsigned h2_local_port(struct req *r)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(h2_req_fd(r), (struct sockaddr *)&ss, &len) < 0) {
        return 0;
    }
    return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int h2_body_read(struct req *r, const struct req_body_ops *ops, void *arg)
{
    struct h2_stream *st = r->proto_data;
    if (r->body_kind == HTTP_BODY_NONE && st->blen == 0) {
        return 1;
    }
    r->body_arg = arg;
    st->body_ops = ops;
    st->flags &= ~S_BODY_FULL;
    st->flags |= S_BODY_CALL; /* what arrived already goes to it at the end of the turn */
    conn_schedule(&st->h->c);
    return 0;
}

static void h2_body_more(struct req *r)
{
    struct h2_stream *st = r->proto_data;
    if (st->body_ops) {
        st->flags &= ~S_BODY_FULL;
        st->flags |= S_BODY_CALL;
        conn_schedule(&st->h->c);
    }
}

static void *h2_ssl(struct req *r)
{
    struct h2_stream *st = r->proto_data;
    return conn_ssl(&st->h->c);
}

const struct req_proto h2_proto = {
    .send = h2_send,
    .stream_begin = h2_stream_begin,
    .stream_write = h2_stream_write,
    .stream_end = h2_stream_end,
    .hold = h2_hold,
    .unhold = h2_unhold,
    .dead = h2_dead,
    .peer = h2_peer,
    .local_port = h2_local_port,
    .on_end = h2_on_end,
    .defer = h2_defer,
    .body_read = h2_body_read,
    .body_more = h2_body_more,
    .stream_abort = h2_stream_abort,
    .ssl = h2_ssl,
};

int h2_req_fd(const struct req *r)
{
    const struct h2_stream *st = r->proto_data;
    return st->h->c.tr.fd;
}
