/* proxy_conf.c - the proxy_* directives and what they compile to (see proxy_conf.h). */
#include "core/handlers/proxy_conf.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/conf/values.h"
#include "core/http/upstream.h"
#include "core/http/upstream_conf.h"
#include "core/http/vars.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- proxy_pass */

static int pass_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r, (void)n;
    struct proxy_pass *pp = field;
    const char *s = a[0];
    if (!strncmp(s, "https://", 8)) {
        return conf_error(p, "proxy_pass to https:// is not supported (plain http:// only)");
    }
    if (strncmp(s, "http://", 7) != 0) {
        return conf_error(p, "invalid proxy_pass \"%s\" (http://HOST[:PORT][/URI], "
                             "http://UPSTREAM[/URI] or http://unix:/PATH[:/URI])",
                          s);
    }
    if (strchr(s, '$')) {
        return conf_error(p, "variables in proxy_pass are not supported");
    }
    const char *t = s + 7, *u;
    size_t tl;
    if (!strncmp(t, "unix:", 5)) {
        u = strchr(t + 5, ':');
        tl = u ? (size_t)(u - t) : strlen(t);
        if (u) {
            u++; /* the URI after the socket's ':' */
            if (*u != '/') {
                return conf_error(p, "invalid URI in proxy_pass \"%s\" (unix:/PATH:/URI)", s);
            }
        }
    } else {
        u = strchr(t, '/');
        tl = u ? (size_t)(u - t) : strlen(t);
    }
    if (tl == 0 || strpbrk(t, "?#") || strchr(t, ' ')) {
        return conf_error(p, "invalid proxy_pass \"%s\"", s);
    }
    memset(pp, 0, sizeof(*pp));
    pp->set = true;
    if (!(pp->text = conf_strdup(p, s)) || !(pp->target = sp_strndup(t, tl))) {
        return conf_error(p, "out of memory");
    }
    if (u && !(pp->uri = conf_strdup(p, u))) {
        return -1;
    }
    pp->uri_len = u ? strlen(u) : 0;
    return 0;
}

static void pass_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct proxy_pass *pp = field;
    if (pp->set) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, pp->text);
        conf_out_end(o);
    }
}

static void pass_release(void *field)
{
    struct proxy_pass *pp = field;
    if (pp->owns_group) {
        upstream_group_free(pp->group);
    }
    sp_free(pp->text);
    sp_free(pp->target);
    sp_free(pp->uri);
    sp_free(pp->proxy_host);
    sp_free(pp->proxy_port);
    sp_free(pp->redirect_from);
    memset(pp, 0, sizeof(*pp));
}

static const struct conf_type pass_type = {"proxy_pass", sizeof(struct proxy_pass), pass_parse,
                                           pass_print, pass_release, NULL};

/* ---------------------------------------------------------------- proxy_set_header */

static int sethdr_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    (void)r, (void)n;
    struct proxy_headers *hs = field;
    for (const char *c = a[0]; *c; c++) {
        if (!strchr("!#$%&'*+-.^_`|~", *c) && !isalnum((unsigned char)*c)) {
            return conf_error(p, "invalid field name \"%s\"", a[0]);
        }
    }
    if (!a[0][0]) {
        return conf_error(p, "empty field name");
    }
    if (strpbrk(a[1], "\r\n")) {
        return conf_error(p, "a field value cannot hold a line break");
    }
    struct proxy_header *nv = sp_realloc(hs->v, (hs->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    hs->v = nv;
    struct proxy_header *h = &nv[hs->n];
    memset(h, 0, sizeof(*h));
    char err[256];
    if (http_script_compile(&h->value, a[1], err, sizeof(err)) < 0) {
        return conf_error(p, "%s", err);
    }
    hs->n++;
    if (!(h->name = conf_strdup(p, a[0])) || !(h->text = conf_strdup(p, a[1]))) {
        return -1;
    }
    return 0;
}

static void sethdr_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct proxy_headers *hs = field;
    for (unsigned i = 0; i < hs->n; i++) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, hs->v[i].name);
        conf_out_arg(o, hs->v[i].text);
        conf_out_end(o);
    }
}

static void sethdr_release(void *field)
{
    struct proxy_headers *hs = field;
    for (unsigned i = 0; i < hs->n; i++) {
        sp_free(hs->v[i].name);
        sp_free(hs->v[i].text);
        http_script_free(hs->v[i].value);
    }
    sp_free(hs->v);
    hs->v = NULL;
    hs->n = 0;
}

static const struct conf_type sethdr_type = {"proxy_set_header", sizeof(struct proxy_headers),
                                             sethdr_parse, sethdr_print, sethdr_release, NULL};

/* ---------------------------------------------------------------- proxy_next_upstream */

static const struct {
    const char *word;
    unsigned bit;
} next_words[] = {
    {"error", PROXY_NEXT_ERROR},
    {"timeout", PROXY_NEXT_TIMEOUT},
    {"invalid_header", PROXY_NEXT_INVALID_HEADER},
    {"http_500", PROXY_NEXT_500},
    {"http_502", PROXY_NEXT_502},
    {"http_503", PROXY_NEXT_503},
    {"http_504", PROXY_NEXT_504},
    {"http_403", PROXY_NEXT_403},
    {"http_404", PROXY_NEXT_404},
    {"http_429", PROXY_NEXT_429},
    {"non_idempotent", PROXY_NEXT_NON_IDEMPOTENT},
};

static int next_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r;
    struct proxy_next_set *ns = field;
    ns->mask = 0;
    ns->set = true;
    if (n == 1 && !strcmp(a[0], "off")) {
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        unsigned bit = 0;
        for (size_t k = 0; k < ARRAY_SIZE(next_words); k++) {
            if (!strcmp(a[i], next_words[k].word)) {
                bit = next_words[k].bit;
            }
        }
        if (!bit) {
            return conf_error(p, "invalid proxy_next_upstream \"%s\" (error timeout "
                                 "invalid_header http_500 http_502 http_503 http_504 http_403 "
                                 "http_404 http_429 non_idempotent, or off)",
                              a[i]);
        }
        ns->mask |= bit;
    }
    return 0;
}

static void next_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct proxy_next_set *ns = field;
    conf_out_begin(o, r->name);
    if (!ns->mask) {
        conf_out_arg(o, "off");
    }
    for (size_t k = 0; k < ARRAY_SIZE(next_words); k++) {
        if (ns->mask & next_words[k].bit) {
            conf_out_arg(o, next_words[k].word);
        }
    }
    conf_out_end(o);
}

static const struct conf_type next_type = {"proxy_next_upstream", sizeof(struct proxy_next_set),
                                           next_parse, next_print, NULL, NULL};

/* ---------------------------------------------------------------- rows */

static const char *const version_keys[] = {"1.0", "1.1", NULL};
static const char *const redirect_keys[] = {"default", "off", NULL};

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct proxy_conf, f)

enum { ROW_PASS };

const struct conf_row proxy_rows[PROXY_NROWS] = {
    [ROW_PASS] = {"proxy_pass", CONF_LOCATION, CONF_STORE_LOC, 1, 1, CONF_CONTENT, &pass_type,
                  OFF(pass), NULL, 0, 0, "http://127.0.0.1:8081/app/", NULL},
    {"proxy_set_header", ALL, CONF_STORE_LOC, 2, 2, CONF_MULTI, &sethdr_type, OFF(set_headers),
     NULL, 0, 0, "X-Forwarded-For $proxy_add_x_forwarded_for", NULL},
    {"proxy_http_version", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_keyword, OFF(http_version), "1.0",
     0, 0, "1.1", version_keys},
    {"proxy_connect_timeout", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_msec32,
     OFF(connect_timeout_ms), "60s", 1, 3600000, "5s", NULL},
    {"proxy_read_timeout", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_msec32, OFF(read_timeout_ms),
     "60s", 1, 86400000, "30s", NULL},
    {"proxy_send_timeout", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_msec32, OFF(send_timeout_ms),
     "60s", 1, 86400000, "30s", NULL},
    {"proxy_next_upstream", ALL, CONF_STORE_LOC, 1, 11, 0, &next_type, OFF(next),
     "error timeout", 0, 0, "error timeout http_502", NULL},
    {"proxy_buffer_size", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_size32, OFF(buffer_size), "4k",
     1024, 1u << 20, "8k", NULL},
    {"proxy_pass_header", ALL, CONF_STORE_LOC, 1, 16, CONF_MULTI, &conf_words, OFF(pass_header),
     NULL, 0, 0, "X-Accel-Redirect", NULL},
    {"proxy_hide_header", ALL, CONF_STORE_LOC, 1, 16, CONF_MULTI, &conf_words, OFF(hide_header),
     NULL, 0, 0, "X-Powered-By", NULL},
    {"proxy_redirect", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_keyword, OFF(redirect), "default", 0,
     0, "off", redirect_keys},
    {"proxy_buffering", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(buffering), "on", 0, 0,
     "off", NULL},
    {"proxy_request_buffering", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(request_buffering),
     "on", 0, 0, "off", NULL},
};

/* ---------------------------------------------------------------- finish */

static char *lower_dup(const char *s)
{
    char *d = sp_strndup(s, strlen(s));
    for (char *c = d; c && *c; c++) {
        *c = (char)tolower((unsigned char)*c);
    }
    return d;
}

static bool listed(const struct conf_words *w, const char *name)
{
    for (unsigned i = 0; i < w->n; i++) {
        if (!strcasecmp(w->v[i], name)) {
            return true;
        }
    }
    return false;
}

static void plan_free(struct proxy_plan *pl)
{
    if (!pl) {
        return;
    }
    for (unsigned i = 0; i < pl->nsend; i++) {
        if (!pl->send[i].text) {
            /* a default: the plan compiled it */
            sp_free(pl->send[i].name);
            http_script_free(pl->send[i].value);
        }
    }
    for (unsigned i = 0; i < pl->nskip; i++) {
        sp_free(pl->skip[i]);
    }
    for (unsigned i = 0; i < pl->nhide; i++) {
        sp_free(pl->hide[i]);
    }
    sp_free(pl->send);
    sp_free(pl->skip);
    sp_free(pl->hide);
    sp_free(pl);
}

/* The fields sent and hidden in a location: nginx's defaults, then the location's lists. */
static int make_plan(struct proxy_conf *pc)
{
    struct proxy_plan *pl = sp_calloc(1, sizeof(*pl));
    if (!pl) {
        return -1;
    }
    pc->plan = pl;
    const struct proxy_headers *hs = &pc->set_headers;
    pl->send = sp_calloc(hs->n + 2, sizeof(*pl->send));
    pl->skip = sp_calloc(hs->n + 2, sizeof(char *));
    pl->hide = sp_calloc(pc->hide_header.n + 3, sizeof(char *));
    if (!pl->send || !pl->skip || !pl->hide) {
        return -1;
    }
    static const char *const defaults[][2] = {{"Host", "$proxy_host"}, {"Connection", "close"}};
    for (size_t d = 0; d < ARRAY_SIZE(defaults); d++) {
        bool over = false;
        for (unsigned i = 0; i < hs->n; i++) {
            over |= !strcasecmp(hs->v[i].name, defaults[d][0]);
        }
        if (over) {
            continue;
        }
        struct proxy_header *h = &pl->send[pl->nsend];
        char err[128];
        if (!(h->name = sp_strndup(defaults[d][0], strlen(defaults[d][0]))) ||
            http_script_compile(&h->value, defaults[d][1], err, sizeof(err)) < 0) {
            sp_free(h->name);
            h->name = NULL;
            return -1;
        }
        pl->nsend++;
        if (!(pl->skip[pl->nskip++] = lower_dup(defaults[d][0]))) {
            return -1;
        }
    }
    for (unsigned i = 0; i < hs->n; i++) {
        if (hs->v[i].text[0]) {
            pl->send[pl->nsend++] = hs->v[i]; /* borrowed: text marks it */
        }
        if (!(pl->skip[pl->nskip++] = lower_dup(hs->v[i].name))) {
            return -1;
        }
    }
    static const char *const hidden[] = {"date", "server", "x-pad"};
    for (size_t k = 0; k < ARRAY_SIZE(hidden); k++) {
        if (!listed(&pc->pass_header, hidden[k]) &&
            !(pl->hide[pl->nhide++] = lower_dup(hidden[k]))) {
            return -1;
        }
    }
    pl->hide_accel = true;
    for (unsigned i = 0; i < pc->hide_header.n; i++) {
        if (!(pl->hide[pl->nhide++] = lower_dup(pc->hide_header.v[i]))) {
            return -1;
        }
    }
    return 0;
}

/* The location's proxy_pass: its group (an upstream, or one made for the address) and the
 * values derived from it. */
static int resolve_pass(struct conf *c, struct conf_block *b, struct proxy_pass *pp,
                        struct conf_where at, char *err, size_t errlen)
{
    if (pp->uri && b->kind == CONF_LOCATION &&
        (b->loc_kind == CONF_LOC_REGEX || b->loc_kind == CONF_LOC_REGEX_CASELESS ||
         b->loc_kind == CONF_LOC_NAMED)) {
        return conf_fail_at(err, errlen, at,
                            "proxy_pass cannot have a URI part in a location given by a regular "
                            "expression or a name");
    }
    char host[300];
    struct upstream_group *g = upstream_find(c, pp->target);
    if (g) {
        snprintf(host, sizeof(host), "%s", pp->target);
        pp->proxy_port = sp_strndup("80", 2);
    } else {
        char e[256];
        g = upstream_group_address(pp->target, 80, e, sizeof(e));
        if (!g || upstream_group_prepare(g) < 0) {
            if (g) {
                upstream_group_free(g);
                snprintf(e, sizeof(e), "out of memory");
            }
            return conf_fail_at(err, errlen, at, "proxy_pass: %s", e);
        }
        pp->owns_group = true;
        const char *t = pp->target;
        size_t tl = strlen(t);
        const char *port = "80";
        if (!strncmp(t, "unix:", 5)) {
            t = "localhost";
            tl = strlen(t);
        } else {
            const char *colon = strrchr(t, ':');
            if (colon && !strchr(colon, ']')) {
                port = colon + 1;
                if (!strcmp(port, "80")) {
                    tl = (size_t)(colon - t); /* nginx's $proxy_host drops the default port */
                }
            }
        }
        snprintf(host, sizeof(host), "%.*s", (int)tl, t);
        pp->proxy_port = sp_strndup(port, strlen(port));
    }
    pp->group = g;
    pp->proxy_host = sp_strndup(host, strlen(host));
    char from[600];
    int n = snprintf(from, sizeof(from), "http://%s%s", host, pp->uri ? pp->uri : "/");
    pp->redirect_from = sp_strndup(from, (size_t)n);
    pp->redirect_from_len = (size_t)n;
    if (!pp->proxy_host || !pp->proxy_port || !pp->redirect_from) {
        return conf_fail_at(err, errlen, at, "out of memory");
    }
    return 0;
}

static int finish_block(struct conf *c, struct conf_block *b, unsigned slot,
                        const struct proxy_conf *parent, char *err, size_t errlen)
{
    struct proxy_conf *pc = conf_get(b, slot, CONF_STORE_LOC);
    if (pc && pc->pass.set) {
        struct conf_where at = conf_where_of(b, slot, ROW_PASS);
        if (at.line != 0) {
            if (resolve_pass(c, b, &pc->pass, at, err, errlen) < 0) {
                return -1;
            }
        } else if (parent) {
            /* inherited: the owner's derived values, shared (the owner frees them) */
            pc->pass.group = parent->pass.group;
            pc->pass.owns_group = false;
            pc->pass.proxy_host = parent->pass.proxy_host;
            pc->pass.proxy_port = parent->pass.proxy_port;
            pc->pass.redirect_from = parent->pass.redirect_from;
            pc->pass.redirect_from_len = parent->pass.redirect_from_len;
        }
        if (make_plan(pc) < 0) {
            return conf_fail_at(err, errlen, at, "out of memory");
        }
    }
    for (struct conf_block *k = b->children; k; k = k->next) {
        if (finish_block(c, k, slot, pc, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

int proxy_conf_finish(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    return finish_block(c, c->main, slot, NULL, err, errlen);
}

static void release_block(struct conf_block *b, unsigned slot)
{
    struct proxy_conf *pc = conf_get(b, slot, CONF_STORE_LOC);
    if (pc) {
        plan_free(pc->plan);
        pc->plan = NULL;
    }
    for (struct conf_block *k = b->children; k; k = k->next) {
        release_block(k, slot);
    }
}

void proxy_conf_release(struct conf *c, unsigned slot)
{
    if (c->main) {
        release_block(c->main, slot);
    }
}
