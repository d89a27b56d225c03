/* cgi_reply.c - see cgi_reply.h. */
#include "core/http/cgi_reply.h"

#include "core/http/dispatch.h"
#include "core/http/handler.h"
#include "core/http/respond.h"
#include "log/errlog.h"
#include "proto/path.h"

#include <errno.h>
#include <string.h>

/* The script's Location "/path?query", served instead of its output. */
static int local_redirect(struct req *r, struct slice loc)
{
    const char *q = memchr(loc.ptr, '?', loc.len);
    struct slice raw = slice_make(loc.ptr, q ? (size_t)(q - loc.ptr) : loc.len);
    const char *hash = memchr(raw.ptr, '#', raw.len);
    if (hash) {
        raw.len = (size_t)(hash - raw.ptr); /* a fragment is the client's, never the server's */
    }
    char *path = arena_alloc(r->arena, raw.len + 1);
    if (!path) {
        return -ENOMEM;
    }
    int n = http_path_normalize(raw, path, raw.len + 1, 0);
    if (n < 0) {
        errlog(ERRLOG_ERROR, "a script's local redirect to \"%.*s\" is not a valid path",
               (int)loc.len, loc.ptr);
        return resp_error(r, 502) < 0 ? -ENOMEM : CGI_REPLY_DONE;
    }
    if (q) {
        size_t qn = loc.len - (size_t)(q + 1 - loc.ptr);
        const char *qh = memchr(q + 1, '#', qn);
        qn = qh ? (size_t)(qh - q - 1) : qn;
        char *args = arena_alloc(r->arena, qn + 1);
        if (!args) {
            return -ENOMEM;
        }
        memcpy(args, q + 1, qn);
        args[qn] = '\0';
        r->args = slice_make(args, qn);
    } else {
        r->args = SLICE_NULL;
    }
    r->method = HTTP_GET; /* RFC 3875 6.2.2: the new URI is fetched, not posted to */
    r->wait = NULL;       /* this connection cannot dispatch it again: answer now */
    resp_begin(r, 200);
    int st = http_redirect(r, slice_make(path, (size_t)n));
    if (st < 0) {
        return st;
    }
    if (st >= 300 && !r->resp.sent) {
        return resp_error(r, st) < 0 ? -ENOMEM : CGI_REPLY_DONE;
    }
    if (!r->resp.sent && !r->resp.stream) {
        /* a handler that would have to wait (HANDLER_LATER) cannot, here; one that deferred
         * its answer (FastCGI, CGI: resp_defer set resp.stream after resp_begin cleared it)
         * answers later on its own */
        return resp_error(r, 500) < 0 ? -ENOMEM : CGI_REPLY_DONE;
    }
    return CGI_REPLY_DONE;
}

int cgi_reply(struct req *r, const struct cgi_head *h, const struct resp_stream_ops *ops,
              void *arg)
{
    enum cgi_response_kind kind = cgi_head_kind(h);
    if (kind == CGI_LOCAL_REDIRECT) {
        return local_redirect(r, h->location);
    }
    resp_begin(r, kind == CGI_CLIENT_REDIRECT ? 302 : h->status ? h->status : 200);
    if (kind == CGI_DOCUMENT && h->content_type.len &&
        resp_field(r, SLICE_LIT("Content-Type"), h->content_type) < 0) {
        return -ENOMEM;
    }
    if (h->location.len && resp_field(r, SLICE_LIT("Location"), h->location) < 0) {
        return -ENOMEM;
    }
    for (unsigned i = 0; i < h->nfields; i++) {
        if (resp_field(r, h->fields[i].name, h->fields[i].value) < 0) {
            return -ENOMEM;
        }
    }
    if (kind == CGI_CLIENT_REDIRECT) {
        /* 6.2.3: no document of the script's; the client gets the redirect's small page */
        return resp_error(r, 302) < 0 ? -ENOMEM : CGI_REPLY_DONE;
    }
    if (h->has_length) {
        resp_stream_length(r, h->content_length);
    }
    return resp_stream(r, ops, arg) < 0 ? -ENOMEM : CGI_REPLY_BODY;
}
