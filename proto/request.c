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

static bool is_digit(char c)
{
    return (unsigned)((unsigned char)c - '0') <= 9;
}

/* True if byte c may stand at index i of HTTP-version = "HTTP/" DIGIT "." DIGIT. */
static bool version_byte_ok(size_t i, char c)
{
    return (i == 5 || i == 7) ? is_digit(c) : c == "HTTP/0."[i];
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

/* -EAGAIN for a request line still valid at w, or -414 if w is the end of its window. */
static int line_cut_short(const char *line, const char *w, size_t cap)
{
    return (size_t)(w - line) == cap ? -414 : -EAGAIN;
}

/*
 * Parses the request line at p (RFC 9112 3: method SP request-target SP HTTP-version, then
 * CRLF or LF) into r. end may cut the line short: the bytes so far are then checked as the
 * start of a line. A valid line ends within max_request_line bytes and its CRLF, and nothing
 * past that window is read, so the verdict depends on those bytes alone: a line that can
 * never become valid gets, as soon as the byte that shows it arrives, the status the
 * complete line would get. Returns 0 with *lf at the line's LF, -EAGAIN while it can still
 * become valid, or -400, -414, -505. The bytes in [p, from) (none for a fresh parse; from
 * is at most the window's end) are known to be a valid start: a method or target already in
 * them is found with memchr instead of being checked again, so a line that trickles in is
 * not rescanned byte by byte. Always inlined, so that in the complete-head parse, where
 * from is p, those tests fold away.
 */
static ALWAYS_INLINE int parse_request_line(struct http_request *r, const char *p, const char *from,
                                            const char *end, const struct http_limits *lim,
                                            const char **lf)
{
    const char *line = p;
    size_t cap = (size_t)lim->max_request_line + 2;
    const char *w = (size_t)(end - p) > cap ? p + cap : end;
    const char *s = p, *sp1 = NULL, *sp2 = NULL;
    if (from > p) {
        /* a valid start: its first SP ends the method, its second the target */
        sp1 = memchr(p, ' ', (size_t)(from - p));
        sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(from - sp1 - 1)) : NULL;
    }
    if (sp1) {
        p = sp1;
    } else {
        p = from;
        while (p < w && http_is_tchar((unsigned char)*p)) {
            p++;
        }
    }
    if (p == w) {
        return line_cut_short(line, w, cap);
    }
    if (p == s || *p != ' ') {
        return -400;
    }
    r->method_token = slice_make(s, (size_t)(p - s));
    s = ++p;
    if (sp2) {
        p = sp2;
    } else {
        if (sp1) {
            p = from;
        }
        while (p < w && target_ok[(unsigned char)*p]) {
            p++;
        }
    }
    if (p == w) {
        return line_cut_short(line, w, cap);
    }
    if (p == s || *p != ' ') {
        return -400;
    }
    r->target = slice_make(s, (size_t)(p - s));
    s = ++p;
    size_t avail = (size_t)(w - s);
    if (avail < 8 || memcmp(s, "HTTP/", 5) != 0 || s[6] != '.' || !is_digit(s[5]) ||
        !is_digit(s[7])) {
        /* wrong, or cut short: the first byte that does not fit decides */
        for (size_t i = 0; i < avail && i < 8; i++) {
            if (!version_byte_ok(i, s[i])) {
                return -400;
            }
        }
        return line_cut_short(line, w, cap);
    }
    p = s + 8;
    const char *le = p;
    if (p < w && *p == '\r') {
        p++;
    }
    if (p == w) {
        return line_cut_short(line, w, cap);
    }
    if (*p != '\n') {
        return -400; /* a bare CR, or anything else after the version */
    }
    if ((size_t)(le - line) > lim->max_request_line) {
        return -414;
    }
    r->request_line = slice_make(line, (size_t)(le - line));
    if (s[5] != '1') {
        return -505; /* HTTP/0.9, HTTP/2.0 and above */
    }
    r->version_minor = s[7] == '0' ? 0 : 1; /* 1.2+ is answered as 1.1 (RFC 9110 2.5) */
    r->method = http_method_from(r->method_token);
    *lf = p;
    return parse_target(r);
}

/*
 * Checks, with the rules of parse_fields and without storing anything, the field lines from
 * the line start p up to last_lf, the LF that ends the last of them. An empty line ends the
 * head and the check. Returns 0 or -400. Never inlined: it is only on error and
 * incomplete-head paths.
 */
static NOINLINE int check_field_lines(const char *p, const char *last_lf)
{
    while (p < last_lf) {
        if (*p == '\n' || (*p == '\r' && p[1] == '\n')) {
            return 0;
        }
        const char *ns = p;
        while (http_is_tchar((unsigned char)*p)) {
            p++;
        }
        if (p == ns || *p != ':') {
            return -400;
        }
        p++;
        while (value_ok[(unsigned char)*p]) {
            p++;
        }
        if (*p == '\r') {
            p++;
        }
        if (*p != '\n') {
            return -400; /* bare CR, NUL or another control byte */
        }
        p++;
    }
    return 0;
}

/*
 * Parses the field lines from p up to and including the empty line, whose LF is he[-1]. Too
 * many fields (or no room for them) is 431 only once every line is known to be well formed:
 * a malformed line is 400 wherever it stands, the verdict it also gets while the head arrives.
 * Never inlined: inside http_parse_request its loops got fewer registers, and bench_parser
 * got slower.
 */
static NOINLINE int parse_fields(struct http_request *r, const char *p, const char *he,
                                 const struct http_limits *lim, struct arena *a)
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
        if (r->headers.count >= lim->max_headers ||
            hdr_table_add(&r->headers, a, name, slice_make(vs, (size_t)(ve - vs)),
                          hash_bytes_lower(name.ptr, name.len)) < 0) {
            return check_field_lines(p, he - 1) < 0 ? -400 : -431;
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
        /* one pass for both tokens, compared here where their lengths are constants */
        size_t pos = 0;
        struct slice el;
        while (http_list_next(conn->value, &pos, &el)) {
            close |= slice_eq_nocase(el, SLICE_LIT("close"));
            ka |= slice_eq_nocase(el, SLICE_LIT("keep-alive"));
        }
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

/*
 * The head in [p, end) is not complete. Refuses it now if the bytes so far can never become
 * a valid head, with the status the complete head would get: the request line is checked
 * (see parse_request_line), then each complete field line that ends within max_head (the
 * window the complete parse checks before its 431). The bytes before seen were found valid
 * by an earlier call: field lines completed then are not checked again, nor is a request
 * line some call has seen whole. So each field line is checked once, when its LF arrives,
 * and only the request line (bounded by max_request_line) may be checked on every call.
 * Never inlined: it is the rare path, kept out of the complete-head parse.
 */
static NOINLINE int head_incomplete(struct http_request *r, const char *p, const char *seen,
                                    const char *end, const struct http_limits *lim)
{
    size_t have = (size_t)(end - p);
    const char *lf = NULL;
    if (seen > p) {
        lf = memchr(p, '\n', MIN((size_t)(seen - p), (size_t)lim->max_request_line + 2));
    }
    if (!lf) {
        /* resume after the bytes seen, but never past the line's window */
        const char *resume = seen < p ? p : seen;
        if ((size_t)(resume - p) > (size_t)lim->max_request_line + 2) {
            resume = p + lim->max_request_line + 2;
        }
        int rc = parse_request_line(r, p, resume, end, lim, &lf);
        if (rc == -EAGAIN) {
            return have > lim->max_head ? -431 : -EAGAIN;
        }
        if (rc < 0) {
            return rc;
        }
    }
    const char *fields = lf + 1;
    const char *wend = have > lim->max_head ? p + lim->max_head : end;
    const char *from = seen > fields ? seen : fields;
    /* only the new bytes are searched for an LF; without one, no field line was completed */
    const char *last = from < wend ? memrchr(from, '\n', (size_t)(wend - from)) : NULL;
    if (last) {
        /* back to the start of the line that was incomplete at seen */
        const char *nl = from > fields ? memrchr(fields, '\n', (size_t)(from - fields)) : NULL;
        int rc = check_field_lines(nl ? nl + 1 : fields, last);
        if (rc < 0) {
            return rc;
        }
    }
    return have > lim->max_head ? -431 : -EAGAIN;
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
    /* a flood of empty lines is 400, whether or not a request follows it yet; there are
     * almost never any, so the cheap test goes first */
    if (UNLIKELY(p != buf) && (size_t)(p - buf) > lim->max_head) {
        return -400;
    }
    if (p == end) {
        return -EAGAIN;
    }
    const char *seen = buf + MIN(prev_len, len);
    const char *scan = seen - buf > 3 ? seen - 3 : buf;
    if (scan < p) {
        scan = p;
    }
    const char *he = find_head_end(scan, end);
    if (!he) {
        return head_incomplete(r, p, seen, end, lim);
    }

    memset(r, 0, sizeof(*r));
    const char *lf;
    int rc = parse_request_line(r, p, p, he, lim, &lf);
    if (rc < 0) {
        return rc;
    }
    if ((size_t)(he - p) > lim->max_head) {
        /* 431, unless a field line ending within max_head is malformed: the verdicts, and
         * their order, the head got while it arrived */
        const char *wend = p + lim->max_head, *fields = lf + 1;
        const char *last = fields < wend ? memrchr(fields, '\n', (size_t)(wend - fields)) : NULL;
        rc = last ? check_field_lines(fields, last) : 0;
        return rc < 0 ? rc : -431;
    }
    if (hdr_table_init(&r->headers, a, 16) < 0) {
        return -431;
    }
    rc = parse_fields(r, lf + 1, he, lim, a);
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
