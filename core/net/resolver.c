/* resolver.c - see resolver.h. */
#include "core/net/resolver.h"

#include "core/base/alloc.h"
#include "core/io/loop.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

/* A socket c-ares watches: one poll through the ring at a time. Freed when its poll is over
 * and c-ares let go of it (a poll still out keeps it, the resolver may be gone by then). */
struct rsock {
    struct io_op op;
    struct resolver *rs;
    struct rsock *next;
    int fd;
    unsigned want, armed; /* poll masks: what c-ares wants, what the poll out asks */
    bool dead, in_cb;
};

/* The timeout timer, apart for the same reason. */
struct rtimer {
    struct io_sleep s;
    struct resolver *rs;
    bool armed;
};

struct resolver {
    struct io_loop *loop;
    ares_channel ch;
    struct rsock *socks;
    struct rtimer *timer;
    unsigned busy;
    bool ring_gone;
};

struct rquery {
    struct resolver *rs;
    resolver_name_fn name_fn;
    resolver_addrs_fn addrs_fn;
    void *arg;
    int family;
    unsigned char addr[16];
};

int resolver_library_init(void)
{
    return ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS ? 0 : -1;
}

void resolver_library_cleanup(void)
{
    ares_library_cleanup();
}

unsigned resolver_busy(const struct resolver *rs)
{
    return rs->busy;
}

static void sock_free(struct rsock *s)
{
    sp_free(s);
}

static void on_poll(struct io_op *op, int res, unsigned flags);

static void arm(struct rsock *s)
{
    if (s->dead || s->rs->ring_gone) {
        return;
    }
    if (s->armed) {
        if (s->armed != s->want) {
            io_cancel(s->rs->loop, &s->op); /* re-armed with the new mask when it completes */
        }
        return;
    }
    if (!s->want) {
        return;
    }
    s->armed = s->want;
    io_op_init(&s->op, on_poll);
    io_poll(s->rs->loop, &s->op, s->fd, s->want);
}

static void schedule_timer(struct resolver *rs);

static void on_poll(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct rsock *s = container_of(op, struct rsock, op);
    s->armed = 0;
    if (s->dead) {
        sock_free(s);
        return;
    }
    if (res != -ECANCELED) {
        unsigned ev = res < 0 ? (POLLIN | POLLOUT) : (unsigned)res;
        s->in_cb = true;
        ares_process_fd(s->rs->ch, ev & (POLLIN | POLLERR | POLLHUP) ? s->fd : ARES_SOCKET_BAD,
                        ev & (POLLOUT | POLLERR) ? s->fd : ARES_SOCKET_BAD);
        s->in_cb = false;
        if (s->dead) {
            struct resolver *rs = s->rs;
            sock_free(s);
            schedule_timer(rs);
            return;
        }
        schedule_timer(s->rs);
    }
    arm(s);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct resolver *rs = data;
    struct rsock **pp = &rs->socks, *s;
    while ((s = *pp) && s->fd != fd) {
        pp = &s->next;
    }
    if (!readable && !writable) {
        if (!s) {
            return;
        }
        *pp = s->next;
        s->dead = true;
        if (s->armed && !rs->ring_gone) {
            io_cancel(rs->loop, &s->op); /* freed when the poll completes */
        } else if (!s->in_cb) {
            sock_free(s);
        }
        return;
    }
    if (!s) {
        if (!(s = sp_calloc(1, sizeof(*s)))) {
            return; /* out of memory: its query times out */
        }
        s->rs = rs;
        s->fd = fd;
        s->next = rs->socks;
        rs->socks = s;
    }
    s->want = (readable ? POLLIN : 0u) | (writable ? POLLOUT : 0u);
    arm(s);
}

static void on_timer(struct io_op *op, int res, unsigned flags)
{
    (void)res, (void)flags;
    struct rtimer *t = container_of(op, struct rtimer, s.op);
    t->armed = false;
    if (!t->rs) {
        sp_free(t); /* its resolver is gone */
        return;
    }
    ares_process_fd(t->rs->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* what timed out */
    schedule_timer(t->rs);
}

static void schedule_timer(struct resolver *rs)
{
    struct rtimer *t = rs->timer;
    if (!rs->busy || t->armed || rs->ring_gone) {
        return;
    }
    struct timeval tv, *tp = ares_timeout(rs->ch, NULL, &tv);
    uint64_t ms = tp ? (uint64_t)tp->tv_sec * 1000 + (uint64_t)tp->tv_usec / 1000 + 1 : 1000;
    t->armed = true;
    io_op_init(&t->s.op, on_timer);
    io_sleep(rs->loop, &t->s, ms > 1000 ? 1000 : ms);
}

struct resolver *resolver_new(struct io_loop *l, const struct resolver_params *p, char *err,
                              size_t errlen)
{
    struct resolver *rs = sp_calloc(1, sizeof(*rs));
    struct rtimer *t = sp_calloc(1, sizeof(*t));
    if (!rs || !t) {
        sp_free(rs);
        sp_free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rs->loop = l;
    rs->timer = t;
    t->rs = rs;
    struct ares_options o;
    memset(&o, 0, sizeof(o));
    o.timeout = (int)p->timeout_ms;
    o.tries = 1;
    o.sock_state_cb = sock_state;
    o.sock_state_cb_data = rs;
    int rc = ares_init_options(&rs->ch, &o,
                               ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
    if (rc == ARES_SUCCESS && p->servers) {
        rc = ares_set_servers_ports_csv(rs->ch, p->servers);
        if (rc != ARES_SUCCESS) {
            ares_destroy(rs->ch);
        }
    }
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "cannot set up the DNS resolver: %s", ares_strerror(rc));
        sp_free(t);
        sp_free(rs);
        return NULL;
    }
    return rs;
}

static enum resolver_status status_of(int st)
{
    switch (st) {
    case ARES_SUCCESS:
        return RESOLVER_OK;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
        return RESOLVER_NONAME;
    case ARES_ETIMEOUT:
        return RESOLVER_TIMEOUT;
    default:
        return RESOLVER_FAIL;
    }
}

/* The smallest TTL of the answer's records of type (a name's records share one in practice). */
static uint32_t answer_ttl(const unsigned char *abuf, int alen, int type)
{
    if (alen < 12) {
        return 0;
    }
    unsigned qd = (unsigned)abuf[4] << 8 | abuf[5], an = (unsigned)abuf[6] << 8 | abuf[7];
    const unsigned char *p = abuf + 12, *end = abuf + alen;
    char *name;
    long enc;
    for (unsigned i = 0; i < qd; i++) {
        if (ares_expand_name(p, abuf, alen, &name, &enc) != ARES_SUCCESS) {
            return 0;
        }
        ares_free_string(name);
        p += enc + 4;
        if (p > end) {
            return 0;
        }
    }
    uint32_t ttl = UINT32_MAX;
    for (unsigned i = 0; i < an; i++) {
        if (ares_expand_name(p, abuf, alen, &name, &enc) != ARES_SUCCESS) {
            break;
        }
        ares_free_string(name);
        p += enc;
        if (end - p < 10) {
            break;
        }
        int t = p[0] << 8 | p[1];
        uint32_t v = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
        unsigned rdlen = (unsigned)p[8] << 8 | p[9];
        if (t == type && v < ttl) {
            ttl = v;
        }
        p += 10 + rdlen;
        if (p > end) {
            break;
        }
    }
    return ttl == UINT32_MAX ? 0 : ttl;
}

static void query_done(struct rquery *q)
{
    q->rs->busy--;
    sp_free(q);
}

static void name_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct rquery *q = arg;
    enum resolver_status st = status_of(status);
    struct hostent *he = NULL;
    if (st == RESOLVER_OK &&
        ares_parse_ptr_reply(abuf, alen, q->addr, q->family == AF_INET ? 4 : 16, q->family, &he) !=
            ARES_SUCCESS) {
        st = RESOLVER_NONAME;
    }
    if (st == RESOLVER_OK && (!he || !he->h_name || !he->h_name[0])) {
        st = RESOLVER_NONAME;
    }
    q->name_fn(q->arg, st, st == RESOLVER_OK ? he->h_name : NULL,
               st == RESOLVER_OK ? answer_ttl(abuf, alen, T_PTR) : 0);
    if (he) {
        ares_free_hostent(he);
    }
    query_done(q);
}

void resolver_name(struct resolver *rs, const struct sockaddr_storage *addr, resolver_name_fn fn,
                   void *arg)
{
    struct rquery *q = sp_calloc(1, sizeof(*q));
    if (!q) {
        fn(arg, RESOLVER_FAIL, NULL, 0);
        return;
    }
    q->rs = rs;
    q->name_fn = fn;
    q->arg = arg;
    q->family = addr->ss_family;
    char qname[80];
    size_t n = 0;
    if (addr->ss_family == AF_INET) {
        memcpy(q->addr, &((const struct sockaddr_in *)addr)->sin_addr, 4);
        const unsigned char *b = q->addr;
        n = (size_t)snprintf(qname, sizeof(qname), "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1],
                             b[0]);
    } else {
        memcpy(q->addr, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
        static const char hex[] = "0123456789abcdef";
        for (int i = 15; i >= 0; i--) {
            qname[n++] = hex[q->addr[i] & 15];
            qname[n++] = '.';
            qname[n++] = hex[q->addr[i] >> 4];
            qname[n++] = '.';
        }
        memcpy(qname + n, "ip6.arpa", 9);
    }
    rs->busy++;
    ares_query(rs->ch, qname, C_IN, T_PTR, name_cb, q);
    schedule_timer(rs);
}

static void addrs_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct rquery *q = arg;
    enum resolver_status st = status_of(status);
    struct sockaddr_storage out[16];
    unsigned n = 0;
    uint32_t ttl = UINT32_MAX;
    if (st == RESOLVER_OK && q->family == AF_INET) {
        struct ares_addrttl at[16];
        int nat = 16;
        if (ares_parse_a_reply(abuf, alen, NULL, at, &nat) != ARES_SUCCESS) {
            nat = 0;
        }
        for (int i = 0; i < nat; i++) {
            struct sockaddr_in *a = (struct sockaddr_in *)&out[n++];
            memset(a, 0, sizeof(out[0]));
            a->sin_family = AF_INET;
            a->sin_addr = at[i].ipaddr;
            ttl = (uint32_t)at[i].ttl < ttl ? (uint32_t)at[i].ttl : ttl;
        }
    } else if (st == RESOLVER_OK) {
        struct ares_addr6ttl at[16];
        int nat = 16;
        if (ares_parse_aaaa_reply(abuf, alen, NULL, at, &nat) != ARES_SUCCESS) {
            nat = 0;
        }
        for (int i = 0; i < nat; i++) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out[n++];
            memset(a, 0, sizeof(out[0]));
            a->sin6_family = AF_INET6;
            memcpy(&a->sin6_addr, &at[i].ip6addr, 16);
            ttl = (uint32_t)at[i].ttl < ttl ? (uint32_t)at[i].ttl : ttl;
        }
    }
    if (st == RESOLVER_OK && n == 0) {
        st = RESOLVER_NONAME;
    }
    q->addrs_fn(q->arg, st, out, n, st == RESOLVER_OK ? ttl : 0);
    query_done(q);
}

void resolver_addrs(struct resolver *rs, const char *name, int family, resolver_addrs_fn fn,
                    void *arg)
{
    struct rquery *q = sp_calloc(1, sizeof(*q));
    if (!q) {
        fn(arg, RESOLVER_FAIL, NULL, 0, 0);
        return;
    }
    q->rs = rs;
    q->addrs_fn = fn;
    q->arg = arg;
    q->family = family;
    rs->busy++;
    ares_query(rs->ch, name, C_IN, family == AF_INET ? T_A : T_AAAA, addrs_cb, q);
    schedule_timer(rs);
}

void resolver_free(struct resolver *rs, bool ring_gone)
{
    if (!rs) {
        return;
    }
    rs->ring_gone = ring_gone;
    ares_destroy(rs->ch); /* every query's callback runs, failed; every socket is let go */
    while (rs->socks) {   /* sockets c-ares never reported closed */
        struct rsock *s = rs->socks;
        rs->socks = s->next;
        s->dead = true;
        if (s->armed && !ring_gone) {
            io_cancel(rs->loop, &s->op);
        } else {
            sock_free(s);
        }
    }
    struct rtimer *t = rs->timer;
    if (t->armed && !ring_gone) {
        t->rs = NULL; /* freed when it fires or its cancel completes */
        io_cancel(rs->loop, &t->s.op);
    } else {
        sp_free(t);
    }
    sp_free(rs);
}
