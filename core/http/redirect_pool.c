/* redirect_pool.c - redirect pools (see redirect_pool.h). */
#include "core/http/redirect_pool.h"

#include "core/base/alloc.h"
#include "core/base/numfmt.h"
#include "core/conf/print.h"
#include "core/conf/values.h"
#include "core/http/route.h"
#include "proto/hdr_table.h"
#include "proto/uri.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum policy { P_ROUND_ROBIN, P_LEAST_RECENT, P_HASH, P_COOKIE };
static const char *const policy_names[] = {"round_robin", "least_recent", "hash", "cookie"};

struct target {
    char *url;
    uint64_t id; /* a hash of the URL: names it in cookies, weighs it in rendezvous hashing */
    char hex[17];
};

/* One worker's choices, written by that worker only; padded so that two workers' do not
 * share a cache line. */
struct pool_worker {
    uint32_t next;
    uint64_t clock;
    uint64_t *stamp; /* least_recent: when each target was last chosen */
    char pad[40];
};

struct pool {
    char *name;
    struct target *t;
    unsigned n;
    uint8_t policy;
    bool policy_set;
    char *cookie;
    struct conf_where where;
    struct pool_worker *w; /* [nslots] */
    unsigned nslots;
};

struct pools {
    struct pool *v;
    unsigned n;
};

/* A fixed 64-bit hash (FNV-1a then a finalizer): the same on every node and every run. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t fixed_hash(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 0x100000001b3ull;
    }
    return mix(h);
}

/* ---------------------------------------------------------------- parsing */

static int pool_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r, (void)n;
    struct pools *ps = field;
    for (unsigned i = 0; i < ps->n; i++) {
        if (!strcmp(ps->v[i].name, a[0])) {
            return conf_error(p, "duplicate redirect_pool \"%s\" (first at line %d)", a[0],
                              ps->v[i].where.line);
        }
    }
    if (strlen(a[0]) > 64) {
        return conf_error(p, "redirect_pool name \"%.64s...\" is longer than 64 bytes", a[0]);
    }
    for (const char *c = a[0]; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_')) {
            return conf_error(p, "redirect_pool name \"%s\" may hold letters, digits and '_' "
                                 "only (it is used as $redirect_pool_%s)",
                              a[0], a[0]);
        }
    }
    struct pool *nv = sp_realloc(ps->v, (ps->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    ps->v = nv;
    struct pool *pl = &nv[ps->n++];
    memset(pl, 0, sizeof(*pl));
    pl->where = (struct conf_where){p->file, p->line};
    return (pl->name = conf_strdup(p, a[0])) ? 0 : -1;
}

static int pool_inner(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r;
    struct pools *ps = field;
    struct pool *pl = &ps->v[ps->n - 1];
    if (!strcmp(a[0], "target")) {
        if (n != 2 || (strncmp(a[1], "http://", 7) && strncmp(a[1], "https://", 8) &&
                       a[1][0] != '/')) {
            return conf_error(p, "target takes one URL (http://..., https://... or /path)");
        }
        for (unsigned i = 0; i < pl->n; i++) {
            if (!strcmp(pl->t[i].url, a[1])) {
                return conf_error(p, "duplicate target \"%s\"", a[1]);
            }
        }
        struct target *nt = sp_realloc(pl->t, (pl->n + 1) * sizeof(*nt));
        if (!nt) {
            return conf_error(p, "out of memory");
        }
        pl->t = nt;
        struct target *t = &nt[pl->n];
        memset(t, 0, sizeof(*t));
        if (!(t->url = conf_strdup(p, a[1]))) {
            return -1;
        }
        if (pl->n == 64) {
            return conf_error(p, "a redirect_pool has at most 64 targets");
        }
        t->id = redirect_pool_target_id(a[1]);
        num_u64_to_hex(t->hex, t->id);
        pl->n++;
        return 0;
    }
    if (!strcmp(a[0], "policy")) {
        if (pl->policy_set) {
            return conf_error(p, "\"policy\" is duplicate");
        }
        for (unsigned k = 0; k < ARRAY_SIZE(policy_names); k++) {
            if (n >= 2 && !strcmp(a[1], policy_names[k])) {
                pl->policy = (uint8_t)k;
                pl->policy_set = true;
            }
        }
        if (!pl->policy_set || (n > 2 && pl->policy != P_COOKIE) || n > 3) {
            return conf_error(p, "invalid policy (round_robin, least_recent, hash or "
                                 "cookie [NAME])");
        }
        if (n == 3) {
            size_t len = strlen(a[2]);
            bool ok = len > 0 && len <= 64;
            for (size_t i = 0; ok && i < len; i++) {
                char c = a[2][i];
                ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-';
            }
            if (!ok) {
                return conf_error(p, "invalid cookie name \"%s\" (1 to 64 letters, digits, "
                                     "'_' or '-')",
                                  a[2]);
            }
            if (!(pl->cookie = conf_strdup(p, a[2]))) {
                return -1;
            }
        }
        return 0;
    }
    return conf_error(p, "unknown directive \"%s\" in redirect_pool (target, policy)", a[0]);
}

static void pool_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct pools *ps = field;
    for (unsigned i = 0; i < ps->n; i++) {
        const struct pool *pl = &ps->v[i];
        conf_out_begin(o, r->name);
        conf_out_arg(o, pl->name);
        conf_out_open(o);
        for (unsigned k = 0; k < pl->n; k++) {
            conf_out_begin(o, "target");
            conf_out_arg(o, pl->t[k].url);
            conf_out_end(o);
        }
        conf_out_begin(o, "policy");
        conf_out_arg(o, policy_names[pl->policy]);
        if (pl->cookie) {
            conf_out_arg(o, pl->cookie);
        }
        conf_out_end(o);
        conf_out_close(o);
    }
}

static void pool_release(void *field)
{
    struct pools *ps = field;
    for (unsigned i = 0; i < ps->n; i++) {
        struct pool *pl = &ps->v[i];
        for (unsigned k = 0; k < pl->n; k++) {
            sp_free(pl->t[k].url);
        }
        for (unsigned k = 0; pl->w && k < pl->nslots; k++) {
            sp_free(pl->w[k].stamp);
        }
        sp_free(pl->w);
        sp_free(pl->t);
        sp_free(pl->name);
        sp_free(pl->cookie);
    }
    sp_free(ps->v);
    ps->v = NULL;
    ps->n = 0;
}

static const struct conf_type pool_type = {"redirect_pool", sizeof(struct pools), pool_parse,
                                           pool_print, pool_release, pool_inner};

struct pool_main {
    struct pools pools;
};

static const struct conf_row rows[] = {
    {"redirect_pool", CONF_MAIN, CONF_STORE_MAIN, 1, 1, CONF_MULTI | CONF_BLOCK, &pool_type,
     offsetof(struct pool_main, pools), NULL, 0, 0,
     "mirrors { target http://a.example; target http://b.example; policy hash; }", NULL},
};

static int slot = -1;

static int pools_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    if (slot != (int)s) {
        slot = (int)s; /* once: a reload finds the same slot, and workers read it meanwhile */
    }
    struct pool_main *m = conf_main(c, s);
    /* a slot per possible worker (workers are pinned one per CPU), each its own cache line */
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    unsigned nslots = (unsigned)(cpus > 0 ? cpus : 1) * 2 + 2;
    for (unsigned i = 0; i < m->pools.n; i++) {
        struct pool *pl = &m->pools.v[i];
        if (pl->n == 0) {
            return conf_fail_at(err, errlen, pl->where, "redirect_pool \"%s\" has no target",
                                pl->name);
        }
        pl->nslots = nslots;
        pl->w = sp_calloc(nslots, sizeof(*pl->w));
        if (!pl->w) {
            return conf_fail_at(err, errlen, pl->where, "out of memory");
        }
        for (unsigned k = 0; k < nslots; k++) {
            pl->w[k].stamp = sp_calloc(pl->n, sizeof(uint64_t));
            if (!pl->w[k].stamp) {
                return conf_fail_at(err, errlen, pl->where, "out of memory");
            }
        }
    }
    return 0;
}

const struct conf_module redirect_pool_module = {
    .name = "redirect_pool",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct pool_main)},
    .finish = pools_finish,
};

/* ---------------------------------------------------------------- choosing (workers) */

uint64_t redirect_pool_target_id(const char *url)
{
    return fixed_hash(url, strlen(url));
}

unsigned redirect_pool_rendezvous(const uint64_t *ids, unsigned n, const void *key, size_t len)
{
    uint64_t k = fixed_hash(key, len), best = 0;
    unsigned pick = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t w = mix(k ^ ids[i]);
        if (i == 0 || w > best) {
            best = w;
            pick = i;
        }
    }
    return pick;
}

/* Rendezvous hashing over the pool's targets. */
static unsigned by_hash(const struct pool *pl, const void *key, size_t len)
{
    uint64_t ids[64];
    unsigned n = pl->n < 64 ? pl->n : 64;
    for (unsigned i = 0; i < n; i++) {
        ids[i] = pl->t[i].id;
    }
    return redirect_pool_rendezvous(ids, n, key, len);
}

static unsigned by_client(struct req *r, const struct pool *pl)
{
    const struct sockaddr_storage *ss = r->proto->peer ? r->proto->peer(r) : NULL;
    if (!ss) {
        return 0;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        return by_hash(pl, &a->sin6_addr, sizeof(a->sin6_addr));
    }
    const struct sockaddr_in *a = (const void *)ss;
    return by_hash(pl, &a->sin_addr, sizeof(a->sin_addr));
}

/* The value of cookie name, or SLICE_NULL. */
static struct slice cookie(struct req *r, struct slice name)
{
    if (!r->msg) {
        return SLICE_NULL;
    }
    for (const struct http_header *f = hdr_get(&r->msg->headers, SLICE_LIT("cookie")); f;
         f = hdr_next_dup(&r->msg->headers, f)) {
        struct slice v = uri_param(f->value, name, ';');
        if (v.ptr) {
            return v;
        }
    }
    return SLICE_NULL;
}

static unsigned by_cookie(struct req *r, const struct pool *pl)
{
    char name[160];
    int nl = pl->cookie ? snprintf(name, sizeof(name), "%s", pl->cookie)
                        : snprintf(name, sizeof(name), "spate_pool_%s", pl->name);
    struct slice v = cookie(r, slice_make(name, (size_t)nl));
    for (unsigned i = 0; v.len && i < pl->n; i++) {
        if (slice_eq(v, slice_cstr(pl->t[i].hex))) {
            return i; /* a returning client: its target, as long as it exists */
        }
    }
    unsigned pick = by_client(r, pl);
    size_t cap = (size_t)nl + 17 + 48;
    char *c = arena_alloc(r->arena, cap);
    if (c) {
        int n = snprintf(c, cap, "%s=%s; Path=/; HttpOnly; SameSite=Lax", name, pl->t[pick].hex);
        r->set_cookie = slice_make(c, (size_t)n);
    }
    return pick;
}

struct slice http_pool_pick(struct req *r, struct slice name)
{
    if (slot < 0 || !r->loc) {
        return SLICE_NULL;
    }
    const struct conf_block *b = r->loc->block;
    while (b->parent) {
        b = b->parent;
    }
    const struct pool_main *m = conf_get(b, (unsigned)slot, CONF_STORE_MAIN);
    const struct pool *pl = NULL;
    for (unsigned i = 0; i < m->pools.n && !pl; i++) {
        if (slice_eq(slice_cstr(m->pools.v[i].name), name)) {
            pl = &m->pools.v[i];
        }
    }
    if (!pl) {
        return SLICE_NULL;
    }
    struct pool_worker *w = &pl->w[r->env->worker % pl->nslots];
    unsigned pick = 0;
    switch (pl->policy) {
    case P_ROUND_ROBIN:
        pick = w->next++ % pl->n;
        break;
    case P_LEAST_RECENT:
        for (unsigned i = 1; i < pl->n; i++) {
            if (w->stamp[i] < w->stamp[pick]) {
                pick = i;
            }
        }
        w->stamp[pick] = ++w->clock;
        break;
    case P_HASH:
        pick = by_client(r, pl);
        break;
    default:
        pick = by_cookie(r, pl);
        break;
    }
    return slice_cstr(pl->t[pick].url);
}
