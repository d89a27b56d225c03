/*
 * conn_io.c - the connection state machine: receive, parse, respond, send,
 * close. Runs on the owning worker thread only.
 *
 *   accept -> [recv -> parse -> queue responses -> send]* -> close
 *
 * Input arrives through one multishot recv into the worker's provided-buffer
 * ring and is parsed in place. Only the tail of a request split across reads
 * is copied (into c->in). Every provided buffer goes back to the ring in the
 * same loop turn, so slow clients never pin the shared pool.
 */
#include "core/base/alloc.h"
#include "core/conn.h"
#include "core/serve.h"
#include "core/uring.h"
#include "core/worker.h"
#include "log/errlog.h"
#include "proto/request.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct io_uring_sqe *get_sqe(struct worker *w)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (UNLIKELY(!sqe)) {
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
    }
    return sqe; /* the SQ was just emptied, so never NULL */
}

static void arm_recv(struct worker *w, struct conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = w->bufs.gid;
    io_uring_sqe_set_data64(sqe, ud_pack(IO_RECV, c->idx, c->gen));
    c->flags |= CF_RECV;
    c->pending++;
}

static void cancel_recv(struct worker *w, struct conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_cancel64(sqe, ud_pack(IO_RECV, c->idx, c->gen), 0);
    io_uring_sqe_set_data64(sqe, ud_pack(IO_CANCEL, c->idx, c->gen));
}

void conn_schedule(struct worker *w, struct conn *c)
{
    if (!(c->flags & CF_ON_READY)) {
        c->flags |= CF_ON_READY;
        c->next_ready = w->ready;
        w->ready = c;
    }
}

static void schedule_rearm(struct worker *w, struct conn *c)
{
    if (!(c->flags & CF_ON_REARM)) {
        c->flags |= CF_ON_REARM;
        c->next_rearm = w->rearm;
        w->rearm = c;
    }
}

/* ---------------------------------------------------------------- lifetime */

struct conn *conn_open(struct worker *w, int fd, uint16_t group)
{
    if (w->nconns >= w->cfg->max_connections || w->draining) {
        close(fd);
        w->stats.refused++;
        return NULL;
    }
    struct conn *c;
    if (w->free_head != UINT32_MAX) {
        c = w->slots[w->free_head];
        w->free_head = (uint32_t)(uintptr_t)c->next_rearm;
    } else {
        if (w->nslots == w->slots_cap) {
            uint32_t ncap = w->slots_cap ? w->slots_cap * 2 : 1024;
            struct conn **ns = sp_realloc(w->slots, ncap * sizeof(*ns));
            if (!ns) {
                close(fd);
                w->stats.refused++;
                return NULL;
            }
            w->slots = ns;
            w->slots_cap = ncap;
        }
        c = sp_calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            w->stats.refused++;
            return NULL;
        }
        c->idx = w->nslots;
        w->slots[w->nslots++] = c;
    }
    uint32_t idx = c->idx, gen = c->gen;
    memset(c, 0, sizeof(*c));
    c->idx = idx;
    c->gen = (gen + 1) & 0xffffff;
    c->w = w;
    c->fd = fd;
    c->group = group;
    c->id = ++w->next_conn_id;
    arena_init(&c->arena, &w->arena_pool, (size_t)w->cfg->limits.max_head * 4 + 65536);
    w->nconns++;
    w->stats.accepted++;
    arm_recv(w, c);
    timer_arm(&w->timers[TK_HEADER], &c->timer, w->now_ms);
    c->flags |= CF_HEAD_TIMER;
    return c;
}

void conn_log_unfinished(struct worker *w, struct conn *c)
{
    struct out_state *o = c->out;
    (void)w;
    while (o && o->rcount) {
        /* one line per response, with the bytes that did go out */
        struct out_resp *r = &o->resps[o->rhead];
        uint64_t sent =
            o->sent_pos > r->start_pos ? MIN(o->sent_pos, r->end_pos) - r->start_pos : 0;
        alog_done(c, r, sent);
        o->rhead = (o->rhead + 1) % OUT_RESPS;
        o->rcount--;
    }
}

static void drop_bounce(struct worker *w, struct conn *c);

static void conn_free(struct worker *w, struct conn *c)
{
    timer_cancel(&c->timer);
    close(c->fd);
    conn_log_unfinished(w, c);
    out_discard(c);
    drop_bounce(w, c);
    sp_free(c->in);
    c->in = NULL;
    arena_release(&c->arena);
    w->nconns--;
    w->stats.closed++;
    c->flags = 0;
    c->fd = -1;
    c->gen = (c->gen + 1) & 0xffffff; /* completions for the old connection no longer match */
    /* free list threaded through next_rearm (unused while the slot is free) */
    c->next_rearm = (struct conn *)(uintptr_t)w->free_head;
    w->free_head = c->idx;
    c->w = NULL;
}

/* Frees c once it is dead, has nothing in flight, and is on no list. */
static void maybe_free(struct worker *w, struct conn *c)
{
    if ((c->flags & CF_DEAD) && c->pending == 0 && !(c->flags & (CF_ON_READY | CF_ON_REARM))) {
        conn_free(w, c);
    }
}

void conn_abort(struct worker *w, struct conn *c)
{
    if (c->flags & CF_DEAD) {
        return;
    }
    c->flags |= CF_DEAD;
    timer_cancel(&c->timer);
    if (c->pending) {
        /* wakes an armed recv (EOF), fails a blocked send, fires a POLLOUT poll */
        shutdown(c->fd, SHUT_RDWR);
        if (c->flags & CF_RECV) {
            cancel_recv(w, c);
        }
    }
    maybe_free(w, c);
}

/* After the last response of a connection: FIN, then wait briefly for the client's. */
static void graceful_close(struct worker *w, struct conn *c)
{
    if (c->flags & CF_EOF) {
        conn_abort(w, c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->flags |= CF_LINGER | CF_STOP_READ;
    c->flags &= ~(CF_PAUSED | CF_BLOCKED); /* read (and drop) until the client's FIN */
    timer_arm(&w->timers[TK_LINGER], &c->timer, w->now_ms);
    if (!(c->flags & CF_RECV)) {
        schedule_rearm(w, c);
    }
}

static void conn_drain(struct worker *w, struct conn *c)
{
    if (c->flags & CF_DEAD) {
        return;
    }
    bool idle = out_empty(c) && !(c->flags & CF_SENDING) && c->in_len == 0 && !conn_reading_body(c);
    if (c->flags & CF_LINGER) {
        conn_abort(w, c);
    } else if (idle) {
        graceful_close(w, c); /* FIN, then a short linger: never an RST over a request in flight */
    }
    /* otherwise serve_request answers the next request with Connection: close and
     * output_drained closes once the response is out */
}

static void body_end(struct conn *c, int status)
{
    c->body_kind = BODY_NONE;
    c->body_left = 0;
    if (c->body_sink) {
        c->body_sink(c, SLICE_NULL, true, status);
        c->body_sink = NULL;
    }
}

/* ---------------------------------------------------------------- timers */

static void update_timer(struct worker *w, struct conn *c)
{
    if (c->flags & (CF_DEAD | CF_LINGER)) {
        return;
    }
    if (!out_empty(c) || (c->flags & CF_SENDING)) {
        if (c->timer.list != &w->timers[TK_SEND]) {
            timer_arm(&w->timers[TK_SEND], &c->timer, w->now_ms);
        }
        return;
    }
    if (conn_reading_body(c)) {
        timer_arm(&w->timers[TK_BODY], &c->timer, w->now_ms);
        return;
    }
    if (c->in_len) {
        /* the whole head must arrive within client_header_timeout of its first byte */
        if (!(c->flags & CF_HEAD_TIMER)) {
            c->flags |= CF_HEAD_TIMER;
            timer_arm(&w->timers[TK_HEADER], &c->timer, w->now_ms);
        }
        return;
    }
    if (c->nreq == 0 && (c->flags & CF_HEAD_TIMER)) {
        return; /* fresh connection: client_header_timeout from accept */
    }
    c->flags &= ~CF_HEAD_TIMER;
    if (w->cfg->keepalive_timeout_ms == 0) {
        conn_abort(w, c);
        return;
    }
    timer_arm(&w->timers[TK_IDLE], &c->timer, w->now_ms);
}

static void on_timeout(struct worker *w, struct conn *c, int tk)
{
    w->stats.timeouts++;
    /*
     * RFC 9110 15.5.9: 408 when a request is still unanswered (a head that never
     * completed, or a body a handler waits for). A discarded body belongs to a
     * request already answered: just close.
     */
    bool unanswered = (tk == TK_HEADER && c->in_len) || (tk == TK_BODY && c->body_sink);
    if (unanswered && out_empty(c) && !(c->flags & CF_SENDING)) {
        c->flags |= CF_STOP_READ;
        if (conn_reading_body(c)) {
            body_end(c, -408);
        }
        if (serve_bad_request(c, 408, c->in, c->in_len) == 0) {
            conn_schedule(w, c);
            return;
        }
    }
    conn_abort(w, c);
}

/* ---------------------------------------------------------------- input */

/*
 * Feeds request-body bytes to the body sink (or drops them). Returns the bytes
 * that belonged to the body; what follows is the next request.
 */
static size_t body_bytes(struct worker *w, struct conn *c, const char *buf, size_t len)
{
    (void)w;
    if (c->body_kind == BODY_LENGTH) {
        size_t take = (size_t)MIN((uint64_t)len, c->body_left);
        c->body_left -= take;
        if (c->body_sink && take) {
            c->body_sink(c, slice_make(buf, take), false, 0);
        }
        if (c->body_left == 0) {
            body_end(c, 0);
        }
        return take;
    }
    size_t off = 0;
    while (off < len) {
        size_t used;
        struct slice data;
        int rc = http_chunked_decode(&c->chunk, buf + off, len - off, &used, &data);
        off += used;
        if (rc < 0) {
            /* the response is already queued: framing is lost, so close after it */
            errlog(ERRLOG_INFO,
                   "conn %llu: malformed chunked body after the response (%d): "
                   "closing",
                   (unsigned long long)c->id, -rc);
            body_end(c, rc);
            c->flags |= CF_STOP_READ | CF_CLOSE_AFTER;
            return len;
        }
        if (data.len && c->body_sink) {
            c->body_sink(c, data, false, 0);
        }
        if (rc == HTTP_CHUNKED_DONE) {
            body_end(c, 0);
            break;
        }
        if (rc == HTTP_CHUNKED_MORE) {
            break;
        }
    }
    return off;
}

/* Checks the chunked body bytes already received: 0, or -400/-413 for an error among them. */
static int chunked_prescan(const struct cfg *cfg, const char *p, size_t n)
{
    struct http_chunked d;
    http_chunked_init(&d, cfg->max_body);
    size_t off = 0;
    while (off < n) {
        size_t used;
        struct slice data;
        int rc = http_chunked_decode(&d, p + off, n - off, &used, &data);
        if (rc < 0) {
            return rc;
        }
        off += used;
        if (rc != HTTP_CHUNKED_DATA) {
            break;
        }
    }
    return 0;
}

/*
 * Parses and answers as many requests as buf holds. Returns the bytes
 * consumed; the rest is an incomplete request (or input held back because
 * the output queue is full: CF_BLOCKED).
 */
static size_t process(struct worker *w, struct conn *c, const char *buf, size_t len)
{
    size_t off = 0;
    const struct cfg *cfg = w->cfg;
    while (off < len) {
        if (c->flags & CF_STOP_READ) {
            return len; /* discarding until close */
        }
        if (c->body_kind != BODY_NONE) {
            off += body_bytes(w, c, buf + off, len - off);
            continue;
        }
        if (w->log.stalled || !out_has_room(c, 2048, 2) ||
            (c->out && c->out->rcount >= cfg->max_pipeline)) {
            /* the output queue is full, or the access log is (backpressure) */
            c->flags |= CF_BLOCKED;
            break;
        }
        struct http_request req;
        int rc =
            http_parse_request(buf + off, len - off, c->scanned, &cfg->limits, &c->arena, &req);
        if (rc == -EAGAIN) {
            c->scanned = (uint32_t)(len - off);
            break;
        }
        c->scanned = 0;
        if (rc < 0) {
            /* framing cannot be trusted any more: answer and close */
            int e = serve_bad_request(c, -rc, buf + off, len - off);
            if (e == -EAGAIN && !(out_empty(c) && !(c->flags & CF_SENDING))) {
                c->flags |= CF_BLOCKED; /* the responses before it go out first; then again */
                break;
            }
            if (e < 0) {
                conn_abort(w, c);
            }
            c->flags |= CF_STOP_READ;
            return len;
        }
        if (req.body == HTTP_BODY_CHUNKED) {
            /* a framing error already in hand is answered with its status, not the resource */
            int bad = chunked_prescan(cfg, buf + off + req.head_len, len - off - req.head_len);
            if (bad < 0) {
                int e = serve_bad_request(c, -bad, buf + off, len - off);
                if (e == -EAGAIN && !(out_empty(c) && !(c->flags & CF_SENDING))) {
                    c->flags |= CF_BLOCKED;
                    break;
                }
                if (e < 0) {
                    conn_abort(w, c);
                }
                c->flags |= CF_STOP_READ;
                return len;
            }
        }
        rc = serve_request(c, &req);
        if (rc == -EAGAIN && out_empty(c) && !(c->flags & CF_SENDING)) {
            /* does not fit even in an empty output block (an enormous Location): give up */
            if (serve_bad_request(c, 500, buf + off, len - off) < 0) {
                conn_abort(w, c);
            }
            c->flags |= CF_STOP_READ;
            return len;
        }
        if (rc == -EAGAIN) {
            c->flags |= CF_BLOCKED;
            break;
        }
        off += req.head_len;
        c->flags &= ~CF_HEAD_TIMER;
        arena_reset(&c->arena); /* the arena is per request: its cap bounds one request */
    }
    arena_release(&c->arena);
    return off;
}

static bool stash(struct worker *w, struct conn *c, const char *p, size_t n)
{
    /*
     * While output is blocked the receive is cancelled, but completions already under way
     * still arrive: at most the socket's receive buffer (256 KiB requested on the listener,
     * which the kernel doubles). Past this, the client pipelines without reading: drop it.
     */
    size_t hard_cap = (size_t)w->cfg->limits.max_head + (768u << 10);
    size_t need = c->in_len + n;
    if (need > hard_cap) {
        return false;
    }
    if (need > c->in_cap) {
        size_t ncap = c->in_cap ? c->in_cap : 1024;
        while (ncap < need) {
            ncap *= 2;
        }
        char *nb = sp_realloc(c->in, ncap);
        if (!nb) {
            return false;
        }
        c->in = nb;
        c->in_cap = (uint32_t)ncap;
    }
    memcpy(c->in + c->in_len, p, n);
    c->in_len += (uint32_t)n;
    return true;
}

/* Parses what is buffered in c->in. */
static void process_stash(struct worker *w, struct conn *c)
{
    size_t used = process(w, c, c->in, c->in_len);
    if (c->flags & CF_DEAD) {
        return;
    }
    if (used >= c->in_len) {
        sp_free(c->in);
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        c->scanned = 0;
        return;
    }
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= (uint32_t)used;
}

static void on_data(struct worker *w, struct conn *c, const char *p, size_t n)
{
    if (c->flags & CF_STOP_READ) {
        return;
    }
    if (c->in_len == 0 && !(c->flags & CF_BLOCKED)) {
        size_t used = process(w, c, p, n);
        if (used < n && !(c->flags & (CF_STOP_READ | CF_DEAD))) {
            if (!stash(w, c, p + used, n - used)) {
                conn_abort(w, c);
                return;
            }
        }
    } else {
        if (!stash(w, c, p, n)) {
            /* over the cap only while blocked: a client pipelining without reading */
            conn_abort(w, c);
            return;
        }
        if (!(c->flags & CF_BLOCKED)) {
            process_stash(w, c);
        }
    }
    if (c->flags & CF_DEAD) {
        return;
    }
    if ((c->flags & CF_BLOCKED) && !(c->flags & CF_PAUSED)) {
        /* output (or log) backlog: stop reading until it drains; PAUSED means "recv left
         * unarmed on purpose", so the unblocking path re-arms it */
        c->flags |= CF_PAUSED;
        if (c->flags & CF_RECV) {
            cancel_recv(w, c);
        }
    }
    conn_schedule(w, c);
}

static void on_eof(struct worker *w, struct conn *c)
{
    c->flags |= CF_EOF;
    if ((c->flags & CF_LINGER) || (out_empty(c) && !(c->flags & (CF_SENDING | CF_BLOCKED)))) {
        conn_abort(w, c); /* an incomplete request is dropped with the connection */
    }
    /* else: buffered requests are answered, the responses go out, then output_drained closes */
}

static void on_recv(struct worker *w, struct conn *c, int res, uint32_t cqe_flags)
{
    bool more = cqe_flags & IORING_CQE_F_MORE;
    if (!more) {
        c->flags &= ~CF_RECV;
        c->pending--;
    }
    if (cqe_flags & IORING_CQE_F_BUFFER) {
        uint32_t bid = cqe_flags >> IORING_CQE_BUFFER_SHIFT;
        if (res > 0 && !(c->flags & CF_DEAD)) {
            w->stats.bytes_in += (uint64_t)res;
            on_data(w, c, io_bufring_addr(&w->bufs, bid), (size_t)res);
        }
        io_bufring_recycle(&w->bufs, bid);
    }
    if (c->flags & CF_DEAD) {
        return;
    }
    if (res == 0) {
        on_eof(w, c);
        return;
    }
    if (res < 0 && res != -ENOBUFS && res != -ECANCELED) {
        conn_abort(w, c); /* ECONNRESET and friends */
        return;
    }
    if (res == -ENOBUFS) {
        w->stats.enobufs++;
    }
    if (!more && !(c->flags & CF_PAUSED)) {
        schedule_rearm(w, c);
    }
}

void conn_run_rearm(struct worker *w, struct conn *c)
{
    c->flags &= ~CF_ON_REARM;
    if (!(c->flags & (CF_DEAD | CF_RECV | CF_PAUSED | CF_EOF | CF_BLOCKED))) {
        arm_recv(w, c);
    }
    maybe_free(w, c);
}

/* ---------------------------------------------------------------- output */

static void output_drained(struct worker *w, struct conn *c);

/* Consumes n sent bytes from the head of the queue. */
static void advance(struct worker *w, struct conn *c, uint64_t n)
{
    struct out_state *o = c->out;
    o->sent_pos += n;
    w->stats.bytes_out += n;
    while (n && o->count) {
        struct out_seg *s = &o->segs[o->head];
        if (s->len > n) {
            s->len -= n;
            if (s->kind == SEG_MEM) {
                s->ptr += n;
            } else {
                s->off += n;
            }
            break;
        }
        n -= s->len;
        if (s->ref) {
            fs_entry_release(w->fcache, s->ref);
        }
        o->head = (o->head + 1) % OUT_SEGS;
        o->count--;
    }
    while (o->rcount && o->resps[o->rhead].end_pos <= o->sent_pos) {
        struct out_resp *r = &o->resps[o->rhead];
        w->stats.responses++;
        alog_done(c, r, r->end_pos - r->start_pos);
        o->rhead = (o->rhead + 1) % OUT_RESPS;
        o->rcount--;
    }
    if (o->count == 0) {
        o->len = 0; /* nothing references the block's bytes any more */
        if (o->rcount == 0) {
            o->scratch = 0;
        }
    }
}

static void arm_poll(struct worker *w, struct conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
    io_uring_sqe_set_data64(sqe, ud_pack(IO_POLL, c->idx, c->gen));
    c->flags |= CF_SENDING;
    c->pending++;
}

static void flush(struct worker *w, struct conn *c);

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

#define COLD_CHUNK (256u * 1024) /* bytes read per cold read */
#define COLD_MAX 64              /* connections per worker with a bounce buffer */

/* True unless the kernel says some page of [off, off + len) is not in the page cache. */
static bool range_cached(struct worker *w, int fd, uint64_t off, uint64_t len)
{
    if (!w->cachestat_ok) {
        return true;
    }
    struct spate_cachestat_range r = {off, len};
    struct spate_cachestat cs;
    if (syscall(__NR_cachestat, fd, &r, &cs, 0) < 0) {
        if (errno == ENOSYS) {
            w->cachestat_ok = false; /* old kernel: sendfile everything */
        }
        return true;
    }
    uint64_t pages = (off + len - 1) / 4096 - off / 4096 + 1;
    return cs.nr_cache >= pages;
}

/*
 * Reads up to COLD_CHUNK bytes of the file segment at the head into the
 * connection's bounce buffer with io_uring (the worker never waits for the
 * disk); the read's completion sends them, and the send's completion
 * consumes them from the segment like sendfile would have.
 */
static bool cold_read(struct worker *w, struct conn *c, struct out_seg *s)
{
    if (!c->bounce) {
        if ((w->cfg->use_sendfile && w->cold_buffers >= COLD_MAX) ||
            !(c->bounce = sp_malloc(COLD_CHUNK))) {
            return false; /* too many at once: let sendfile wait for the disk */
        }
        w->cold_buffers++;
    }
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_read(sqe, s->ref->fd, c->bounce, (unsigned)MIN(s->len, COLD_CHUNK), s->off);
    io_uring_sqe_set_data64(sqe, ud_pack(IO_FREAD, c->idx, c->gen));
    c->flags |= CF_SENDING;
    c->pending++;
    return true;
}

static void drop_bounce(struct worker *w, struct conn *c)
{
    if (c->bounce) {
        sp_free(c->bounce);
        c->bounce = NULL;
        w->cold_buffers--;
    }
}

static void on_fread(struct worker *w, struct conn *c, int res)
{
    c->flags &= ~CF_SENDING;
    c->pending--;
    if (c->flags & CF_DEAD) {
        return;
    }
    if (res <= 0) {
        if (res == 0) {
            errlog(ERRLOG_WARN, "file shrank while being sent (conn %llu): closing connection",
                   (unsigned long long)c->id);
        } else {
            errlog(ERRLOG_ERROR, "reading a file for conn %llu: %s", (unsigned long long)c->id,
                   strerror(-res));
        }
        conn_abort(w, c);
        return;
    }
    bool more = c->out->segs[c->out->head].len > (uint64_t)res || c->out->count > 1;
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_send(sqe, c->fd, c->bounce, (size_t)res,
                       MSG_NOSIGNAL | MSG_WAITALL | (more ? MSG_MORE : 0));
    io_uring_sqe_set_data64(sqe, ud_pack(IO_SEND, c->idx, c->gen));
    c->flags |= CF_SENDING;
    c->pending++;
}

/* Sends the file segment at the head with sendfile(2), up to one chunk per turn. */
static void send_file(struct worker *w, struct conn *c)
{
    struct out_state *o = c->out;
    uint64_t budget = w->cfg->sendfile_chunk;
    while (budget && o->count && o->segs[o->head].kind == SEG_FILE) {
        struct out_seg *s = &o->segs[o->head];
        off_t off = (off_t)s->off;
        size_t want = (size_t)MIN(s->len, budget);
        if (!w->cfg->use_sendfile ||
            (w->cfg->cold_file_reads && !range_cached(w, s->ref->fd, s->off, want))) {
            if (cold_read(w, c, s)) {
                return; /* read asynchronously (always, or because it is not cached), then send */
            }
        }
        ssize_t r = sendfile(c->fd, s->ref->fd, &off, want);
        if (r > 0) {
            budget -= (uint64_t)r;
            advance(w, c, (uint64_t)r);
            timer_arm(&w->timers[TK_SEND], &c->timer, w->now_ms);
            continue;
        }
        if (r == 0) {
            /* the file is shorter than when we sent its length: never pad with garbage */
            errlog(ERRLOG_WARN, "file shrank while being sent (conn %llu): closing connection",
                   (unsigned long long)c->id);
            conn_abort(w, c);
            return;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN) {
            arm_poll(w, c);
            return;
        }
        conn_abort(w, c); /* EPIPE, ECONNRESET, EIO */
        return;
    }
    if (o->count && o->segs[o->head].kind == SEG_FILE) {
        conn_schedule(w, c); /* chunk budget spent: let other connections run */
        return;
    }
    flush(w, c);
}

/* Starts sending whatever is queued, unless a send is already in flight. */
static void flush(struct worker *w, struct conn *c)
{
    if (c->flags & (CF_SENDING | CF_DEAD)) {
        return;
    }
    struct out_state *o = c->out;
    if (!o || o->count == 0) {
        output_drained(w, c);
        return;
    }
    if (o->segs[o->head].kind == SEG_FILE) {
        send_file(w, c);
        return;
    }
    unsigned n = 0;
    bool more = false;
    for (uint32_t i = 0; i < o->count; i++) {
        struct out_seg *s = &o->segs[(o->head + i) % OUT_SEGS];
        if (s->kind != SEG_MEM) {
            more = true; /* a file follows: let TCP coalesce the head with it */
            break;
        }
        if (n == OUT_IOV) {
            more = true;
            break;
        }
        o->iov[n].iov_base = (void *)s->ptr;
        o->iov[n].iov_len = s->len;
        n++;
    }
    int flags = MSG_NOSIGNAL | MSG_WAITALL | (more ? MSG_MORE : 0);
    struct io_uring_sqe *sqe = get_sqe(w);
    if (n == 1) {
        io_uring_prep_send(sqe, c->fd, o->iov[0].iov_base, o->iov[0].iov_len, flags);
    } else {
        memset(&o->msg, 0, sizeof(o->msg));
        o->msg.msg_iov = o->iov;
        o->msg.msg_iovlen = n;
        io_uring_prep_sendmsg(sqe, c->fd, &o->msg, (unsigned)flags);
    }
    io_uring_sqe_set_data64(sqe, ud_pack(IO_SEND, c->idx, c->gen));
    c->flags |= CF_SENDING;
    c->pending++;
    update_timer(w, c);
}

static void output_drained(struct worker *w, struct conn *c)
{
    drop_bounce(w, c);
    if (c->out && c->out->rcount == 0) {
        out_discard(c); /* back to the pool: idle connections hold no block */
    }
    if (c->flags & CF_CLOSE_AFTER) {
        graceful_close(w, c);
        return;
    }
    if (c->flags & CF_BLOCKED) {
        /* the backlog drained: answer the requests held back */
        c->flags &= ~CF_BLOCKED;
        process_stash(w, c);
        if (c->flags & CF_DEAD) {
            return;
        }
        if (!out_empty(c)) {
            flush(w, c);
            return;
        }
        if (c->flags & CF_BLOCKED) {
            /* still held back with nothing to send: the access log is full. alog_on_space
             * reschedules us; until then neither EOF nor a timer may drop these requests */
            timer_cancel(&c->timer);
            return;
        }
    }
    if (c->flags & CF_EOF) {
        conn_abort(w, c);
        return;
    }
    if (w->draining && c->in_len == 0 && !conn_reading_body(c)) {
        graceful_close(w, c); /* FIN, not RST: a request already on its way must not kill it */
        return;
    }
    if ((c->flags & CF_PAUSED) && !(c->flags & CF_BLOCKED)) {
        c->flags &= ~CF_PAUSED;
        schedule_rearm(w, c);
    }
    update_timer(w, c);
}

static void on_send(struct worker *w, struct conn *c, int res)
{
    c->flags &= ~CF_SENDING;
    c->pending--;
    if (c->flags & CF_DEAD) {
        return;
    }
    if (res < 0) {
        conn_abort(w, c);
        return;
    }
    advance(w, c, (uint64_t)res);
    if (res > 0) {
        timer_arm(&w->timers[TK_SEND], &c->timer, w->now_ms);
    }
    flush(w, c);
}

static void on_poll(struct worker *w, struct conn *c)
{
    c->flags &= ~CF_SENDING;
    c->pending--;
    if (!(c->flags & CF_DEAD)) {
        flush(w, c); /* sendfile reports the error, if any */
    }
}

/*
 * Every entry point below holds a guard reference (pending + 1) while it
 * runs, so a connection aborted deep inside a handler is freed only on the
 * way out, never under the handler's feet.
 */
static void guard(struct conn *c)
{
    c->pending++;
}

static void unguard(struct worker *w, struct conn *c)
{
    c->pending--;
    maybe_free(w, c);
}

void conn_complete(struct worker *w, struct conn *c, int op, int res, uint32_t cqe_flags)
{
    guard(c);
    switch (op) {
    case IO_RECV:
        on_recv(w, c, res, cqe_flags);
        break;
    case IO_SEND:
        on_send(w, c, res);
        break;
    case IO_POLL:
        on_poll(w, c);
        break;
    case IO_FREAD:
        on_fread(w, c, res);
        break;
    default:
        break;
    }
    unguard(w, c);
}

void conn_run_ready(struct worker *w, struct conn *c)
{
    guard(c);
    c->flags &= ~CF_ON_READY;
    if (!(c->flags & CF_DEAD)) {
        flush(w, c);
    }
    unguard(w, c);
}

void conn_timeout(struct worker *w, struct conn *c, int tk)
{
    guard(c);
    on_timeout(w, c, tk);
    unguard(w, c);
}

void conn_shutdown(struct worker *w, struct conn *c)
{
    guard(c);
    conn_drain(w, c);
    unguard(w, c);
}
