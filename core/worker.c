/*
 * worker.c - the per-core event loop.
 *
 * One turn of the loop:
 *   1. run deferred work: flush connections with new output, re-arm recvs,
 *      hand recycled receive buffers back to the kernel;
 *   2. one io_uring_submit_and_wait_timeout(): submits everything queued and
 *      sleeps until a completion arrives or the earliest timer is due;
 *   3. dispatch every completion;
 *   4. expire timers.
 * The ring is created by this thread (IORING_SETUP_SINGLE_ISSUER), which is
 * pinned to one CPU; nothing here takes a lock.
 */
#include "core/worker.h"

#include "core/base/alloc.h"
#include "core/conn.h"
#include "core/runtime.h"
#include "log/errlog.h"
#include "proto/date.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define SQ_ENTRIES 1024
#define CQ_ENTRIES 16384
#define RECV_BUFS 1024
#define RECV_BUF_SIZE 4096
#define OUT_BLOCK_SIZE 32768
#define ARENA_CHUNK 4096
#define ACCEPT_PAUSE_MS 100

/* ---------------------------------------------------------------- pools */

void *block_get(struct block_pool *p)
{
    void *b = p->free_list;
    if (b) {
        p->free_list = *(void **)b;
        p->nfree--;
        return b;
    }
    return sp_malloc(p->size);
}

void block_put(struct block_pool *p, void *b)
{
    if (p->nfree >= p->max_free) {
        sp_free(b);
        return;
    }
    *(void **)b = p->free_list;
    p->free_list = b;
    p->nfree++;
}

static void block_pool_destroy(struct block_pool *p)
{
    while (p->free_list) {
        void *b = p->free_list;
        p->free_list = *(void **)b;
        sp_free(b);
    }
    p->nfree = 0;
}

/* ---------------------------------------------------------------- time */

static void refresh_clock(struct worker *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    w->now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    time_t now = time(NULL);
    if (w->logging) {
        /* request durations in microseconds, log timestamps in milliseconds */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        w->now_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
        clock_gettime(CLOCK_REALTIME, &ts);
        w->epoch_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
        now = ts.tv_sec;
        alog_tick(w, now);
    }
    if (now != w->date_sec) {
        /* Date is formatted at most once per second per worker */
        w->date_sec = now;
        char *p = w->date_line;
        memcpy(p, "Server: spate\r\nDate: ", 21);
        http_date_format(p + 21, now);
        memcpy(p + 21 + HTTP_DATE_LEN, "\r\n", 2);
        w->date_line_len = 21 + HTTP_DATE_LEN + 2;
    }
}

/* ---------------------------------------------------------------- accept */

static struct io_uring_sqe *sqe_get(struct worker *w)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (!sqe) {
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
    }
    return sqe;
}

static void arm_accept(struct worker *w, unsigned g)
{
    struct io_uring_sqe *sqe = sqe_get(w);
    io_uring_prep_multishot_accept(sqe, w->lfds[g], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud_pack(IO_ACCEPT, g, 0));
    w->accept_armed[g] = true;
}

static void on_accept(struct worker *w, unsigned g, int res, uint32_t flags)
{
    if (!(flags & IORING_CQE_F_MORE)) {
        w->accept_armed[g] = false;
    }
    if (res >= 0) {
        w->accept_warned = false;
        if (w->draining) {
            close(res);
        } else {
            conn_open(w, res, (uint16_t)g);
        }
    } else if (res != -ECANCELED) {
        w->stats.accept_errors++;
        if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
            /* out of descriptors: keep serving what we have, try again shortly */
            if (!w->accept_paused) {
                errlog(ERRLOG_WARN, "accept: %s; pausing new connections for %d ms", strerror(-res),
                       ACCEPT_PAUSE_MS);
            }
            w->accept_paused = true;
            w->accept_resume_ms = w->now_ms + ACCEPT_PAUSE_MS;
            if (w->accept_armed[g]) {
                struct io_uring_sqe *sqe = sqe_get(w);
                io_uring_prep_cancel64(sqe, ud_pack(IO_ACCEPT, g, 0), 0);
                io_uring_sqe_set_data64(sqe, ud_pack(IO_CANCEL, 0, 0));
            }
        }
    }
    if (!w->accept_armed[g] && !w->accept_paused && !w->draining) {
        arm_accept(w, g);
    }
}

static void resume_accept(struct worker *w)
{
    w->accept_paused = false;
    for (unsigned g = 0; g < w->nlisten; g++) {
        if (!w->accept_armed[g]) {
            arm_accept(w, g);
        }
    }
}

/* ---------------------------------------------------------------- shutdown */

static void arm_wake(struct worker *w)
{
    struct io_uring_sqe *sqe = sqe_get(w);
    io_uring_prep_read(sqe, w->wake_fd, &w->wake_buf, sizeof(w->wake_buf), 0);
    io_uring_sqe_set_data64(sqe, ud_pack(IO_WAKE, 0, 0));
}

void worker_request_stop(struct worker *w)
{
    atomic_fetch_add(&w->stop_requested, 1);
    uint64_t one = 1;
    ssize_t r = write(w->wake_fd, &one, sizeof(one));
    (void)r;
}

static void start_drain(struct worker *w)
{
    if (w->draining) {
        /* asked twice: stop waiting for in-flight responses */
        w->drain_deadline_ms = w->now_ms;
        return;
    }
    w->draining = true;
    w->drain_deadline_ms = w->now_ms + w->cfg->drain_timeout_ms;
    for (unsigned g = 0; g < w->nlisten; g++) {
        if (w->accept_armed[g]) {
            struct io_uring_sqe *sqe = sqe_get(w);
            io_uring_prep_cancel64(sqe, ud_pack(IO_ACCEPT, g, 0), 0);
            io_uring_sqe_set_data64(sqe, ud_pack(IO_CANCEL, 0, 0));
        }
    }
    for (uint32_t i = 0; i < w->nslots; i++) {
        struct conn *c = w->slots[i];
        if (c->w) {
            conn_shutdown(w, c);
        }
    }
}

/* ---------------------------------------------------------------- timers */

static uint64_t next_deadline(struct worker *w)
{
    uint64_t d = UINT64_MAX;
    for (int k = 0; k < TK__COUNT; k++) {
        struct timer_node *n = timer_first(&w->timers[k]);
        if (n && n->deadline_ms < d) {
            d = n->deadline_ms;
        }
    }
    if (w->accept_paused && w->accept_resume_ms < d) {
        d = w->accept_resume_ms;
    }
    if (w->draining && w->drain_deadline_ms < d) {
        d = w->drain_deadline_ms;
    }
    return d;
}

static void expire_timers(struct worker *w)
{
    for (int k = 0; k < TK__COUNT; k++) {
        struct timer_node *n;
        while ((n = timer_first(&w->timers[k])) && n->deadline_ms <= w->now_ms) {
            struct conn *c = container_of(n, struct conn, timer);
            timer_cancel(n);
            conn_timeout(w, c, k);
        }
    }
    if (w->accept_paused && w->now_ms >= w->accept_resume_ms && !w->draining) {
        resume_accept(w);
    }
}

/* ---------------------------------------------------------------- loop */

static struct conn *lookup(struct worker *w, uint64_t ud)
{
    uint32_t idx = ud_idx(ud);
    if (idx >= w->nslots) {
        return NULL;
    }
    struct conn *c = w->slots[idx];
    if (!c->w || c->gen != ud_gen(ud)) {
        return NULL; /* stale completion for a slot since reused */
    }
    return c;
}

static void dispatch(struct worker *w, struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    int op = ud_op(ud);
    switch (op) {
    case IO_ACCEPT:
        on_accept(w, ud_idx(ud), cqe->res, cqe->flags);
        return;
    case IO_WAKE:
        /* one eventfd for two senders: the log flusher (room again) and main (stop) */
        if (atomic_exchange(&w->log_space, 0)) {
            alog_on_space(w);
        }
        while (w->stops_seen < (unsigned)atomic_load(&w->stop_requested)) {
            w->stops_seen++;
            start_drain(w); /* the second request cuts the drain short */
        }
        arm_wake(w);
        return;
    case IO_CANCEL:
        return;
    default:
        break;
    }
    struct conn *c = lookup(w, ud);
    if (!c) {
        if ((cqe->flags & IORING_CQE_F_BUFFER) && op == IO_RECV) {
            io_bufring_recycle(&w->bufs, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        }
        return;
    }
    conn_complete(w, c, op, cqe->res, cqe->flags);
}

static void run_deferred(struct worker *w)
{
    /*
     * The ready list is taken once per turn: a connection that schedules itself again (a
     * download whose sendfile_max_chunk is spent) runs next turn, after the completions and
     * timers of everybody else. Re-arms only queue SQEs, so that list is run to the end.
     */
    struct conn *list = w->ready;
    w->ready = NULL;
    while (list) {
        struct conn *c = list;
        list = c->next_ready;
        conn_run_ready(w, c);
    }
    while (w->rearm) {
        list = w->rearm;
        w->rearm = NULL;
        while (list) {
            struct conn *c = list;
            list = c->next_rearm;
            conn_run_rearm(w, c);
        }
    }
    io_bufring_commit(&w->bufs);
}

static void force_close_all(struct worker *w)
{
    for (uint32_t i = 0; i < w->nslots; i++) {
        struct conn *c = w->slots[i];
        if (c->w && !(c->flags & CF_DEAD)) {
            conn_abort(w, c);
        }
    }
}

static void loop(struct worker *w)
{
    bool forced = false;
    for (;;) {
        run_deferred(w);
        if (w->draining && w->nconns == 0) {
            break;
        }
        if (w->draining && !forced && w->now_ms >= w->drain_deadline_ms) {
            errlog(ERRLOG_WARN, "drain timeout: closing %u connection(s) with responses in flight",
                   w->nconns);
            force_close_all(w);
            forced = true;
            continue;
        }
        if (forced && w->now_ms >= w->drain_deadline_ms + 2000) {
            break; /* kernel operations refuse to finish: give up, exiting tears them down */
        }
        uint64_t d = w->ready ? w->now_ms : next_deadline(w); /* work left: do not sleep */
        if (forced) {
            d = w->drain_deadline_ms + 2000; /* cut off: just wait for the completions */
        }
        struct io_uring_cqe *cqe = NULL;
        int rc;
        if (d == UINT64_MAX) {
            rc = io_uring_submit_and_wait(&w->ring, 1);
        } else {
            uint64_t ms = d > w->now_ms ? d - w->now_ms : 0;
            struct __kernel_timespec ts = {.tv_sec = (long long)(ms / 1000),
                                           .tv_nsec = (long long)(ms % 1000) * 1000000};
            rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
        }
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
            errlog(ERRLOG_CRIT, "io_uring_enter: %s", strerror(-rc));
            break;
        }
        refresh_clock(w);
        unsigned head, n = 0;
        io_uring_for_each_cqe(&w->ring, head, cqe)
        {
            dispatch(w, cqe);
            n++;
        }
        io_uring_cq_advance(&w->ring, n);
        expire_timers(w);
    }
}

static void pin(struct worker *w)
{
    if (w->cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
        w->cpu = -1;
    }
}

static int init(struct worker *w)
{
    const struct cfg *cfg = w->cfg;
    int rc = io_ring_create(&w->ring, SQ_ENTRIES, CQ_ENTRIES, &w->ring_mode);
    if (rc < 0) {
        snprintf(w->init_err, sizeof(w->init_err), "io_uring setup failed: %s", strerror(-rc));
        return rc;
    }
    io_uring_register_ring_fd(&w->ring);
    unsigned iowq[2] = {2, 2};
    io_uring_register_iowq_max_workers(&w->ring, iowq);
    rc = io_bufring_create(&w->ring, &w->bufs, RECV_BUFS, RECV_BUF_SIZE, 0);
    if (rc < 0) {
        snprintf(w->init_err, sizeof(w->init_err), "provided buffer ring: %s", strerror(-rc));
        io_uring_queue_exit(&w->ring);
        return rc;
    }
    w->fcache = fs_cache_new(&cfg->file_cache);
    if (!w->fcache) {
        snprintf(w->init_err, sizeof(w->init_err), "out of memory");
        io_bufring_destroy(&w->ring, &w->bufs);
        io_uring_queue_exit(&w->ring);
        return -ENOMEM;
    }
    arena_pool_init(&w->arena_pool, ARENA_CHUNK, 4096);
    w->out_pool.size = OUT_BLOCK_SIZE;
    w->out_pool.max_free = 1024;
    w->free_head = UINT32_MAX;
    w->cachestat_ok = true;
    timer_list_init(&w->timers[TK_HEADER], cfg->header_timeout_ms, TK_HEADER);
    timer_list_init(&w->timers[TK_BODY], cfg->body_timeout_ms, TK_BODY);
    timer_list_init(&w->timers[TK_IDLE], cfg->keepalive_timeout_ms, TK_IDLE);
    timer_list_init(&w->timers[TK_SEND], cfg->send_timeout_ms, TK_SEND);
    timer_list_init(&w->timers[TK_LINGER], cfg->linger_timeout_ms, TK_LINGER);
    w->logging = w->rt->logs != NULL;
    refresh_clock(w);
    for (unsigned g = 0; g < w->nlisten; g++) {
        arm_accept(w, g);
    }
    arm_wake(w);
    rc = io_uring_submit(&w->ring);
    if (rc < 0) {
        snprintf(w->init_err, sizeof(w->init_err), "io_uring_submit: %s", strerror(-rc));
        return rc;
    }
    return 0;
}

static void fini(struct worker *w)
{
    /* if we gave up on operations still in flight, the kernel may touch their buffers while
     * it cancels them after the ring is gone: leave that memory to the process exit */
    bool stuck = false;
    for (uint32_t i = 0; i < w->nslots; i++) {
        stuck |= w->slots[i]->w && w->slots[i]->pending;
    }
    io_uring_queue_exit(&w->ring);
    if (stuck) {
        errlog(ERRLOG_WARN, "exiting with operations still in flight");
        return;
    }
    for (uint32_t i = 0; i < w->nslots; i++) {
        struct conn *c = w->slots[i];
        if (c->w) {
            /* still referenced by the kernel only if we gave up waiting: close anyway */
            close(c->fd);
            conn_log_unfinished(w, c);
            out_discard(c);
            sp_free(c->bounce);
            sp_free(c->in);
            arena_release(&c->arena);
        }
        sp_free(c);
    }
    sp_free(w->slots);
    alog_worker_fini(w);
    io_bufring_free(&w->bufs);
    fs_cache_free(w->fcache);
    arena_pool_destroy(&w->arena_pool);
    block_pool_destroy(&w->out_pool);
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals belong to the main thread */
    errlog_set_thread_id(w->id);
    pin(w);
    w->init_rc = init(w);
    if (w->init_rc == 0) {
        w->init_rc = alog_worker_init(w);
    }
    runtime_worker_ready(w->rt);
    if (w->init_rc < 0) {
        return NULL;
    }
    errlog(ERRLOG_INFO, "worker %u on cpu %d, io_uring %s", w->id, w->cpu, w->ring_mode);
    loop(w);
    fini(w);
    atomic_fetch_add(&w->rt->nexited, 1);
    return NULL;
}
