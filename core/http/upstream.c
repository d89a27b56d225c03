/* upstream.c - choosing peers, their health, idle connections, the coarse watch (upstream.h). */
#include "core/http/upstream.h"

#include "core/base/alloc.h"
#include "core/http/vars.h"
#include "core/io/loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#define RING_POINTS 160 /* per unit of weight, as nginx's consistent hash */
#define UPSTREAM_CHECK_IDLE_MS 1000

struct upstream_point {
    uint32_t hash;
    uint32_t peer;
};

struct peer_state {
    int64_t cw; /* smooth weighted round robin's current weight */
    uint32_t active, fails;
    uint64_t fail_at; /* ms of the last failure */
};

struct idle_conn {
    int fd;
    uint32_t peer, requests;
    uint64_t since_ms;
};

/* One worker's state of a group, written by that worker only; its own cache lines. */
struct upstream_worker {
    struct peer_state *ps;  /* [npeers] */
    struct idle_conn *idle; /* [keepalive], oldest first */
    uint32_t nidle;
    uint32_t rr;
    char pad[40];
};

/* A fixed 64-bit hash (FNV-1a, then a finalizer): the same on every node and every run, so a
 * fleet of spates sends a key to the same peer. */
static uint64_t fixed_hash(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static int point_cmp(const void *a, const void *b)
{
    const struct upstream_point *x = a, *y = b;
    if (x->hash != y->hash) {
        return x->hash < y->hash ? -1 : 1;
    }
    return x->peer < y->peer ? -1 : x->peer > y->peer;
}

/* The ring: RING_POINTS * weight points per peer, each from the peer's address text, so a
 * peer's points do not depend on the others (removing one moves only its keys). */
static int build_ring(struct upstream_group *g)
{
    unsigned n = 0;
    for (unsigned i = 0; i < g->npeers; i++) {
        n += RING_POINTS * g->peers[i].weight;
    }
    g->ring = sp_malloc(n * sizeof(*g->ring));
    if (!g->ring) {
        return -ENOMEM;
    }
    unsigned k = 0;
    for (unsigned i = 0; i < g->npeers; i++) {
        for (unsigned j = 0; j < RING_POINTS * g->peers[i].weight; j++) {
            char buf[160];
            int len = snprintf(buf, sizeof(buf), "%s-%u", g->peers[i].name, j);
            g->ring[k].hash = (uint32_t)(fixed_hash(buf, (size_t)len) >> 32);
            g->ring[k].peer = i;
            k++;
        }
    }
    qsort(g->ring, n, sizeof(*g->ring), point_cmp);
    g->npoints = n;
    return 0;
}

int upstream_group_prepare(struct upstream_group *g)
{
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    g->nslots = (unsigned)(cpus > 0 ? cpus : 1) * 2 + 2;
    g->w = sp_calloc(g->nslots, sizeof(*g->w));
    if (!g->w) {
        return -ENOMEM;
    }
    for (unsigned i = 0; i < g->nslots; i++) {
        g->w[i].ps = sp_calloc(g->npeers, sizeof(struct peer_state));
        g->w[i].idle = g->keepalive ? sp_calloc(g->keepalive, sizeof(struct idle_conn)) : NULL;
        if (!g->w[i].ps || (g->keepalive && !g->w[i].idle)) {
            return -ENOMEM;
        }
    }
    if (g->policy == UPSTREAM_HASH && g->consistent && build_ring(g) < 0) {
        return -ENOMEM;
    }
    return 0;
}

void upstream_group_free(struct upstream_group *g)
{
    if (!g) {
        return;
    }
    for (unsigned i = 0; g->w && i < g->nslots; i++) {
        /* the generation is over: no worker uses these any more, and nothing is in flight */
        for (unsigned k = 0; k < g->w[i].nidle; k++) {
            close(g->w[i].idle[k].fd);
        }
        sp_free(g->w[i].ps);
        sp_free(g->w[i].idle);
    }
    sp_free(g->w);
    sp_free(g->ring);
    sp_free(g->peers);
    sp_free(g->name);
    sp_free(g->hash_text);
    http_script_free(g->hash_key);
    sp_free(g);
}

static struct upstream_worker *worker_of(const struct http_env *env,
                                         const struct upstream_group *g)
{
    return &g->w[env->worker % g->nslots];
}

/* ---------------------------------------------------------------- choosing */

static bool live(const struct upstream_group *g, const struct upstream_worker *w, unsigned i,
                 uint64_t now)
{
    const struct upstream_peer *p = &g->peers[i];
    if (p->down) {
        return false;
    }
    const struct peer_state *s = &w->ps[i];
    return !(p->max_fails && s->fails >= p->max_fails && now - s->fail_at < p->fail_timeout_ms);
}

static bool usable(const struct upstream_group *g, const struct upstream_worker *w,
                   const struct upstream_try *t, unsigned i, uint64_t now)
{
    return !(t->tried & (1ull << i)) && live(g, w, i, now);
}

/* Smooth weighted round robin (nginx's) over the usable peers of [lo, hi); with least, only
 * those with the fewest active connections per weight. -1: none. */
static int by_weight(const struct upstream_group *g, struct upstream_worker *w,
                     const struct upstream_try *t, unsigned lo, unsigned hi, bool least,
                     uint64_t now)
{
    int best = -1;
    int64_t total = 0;
    unsigned la = 0, lw = 1; /* the least ratio so far: la / lw */
    if (least) {
        bool any = false;
        for (unsigned i = lo; i < hi; i++) {
            if (usable(g, w, t, i, now) &&
                (!any || (uint64_t)w->ps[i].active * lw < (uint64_t)la * g->peers[i].weight)) {
                la = w->ps[i].active;
                lw = g->peers[i].weight;
                any = true;
            }
        }
    }
    for (unsigned i = lo; i < hi; i++) {
        if (!usable(g, w, t, i, now)) {
            continue;
        }
        if (least && (uint64_t)w->ps[i].active * lw != (uint64_t)la * g->peers[i].weight) {
            continue;
        }
        w->ps[i].cw += g->peers[i].weight;
        total += g->peers[i].weight;
        if (best < 0 || w->ps[i].cw > w->ps[best].cw) {
            best = (int)i;
        }
    }
    if (best >= 0) {
        w->ps[best].cw -= total;
    }
    return best;
}

static int by_hash(struct req *r, const struct upstream_group *g, struct upstream_worker *w,
                   struct upstream_try *t, uint64_t now)
{
    if (!t->hashed) {
        struct slice key = SLICE_NULL;
        if (r->msg && http_script_eval(r, g->hash_key, HTTP_SCRIPT_RAW, &key) < 0) {
            key = SLICE_NULL;
        }
        t->hash = fixed_hash(key.ptr ? key.ptr : "", key.len);
        t->hashed = true;
    }
    if (g->consistent) {
        uint32_t h = (uint32_t)(t->hash >> 32);
        unsigned lo = 0, hi = g->npoints;
        while (lo < hi) {
            unsigned mid = (lo + hi) / 2;
            if (g->ring[mid].hash < h) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for (unsigned k = 0; k < g->npoints; k++) {
            unsigned peer = g->ring[(lo + k) % g->npoints].peer;
            if (usable(g, w, t, peer, now)) {
                return (int)peer;
            }
        }
        return -1;
    }
    /* plain hash: the key picks a peer by weight; a peer that cannot take it, a rehash */
    uint32_t total = 0;
    for (unsigned i = 0; i < g->npeers; i++) {
        total += g->peers[i].weight;
    }
    uint64_t h = t->hash;
    for (unsigned tries = 0; tries < 20; tries++) {
        uint32_t x = (uint32_t)(h % total);
        unsigned i = 0;
        while (x >= g->peers[i].weight) {
            x -= g->peers[i].weight;
            i++;
        }
        if (usable(g, w, t, i, now)) {
            return (int)i;
        }
        h = fixed_hash(&h, sizeof(h));
    }
    return by_weight(g, w, t, 0, g->npeers, false, now);
}

int upstream_pick(struct req *r, const struct upstream_group *g, struct upstream_try *t)
{
    struct upstream_worker *w = worker_of(r->env, g);
    uint64_t now = r->env->loop->now_ms;
    int pick;
    if (g->npeers == 1) {
        pick = t->tried ? -1 : 0; /* a single server is never marked down (nginx's rule) */
        if (g->peers[0].down) {
            pick = -1;
        }
    } else if (g->policy == UPSTREAM_HASH) {
        pick = by_hash(r, g, w, t, now);
    } else {
        bool least = g->policy == UPSTREAM_LEAST_CONN;
        pick = by_weight(g, w, t, 0, g->nprimary, least, now);
        if (pick < 0) {
            pick = by_weight(g, w, t, g->nprimary, g->npeers, least, now);
        }
    }
    if (pick >= 0) {
        t->tried |= 1ull << pick;
        t->count++;
    }
    return pick;
}

void upstream_failed(struct http_env *env, const struct upstream_group *g, unsigned peer)
{
    struct peer_state *s = &worker_of(env, g)->ps[peer];
    s->fails++;
    s->fail_at = env->loop->now_ms;
}

void upstream_ok(struct http_env *env, const struct upstream_group *g, unsigned peer)
{
    worker_of(env, g)->ps[peer].fails = 0;
}

/* ---------------------------------------------------------------- connections */

/* An idle connection the peer did not close meanwhile (nothing to read, no EOF). */
static bool still_open(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

int upstream_take(struct http_env *env, const struct upstream_group *g, unsigned peer,
                  bool with_body, struct upstream_conn *uc)
{
    struct upstream_worker *w = worker_of(env, g);
    struct io_loop *l = env->loop;
    uc->fd = -1;
    uc->peer = peer;
    uc->requests = 0;
    uc->reused = false;
    /* the most recent idle connection to this peer; expired or closed ones go on the way */
    for (uint32_t k = w->nidle; k-- > 0;) {
        struct idle_conn *ic = &w->idle[k];
        bool expired = l->now_ms - ic->since_ms >= g->keepalive_timeout_ms;
        if (ic->peer != peer && !expired) {
            continue;
        }
        int fd = ic->fd;
        uint32_t requests = ic->requests;
        memmove(ic, ic + 1, (w->nidle - k - 1) * sizeof(*ic));
        w->nidle--;
        /* a connection idle for a moment is taken as it is (a close found later is retried
         * once on a new one, for a request without a body); a longer idle one is checked */
        bool check = l->now_ms - ic->since_ms >= UPSTREAM_CHECK_IDLE_MS || with_body;
        if (expired || (check && !still_open(fd))) {
            io_close(l, fd);
            continue;
        }
        uc->fd = fd;
        uc->requests = requests;
        uc->reused = true;
        break;
    }
    if (uc->fd < 0) {
        const struct upstream_peer *p = &g->peers[peer];
        uc->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (uc->fd < 0) {
            return -errno;
        }
        if (p->addr.ss_family != AF_UNIX) {
            int one = 1;
            (void)setsockopt(uc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
    }
    w->ps[peer].active++;
    return 0;
}

void upstream_give(struct http_env *env, const struct upstream_group *g, struct upstream_conn *uc,
                   bool reuse)
{
    struct upstream_worker *w = worker_of(env, g);
    struct io_loop *l = env->loop;
    if (w->ps[uc->peer].active) {
        w->ps[uc->peer].active--;
    }
    if (uc->fd < 0) {
        return;
    }
    uc->requests++;
    if (reuse && g->keepalive && uc->requests < g->keepalive_requests && !env->draining) {
        if (w->nidle == g->keepalive) {
            io_close(l, w->idle[0].fd); /* the oldest makes room */
            memmove(w->idle, w->idle + 1, (w->nidle - 1) * sizeof(*w->idle));
            w->nidle--;
        }
        w->idle[w->nidle++] = (struct idle_conn){uc->fd, uc->peer, uc->requests, l->now_ms};
    } else {
        io_close(l, uc->fd);
    }
    uc->fd = -1;
}

/* ---------------------------------------------------------------- the coarse watch */

#define WATCH_TICK_MS 100

static _Thread_local struct timer_list watch_list;
static _Thread_local struct io_loop *watch_loop;

static void watch_fired(struct timer_list *tl, struct timer_node *n)
{
    struct upstream_watch *w = container_of(n, struct upstream_watch, node);
    struct io_loop *l = tl->owner;
    if (w->deadline_ms != UINT64_MAX && l->now_ms >= w->deadline_ms) {
        w->deadline_ms = UINT64_MAX;
        w->fire(w);
        return;
    }
    timer_arm(tl, n, l->now_ms);
}

void upstream_watch_start(struct io_loop *l, struct upstream_watch *w)
{
    if (watch_loop != l) {
        /* once per worker: the loop keeps the list for the thread's life */
        timer_list_init(&watch_list, WATCH_TICK_MS, 0);
        watch_list.fired = watch_fired;
        watch_list.owner = l;
        io_loop_add_timers(l, &watch_list);
        watch_loop = l;
    }
    timer_arm(&watch_list, &w->node, l->now_ms);
}

void upstream_watch_stop(struct upstream_watch *w)
{
    timer_cancel(&w->node);
}
