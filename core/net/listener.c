/* listener.c - see listener.h. */
#include "core/net/listener.h"

#include "core/base/alloc.h"
#include "core/net/inherit.h"
#include "log/errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------- sockets (main thread) */

void listen_opts_default(struct listen_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->backlog = LISTEN_BACKLOG;
    o->rcvbuf = LISTEN_RCVBUF;
    o->keepalive = -1;
    o->ipv6only = true;
}

static void available_congestion(char *buf, size_t len)
{
    snprintf(buf, len, "?");
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_congestion_control", "re");
    if (f) {
        if (fgets(buf, (int)len, f)) {
            buf[strcspn(buf, "\n")] = 0;
        }
        fclose(f);
    }
}

int net_congestion_check(const char *name, char *msg, size_t msglen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(msg, msglen, "cannot check TCP congestion control \"%s\": %s", name,
                 strerror(errno));
        return -1;
    }
    int rc = setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, (socklen_t)strlen(name));
    int e = errno;
    close(fd);
    if (rc == 0) {
        return 0;
    }
    char avail[256];
    available_congestion(avail, sizeof(avail));
    if (e == EPERM) {
        snprintf(msg, msglen,
                 "TCP congestion control \"%s\" is not allowed here (net.ipv4."
                 "tcp_allowed_congestion_control; available: %s)",
                 name, avail);
    } else {
        snprintf(msg, msglen, "unknown TCP congestion control \"%s\" (available here: %s)", name,
                 avail);
    }
    return -1;
}

/* Sets the configured options on a listening socket. 0, or -errno with *what the option. */
static int apply_opts(int fd, const struct listen_opts *o, int family, const char **what)
{
    struct {
        bool on;
        int level, name, value;
        const char *what;
    } set[] = {
        {o->rcvbuf != 0, SOL_SOCKET, SO_RCVBUF, (int)o->rcvbuf, "rcvbuf"},
        {o->sndbuf != 0, SOL_SOCKET, SO_SNDBUF, (int)o->sndbuf, "sndbuf"},
        {o->notsent_lowat != 0, IPPROTO_TCP, TCP_NOTSENT_LOWAT, (int)o->notsent_lowat,
         "notsent_lowat"},
        {o->defer_s != 0, IPPROTO_TCP, TCP_DEFER_ACCEPT, (int)o->defer_s, "deferred"},
        {o->fastopen != 0, IPPROTO_TCP, TCP_FASTOPEN, (int)o->fastopen, "fastopen"},
        {o->keepalive >= 0, SOL_SOCKET, SO_KEEPALIVE, o->keepalive, "so_keepalive"},
        {o->keepidle != 0, IPPROTO_TCP, TCP_KEEPIDLE, o->keepidle, "so_keepalive"},
        {o->keepintvl != 0, IPPROTO_TCP, TCP_KEEPINTVL, o->keepintvl, "so_keepalive"},
        {o->keepcnt != 0, IPPROTO_TCP, TCP_KEEPCNT, o->keepcnt, "so_keepalive"},
        {family == AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY, o->ipv6only, "ipv6only"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(set); i++) {
        if (set[i].on &&
            setsockopt(fd, set[i].level, set[i].name, &set[i].value, sizeof(set[i].value)) < 0) {
            *what = set[i].what;
            return -errno;
        }
    }
    if (o->congestion[0] && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, o->congestion,
                                       (socklen_t)strlen(o->congestion)) < 0) {
        *what = "tcp_congestion";
        return -errno;
    }
    return 0;
}

static int make_socket(const struct net_addr *a, const struct listen_opts *o, bool reuseport,
                       int *out, const char **what)
{
    *what = NULL;
    /* non-blocking: a stopping worker sweeps the queue with accept4 (sweep()), and io_uring's
     * accepts try without waiting anyway */
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    /* inherited by accepted sockets: no per-connection setsockopt */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /*
     * The receive buffer's default (256k): a static server receives only request heads (and
     * bodies it discards), so a bounded buffer costs nothing, and it bounds what a multishot
     * receive can pull in before a pause for output backpressure takes effect (http/h1.c).
     */
    int rc = apply_opts(fd, o, a->ss.ss_family, what);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *out = fd;
    return 0;
}

static void listen_failed(const struct net_addr *a, const char *what, int rc, char *err,
                          size_t errlen)
{
    if (what) {
        snprintf(err, errlen, "cannot listen on %s: %s: %s", a->text, what, strerror(-rc));
    } else {
        snprintf(err, errlen, "cannot listen on %s: %s", a->text, strerror(-rc));
    }
}

int listen_open(struct net_addr *a, const struct listen_opts *o, unsigned n, int *fds, char *err,
                size_t errlen)
{
    for (unsigned i = 0; i < n; i++) {
        fds[i] = -1;
    }
    /* a binary upgrade: the old process's sockets first (inherit.h); it still holds the port */
    unsigned taken = 0;
    for (int fd; taken < n && (fd = inherit_take(a)) >= 0; taken++) {
        /* its socket options stay the old process's, as a reload keeps a kept address's
         * (some, ipv6only, cannot change on a bound socket) */
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK)) {
            fcntl(fd, F_SETFL, fl | O_NONBLOCK); /* as make_socket's (an older spate's were not) */
        }
        fds[taken] = fd;
        if (net_addr_port(a) == 0) {
            struct net_addr got = *a;
            socklen_t len = sizeof(got.ss);
            if (getsockname(fd, (struct sockaddr *)&got.ss, &len) == 0) {
                net_addr_set_port(a, net_addr_port(&got));
            }
        }
        if (listen(fd, (int)o->backlog) < 0) { /* the new configuration's backlog */
            snprintf(err, errlen, "cannot listen on %s: %s", a->text, strerror(errno));
            return -1;
        }
    }
    if (taken == 0 && net_addr_port(a) != 0) {
        /* a plain bind first: a port held by anyone (even with SO_REUSEPORT) is refused */
        int probe;
        const char *what;
        int rc = make_socket(a, o, false, &probe, &what);
        if (rc < 0) {
            listen_failed(a, what, rc, err, errlen);
            return -1;
        }
        close(probe);
    }
    for (unsigned i = taken; i < n; i++) {
        const char *what;
        int rc = make_socket(a, o, true, &fds[i], &what);
        if (rc < 0) {
            listen_failed(a, what, rc, err, errlen);
            return -1;
        }
        if (i == 0 && net_addr_port(a) == 0) {
            /* port 0: every other worker joins the port the kernel picked */
            struct net_addr got = *a;
            socklen_t len = sizeof(got.ss);
            if (getsockname(fds[0], (struct sockaddr *)&got.ss, &len) < 0) {
                snprintf(err, errlen, "getsockname: %s", strerror(errno));
                return -1;
            }
            net_addr_set_port(a, net_addr_port(&got));
        }
        if (listen(fds[i], (int)o->backlog) < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", a->text, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- accepting (worker) */

struct acceptor {
    struct io_op op;
    struct accept_set *set;
    struct acceptor *next;
    const void *key;
    int fd;
    unsigned index;
    bool armed;
    bool removed;
};

static void arm(struct accept_set *s, struct acceptor *a)
{
    io_accept_multishot(s->loop, &a->op, a->fd);
    a->armed = true;
}

static void unlink_acceptor(struct accept_set *s, struct acceptor *a)
{
    struct acceptor **pp = &s->list;
    while (*pp != a) {
        pp = &(*pp)->next;
    }
    *pp = a->next;
}

/* A removed acceptor whose accept has ended: nothing refers to it any more. */
static void reap(struct accept_set *s, struct acceptor *a)
{
    unlink_acceptor(s, a);
    s->removing--;
    sp_free(a);
}

/*
 * A stopped set's accept on a has ended: takes what waits in a's queue, at most a backlog's
 * worth (connections still arriving with nobody else accepting are not ours to chase).
 *
 * Why: the kernel wakes one polled accept per connection (io_uring polls accept with
 * EPOLLEXCLUSIVE), the first armed. When that is ours and the drain's cancel reaches it before
 * our ring ran the task work that accepts, the wake-up is spent: another process accepting on
 * the same socket (a binary upgrade's new one) is not told, and the connection waits in the
 * queue until another one arrives, maybe never. Ours is off the socket's wait queue now, so
 * every later connection wakes the other one; what is queued now we serve. A plain stop gains
 * too: those connections are served instead of reset when the socket closes.
 */
static void sweep(struct accept_set *s, struct acceptor *a)
{
    for (unsigned i = 0; i < LISTEN_BACKLOG; i++) {
        int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue; /* one reset while queued: the next */
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
            }
            return;
        }
        atomic_fetch_add_explicit(&s->accepted, 1, memory_order_relaxed);
        s->on_conn(s->arg, fd, a->index);
    }
}

static void on_accept(struct io_op *op, int res, unsigned flags)
{
    struct acceptor *a = container_of(op, struct acceptor, op);
    struct accept_set *s = a->set;
    if (!(flags & IO_MORE)) {
        a->armed = false;
    }
    if (res >= 0) {
        s->warned = false; /* the episode, if any, is over */
        if (a->removed) {
            close(res); /* accepted before the cancel took effect: the address is gone */
        } else {
            /* also when stopped: one accepted as the drain began is served (once), not reset */
            atomic_fetch_add_explicit(&s->accepted, 1, memory_order_relaxed);
            s->on_conn(s->arg, res, a->index);
        }
    } else if (res != -ECANCELED && !a->removed) {
        atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
        if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
            /* out of descriptors: keep serving what we have, try again shortly */
            if (!s->warned) {
                errlog(ERRLOG_WARN, "accept: %s; pausing new connections for %d ms at a time",
                       strerror(-res), ACCEPT_PAUSE_MS);
                s->warned = true;
            }
            s->paused = true;
            s->resume_ms = s->loop->now_ms + ACCEPT_PAUSE_MS;
            if (a->armed) {
                io_cancel(s->loop, &a->op);
            }
        }
    }
    if (a->removed) {
        if (!a->armed) {
            reap(s, a);
        }
        return;
    }
    if (!a->armed && s->stopped) {
        sweep(s, a); /* its last completion: nothing comes after it */
    } else if (!a->armed && !s->paused) {
        arm(s, a);
    }
}

void accept_set_init(struct accept_set *s, struct io_loop *l,
                     void (*on_conn)(void *arg, int fd, unsigned index), void *arg)
{
    memset(s, 0, sizeof(*s));
    s->loop = l;
    s->on_conn = on_conn;
    s->arg = arg;
}

void accept_set_fini(struct accept_set *s)
{
    while (s->list) {
        struct acceptor *a = s->list;
        s->list = a->next;
        sp_free(a);
    }
    s->n = s->removing = 0;
}

struct acceptor *accept_add(struct accept_set *s, int fd, unsigned index, const void *key)
{
    struct acceptor *a = sp_calloc(1, sizeof(*a));
    if (!a) {
        return NULL;
    }
    a->set = s;
    a->fd = fd;
    a->index = index;
    a->key = key;
    io_op_init(&a->op, on_accept);
    a->next = s->list;
    s->list = a;
    s->n++;
    if (s->started && !s->paused && !s->stopped) {
        arm(s, a);
    }
    return a;
}

struct acceptor *accept_find(const struct accept_set *s, const void *key)
{
    for (struct acceptor *a = s->list; a; a = a->next) {
        if (!a->removed && a->key == key) {
            return a;
        }
    }
    return NULL;
}

void accept_set_index(struct acceptor *a, unsigned index)
{
    a->index = index;
}

void accept_remove(struct accept_set *s, struct acceptor *a)
{
    ASSERT(!a->removed);
    a->removed = true;
    s->n--;
    s->removing++;
    if (a->armed) {
        io_cancel(s->loop, &a->op); /* its last completion reaps it */
    } else {
        reap(s, a);
    }
}

void accept_start(struct accept_set *s)
{
    s->started = true;
    for (struct acceptor *a = s->list; a; a = a->next) {
        if (!a->armed && !a->removed) {
            arm(s, a);
        }
    }
}

void accept_stop(struct accept_set *s)
{
    if (s->stopped) {
        return;
    }
    s->stopped = true;
    for (struct acceptor *a = s->list; a; a = a->next) {
        if (a->removed) {
            continue;
        }
        if (a->armed) {
            io_cancel(s->loop, &a->op); /* its last completion sweeps */
        } else if (s->started) {
            sweep(s, a); /* paused: nothing of ours waits on the socket */
        }
    }
}

bool accept_quiet(const struct accept_set *s)
{
    for (const struct acceptor *a = s->list; a; a = a->next) {
        if (a->armed) {
            return false;
        }
    }
    return true;
}

uint64_t accept_deadline(const struct accept_set *s)
{
    return s->paused && !s->stopped ? s->resume_ms : UINT64_MAX;
}

void accept_tick(struct accept_set *s)
{
    if (s->paused && !s->stopped && s->loop->now_ms >= s->resume_ms) {
        s->paused = false;
        accept_start(s);
    }
}
