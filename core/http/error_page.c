/* error_page.c - configured error pages (see error_page.h). */
#include "core/http/error_page.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/conf/values.h"
#include "core/http/location.h"
#include "core/http/redirect.h"
#include "core/http/route.h"
#include "core/http/vars.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct page {
    uint16_t *codes;
    unsigned ncodes;
    int answer; /* -1: the original code; 0 (`=`): the page's own; else that code */
    char *uri;
    struct http_script *value;
};

struct page_list {
    struct page *v;
    unsigned n;
};

static int page_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r;
    struct page_list *l = field;
    struct page pg = {.answer = -1};
    unsigned ncodes = n - 1;
    if (a[n - 2][0] == '=') {
        ncodes--;
        const char *v = a[n - 2] + 1;
        if (*v) {
            char *end;
            unsigned long code = strtoul(v, &end, 10);
            if (*end || code < 200 || code > 599) {
                return conf_error(p, "invalid response code \"%s\"", a[n - 2]);
            }
            pg.answer = (int)code;
        } else {
            pg.answer = 0;
        }
    }
    if (ncodes == 0) {
        return conf_error(p, "invalid number of arguments in \"error_page\" directive");
    }
    pg.codes = sp_calloc(ncodes, sizeof(*pg.codes));
    if (!pg.codes) {
        return conf_error(p, "out of memory");
    }
    for (unsigned i = 0; i < ncodes; i++) {
        char *end;
        unsigned long code = strtoul(a[i], &end, 10);
        if (*end || end == a[i] || code < 300 || code > 599) {
            sp_free(pg.codes);
            return conf_error(p, "value \"%s\" must be between 300 and 599", a[i]);
        }
        pg.codes[pg.ncodes++] = (uint16_t)code;
    }
    const char *uri = a[n - 1];
    char msg[512];
    if (!(pg.uri = sp_strndup(uri, strlen(uri))) ||
        (uri[0] != '@' && http_script_compile(&pg.value, uri, msg, sizeof(msg)) < 0)) {
        sp_free(pg.codes);
        sp_free(pg.uri);
        return pg.uri ? conf_error(p, "%s", msg) : conf_error(p, "out of memory");
    }
    if (uri[0] != '@' && uri[0] != '/' && uri[0] != '$' && !http_has_scheme(slice_cstr(uri))) {
        http_script_free(pg.value);
        sp_free(pg.codes);
        sp_free(pg.uri);
        return conf_error(p, "error_page URI \"%s\" must be a path, @name or a URL", uri);
    }
    struct page *nv = sp_realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        http_script_free(pg.value);
        sp_free(pg.codes);
        sp_free(pg.uri);
        return conf_error(p, "out of memory");
    }
    l->v = nv;
    l->v[l->n++] = pg;
    return 0;
}

static void page_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct page_list *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        const struct page *pg = &l->v[i];
        conf_out_begin(o, r->name);
        for (unsigned k = 0; k < pg->ncodes; k++) {
            conf_out_argf(o, "%u", pg->codes[k]);
        }
        if (pg->answer == 0) {
            conf_out_arg(o, "=");
        } else if (pg->answer > 0) {
            conf_out_argf(o, "=%d", pg->answer);
        }
        conf_out_arg(o, pg->uri);
        conf_out_end(o);
    }
}

static void page_release(void *field)
{
    struct page_list *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        sp_free(l->v[i].codes);
        sp_free(l->v[i].uri);
        http_script_free(l->v[i].value);
    }
    sp_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static const struct conf_type page_type = {"error_page", sizeof(struct page_list), page_parse,
                                           page_print, page_release};

struct error_page_conf {
    struct page_list pages;
};

static const struct conf_row rows[] = {
    {"error_page", CONF_MAIN | CONF_SERVER | CONF_LOCATION, CONF_STORE_LOC, 2, 32, CONF_MULTI,
     &page_type, offsetof(struct error_page_conf, pages), NULL, 0, 0, "404 =200 /404.html",
     NULL},
};

static int slot = -1;

/* A page that names a location names one of its server (set in b itself: inherited lists are
 * checked where they were set, and in every block below a server). */
static int check_named(const struct conf *c, const struct conf_block *b, unsigned s, char *err,
                       size_t errlen)
{
    const struct error_page_conf *ec = conf_get(b, s, CONF_STORE_LOC);
    for (unsigned i = 0; b->kind != CONF_MAIN && i < ec->pages.n; i++) {
        const char *uri = ec->pages.v[i].uri;
        if (uri[0] == '@' && !loc_named_exists(c, b, uri)) {
            struct conf_where w = conf_where_of(b, s, 0);
            return conf_fail_at(err, errlen, w.line ? w : b->where,
                                "error_page: there is no named location \"%s\" in this server",
                                uri);
        }
    }
    for (const struct conf_block *k = b->children; k; k = k->next) {
        if (check_named(c, k, s, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

static int page_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    if (slot != (int)s) {
        slot = (int)s; /* once: a reload finds the same slot, and workers read it meanwhile */
    }
    return check_named(c, c->main, s, err, errlen);
}

const struct conf_module error_page_module = {
    .name = "error_page",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct error_page_conf)},
    .finish = page_finish,
};

static bool redirect_code(int c)
{
    return c == 301 || c == 302 || c == 303 || c == 307 || c == 308;
}

int http_error_page(struct req *r, int status, bool *done)
{
    *done = false;
    if (slot < 0 || !r->loc || r->in_error_page) {
        return 0;
    }
    const struct error_page_conf *ec = conf_get(r->loc->block, (unsigned)slot, CONF_STORE_LOC);
    const struct page *pg = NULL;
    for (unsigned i = 0; i < ec->pages.n && !pg; i++) {
        for (unsigned k = 0; k < ec->pages.v[i].ncodes; k++) {
            if (ec->pages.v[i].codes[k] == status) {
                pg = &ec->pages.v[i];
                break;
            }
        }
    }
    if (!pg) {
        return 0;
    }
    *done = true;
    r->in_error_page = true;
    if (pg->uri[0] == '@') {
        const struct route_loc *l = loc_named(r->server, slice_cstr(pg->uri));
        if (!l) {
            *done = false;
            return 0;
        }
        r->error_status = (int16_t)(pg->answer < 0 ? status : pg->answer);
        r->loc = l;
        return REQ_NEXT_LOC;
    }
    struct slice v;
    if (http_script_eval(r, pg->value, HTTP_SCRIPT_RAW, &v) < 0) {
        return -ENOMEM;
    }
    if (http_has_scheme(v)) {
        int code = pg->answer > 0 && redirect_code(pg->answer) ? pg->answer : 302;
        return http_redirect_to(r, code, v);
    }
    r->error_status = (int16_t)(pg->answer < 0 ? status : pg->answer);
    if (r->method != HTTP_HEAD) {
        r->method = HTTP_GET;
    }
    const char *q = memchr(v.ptr, '?', v.len);
    r->args = SLICE_NULL;
    if (q) {
        r->args = slice_make(q + 1, v.len - (size_t)(q - v.ptr) - 1);
        v.len = (size_t)(q - v.ptr);
    }
    r->path = v;
    return REQ_NEXT_URI;
}
