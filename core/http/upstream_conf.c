/* upstream_conf.c - the `upstream NAME { ... }` block and addresses (see upstream.h). */
#include "core/http/upstream_conf.h"

#include "core/base/alloc.h"
#include "core/base/numfmt.h"
#include "core/conf/print.h"
#include "core/conf/values.h"
#include "core/http/upstream.h"
#include "core/http/vars.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* ---------------------------------------------------------------- addresses */

static int add_peer(struct upstream_group *g, const struct sockaddr *sa, socklen_t len,
                    char *err, size_t errlen)
{
    if (g->npeers == UPSTREAM_PEERS_MAX) {
        snprintf(err, errlen, "an upstream has at most %d servers", UPSTREAM_PEERS_MAX);
        return -1;
    }
    struct upstream_peer *np = sp_realloc(g->peers, (g->npeers + 1) * sizeof(*np));
    if (!np) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->peers = np;
    struct upstream_peer *p = &np[g->npeers++];
    memset(p, 0, sizeof(*p));
    memcpy(&p->addr, sa, len);
    p->addrlen = len;
    p->weight = 1;
    p->max_fails = 1;
    p->fail_timeout_ms = 10000;
    if (sa->sa_family == AF_UNIX) {
        snprintf(p->name, sizeof(p->name), "unix:%s", ((const struct sockaddr_un *)sa)->sun_path);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)sa;
        char t[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &a->sin6_addr, t, sizeof(t));
        snprintf(p->name, sizeof(p->name), "[%s]:%u", t, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const void *)sa;
        char t[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a->sin_addr, t, sizeof(t));
        snprintf(p->name, sizeof(p->name), "%s:%u", t, ntohs(a->sin_port));
    }
    return 0;
}

/* Adds the peers of "unix:/path", "[v6]:port", "host:port" or "host" to g. Returns how many
 * were added, or -1 with a sentence in err. */
static int add_address(struct upstream_group *g, const char *s, uint16_t default_port, char *err,
                       size_t errlen)
{
    if (!strncmp(s, "unix:", 5)) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        size_t n = strlen(s + 5);
        if (n == 0 || n >= sizeof(un.sun_path) || s[5] != '/') {
            snprintf(err, errlen, "invalid unix socket \"%s\" (unix:/absolute/path)", s);
            return -1;
        }
        memcpy(un.sun_path, s + 5, n + 1);
        return add_peer(g, (struct sockaddr *)&un, sizeof(un), err, errlen) < 0 ? -1 : 1;
    }
    char host[256];
    const char *hs = s, *port = NULL;
    size_t hl;
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (!e || (e[1] && e[1] != ':')) {
            snprintf(err, errlen, "invalid address \"%s\"", s);
            return -1;
        }
        hs = s + 1;
        hl = (size_t)(e - hs);
        port = e[1] ? e + 2 : NULL;
    } else {
        const char *c = strrchr(s, ':');
        hl = c ? (size_t)(c - s) : strlen(s);
        port = c ? c + 1 : NULL;
    }
    if (hl == 0 || hl >= sizeof(host)) {
        snprintf(err, errlen, "invalid address \"%s\"", s);
        return -1;
    }
    memcpy(host, hs, hl);
    host[hl] = '\0';
    uint64_t pn = default_port;
    if (port && (num_parse_u64(slice_cstr(port), 65535, &pn) < 0 || pn == 0)) {
        snprintf(err, errlen, "invalid port in \"%s\"", s);
        return -1;
    }
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", (unsigned)pn);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "host not found in \"%s\" (%s)", s, gai_strerror(rc));
        return -1;
    }
    int added = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        bool dup = false;
        for (unsigned i = 0; i < g->npeers; i++) {
            dup |= g->peers[i].addrlen == ai->ai_addrlen &&
                   !memcmp(&g->peers[i].addr, ai->ai_addr, ai->ai_addrlen);
        }
        if (dup) {
            continue;
        }
        if (add_peer(g, ai->ai_addr, ai->ai_addrlen, err, errlen) < 0) {
            freeaddrinfo(res);
            return -1;
        }
        added++;
    }
    freeaddrinfo(res);
    return added;
}

struct upstream_group *upstream_group_address(const char *addr, uint16_t default_port, char *err,
                                              size_t errlen)
{
    struct upstream_group *g = sp_calloc(1, sizeof(*g));
    if (!g || !(g->name = sp_strndup(addr, strlen(addr)))) {
        sp_free(g);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->implicit = true;
    if (add_address(g, addr, default_port, err, errlen) < 0) {
        upstream_group_free(g);
        return NULL;
    }
    g->nprimary = g->npeers;
    return g;
}

/* ---------------------------------------------------------------- the block */

struct upstreams {
    struct upstream_group **v;
    unsigned n;
};

static struct upstream_group *last(void *field)
{
    struct upstreams *u = field;
    return u->v[u->n - 1];
}

static int up_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                    unsigned n)
{
    (void)r, (void)n;
    struct upstreams *u = field;
    for (unsigned i = 0; i < u->n; i++) {
        if (!strcmp(u->v[i]->name, a[0])) {
            return conf_error(p, "duplicate upstream \"%s\" (first at line %d)", a[0],
                              u->v[i]->where.line);
        }
    }
    struct upstream_group **nv = sp_realloc(u->v, (u->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    u->v = nv;
    struct upstream_group *g = sp_calloc(1, sizeof(*g));
    if (!g) {
        return conf_error(p, "out of memory");
    }
    nv[u->n++] = g;
    g->where = (struct conf_where){p->file, p->line};
    g->keepalive_timeout_ms = 60000;
    g->keepalive_requests = 1000;
    return (g->name = conf_strdup(p, a[0])) ? 0 : -1;
}

/* "key=value" with the key given, else NULL. */
static const char *param(const char *a, const char *key)
{
    size_t n = strlen(key);
    return !strncmp(a, key, n) && a[n] == '=' ? a + n + 1 : NULL;
}

static int server_line(struct conf_parse *p, struct upstream_group *g, char **a, unsigned n)
{
    if (n < 2) {
        return conf_error(p, "server takes an address and parameters (weight=N max_fails=N "
                             "fail_timeout=TIME backup down)");
    }
    char err[256];
    unsigned first = g->npeers;
    int added = add_address(g, a[1], 80, err, sizeof(err));
    if (added < 0) {
        return conf_error(p, "%s", err);
    }
    struct upstream_peer set = {.weight = 1, .max_fails = 1, .fail_timeout_ms = 10000};
    for (unsigned i = 2; i < n; i++) {
        const char *v;
        uint64_t x;
        if ((v = param(a[i], "weight"))) {
            if (num_parse_u64(slice_cstr(v), 1000, &x) < 0 || x == 0) {
                return conf_error(p, "invalid weight \"%s\" (1..1000)", v);
            }
            set.weight = (uint32_t)x;
        } else if ((v = param(a[i], "max_fails"))) {
            if (num_parse_u64(slice_cstr(v), 1000, &x) < 0) {
                return conf_error(p, "invalid max_fails \"%s\" (0..1000)", v);
            }
            set.max_fails = (uint32_t)x;
        } else if ((v = param(a[i], "fail_timeout"))) {
            if (conf_parse_time_ms(v, &x) < 0 || x > 86400000) {
                return conf_error(p, "invalid fail_timeout \"%s\"", v);
            }
            set.fail_timeout_ms = (uint32_t)x;
        } else if (!strcmp(a[i], "backup")) {
            set.backup = true;
        } else if (!strcmp(a[i], "down")) {
            set.down = true;
        } else {
            return conf_error(p, "invalid server parameter \"%s\" (weight=N max_fails=N "
                                 "fail_timeout=TIME backup down)",
                              a[i]);
        }
    }
    if (set.backup && (g->policy == UPSTREAM_HASH)) {
        return conf_error(p, "backup servers cannot be used with hash");
    }
    for (unsigned i = first; i < g->npeers; i++) {
        struct upstream_peer *pe = &g->peers[i];
        pe->weight = set.weight;
        pe->max_fails = set.max_fails;
        pe->fail_timeout_ms = set.fail_timeout_ms;
        pe->backup = set.backup;
        pe->down = set.down;
    }
    return added > 0 ? 0 : conf_error(p, "server \"%s\" is listed twice", a[1]);
}

static int up_inner(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                    unsigned n)
{
    (void)r;
    struct upstream_group *g = last(field);
    uint64_t x;
    if (!strcmp(a[0], "server")) {
        return server_line(p, g, a, n);
    }
    if (!strcmp(a[0], "least_conn") && n == 1) {
        g->policy = UPSTREAM_LEAST_CONN;
        return 0;
    }
    if (!strcmp(a[0], "hash") && (n == 2 || (n == 3 && !strcmp(a[2], "consistent")))) {
        if (g->hash_key) {
            return conf_error(p, "\"hash\" is duplicate");
        }
        char err[256];
        if (http_script_compile(&g->hash_key, a[1], err, sizeof(err)) < 0) {
            return conf_error(p, "%s", err);
        }
        if (!(g->hash_text = conf_strdup(p, a[1]))) {
            return -1;
        }
        g->policy = UPSTREAM_HASH;
        g->consistent = n == 3;
        return 0;
    }
    if (!strcmp(a[0], "keepalive") && n == 2) {
        if (num_parse_u64(slice_cstr(a[1]), 4096, &x) < 0 || x == 0) {
            return conf_error(p, "invalid keepalive \"%s\" (1..4096 connections)", a[1]);
        }
        g->keepalive = (uint32_t)x;
        return 0;
    }
    if (!strcmp(a[0], "keepalive_timeout") && n == 2) {
        if (conf_parse_time_ms(a[1], &x) < 0 || x > 86400000) {
            return conf_error(p, "invalid keepalive_timeout \"%s\"", a[1]);
        }
        g->keepalive_timeout_ms = (uint32_t)x;
        return 0;
    }
    if (!strcmp(a[0], "keepalive_requests") && n == 2) {
        if (num_parse_u64(slice_cstr(a[1]), 1u << 30, &x) < 0 || x == 0) {
            return conf_error(p, "invalid keepalive_requests \"%s\"", a[1]);
        }
        g->keepalive_requests = (uint32_t)x;
        return 0;
    }
    return conf_error(p, "invalid \"%s\" in upstream (server ADDR [weight=N] [max_fails=N] "
                         "[fail_timeout=T] [backup] [down]; least_conn; hash KEY [consistent]; "
                         "keepalive N; keepalive_timeout T; keepalive_requests N)",
                      a[0]);
}

static void up_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct upstreams *u = field;
    for (unsigned i = 0; i < u->n; i++) {
        const struct upstream_group *g = u->v[i];
        conf_out_begin(o, r->name);
        conf_out_arg(o, g->name);
        conf_out_open(o);
        for (unsigned k = 0; k < g->npeers; k++) {
            const struct upstream_peer *pe = &g->peers[k];
            conf_out_begin(o, "server");
            conf_out_arg(o, pe->name);
            conf_out_argf(o, "weight=%u", pe->weight);
            conf_out_argf(o, "max_fails=%u", pe->max_fails);
            conf_out_argf(o, "fail_timeout=%ums", pe->fail_timeout_ms);
            if (pe->backup) {
                conf_out_arg(o, "backup");
            }
            if (pe->down) {
                conf_out_arg(o, "down");
            }
            conf_out_end(o);
        }
        if (g->policy == UPSTREAM_LEAST_CONN) {
            conf_out_begin(o, "least_conn");
            conf_out_end(o);
        } else if (g->policy == UPSTREAM_HASH) {
            conf_out_begin(o, "hash");
            conf_out_arg(o, g->hash_text);
            if (g->consistent) {
                conf_out_arg(o, "consistent");
            }
            conf_out_end(o);
        }
        if (g->keepalive) {
            conf_out_begin(o, "keepalive");
            conf_out_argf(o, "%u", g->keepalive);
            conf_out_end(o);
        }
        conf_out_begin(o, "keepalive_timeout");
        conf_out_time(o, g->keepalive_timeout_ms);
        conf_out_end(o);
        conf_out_begin(o, "keepalive_requests");
        conf_out_argf(o, "%u", g->keepalive_requests);
        conf_out_end(o);
        conf_out_close(o);
    }
}

static void up_release(void *field)
{
    struct upstreams *u = field;
    for (unsigned i = 0; i < u->n; i++) {
        upstream_group_free(u->v[i]);
    }
    sp_free(u->v);
    u->v = NULL;
    u->n = 0;
}

static const struct conf_type up_type = {"upstream", sizeof(struct upstreams), up_parse,
                                         up_print, up_release, up_inner};

struct up_main {
    struct upstreams ups;
};

static const struct conf_row rows[] = {
    {"upstream", CONF_MAIN, CONF_STORE_MAIN, 1, 1, CONF_MULTI | CONF_BLOCK, &up_type,
     offsetof(struct up_main, ups), NULL, 0, 0,
     "app { server 127.0.0.1:8081 weight=2; server 127.0.0.1:8082 backup; keepalive 8; }", NULL},
};

/* Orders primaries before backups (a stable partition). */
static void order_backups(struct upstream_group *g)
{
    struct upstream_peer tmp[UPSTREAM_PEERS_MAX];
    unsigned k = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < g->npeers; i++) {
            if (g->peers[i].backup == (pass == 1)) {
                tmp[k++] = g->peers[i];
            }
        }
        if (pass == 0) {
            g->nprimary = k;
        }
    }
    memcpy(g->peers, tmp, k * sizeof(tmp[0]));
}

static int up_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    struct up_main *m = conf_main(c, s);
    for (unsigned i = 0; i < m->ups.n; i++) {
        struct upstream_group *g = m->ups.v[i];
        if (g->npeers == 0) {
            return conf_fail_at(err, errlen, g->where, "upstream \"%s\" has no server", g->name);
        }
        order_backups(g);
        if (g->nprimary == 0) {
            return conf_fail_at(err, errlen, g->where,
                                "upstream \"%s\" has only backup servers", g->name);
        }
        if (g->policy == UPSTREAM_HASH && g->npeers != g->nprimary) {
            return conf_fail_at(err, errlen, g->where,
                                "upstream \"%s\": backup servers cannot be used with hash",
                                g->name);
        }
        if (upstream_group_prepare(g) < 0) {
            return conf_fail_at(err, errlen, g->where, "out of memory");
        }
    }
    return 0;
}

const struct conf_module upstream_module = {
    .name = "upstream",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct up_main)},
    .finish = up_finish,
};

struct upstream_group *upstream_find(const struct conf *c, const char *name)
{
    int s = conf_slot(c, &upstream_module);
    if (s < 0) {
        return NULL;
    }
    const struct up_main *m = conf_main(c, (unsigned)s);
    for (unsigned i = 0; m && i < m->ups.n; i++) {
        if (!strcmp(m->ups.v[i]->name, name)) {
            return m->ups.v[i];
        }
    }
    return NULL;
}
