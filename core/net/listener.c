/* listener.c - see listener.h. */
#include "core/net/listener.h"

#include "core/base/alloc.h"
#include "log/errlog.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096
#define LISTEN_RCVBUF (256 * 1024)

/* ---------------------------------------------------------------- sockets (main thread) */

static int make_socket(const struct net_addr *a, bool reuseport, int *out)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
    if (a->ss.ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    /* inherited by accepted sockets: no per-connection setsockopt */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /*
     * A static server receives only request heads (and bodies it discards), so a bounded
     * receive buffer costs nothing, and it bounds what a multishot receive can pull in before
     * a pause for output backpressure takes effect (see http/h1.c: stash).
     */
    int rcvbuf = LISTEN_RCVBUF;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *out = fd;
    return 0;
}

int listen_open(struct net_addr *a, unsigned n, int *fds, char *err, size_t errlen)
{
    for (unsigned i = 0; i < n; i++) {
        fds[i] = -1;
    }
    if (net_addr_port(a) != 0) {
        /* a plain bind first: a port held by anyone (even with SO_REUSEPORT) is refused */
        int probe;
        int rc = make_socket(a, false, &probe);
        if (rc < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", a->text, strerror(-rc));
            return -1;
        }
        close(probe);
    }
    for (unsigned i = 0; i < n; i++) {
        int rc = make_socket(a, true, &fds[i]);
        if (rc < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", a->text, strerror(-rc));
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
        if (listen(fds[i], LISTEN_BACKLOG) < 0) {
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
    int fd;
    unsigned index;
    bool armed;
};

static void arm(struct accept_set *s, struct acceptor *a)
{
    io_accept_multishot(s->loop, &a->op, a->fd);
    a->armed = true;
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
        if (s->stopped) {
            close(res);
        } else {
            atomic_fetch_add_explicit(&s->accepted, 1, memory_order_relaxed);
            s->on_conn(s->arg, res, a->index);
        }
    } else if (res != -ECANCELED) {
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
    if (!a->armed && !s->paused && !s->stopped) {
        arm(s, a);
    }
}

int accept_set_init(struct accept_set *s, struct io_loop *l, const int *fds, unsigned n,
                    void (*on_conn)(void *arg, int fd, unsigned index), void *arg)
{
    memset(s, 0, sizeof(*s));
    s->loop = l;
    s->on_conn = on_conn;
    s->arg = arg;
    s->a = sp_calloc(n ? n : 1, sizeof(*s->a));
    if (!s->a) {
        return -ENOMEM;
    }
    s->n = n;
    for (unsigned i = 0; i < n; i++) {
        s->a[i].set = s;
        s->a[i].fd = fds[i];
        s->a[i].index = i;
        io_op_init(&s->a[i].op, on_accept);
    }
    return 0;
}

void accept_set_fini(struct accept_set *s)
{
    sp_free(s->a);
    s->a = NULL;
    s->n = 0;
}

void accept_start(struct accept_set *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        if (!s->a[i].armed) {
            arm(s, &s->a[i]);
        }
    }
}

void accept_stop(struct accept_set *s)
{
    s->stopped = true;
    for (unsigned i = 0; i < s->n; i++) {
        if (s->a[i].armed) {
            io_cancel(s->loop, &s->a[i].op);
        }
    }
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
