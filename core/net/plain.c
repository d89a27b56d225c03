/*
 * plain.c - the plain socket transport (see transport.h).
 *
 * Receive: one multishot recv into the loop's provided-buffer ring; every
 * buffer is handed to the owner (data event) and returned to the ring in the
 * same turn, so slow clients never pin the shared pool. -ENOBUFS is not an
 * error: the receive is re-armed at the end of the turn.
 *
 * Send: at most one send in flight. Consecutive memory segments leave in one
 * send (or one sendmsg of up to OUTQ_IOV iovecs) with MSG_WAITALL, so the
 * kernel finishes short writes itself. File segments go out with sendfile(2)
 * on the non-blocking socket, at most sendfile_chunk per connection per turn,
 * with a POLLOUT poll when the socket is full. Before each chunk, cachestat(2)
 * says whether the range is in the page cache; if not, it is read with an
 * io_uring read into a per-connection bounce buffer and sent from there, so the
 * worker never waits for the disk inside sendfile.
 *
 * Close: the FIN is a shutdown linked behind the last send, which goes with
 * MSG_MORE so that the FIN rides on the response's last segment. abort cancels
 * what is in flight, and close(2) itself is a ring operation: closing a
 * connection makes no system call of its own.
 */
#include "core/net/plain.h"

#include "core/base/alloc.h"
#include "log/errlog.h"

#include <errno.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define COLD_CHUNK (256u * 1024) /* bytes read per cold read */
#define SEND_SLICE (256u * 1024) /* bytes a sendfile turn takes before it asks who waits */
#define COLD_MAX 64              /* connections per worker with a bounce buffer */

/* ---------------------------------------------------------------- entry and exit */

/* Every callback from the loop runs between enter and leave, so release comes last. */
static void enter(struct transport *t)
{
    t->pending++;
}

static void leave(struct transport *t)
{
    if (--t->pending == 0 && (t->flags & TR_CLOSED) && !t->rearm.queued && !t->resume.queued) {
        t->ev->release(t);
    }
}

static bool closed(const struct transport *t)
{
    return t->flags & TR_CLOSED;
}

/* ---------------------------------------------------------------- receive */

static void on_rearm(struct io_defer *d)
{
    struct transport *t = container_of(d, struct transport, rearm);
    enter(t);
    if ((t->flags & (TR_READING | TR_RECV | TR_CLOSED)) == TR_READING) {
        io_recv_multishot(t->env->loop, &t->recv_op, t->fd);
        t->flags |= TR_RECV;
        t->pending++;
    }
    leave(t);
}

static void read_start(struct transport *t)
{
    t->flags |= TR_READING;
    if (!(t->flags & (TR_RECV | TR_CLOSED))) {
        io_defer_arm(t->env->loop, &t->rearm);
    }
}

static void read_stop(struct transport *t)
{
    t->flags &= ~TR_READING;
    if (t->flags & TR_RECV) {
        io_cancel(t->env->loop, &t->recv_op);
    }
}

static void on_recv(struct io_op *op, int res, unsigned flags)
{
    struct transport *t = container_of(op, struct transport, recv_op);
    enter(t);
    if (!(flags & IO_MORE)) {
        t->flags &= ~TR_RECV;
        t->pending--;
    }
    if ((flags & IO_BUF) && res > 0 && !closed(t)) {
        /* delivered even after read_stop: bytes already received are never dropped */
        t->ev->data(t, io_buf(t->env->loop, flags), (size_t)res);
    }
    if (closed(t)) {
        leave(t);
        return;
    }
    if (res == 0) {
        t->ev->eof(t);
    } else if (res < 0 && res != -ENOBUFS && res != -ECANCELED) {
        t->ev->error(t, -res); /* ECONNRESET and friends */
    } else {
        if (res == -ENOBUFS) {
            atomic_fetch_add_explicit(&t->env->enobufs, 1, memory_order_relaxed);
        }
        if (!(flags & IO_MORE) && (t->flags & TR_READING)) {
            io_defer_arm(t->env->loop, &t->rearm);
        }
    }
    leave(t);
}

/* ---------------------------------------------------------------- send */

static void flush(struct transport *t);

/* The shutdown(2) of TR_FIN, once: now, or linked behind the send just prepared. */
static void send_fin(struct transport *t, bool linked)
{
    if (t->flags & TR_FIN_OUT) {
        return;
    }
    if (linked) {
        io_link(t->env->loop);
    }
    io_shutdown(t->env->loop, &t->shut_op, t->fd, (t->flags & TR_FIN_RD) ? SHUT_RDWR : SHUT_WR);
    t->flags |= TR_FIN_OUT;
    t->pending++;
}

static void on_shut(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct transport *t = container_of(op, struct transport, shut_op);
    enter(t);
    t->pending--;
    if (res == -ECANCELED) {
        /* the send it was linked to came up short: the FIN follows whatever is left */
        t->flags &= ~TR_FIN_OUT;
        if (!closed(t) && !(t->flags & TR_SENDING) && outq_empty(t->out)) {
            send_fin(t, false);
        }
    }
    leave(t);
}

static void consumed(struct transport *t, uint64_t n)
{
    outq_advance(t->out, n);
    t->ev->sent(t, n);
}

/* cachestat(2) (Linux 6.5): how much of a file range is in the page cache. */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct spate_cachestat_range {
    uint64_t off, len;
};

struct spate_cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

/* True unless the kernel says some page of [off, off + len) is not in the page cache. */
static bool range_cached(struct transport_env *env, int fd, uint64_t off, uint64_t len)
{
    if (!env->cachestat_ok) {
        return true;
    }
    struct spate_cachestat_range r = {off, len};
    struct spate_cachestat cs;
    if (syscall(__NR_cachestat, fd, &r, &cs, 0) < 0) {
        if (errno == ENOSYS) {
            env->cachestat_ok = false; /* old kernel: sendfile everything */
        }
        return true;
    }
    uint64_t pages = (off + len - 1) / 4096 - off / 4096 + 1;
    return cs.nr_cache >= pages;
}

/*
 * Is the next want bytes of file segment s in the page cache? A sendfile takes only what the
 * socket has room for (a few hundred KiB), far less than the chunk asked about, so the answer
 * for a chunk is kept (warm_*) and the calls within it ask no more: one cachestat per chunk,
 * not one per sendfile. A segment is known by its file and its end, which stay put while it
 * is sent; the knowledge is dropped when the segment is done (send_file).
 */
static bool known_cached(struct transport *t, const struct outq_seg *s, size_t want)
{
    uint64_t end = s->off + s->len;
    if (t->warm_ref == s->ref && t->warm_end == end && s->off + want <= t->warm_to) {
        return true;
    }
    if (!range_cached(t->env, s->ref->fd, s->off, want)) {
        return false;
    }
    t->warm_ref = s->ref;
    t->warm_end = end;
    t->warm_to = s->off + want;
    return true;
}

static void drop_bounce(struct transport *t)
{
    if (t->bounce) {
        sp_free(t->bounce);
        t->bounce = NULL;
        t->env->cold_buffers--;
    }
}

/*
 * Reads up to COLD_CHUNK bytes of the file segment at the head into the bounce
 * buffer; the read's completion sends them, and the send's completion consumes
 * them from the segment as sendfile would have. False: no buffer to be had.
 */
static bool cold_read(struct transport *t, const struct outq_seg *s)
{
    struct transport_env *env = t->env;
    if (!t->bounce) {
        if ((env->use_sendfile && env->cold_buffers >= COLD_MAX) ||
            !(t->bounce = sp_malloc(COLD_CHUNK))) {
            return false; /* too many at once: let sendfile wait for the disk */
        }
        env->cold_buffers++;
    }
    atomic_fetch_add_explicit(&env->reads, 1, memory_order_relaxed);
    io_read(env->loop, &t->read_op, s->ref->fd, t->bounce, (unsigned)MIN(s->len, COLD_CHUNK),
            s->off);
    t->flags |= TR_SENDING;
    t->pending++;
    return true;
}

static void shrank(struct transport *t)
{
    /* the file is shorter than when its length was sent: never pad with garbage */
    errlog(ERRLOG_WARN, "file shrank while being sent (conn %llu): closing connection",
           (unsigned long long)t->id);
    t->ev->error(t, EIO);
}

static void on_read(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct transport *t = container_of(op, struct transport, read_op);
    enter(t);
    t->flags &= ~TR_SENDING;
    t->pending--;
    if (closed(t)) {
        leave(t);
        return;
    }
    if (res <= 0) {
        if (res == 0) {
            shrank(t);
        } else {
            errlog(ERRLOG_ERROR, "reading a file for conn %llu: %s", (unsigned long long)t->id,
                   strerror(-res));
            t->ev->error(t, -res);
        }
        leave(t);
        return;
    }
    bool more = outq_seg(t->out, 0)->len > (uint64_t)res || t->out->count > 1;
    io_send(t->env->loop, &t->send_op, t->fd, t->bounce, (size_t)res,
            MSG_NOSIGNAL | MSG_WAITALL | (more ? MSG_MORE : 0));
    t->flags |= TR_SENDING;
    t->pending++;
    leave(t);
}

/*
 * Sends the file segments at the head with sendfile(2), up to one chunk per turn, or up to
 * SEND_SLICE when other connections wait for the worker. A connection alone sends its whole
 * chunk (fewest turns per megabyte); under load it yields after a slice, so the others' sends
 * and ACKs are not held back behind one MiB (bench/RESULTS.md, issue 16).
 */
static void send_file(struct transport *t)
{
    struct transport_env *env = t->env;
    struct outq *q = t->out;
    uint64_t budget = env->sendfile_chunk;
    if (io_loop_others_wait(env->loop) && budget > SEND_SLICE) {
        budget = SEND_SLICE;
    }
    while (budget && q->count && outq_seg(q, 0)->kind == OUTQ_FILE) {
        struct outq_seg *s = outq_seg(q, 0);
        off_t off = (off_t)s->off;
        size_t want = (size_t)MIN(s->len, budget);
        if (!env->use_sendfile || (env->cold_reads && !known_cached(t, s, want))) {
            if (cold_read(t, s)) {
                return; /* read asynchronously (always, or because it is not cached), then send */
            }
        }
        uint64_t seg_left = s->len;
        ssize_t r = sendfile(t->fd, s->ref->fd, &off, want);
        if (r > 0) {
            if ((uint64_t)r >= seg_left) {
                /* the segment is done: its entry may be freed, and a new one made at the same
                 * address for another file must not inherit what known_cached learnt */
                t->warm_ref = NULL;
            }
            budget -= (uint64_t)r;
            /* the owner may queue more from sent() and call flush: that must not re-enter this
             * loop (nor raise drained, which may free the queue under it); the flush at the end
             * sends what it queued */
            t->flags |= TR_IN_SEND;
            consumed(t, (uint64_t)r);
            t->flags &= ~TR_IN_SEND;
            if (closed(t)) {
                return;
            }
            continue;
        }
        if (r == 0) {
            shrank(t);
            return;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN) {
            io_poll_out(env->loop, &t->poll_op, t->fd);
            t->flags |= TR_SENDING;
            t->pending++;
            return;
        }
        t->ev->error(t, errno); /* EPIPE, ECONNRESET, EIO */
        return;
    }
    if (q->count && outq_seg(q, 0)->kind == OUTQ_FILE) {
        io_defer(env->loop, &t->resume); /* chunk budget spent: let other connections run */
        return;
    }
    flush(t);
}

static void flush(struct transport *t)
{
    if (t->flags & (TR_SENDING | TR_CLOSED | TR_IN_SEND)) {
        return;
    }
    struct outq *q = t->out;
    if (outq_empty(q)) {
        drop_bounce(t);
        if (t->flags & TR_FIN) {
            send_fin(t, false);
        }
        t->ev->drained(t);
        return;
    }
    if (outq_seg(q, 0)->kind == OUTQ_FILE) {
        send_file(t);
        return;
    }
    unsigned n = 0;
    bool more = false;
    for (uint32_t i = 0; i < q->count; i++) {
        struct outq_seg *s = outq_seg(q, i);
        if (s->kind == OUTQ_FILE) {
            more = true; /* a file follows: let TCP coalesce the head with it */
            break;
        }
        if (n == OUTQ_IOV) {
            more = true;
            break;
        }
        q->iov[n].iov_base = (void *)s->ptr;
        q->iov[n].iov_len = s->len;
        n++;
    }
    /*
     * The last bytes before a FIN: MSG_MORE holds their last segment back, and the shutdown
     * linked behind the send sets FIN on it, so the response and the FIN leave as one segment
     * (one packet fewer per closed connection, and one wake-up fewer for the peer).
     */
    bool fin = !more && (t->flags & (TR_FIN | TR_FIN_OUT)) == TR_FIN;
    int flags = MSG_NOSIGNAL | MSG_WAITALL | (more || fin ? MSG_MORE : 0);
    if (fin) {
        io_reserve(t->env->loop, 2);
    }
    if (n == 1) {
        io_send(t->env->loop, &t->send_op, t->fd, q->iov[0].iov_base, q->iov[0].iov_len, flags);
    } else {
        memset(&q->msg, 0, sizeof(q->msg));
        q->msg.msg_iov = q->iov;
        q->msg.msg_iovlen = n;
        io_sendmsg(t->env->loop, &t->send_op, t->fd, &q->msg, flags);
    }
    t->flags |= TR_SENDING;
    t->pending++;
    if (fin) {
        send_fin(t, true);
    }
}

static void on_resume(struct io_defer *d)
{
    struct transport *t = container_of(d, struct transport, resume);
    enter(t);
    flush(t);
    leave(t);
}

static void on_send(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct transport *t = container_of(op, struct transport, send_op);
    enter(t);
    t->flags &= ~TR_SENDING;
    t->pending--;
    if (!closed(t)) {
        if (res < 0) {
            t->ev->error(t, -res);
        } else {
            consumed(t, (uint64_t)res);
            flush(t);
        }
    }
    leave(t);
}

static void on_poll(struct io_op *op, int res, unsigned flags)
{
    (void)res;
    (void)flags;
    struct transport *t = container_of(op, struct transport, poll_op);
    enter(t);
    t->flags &= ~TR_SENDING;
    t->pending--;
    if (!closed(t)) {
        flush(t); /* sendfile reports the error, if any */
    }
    leave(t);
}

/* ---------------------------------------------------------------- the rest */

static void tr_shutdown(struct transport *t, bool reading_too)
{
    if (closed(t)) {
        return;
    }
    t->flags |= TR_FIN | (reading_too ? TR_FIN_RD : 0);
    if (!(t->flags & TR_SENDING) && outq_empty(t->out)) {
        send_fin(t, false);
    }
}

static void tr_abort(struct transport *t)
{
    if (closed(t)) {
        return;
    }
    t->flags |= TR_CLOSED;
    /* in-flight operations end early (a shutdown ends by itself); close(2) comes after them */
    if (t->flags & TR_RECV) {
        io_cancel(t->env->loop, &t->recv_op);
    }
    if (t->flags & TR_SENDING) {
        io_cancel(t->env->loop, &t->send_op);
        io_cancel(t->env->loop, &t->poll_op);
        io_cancel(t->env->loop, &t->read_op);
    }
}

static int peer(struct transport *t, struct sockaddr_storage *ss)
{
    socklen_t len = sizeof(*ss);
    return getpeername(t->fd, (struct sockaddr *)ss, &len) == 0 ? 0 : -errno;
}

static void tr_close(struct transport *t)
{
    drop_bounce(t);
    if (t->fd >= 0) {
        io_close(t->env->loop, t->fd);
    }
    t->fd = -1;
}

const struct transport_ops transport_plain = {
    .name = "plain",
    .read_start = read_start,
    .read_stop = read_stop,
    .flush = flush,
    .shutdown = tr_shutdown,
    .abort = tr_abort,
    .peer = peer,
    .close = tr_close,
};

void transport_plain_init(struct transport *t, int fd, struct transport_env *env,
                          const struct transport_events *ev, void *arg)
{
    (void)arg;
    t->ops = &transport_plain;
    t->ev = ev;
    t->env = env;
    t->out = NULL;
    t->fd = fd;
    t->pending = 0;
    t->flags = 0;
    t->bounce = NULL;
    t->warm_ref = NULL;
    t->priv = NULL;
    /* the same memory serves many connections: completions of earlier ones must not match */
    io_op_retire(&t->recv_op);
    io_op_retire(&t->send_op);
    io_op_retire(&t->poll_op);
    io_op_retire(&t->read_op);
    io_op_retire(&t->shut_op);
    io_op_init(&t->recv_op, on_recv);
    io_op_init(&t->send_op, on_send);
    io_op_init(&t->poll_op, on_poll);
    io_op_init(&t->read_op, on_read);
    io_op_init(&t->shut_op, on_shut);
    t->rearm.fn = on_rearm;
    t->rearm.queued = false;
    t->resume.fn = on_resume;
    t->resume.queued = false;
}

/* ---------------------------------------------------------------- shared (plain.h) */

void transport_sock_enter(struct transport *t)
{
    enter(t);
}

void transport_sock_leave(struct transport *t)
{
    leave(t);
}

void transport_sock_fin(struct transport *t, bool linked)
{
    send_fin(t, linked);
}

bool transport_sock_cached(struct transport *t, const struct outq_seg *s, size_t want)
{
    return known_cached(t, s, want);
}

void transport_plain_adopt(struct transport *t)
{
    io_op_init(&t->send_op, on_send);
    io_op_init(&t->poll_op, on_poll);
    io_op_init(&t->read_op, on_read);
    t->resume.fn = on_resume;
}
