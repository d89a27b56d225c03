/*
 * worker.c - a spate-load thread's event loop: connections over io_uring, requests sent when
 * their schedule says and the connection can take them, responses parsed and timed.
 *
 * Each connection has at most one send and one recv in flight (or one connect). A connection
 * that is torn down while an operation is still in the ring waits in C_DRAIN until the last
 * completion has come back, so no completion ever lands in a reused connection's buffers.
 * A stale recv is woken by shutdown(): close() alone would leave it pending (the ring holds
 * its own reference to the socket).
 *
 * The loop sleeps in io_uring_submit_and_wait_timeout until the next completion or the
 * earliest time some connection is owed attention (its next intended send, a reconnect, a
 * response deadline); only then does it walk all its connections.
 */
#include "tools/load/worker.h"

#include "tools/load/check.h"
#include "tools/load/paths.h"
#include "tools/load/resp.h"
#include "tools/load/sched.h"

#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define RECV_BUF 16384
#define BGID 0 /* the worker's one provided-buffer group */
#define RETRY_NS 10000000ull /* wait before reconnecting after a failed connect */

enum cstate { C_IDLE, C_CONNECTING, C_OPEN, C_DRAIN };
enum op { OP_CONNECT = 1, OP_SEND = 2, OP_RECV = 3 };

struct worker;

struct conn {
    struct worker *w;
    int fd;
    enum cstate state;
    int pending; /* operations in the ring */
    bool send_armed;
    uint64_t retry_at;
    struct sched sched;
    /* requests sent and not yet answered, oldest at head: intended and actual send times */
    uint64_t intended[LOAD_MAX_PIPELINE], sent_at[LOAD_MAX_PIPELINE];
    unsigned q_head, q_n;
    struct resp resp;
    struct check_ctx *chk;
    char *out;
    size_t outlen, outoff, outcap;
    char *in; /* recv buffer when the ring has no provided buffers (else NULL) */
};

struct worker {
    const struct load_opts *o;
    struct load_sync *sync;
    int id, cpu, first, n;
    unsigned depth;
    bool head, running, stopping;
    uint64_t start, end, rng;
    uint64_t inflight; /* requests owed over all connections */
    uint64_t spin_ns;  /* a wait shorter than this polls instead of sleeping */
    struct io_uring ring;
    /* provided buffers for multishot recv: one armed recv per connection for its whole life,
     * and buffers shared by all connections instead of one idle buffer each */
    struct io_uring_buf_ring *br;
    char *bufs;
    unsigned nbuf;
    struct conn **conns;
    struct load_stats st;
    const char *prefix; /* "METHOD " */
    char *suffix;       /* " HTTP/1.1\r\nHost: ...\r\n...\r\n" */
    size_t suffix_len, out_cap;
    char err[256];
};

uint64_t load_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct io_uring_sqe *sqe_get(struct worker *w)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&w->ring);
    if (!s) { /* the queue is full: hand it to the kernel and take a fresh slot */
        io_uring_submit(&w->ring);
        s = io_uring_get_sqe(&w->ring);
    }
    return s;
}

static void submit_op(struct conn *c, struct io_uring_sqe *s, enum op op)
{
    io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)c | op);
    c->pending++;
}

static void on_body(void *ctx, const char *p, size_t n)
{
    check_update(ctx, p, n);
}

static void fresh_response(struct conn *c)
{
    resp_begin(&c->resp, c->w->head);
    if (c->chk) {
        check_begin(c->chk);
    }
}

static void reset(struct conn *c)
{
    if (c->fd >= 0) {
        shutdown(c->fd, SHUT_RDWR);
        close(c->fd);
        c->fd = -1;
    }
    c->w->inflight -= c->q_n;
    c->q_n = c->q_head = 0;
    c->outlen = c->outoff = 0;
    c->send_armed = false;
    fresh_response(c);
    c->state = c->pending ? C_DRAIN : C_IDLE;
}

static void start_connect(struct conn *c, uint64_t now)
{
    const struct load_opts *o = c->w->o;
    c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->w->st.err[ERR_CONNECT]++;
        c->retry_at = now + RETRY_NS;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct io_uring_sqe *s = sqe_get(c->w);
    io_uring_prep_connect(s, c->fd, (const struct sockaddr *)&o->addr, o->addrlen);
    submit_op(c, s, OP_CONNECT);
    c->state = C_CONNECTING;
}

static void arm_recv(struct conn *c)
{
    struct io_uring_sqe *s = sqe_get(c->w);
    if (c->w->br) {
        io_uring_prep_recv_multishot(s, c->fd, NULL, 0, 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = BGID;
    } else {
        io_uring_prep_recv(s, c->fd, c->in, RECV_BUF, 0);
    }
    submit_op(c, s, OP_RECV);
}

/* Sets up the provided buffers; without them (an old kernel) each connection has its own. */
static void setup_buffers(struct worker *w)
{
    w->nbuf = 64;
    while (w->nbuf < 1024 && w->nbuf < (unsigned)w->n * 2) {
        w->nbuf *= 2;
    }
    size_t ring_bytes = w->nbuf * sizeof(struct io_uring_buf);
    void *br = NULL;
    const char *plain = getenv("SPATE_LOAD_PLAIN_RING");
    if ((plain && *plain == '1') || posix_memalign(&br, 4096, ring_bytes) ||
        !(w->bufs = malloc((size_t)w->nbuf * RECV_BUF))) {
        free(br);
        br = NULL;
    } else {
        io_uring_buf_ring_init(br);
        struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)br, .ring_entries = w->nbuf,
                                       .bgid = BGID};
        if (io_uring_register_buf_ring(&w->ring, &reg, 0) < 0) {
            free(br);
            br = NULL;
            free(w->bufs);
            w->bufs = NULL;
        }
    }
    w->br = br;
    if (!br) {
        for (int i = 0; i < w->n; i++) {
            w->conns[i]->in = malloc(RECV_BUF);
        }
        return;
    }
    for (unsigned i = 0; i < w->nbuf; i++) {
        io_uring_buf_ring_add(br, w->bufs + (size_t)i * RECV_BUF, RECV_BUF, (unsigned short)i,
                              io_uring_buf_ring_mask(w->nbuf), (int)i);
    }
    io_uring_buf_ring_advance(br, (int)w->nbuf);
}

static void give_back(struct worker *w, unsigned bid)
{
    io_uring_buf_ring_add(w->br, w->bufs + (size_t)bid * RECV_BUF, RECV_BUF,
                          (unsigned short)bid, io_uring_buf_ring_mask(w->nbuf), 0);
    io_uring_buf_ring_advance(w->br, 1);
}

static void arm_send(struct conn *c)
{
    struct io_uring_sqe *s = sqe_get(c->w);
    io_uring_prep_send(s, c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
    submit_op(c, s, OP_SEND);
    c->send_armed = true;
}

/* Appends one request, owed since `intended`, to the connection's output. */
static void enqueue(struct conn *c, uint64_t intended, uint64_t now)
{
    struct worker *w = c->w;
    const struct load_opts *o = w->o;
    const char *path = o->path;
    if (o->paths) {
        path = o->paths->v[paths_pick(o->paths, sched_uniform(&w->rng))];
    }
    size_t pl = strlen(path), ml = strlen(w->prefix);
    if (c->outlen + ml + pl + w->suffix_len > c->outcap) { /* a long path from --paths */
        size_t cap = (c->outlen + ml + pl + w->suffix_len) * 2;
        char *m = realloc(c->out, cap);
        if (!m) {
            return;
        }
        c->out = m;
        c->outcap = cap;
    }
    memcpy(c->out + c->outlen, w->prefix, ml);
    memcpy(c->out + c->outlen + ml, path, pl);
    memcpy(c->out + c->outlen + ml + pl, w->suffix, w->suffix_len);
    c->outlen += ml + pl + w->suffix_len;
    unsigned slot = (c->q_head + c->q_n) % LOAD_MAX_PIPELINE;
    c->intended[slot] = intended;
    c->sent_at[slot] = now;
    c->q_n++;
    w->inflight++;
    w->st.sent++;
}

/* Every request still owed on c has waited at least until now: each is charged what it
 * waited (a lower bound), so a stall longer than --timeout still shows in the distribution
 * instead of leaving it, and each counts as a timeout (not as a response). */
static void give_up(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    for (unsigned i = 0; i < c->q_n; i++) {
        uint64_t t0 = c->intended[(c->q_head + i) % LOAD_MAX_PIPELINE];
        hist_record(w->st.lat, now > t0 ? now - t0 : 0);
    }
    w->st.err[ERR_TIMEOUT] += c->q_n;
    reset(c);
}

/* Does what is due on c at now; returns when c next needs a look (UINT64_MAX: only when one
 * of its operations completes). */
static uint64_t pump(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    if (c->state == C_IDLE) {
        if (w->stopping) {
            return UINT64_MAX;
        }
        if (now < c->retry_at) {
            return c->retry_at;
        }
        start_connect(c, now);
        return c->state == C_IDLE ? c->retry_at : UINT64_MAX;
    }
    if (c->state != C_OPEN) {
        return UINT64_MAX;
    }
    uint64_t due = UINT64_MAX;
    if (c->q_n) {
        uint64_t deadline = c->sent_at[c->q_head] + w->o->timeout_ns;
        if (now >= deadline) {
            give_up(c, now);
            return c->state == C_IDLE ? now : UINT64_MAX;
        }
        due = deadline;
    }
    if (w->stopping || c->send_armed) {
        return due;
    }
    if (w->o->rate > 0) {
        while (c->q_n < w->depth && c->sched.next <= now && c->sched.next < w->end) {
            enqueue(c, sched_take(&c->sched), now);
        }
        if (c->q_n < w->depth && c->sched.next < w->end && c->sched.next < due) {
            due = c->sched.next;
        }
    } else if (c->q_n == 0) {
        /* closed loop: a whole batch of --pipeline at once, as wrk's pipelining does */
        while (c->q_n < w->depth) {
            enqueue(c, now, now);
        }
    }
    if (c->outlen) {
        arm_send(c);
    }
    return due;
}

static void complete(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    uint64_t t0 = c->intended[c->q_head];
    c->q_head = (c->q_head + 1) % LOAD_MAX_PIPELINE;
    c->q_n--;
    w->inflight--;
    hist_record(w->st.lat, now > t0 ? now - t0 : 0);
    w->st.requests++;
    int cls = c->resp.status / 100;
    w->st.status[cls >= 1 && cls <= 5 ? cls : 0]++;
    if (c->chk && !w->head && !check_end(c->chk, w->o->sha256)) {
        w->st.err[ERR_CHECK]++;
    }
}

/* The connection ended (EOF): finishes a body that ran to the close, counts what was owed. */
static void on_eof(struct conn *c, uint64_t now)
{
    int e = resp_eof(&c->resp);
    if (e == 1 && c->q_n) {
        complete(c, now);
    }
    if (e < 0 || c->q_n) {
        c->w->st.err[ERR_CLOSED]++;
    }
    reset(c);
}

/* res bytes at in (or an error, or 0: EOF); rearm: the recv is over and must be armed again */
static void on_recv(struct conn *c, int res, const char *in, bool rearm, uint64_t now)
{
    struct worker *w = c->w;
    if (res == -ENOBUFS) { /* every buffer in use: the multishot ended, start it again */
        arm_recv(c);
        return;
    }
    if (res < 0) {
        w->st.err[ERR_READ]++;
        reset(c);
        return;
    }
    if (res == 0) {
        on_eof(c, now);
        return;
    }
    w->st.bytes += (uint64_t)res;
    size_t off = 0, n = (size_t)res;
    while (off < n) {
        if (c->q_n == 0) { /* bytes nobody asked for */
            w->st.err[ERR_PARSE]++;
            reset(c);
            return;
        }
        long used = resp_feed(&c->resp, in + off, n - off);
        if (used < 0) {
            w->st.err[ERR_PARSE]++;
            reset(c);
            return;
        }
        off += (size_t)used;
        if (c->resp.state == RESP_DONE) {
            bool close_after = c->resp.close || w->o->close; /* we asked for a close */
            complete(c, now);
            fresh_response(c);
            if (close_after) {
                if (c->q_n) {
                    w->st.err[ERR_CLOSED]++;
                }
                reset(c);
                return;
            }
        }
    }
    if (rearm) {
        arm_recv(c);
    }
}

static uint64_t on_cqe(struct worker *w, struct io_uring_cqe *cqe, uint64_t now)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    struct conn *c = (struct conn *)(uintptr_t)(ud & ~7ull);
    enum op op = (enum op)(ud & 7);
    /* a multishot recv stays in the ring until a completion without F_MORE */
    bool more = op == OP_RECV && (cqe->flags & IORING_CQE_F_MORE);
    if (!more) {
        c->pending--;
    }
    const char *in = c->in;
    int bid = -1;
    if (op == OP_RECV && (cqe->flags & IORING_CQE_F_BUFFER)) {
        bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        in = w->bufs + (size_t)bid * RECV_BUF;
    }
    if (c->state == C_DRAIN) {
        if (c->pending == 0) {
            c->state = C_IDLE;
        }
    } else if (op == OP_CONNECT) {
        if (cqe->res < 0) {
            w->st.err[ERR_CONNECT]++;
            close(c->fd);
            c->fd = -1;
            c->state = C_IDLE;
            c->retry_at = now + RETRY_NS;
        } else {
            c->state = C_OPEN;
            fresh_response(c);
            arm_recv(c);
        }
    } else if (op == OP_SEND) {
        c->send_armed = false;
        if (cqe->res < 0) {
            w->st.err[ERR_WRITE]++;
            reset(c);
        } else {
            c->outoff += (size_t)cqe->res;
            if (c->outoff < c->outlen) {
                arm_send(c);
            } else {
                c->outlen = c->outoff = 0;
            }
        }
    } else {
        on_recv(c, cqe->res, in, !more, now);
    }
    if (bid >= 0) { /* parsed: the kernel may fill it again (a submit while parsing could) */
        give_back(w, (unsigned)bid);
    }
    return w->running ? pump(c, now) : UINT64_MAX;
}

/* Takes every completion there is; returns the earliest time a connection asked for. */
static uint64_t reap(struct worker *w, uint64_t wake)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    uint64_t now = load_now();
    io_uring_for_each_cqe(&w->ring, head, cqe)
    {
        uint64_t t = on_cqe(w, cqe, now);
        wake = t < wake ? t : wake;
        seen++;
    }
    io_uring_cq_advance(&w->ring, seen);
    return wake;
}

static void wait_until(struct worker *w, uint64_t wake, uint64_t now)
{
    if (wake <= now) { /* no sleep, but run the task work DEFER_TASKRUN holds back */
        io_uring_submit_and_get_events(&w->ring);
        return;
    }
    uint64_t d = wake - now;
    if (d < w->spin_ns) { /* near: poll; a timer and a wake-up cost more and come late */
        io_uring_submit_and_get_events(&w->ring);
        return;
    }
    if (d > 100000000ull) {
        d = 100000000ull;
    }
    struct __kernel_timespec ts = {.tv_sec = (long long)(d / 1000000000ull),
                                   .tv_nsec = (long long)(d % 1000000000ull)};
    struct io_uring_cqe *cqe;
    io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
}

/* Before the clock starts: every connection connected (or failed), at most 5 s. */
static void connect_all(struct worker *w)
{
    uint64_t now = load_now(), give_up = now + 5000000000ull;
    for (int i = 0; i < w->n; i++) {
        start_connect(w->conns[i], now);
    }
    for (;;) {
        bool busy = false;
        for (int i = 0; i < w->n; i++) {
            busy |= w->conns[i]->state == C_CONNECTING;
        }
        now = load_now();
        if (!busy || now >= give_up) {
            return;
        }
        wait_until(w, now + 10000000ull, now);
        reap(w, UINT64_MAX);
    }
}

static void run(struct worker *w)
{
    const struct load_opts *o = w->o;
    double per_conn = o->rate / o->conns;
    for (int i = 0; i < w->n; i++) {
        int gi = w->first + i;
        /* connection gi starts gi/rate after the start: together they send evenly */
        uint64_t offset = o->rate > 0 ? (uint64_t)(1e9 * gi / o->rate) : 0;
        sched_init(&w->conns[i]->sched, w->start, offset, per_conn > 0 ? per_conn : 1,
                   o->poisson, 0x51ED270B27F1A3ull * (uint64_t)(gi + 1));
    }
    w->running = true;
    /* after the end, the answers still owed get their full --timeout: each then arrives or
     * is charged as a timeout, never dropped */
    uint64_t wake = 0, grace = o->timeout_ns;
    uint64_t drain_end = UINT64_MAX;
    for (;;) {
        uint64_t now = load_now();
        if (!w->stopping && now >= w->end) {
            w->stopping = true;
            drain_end = now + grace;
            wake = 0;
        }
        if (now >= wake) {
            wake = UINT64_MAX;
            for (int i = 0; i < w->n; i++) {
                uint64_t t = pump(w->conns[i], now);
                wake = t < wake ? t : wake;
            }
        }
        if (w->stopping && (w->inflight == 0 || now >= drain_end)) {
            for (int i = 0; i < w->n; i++) { /* what the deadlines have not caught yet */
                if (w->conns[i]->state == C_OPEN && w->conns[i]->q_n) {
                    give_up(w->conns[i], now);
                }
            }
            break;
        }
        uint64_t until = w->stopping ? drain_end : w->end;
        wait_until(w, wake < until ? wake : until, now);
        wake = reap(w, wake);
    }
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
            snprintf(w->err, sizeof(w->err), "cannot pin thread %d to CPU %d", w->id, w->cpu);
        }
    }
    prctl(PR_SET_TIMERSLACK, 1000UL); /* wake within ~1 us of an intended send time */
    unsigned entries = 64;
    while (entries < 4096 && entries < (unsigned)w->n * 2 + 8) {
        entries *= 2;
    }
    /* one thread submits and reaps, so the kernel may run completions' task work only when we
     * wait (DEFER_TASKRUN): no interrupt in the middle of a batch; older kernels get the plain ring */
    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
    /* SPATE_LOAD_PLAIN_RING=1: what an older kernel gets (the tests run both) */
    bool plain = getenv("SPATE_LOAD_PLAIN_RING") && *getenv("SPATE_LOAD_PLAIN_RING") == '1';
    int rc = plain ? -EINVAL : io_uring_queue_init_params(entries, &w->ring, &p);
    if (rc < 0) {
        rc = io_uring_queue_init(entries, &w->ring, 0);
    }
    if (rc < 0) {
        snprintf(w->err, sizeof(w->err), "io_uring_queue_init: %s", strerror(-rc));
        pthread_barrier_wait(&w->sync->ready);
        pthread_barrier_wait(&w->sync->go);
        return NULL;
    }
    setup_buffers(w);
    connect_all(w);
    pthread_barrier_wait(&w->sync->ready);
    pthread_barrier_wait(&w->sync->go);
    w->start = w->sync->start;
    w->end = w->start + w->o->duration_ns;
    run(w);
    for (int i = 0; i < w->n; i++) {
        if (w->conns[i]->fd >= 0) {
            close(w->conns[i]->fd);
            w->conns[i]->fd = -1;
        }
    }
    io_uring_queue_exit(&w->ring); /* after this no completion can touch a buffer */
    return NULL;
}

struct worker *worker_new(const struct load_opts *o, struct load_sync *sync, int id, int cpu,
                          int first, int n)
{
    struct worker *w = calloc(1, sizeof(*w));
    w->o = o;
    w->sync = sync;
    w->id = id;
    w->cpu = cpu;
    w->first = first;
    w->n = n;
    w->depth = o->close ? 1 : (unsigned)o->pipeline;
    w->spin_ns = o->spin_ns;
    w->head = !strcmp(o->method, "HEAD");
    w->rng = 0xA0761D6478BD642Full ^ ((uint64_t)id << 32 | 1);
    w->st.lat = calloc(1, sizeof(struct hist));
    size_t cap = 64 + strlen(o->hostport) + o->headers_len + strlen(o->method);
    w->suffix = malloc(cap);
    /* a Host given with -H replaces the URL's, as in wrk (two would be a 400) */
    char host[sizeof(o->hostport) + 16] = "";
    if (!o->host_header) {
        snprintf(host, sizeof(host), "Host: %s\r\n", o->hostport);
    }
    w->suffix_len = (size_t)snprintf(w->suffix, cap, " HTTP/1.1\r\n%s%s%s\r\n", host,
                                     o->headers ? o->headers : "",
                                     o->close ? "Connection: close\r\n" : "");
    char *pre = malloc(strlen(o->method) + 2);
    sprintf(pre, "%s ", o->method);
    w->prefix = pre;
    w->out_cap = (strlen(pre) + strlen(o->path) + w->suffix_len + 256) * w->depth;
    w->conns = calloc((size_t)n, sizeof(*w->conns));
    for (int i = 0; i < n; i++) {
        struct conn *c = aligned_alloc(64, (sizeof(struct conn) + 63) & ~(size_t)63);
        memset(c, 0, sizeof(*c));
        c->w = w;
        c->fd = -1;
        c->out = malloc(w->out_cap);
        c->outcap = w->out_cap;
        if (o->check) {
            c->chk = check_new();
            c->resp.on_body = on_body;
            c->resp.ctx = c->chk;
        }
        fresh_response(c);
        w->conns[i] = c;
    }
    return w;
}

void worker_free(struct worker *w)
{
    for (int i = 0; i < w->n; i++) {
        check_free(w->conns[i]->chk);
        free(w->conns[i]->in);
        free(w->conns[i]->out);
        free(w->conns[i]);
    }
    free(w->conns);
    free(w->bufs);
    free(w->br);
    free(w->suffix);
    free((char *)w->prefix);
    free(w->st.lat);
    free(w);
}

const struct load_stats *worker_stats(const struct worker *w)
{
    return &w->st;
}

const char *worker_error(const struct worker *w)
{
    return w->err;
}
