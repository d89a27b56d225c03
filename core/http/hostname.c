/* hostname.c - the `hostname_lookups` module (see hostname.h). */
#include "core/http/hostname.h"

#include "core/base/alloc.h"
#include "core/conf/types.h"
#include "core/conf/values.h"
#include "core/http/client_id.h"
#include "core/http/h1_state.h"
#include "core/http/handler.h"
#include "core/io/loop.h"
#include "core/net/resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALID_DEFAULT_MS (3600u * 1000)
#define NEGATIVE_MAX_MS (30u * 1000)
#define CACHE_MAX 16384u
#define BUCKETS 4096u

struct host_loc {
    unsigned mode; /* enum hostname_mode, by mode_keys */
};

struct host_main {
    struct conf_words resolver;
    uint32_t timeout_ms;
    /* derived by finish */
    char *servers; /* c-ares csv, or NULL */
    uint64_t valid_ms;
    bool ipv6;
    bool lib;
};

static int slot = -1;

/* ---------------------------------------------------------------- the per-worker cache */

/* A client waiting for an entry's answer (its connection's log lines). */
struct waiter {
    struct waiter *next;
    struct client_id *id;
};

struct entry {
    struct entry *next; /* in its bucket */
    uint8_t family;     /* AF_INET or AF_INET6 (mapped addresses are taken as IPv4) */
    bool dbl;           /* double-checked */
    bool pending;
    unsigned char addr[16];
    char *name; /* NULL: none */
    char *cand; /* the PTR's name while its forward lookup runs */
    uint64_t expires_ms;
    struct waiter *waiters;
    struct req_wait reqs; /* requests of access rules waiting */
};

struct host_worker {
    struct io_loop *loop;
    struct resolver *rs;
    const void *params; /* the main block's struct rs was made from (compared, never read: a
                         * reload may have freed it) */
    uint64_t valid_ms;  /* its valid= and ipv6=, copied */
    bool ipv6;
    struct entry *buckets[BUCKETS];
    unsigned n, inflight;
    bool exiting;
};

static _Thread_local struct host_worker *t_host;

static const struct host_main *main_of(const struct conf_block *b)
{
    while (b->parent) {
        b = b->parent;
    }
    return conf_get(b, (unsigned)slot, CONF_STORE_MAIN);
}

static struct host_worker *worker_get(struct io_loop *l, const struct host_main *m)
{
    struct host_worker *w = t_host;
    if (!w) {
        if (!(w = sp_calloc(1, sizeof(*w)))) {
            return NULL;
        }
        w->loop = l;
        t_host = w;
    }
    if (w->rs && w->params != m && resolver_busy(w->rs) == 0) {
        resolver_free(w->rs, false); /* a reload changed the resolver: take the new one */
        w->rs = NULL;
    }
    if (!w->rs) {
        struct resolver_params p = {m->servers, m->timeout_ms};
        char err[256];
        w->rs = resolver_new(l, &p, err, sizeof(err));
        w->params = m;
        w->valid_ms = m->valid_ms;
        w->ipv6 = m->ipv6;
        if (!w->rs) {
            return NULL;
        }
    }
    return w;
}

/* The client's address as the cache keys it: family and bytes (IPv4-mapped as IPv4). */
static bool key_of(const struct sockaddr_storage *ss, uint8_t *family, unsigned char *addr)
{
    memset(addr, 0, 16);
    if (ss && ss->ss_family == AF_INET) {
        *family = AF_INET;
        memcpy(addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        return true;
    }
    if (ss && ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            *family = AF_INET;
            memcpy(addr, a->s6_addr + 12, 4);
        } else {
            *family = AF_INET6;
            memcpy(addr, a->s6_addr, 16);
        }
        return true;
    }
    return false;
}

static unsigned bucket_of(uint8_t family, const unsigned char *addr, bool dbl)
{
    uint32_t h = 2166136261u ^ family ^ (dbl ? 0x80u : 0);
    for (unsigned i = 0; i < 16; i++) {
        h = (h ^ addr[i]) * 16777619u;
    }
    return h % BUCKETS;
}

static struct entry *find(struct host_worker *w, uint8_t family, const unsigned char *addr,
                          bool dbl)
{
    for (struct entry *e = w->buckets[bucket_of(family, addr, dbl)]; e; e = e->next) {
        if (e->family == family && e->dbl == dbl && !memcmp(e->addr, addr, 16)) {
            return e;
        }
    }
    return NULL;
}

/* Drops the answers past their time (when the cache is full). */
static void sweep(struct host_worker *w)
{
    for (unsigned b = 0; b < BUCKETS; b++) {
        for (struct entry **pp = &w->buckets[b], *e; (e = *pp);) {
            if (!e->pending && e->expires_ms <= w->loop->now_ms) {
                *pp = e->next;
                sp_free(e->name);
                sp_free(e);
                w->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static void complete(struct host_worker *w, struct entry *e, const char *name, uint32_t ttl)
{
    w->inflight--;
    e->pending = false;
    sp_free(e->name);
    e->name = NULL;
    client_id_store(&e->name, name, name ? strlen(name) : 0);
    uint64_t valid = w->valid_ms ? w->valid_ms : VALID_DEFAULT_MS;
    uint64_t ms = name ? (uint64_t)ttl * 1000 : NEGATIVE_MAX_MS;
    e->expires_ms = w->loop->now_ms + (ms < valid ? ms : valid);
    sp_free(e->cand);
    e->cand = NULL;
    while (e->waiters) {
        struct waiter *k = e->waiters;
        e->waiters = k->next;
        client_id_store(&k->id->host, e->name, e->name ? strlen(e->name) : 0);
        client_id_settle(k->id);
        sp_free(k);
    }
    struct req_wait *rw;
    while ((rw = e->reqs.next) != &e->reqs) {
        req_wait_unlink(rw);
        rw->wake(rw); /* dispatched again: the cache answers */
    }
}

static bool addr_in(const struct entry *e, const struct sockaddr_storage *a, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const void *p = e->family == AF_INET
                            ? (const void *)&((const struct sockaddr_in *)&a[i])->sin_addr
                            : (const void *)&((const struct sockaddr_in6 *)&a[i])->sin6_addr;
        if (a[i].ss_family == e->family && !memcmp(p, e->addr, e->family == AF_INET ? 4 : 16)) {
            return true;
        }
    }
    return false;
}

static void on_forward(void *arg, enum resolver_status st, const struct sockaddr_storage *addrs,
                       unsigned n, uint32_t ttl)
{
    struct entry *e = arg;
    struct host_worker *w = t_host;
    bool ok = st == RESOLVER_OK && addr_in(e, addrs, n);
    /* the name only when its addresses include the client's; the shorter TTL of the two */
    complete(w, e, ok ? e->cand : NULL, ttl);
}

static void on_name(void *arg, enum resolver_status st, const char *name, uint32_t ttl)
{
    struct entry *e = arg;
    struct host_worker *w = t_host;
    if (st != RESOLVER_OK || !e->dbl) {
        complete(w, e, st == RESOLVER_OK ? name : NULL, ttl);
        return;
    }
    client_id_store(&e->cand, name, strlen(name));
    if (!e->cand || w->exiting || (e->family == AF_INET6 && !w->ipv6)) {
        complete(w, e, NULL, 0);
        return;
    }
    resolver_addrs(w->rs, e->cand, e->family, on_forward, e);
}

/* The entry for the client, its lookup started if it has none fresh; NULL: no lookup (out of
 * memory, too many out, no address). */
static struct entry *lookup(struct io_loop *l, const struct host_main *m,
                            const struct sockaddr_storage *peer, bool dbl)
{
    uint8_t family;
    unsigned char addr[16];
    if (!key_of(peer, &family, addr)) {
        return NULL;
    }
    struct host_worker *w = worker_get(l, m);
    if (!w || w->exiting) {
        return NULL;
    }
    struct entry *e = find(w, family, addr, dbl);
    if (e && (e->pending || e->expires_ms > l->now_ms)) {
        return e;
    }
    if (w->inflight >= HOSTNAME_INFLIGHT) {
        return NULL;
    }
    if (!e) {
        if (w->n >= CACHE_MAX) {
            sweep(w);
        }
        if (w->n >= CACHE_MAX || !(e = sp_calloc(1, sizeof(*e)))) {
            return NULL;
        }
        e->family = family;
        e->dbl = dbl;
        memcpy(e->addr, addr, 16);
        req_wait_list_init(&e->reqs);
        unsigned b = bucket_of(family, addr, dbl);
        e->next = w->buckets[b];
        w->buckets[b] = e;
        w->n++;
    }
    e->pending = true;
    w->inflight++;
    struct sockaddr_storage q;
    memset(&q, 0, sizeof(q));
    q.ss_family = family;
    if (family == AF_INET) {
        memcpy(&((struct sockaddr_in *)&q)->sin_addr, addr, 4);
    } else {
        memcpy(&((struct sockaddr_in6 *)&q)->sin6_addr, addr, 16);
    }
    resolver_name(w->rs, &q, on_name, e); /* may answer at once (out of memory) */
    return e;
}

void hostname_start(struct h1_conn *h, const struct route_loc *l, struct client_id *id)
{
    enum hostname_mode mode = hostname_mode_of(l);
    struct entry *e = lookup(h1_env_of(h)->http.loop, main_of(l->block), conn_peer(&h->c),
                             mode == HOSTNAME_DOUBLE);
    if (!e) {
        return;
    }
    if (!e->pending) {
        client_id_store(&id->host, e->name, e->name ? strlen(e->name) : 0);
        return;
    }
    struct waiter *k = sp_malloc(sizeof(*k));
    if (!k) {
        return;
    }
    k->id = id;
    k->next = e->waiters;
    e->waiters = k;
    client_id_expect(id);
}

int http_remote_host(struct req *r, struct slice *name)
{
    *name = SLICE_NULL;
    if (slot < 0 || !r->loc || !r->loc->block) {
        return 0;
    }
    struct entry *e = lookup(r->env->loop, main_of(r->loc->block), r->proto->peer(r), true);
    if (!e) {
        return 0; /* no address, too many out, or out of memory: no name */
    }
    if (!e->pending) {
        *name = slice_cstr(e->name);
        return 0;
    }
    if (!r->wait) {
        return 0; /* this session cannot wait: no name */
    }
    req_wait_link(&e->reqs, r->wait);
    r->wait->rounds++;
    return HANDLER_LATER;
}

bool http_remote_host_known(struct req *r, struct slice *name)
{
    uint8_t family;
    unsigned char addr[16];
    struct host_worker *w = t_host;
    if (!w || !key_of(r->proto->peer(r), &family, addr)) {
        return false;
    }
    for (int dbl = 0; dbl < 2; dbl++) {
        const struct entry *e = find(w, family, addr, dbl);
        if (e && !e->pending && e->name && e->expires_ms > w->loop->now_ms) {
            *name = slice_cstr(e->name);
            return true;
        }
    }
    return false;
}

void hostname_worker_exit(bool stuck)
{
    struct host_worker *w = t_host;
    if (!w) {
        return;
    }
    w->exiting = true;
    resolver_free(w->rs, true); /* every lookup out ends, failed: its waiters settle */
    w->rs = NULL;
    (void)stuck; /* the resolver's sockets and buffers are its own, not the ring's */
    for (unsigned b = 0; b < BUCKETS; b++) {
        while (w->buckets[b]) {
            struct entry *e = w->buckets[b];
            w->buckets[b] = e->next;
            sp_free(e->name);
            sp_free(e->cand);
            sp_free(e);
        }
    }
    sp_free(w);
    t_host = NULL;
}

/* ---------------------------------------------------------------- configuration */

enum hostname_mode hostname_mode_of(const struct route_loc *l)
{
    if (slot < 0 || !l || !l->block) {
        return HOSTNAME_OFF;
    }
    const struct host_loc *c = conf_get(l->block, (unsigned)slot, CONF_STORE_LOC);
    return c ? (enum hostname_mode)c->mode : HOSTNAME_OFF;
}

static const char *const mode_keys[] = {"off", "on", "double", NULL};

#define LOFF(f) offsetof(struct host_loc, f)
#define MOFF(f) offsetof(struct host_main, f)

enum { R_LOOKUPS, R_RESOLVER, R_TIMEOUT };

static const struct conf_row rows[] = {
    [R_LOOKUPS] = {"hostname_lookups", CONF_MAIN | CONF_SERVER | CONF_LOCATION, CONF_STORE_LOC, 1,
                   1, 0, &conf_keyword, LOFF(mode), "off", 0, 0, "double", mode_keys},
    [R_RESOLVER] = {"resolver", CONF_MAIN, CONF_STORE_MAIN, 1, 16, 0, &conf_words, MOFF(resolver),
                    NULL, 0, 0, "127.0.0.1:5353 valid=30s", NULL},
    [R_TIMEOUT] = {"resolver_timeout", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_msec32,
                   MOFF(timeout_ms), "5s", 1, 60000, "1s", NULL},
};

/* One resolver address (ADDR, ADDR:PORT, [V6], [V6]:PORT) checked and added to the csv. */
static int add_server(char *csv, size_t cap, const char *a)
{
    char host[64];
    const char *port = NULL;
    if (a[0] == '[') {
        const char *e = strchr(a, ']');
        if (!e || (size_t)(e - a - 1) >= sizeof(host) || (e[1] && e[1] != ':')) {
            return -1;
        }
        memcpy(host, a + 1, (size_t)(e - a - 1));
        host[e - a - 1] = '\0';
        port = e[1] ? e + 2 : NULL;
    } else {
        const char *c = strchr(a, ':');
        size_t n = c ? (size_t)(c - a) : strlen(a);
        if (n >= sizeof(host)) {
            return -1;
        }
        memcpy(host, a, n);
        host[n] = '\0';
        port = c ? c + 1 : NULL;
    }
    unsigned char buf[16];
    bool v6 = inet_pton(AF_INET6, host, buf) == 1;
    if (!v6 && inet_pton(AF_INET, host, buf) != 1) {
        return -1;
    }
    if (port) {
        char *end;
        unsigned long p = strtoul(port, &end, 10);
        if (!*port || *end || p == 0 || p > 65535) {
            return -1;
        }
    }
    size_t len = strlen(csv);
    int n = snprintf(csv + len, cap - len, "%s%s%s%s%s%s", len ? "," : "", v6 ? "[" : "", host,
                     v6 ? "]" : "", port ? ":" : "", port ? port : "");
    return n > 0 && (size_t)n < cap - len ? 0 : -1;
}

static int hostname_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    slot = (int)s;
    struct host_main *m = conf_get(c->main, (unsigned)slot, CONF_STORE_MAIN);
    struct conf_where at = conf_where_of(c->main, (unsigned)slot, R_RESOLVER);
    m->valid_ms = VALID_DEFAULT_MS;
    m->ipv6 = true;
    if (m->resolver.n) {
        size_t cap = 64 * m->resolver.n + 1;
        if (!(m->servers = sp_calloc(1, cap))) {
            return conf_fail_at(err, errlen, at, "out of memory");
        }
        for (unsigned i = 0; i < m->resolver.n; i++) {
            const char *a = m->resolver.v[i];
            uint64_t ms;
            if (!strncmp(a, "valid=", 6)) {
                if (conf_parse_time_ms(a + 6, &ms) < 0 || ms < 1000) {
                    return conf_fail_at(err, errlen, at,
                                        "resolver: invalid \"%s\" (a time of 1s or more)", a);
                }
                m->valid_ms = ms;
            } else if (!strcmp(a, "ipv6=on") || !strcmp(a, "ipv6=off")) {
                m->ipv6 = a[6] == 'n';
            } else if (!strncmp(a, "ipv4=", 5) || !strncmp(a, "status_zone=", 12)) {
                return conf_fail_at(err, errlen, at, "resolver: \"%s\" is not supported", a);
            } else if (add_server(m->servers, cap, a) < 0) {
                return conf_fail_at(err, errlen, at, "resolver: \"%s\" is not an IP address[:port]",
                                    a);
            }
        }
        if (!m->servers[0]) {
            return conf_fail_at(err, errlen, at, "resolver: no address given");
        }
    }
    /* always: access rules on names look clients up whatever hostname_lookups says */
    {
        if (resolver_library_init() < 0) {
            return conf_fail_at(err, errlen, c->main->where, "cannot initialize c-ares");
        }
        m->lib = true;
    }
    return 0;
}

static void hostname_release(struct conf *c, unsigned s)
{
    slot = (int)s;
    struct host_main *m = conf_get(c->main, (unsigned)slot, CONF_STORE_MAIN);
    sp_free(m->servers);
    m->servers = NULL;
    if (m->lib) {
        resolver_library_cleanup();
        m->lib = false;
    }
}

const struct conf_module hostname_module = {
    .name = "hostname_lookups",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size =
        {[CONF_STORE_MAIN] = sizeof(struct host_main), [CONF_STORE_LOC] = sizeof(struct host_loc)},
    .finish = hostname_finish,
    .release = hostname_release,
};
