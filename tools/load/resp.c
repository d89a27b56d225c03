/* resp.c - see resp.h. */
#include "tools/load/resp.h"

#include <string.h>

void resp_begin(struct resp *r, bool head)
{
    r->state = RESP_STATUS;
    r->status = 0;
    r->head = head;
    r->close = false;
    r->have_length = r->chunked = r->te = false;
    r->length = r->remain = r->body = 0;
    r->linelen = 0;
}

static bool ieq_prefix(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    if (n < k) {
        return false;
    }
    for (size_t i = 0; i < k; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c + 32);
        }
        if (c != lit[i]) {
            return false;
        }
    }
    return true;
}

/* Does the comma-separated value list s contain token tok (case-insensitive)? */
static bool has_token(const char *s, size_t n, const char *tok)
{
    size_t k = strlen(tok);
    for (size_t i = 0; i + k <= n; i++) {
        if (ieq_prefix(s + i, n - i, tok) && (i == 0 || s[i - 1] == ',' || s[i - 1] == ' ') &&
            (i + k == n || s[i + k] == ',' || s[i + k] == ' ' || s[i + k] == ';')) {
            return true;
        }
    }
    return false;
}

/* Whether the last coding of a Transfer-Encoding list is tok (RFC 9112 6.1: chunked counts
 * only as the final coding). */
static bool last_coding_is(const char *s, size_t n, const char *tok)
{
    size_t i = n;
    while (i > 0 && s[i - 1] != ',') {
        i--;
    }
    const char *c = s + i;
    size_t cl = n - i;
    while (cl && (*c == ' ' || *c == '\t')) {
        c++, cl--;
    }
    size_t k = strlen(tok);
    return cl >= k && ieq_prefix(c, cl, tok) &&
           (cl == k || c[k] == ' ' || c[k] == '\t' || c[k] == ';');
}

static int status_line(struct resp *r, const char *s, size_t n)
{
    /* HTTP/1.x SP 3DIGIT [SP reason] */
    if (n < 12 || memcmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
        (n > 12 && s[12] != ' ')) {
        return -1;
    }
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        st = st * 10 + (s[i] - '0');
    }
    if (st < 100) {
        return -1;
    }
    r->status = st;
    r->close = s[7] == '0'; /* HTTP/1.0 closes unless it says keep-alive */
    r->have_length = r->chunked = r->te = false;
    r->state = RESP_HEADERS;
    return 0;
}

static int header_line(struct resp *r, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    if (!colon || colon == s) {
        return -1;
    }
    size_t nl = (size_t)(colon - s);
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++, vl--;
    }
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
        vl--;
    }
    if (nl == 14 && ieq_prefix(s, nl, "content-length")) {
        uint64_t len = 0;
        if (vl == 0 || vl > 19) {
            return -1;
        }
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9') {
                return -1;
            }
            len = len * 10 + (uint64_t)(v[i] - '0');
        }
        if (r->have_length && len != r->length) {
            return -1; /* two different lengths: the framing is unknowable */
        }
        r->have_length = true;
        r->length = len;
    } else if (nl == 17 && ieq_prefix(s, nl, "transfer-encoding")) {
        /* another coding last: the body runs to the close (RFC 9112 6.3), whatever
         * Content-Length says */
        r->te = true;
        r->chunked = last_coding_is(v, vl, "chunked");
    } else if (nl == 10 && ieq_prefix(s, nl, "connection")) {
        if (has_token(v, vl, "close")) {
            r->close = true;
        } else if (has_token(v, vl, "keep-alive")) {
            r->close = false;
        }
    }
    return 0;
}

/* The empty line after the headers: where the body starts, and how it is framed. */
static void end_of_head(struct resp *r)
{
    if (r->status < 200 && r->status != 101) {
        r->state = RESP_STATUS; /* interim: the final response follows */
        return;
    }
    if (r->head || r->status == 204 || r->status == 304 || r->status == 101) {
        r->state = RESP_DONE;
    } else if (r->chunked) {
        r->state = RESP_CHUNK_SIZE;
    } else if (r->have_length && !r->te) {
        r->remain = r->length;
        r->state = r->length ? RESP_BODY : RESP_DONE;
    } else {
        r->close = true;
        r->state = RESP_UNTIL_CLOSE;
    }
}

static int chunk_size_line(struct resp *r, const char *s, size_t n)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < n; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            d = (unsigned)(c - 'A' + 10);
        } else {
            break;
        }
        if (v >> 60) {
            return -1;
        }
        v = v * 16 + d;
    }
    if (i == 0 || (i < n && s[i] != ';' && s[i] != ' ' && s[i] != '\t')) {
        return -1;
    }
    r->remain = v;
    r->state = v ? RESP_CHUNK_DATA : RESP_TRAILERS;
    return 0;
}

static int line(struct resp *r, const char *s, size_t n)
{
    if (n && s[n - 1] == '\r') {
        n--;
    }
    switch (r->state) {
    case RESP_STATUS:
        return status_line(r, s, n);
    case RESP_HEADERS:
        if (n == 0) {
            end_of_head(r);
            return 0;
        }
        return header_line(r, s, n);
    case RESP_CHUNK_SIZE:
        return chunk_size_line(r, s, n);
    case RESP_CHUNK_CRLF:
        if (n) {
            return -1;
        }
        r->state = RESP_CHUNK_SIZE;
        return 0;
    case RESP_TRAILERS:
        if (n == 0) {
            r->state = RESP_DONE;
        }
        return 0;
    default:
        return -1;
    }
}

static void body(struct resp *r, const char *p, size_t n)
{
    r->body += n;
    if (r->on_body && n) {
        r->on_body(r->ctx, p, n);
    }
}

long resp_feed(struct resp *r, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && r->state != RESP_DONE) {
        if (r->state == RESP_BODY || r->state == RESP_CHUNK_DATA) {
            size_t take = n - i < r->remain ? n - i : (size_t)r->remain;
            body(r, p + i, take);
            i += take;
            r->remain -= take;
            if (r->remain == 0) {
                r->state = r->state == RESP_BODY ? RESP_DONE : RESP_CHUNK_CRLF;
            }
            continue;
        }
        if (r->state == RESP_UNTIL_CLOSE) {
            body(r, p + i, n - i);
            i = n;
            continue;
        }
        const char *nl = memchr(p + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (p + i)) : n - i;
        if (r->linelen + len > RESP_LINE_MAX - 1) {
            return -1;
        }
        if (!nl) { /* a partial line: keep it for the next piece */
            memcpy(r->line + r->linelen, p + i, len);
            r->linelen += len;
            i = n;
            break;
        }
        int rc;
        if (r->linelen) {
            memcpy(r->line + r->linelen, p + i, len);
            rc = line(r, r->line, r->linelen + len);
            r->linelen = 0;
        } else {
            rc = line(r, p + i, len);
        }
        if (rc < 0) {
            return -1;
        }
        i += len + 1;
    }
    return (long)i;
}

int resp_eof(struct resp *r)
{
    if (r->state == RESP_UNTIL_CLOSE) {
        r->state = RESP_DONE;
        return 1;
    }
    if (r->state == RESP_STATUS && r->linelen == 0 && r->status == 0) {
        return 0;
    }
    return -1;
}
