/* upstream_head.c - see upstream_head.h. */
#include "proto/upstream_head.h"

#include "core/base/hash.h"
#include "core/base/numfmt.h"
#include "proto/http.h"

#include <errno.h>
#include <string.h>

#define BAD UPSTREAM_HEAD_BAD

/* Largest Content-Length taken; larger is an error (no upstream sends 4 EiB). */
#define MAX_CONTENT_LENGTH ((uint64_t)1 << 62)

/* field-value and reason-phrase bytes: HTAB, SP, VCHAR, obs-text (RFC 9110 5.5, 9112 4) */
static const uint8_t value_ok[256] = {
    ['\t'] = 1,
    [0x20 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

static bool is_digit(char c)
{
    return (unsigned)((unsigned char)c - '0') <= 9;
}

/* Pointer just past the empty line that ends the head, or NULL (as request.c's). */
static const char *find_head_end(const char *p, const char *end)
{
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf || lf + 1 >= end) {
            return NULL;
        }
        if (lf[1] == '\n') {
            return lf + 2;
        }
        if (lf[1] == '\r') {
            if (lf + 2 >= end) {
                return NULL;
            }
            if (lf[2] == '\n') {
                return lf + 3;
            }
        }
        p = lf + 1;
    }
    return NULL;
}

/*
 * status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 4). The SP after
 * the code may be missing when the reason is (widely sent, and unambiguous). end may cut the
 * line short: the bytes so far are then checked as its start. 0 with *lf at its LF, -EAGAIN,
 * or BAD.
 */
static int parse_status_line(struct upstream_head *h, const char *p, const char *end,
                             const char **lf)
{
    static const char ver[] = "HTTP/1.";
    size_t avail = (size_t)(end - p);
    for (size_t i = 0; i < 7 && i < avail; i++) {
        if (p[i] != ver[i]) {
            return BAD;
        }
    }
    for (size_t i = 7; i < 12 && i < avail; i++) {
        bool ok = i == 8 ? p[i] == ' ' : is_digit(p[i]);
        if (!ok) {
            return BAD;
        }
    }
    if (avail < 13) {
        return -EAGAIN;
    }
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (status < 100 || status > 599 || status == 101) {
        return BAD; /* no protocol switch is passed through (Upgrade is hop-by-hop) */
    }
    const char *q = p + 12;
    if (*q == ' ') {
        q++;
    }
    const char *rs = q;
    while (q < end && value_ok[(unsigned char)*q]) {
        q++;
    }
    const char *re = q;
    if (q < end && *q == '\r') {
        q++;
    }
    if (q == end) {
        return -EAGAIN;
    }
    if (*q != '\n' || (rs == p + 12 && re != rs)) {
        return BAD; /* a bare CR, a control byte, or a reason glued to the code */
    }
    h->status = status;
    h->version_minor = p[7] == '0' ? 0 : 1;
    h->reason = slice_make(rs, (size_t)(re - rs));
    *lf = q;
    return 0;
}

/*
 * One field line at p, complete up to end (its LF before end): name, value and the start of
 * the next line. BAD for an empty name, whitespace before the colon, obs-fold (a line that
 * starts with SP or HTAB), a bare CR, NUL or another control byte.
 */
static int field_line(const char *p, const char *end, struct slice *name, struct slice *value,
                      const char **next)
{
    const char *ns = p;
    while (p < end && http_is_tchar((unsigned char)*p)) {
        p++;
    }
    if (p == end) {
        return -EAGAIN;
    }
    if (p == ns || *p != ':') {
        return BAD;
    }
    *name = slice_make(ns, (size_t)(p - ns));
    p++;
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    const char *vs = p;
    while (p < end && value_ok[(unsigned char)*p]) {
        p++;
    }
    const char *ve = p;
    if (p < end && *p == '\r') {
        p++;
    }
    if (p == end) {
        return -EAGAIN;
    }
    if (*p != '\n') {
        return BAD;
    }
    while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t')) {
        ve--;
    }
    *value = slice_make(vs, (size_t)(ve - vs));
    *next = p + 1;
    return 0;
}

/* True at an empty line (CRLF or LF); *next past it. -EAGAIN when a lone CR ends the input. */
static int empty_line(const char *p, const char *end, const char **next)
{
    if (*p == '\n') {
        *next = p + 1;
        return 1;
    }
    if (*p == '\r') {
        if (p + 1 == end) {
            return -EAGAIN;
        }
        if (p[1] != '\n') {
            return BAD;
        }
        *next = p + 2;
        return 1;
    }
    return 0;
}

/*
 * The head is not complete: BAD if what arrived can never become valid (the status line, or
 * a complete field line, is malformed; or it is already over max_head), else -EAGAIN.
 */
static int check_partial(struct upstream_head *h, const char *p, const char *end,
                         const struct upstream_head_limits *lim)
{
    if ((size_t)(end - p) > lim->max_head) {
        return BAD;
    }
    const char *lf;
    int rc = parse_status_line(h, p, end, &lf);
    if (rc < 0) {
        return rc;
    }
    p = lf + 1;
    while (p < end) {
        const char *next;
        int e = empty_line(p, end, &next);
        if (e != 0) {
            return e < 0 ? e : -EAGAIN; /* an empty line here would have completed the head */
        }
        struct slice n, v;
        rc = field_line(p, end, &n, &v, &next);
        if (rc < 0) {
            return rc;
        }
        p = next;
    }
    return -EAGAIN;
}

/* Content-Length: every field and list member the same digits-only value. */
static int content_length(struct upstream_head *h, const struct http_header *f)
{
    bool seen = false;
    uint64_t cl = 0;
    for (; f; f = hdr_next_dup(&h->headers, f)) {
        size_t pos = 0;
        struct slice el;
        while (http_list_next(f->value, &pos, &el)) {
            uint64_t n;
            if (num_parse_u64(el, MAX_CONTENT_LENGTH, &n) < 0 || (seen && n != cl)) {
                return BAD;
            }
            cl = n;
            seen = true;
        }
    }
    if (!seen) {
        return BAD; /* "Content-Length: ," */
    }
    h->content_length = cl;
    return 0;
}

/* Transfer-Encoding: exactly one "chunked", and nothing else (no empty list elements). */
static int transfer_encoding(const struct upstream_head *h, const struct http_header *f)
{
    unsigned n = 0;
    for (; f; f = hdr_next_dup(&h->headers, f)) {
        size_t pos = 0;
        struct slice el;
        while (http_list_next(f->value, &pos, &el)) {
            if (!slice_eq_nocase(el, SLICE_LIT("chunked"))) {
                return BAD; /* a coding spate would pass on undecoded, or an empty element */
            }
            n++;
        }
    }
    return n == 1 ? 0 : BAD;
}

static int analyze(struct upstream_head *h, bool head_request)
{
    const struct hdr_table *t = &h->headers;
    const struct http_header *te = hdr_get_known(t, HDR_TRANSFER_ENCODING);
    const struct http_header *cl = hdr_get_known(t, HDR_CONTENT_LENGTH);
    h->body = UPSTREAM_BODY_CLOSE;
    if (te) {
        if (cl || h->version_minor == 0 || transfer_encoding(h, te) < 0) {
            return BAD; /* two framings, or one HTTP/1.0 does not have (RFC 9112 6.1) */
        }
        h->body = UPSTREAM_BODY_CHUNKED;
    } else if (cl) {
        if (content_length(h, cl) < 0) {
            return BAD;
        }
        h->body = UPSTREAM_BODY_LENGTH;
    }
    if (head_request || h->status < 200 || h->status == 204 || h->status == 304) {
        h->body = UPSTREAM_BODY_NONE;
    } else if (h->body == UPSTREAM_BODY_LENGTH && h->content_length == 0) {
        h->body = UPSTREAM_BODY_NONE;
    }
    bool close = false, ka = false;
    for (const struct http_header *c = hdr_get_known(t, HDR_CONNECTION); c;
         c = hdr_next_dup(t, c)) {
        size_t pos = 0;
        struct slice el;
        while (http_list_next(c->value, &pos, &el)) {
            close |= slice_eq_nocase(el, SLICE_LIT("close"));
            ka |= slice_eq_nocase(el, SLICE_LIT("keep-alive"));
        }
    }
    h->keep_alive =
        !close && (h->version_minor == 1 || ka) && h->body != UPSTREAM_BODY_CLOSE;
    return 0;
}

int upstream_head_parse(const char *buf, size_t len, const struct upstream_head_limits *lim,
                        bool head_request, struct arena *a, struct upstream_head *h)
{
    const char *p = buf, *end = buf + len;
    memset(h, 0, sizeof(*h));
    if (len == 0) {
        return -EAGAIN;
    }
    const char *he = find_head_end(p, end);
    if (!he) {
        return check_partial(h, p, end, lim);
    }
    if ((size_t)(he - p) > lim->max_head) {
        return BAD;
    }
    const char *lf;
    int rc = parse_status_line(h, p, he, &lf);
    if (rc < 0) {
        return rc == -EAGAIN ? BAD : rc;
    }
    if (hdr_table_init(&h->headers, a, 16) < 0) {
        return -ENOMEM;
    }
    p = lf + 1;
    for (;;) {
        const char *next;
        int e = empty_line(p, he, &next);
        if (e < 0) {
            return BAD;
        }
        if (e) {
            break;
        }
        struct slice n, v;
        rc = field_line(p, he, &n, &v, &next);
        if (rc < 0) {
            return BAD;
        }
        if (h->headers.count >= lim->max_fields) {
            return BAD;
        }
        if (hdr_table_add(&h->headers, a, n, v, hash_bytes_lower(n.ptr, n.len)) < 0) {
            return -ENOMEM;
        }
        p = next;
    }
    if (hdr_table_index(&h->headers, a) < 0) {
        return -ENOMEM;
    }
    rc = analyze(h, head_request);
    if (rc < 0) {
        return rc;
    }
    h->head_len = (uint32_t)(he - buf);
    return (int)h->head_len;
}
