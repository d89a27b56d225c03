/* dispatch.c - routing and the method policy (see dispatch.h). */
#include "core/http/dispatch.h"

#include "core/http/access.h"
#include "core/http/error_page.h"
#include "core/http/files.h"
#include "core/http/handler.h"
#include "core/http/location.h"
#include "core/http/respond.h"
#include "core/http/rewrite.h"
#include "core/http/route.h"
#include "core/http/tls_vars.h"
#include "core/http/vars.h"
#include "log/errlog.h"
#include "proto/path.h"

#include <errno.h>
#include <string.h>

#define REDIRECTS_MAX 10
#define TRACE_HEAD_MAX 16384

static int follow(struct req *r, int st);

/* The location's error_page for a status, else its standard response (fields added so far,
 * such as Allow, stay). */
static int answer(struct req *r, int status)
{
    if (r->resp.sent) {
        return 0; /* the handler answered, then reported a problem: nothing more to send */
    }
    bool done;
    int rc = http_error_page(r, status, &done);
    if (done) {
        rc = follow(r, rc);
        return rc >= 300 ? answer(r, rc) : rc;
    }
    return resp_error(r, status);
}

/* The location for path, with the captures of a regex location kept in the arena. */
static const struct route_loc *find(struct req *r, struct slice path)
{
    struct http_captures caps;
    bool captured;
    const struct route_loc *l = loc_find(r->server, path, &caps, &captured);
    if (captured) {
        struct http_captures *c = arena_alloc(r->arena, sizeof(*c));
        if (c) {
            *c = caps;
            r->caps = c;
        }
    }
    return l;
}

/* A path component starting with '.' (the path is normalized: no "." or ".." segments),
 * outside /.well-known/ (RFC 8615). */
static bool dotfile(struct slice p)
{
    const char *d = memmem(p.ptr, p.len, "/.", 2);
    if (!d) {
        return false;
    }
    if (d == p.ptr && p.len >= 12 && memcmp(p.ptr, "/.well-known", 12) == 0 &&
        (p.len == 12 || p.ptr[12] == '/')) {
        return p.len > 12 && memmem(p.ptr + 12, p.len - 12, "/.", 2) != NULL;
    }
    return true;
}

/* "GET, HEAD, OPTIONS[, TRACE]" and the other methods the location's handler takes. */
static struct slice allow_value(struct req *r)
{
    static const enum http_method order[] = {HTTP_GET,    HTTP_HEAD,  HTTP_POST,    HTTP_PUT,
                                             HTTP_DELETE, HTTP_PATCH, HTTP_OPTIONS, HTTP_TRACE};

    unsigned methods = r->loc->handler->methods | HANDLER_METHOD(HTTP_OPTIONS);
    if (methods & HANDLER_METHOD(HTTP_GET)) {
        methods |= HANDLER_METHOD(HTTP_HEAD);
    }
    if (r->env->trace) {
        methods |= HANDLER_METHOD(HTTP_TRACE);
    }
    char *buf = arena_alloc(r->arena, 64);
    if (!buf) {
        return SLICE_LIT("GET, HEAD, OPTIONS");
    }
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
        if (methods & HANDLER_METHOD(order[i])) {
            struct slice name = http_method_name(order[i]);
            if (n) {
                memcpy(buf + n, ", ", 2);
                n += 2;
            }
            memcpy(buf + n, name.ptr, name.len);
            n += name.len;
        }
    }
    return slice_make(buf, n);
}

static int with_allow(struct req *r, int status)
{
    resp_begin(r, status);
    if (resp_field(r, SLICE_LIT("Allow"), allow_value(r)) < 0) {
        return -ENOMEM;
    }
    return status == 200 ? resp_send(r) : answer(r, status);
}

/* TRACE (RFC 9110 9.3.8): the request head as received, as a message/http body. */
static int trace(struct req *r)
{
    if (r->msg->head.len > TRACE_HEAD_MAX) {
        r->resp.close = true;
        return answer(r, 431);
    }
    resp_begin(r, 200);
    if (resp_field(r, SLICE_LIT("Content-Type"), SLICE_LIT("message/http")) < 0 ||
        resp_body_mem(r, r->msg->head.ptr, r->msg->head.len, NULL) < 0) {
        return -ENOMEM;
    }
    return resp_send(r);
}

/* Normalizes the path into the arena; r->path_status says why not, when it cannot. */
static void normalize(struct req *r)
{
    const struct http_request *m = r->msg;
    if (m->form == HTTP_TARGET_ASTERISK) {
        r->path = SLICE_NULL;
        r->path_status = 400;
        return;
    }
    /* room for an index file name appended by the static handler's internal redirect */
    size_t cap = m->path.len + 1;
    char *np = arena_alloc(r->arena, cap);
    if (!np) {
        r->path_status = 500;
        return;
    }
    int n = http_path_normalize(m->path, np, cap,
                                r->server->allow_encoded_slash ? HTTP_PATH_ALLOW_ENCODED_SLASH : 0);
    if (n < 0) {
        r->path_status = -n;
        r->path = SLICE_NULL;
        return;
    }
    r->path = slice_make(np, (size_t)n);
}

static bool takes(const struct req *r, enum http_method m)
{
    unsigned methods = r->loc->handler->methods;
    if (m == HTTP_HEAD) {
        m = HTTP_GET; /* HEAD is GET without the body: the writer drops it */
    }
    return methods & HANDLER_METHOD(m);
}

/* The access phase's verdict: 0 to go on, else what the dispatcher returns. */
static int access_gate(struct req *r, int *out)
{
    int st = http_access(r);
    if (st == ACCESS_NEXT) {
        return 0;
    }
    *out = st >= 300 ? answer(r, st) : st; /* a status, HANDLER_LATER or -ENOMEM */
    return 1;
}

/* From a chosen location on: its rewrites, the access phase, the method policy, try_files,
 * the handler. */
static int invoke(struct req *r)
{
    for (;;) {
        if (r->loc->internal && !r->internal) {
            return answer(r, 404);
        }
        if (r->loc->kind == ROUTE_LOC_SERVER) {
            break; /* the server's rewrites ran before the location was chosen */
        }
        int st = rewrite_run(r, r->loc);
        if (st == REWRITE_AGAIN) {
            if (++r->redirects > REDIRECTS_MAX) {
                errlog(ERRLOG_ERROR, "rewrite or internal redirection cycle while processing "
                                     "\"%.*s\"", (int)r->path.len, r->path.ptr);
                return answer(r, 500);
            }
            r->internal = true;
            r->loc = find(r, r->path);
            continue;
        }
        if (st == REWRITE_ANSWERED || st < 0) {
            return st < 0 ? st : 0;
        }
        if (st) {
            return answer(r, st);
        }
        break;
    }
    int gate;
    if (access_gate(r, &gate)) {
        return gate;
    }
    if (!takes(r, r->method)) {
        return with_allow(r, 405);
    }
    bool done;
    int st = http_try_files(r, &done);
    if (done) {
        st = follow(r, st);
        return st >= 300 ? answer(r, st) : st;
    }
    st = r->loc->handler->handle(r, r->loc->handler_conf);
    if (st == HANDLER_LATER) {
        return r->wait ? st : answer(r, 500); /* a handler must not wait where none can */
    }
    return st > 0 ? answer(r, st) : st;
}

int http_dispatch(struct req *r)
{
    const struct http_request *m = r->msg;
    r->server = route_server_for(r->group, m->host);
    int verdict = tls_client_check(r, req_ssl(r));
    if (verdict) {
        return verdict < 0 ? verdict : 0; /* a client certificate was wanted and is not good */
    }
    if (m->body == HTTP_BODY_LENGTH && m->content_length > r->env->max_body) {
        r->resp.close = true; /* the body is not read: framing is lost */
        return answer(r, 413);
    }
    if (r->method == HTTP_METHOD_UNKNOWN) {
        return answer(r, 501);
    }
    normalize(r);
    r->loc = &r->server->self;
    if (!r->path_status) {
        /* the server's rewrites, then the location for the (new) URI */
        int st = rewrite_run(r, r->loc);
        if (st == REWRITE_ANSWERED || st < 0) {
            return st < 0 ? st : 0;
        }
        if (st >= 300) {
            return answer(r, st);
        }
        r->loc = find(r, r->path);
        if (r->loc->refuse_dotfiles && dotfile(r->path)) {
            return answer(r, 404);
        }
    }
    int gate;
    switch (r->method) {
    case HTTP_TRACE:
        if (!r->path_status && access_gate(r, &gate)) {
            return gate;
        }
        return r->env->trace ? trace(r) : with_allow(r, 405);
    case HTTP_OPTIONS:
        if (!r->path_status && access_gate(r, &gate)) {
            return gate;
        }
        return with_allow(r, 200);
    case HTTP_POST:
        if (m->body == HTTP_BODY_NONE && !hdr_get_known(&m->headers, HDR_CONTENT_LENGTH)) {
            return answer(r, 411); /* RFC 9110 15.5.12: POST needs a length */
        }
        break;
    default:
        break;
    }
    if (r->path_status) {
        /* a bad path is answered only if the handler would have served the method */
        return takes(r, r->method) ? answer(r, r->path_status) : with_allow(r, 405);
    }
    return invoke(r); /* the method policy there, after the location's rewrites (a return
                       * answers any method, as nginx's) */
}

int http_redirect(struct req *r, struct slice path)
{
    if (++r->redirects > REDIRECTS_MAX) {
        errlog(ERRLOG_ERROR, "internal redirection cycle while processing \"%.*s\"",
               (int)path.len, path.ptr);
        return 500;
    }
    r->path = path;
    r->path_status = 0;
    r->internal = true;
    r->loc = find(r, path);
    return invoke(r);
}

/* Where try_files or error_page sent the request. */
static int follow(struct req *r, int st)
{
    if (st == REQ_NEXT_URI) {
        return http_redirect(r, r->path);
    }
    if (st == REQ_NEXT_LOC) {
        return http_goto(r, r->loc);
    }
    return st;
}

int http_goto(struct req *r, const struct route_loc *l)
{
    if (++r->redirects > REDIRECTS_MAX) {
        errlog(ERRLOG_ERROR, "internal redirection cycle to \"%s\"", l->prefix);
        return 500;
    }
    r->internal = true;
    r->loc = l;
    return invoke(r);
}
