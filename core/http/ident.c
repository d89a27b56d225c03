/* ident.c - the `ident` module (see ident.h). */
#include "core/http/ident.h"

#include "core/base/alloc.h"
#include "core/conf/types.h"
#include "core/http/client_id.h"
#include "core/http/h1_state.h"
#include "core/io/loop.h"
#include "proto/ident.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IDENT_PORT 113

struct ident_conf {
    bool on;
    uint32_t timeout_ms;
};

static int slot = -1;

/* One lookup: connect, send, then receives until a line; a timer bounds the whole. */
struct ident_lookup {
    struct io_op io; /* the connect, the send, each receive: one at a time */
    struct io_sleep timer;
    struct io_loop *loop;
    struct client_id *id;             /* NULL once settled */
    struct ident_lookup *prev, *next; /* the worker's lookups (freed at exit) */
    int fd;
    bool io_out, timer_out, cancelled;
    unsigned client_port, server_port;
    socklen_t dstlen;
    struct sockaddr_storage dst;
    uint32_t qlen, got;
    char query[16];
    char buf[IDENT_REPLY_MAX + 1];
};

static _Thread_local struct ident_lookup *t_lookups;
static _Thread_local unsigned t_out; /* lookups of this worker in flight */

bool ident_wanted(const struct route_server *s)
{
    if (slot < 0 || !s || !s->block) {
        return false;
    }
    const struct ident_conf *c = conf_get(s->block, (unsigned)slot, CONF_STORE_SRV);
    return c && c->on;
}

static void lookup_free(struct ident_lookup *k)
{
    t_out--;
    if (k->prev) {
        k->prev->next = k->next;
    } else {
        t_lookups = k->next;
    }
    if (k->next) {
        k->next->prev = k->prev;
    }
    if (k->fd >= 0) {
        io_close(k->loop, k->fd);
    }
    sp_free(k);
}

/* The lookup is over (user: the answer, or NULL): settles the connection's record, stops what
 * is still out, and frees itself once nothing is. */
static void finish(struct ident_lookup *k, const char *user, size_t len)
{
    if (k->id) {
        client_id_store(&k->id->user, user, len);
        client_id_settle(k->id);
        k->id = NULL;
    }
    if (!k->cancelled) {
        k->cancelled = true;
        if (k->io_out) {
            io_cancel(k->loop, &k->io);
        }
        if (k->timer_out) {
            io_cancel(k->loop, &k->timer.op);
        }
    }
    if (!k->io_out && !k->timer_out) {
        lookup_free(k);
    }
}

static void on_recv(struct io_op *op, int res, unsigned flags);

static void recv_more(struct ident_lookup *k)
{
    io_op_init(&k->io, on_recv);
    k->io_out = true;
    io_recv(k->loop, &k->io, k->fd, k->buf + k->got, sizeof(k->buf) - k->got);
}

static void on_recv(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct ident_lookup *k = container_of(op, struct ident_lookup, io);
    k->io_out = false;
    if (!k->id || res <= 0) {
        finish(k, NULL, 0); /* settled already, an error, or EOF before a whole line */
        return;
    }
    k->got += (uint32_t)res;
    struct ident_reply rep;
    enum ident_status st = ident_parse(k->buf, k->got, k->client_port, k->server_port, &rep);
    if (st == IDENT_MORE && k->got < sizeof(k->buf)) {
        recv_more(k);
        return;
    }
    if (st == IDENT_USERID) {
        finish(k, rep.user.ptr, rep.user.len);
    } else {
        finish(k, NULL, 0); /* ERROR, malformed or over-long: "-" */
    }
}

static void on_sent(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct ident_lookup *k = container_of(op, struct ident_lookup, io);
    k->io_out = false;
    if (!k->id || res != (int)k->qlen) {
        finish(k, NULL, 0);
        return;
    }
    recv_more(k);
}

static void on_connected(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct ident_lookup *k = container_of(op, struct ident_lookup, io);
    k->io_out = false;
    if (!k->id || res < 0) {
        finish(k, NULL, 0); /* refused, unreachable, or timed out meanwhile */
        return;
    }
    io_op_init(&k->io, on_sent);
    k->io_out = true;
    io_send(k->loop, &k->io, k->fd, k->query, k->qlen, MSG_NOSIGNAL);
}

static void on_timeout(struct io_op *op, int res, unsigned flags)
{
    (void)res, (void)flags;
    struct ident_lookup *k = container_of(op, struct ident_lookup, timer.op);
    k->timer_out = false;
    finish(k, NULL, 0); /* the timeout, or its cancel after the answer */
}

static unsigned port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    }
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
    if (ss->ss_family == AF_INET) {
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    } else {
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    }
}

void ident_start(struct h1_conn *h, const struct route_server *s, struct client_id *id)
{
    const struct ident_conf *c = conf_get(s->block, (unsigned)slot, CONF_STORE_SRV);
    const struct sockaddr_storage *peer = conn_peer(&h->c);
    struct sockaddr_storage local;
    socklen_t llen = sizeof(local);
    if (!peer || (peer->ss_family != AF_INET && peer->ss_family != AF_INET6) ||
        getsockname(h->c.tr.fd, (struct sockaddr *)&local, &llen) < 0 ||
        local.ss_family != peer->ss_family) {
        return; /* a unix socket, or no address: nothing to ask */
    }
    if (t_out >= IDENT_INFLIGHT) {
        return; /* the ident servers are not keeping up: this client goes without ("-") */
    }
    struct ident_lookup *k = sp_calloc(1, sizeof(*k));
    if (!k) {
        return;
    }
    k->loop = h1_env_of(h)->http.loop;
    k->fd = socket(peer->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    k->client_port = port_of(peer);
    k->server_port = port_of(&local);
    set_port(&local, 0);
    /* the port comes with the connect, from the 4-tuple: a bind to port 0 alone would search
     * the whole ephemeral range for a port no socket holds (costly with many in TIME_WAIT) */
    int one = 1;
    if (k->fd >= 0) {
        (void)setsockopt(k->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    }
    if (k->fd < 0 || bind(k->fd, (struct sockaddr *)&local, llen) < 0) {
        if (k->fd >= 0) {
            close(k->fd);
        }
        sp_free(k);
        return;
    }
    t_out++;
    k->next = t_lookups;
    if (t_lookups) {
        t_lookups->prev = k;
    }
    t_lookups = k;
    k->id = id;
    client_id_expect(id);
    k->qlen = (uint32_t)ident_query(k->query, k->client_port, k->server_port);
    memcpy(&k->dst, peer, sizeof(k->dst));
    set_port(&k->dst, IDENT_PORT);
    k->dstlen =
        peer->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    io_op_init(&k->io, on_connected);
    k->io_out = true;
    io_connect(k->loop, &k->io, k->fd, (const struct sockaddr *)&k->dst, k->dstlen);
    io_op_init(&k->timer.op, on_timeout);
    k->timer_out = true;
    io_sleep(k->loop, &k->timer, c->timeout_ms);
}

void ident_worker_exit(bool stuck)
{
    while (t_lookups) {
        struct ident_lookup *k = t_lookups;
        t_lookups = k->next;
        if (k->id) {
            client_id_settle(k->id); /* its held lines go out now, with "-" */
        }
        t_out--;
        if (stuck) {
            continue; /* the kernel may still write into it: exiting frees it */
        }
        if (k->fd >= 0) {
            close(k->fd);
        }
        sp_free(k);
    }
}

/* ---------------------------------------------------------------- configuration */

#define OFF(f) offsetof(struct ident_conf, f)
#define CTX (CONF_MAIN | CONF_SERVER)

static const struct conf_row rows[] = {
    {"ident", CTX, CONF_STORE_SRV, 1, 1, 0, &conf_flag, OFF(on), "off", 0, 0, "on", NULL},
    {"ident_timeout", CTX, CONF_STORE_SRV, 1, 1, 0, &conf_msec32, OFF(timeout_ms), "2s", 1, 60000,
     "500ms", NULL},
};

static int ident_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    slot = (int)s;
    return 0;
}

const struct conf_module ident_module = {
    .name = "ident",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_SRV] = sizeof(struct ident_conf)},
    .finish = ident_finish,
};
