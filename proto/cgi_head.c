/* cgi_head.c - see cgi_head.h. */
#include "proto/cgi_head.h"

#include "proto/http.h"

#include <errno.h>
#include <string.h>

static bool named(struct slice name, const char *lit)
{
    size_t n = strlen(lit);
    if (name.len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (slice_lower_ascii(name.ptr[i]) != lit[i]) {
            return false;
        }
    }
    return true;
}

/* Fields the server frames or writes itself. */
static bool dropped(struct slice name)
{
    static const char *const names[] = {"connection", "keep-alive", "transfer-encoding",
                                        "te",         "trailer",    "upgrade",
                                        "proxy-connection", "server", "date"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (named(name, names[i])) {
            return true;
        }
    }
    return false;
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

static int parse_status(struct slice v, struct cgi_head *h)
{
    if (h->status || v.len < 3 || (v.len > 3 && v.ptr[3] != ' ')) {
        return -EBADMSG;
    }
    int st = 0;
    for (size_t i = 0; i < 3; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') {
            return -EBADMSG;
        }
        st = st * 10 + (v.ptr[i] - '0');
    }
    if (st < 200 || st > 599) {
        return -EBADMSG; /* no interim responses, no codes outside the classes */
    }
    h->status = st;
    h->reason = v.len > 4 ? slice_make(v.ptr + 4, v.len - 4) : SLICE_NULL;
    return 0;
}

static int parse_length(struct slice v, struct cgi_head *h)
{
    if (v.len == 0 || v.len > 19) {
        return -EBADMSG;
    }
    uint64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') {
            return -EBADMSG;
        }
        n = n * 10 + (uint64_t)(v.ptr[i] - '0');
    }
    if (h->has_length && h->content_length != n) {
        return -EBADMSG; /* two lengths: which one frames the body? */
    }
    h->has_length = true;
    h->content_length = n;
    return 0;
}

/* One "name: value" line (without its line ending). */
static int field(struct slice line, struct cgi_head *h)
{
    size_t i = 0;
    while (i < line.len && http_is_tchar((unsigned char)line.ptr[i])) {
        i++;
    }
    if (i == 0 || i == line.len || line.ptr[i] != ':') {
        return -EBADMSG; /* no name, a space before the colon, or no colon */
    }
    struct slice name = slice_make(line.ptr, i);
    size_t a = i + 1, b = line.len;
    while (a < b && ows(line.ptr[a])) {
        a++;
    }
    while (b > a && ows(line.ptr[b - 1])) {
        b--;
    }
    for (size_t k = a; k < b; k++) {
        unsigned char c = (unsigned char)line.ptr[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return -EBADMSG;
        }
    }
    struct slice value = slice_make(line.ptr + a, b - a);
    if (named(name, "status")) {
        return parse_status(value, h);
    }
    if (named(name, "content-type")) {
        if (h->content_type.ptr) {
            return -EBADMSG;
        }
        h->content_type = value; /* ptr set: present, even when empty */
        return 0;
    }
    if (named(name, "location")) {
        if (h->location.len || value.len == 0) {
            return -EBADMSG;
        }
        h->location = value;
        return 0;
    }
    if (named(name, "content-length")) {
        return parse_length(value, h);
    }
    if (dropped(name)) {
        return 0;
    }
    if (h->nfields == CGI_HEAD_FIELDS_MAX) {
        return -E2BIG;
    }
    h->fields[h->nfields++] = (struct cgi_field){name, value};
    return 0;
}

int cgi_head_parse(const char *buf, size_t len, size_t max, struct cgi_head *h)
{
    memset(h, 0, offsetof(struct cgi_head, fields));
    size_t scan = len < max ? len : max;
    size_t off = 0;
    while (off < scan) {
        const char *nl = memchr(buf + off, '\n', scan - off);
        if (!nl) {
            break;
        }
        size_t end = (size_t)(nl - buf);
        struct slice line = slice_make(buf + off, end - off);
        if (line.len && line.ptr[line.len - 1] == '\r') {
            line.len--;
        }
        off = end + 1;
        if (line.len == 0) {
            if (!h->status && !h->content_type.ptr && !h->location.len) {
                return -EBADMSG; /* 6.2: at least one CGI field */
            }
            h->head_len = off;
            return (int)off;
        }
        if (ows(line.ptr[0]) || memchr(line.ptr, '\r', line.len)) {
            return -EBADMSG; /* obs-fold, or a bare CR */
        }
        int rc = field(line, h);
        if (rc < 0) {
            return rc;
        }
    }
    return len >= max ? -E2BIG : 0;
}

enum cgi_response_kind cgi_head_kind(const struct cgi_head *h)
{
    if (h->location.len && !h->status) {
        /* an abs-path (6.2.2); "//host" is a network-path: the client's business */
        bool local = h->location.ptr[0] == '/' && (h->location.len == 1 || h->location.ptr[1] != '/');
        return local ? CGI_LOCAL_REDIRECT : CGI_CLIENT_REDIRECT;
    }
    return CGI_DOCUMENT;
}
