/* fastcgi_pool.c - FastCGI connections and the worker's idle pool (see fastcgi_pool.h). */
#include "core/handlers/fastcgi_pool.h"

#include "core/base/alloc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static _Thread_local struct fcgi_conn *t_all;  /* every connection */
static _Thread_local struct fcgi_conn *t_idle; /* idle ones, newest first */
static _Thread_local struct fcgi_conn *t_idle_tail;
static _Thread_local unsigned t_nidle;

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

/* At the worker thread's exit (its ring is gone: nothing will complete any more). */
static void on_thread_exit(void *arg)
{
    (void)arg;
    while (t_all) {
        struct fcgi_conn *c = t_all;
        t_all = c->next;
        if (c->fd >= 0) {
            close(c->fd);
        }
        sp_free(c->wbuf);
        sp_free(c->rbuf);
        sp_free(c);
    }
    t_idle = t_idle_tail = NULL;
    t_nidle = 0;
}

static void make_key(void)
{
    (void)pthread_key_create(&exit_key, on_thread_exit);
}

unsigned fcgi_pool_idle(void)
{
    return t_nidle;
}

struct fcgi_conn *fcgi_conn_open(struct io_loop *l, const struct sockaddr_storage *addr,
                                 socklen_t len)
{
    pthread_once(&exit_once, make_key);
    if (!t_all) {
        (void)pthread_setspecific(exit_key, (void *)1); /* the destructor runs only if set */
    }
    struct fcgi_conn *c = sp_calloc(1, sizeof(*c));
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->wbuf = sp_malloc(FCGI_WBUF);
    c->rbuf = sp_malloc(FCGI_RBUF);
    c->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (!c->wbuf || !c->rbuf || c->fd < 0) {
        int e = c->fd < 0 ? errno : ENOMEM;
        if (c->fd >= 0) {
            close(c->fd);
        }
        sp_free(c->wbuf);
        sp_free(c->rbuf);
        sp_free(c);
        errno = e;
        return NULL;
    }
    c->wcap = FCGI_WBUF;
    c->loop = l;
    memcpy(&c->addr, addr, len);
    c->addrlen = len;
    c->next = t_all;
    if (t_all) {
        t_all->prev = c;
    }
    t_all = c;
    return c;
}

static void idle_unlink(struct fcgi_conn *c)
{
    if (!c->idle) {
        return;
    }
    if (c->iprev) {
        c->iprev->inext = c->inext;
    } else {
        t_idle = c->inext;
    }
    if (c->inext) {
        c->inext->iprev = c->iprev;
    } else {
        t_idle_tail = c->iprev;
    }
    c->iprev = c->inext = NULL;
    c->idle = false;
    t_nidle--;
}

static void conn_free(struct fcgi_conn *c)
{
    idle_unlink(c);
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        t_all = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    if (c->fd >= 0) {
        io_close(c->loop, c->fd);
    }
    sp_free(c->wbuf);
    sp_free(c->rbuf);
    sp_free(c);
}

/* An idle connection leaves the pool for good: its poll is cancelled, and it is freed once
 * the poll's completion came back. */
static void idle_close(struct fcgi_conn *c)
{
    idle_unlink(c);
    c->fate = FCGI_CLOSE;
    if (c->idle_out) {
        io_cancel(c->loop, &c->idle_op);
        return;
    }
    conn_free(c);
}

static void on_idle_event(struct io_op *op, int res, unsigned flags)
{
    (void)res, (void)flags;
    struct fcgi_conn *c = container_of(op, struct fcgi_conn, idle_op);
    c->idle_out = false;
    if (c->idle) {
        /* input, or the close of the server, on a connection no request is waiting on */
        idle_close(c);
        return;
    }
    fcgi_conn_settle(c); /* cancelled because it was taken, or closed meanwhile */
}

void fcgi_conn_settle(struct fcgi_conn *c)
{
    if (c->fate == FCGI_BUSY || c->out || c->idle_out) {
        return;
    }
    if (c->fate == FCGI_CLOSE) {
        conn_free(c);
        return;
    }
    /* FCGI_KEEP: into the pool, newest first; the oldest goes past the bound */
    if (t_nidle >= FCGI_POOL_IDLE_MAX && t_idle_tail) {
        idle_close(t_idle_tail);
    }
    c->fr = NULL;
    c->idle = true;
    c->idle_since_ms = c->loop->now_ms;
    c->iprev = NULL;
    c->inext = t_idle;
    if (t_idle) {
        t_idle->iprev = c;
    } else {
        t_idle_tail = c;
    }
    t_idle = c;
    t_nidle++;
    io_op_init(&c->idle_op, on_idle_event);
    c->idle_out = true;
    io_poll(c->loop, &c->idle_op, c->fd, POLLIN);
}

void fcgi_conn_done(struct fcgi_conn *c, enum fcgi_fate fate)
{
    c->fr = NULL;
    c->fate = (uint8_t)fate;
    fcgi_conn_settle(c);
}

struct fcgi_conn *fcgi_pool_take(struct io_loop *l, const struct sockaddr_storage *addr,
                                 socklen_t len)
{
    for (struct fcgi_conn *c = t_idle, *next; c; c = next) {
        next = c->inext;
        if (c->addrlen != len || memcmp(&c->addr, addr, len) != 0) {
            continue;
        }
        char b;
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        bool alive = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        if (!alive || l->now_ms - c->idle_since_ms > FCGI_POOL_IDLE_MS) {
            idle_close(c); /* closed by the server, unasked-for bytes, or idle too long */
            continue;
        }
        idle_unlink(c);
        if (c->idle_out) {
            io_cancel(l, &c->idle_op); /* its completion comes back later: settle waits */
        }
        c->fate = FCGI_BUSY;
        c->reused = true;
        return c;
    }
    return NULL;
}
