/* route.c - virtual hosts and locations (see route.h). */
#include "core/http/route.h"

#include "core/base/alloc.h"
#include "core/base/hash.h"
#include "core/conf/print.h"
#include "core/conf/types.h"
#include "core/conf/values.h"
#include "core/net/settings.h"
#include "log/errlog.h"
#include "proto/uri.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- listen ADDR [parameters] */

/* Which options a listen directive gave (so that printing gives them back, and only them). */
enum listen_given {
    LG_BACKLOG = 1u << 0,
    LG_RCVBUF = 1u << 1,
    LG_SNDBUF = 1u << 2,
    LG_CONGESTION = 1u << 3,
    LG_DEFERRED = 1u << 4,
    LG_FASTOPEN = 1u << 5,
    LG_KEEPALIVE = 1u << 6,
    LG_IPV6ONLY = 1u << 7,
    LG_LOWAT = 1u << 8,
};

struct listen_entry {
    struct net_addr addr;
    bool default_server;
    bool ssl, http2; /* as nginx: either on one listen of an address holds for all of it */
    unsigned given; /* enum listen_given */
    struct listen_opts opts;
    struct conf_where where;
};

struct listen_list {
    struct listen_entry *v;
    unsigned n;
};

/* "name=value": the value if arg starts with name=, else NULL. */
static const char *param(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

static int param_u32(struct conf_parse *p, const char *arg, const char *v, uint32_t min,
                     uint32_t max, uint32_t *out)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || x < min || x > max) {
        return conf_error(p, "invalid value in \"%s\" (a number from %u to %u)", arg, min, max);
    }
    *out = (uint32_t)x;
    return 0;
}

static int param_size(struct conf_parse *p, const char *arg, const char *v, uint32_t *out)
{
    uint64_t x;
    if (conf_parse_size(v, &x) < 0 || x < 1024 || x > (1u << 30)) {
        return conf_error(p, "invalid size in \"%s\" (from 1k to 1g)", arg);
    }
    *out = (uint32_t)x;
    return 0;
}

/* so_keepalive=on | off | [keepidle]:[keepintvl]:[keepcnt], times in seconds or with units */
static int param_keepalive(struct conf_parse *p, const char *arg, const char *v,
                           struct listen_opts *o)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
        o->keepalive = v[1] == 'n';
        return 0;
    }
    char buf[64];
    if (strlen(v) >= sizeof(buf)) {
        return conf_error(p, "invalid value in \"%s\"", arg);
    }
    strcpy(buf, v);
    char *parts[3] = {buf, NULL, NULL};
    for (int i = 0; i < 2; i++) {
        char *c = strchr(parts[i], ':');
        if (!c) {
            return conf_error(p, "invalid value in \"%s\" (on, off or idle:interval:count)",
                              arg);
        }
        *c = 0;
        parts[i + 1] = c + 1;
    }
    uint16_t *dst[3] = {&o->keepidle, &o->keepintvl, &o->keepcnt};
    for (int i = 0; i < 3; i++) {
        if (!*parts[i]) {
            continue;
        }
        uint64_t x;
        if (i < 2) {
            if (conf_parse_time_ms(parts[i], &x) < 0 || x < 1000 || x > 32767000) {
                return conf_error(p, "invalid time in \"%s\" (1s to 32767s)", arg);
            }
            x /= 1000;
        } else {
            uint32_t n;
            if (param_u32(p, arg, parts[i], 1, 127, &n) < 0) {
                return -1;
            }
            x = n;
        }
        *dst[i] = (uint16_t)x;
    }
    o->keepalive = 1;
    return 0;
}

/* One parameter of listen into e. 0, or conf_error(). */
static int listen_param(struct conf_parse *p, struct listen_entry *e, const char *a)
{
    struct listen_opts *o = &e->opts;
    const char *v;
    if (strcmp(a, "default_server") == 0 || strcmp(a, "default") == 0) {
        e->default_server = true;
    } else if (strcmp(a, "reuseport") == 0 || strcmp(a, "bind") == 0) {
        /* every worker has its own SO_REUSEPORT socket per address already */
    } else if (strcmp(a, "deferred") == 0) {
        o->defer_s = 1; /* as nginx: the first data, not the handshake, wakes the accept */
        e->given |= LG_DEFERRED;
    } else if ((v = param(a, "backlog"))) {
        e->given |= LG_BACKLOG;
        return param_u32(p, a, v, 1, 65535, &o->backlog);
    } else if ((v = param(a, "rcvbuf"))) {
        e->given |= LG_RCVBUF;
        return param_size(p, a, v, &o->rcvbuf);
    } else if ((v = param(a, "sndbuf"))) {
        e->given |= LG_SNDBUF;
        return param_size(p, a, v, &o->sndbuf);
    } else if ((v = param(a, "notsent_lowat"))) {
        e->given |= LG_LOWAT;
        return param_size(p, a, v, &o->notsent_lowat);
    } else if ((v = param(a, "tcp_congestion"))) {
        e->given |= LG_CONGESTION;
        return net_congestion_parse(p, v, o->congestion);
    } else if ((v = param(a, "fastopen"))) {
        e->given |= LG_FASTOPEN;
        return param_u32(p, a, v, 1, 65535, &o->fastopen);
    } else if ((v = param(a, "so_keepalive"))) {
        e->given |= LG_KEEPALIVE;
        return param_keepalive(p, a, v, o);
    } else if ((v = param(a, "ipv6only"))) {
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
            return conf_error(p, "invalid value in \"%s\" (on or off)", a);
        }
        e->given |= LG_IPV6ONLY;
        o->ipv6only = v[1] == 'n';
    } else if (strcmp(a, "ssl") == 0) {
        e->ssl = true;
    } else if (strcmp(a, "http2") == 0) {
        e->http2 = true; /* nginx before 1.25.1; `http2 on;` is the directive now */
    } else if (strcmp(a, "quic") == 0 || strcmp(a, "proxy_protocol") == 0) {
        return conf_error(p, "listen parameter \"%s\" is not supported yet", a);
    } else {
        return conf_error(p,
                          "unknown listen parameter \"%s\" (default_server, ssl, http2, backlog=, rcvbuf=, "
                          "sndbuf=, notsent_lowat=, tcp_congestion=, deferred, fastopen=, so_keepalive=, "
                          "ipv6only=, reuseport)",
                          a);
    }
    return 0;
}

static int listen_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    (void)r;
    struct listen_list *l = field;
    struct listen_entry e = {0};
    listen_opts_default(&e.opts);
    char msg[256];
    if (net_addr_parse(a[0], &e.addr, msg, sizeof(msg)) < 0) {
        return conf_error(p, "%s", msg);
    }
    for (unsigned i = 1; i < n; i++) {
        if (listen_param(p, &e, a[i]) < 0) {
            return -1;
        }
    }
    if ((e.given & LG_IPV6ONLY) && e.addr.ss.ss_family != AF_INET6) {
        return conf_error(p, "ipv6only= applies to IPv6 addresses only");
    }
    e.where = (struct conf_where){p->file, p->line};
    struct listen_entry *nv = sp_realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    l->v = nv;
    l->v[l->n++] = e;
    return 0;
}

static void listen_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct listen_list *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        const struct listen_entry *e = &l->v[i];
        const struct listen_opts *op = &e->opts;
        char size[32];
        conf_out_begin(o, r->name);
        conf_out_arg(o, e->addr.text);
        if (e->default_server) {
            conf_out_arg(o, "default_server");
        }
        if (e->ssl) {
            conf_out_arg(o, "ssl");
        }
        if (e->http2) {
            conf_out_arg(o, "http2");
        }
        if (e->given & LG_BACKLOG) {
            conf_out_argf(o, "backlog=%u", op->backlog);
        }
        if (e->given & LG_RCVBUF) {
            conf_fmt_size(size, sizeof(size), op->rcvbuf);
            conf_out_argf(o, "rcvbuf=%s", size);
        }
        if (e->given & LG_SNDBUF) {
            conf_fmt_size(size, sizeof(size), op->sndbuf);
            conf_out_argf(o, "sndbuf=%s", size);
        }
        if (e->given & LG_LOWAT) {
            conf_fmt_size(size, sizeof(size), op->notsent_lowat);
            conf_out_argf(o, "notsent_lowat=%s", size);
        }
        if (e->given & LG_CONGESTION) {
            conf_out_argf(o, "tcp_congestion=%s", op->congestion);
        }
        if (e->given & LG_DEFERRED) {
            conf_out_arg(o, "deferred");
        }
        if (e->given & LG_FASTOPEN) {
            conf_out_argf(o, "fastopen=%u", op->fastopen);
        }
        if (e->given & LG_KEEPALIVE) {
            if (!op->keepidle && !op->keepintvl && !op->keepcnt) {
                conf_out_arg(o, op->keepalive ? "so_keepalive=on" : "so_keepalive=off");
            } else {
                char k[3][16] = {"", "", ""};
                if (op->keepidle) {
                    snprintf(k[0], sizeof(k[0]), "%us", op->keepidle);
                }
                if (op->keepintvl) {
                    snprintf(k[1], sizeof(k[1]), "%us", op->keepintvl);
                }
                if (op->keepcnt) {
                    snprintf(k[2], sizeof(k[2]), "%u", op->keepcnt);
                }
                conf_out_argf(o, "so_keepalive=%s:%s:%s", k[0], k[1], k[2]);
            }
        }
        if (e->given & LG_IPV6ONLY) {
            conf_out_arg(o, op->ipv6only ? "ipv6only=on" : "ipv6only=off");
        }
        conf_out_end(o);
    }
}

static void listen_release(void *field)
{
    struct listen_list *l = field;
    sp_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static const struct conf_type listen_type = {"listen", sizeof(struct listen_list), listen_parse,
                                             listen_print, listen_release};

/* ---------------------------------------------------------------- the module */

/* Per server (CONF_STORE_SRV; the main block's copy holds the defaults). */
struct route_srv {
    struct listen_list listen;
    struct conf_words names;
    bool allow_encoded_slash;
    bool http2;
};

/* Main block: the table built by finish. */
struct route_main {
    struct route_table table;
};

#define SRV_OFF(f) offsetof(struct route_srv, f)

static const struct conf_row rows[] = {
    {"listen", CONF_SERVER, CONF_STORE_SRV, 1, 16, CONF_MULTI, &listen_type, SRV_OFF(listen),
     "127.0.0.1:8080", 0, 0,
     "127.0.0.1:0 default_server ssl http2 backlog=511 rcvbuf=128k sndbuf=1m notsent_lowat=128k "
     "tcp_congestion=reno "
     "deferred fastopen=16 so_keepalive=30m::10",
     NULL},
    {"server_name", CONF_SERVER, CONF_STORE_SRV, 1, 64, CONF_MULTI, &conf_words, SRV_OFF(names),
     NULL, 0, 0, "example.com *.example.com .example.org", NULL},
    {"allow_encoded_slashes", CONF_MAIN | CONF_SERVER, CONF_STORE_SRV, 1, 1, 0, &conf_flag,
     SRV_OFF(allow_encoded_slash), "off", 0, 0, "on", NULL},
    {"http2", CONF_MAIN | CONF_SERVER, CONF_STORE_SRV, 1, 1, 0, &conf_flag, SRV_OFF(http2), "off",
     0, 0, "on", NULL},
};

static int build_server(unsigned slot, struct route_server *s, const struct conf_block *b,
                        char *err, size_t errlen)
{
    const struct route_srv *sc = conf_get(b, slot, CONF_STORE_SRV);
    s->block = b;
    s->allow_encoded_slash = sc->allow_encoded_slash;
    s->http2 = sc->http2;
    if (sc->names.n) {
        s->names = sp_calloc(sc->names.n, sizeof(char *));
        if (!s->names) {
            return conf_fail_at(err, errlen, b->where, "out of memory");
        }
        for (unsigned k = 0; k < sc->names.n; k++) {
            char *v = sp_strndup(sc->names.v[k], strlen(sc->names.v[k]));
            if (!v) {
                return conf_fail_at(err, errlen, b->where, "out of memory");
            }
            for (char *q = v; *q; q++) {
                *q = (char)tolower((unsigned char)*q);
            }
            s->names[s->nnames++] = v;
        }
    }
    return 0; /* its locations are built by the location module (location.h) */
}

static struct route_group *group_for(struct route_table *t, const struct net_addr *a)
{
    for (unsigned j = 0; j < t->ngroups; j++) {
        if (net_addr_equal(&t->groups[j].addr, a)) {
            return &t->groups[j];
        }
    }
    struct route_group *ng = sp_realloc(t->groups, (t->ngroups + 1) * sizeof(*ng));
    if (!ng) {
        return NULL;
    }
    t->groups = ng;
    struct route_group *g = &ng[t->ngroups++];
    memset(g, 0, sizeof(*g));
    g->addr = *a;
    listen_opts_default(&g->opts);
    return g;
}

/* ---------------------------------------------------------------- the name tables */

static uint32_t name_slot(uint64_t h, uint32_t mask)
{
    return (uint32_t)(h ^ (h >> 31)) & mask;
}

static const struct route_name *name_find(const struct route_name *t, uint32_t mask, uint64_t h,
                                          const char *p, size_t n)
{
    for (uint32_t i = name_slot(h, mask);; i = (i + 1) & mask) {
        if (!t[i].name) {
            return NULL;
        }
        if (t[i].h == h && t[i].len == n && slice_eq_nocase(slice_make(t[i].name, n),
                                                            slice_make(p, n))) {
            return &t[i];
        }
    }
}

/* Adds name unless it is there already (the first server defined keeps a name). */
static void name_put(struct route_name *t, uint32_t mask, const char *p, size_t n, bool sub,
                     const struct route_server *s)
{
    uint64_t h = hash_bytes_lower(p, n);
    const struct route_name *have = name_find(t, mask, h, p, n);
    if (have) {
        /* "*.x" and ".x" on one suffix: the entry serves the bare domain when either does */
        if (!sub && have->subdomains_only && have->server == s) {
            ((struct route_name *)have)->subdomains_only = false;
        }
        return;
    }
    uint32_t i = name_slot(h, mask);
    while (t[i].name) {
        i = (i + 1) & mask;
    }
    t[i] = (struct route_name){h, p, (uint32_t)n, sub, s};
}

static int build_names(struct route_group *g)
{
    unsigned n = 0;
    for (unsigned i = 0; i < g->nservers; i++) {
        n += g->servers[i]->nnames;
    }
    uint32_t cap = 8;
    while (cap < 2 * n + 2) {
        cap *= 2;
    }
    g->exact = sp_calloc(cap, sizeof(*g->exact));
    g->wild = sp_calloc(cap, sizeof(*g->wild));
    if (!g->exact || !g->wild) {
        return -1;
    }
    g->exact_mask = g->wild_mask = cap - 1;
    /* exact names first, in server order, then ".x" forms claim the bare name if still free */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < g->nservers; i++) {
            const struct route_server *s = g->servers[i];
            for (unsigned k = 0; k < s->nnames; k++) {
                const char *nm = s->names[k];
                size_t len = strlen(nm);
                if (nm[0] == '*' && nm[1] == '.') {
                    if (pass == 1) {
                        name_put(g->wild, g->wild_mask, nm + 1, len - 1, true, s);
                        g->has_wild = true;
                    }
                } else if (nm[0] == '.') {
                    if (pass == 1) {
                        name_put(g->wild, g->wild_mask, nm, len, false, s);
                        g->has_wild = true;
                    }
                } else if (pass == 0) {
                    name_put(g->exact, g->exact_mask, nm, len, false, s);
                }
            }
        }
    }
    return 0;
}

/* nginx warns and keeps the first; so does spate (the second never answers to that name). */
static void warn_duplicate_names(const struct route_group *g)
{
    for (unsigned i = 0; i < g->nservers; i++) {
        for (unsigned j = i + 1; j < g->nservers; j++) {
            const struct route_server *a = g->servers[i], *b = g->servers[j];
            for (unsigned x = 0; x < a->nnames; x++) {
                for (unsigned y = 0; y < b->nnames; y++) {
                    if (strcmp(a->names[x], b->names[y]) == 0) {
                        errlog(ERRLOG_WARN,
                               "%s:%d: conflicting server name \"%s\" on %s (also at line %d), "
                               "ignored",
                               b->block->where.file, b->block->where.line, b->names[y],
                               g->addr.text, a->block->where.line);
                    }
                }
            }
        }
    }
}

static int build_groups(const struct conf *c, unsigned slot, struct route_table *t, char *err,
                        size_t errlen)
{
    for (unsigned i = 0; i < t->nservers; i++) {
        struct route_server *s = &t->servers[i];
        const struct route_srv *sc = conf_get(s->block, slot, CONF_STORE_SRV);
        for (unsigned k = 0; k < sc->listen.n; k++) {
            const struct listen_entry *e = &sc->listen.v[k];
            struct route_group *g = group_for(t, &e->addr);
            if (!g) {
                return conf_fail_at(err, errlen, e->where, "out of memory");
            }
            const struct route_server **ns =
                sp_realloc(g->servers, (g->nservers + 1) * sizeof(*ns));
            if (!ns) {
                return conf_fail_at(err, errlen, e->where, "out of memory");
            }
            g->servers = ns;
            ns[g->nservers++] = s;
            g->ssl |= e->ssl;
            g->http2_listen |= e->http2;
            if (e->given) {
                /* as nginx: the socket options of an address are given once */
                if (g->opts_at.file) {
                    return conf_fail_at(err, errlen, e->where,
                                        "duplicate listen options for %s (the first are at "
                                        "%s:%d)",
                                        e->addr.text, g->opts_at.file, g->opts_at.line);
                }
                g->opts = e->opts;
                g->opts_at = e->where;
            }
            if (e->default_server) {
                for (unsigned j = 0; j + 1 < g->nservers; j++) {
                    const struct route_srv *other =
                        conf_get(g->servers[j]->block, slot, CONF_STORE_SRV);
                    for (unsigned q = 0; q < other->listen.n; q++) {
                        if (other->listen.v[q].default_server &&
                            net_addr_equal(&other->listen.v[q].addr, &e->addr)) {
                            return conf_fail_at(err, errlen, e->where,
                                                "a duplicate default server for %s (the "
                                                "first is at %s:%d)",
                                                e->addr.text, other->listen.v[q].where.file,
                                                other->listen.v[q].where.line);
                        }
                    }
                }
                g->def = s;
            } else if (!g->def) {
                g->def = s;
            }
        }
    }
    const struct net_settings *net = net_settings(c);
    for (unsigned j = 0; j < t->ngroups; j++) {
        struct route_group *g = &t->groups[j];
        if (!g->opts.congestion[0] && net) {
            memcpy(g->opts.congestion, net->congestion, sizeof(g->opts.congestion));
        }
        /* h2c by prior knowledge, and ALPN h2 where TLS cannot ask the server (no SNI) */
        g->http2 = g->http2_listen || g->def->http2;
        warn_duplicate_names(g);
        if (build_names(g) < 0) {
            return conf_fail_at(err, errlen, (struct conf_where){c->source, 0}, "out of memory");
        }
    }
    return 0;
}

static void route_release(struct conf *c, unsigned slot)
{
    struct route_main *m = conf_main(c, slot);
    struct route_table *t = &m->table;
    for (unsigned i = 0; i < t->nservers; i++) {
        for (unsigned k = 0; k < t->servers[i].nnames; k++) {
            sp_free(t->servers[i].names[k]);
        }
        sp_free(t->servers[i].names);
    }
    sp_free(t->servers);
    for (unsigned j = 0; j < t->ngroups; j++) {
        sp_free(t->groups[j].servers);
        sp_free(t->groups[j].exact);
        sp_free(t->groups[j].wild);
    }
    sp_free(t->groups);
    memset(t, 0, sizeof(*t));
}

static int route_finish(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    struct route_main *m = conf_main(c, slot);
    struct route_table *t = &m->table;
    if (c->main->nchildren == 0) {
        return conf_fail_at(err, errlen, (struct conf_where){c->source, 0},
                            "no server { } block and no --root given");
    }
    t->servers = sp_calloc(c->main->nchildren, sizeof(*t->servers));
    if (!t->servers) {
        return conf_fail_at(err, errlen, c->main->where, "out of memory");
    }
    for (const struct conf_block *b = c->main->children; b; b = b->next) {
        struct route_server *s = &t->servers[t->nservers];
        s->index = t->nservers++;
        if (build_server(slot, s, b, err, errlen) < 0) {
            return -1;
        }
    }
    return build_groups(c, slot, t, err, errlen);
}

const struct conf_module route_module = {
    .name = "route",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct route_main),
             [CONF_STORE_SRV] = sizeof(struct route_srv)},
    .finish = route_finish,
    .release = route_release,
};

const struct route_table *route_table(const struct conf *c)
{
    int slot = conf_slot(c, &route_module);
    return slot < 0 ? NULL : &((const struct route_main *)conf_main(c, (unsigned)slot))->table;
}

/* ---------------------------------------------------------------- lookups (workers) */

const struct route_server *route_server_for(const struct route_group *g, struct slice host)
{
    if (g->nservers == 1 || host.len == 0) {
        return g->def;
    }
    host = uri_host_name(host);
    /* an exact name, then the longest wildcard suffix (nginx's order); one hash per dot */
    uint64_t h = hash_bytes_lower(host.ptr, host.len);
    const struct route_name *e = name_find(g->exact, g->exact_mask, h, host.ptr, host.len);
    if (e) {
        return e->server;
    }
    if (g->has_wild) {
        for (size_t i = 0; i < host.len; i++) {
            if (host.ptr[i] != '.') {
                continue;
            }
            struct slice suf = slice_make(host.ptr + i, host.len - i);
            const struct route_name *w =
                name_find(g->wild, g->wild_mask, hash_bytes_lower(suf.ptr, suf.len), suf.ptr,
                          suf.len);
            if (w) {
                return w->server;
            }
        }
        /* the bare domain of a ".example.com" name */
        char dot[256];
        if (host.len + 1 < sizeof(dot)) {
            dot[0] = '.';
            memcpy(dot + 1, host.ptr, host.len);
            const struct route_name *w = name_find(
                g->wild, g->wild_mask, hash_bytes_lower(dot, host.len + 1), dot, host.len + 1);
            if (w && !w->subdomains_only) {
                return w->server;
            }
        }
    }
    return g->def;
}
