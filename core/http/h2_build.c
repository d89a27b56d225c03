/* h2_build.c - an HTTP/2 request's fields into a struct http_request (see h2_build.h). */
#include "core/http/h2_build.h"

#include "core/base/hash.h"
#include "proto/http.h"

#include <errno.h>
#include <string.h>

/* HPACK's accounting of a field (RFC 7541 4.1): what SETTINGS_MAX_HEADER_LIST_SIZE counts. */
#define FIELD_OVERHEAD 32u
/* The request line made for the log and $request: "METHOD TARGET HTTP/2.0". */
#define PROTO_TEXT " HTTP/2.0"

int h2_build_init(struct h2_build *b, struct arena *a, const struct http_limits *lim,
                  struct http_request *msg)
{
    memset(b, 0, sizeof(*b));
    memset(msg, 0, sizeof(*msg));
    b->a = a;
    b->lim = lim;
    b->msg = msg;
    b->cookie_tail = &b->cookies;
    return hdr_table_init(&msg->headers, a, 16);
}

static int fail(struct h2_build *b, int err)
{
    if (!b->err) {
        b->err = err;
    }
    return err;
}

/* A field name's bytes: RFC 9110's tchar but the uppercase letters (RFC 9113 8.2.1). */
static const uint8_t name_ok[256] = {
    ['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1,
    ['&'] = 1,         ['\''] = 1,        ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,
    ['^'] = 1,         ['_'] = 1,         ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

/* One table lookup a byte, no early exit: names are short. */
static bool lowercase_token(struct slice n)
{
    unsigned bad = 0;
    for (size_t i = 0; i < n.len; i++) {
        bad |= name_ok[(unsigned char)n.ptr[i]] ^ 1u;
    }
    return n.len > 0 && !bad;
}

/* RFC 9110 5.5: no NUL, CR or LF, no leading or trailing whitespace. */
static bool good_value(struct slice v)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c == 0 || c == '\r' || c == '\n') {
            return false;
        }
    }
    return v.len == 0 || (v.ptr[0] != ' ' && v.ptr[0] != '\t' && v.ptr[v.len - 1] != ' ' &&
                          v.ptr[v.len - 1] != '\t');
}

/* Fields that belong to one HTTP/1 connection and mean nothing in HTTP/2 (RFC 9113 8.2.2);
 * by length first: most names are none of these lengths. */
static bool connection_specific(struct slice n)
{
    switch (n.len) {
    case 7:
        return slice_eq(n, SLICE_LIT("upgrade"));
    case 10:
        return slice_eq(n, SLICE_LIT("connection")) || slice_eq(n, SLICE_LIT("keep-alive"));
    case 16:
        return slice_eq(n, SLICE_LIT("proxy-connection"));
    case 17:
        return slice_eq(n, SLICE_LIT("transfer-encoding"));
    default:
        return false;
    }
}

static int pseudo(struct h2_build *b, struct slice name, struct slice value)
{
    struct slice *dst = NULL;
    if (slice_eq(name, SLICE_LIT(":method"))) {
        dst = &b->method;
    } else if (slice_eq(name, SLICE_LIT(":scheme"))) {
        dst = &b->scheme;
    } else if (slice_eq(name, SLICE_LIT(":authority"))) {
        dst = &b->authority;
    } else if (slice_eq(name, SLICE_LIT(":path"))) {
        dst = &b->path;
    }
    /* unknown (:status, :protocol), repeated, or after a regular field: malformed */
    if (!dst || dst->ptr || b->regular) {
        return fail(b, -400);
    }
    char *v = arena_memdup(b->a, value.ptr, value.len ? value.len : 1);
    if (!v) {
        return -ENOMEM;
    }
    *dst = slice_make(v, value.len);
    return 0;
}

static bool parse_length(struct slice v, uint64_t *out)
{
    uint64_t n = 0;
    if (v.len == 0 || v.len > 19) {
        return false;
    }
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') {
            return false;
        }
        n = n * 10 + (uint64_t)(v.ptr[i] - '0');
    }
    *out = n;
    return true;
}

static int regular(struct h2_build *b, struct slice name, struct slice value)
{
    b->regular = true;
    if (connection_specific(name) ||
        (slice_eq(name, SLICE_LIT("te")) && !slice_eq_nocase(value, SLICE_LIT("trailers")))) {
        return fail(b, -400);
    }
    /* name and value in one piece of the arena: nghttp2's buffers go when the callback ends */
    char *n = arena_alloc(b->a, name.len + value.len + 1);
    if (!n) {
        return -ENOMEM;
    }
    char *v = n + name.len;
    memcpy(n, name.ptr, name.len);
    memcpy(v, value.ptr, value.len);
    struct slice nn = slice_make(n, name.len), vv = slice_make(v, value.len);
    if (slice_eq(nn, SLICE_LIT("cookie"))) {
        /* joined into one field at the end (RFC 9113 8.2.3) */
        struct h2_cookie *k = arena_alloc(b->a, sizeof(*k));
        if (!k) {
            return -ENOMEM;
        }
        *k = (struct h2_cookie){vv, NULL};
        *b->cookie_tail = k;
        b->cookie_tail = &k->next;
        b->cookie_len += vv.len + 2;
        return 0;
    }
    if (slice_eq(nn, SLICE_LIT("content-length"))) {
        uint64_t len;
        if (!parse_length(vv, &len) || (b->has_length && len != b->msg->content_length)) {
            return fail(b, -400);
        }
        b->has_length = true;
        b->msg->content_length = len;
    } else if (slice_eq(nn, SLICE_LIT("host"))) {
        b->host = vv;
    }
    /* the name is lowercase (checked above): its hash is hash_bytes_lower's without the copy */
    return hdr_table_add(&b->msg->headers, b->a, nn, vv, hash_bytes(n, name.len));
}

int h2_build_field(struct h2_build *b, struct slice name, struct slice value)
{
    b->bytes += (uint32_t)MIN(name.len + value.len + FIELD_OVERHEAD, (size_t)UINT32_MAX / 2);
    b->count++;
    if (b->err) {
        return b->err; /* answered once the block ends: only counted from here */
    }
    if (b->bytes > b->lim->max_head || b->count > b->lim->max_headers) {
        return fail(b, -431);
    }
    if (!good_value(value)) {
        return fail(b, -400);
    }
    if (name.len && name.ptr[0] == ':') {
        if (!lowercase_token(slice_make(name.ptr + 1, name.len - 1))) {
            return fail(b, -400);
        }
        return pseudo(b, name, value);
    }
    if (!lowercase_token(name)) {
        return fail(b, -400); /* RFC 9113 8.2.1: uppercase names are malformed */
    }
    return regular(b, name, value);
}

/* The cookies as one field, "; " between them. */
static int join_cookies(struct h2_build *b)
{
    if (!b->cookies) {
        return 0;
    }
    char *p = arena_alloc(b->a, b->cookie_len);
    if (!p) {
        return -ENOMEM;
    }
    size_t n = 0;
    for (const struct h2_cookie *k = b->cookies; k; k = k->next) {
        if (n) {
            memcpy(p + n, "; ", 2);
            n += 2;
        }
        memcpy(p + n, k->v.ptr, k->v.len);
        n += k->v.len;
    }
    static const char name[] = "cookie";
    return hdr_table_add(&b->msg->headers, b->a, SLICE_LIT("cookie"), slice_make(p, n),
                         hash_bytes_lower(name, sizeof(name) - 1));
}

/* The target: path and query, and the request line for the log. */
static int target(struct h2_build *b)
{
    struct http_request *m = b->msg;
    m->target = b->path;
    m->form = HTTP_TARGET_ORIGIN;
    if (slice_eq(b->path, SLICE_LIT("*"))) {
        if (m->method != HTTP_OPTIONS) {
            return -400;
        }
        m->form = HTTP_TARGET_ASTERISK;
    } else if (b->path.ptr[0] != '/') {
        return -400;
    }
    const char *q = memchr(b->path.ptr, '?', b->path.len);
    m->path = q ? slice_make(b->path.ptr, (size_t)(q - b->path.ptr)) : b->path;
    m->has_query = q != NULL;
    m->query = q ? slice_make(q + 1, b->path.len - (size_t)(q + 1 - b->path.ptr)) : SLICE_NULL;
    size_t n = b->method.len + 1 + b->path.len + sizeof(PROTO_TEXT) - 1;
    char *line = arena_alloc(b->a, n);
    if (!line) {
        return -ENOMEM;
    }
    memcpy(line, b->method.ptr, b->method.len);
    line[b->method.len] = ' ';
    memcpy(line + b->method.len + 1, b->path.ptr, b->path.len);
    memcpy(line + b->method.len + 1 + b->path.len, PROTO_TEXT, sizeof(PROTO_TEXT) - 1);
    m->request_line = slice_make(line, n);
    m->method_token = slice_make(line, b->method.len);
    m->head = m->request_line;
    return 0;
}

int h2_build_finish(struct h2_build *b, bool end_stream)
{
    struct http_request *m = b->msg;
    if (b->err) {
        return b->err;
    }
    /* RFC 9113 8.3.1: every request but CONNECT has these three; CONNECT is not served */
    if (!b->method.len || !b->scheme.len || !b->path.len || !lowercase_token(b->scheme)) {
        return -400;
    }
    for (size_t i = 0; i < b->method.len; i++) {
        if (!http_is_tchar((unsigned char)b->method.ptr[i])) {
            return -400;
        }
    }
    m->method = http_method_from(b->method);
    if (m->method == HTTP_CONNECT) {
        return -400;
    }
    int rc = target(b);
    if (rc < 0) {
        return rc;
    }
    if (b->authority.len && !b->host.ptr) {
        /* a Host field from :authority, as nginx makes one: $http_host, HTTP_HOST, upstreams */
        static const char host[] = "host";
        rc = hdr_table_add(&m->headers, b->a, SLICE_LIT("host"), b->authority,
                           hash_bytes_lower(host, sizeof(host) - 1));
        if (rc < 0) {
            return rc;
        }
    }
    if ((rc = join_cookies(b)) < 0 || (rc = hdr_table_index(&m->headers, b->a)) < 0) {
        return rc;
    }
    m->host = b->authority.len ? b->authority : b->host;
    m->authority = b->authority;
    m->version_minor = 1; /* the semantics of HTTP/1.1: ranges, conditionals, persistence */
    m->keep_alive = true;
    m->head_len = 0;
    if (b->has_length) {
        m->body = HTTP_BODY_LENGTH;
        if (end_stream && m->content_length != 0) {
            return -400; /* RFC 9113 8.1.1: the length the DATA frames do not match */
        }
    } else {
        m->body = end_stream ? HTTP_BODY_NONE : HTTP_BODY_CHUNKED; /* length unknown */
    }
    if (m->body == HTTP_BODY_LENGTH && m->content_length == 0) {
        m->body = HTTP_BODY_NONE;
    }
    return 0;
}
