/*
 * h1_write.c - the HTTP/1 writer: a struct resp into bytes of the output queue (see h1.h).
 *
 * Sizes are computed, never guessed: every line the head will hold is
 * measured by the same list that writes it, the block is reserved for
 * exactly that many bytes, and a head that does not fit the connection's
 * block goes into memory of its own (an owned segment). So writing a
 * response never fails for lack of room; the session's only backpressure is
 * not to parse the next request while the queue is full (h1.c: held_back).
 *
 * The HTTP/1 entity header block (Content-Type, Content-Length,
 * Last-Modified, ETag, Accept-Ranges) is built once per file-cache entry
 * (h1_entity_hooks), and a response for a whole file copies it in one piece.
 */
#include "core/http/h1_write.h"

#include "core/base/alloc.h"
#include "core/base/numfmt.h"
#include "core/http/h1_body.h"
#include "core/http/h1_pace.h"
#include "core/http/h1_track.h"
#include "core/http/limit_rate.h"
#include "core/http/resp_fields.h"
#include "core/http/respond.h"
#include "core/io/loop.h"
#include "log/errlog.h"
#include "proto/date.h"
#include "proto/response.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Bodies up to this size are copied behind the head: one contiguous send. */
#define COPY_BODY_MAX 4096u
/* A streamed chunk's framing: hex length, CRLF, CRLF. */
#define CHUNK_OVERHEAD 20u

/* ---------------------------------------------------------------- the entity block */

/*
 * Layout of an entry's attachment: three 16-bit offsets, then the header lines:
 *   [0, len)    Content-Type (Content-Encoding of a precompressed variant, nosniff)
 *   [len, val)  Content-Length (the whole file)
 *   [val, end)  Last-Modified, ETag (when the entry has one), Accept-Ranges
 */
struct h1_entity {
    uint16_t len, val, end;
    char text[];
};

#define NOSNIFF_LINE "X-Content-Type-Options: nosniff\r\n"

static size_t entity_lines(const struct fs_entry *e, struct http_buf *b, uint16_t *len,
                           uint16_t *val)
{
    http_put_header(b, SLICE_LIT("Content-Type"), e->mime);
    if (e->enc) {
        http_put_header(b, SLICE_LIT("Content-Encoding"), slice_cstr(fs_enc_name(e->enc)));
    }
    if (e->nosniff) {
        hbuf_lit(b, NOSNIFF_LINE);
    }
    *len = (uint16_t)b->len;
    http_put_header_u64(b, SLICE_LIT("Content-Length"), e->size);
    *val = (uint16_t)b->len;
    http_put_header(b, SLICE_LIT("Last-Modified"), e->last_modified);
    if (e->etag.len) {
        http_put_header(b, SLICE_LIT("ETag"), e->etag);
    }
    hbuf_lit(b, "Accept-Ranges: bytes\r\n");
    return b->len;
}

static size_t entity_aux_len(const struct fs_entry *e)
{
    /* the lengths of the lines entity_lines() writes, in its order */
    size_t n = 14 + e->mime.len + 2;
    n += e->enc ? 18 + strlen(fs_enc_name(e->enc)) + 2 : 0;
    n += e->nosniff ? sizeof(NOSNIFF_LINE) - 1 : 0;
    n += 16 + num_u64_dec_len(e->size) + 2;
    n += 15 + e->last_modified.len + 2 + (e->etag.len ? 6 + e->etag.len + 2 : 0) + 22;
    return sizeof(struct h1_entity) + n;
}

/* The cache reserves room for the longest type and ETag an entry may get (libmagic, a
 * content hash decided later): the block written is at most what it reserved. */
static void entity_aux_fill(const struct fs_entry *e, char *dst)
{
    struct h1_entity *h = (struct h1_entity *)(void *)dst;
    size_t cap = entity_aux_len(e) - sizeof(*h);
    struct http_buf b;
    hbuf_init(&b, h->text, cap);
    h->end = (uint16_t)entity_lines(e, &b, &h->len, &h->val);
    ASSERT(!b.overflow && b.len == cap);
}

const struct fs_cache_hooks h1_entity_hooks = {entity_aux_len, entity_aux_fill};

/* ---------------------------------------------------------------- head lines */

/*
 * Everything but the body, as a list of pieces to measure, then write. Fixed text
 * (status line, Server/Date, the entity block) and name/value fields alike.
 */
enum { L_TEXT, L_FIELD, L_U64 };

struct line {
    uint8_t kind;
    struct slice a, b; /* TEXT: a; FIELD: a: b CRLF; U64: a: v CRLF */
    uint64_t v;
};

#define LINES_MAX (8 + RESP_FIELDS_MAX + 8 + 64)

struct head {
    struct line l[LINES_MAX];
    unsigned n;
    size_t len;
    bool full;
};

static void put_text(struct head *h, struct slice s)
{
    if (h->n == LINES_MAX) {
        h->full = true;
        return;
    }
    h->l[h->n++] = (struct line){L_TEXT, s, SLICE_NULL, 0};
    h->len += s.len;
}

static void put_field(struct head *h, struct slice name, struct slice value)
{
    if (h->n == LINES_MAX) {
        h->full = true;
        return;
    }
    h->l[h->n++] = (struct line){L_FIELD, name, value, 0};
    h->len += name.len + 2 + value.len + 2;
}

static void put_u64(struct head *h, struct slice name, uint64_t v)
{
    if (h->n == LINES_MAX) {
        h->full = true;
        return;
    }
    h->l[h->n++] = (struct line){L_U64, name, SLICE_NULL, v};
    h->len += name.len + 2 + num_u64_dec_len(v) + 2;
}

static void write_head(const struct head *h, struct http_buf *b)
{
    for (unsigned i = 0; i < h->n; i++) {
        const struct line *l = &h->l[i];
        if (l->kind == L_TEXT) {
            hbuf_slice(b, l->a);
        } else if (l->kind == L_FIELD) {
            http_put_header(b, l->a, l->b);
        } else {
            http_put_header_u64(b, l->a, l->v);
        }
    }
}

static struct slice date_line(struct h1_env *e)
{
    time_t now = e->http.loop->now_s;
    if (now != e->date_sec) {
        /* Date is formatted at most once per second per worker */
        e->date_sec = now;
        char *p = e->date_line;
        memcpy(p, "Server: spate\r\nDate: ", 21);
        http_date_format(p + 21, now);
        memcpy(p + 21 + HTTP_DATE_LEN, "\r\n", 2);
        e->date_len = 21 + HTTP_DATE_LEN + 2;
    }
    return slice_make(e->date_line, e->date_len);
}

/* A status line for the common statuses without formatting. */
static struct slice status_line(int status, char *buf)
{
    if (status == 200) {
        return SLICE_LIT("HTTP/1.1 200 OK\r\n");
    }
    struct http_buf b;
    hbuf_init(&b, buf, 64);
    http_put_status_line(&b, status);
    return slice_make(buf, b.len);
}

/* A field of the protocol-neutral walk (resp_fields.h) as a head line. */
static void head_field(void *arg, struct slice name, struct slice value)
{
    put_field(arg, name, value);
}

/* ---------------------------------------------------------------- queueing bytes */

/*
 * Queues the head and the body pieces: copies go into the connection's block when they fit
 * (contiguous bytes become one segment), else into owned memory; referenced pieces (large
 * cached bodies) and file ranges become segments of their own.
 */
struct out {
    struct outq *q;
    char *own; /* owned memory being filled, when the block had no room */
    size_t own_len, own_cap;
    bool in_block;
};

static char *out_begin(struct out *o, size_t n)
{
    char *p = outq_reserve(o->q, n);
    if (p) {
        o->in_block = true;
        return p;
    }
    o->in_block = false;
    o->own = sp_malloc(n);
    o->own_cap = n;
    o->own_len = 0;
    return o->own;
}

static void out_end(struct out *o, size_t n)
{
    if (o->in_block) {
        outq_commit(o->q, n);
    } else {
        outq_push_owned(o->q, o->own, n);
        o->own = NULL;
    }
}

/* Which pieces are copied behind the head (the rest are referenced or sent from the file). */
static bool copied(const struct resp_piece *p, uint64_t total)
{
    return p->ptr && (!p->ref || total <= COPY_BODY_MAX);
}

/* Copies the run of copied pieces starting at i; returns the index after it. */
static unsigned copy_run(const struct resp *s, unsigned i, uint64_t total, char *p, size_t *len)
{
    size_t n = 0;
    for (; i < s->npieces && copied(&s->pieces[i], total); i++) {
        memcpy(p + n, s->pieces[i].ptr, (size_t)s->pieces[i].len);
        n += (size_t)s->pieces[i].len;
    }
    *len = n;
    return i;
}

static size_t run_len(const struct resp *s, unsigned i, uint64_t total)
{
    size_t n = 0;
    for (; i < s->npieces && copied(&s->pieces[i], total); i++) {
        n += (size_t)s->pieces[i].len;
    }
    return n;
}

/* Head + body into the queue. 0 or -ENOMEM. */
static int queue(struct h1_conn *h, const struct head *hd, const struct resp *s, bool body,
                 uint64_t *head_len)
{
    struct outq *q = conn_outq(&h->c);
    if (!q) {
        return -ENOMEM;
    }
    struct out o = {q, NULL, 0, 0, false};
    uint64_t total = body ? s->length : 0;
    unsigned i = 0;
    size_t first = body && s->body == RESP_BODY_PIECES ? run_len(s, 0, total) : 0;
    size_t page = body && s->body == RESP_BODY_PAGE ? http_error_body_len(s->status) : 0;
    size_t n = hd->len + first + page;
    char *p = out_begin(&o, n);
    if (!p) {
        return -ENOMEM;
    }
    struct http_buf b;
    hbuf_init(&b, p, n);
    write_head(hd, &b);
    *head_len = b.len;
    if (page) {
        http_put_error_body(&b, s->status);
    }
    size_t copied_len = 0;
    if (first) {
        i = copy_run(s, 0, total, p + b.len, &copied_len);
        b.len += copied_len;
    }
    if (UNLIKELY(b.overflow || b.len != n)) {
        /* the measure and the writer disagree: a bug; never send a cut head */
        errlog(ERRLOG_CRIT, "HTTP/1 head of %zu bytes measured as %zu", b.len, n);
        if (!o.in_block) {
            sp_free(o.own);
        }
        return -ENOMEM;
    }
    out_end(&o, n);
    h->queued += n;
    while (body && s->body == RESP_BODY_PIECES && i < s->npieces) {
        const struct resp_piece *pc = &s->pieces[i];
        if (copied(pc, total)) {
            size_t rl = run_len(s, i, total);
            char *rp = out_begin(&o, rl);
            if (!rp) {
                return -ENOMEM;
            }
            i = copy_run(s, i, total, rp, &copied_len);
            out_end(&o, rl);
            h->queued += rl;
            continue;
        }
        if (pc->ptr) {
            outq_push_mem(q, pc->ptr, (size_t)pc->len, pc->ref);
        } else {
            outq_push_file(q, pc->ref, pc->off, pc->len);
        }
        h->queued += pc->len;
        i++;
    }
    return 0;
}

/* ---------------------------------------------------------------- the head */

/*
 * The head of r's response. cl: the Content-Length to send (UINT64_MAX: none); te: say
 * Transfer-Encoding: chunked. Buffers for formatted values come from the caller.
 */
struct head_bufs {
    char status[64];
    struct resp_fields_bufs rf;
};

static void build_head(struct h1_conn *h, const struct req *r, struct head *hd,
                       struct head_bufs *bufs, uint64_t cl, bool te, bool close)
{
    struct h1_env *e = h1_env_of(h);
    const struct resp *s = &r->resp;
    const struct headers_conf *deco = resp_fields_deco(r);
    bool configured = resp_fields_decorated(deco, s->status);
    unsigned rep = headers_replaced(deco, s->status); /* 0: the fast path */
    hd->n = 0;
    hd->len = 0;
    hd->full = false;
    put_text(hd, status_line(s->status, bufs->status));
    struct slice dl = date_line(e);
    if (rep & (HG_SERVER | HG_DATE)) {
        /* the two fixed lines, each only when not configured */
        if (!(rep & HG_SERVER)) {
            put_text(hd, SLICE_LIT("Server: spate\r\n"));
        }
        if (!(rep & HG_DATE)) {
            put_text(hd, slice_make(dl.ptr + 15, dl.len - 15));
        }
    } else {
        put_text(hd, dl);
    }
    const struct fs_entry *ent = s->entity;
    const struct h1_entity *blk = ent && ent->aux ? (const void *)ent->aux : NULL;
    bool whole = blk && cl == ent->size && (s->entity_parts & RESP_ENT_TYPE);
    unsigned entity_bits = HG_CONTENT_TYPE | HG_LAST_MODIFIED | HG_ETAG | HG_ACCEPT_RANGES;
    bool plain = !(rep & entity_bits); /* the prebuilt block serves as it is */
    if (blk && plain && whole) {
        /* the common case: Content-Type and Content-Length of the whole file in one copy */
        put_text(hd, slice_make(blk->text, blk->val));
        cl = UINT64_MAX;
    } else if (ent && (s->entity_parts & RESP_ENT_TYPE)) {
        resp_fields_entity_type(ent, rep, head_field, hd);
    }
    if (s->body == RESP_BODY_PAGE && !(rep & HG_CONTENT_TYPE)) {
        put_text(hd, SLICE_LIT("Content-Type: text/html\r\n"));
    }
    if (cl != UINT64_MAX) {
        put_u64(hd, SLICE_LIT("Content-Length"), cl);
    }
    if (te) {
        put_text(hd, SLICE_LIT("Transfer-Encoding: chunked\r\n"));
    }
    if (s->nfields) {
        resp_fields_own(s, rep, head_field, hd);
    }
    if (ent && (s->entity_parts & RESP_ENT_VALIDATORS)) {
        if (blk && plain) {
            /* the prebuilt block's validators: Last-Modified, ETag, Accept-Ranges */
            put_text(hd, slice_make(blk->text + blk->val, (size_t)(blk->end - blk->val)));
        } else {
            resp_fields_validators(ent, rep, head_field, hd);
        }
    }
    if (configured) {
        resp_fields_decorations(deco, s->status, e->http.loop->now_s, rep, &bufs->rf, head_field,
                                hd);
    }
    if (close) {
        put_text(hd, SLICE_LIT("Connection: close\r\n"));
    } else if (r->version_minor == 0) {
        put_text(hd, SLICE_LIT("Connection: keep-alive\r\n"));
    }
    put_text(hd, SLICE_LIT("\r\n"));
}

/* Statuses whose responses never have a body or a Content-Length (RFC 9110 6.4.1, 8.6). */
static bool bodiless(int status)
{
    return status == 304 || status == 204 || (status >= 100 && status < 200);
}

static bool wants_close(struct h1_conn *h, const struct req *r)
{
    return r->resp.close || (h->flags & H1_CLOSE_AFTER);
}

static void after_close(struct h1_conn *h, bool close)
{
    if (close) {
        h->flags |= H1_CLOSE_AFTER | H1_STOP_READ;
    }
}

/* The response is complete: what is left of its request's body is read and dropped. */
static void body_let_go(struct h1_conn *h, const struct req *r)
{
    if (UNLIKELY(h->body_req == r)) {
        h->body_ops = NULL;
        h->body_req = NULL;
        h->body_full = false;
    }
}

static int h1_send(struct req *r)
{
    struct h1_conn *h = r->proto_data;
    const struct resp *s = &r->resp;
    if (UNLIKELY(h->stream == r || (h->flags & H1_EXPECT))) {
        h1_undefer(h, r);
    }
    body_let_go(h, r);
    bool close = wants_close(h, r);
    uint64_t length = s->body == RESP_BODY_PAGE     ? http_error_body_len(s->status)
                      : s->body == RESP_BODY_PIECES ? s->length
                                                    : 0;
    bool no_length = bodiless(s->status);
    bool body = !r->head_only && !no_length && s->body != RESP_BODY_NONE;
    struct head hd;
    struct head_bufs bufs;
    build_head(h, r, &hd, &bufs, no_length ? UINT64_MAX : length, false, close);
    if (hd.full) {
        return -ENOMEM;
    }
    struct h1_rec *rec = h1_record(h, r, SLICE_NULL);
    if (!rec) {
        return -ENOMEM;
    }
    uint64_t head_len = 0, rate, after;
    if (body && s->body == RESP_BODY_PIECES && UNLIKELY(http_limit_rate(r->loc, &rate, &after)) &&
        s->length > after) {
        /* limit_rate: the head now, the body at the rate (h1_pace.c), ending as a stream */
        struct resp none = *s;
        none.body = RESP_BODY_NONE;
        int rc = queue(h, &hd, &none, false, &head_len);
        rec->head_len = (uint32_t)head_len;
        rec->close = close;
        after_close(h, close);
        return rc < 0 ? rc : h1_pace_start(h, r, rate, after);
    }
    int rc = queue(h, &hd, s, body, &head_len);
    rec->end = h->queued;
    rec->head_len = (uint32_t)head_len;
    rec->close = close;
    after_close(h, close);
    return rc;
}

int h1_bad_request(struct h1_conn *h, int status, const char *buf, size_t len)
{
    struct h1_env *e = h1_env_of(h);
    struct req r;
    memset(&r, 0, sizeof(r));
    r.group = &e->routes->groups[h->c.listener];
    r.server = r.group->def;
    r.env = &e->http;
    r.arena = &h->c.arena;
    r.proto = &h1_proto;
    r.proto_data = h;
    r.version_minor = 1;
    resp_begin(&r, status);
    r.resp.close = true;
    r.resp.body = RESP_BODY_PAGE;
    /* the first line of what was received, for the access log */
    size_t n = 0;
    while (n < len && n < 8192 && buf[n] != '\n') {
        n++;
    }
    if (n && buf[n - 1] == '\r') {
        n--;
    }
    struct head hd;
    struct head_bufs bufs;
    build_head(h, &r, &hd, &bufs, http_error_body_len(status), false, true);
    struct h1_rec *rec = h1_record(h, &r, slice_make(buf, n));
    if (!rec) {
        return -ENOMEM;
    }
    uint64_t head_len = 0;
    int rc = queue(h, &hd, &r.resp, true, &head_len);
    rec->end = h->queued;
    rec->head_len = (uint32_t)head_len;
    rec->close = true;
    after_close(h, true);
    return rc;
}

/* ---------------------------------------------------------------- streams */

static int h1_stream_begin(struct req *r)
{
    struct h1_conn *h = r->proto_data;
    h1_undefer(h, r);
    uint64_t known = r->resp.length; /* resp_stream_length, or UINT64_MAX */
    bool empty = bodiless(r->resp.status);
    /* HTTP/1.0 has no chunked coding: without a length the body ends when the connection does */
    bool chunk = r->version_minor == 1 && known == UINT64_MAX && !empty;
    bool close = wants_close(h, r) || (r->version_minor == 0 && known == UINT64_MAX);
    struct head hd;
    struct head_bufs bufs;
    build_head(h, r, &hd, &bufs, empty ? UINT64_MAX : known, chunk, close);
    if (hd.full) {
        return -ENOMEM;
    }
    struct h1_rec *rec = h1_record(h, r, SLICE_NULL);
    if (!rec) {
        return -ENOMEM;
    }
    uint64_t head_len = 0;
    struct resp none = r->resp;
    none.body = RESP_BODY_NONE;
    int rc = queue(h, &hd, &none, false, &head_len);
    rec->head_len = (uint32_t)head_len;
    rec->close = close;
    after_close(h, close);
    h->stream = r;
    h->stream_waits = false;
    h->stream_chunked = chunk;
    h->stream_left = empty || r->head_only ? 0 : known;
    return rc;
}

static size_t h1_stream_write(struct req *r, const void *p, size_t len)
{
    struct h1_conn *h = r->proto_data;
    if (conn_dead(&h->c) || h->stream != r) {
        return 0;
    }
    if (r->head_only || bodiless(r->resp.status) || len == 0) {
        return len; /* HEAD: the same head, no body */
    }
    size_t all = len;
    if (h->stream_left != UINT64_MAX) {
        /* a known length: what goes past it is cut (the head promised no more) */
        if (h->stream_left == 0) {
            return all;
        }
        len = (size_t)MIN((uint64_t)len, h->stream_left);
    }
    struct outq *q = conn_outq(&h->c);
    size_t over = h->stream_chunked ? CHUNK_OVERHEAD : 0;
    if (!q || outq_room(q) <= over + 64 || outq_free_segs(q) < 2) {
        h->stream_waits = true; /* sent() schedules writable() once there is room */
        return 0;
    }
    size_t n = MIN(len, outq_room(q) - over);
    if (n < len) {
        h->stream_waits = true; /* took less than asked: writable() will ask for the rest */
    }
    char *dst = outq_reserve(q, n + over);
    size_t w = 0;
    if (h->stream_chunked) {
        w = num_u64_to_hex(dst, n);
        memcpy(dst + w, "\r\n", 2);
        w += 2;
    }
    memcpy(dst + w, p, n);
    w += n;
    if (h->stream_chunked) {
        memcpy(dst + w, "\r\n", 2);
        w += 2;
    }
    outq_commit(q, w);
    h->queued += w;
    conn_schedule(&h->c);
    if (h->stream_left != UINT64_MAX) {
        h->stream_left -= n;
        if (n == len) {
            return all; /* with what was cut */
        }
    }
    return n;
}

static int h1_stream_end(struct req *r)
{
    struct h1_conn *h = r->proto_data;
    if (h->stream != r) {
        return 0;
    }
    h->stream = NULL;
    h->stream_waits = false;
    body_let_go(h, r);
    if (h->stream_left != UINT64_MAX && h->stream_left) {
        /* shorter than its Content-Length: the client must see it cut, so the connection
         * ends after what is queued (nothing may follow on it as if the body were whole) */
        h->flags |= H1_CLOSE_AFTER | H1_STOP_READ | H1_UNREAD;
    }
    struct h1_rec *rec = NULL;
    for (uint32_t i = 0; h->trk && i < h->trk->count; i++) {
        struct h1_rec *x = &h->trk->recs[(h->trk->head + i) % H1_RECS];
        if (x->end == UINT64_MAX) {
            rec = x;
        }
    }
    int rc = 0;
    if (h->stream_chunked && !r->head_only && !bodiless(r->resp.status)) {
        struct outq *q = conn_outq(&h->c);
        if (!q) {
            rc = -ENOMEM;
        } else {
            struct out o = {q, NULL, 0, 0, false};
            char *p = out_begin(&o, 5);
            if (p) {
                memcpy(p, "0\r\n\r\n", 5);
                out_end(&o, 5);
                h->queued += 5;
            } else {
                rc = -ENOMEM;
            }
        }
    }
    if (rec) {
        rec->end = h->queued;
    }
    if (rc < 0) {
        conn_abort(&h->c);
    }
    conn_schedule(&h->c);
    return rc;
}

/* The body is cut: what is queued goes out, then the connection closes without its end. */
static void h1_stream_abort(struct req *r)
{
    struct h1_conn *h = r->proto_data;
    if (h->stream != r) {
        return;
    }
    if (h->deferred) {
        /* nothing was sent: there is no response to cut, only the connection */
        h1_undefer(h, r);
        conn_abort(&h->c);
        return;
    }
    h->stream_chunked = false; /* no last chunk: the body must not read as complete */
    if (h->stream_left == 0) {
        h->stream_left = 1; /* nor as a whole Content-Length */
    }
    if (h1_stream_end(r) < 0) {
        return;
    }
    h->flags |= H1_CLOSE_AFTER | H1_STOP_READ | H1_UNREAD;
}

static void h1_hold(struct req *r)
{
    conn_hold(&((struct h1_conn *)r->proto_data)->c);
}

static void h1_unhold(struct req *r)
{
    conn_unhold(&((struct h1_conn *)r->proto_data)->c);
}

static bool h1_dead(const struct req *r)
{
    return conn_dead(&((const struct h1_conn *)r->proto_data)->c);
}

static const struct sockaddr_storage *h1_peer(struct req *r)
{
    return conn_peer(&((struct h1_conn *)r->proto_data)->c);
}

static void h1_on_end(struct req *r, struct req_end *e)
{
    struct h1_conn *h = r->proto_data;
    e->next = h->ends;
    h->ends = e;
}

static unsigned h1_local_port(struct req *r)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    const struct h1_conn *h = r->proto_data;
    if (getsockname(h->c.tr.fd, (struct sockaddr *)&ss, &len) < 0) {
        return 0;
    }
    return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void *h1_ssl(struct req *r)
{
    struct h1_conn *h = r->proto_data;
    return conn_ssl(&h->c);
}

const struct req_proto h1_proto = {
    .send = h1_send,
    .stream_begin = h1_stream_begin,
    .stream_write = h1_stream_write,
    .stream_end = h1_stream_end,
    .hold = h1_hold,
    .unhold = h1_unhold,
    .dead = h1_dead,
    .peer = h1_peer,
    .ssl = h1_ssl,
    .local_port = h1_local_port,
    .on_end = h1_on_end,
    .defer = h1_defer,
    .body_read = h1_body_read,
    .body_more = h1_body_more,
    .stream_abort = h1_stream_abort,
};
