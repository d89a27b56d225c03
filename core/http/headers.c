/* headers.c - the expires, cache_control and add_header directives (see headers.h). */
#include "core/http/headers.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "proto/http.h"

#include <stddef.h>
#include <string.h>

static bool value_ok(const char *v)
{
    for (; *v; v++) {
        if ((unsigned char)*v < 0x20 && *v != '\t') {
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- expires T | off */

#define EXPIRES_MAX_S (10ull * 365 * 86400)

static int expires_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                         unsigned n)
{
    (void)r;
    (void)n;
    struct headers_expires *e = field;
    if (strcmp(a[0], "off") == 0) {
        *e = (struct headers_expires){false, 0};
        return 0;
    }
    uint64_t ms;
    if (conf_parse_time_ms(a[0], &ms) < 0 || ms / 1000 > EXPIRES_MAX_S || ms % 1000) {
        return conf_error(p, "invalid expires time \"%s\" (e.g. 30d, 1h, 90s, off)", a[0]);
    }
    *e = (struct headers_expires){true, (uint32_t)(ms / 1000)};
    return 0;
}

static void expires_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct headers_expires *e = field;
    conf_out_begin(o, r->name);
    if (e->on) {
        conf_out_time(o, (uint64_t)e->seconds * 1000);
    } else {
        conf_out_arg(o, "off");
    }
    conf_out_end(o);
}

static const struct conf_type expires_type = {"expires", sizeof(struct headers_expires),
                                              expires_parse, expires_print, NULL};

/* ---------------------------------------------------------------- cache_control "V" */

static int cc_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                    unsigned n)
{
    (void)n;
    if (!value_ok(a[0])) {
        return conf_error(p, "\"%s\" value contains control characters", r->name);
    }
    char *v = conf_strdup(p, a[0]);
    if (!v) {
        return -1;
    }
    *(char **)field = v;
    return 0;
}

static void cc_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const char *v = *(char *const *)field;
    if (v) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, v);
        conf_out_end(o);
    }
}

static void cc_release(void *field)
{
    sp_free(*(char **)field);
    *(char **)field = NULL;
}

static const struct conf_type cc_type = {"header value", sizeof(char *), cc_parse, cc_print,
                                         cc_release};

/* ---------------------------------------------------------------- add_header NAME VALUE [always]
 */

static void add_release(void *field)
{
    struct headers_list *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        sp_free(l->v[i].name);
        sp_free(l->v[i].value);
    }
    sp_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int add_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                     unsigned n)
{
    (void)r;
    struct headers_list *l = field;
    for (const char *q = a[0]; *q; q++) {
        if (!http_is_tchar((unsigned char)*q)) {
            return conf_error(p, "invalid header name \"%s\"", a[0]);
        }
    }
    if (a[0][0] == '\0') {
        return conf_error(p, "invalid header name \"\"");
    }
    static const char *const framing[] = {"content-length", "transfer-encoding", "connection"};
    for (size_t i = 0; i < ARRAY_SIZE(framing); i++) {
        if (slice_eq_nocase(slice_cstr(a[0]), slice_cstr(framing[i]))) {
            return conf_error(p, "add_header \"%s\": the server sets this field itself", a[0]);
        }
    }
    if (!value_ok(a[1])) {
        return conf_error(p, "header value for \"%s\" contains control characters", a[0]);
    }
    if (n == 3 && strcmp(a[2], "always") != 0) {
        return conf_error(p, "add_header takes \"always\" as its third argument, not \"%s\"", a[2]);
    }
    struct headers_field *nv = sp_realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    l->v = nv;
    char *name = conf_strdup(p, a[0]), *value = conf_strdup(p, a[1]);
    if (!name || !value) {
        sp_free(name);
        sp_free(value);
        return -1;
    }
    l->v[l->n++] = (struct headers_field){name, value, n == 3};
    return 0;
}

static void add_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct headers_list *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, l->v[i].name);
        conf_out_arg(o, l->v[i].value);
        if (l->v[i].always) {
            conf_out_arg(o, "always");
        }
        conf_out_end(o);
    }
}

static const struct conf_type add_type = {"add_header", sizeof(struct headers_list), add_parse,
                                          add_print, add_release};

unsigned headers_generated_bit(struct slice name)
{
    static const struct {
        struct slice name;
        unsigned bit;
    } known[] = {
        {SLICE_LIT("Server"), HG_SERVER},
        {SLICE_LIT("Date"), HG_DATE},
        {SLICE_LIT("Content-Type"), HG_CONTENT_TYPE},
        {SLICE_LIT("Last-Modified"), HG_LAST_MODIFIED},
        {SLICE_LIT("ETag"), HG_ETAG},
        {SLICE_LIT("Accept-Ranges"), HG_ACCEPT_RANGES},
        {SLICE_LIT("Expires"), HG_EXPIRES},
        {SLICE_LIT("Cache-Control"), HG_CACHE_CONTROL},
        {SLICE_LIT("Location"), HG_LOCATION},
        {SLICE_LIT("Allow"), HG_ALLOW},
        {SLICE_LIT("Content-Range"), HG_CONTENT_RANGE},
    };

    for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
        if (slice_eq_nocase(known[i].name, name)) {
            return known[i].bit;
        }
    }
    return 0;
}

/* Every block's masks, from its own (or inherited) add_header list. */
static void derive(struct conf_block *b, unsigned slot)
{
    struct headers_conf *h = conf_get(b, slot, CONF_STORE_LOC);
    h->replace_listed = h->replace_always = 0;
    for (unsigned i = 0; i < h->add.n; i++) {
        unsigned bit = headers_generated_bit(slice_cstr(h->add.v[i].name));
        h->replace_listed |= bit;
        if (h->add.v[i].always) {
            h->replace_always |= bit;
        }
    }
    for (struct conf_block *k = b->children; k; k = k->next) {
        derive(k, slot);
    }
}

static int headers_finish(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    derive(c->main, slot);
    return 0;
}

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define LOC_OFF(f) offsetof(struct headers_conf, f)

static const struct conf_row rows[] = {
    {"expires", ALL, CONF_STORE_LOC, 1, 1, 0, &expires_type, LOC_OFF(expires), "off", 0, 0, "30d",
     NULL},
    {"cache_control", ALL, CONF_STORE_LOC, 1, 1, 0, &cc_type, LOC_OFF(cache_control), NULL, 0, 0,
     "\"public, max-age=300\"", NULL},
    {"add_header", ALL, CONF_STORE_LOC, 2, 3, CONF_MULTI, &add_type, LOC_OFF(add), NULL, 0, 0,
     "X-Served-By spate always", NULL},
};

const struct conf_module headers_module = {
    .name = "headers",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct headers_conf)},
    .finish = headers_finish,
};
