/* cgi_env.c - a CGI script's environment (see cgi_env.h). */
#include "core/handlers/cgi_env.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

struct out {
    char *buf;
    size_t cap, len;
    unsigned count;
    bool full;
    const struct cgi_env_in *in;
};

/* True when cgi_param gives a variable of this name (it is written last, instead). */
static bool replaced(const struct cgi_env_in *in, struct slice name)
{
    for (unsigned i = 0; i < in->nextra; i++) {
        if (slice_eq(in->extra[i].name, name)) {
            return true;
        }
    }
    return false;
}

static void put(struct out *o, struct slice name, struct slice value)
{
    if (!value.ptr || memchr(value.ptr, '\0', value.len)) {
        return;
    }
    size_t n = name.len + 1 + value.len + 1;
    if (o->full || n > o->cap - o->len) {
        o->full = true;
        return;
    }
    char *p = o->buf + o->len;
    memcpy(p, name.ptr, name.len);
    p[name.len] = '=';
    if (value.len) {
        memcpy(p + name.len + 1, value.ptr, value.len);
    }
    p[n - 1] = '\0';
    o->len += n;
    o->count++;
}

static void std_var(struct out *o, const char *name, struct slice value)
{
    struct slice n = slice_cstr(name);
    if (!replaced(o->in, n)) {
        put(o, n, value);
    }
}

static bool skipped_field(struct slice name)
{
    static const struct slice skip[] = {
        SLICE_LIT("Proxy"),         SLICE_LIT("Content-Type"),        SLICE_LIT("Content-Length"),
        SLICE_LIT("Authorization"), SLICE_LIT("Proxy-Authorization"),
    };
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
        if (slice_eq_nocase(name, skip[i])) {
            return true;
        }
    }
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        bool ok =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) {
            return true;
        }
    }
    return name.len == 0;
}

/* HTTP_NAME=v1, v2 for the first field of each name. */
static void field_var(struct out *o, const struct hdr_table *t, const struct http_header *h)
{
    char name[5 + 256];
    if (h->name.len > 256) {
        return;
    }
    memcpy(name, "HTTP_", 5);
    for (size_t i = 0; i < h->name.len; i++) {
        char c = h->name.ptr[i];
        name[5 + i] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    struct slice n = slice_make(name, 5 + h->name.len);
    if (replaced(o->in, n)) {
        return;
    }
    size_t need = n.len + 2;
    for (const struct http_header *d = h; d; d = hdr_next_dup(t, d)) {
        need += d->value.len + 2;
    }
    if (o->full || need > o->cap - o->len) {
        o->full = true;
        return;
    }
    /* RFC 6265 5.4: cookies are one list joined with "; " */
    char sep = slice_eq_nocase(h->name, SLICE_LIT("Cookie")) ? ';' : ',';
    char *p = o->buf + o->len;
    size_t k = 0;
    memcpy(p, n.ptr, n.len);
    k = n.len;
    p[k++] = '=';
    for (const struct http_header *d = h; d; d = hdr_next_dup(t, d)) {
        if (memchr(d->value.ptr, '\0', d->value.len)) {
            return; /* nothing committed: o->len is unchanged */
        }
        if (d != h) {
            p[k++] = sep;
            p[k++] = ' ';
        }
        memcpy(p + k, d->value.ptr, d->value.len);
        k += d->value.len;
    }
    p[k++] = '\0';
    o->len += k;
    o->count++;
}

long cgi_env_build(const struct cgi_env_in *in, char *buf, size_t cap, unsigned *count)
{
    struct out o = {buf, cap, 0, 0, false, in};
    std_var(&o, "AUTH_TYPE", in->auth_type);
    std_var(&o, "CONTENT_LENGTH", in->content_length);
    std_var(&o, "CONTENT_TYPE", in->content_type);
    std_var(&o, "GATEWAY_INTERFACE", SLICE_LIT("CGI/1.1"));
    std_var(&o, "PATH_INFO", in->path_info);
    std_var(&o, "PATH_TRANSLATED", in->path_translated);
    std_var(&o, "QUERY_STRING", in->query.ptr ? in->query : SLICE_LIT(""));
    std_var(&o, "REMOTE_ADDR", in->remote_addr);
    std_var(&o, "REMOTE_HOST", in->remote_host);
    std_var(&o, "REMOTE_PORT", in->remote_port);
    std_var(&o, "REMOTE_USER", in->remote_user);
    std_var(&o, "REQUEST_METHOD", in->method);
    std_var(&o, "REQUEST_SCHEME", in->scheme);
    std_var(&o, "REQUEST_URI", in->request_uri);
    std_var(&o, "SCRIPT_NAME", in->script_name);
    std_var(&o, "SCRIPT_FILENAME", in->script_filename);
    std_var(&o, "DOCUMENT_ROOT", in->document_root);
    std_var(&o, "SERVER_NAME", in->server_name);
    std_var(&o, "SERVER_PORT", in->server_port);
    std_var(&o, "SERVER_PROTOCOL", in->server_protocol);
    std_var(&o, "SERVER_SOFTWARE", in->server_software);
    std_var(&o, "REDIRECT_STATUS", SLICE_LIT("200"));
    std_var(&o, "HTTPS", in->https);
    std_var(&o, "PATH", SLICE_LIT(CGI_ENV_PATH));
    const struct hdr_table *t = in->headers;
    for (uint32_t i = 0; t && i < t->count; i++) {
        const struct http_header *h = &t->entries[i];
        if (!skipped_field(h->name) && hdr_get(t, h->name) == h) {
            field_var(&o, t, h);
        }
    }
    for (unsigned i = 0; i < in->nextra; i++) {
        put(&o, in->extra[i].name, in->extra[i].value);
    }
    if (o.full) {
        return -E2BIG;
    }
    *count = o.count;
    return (long)o.len;
}
