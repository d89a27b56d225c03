/* redirect.c - Location values (see redirect.h). */
#include "core/http/redirect.h"

#include "core/base/numfmt.h"
#include "core/conf/types.h"
#include "core/http/respond.h"
#include "core/http/route.h"
#include "core/http/vars.h"
#include "proto/uri.h"

#include <errno.h>
#include <string.h>

struct redirect_conf {
    bool absolute, port, server_name;
};

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct redirect_conf, f)

static const struct conf_row rows[] = {
    {"absolute_redirect", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(absolute), "on", 0, 0,
     "off", NULL},
    {"port_in_redirect", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(port), "on", 0, 0, "off",
     NULL},
    {"server_name_in_redirect", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(server_name),
     "off", 0, 0, "on", NULL},
};

static int slot = -1; /* the same in every configuration: the module list is fixed */

static int redirect_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    if (slot != (int)s) {
        slot = (int)s; /* once: a reload finds the same slot, and workers read it meanwhile */
    }
    return 0;
}

const struct conf_module redirect_module = {
    .name = "redirect",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct redirect_conf)},
    .finish = redirect_finish,
};

bool http_has_scheme(struct slice t)
{
    size_t i = 0;
    while (i < t.len) {
        char ch = t.ptr[i];
        bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        bool more = ch >= '0' && ch <= '9' ? true : ch == '+' || ch == '-' || ch == '.';
        if (!alpha && !(i > 0 && more)) {
            break;
        }
        i++;
    }
    return i > 0 && i + 2 < t.len && t.ptr[i] == ':' && t.ptr[i + 1] == '/' &&
           t.ptr[i + 2] == '/';
}

struct slice http_escape_path(struct req *r, struct slice path)
{
    char *p = arena_alloc(r->arena, 3 * path.len + 1);
    if (!p) {
        return SLICE_NULL;
    }
    size_t n = uri_escape(p, path, URI_ESC_PATH);
    p[n] = '\0';
    return slice_make(p, n);
}

int http_location(struct req *r, struct slice target, struct slice *out)
{
    const struct redirect_conf *rc =
        slot >= 0 && r->loc ? conf_get(r->loc->block, (unsigned)slot, CONF_STORE_LOC) : NULL;
    struct slice host = SLICE_NULL;
    unsigned port = 0;
    bool absolute = rc ? rc->absolute : true;
    if (absolute && target.len && target.ptr[0] == '/' && !(target.len > 1 && target.ptr[1] == '/')) {
        const struct route_server *s = r->server;
        bool named = s && s->nnames && s->names[0][0] != '*' && s->names[0][0] != '.';
        if (rc && rc->server_name && named) {
            host = slice_cstr(s->names[0]);
        } else if (!http_var_get(r, SLICE_LIT("host"), &host) || !host.len) {
            host = named ? slice_cstr(s->names[0]) : SLICE_LIT("localhost");
        }
        if (!rc || rc->port) {
            port = http_local_port(r);
            if (port == (r->secure ? 443u : 80u)) {
                port = 0;
            }
        }
    } else {
        absolute = false;
    }
    size_t cap = (absolute ? 9 + 3 * host.len + 6 : 0) + 3 * target.len + 1;
    char *p = arena_alloc(r->arena, cap);
    if (!p) {
        return -ENOMEM;
    }
    size_t n = 0;
    if (absolute) {
        struct slice scheme = r->secure ? SLICE_LIT("https://") : SLICE_LIT("http://");
        memcpy(p, scheme.ptr, scheme.len);
        n = scheme.len + uri_escape(p + scheme.len, host, URI_ESC_HOST);
        if (port) {
            p[n++] = ':';
            n += num_u64_to_dec(p + n, port);
        }
    }
    n += uri_escape(p + n, target, URI_ESC_TARGET);
    p[n] = '\0';
    *out = slice_make(p, n);
    return 0;
}

int http_redirect_to(struct req *r, int status, struct slice target)
{
    struct slice loc;
    if (http_location(r, target, &loc) < 0) {
        return 500;
    }
    resp_begin(r, status);
    if (resp_field(r, SLICE_LIT("Location"), loc) < 0 ||
        (r->set_cookie.len && resp_field(r, SLICE_LIT("Set-Cookie"), r->set_cookie) < 0)) {
        return 500;
    }
    return status;
}
