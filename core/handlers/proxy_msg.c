/* proxy_msg.c - the request head for the upstream and the response head for the client
 * (see proxy_msg.h). */
#include "core/handlers/proxy_msg.h"

#include "core/base/alloc.h"
#include "core/http/respond.h"
#include "core/http/route.h"
#include "core/http/vars.h"
#include "proto/response.h"
#include "proto/uri.h"

#include <errno.h>
#include <string.h>

/* Hop-by-hop fields (RFC 9110 7.6.1), the framing the proxy redoes, and Proxy-*. */
static bool hop_by_hop(struct slice n)
{
    static const struct slice names[] = {
        SLICE_LIT("connection"), SLICE_LIT("keep-alive"),        SLICE_LIT("te"),
        SLICE_LIT("trailer"),    SLICE_LIT("transfer-encoding"), SLICE_LIT("upgrade"),
        SLICE_LIT("content-length"),
    };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (slice_eq_nocase(n, names[i])) {
            return true;
        }
    }
    /* Proxy-Connection, Proxy-Authorization, and Proxy itself (httpoxy) */
    return n.len >= 5 && slice_eq_nocase(slice_make(n.ptr, 5), SLICE_LIT("proxy"));
}

/* True if name is one of the tokens of the message's Connection fields. */
static bool named_in_connection(const struct hdr_table *t, struct slice name)
{
    for (const struct http_header *c = hdr_get_known(t, HDR_CONNECTION); c;
         c = hdr_next_dup(t, c)) {
        if (http_list_has_token(c->value, name)) {
            return true;
        }
    }
    return false;
}

static bool in_list(char *const *v, unsigned n, struct slice name)
{
    for (unsigned i = 0; i < n; i++) {
        if (slice_eq_nocase(name, slice_cstr(v[i]))) {
            return true;
        }
    }
    return false;
}

/* The URI the upstream gets (in r's arena). */
static int target_uri(struct req *r, const struct proxy_conf *pc, struct slice *out)
{
    const struct proxy_pass *pp = &pc->pass;
    const struct http_request *m = r->msg;
    const struct route_loc *l = r->loc;
    if (!pp->uri && !r->redirects && !r->internal && m->form != HTTP_TARGET_ASTERISK) {
        /* no URI part: the client's URI as it sent it */
        size_t n = m->path.len + (m->has_query ? 1 + m->query.len : 0);
        char *d = arena_alloc(r->arena, n + 1);
        if (!d) {
            return -ENOMEM;
        }
        memcpy(d, m->path.ptr, m->path.len);
        if (m->has_query) {
            d[m->path.len] = '?';
            memcpy(d + m->path.len + 1, m->query.ptr, m->query.len);
        }
        *out = slice_make(d, n);
        return 0;
    }
    struct slice head = SLICE_NULL, rest = r->path;
    if (pp->uri && l && (l->kind == ROUTE_LOC_PREFIX || l->kind == ROUTE_LOC_NOREGEX ||
                         l->kind == ROUTE_LOC_EXACT) &&
        slice_starts_with(r->path, slice_make(l->prefix, l->prefix_len))) {
        /* nginx's rule: the part of the URI the location matched is replaced */
        head = slice_make(pp->uri, pp->uri_len);
        rest = slice_make(r->path.ptr + l->prefix_len, r->path.len - l->prefix_len);
    }
    size_t cap = head.len + 3 * rest.len + 1 + r->args.len + 1;
    char *d = arena_alloc(r->arena, cap);
    if (!d) {
        return -ENOMEM;
    }
    size_t n = 0;
    memcpy(d, head.ptr ? head.ptr : "", head.len);
    n += head.len;
    n += uri_escape(d + n, rest, URI_ESC_PATH);
    if (n == 0) {
        d[n++] = '/';
    }
    if (r->args.len) {
        d[n++] = '?';
        memcpy(d + n, r->args.ptr, r->args.len);
        n += r->args.len;
    }
    *out = slice_make(d, n);
    return 0;
}

int proxy_request_head(struct req *r, const struct proxy_conf *pc, bool chunked, char **out,
                       size_t *len)
{
    const struct proxy_plan *pl = pc->plan;
    const struct http_request *m = r->msg;
    struct slice uri;
    if (target_uri(r, pc, &uri) < 0) {
        return -ENOMEM;
    }
    struct slice *vals = arena_alloc(r->arena, (pl->nsend + 1) * sizeof(*vals));
    if (!vals) {
        return -ENOMEM;
    }
    struct slice method = http_method_name(r->method);
    if (r->method == HTTP_METHOD_UNKNOWN) {
        method = m->method_token;
    }
    size_t need = method.len + uri.len + 16 + 48;
    for (unsigned i = 0; i < pl->nsend; i++) {
        if (http_script_eval(r, pl->send[i].value, HTTP_SCRIPT_RAW, &vals[i]) < 0) {
            return -ENOMEM;
        }
        need += strlen(pl->send[i].name) + vals[i].len + 4;
    }
    for (uint32_t i = 0; i < m->headers.count; i++) {
        need += m->headers.entries[i].name.len + m->headers.entries[i].value.len + 4;
    }
    char *buf = sp_malloc(need);
    if (!buf) {
        return -ENOMEM;
    }
    struct http_buf b;
    hbuf_init(&b, buf, need);
    hbuf_slice(&b, method);
    hbuf_lit(&b, " ");
    hbuf_slice(&b, uri);
    if (pc->http_version == 1) {
        hbuf_lit(&b, " HTTP/1.1\r\n");
    } else {
        hbuf_lit(&b, " HTTP/1.0\r\n");
    }
    for (unsigned i = 0; i < pl->nsend; i++) {
        struct slice v = vals[i];
        for (size_t k = 0; k < v.len; k++) {
            if (v.ptr[k] == '\r' || v.ptr[k] == '\n') {
                v.len = k; /* a variable's value never splits the head */
            }
        }
        if (v.len) {
            http_put_header(&b, slice_cstr(pl->send[i].name), v);
        }
    }
    for (uint32_t i = 0; i < m->headers.count; i++) {
        const struct http_header *h = &m->headers.entries[i];
        if (hop_by_hop(h->name) || slice_eq_nocase(h->name, SLICE_LIT("host")) ||
            slice_eq_nocase(h->name, SLICE_LIT("expect")) ||
            in_list(pl->skip, pl->nskip, h->name) || named_in_connection(&m->headers, h->name)) {
            continue;
        }
        http_put_header(&b, h->name, h->value);
    }
    if (r->body_kind == HTTP_BODY_LENGTH) {
        hbuf_lit(&b, "Content-Length: ");
        hbuf_u64(&b, r->body_length);
        hbuf_lit(&b, "\r\n");
    } else if (chunked) {
        hbuf_lit(&b, "Transfer-Encoding: chunked\r\n");
    }
    hbuf_lit(&b, "\r\n");
    if (b.overflow) {
        sp_free(buf);
        return -ENOMEM;
    }
    *out = buf;
    *len = b.len;
    return 0;
}

/* proxy_redirect default: the upstream's own URL in a Location becomes the location's. */
static struct slice redirect(struct req *r, const struct proxy_conf *pc, struct slice v)
{
    const struct proxy_pass *pp = &pc->pass;
    struct slice from = slice_make(pp->redirect_from, pp->redirect_from_len);
    if (pc->redirect != 0 || !slice_starts_with(v, from)) {
        return v;
    }
    struct slice to = SLICE_LIT("/");
    if (pp->uri && r->loc && r->loc->prefix_len) {
        to = slice_make(r->loc->prefix, r->loc->prefix_len);
    }
    size_t n = to.len + v.len - from.len;
    char *d = arena_alloc(r->arena, n + 1);
    if (!d) {
        return v;
    }
    memcpy(d, to.ptr, to.len);
    memcpy(d + to.len, v.ptr + from.len, v.len - from.len);
    return slice_make(d, n);
}

static bool hidden(const struct proxy_conf *pc, struct slice name)
{
    const struct proxy_plan *pl = pc->plan;
    if (in_list(pl->hide, pl->nhide, name)) {
        return true;
    }
    if (pl->hide_accel && name.len >= 8 && slice_eq_nocase(slice_make(name.ptr, 8), SLICE_LIT("x-accel-"))) {
        for (unsigned i = 0; i < pc->pass_header.n; i++) {
            if (slice_eq_nocase(name, slice_cstr(pc->pass_header.v[i]))) {
                return false;
            }
        }
        return true;
    }
    /* Date and Server are the writer's own: never two of them */
    return slice_eq_nocase(name, SLICE_LIT("date")) || slice_eq_nocase(name, SLICE_LIT("server"));
}

int proxy_response_head(struct req *r, const struct proxy_conf *pc, const struct upstream_head *uh)
{
    resp_begin(r, uh->status);
    for (uint32_t i = 0; i < uh->headers.count; i++) {
        const struct http_header *h = &uh->headers.entries[i];
        if (hop_by_hop(h->name) || hidden(pc, h->name) ||
            named_in_connection(&uh->headers, h->name)) {
            continue;
        }
        struct slice v = h->value;
        if (slice_eq_nocase(h->name, SLICE_LIT("location"))) {
            v = redirect(r, pc, v);
        }
        int rc = resp_field(r, h->name, v);
        if (rc == -ENOMEM) {
            return rc;
        }
    }
    return 0;
}
