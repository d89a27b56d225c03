/* serve.c - see serve.h. */
#include "core/serve.h"

#include "core/base/hash.h"
#include "core/base/numfmt.h"
#include "core/runtime.h"
#include "core/worker.h"
#include "fs/cache.h"
#include "proto/cond.h"
#include "proto/date.h"
#include "proto/path.h"
#include "proto/range.h"
#include "proto/response.h"

#include <errno.h>
#include <string.h>

/* Bodies up to this size are copied behind the head: one contiguous send. */
#define COPY_BODY_MAX 4096u
/* Room for a status line, Server, Date, Connection and the blank line. */
#define HEAD_BASE 256u

struct reply {
    int status;
    bool close;
    bool head_only;                 /* HEAD: headers of the GET response, no body */
    uint8_t minor;                  /* request's HTTP/1.<minor> */
    struct slice extra;             /* extra header lines (each ending in CRLF) */
    unsigned server;                /* the server (root_id) whose access log records it */
    const struct http_request *req; /* for the access log; NULL for unparsable input */
    struct slice raw;               /* unparsable input's first line, for the access log */
};

static void put_connection(struct http_buf *b, const struct reply *r)
{
    if (r->close) {
        hbuf_lit(b, "Connection: close\r\n");
    } else if (r->minor == 0) {
        hbuf_lit(b, "Connection: keep-alive\r\n");
    }
}

static void put_head_start(struct http_buf *b, struct worker *w, int status)
{
    if (status == 200) {
        hbuf_lit(b, "HTTP/1.1 200 OK\r\n");
    } else {
        http_put_status_line(b, status);
    }
    hbuf_put(b, w->date_line, w->date_line_len);
}

/* Ends the response just queued: its record, its access-log capture, the close flags. */
static void finish(struct conn *c, const struct reply *r, size_t head_len)
{
    struct out_resp *resp = out_end_response(c, r->status, r->close);
    resp->head_len = (uint32_t)head_len;
    alog_capture(c, resp, r->server, r->req, r->raw);
    if (r->close) {
        c->flags |= CF_CLOSE_AFTER | CF_STOP_READ;
    }
}

/* Room for a response of `bytes` in `segs` segments plus its log capture. */
static bool room(struct conn *c, const struct reply *r, size_t bytes, unsigned segs)
{
    return out_has_room(c, bytes + alog_capture_need(c, r->server, r->req, r->raw), segs);
}

/* A response whose body, if any, is the small HTML page for its status. */
static int queue_simple(struct conn *c, const struct reply *r, bool with_page)
{
    struct worker *w = c->w;
    size_t page = with_page ? http_error_body_len(r->status) : 0;
    size_t need = HEAD_BASE + 64 + r->extra.len + page;
    if (!room(c, r, need, 1)) {
        return -EAGAIN;
    }
    char *p = out_reserve(c, need);
    struct http_buf b;
    hbuf_init(&b, p, need);
    put_head_start(&b, w, r->status);
    if (with_page) {
        hbuf_lit(&b, "Content-Type: text/html\r\n");
    }
    if (r->status != 304 && r->status != 204 && !(r->status >= 100 && r->status < 200)) {
        http_put_header_u64(&b, SLICE_LIT("Content-Length"), page);
    }
    hbuf_slice(&b, r->extra);
    put_connection(&b, r);
    hbuf_lit(&b, "\r\n");
    size_t head_len = b.len;
    if (with_page && !r->head_only) {
        http_put_error_body(&b, r->status);
    }
    ASSERT(!b.overflow);
    out_commit(c, b.len);
    finish(c, r, head_len);
    return 0;
}

int serve_bad_request(struct conn *c, int status, const char *buf, size_t len)
{
    struct reply r = {0};
    r.status = status;
    r.close = true;
    r.minor = 1;
    r.server = c->w->rt->groups[c->group].def->root_id;
    /* the first line of what was received, for the access log */
    size_t n = 0;
    while (n < len && n < 8192 && buf[n] != '\n') {
        n++;
    }
    if (n && buf[n - 1] == '\r') {
        n--;
    }
    r.raw = slice_make(buf, n);
    return queue_simple(c, &r, true);
}

static const struct cfg_location *match_location(const struct cfg_server *s, struct slice path)
{
    const struct cfg_location *best = NULL;
    for (unsigned i = 0; i < s->nlocs; i++) {
        const struct cfg_location *l = &s->locs[i];
        if (l->prefix_len <= path.len && memcmp(l->prefix, path.ptr, l->prefix_len) == 0 &&
            (!best || l->prefix_len > best->prefix_len)) {
            best = l;
        }
    }
    return best;
}

/* Cache-Control / Expires / add_header lines of a location. */
static void put_location_headers(struct http_buf *b, struct worker *w, const struct cfg_location *l)
{
    if (!l) {
        return;
    }
    if (l->expires_s >= 0) {
        char d[HTTP_DATE_LEN];
        http_date_format(d, w->date_sec + (time_t)l->expires_s);
        http_put_header(b, SLICE_LIT("Expires"), slice_make(d, HTTP_DATE_LEN));
        if (!l->cache_control) {
            hbuf_lit(b, "Cache-Control: max-age=");
            hbuf_u64(b, (uint64_t)l->expires_s);
            hbuf_lit(b, "\r\n");
        }
    }
    if (l->cache_control) {
        http_put_header(b, SLICE_LIT("Cache-Control"), slice_cstr(l->cache_control));
    }
    if (l->extra_headers) {
        hbuf_put(b, l->extra_headers, l->extra_headers_len);
    }
}

static size_t location_headers_len(const struct cfg_location *l)
{
    if (!l) {
        return 0;
    }
    return 128 + (l->cache_control ? strlen(l->cache_control) + 24 : 0) + l->extra_headers_len;
}

/* "Content-Range: bytes a-b/size\r\n" (or "bytes * /size" when r is NULL). */
static void put_content_range(struct http_buf *b, const struct http_range *r, uint64_t size)
{
    hbuf_lit(b, "Content-Range: bytes ");
    if (r) {
        hbuf_u64(b, r->first);
        hbuf_lit(b, "-");
        hbuf_u64(b, r->last);
    } else {
        hbuf_lit(b, "*");
    }
    hbuf_lit(b, "/");
    hbuf_u64(b, size);
    hbuf_lit(b, "\r\n");
}

/* Queues bytes [off, off + len) of e's body: from memory when cached, else with sendfile. */
static void push_body(struct conn *c, struct fs_entry *e, uint64_t off, uint64_t len)
{
    if (e->body) {
        out_push_mem(c, e->body + off, (size_t)len, e);
    } else {
        out_push_file(c, e, off, len);
    }
}

/* 304: the validators and caching headers a 200 would carry, no body (RFC 9110 15.4.5). */
static int not_modified(struct conn *c, struct fs_entry *e, const struct cfg_location *loc,
                        struct reply *r)
{
    struct worker *w = c->w;
    size_t need = HEAD_BASE + e->hdr_len + location_headers_len(loc);
    r->status = 304;
    if (!room(c, r, need, 1)) {
        return -EAGAIN;
    }
    struct http_buf b;
    hbuf_init(&b, out_reserve(c, need), need);
    put_head_start(&b, w, 304);
    hbuf_put(&b, e->hdr + e->off_val, (size_t)(e->hdr_len - e->off_val));
    put_location_headers(&b, w, loc);
    put_connection(&b, r);
    hbuf_lit(&b, "\r\n");
    ASSERT(!b.overflow);
    out_commit(c, b.len);
    finish(c, r, b.len);
    return 0;
}

/* 416 with "Content-Range: bytes * /size" and the error page. */
static int unsatisfiable(struct conn *c, struct fs_entry *e, struct reply *r)
{
    char extra[64];
    struct http_buf b;
    hbuf_init(&b, extra, sizeof(extra));
    put_content_range(&b, NULL, e->size);
    r->status = 416;
    r->extra = slice_make(extra, b.len);
    return queue_simple(c, r, true);
}

/* 206 with one range. */
static int one_range(struct conn *c, struct fs_entry *e, const struct cfg_location *loc,
                     const struct http_range *rg, struct reply *r)
{
    struct worker *w = c->w;
    uint64_t len = rg->last - rg->first + 1;
    bool copy = e->body && len <= COPY_BODY_MAX;
    size_t need = HEAD_BASE + e->hdr_len + 64 + location_headers_len(loc) + (copy ? len : 0);
    r->status = 206;
    if (!room(c, r, need, 2)) {
        return -EAGAIN;
    }
    struct http_buf b;
    hbuf_init(&b, out_reserve(c, need), need);
    put_head_start(&b, w, 206);
    hbuf_put(&b, e->hdr, e->off_len); /* Content-Type */
    http_put_header_u64(&b, SLICE_LIT("Content-Length"), len);
    put_content_range(&b, rg, e->size);
    hbuf_put(&b, e->hdr + e->off_val, (size_t)(e->hdr_len - e->off_val));
    put_location_headers(&b, w, loc);
    put_connection(&b, r);
    hbuf_lit(&b, "\r\n");
    size_t head_len = b.len;
    if (copy) {
        hbuf_put(&b, e->body + rg->first, (size_t)len);
    }
    ASSERT(!b.overflow);
    out_commit(c, b.len);
    if (!copy) {
        push_body(c, e, rg->first, len);
    }
    finish(c, r, head_len);
    return 0;
}

/* The delimiter and headers in front of part i: "\r\n--B\r\nContent-Type: ...\r\n\r\n". */
static void put_part_head(struct http_buf *b, struct slice boundary, struct fs_entry *e,
                          const struct http_range *rg)
{
    hbuf_lit(b, "\r\n--");
    hbuf_slice(b, boundary);
    hbuf_lit(b, "\r\n");
    hbuf_put(b, e->hdr, e->off_len);
    put_content_range(b, rg, e->size);
    hbuf_lit(b, "\r\n");
}

/* 206 multipart/byteranges (RFC 9110 14.6), parts in ascending order. */
static int multi_range(struct conn *c, struct fs_entry *e, const struct cfg_location *loc,
                       const struct http_range *rg, int n, struct reply *r)
{
    struct worker *w = c->w;
    char bnd[32];
    uint64_t k = hash_mix(w->id, ++w->boundary_seq);
    size_t bl = 0;
    memcpy(bnd, "spate-", 6);
    bl = 6 + num_u64_to_hex(bnd + 6, k);
    struct slice boundary = slice_make(bnd, bl);
    /* the body's length: every part head, every part, the closing delimiter */
    char scratch[256];
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        struct http_buf pb;
        hbuf_init(&pb, scratch, sizeof(scratch));
        put_part_head(&pb, boundary, e, &rg[i]);
        total += pb.len + (rg[i].last - rg[i].first + 1);
    }
    total += 4 + bl + 4; /* "\r\n--" B "--\r\n" */
    size_t need = HEAD_BASE + e->hdr_len + 96 + location_headers_len(loc) + (size_t)n * 256;
    r->status = 206;
    if (!room(c, r, need, 2 + 2 * (unsigned)n)) {
        return -EAGAIN;
    }
    struct http_buf b;
    hbuf_init(&b, out_reserve(c, need), need);
    put_head_start(&b, w, 206);
    hbuf_lit(&b, "Content-Type: multipart/byteranges; boundary=");
    hbuf_slice(&b, boundary);
    hbuf_lit(&b, "\r\n");
    http_put_header_u64(&b, SLICE_LIT("Content-Length"), total);
    hbuf_put(&b, e->hdr + e->off_val, (size_t)(e->hdr_len - e->off_val));
    put_location_headers(&b, w, loc);
    put_connection(&b, r);
    hbuf_lit(&b, "\r\n");
    size_t head_len = b.len;
    ASSERT(!b.overflow);
    out_commit(c, b.len);
    for (int i = 0; i < n; i++) {
        size_t room_left = 256;
        struct http_buf pb;
        hbuf_init(&pb, out_reserve(c, room_left), room_left);
        put_part_head(&pb, boundary, e, &rg[i]);
        out_commit(c, pb.len);
        push_body(c, e, rg[i].first, rg[i].last - rg[i].first + 1);
    }
    struct http_buf tb;
    hbuf_init(&tb, out_reserve(c, 64), 64);
    hbuf_lit(&tb, "\r\n--");
    hbuf_slice(&tb, boundary);
    hbuf_lit(&tb, "--\r\n");
    out_commit(c, tb.len);
    finish(c, r, head_len);
    return 0;
}

static int serve_file(struct conn *c, const struct http_request *req, const struct cfg_server *s,
                      struct fs_entry *e, struct slice path, struct reply *r)
{
    struct worker *w = c->w;
    const struct cfg_location *loc = match_location(s, path);
    /* RFC 9110 13.2.2: preconditions first, then Range */
    struct http_validators v = {e->etag, e->mtime, true};
    enum http_precondition pc = http_preconditions(&req->headers, req->method, &v);
    if (pc == HTTP_PRECOND_NOT_MODIFIED) {
        return not_modified(c, e, loc, r);
    }
    if (pc == HTTP_PRECOND_FAILED) {
        r->status = 412;
        return queue_simple(c, r, true);
    }
    const struct http_header *rh = hdr_get_known(&req->headers, HDR_RANGE);
    if (rh && req->method == HTTP_GET && !hdr_next_dup(&req->headers, rh) &&
        http_if_range_ok(&req->headers, &v)) {
        struct http_range rg[HTTP_RANGES_MAX];
        int n = http_range_parse(rh->value, e->size, rg, HTTP_RANGES_MAX);
        if (n == -416) {
            return unsatisfiable(c, e, r);
        }
        if (n == 1) {
            return one_range(c, e, loc, rg, r);
        }
        if (n > 1) {
            return multi_range(c, e, loc, rg, n, r);
        }
        /* 0: a Range we ignore (other unit, invalid): the whole representation */
    }
    bool body = !r->head_only && e->size > 0;
    bool copy = body && e->body && e->size <= COPY_BODY_MAX;
    size_t need = HEAD_BASE + e->hdr_len + location_headers_len(loc) + (copy ? e->size : 0);
    unsigned segs = 1 + (body && !copy ? 1 : 0);
    r->status = 200;
    if (!room(c, r, need, segs)) {
        return -EAGAIN;
    }
    char *p = out_reserve(c, need);
    struct http_buf b;
    hbuf_init(&b, p, need);
    put_head_start(&b, w, 200);
    hbuf_put(&b, e->hdr, e->hdr_len);
    put_location_headers(&b, w, loc);
    put_connection(&b, r);
    hbuf_lit(&b, "\r\n");
    size_t head_len = b.len;
    if (copy) {
        hbuf_put(&b, e->body, e->size);
    }
    ASSERT(!b.overflow);
    out_commit(c, b.len);
    if (body && !copy) {
        push_body(c, e, 0, e->size);
    }
    finish(c, r, head_len);
    return 0;
}

/* Bytes that may stand for themselves in a Location path: unreserved, sub-delims, ":@/" */
static const uint8_t path_safe[256] = {
    ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1, ['-'] = 1, ['.'] = 1,  ['_'] = 1,
    ['~'] = 1,         ['!'] = 1,         ['$'] = 1,         ['&'] = 1, ['\''] = 1, ['('] = 1,
    [')'] = 1,         ['*'] = 1,         ['+'] = 1,         [','] = 1, [';'] = 1,  ['='] = 1,
    [':'] = 1,         ['@'] = 1,         ['/'] = 1,
};

/*
 * 301 to the same directory with a trailing slash, query kept (RFC 9110 15.4.2). The Location
 * is built from the normalized path (one leading slash, no dot segments), percent-encoded
 * again: never from the raw target, which could make "//evil.example/../dir" an off-site
 * redirect.
 */
static int redirect_slash(struct conn *c, const struct http_request *req, struct slice path,
                          struct reply *r)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 10 + 3 * path.len + 1 + (req->has_query ? 1 + 3 * req->query.len : 0) + 2;
    char *loc = arena_alloc(&c->arena, n);
    if (!loc) {
        r->status = 500;
        return queue_simple(c, r, true);
    }
    struct http_buf b;
    hbuf_init(&b, loc, n);
    hbuf_lit(&b, "Location: ");
    for (size_t i = 0; i < path.len; i++) {
        unsigned char ch = (unsigned char)path.ptr[i];
        if (path_safe[ch]) {
            hbuf_put(&b, &path.ptr[i], 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            hbuf_put(&b, e, 3);
        }
    }
    hbuf_lit(&b, "/");
    if (req->has_query) {
        /* the parser admitted only visible bytes; non-ASCII ones are escaped for a valid URI */
        hbuf_lit(&b, "?");
        for (size_t i = 0; i < req->query.len; i++) {
            unsigned char ch = (unsigned char)req->query.ptr[i];
            if (ch < 0x80) {
                hbuf_put(&b, &req->query.ptr[i], 1);
            } else {
                char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
                hbuf_put(&b, e, 3);
            }
        }
    }
    hbuf_lit(&b, "\r\n");
    r->status = 301;
    r->extra = slice_make(loc, b.len);
    return queue_simple(c, r, true);
}

static int serve_static(struct conn *c, const struct http_request *req, const struct cfg_server *s,
                        struct reply *r)
{
    struct worker *w = c->w;
    if (req->form == HTTP_TARGET_ASTERISK) {
        r->status = 400;
        return queue_simple(c, r, true);
    }
    size_t max_index = 0;
    for (unsigned i = 0; i < s->nindex; i++) {
        max_index = MAX(max_index, strlen(s->index[i]));
    }
    size_t cap = req->path.len + max_index + 2;
    char *np = arena_alloc(&c->arena, cap);
    if (!np) {
        r->status = 500;
        return queue_simple(c, r, true);
    }
    int n = http_path_normalize(req->path, np, cap,
                                s->allow_encoded_slash ? HTTP_PATH_ALLOW_ENCODED_SLASH : 0);
    if (n < 0) {
        r->status = -n;
        return queue_simple(c, r, true);
    }
    struct slice path = slice_make(np, (size_t)n);
    struct fs_entry *e = fs_cache_get(w->fcache, &s->froot, s->root_id, path, w->now_ms);
    if (!e) {
        r->status = 503;
        return queue_simple(c, r, true);
    }
    int rc;
    if (e->kind == FS_DIR && np[n - 1] == '/') {
        /* directory request: the first index file that exists */
        int status = 404;
        struct fs_entry *found = NULL;
        for (unsigned i = 0; i < s->nindex && !found; i++) {
            size_t k = strlen(s->index[i]);
            memcpy(np + n, s->index[i], k + 1);
            struct fs_entry *ie =
                fs_cache_get(w->fcache, &s->froot, s->root_id, slice_make(np, n + k), w->now_ms);
            if (!ie) {
                status = 503;
                break;
            }
            if (ie->kind == FS_FILE) {
                found = ie;
                path = slice_make(np, n + k);
            } else {
                if (ie->kind == FS_ERROR && ie->status != 404) {
                    status = ie->status;
                }
                fs_entry_release(w->fcache, ie);
                if (status != 404) {
                    break;
                }
            }
        }
        if (found) {
            rc = serve_file(c, req, s, found, path, r);
            fs_entry_release(w->fcache, found);
        } else {
            r->status = status;
            rc = queue_simple(c, r, true);
        }
    } else if (e->kind == FS_DIR) {
        rc = redirect_slash(c, req, slice_make(np, (size_t)n), r);
    } else if (e->kind == FS_FILE) {
        rc = serve_file(c, req, s, e, path, r);
    } else {
        r->status = e->status;
        rc = queue_simple(c, r, true);
    }
    fs_entry_release(w->fcache, e);
    return rc;
}

/* TRACE (RFC 9110 9.3.8): the request head as received, as a message/http body. */
static int serve_trace(struct conn *c, const struct http_request *req, struct reply *r)
{
    struct worker *w = c->w;
    if (req->head.len > 16384) {
        r->status = 431;
        r->close = true;
        return queue_simple(c, r, true);
    }
    size_t need = HEAD_BASE + 64 + req->head.len;
    if (!room(c, r, need, 1)) {
        return -EAGAIN;
    }
    struct http_buf b;
    hbuf_init(&b, out_reserve(c, need), need);
    put_head_start(&b, w, 200);
    hbuf_lit(&b, "Content-Type: message/http\r\n");
    http_put_header_u64(&b, SLICE_LIT("Content-Length"), req->head.len);
    put_connection(&b, r);
    hbuf_lit(&b, "\r\n");
    size_t head_len = b.len;
    hbuf_slice(&b, req->head);
    ASSERT(!b.overflow);
    out_commit(c, b.len);
    r->status = 200;
    finish(c, r, head_len);
    return 0;
}

static struct slice allow_value(const struct worker *w)
{
    return w->cfg->trace_enabled ? SLICE_LIT("Allow: GET, HEAD, OPTIONS, TRACE\r\n")
                                 : SLICE_LIT("Allow: GET, HEAD, OPTIONS\r\n");
}

int serve_request(struct conn *c, const struct http_request *req)
{
    struct worker *w = c->w;
    const struct cfg *cfg = w->cfg;
    struct reply r = {0};
    r.minor = req->version_minor;
    r.head_only = req->method == HTTP_HEAD;
    r.req = req;
    const struct listen_group *g = &w->rt->groups[c->group];
    const struct cfg_server *s = runtime_pick_server(g, req->host);
    r.server = s->root_id;
    r.close = !req->keep_alive || w->draining || cfg->keepalive_timeout_ms == 0 ||
              c->nreq + 1 >= cfg->keepalive_requests;
    if (req->expect_continue && req->body != HTTP_BODY_NONE) {
        /* answered without reading the body (RFC 9110 10.1.1): the client may not send it */
        r.close = true;
    }

    int rc;
    if (req->body == HTTP_BODY_LENGTH && req->content_length > cfg->max_body) {
        r.status = 413;
        r.close = true;
        rc = queue_simple(c, &r, true);
    } else {
        switch (req->method) {
        case HTTP_GET:
        case HTTP_HEAD:
            rc = serve_static(c, req, s, &r);
            break;
        case HTTP_OPTIONS:
            r.status = 200;
            r.extra = allow_value(w);
            rc = queue_simple(c, &r, false);
            break;
        case HTTP_METHOD_UNKNOWN:
            r.status = 501;
            rc = queue_simple(c, &r, true);
            break;
        case HTTP_TRACE:
            if (cfg->trace_enabled) {
                rc = serve_trace(c, req, &r);
                break;
            }
            r.status = 405;
            r.extra = allow_value(w);
            rc = queue_simple(c, &r, true);
            break;
        case HTTP_POST:
            if (req->body == HTTP_BODY_NONE && !hdr_get_known(&req->headers, HDR_CONTENT_LENGTH)) {
                r.status = 411; /* RFC 9110 15.5.12: POST needs a length */
                rc = queue_simple(c, &r, true);
                break;
            }
            /* fall through */
        default:
            r.status = 405;
            r.extra = allow_value(w);
            rc = queue_simple(c, &r, true);
            break;
        }
    }
    if (rc == 0) {
        c->nreq++;
        w->stats.requests++;
        if (!(c->flags & CF_STOP_READ)) {
            /* the body follows the head: consume it (and discard it) before the next request */
            if (req->body == HTTP_BODY_LENGTH) {
                c->body_kind = BODY_LENGTH;
                c->body_left = req->content_length;
            } else if (req->body == HTTP_BODY_CHUNKED) {
                c->body_kind = BODY_CHUNKED;
                http_chunked_init(&c->chunk, cfg->max_body);
            }
        }
    }
    return rc;
}
