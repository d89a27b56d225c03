/* request.c - see request.h. */
#include "proto/request.h"

#include "core/base/hash.h"
#include "core/base/numfmt.h"

#include <errno.h>
#include <string.h>

/* Largest Content-Length we parse; larger values are answered 413 by the handler. */
#define MAX_CONTENT_LENGTH ((uint64_t)1 << 62)

/* field-value bytes: HTAB, SP, VCHAR, obs-text (RFC 9110 5.5); everything else ends the scan */
static const uint8_t value_ok[256] = {
    ['\t'] = 1,
    [0x20 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

/* request-target bytes: anything visible except '#' (fragments are never sent) */
static const uint8_t target_ok[256] = {
    [0x21 ... 0x22] = 1,
    [0x24 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

/* uri-host / port bytes allowed in Host (RFC 3986 reg-name, IP-literal, port) */
static const uint8_t host_ok[256] = {
    ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1, ['-'] = 1, ['.'] = 1,  ['_'] = 1,
    ['~'] = 1,         ['!'] = 1,         ['$'] = 1,         ['&'] = 1, ['\''] = 1, ['('] = 1,
    [')'] = 1,         ['*'] = 1,         ['+'] = 1,         [','] = 1, [';'] = 1,  ['='] = 1,
    ['%'] = 1,         [':'] = 1,         ['['] = 1,         [']'] = 1,
};

/* Pointer just past the empty line that ends the head, or NULL. Searches [from, end). */
static const char *find_head_end(const char *from, const char *end)
{
    const char *p = from;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf) {
            return NULL;
        }
        if (lf + 1 < end && lf[1] == '\n') {
            return lf + 2;
        }
        if (lf + 2 < end && lf[1] == '\r' && lf[2] == '\n') {
            return lf + 3;
        }
        if (lf + 2 >= end) {
            return NULL; /* might complete with the next bytes */
        }
        p = lf + 1;
    }
    return NULL;
}

static int parse_version(struct slice v, uint8_t *minor)
{
    if (v.len != 8 || memcmp(v.ptr, "HTTP/", 5) != 0 || v.ptr[6] != '.') {
        return -400;
    }
    unsigned maj = (unsigned char)v.ptr[5] - '0';
    unsigned min = (unsigned char)v.ptr[7] - '0';
    if (maj > 9 || min > 9) {
        return -400;
    }
    if (maj != 1) {
        return -505;
    }
    *minor = min == 0 ? 0 : 1; /* 1.2+ is answered as 1.1 (RFC 9110 2.5) */
    return 0;
}

/* Splits the target into form, path, query, authority (RFC 9112 3.2). */
static int parse_target(struct http_request *r)
{
    struct slice t = r->target;
    if (t.len == 1 && t.ptr[0] == '*') {
        r->form = HTTP_TARGET_ASTERISK;
        r->path = t;
        return r->method == HTTP_OPTIONS ? 0 : -400;
    }
    if (t.ptr[0] != '/') {
        size_t skip = 0;
        if (t.len >= 7 && slice_eq_nocase(slice_make(t.ptr, 7), SLICE_LIT("http://"))) {
            skip = 7;
        } else if (t.len >= 8 && slice_eq_nocase(slice_make(t.ptr, 8), SLICE_LIT("https://"))) {
            skip = 8;
        } else if (r->method == HTTP_CONNECT) {
            r->form = HTTP_TARGET_AUTHORITY;
            r->authority = t;
            r->path = SLICE_NULL;
            return 0;
        } else {
            return -400;
        }
        size_t i = skip;
        while (i < t.len && t.ptr[i] != '/' && t.ptr[i] != '?') {
            i++;
        }
        r->form = HTTP_TARGET_ABSOLUTE;
        r->authority = slice_make(t.ptr + skip, i - skip);
        if (r->authority.len == 0) {
            return -400;
        }
        t = slice_make(t.ptr + i, t.len - i);
        if (t.len == 0 || t.ptr[0] == '?') {
            /* "http://host" or "http://host?q": the path is "/" */
            static const char root[] = "/";
            r->path = slice_make(root, 1);
            if (t.len) {
                r->has_query = true;
                r->query = slice_make(t.ptr + 1, t.len - 1);
            }
            return 0;
        }
    } else {
        r->form = HTTP_TARGET_ORIGIN;
    }
    const char *q = memchr(t.ptr, '?', t.len);
    if (q) {
        r->path = slice_make(t.ptr, (size_t)(q - t.ptr));
        r->query = slice_make(q + 1, t.len - r->path.len - 1);
        r->has_query = true;
    } else {
        r->path = t;
    }
    return 0;
}

static int parse_request_line(struct http_request *r, const char *p, const char *eol,
                              const struct http_limits *lim)
{
    const char *le = (eol > p && eol[-1] == '\r') ? eol - 1 : eol;
    if ((size_t)(le - p) > lim->max_request_line) {
        return -414;
    }
    r->request_line = slice_make(p, (size_t)(le - p));
    const char *s = p;
    while (p < le && http_is_tchar((unsigned char)*p)) {
        p++;
    }
    if (p == s || p == le || *p != ' ') {
        return -400;
    }
    r->method_token = slice_make(s, (size_t)(p - s));
    r->method = http_method_from(r->method_token);
    s = ++p;
    while (p < le && target_ok[(unsigned char)*p]) {
        p++;
    }
    if (p == s || p == le || *p != ' ') {
        return -400;
    }
    r->target = slice_make(s, (size_t)(p - s));
    p++;
    int rc = parse_version(slice_make(p, (size_t)(le - p)), &r->version_minor);
    if (rc < 0) {
        return rc;
    }
    return parse_target(r);
}

/* Parses the field lines from p up to and including the empty line. */
static int parse_fields(struct http_request *r, const char *p, const struct http_limits *lim,
                        struct arena *a)
{
    for (;;) {
        if (*p == '\n') {
            return 0;
        }
        if (*p == '\r') {
            return p[1] == '\n' ? 0 : -400;
        }
        const char *ns = p;
        while (http_is_tchar((unsigned char)*p)) {
            p++;
        }
        /* empty name, obs-fold (line starting with SP/HTAB), space before ':' */
        if (p == ns || *p != ':') {
            return -400;
        }
        struct slice name = slice_make(ns, (size_t)(p - ns));
        p++;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        const char *vs = p;
        while (value_ok[(unsigned char)*p]) {
            p++;
        }
        const char *ve = p;
        if (*p == '\r') {
            if (p[1] != '\n') {
                return -400; /* bare CR */
            }
            p += 2;
        } else if (*p == '\n') {
            p++;
        } else {
            return -400; /* NUL or another control byte */
        }
        while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }
        if (r->headers.count >= lim->max_headers) {
            return -431;
        }
        if (hdr_table_add(&r->headers, a, name, slice_make(vs, (size_t)(ve - vs)),
                          hash_bytes_lower(name.ptr, name.len)) < 0) {
            return -431;
        }
    }
}

/* Host = uri-host [ ":" port ] (RFC 9110 7.2); an empty value is allowed. */
static bool host_valid(struct slice h)
{
    size_t i = 0;
    if (h.len && h.ptr[0] == '[') {
        /* IP-literal: "[" hex digits, ":" and "." (or a vFuture) "]" */
        i = 1;
        while (i < h.len && h.ptr[i] != ']') {
            unsigned char c = (unsigned char)h.ptr[i];
            if (!host_ok[c] || c == '[') {
                return false;
            }
            i++;
        }
        if (i == h.len || i == 1) {
            return false;
        }
        i++;
    } else {
        while (i < h.len && h.ptr[i] != ':') {
            unsigned char c = (unsigned char)h.ptr[i];
            if (!host_ok[c] || c == '[' || c == ']') {
                return false;
            }
            i++;
        }
    }
    if (i == h.len) {
        return true;
    }
    if (h.ptr[i] != ':' || i == 0) {
        return false; /* ":80": a port without a host names nothing */
    }
    for (i++; i < h.len; i++) {
        if (h.ptr[i] < '0' || h.ptr[i] > '9') {
            return false; /* port = *DIGIT */
        }
    }
    return true;
}

/* Content-Length: every field and list member must be the same digits-only value. */
static int parse_content_length(struct http_request *r, const struct http_header *h)
{
    bool seen = false, too_big = false;
    uint64_t cl = 0;
    int err = 0;
    for (; h && !err; h = hdr_next_dup(&r->headers, h)) {
        size_t pos = 0;
        struct slice el;
        while (http_list_next(h->value, &pos, &el)) {
            uint64_t n = 0;
            int rc = num_parse_u64(el, MAX_CONTENT_LENGTH, &n);
            if (rc == -ERANGE) {
                too_big = true; /* 413, unless the values also disagree (400 wins) */
                n = UINT64_MAX;
            } else if (rc < 0) {
                err = -400;
            }
            if (seen && n != cl) {
                err = -400;
            }
            cl = n;
            seen = true;
        }
    }
    if (err || too_big) {
        return err ? err : -413;
    }
    r->body = cl ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
    r->content_length = cl;
    return 0;
}

/* Transfer-Encoding: chunked must be present once and last (RFC 9112 6.1, 6.3), with no
 * empty list elements. */
static int parse_transfer_encoding(struct http_request *r, const struct http_header *h)
{
    bool chunked_last = false, other = false, bad = false;
    unsigned nchunked = 0;
    for (; h; h = hdr_next_dup(&r->headers, h)) {
        size_t pos = 0;
        struct slice el;
        while (http_list_next(h->value, &pos, &el)) {
            if (el.len == 0) {
                /* RFC 9110 5.6.1 lets a recipient skip empty elements, but servers and proxies
                 * disagree on ",chunked" or "chunked," (some see chunked, some do not): the
                 * smuggling gadget of two framings. Refused, as nginx and h2o do. */
                bad = true;
            } else if (slice_eq_nocase(el, SLICE_LIT("chunked"))) {
                nchunked++;
                chunked_last = true;
            } else {
                chunked_last = false;
                other = true;
                /* transfer-coding = token *( OWS ";" OWS transfer-parameter ) */
                for (size_t k = 0; k < el.len; k++) {
                    unsigned char c = (unsigned char)el.ptr[k];
                    if (!http_is_tchar(c) && c != ';' && c != '=' && c != ' ' && c != '\t' &&
                        c != '"') {
                        bad = true;
                    }
                }
            }
        }
    }
    if (bad || !chunked_last || nchunked != 1) {
        return -400;
    }
    if (other) {
        return -501; /* a coding we do not implement, applied before chunked */
    }
    r->body = HTTP_BODY_CHUNKED;
    return 0;
}

static int analyze(struct http_request *r)
{
    const struct hdr_table *t = &r->headers;
    const struct http_header *host = hdr_get_known(t, HDR_HOST);
    if (host && hdr_next_dup(t, host)) {
        return -400; /* RFC 9112 3.2: more than one Host */
    }
    if (host) {
        if (!host_valid(host->value)) {
            return -400;
        }
        r->host = host->value;
    } else if (r->version_minor == 1) {
        return -400; /* RFC 9112 3.2: HTTP/1.1 without Host */
    }
    if (r->form == HTTP_TARGET_ABSOLUTE) {
        if (!host_valid(r->authority)) {
            return -400;
        }
        r->host = r->authority; /* RFC 9112 3.2.2: the target's authority wins */
    }

    const struct http_header *te = hdr_get_known(t, HDR_TRANSFER_ENCODING);
    const struct http_header *cl = hdr_get_known(t, HDR_CONTENT_LENGTH);
    r->body = HTTP_BODY_NONE;
    if (te) {
        if (cl || r->version_minor == 0) {
            return -400; /* smuggling guard; RFC 9112 6.1 for HTTP/1.0 */
        }
        int rc = parse_transfer_encoding(r, te);
        if (rc < 0) {
            return rc;
        }
    } else if (cl) {
        int rc = parse_content_length(r, cl);
        if (rc < 0) {
            return rc;
        }
    }

    const struct http_header *conn = hdr_get_known(t, HDR_CONNECTION);
    bool close = false, ka = false;
    for (; conn; conn = hdr_next_dup(t, conn)) {
        close |= http_list_has_token(conn->value, SLICE_LIT("close"));
        ka |= http_list_has_token(conn->value, SLICE_LIT("keep-alive"));
    }
    r->keep_alive = !close && (r->version_minor == 1 || ka);

    /* Expect is a list (RFC 9110 10.1.1, 5.6.1): empty elements are ignored, "100-continue"
     * is the only expectation defined; anything else is 417 */
    for (const struct http_header *ex = hdr_get_known(t, HDR_EXPECT); ex;
         ex = hdr_next_dup(t, ex)) {
        size_t pos = 0;
        struct slice el;
        while (http_list_next(ex->value, &pos, &el)) {
            if (el.len == 0) {
                continue;
            }
            if (!slice_eq_nocase(el, SLICE_LIT("100-continue"))) {
                return -417;
            }
            r->expect_continue = r->version_minor == 1;
        }
    }
    return 0;
}

int http_parse_request(const char *buf, size_t len, size_t prev_len, const struct http_limits *lim,
                       struct arena *a, struct http_request *r)
{
    const char *p = buf, *end = buf + len;
    /* RFC 9112 2.2: ignore empty lines received before the request line */
    while (p < end) {
        if (*p == '\n') {
            p++;
        } else if (*p == '\r') {
            if (p + 1 == end) {
                return -EAGAIN;
            }
            if (p[1] != '\n') {
                return -400;
            }
            p += 2;
        } else {
            break;
        }
    }
    if (p == end) {
        return (size_t)(p - buf) > lim->max_head ? -400 : -EAGAIN;
    }
    const char *scan = buf + (prev_len > 3 ? MIN(prev_len, len) - 3 : 0);
    if (scan < p) {
        scan = p;
    }
    const char *he = find_head_end(scan, end);
    if (!he) {
        size_t have = (size_t)(end - p);
        size_t look = MIN(have, (size_t)lim->max_request_line + 2);
        if (!memchr(p, '\n', look) && have > (size_t)lim->max_request_line + 1) {
            return -414;
        }
        return have > lim->max_head ? -431 : -EAGAIN;
    }
    const char *eol = memchr(p, '\n', (size_t)(he - p));
    if ((size_t)(eol - p) > (size_t)lim->max_request_line + 1) {
        return -414;
    }
    if ((size_t)(he - p) > lim->max_head) {
        return -431;
    }

    memset(r, 0, sizeof(*r));
    int rc = parse_request_line(r, p, eol, lim);
    if (rc < 0) {
        return rc;
    }
    if (hdr_table_init(&r->headers, a, 16) < 0) {
        return -431;
    }
    rc = parse_fields(r, eol + 1, lim, a);
    if (rc < 0) {
        return rc;
    }
    if (hdr_table_index(&r->headers, a) < 0) {
        return -431;
    }
    rc = analyze(r);
    if (rc < 0) {
        return rc;
    }
    r->head_len = (uint32_t)(he - buf);
    r->head = slice_make(p, (size_t)(he - p));
    return (int)r->head_len;
}
