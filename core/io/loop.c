/* loop.c - see loop.h. */
#include "core/io/loop.h"

#include "core/base/alloc.h"
#include "core/io/uring.h"
#include "log/errlog.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct io_ring {
    struct io_uring ring;
    struct io_bufring bufs;
    struct io_uring_sqe *last; /* the SQE prepared last (io_link) */
};

/*
 * user_data = the op's address in the low 48 bits (x86-64 and arm64 user
 * addresses fit) and its generation in the high 16. 0 is a cancel request,
 * whose completion nobody waits for.
 */
#define UD_PTR_MASK ((1ull << 48) - 1)

static uint64_t ud_of(const struct io_op *op)
{
    return (uint64_t)(uintptr_t)op | (uint64_t)op->gen << 48;
}

uint64_t io_op_user_data(const struct io_op *op)
{
    return ud_of(op);
}

int io_loop_ring_fd(const struct io_loop *l)
{
    return l->ring ? l->ring->ring.ring_fd : -1;
}

static struct io_uring_sqe *sqe_get(struct io_loop *l)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring->ring);
    if (UNLIKELY(!sqe)) {
        io_uring_submit(&l->ring->ring);
        sqe = io_uring_get_sqe(&l->ring->ring);
    }
    l->ring->last = sqe;
    return sqe; /* the SQ was just emptied, so never NULL */
}

/* ---------------------------------------------------------------- operations */

void io_recv_multishot(struct io_loop *l, struct io_op *op, int fd)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = l->ring->bufs.gid;
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_send(struct io_loop *l, struct io_op *op, int fd, const void *buf, size_t len, int flags)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_send(sqe, fd, buf, len, flags);
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_sendmsg(struct io_loop *l, struct io_op *op, int fd, const struct msghdr *msg, int flags)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_sendmsg(sqe, fd, msg, (unsigned)flags);
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_connect(struct io_loop *l, struct io_op *op, int fd, const struct sockaddr *addr,
                socklen_t len)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_connect(sqe, fd, addr, len);
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_recv(struct io_loop *l, struct io_op *op, int fd, void *buf, size_t len)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_recv(sqe, fd, buf, len, 0);
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_poll(struct io_loop *l, struct io_op *op, int fd, unsigned events)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_poll_add(sqe, fd, events);
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_poll_out(struct io_loop *l, struct io_op *op, int fd)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_poll_add(sqe, fd, POLLOUT);
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_read(struct io_loop *l, struct io_op *op, int fd, void *buf, unsigned len, uint64_t off)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_read(sqe, fd, buf, len, off);
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_write(struct io_loop *l, struct io_op *op, int fd, const void *buf, unsigned len)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_write(sqe, fd, buf, len, (uint64_t)-1);
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_openat2(struct io_loop *l, struct io_op *op, int dirfd, const char *path,
                struct open_how *how)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_openat2(sqe, dirfd, path, how);
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_accept_multishot(struct io_loop *l, struct io_op *op, int fd)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_sleep(struct io_loop *l, struct io_sleep *s, uint64_t ms)
{
    _Static_assert(sizeof(struct __kernel_timespec) == 16, "io_sleep timespec layout");
    s->sec = (int64_t)(ms / 1000);
    s->nsec = (long long)(ms % 1000) * 1000000;
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_timeout(sqe, (struct __kernel_timespec *)(void *)&s->sec, 0, 0);
    io_uring_sqe_set_data64(sqe, ud_of(&s->op));
}

void io_cancel(struct io_loop *l, const struct io_op *op)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_cancel64(sqe, ud_of(op), 0);
    io_uring_sqe_set_data64(sqe, 0);
}

void io_shutdown(struct io_loop *l, struct io_op *op, int fd, int how)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_shutdown(sqe, fd, how);
    io_uring_sqe_set_data64(sqe, ud_of(op));
}

void io_close(struct io_loop *l, int fd)
{
    if (!l->ring) {
        close(fd); /* the ring is gone (worker exit) */
        return;
    }
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data64(sqe, 0);
}

void io_reserve(struct io_loop *l, unsigned n)
{
    if (io_uring_sq_space_left(&l->ring->ring) < n) {
        io_uring_submit(&l->ring->ring);
    }
}

void io_link(struct io_loop *l)
{
    l->ring->last->flags |= IOSQE_IO_LINK;
}

/* ---------------------------------------------------------------- setup */

int io_probe(char *msg, size_t msglen)
{
    struct io_uring ring;
    const char *mode;
    int rc = io_ring_create(&ring, 8, 16, &mode);
    if (rc < 0) {
        const char *why;
        switch (-rc) {
        case EPERM:
            why = "blocked (kernel.io_uring_disabled is set, or a seccomp profile such as "
                  "Docker's default denies io_uring_setup)";
            break;
        case ENOSYS:
            why = "not supported by this kernel (needs Linux 6.0 or newer)";
            break;
        case ENOMEM:
            why = "out of memory or locked-memory limit (ulimit -l) too low";
            break;
        default:
            why = strerror(-rc);
            break;
        }
        snprintf(msg, msglen, "io_uring is unavailable: %s", why);
        return rc;
    }
    struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);

    static const struct {
        int op;
        const char *name;
    } need[] = {
        {IORING_OP_ACCEPT, "accept"},       {IORING_OP_RECV, "recv"},
        {IORING_OP_SEND, "send"},           {IORING_OP_SENDMSG, "sendmsg"},
        {IORING_OP_POLL_ADD, "poll"},       {IORING_OP_READ, "read"},
        {IORING_OP_ASYNC_CANCEL, "cancel"}, {IORING_OP_TIMEOUT, "timeout"},
        {IORING_OP_SHUTDOWN, "shutdown"},   {IORING_OP_CLOSE, "close"},
        {IORING_OP_OPENAT2, "openat2"},
    };

    rc = 0;
    if (!probe) {
        snprintf(msg, msglen, "io_uring is unavailable: cannot probe supported operations");
        rc = -ENOSYS;
    } else {
        for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
            if (!io_uring_opcode_supported(probe, need[i].op)) {
                snprintf(msg, msglen, "io_uring is unavailable: the kernel lacks the %s operation",
                         need[i].name);
                rc = -ENOSYS;
                break;
            }
        }
        io_uring_free_probe(probe);
    }
    if (rc == 0) {
        /* multishot accept/recv and provided-buffer rings: 6.0+; try a buffer ring */
        struct io_bufring b;
        int brc = io_bufring_create(&ring, &b, 8, 64, 7);
        if (brc < 0) {
            snprintf(msg, msglen,
                     "io_uring is unavailable: provided-buffer rings are not supported (%s); "
                     "Spate needs Linux 6.0 or newer",
                     strerror(-brc));
            rc = brc;
        } else {
            io_bufring_destroy(&ring, &b);
        }
    }
    io_uring_queue_exit(&ring);
    return rc;
}

void io_loop_restrict_rings(bool on)
{
    io_ring_set_restricted(on);
}

static void on_wake(struct io_op *op, int res, unsigned flags);

static void arm_wake(struct io_loop *l)
{
    io_read(l, &l->wake_op, l->wake_fd, &l->wake_buf, sizeof(l->wake_buf), 0);
}

int io_loop_prepare(struct io_loop *l)
{
    memset(l, 0, sizeof(*l));
    l->wake_fd = eventfd(0, EFD_CLOEXEC);
    return l->wake_fd < 0 ? -errno : 0;
}

void io_loop_unprepare(struct io_loop *l)
{
    if (l->wake_fd > 0) {
        close(l->wake_fd);
    }
    l->wake_fd = -1;
}

void io_loop_init_bare(struct io_loop *l)
{
    memset(l, 0, sizeof(*l));
    l->wake_fd = -1;
    io_loop_clock(l);
}

int io_loop_init(struct io_loop *l, const struct io_loop_params *p, char *err, size_t errlen)
{
    struct io_ring *r = sp_calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    bool restricted = io_ring_restricted();
    int rc = restricted ? io_ring_create_disabled(&r->ring, p->sq_entries, p->cq_entries, &l->mode)
                        : io_ring_create(&r->ring, p->sq_entries, p->cq_entries, &l->mode);
    if (rc < 0) {
        snprintf(err, errlen, "io_uring setup failed: %s", strerror(-rc));
        sp_free(r);
        return rc;
    }
    io_uring_register_ring_fd(&r->ring);
    /* blocking work (reads of uncached files) runs on at most two kernel helpers per worker */
    unsigned iowq[2] = {2, 2};
    io_uring_register_iowq_max_workers(&r->ring, iowq);
    rc = io_bufring_create(&r->ring, &r->bufs, p->recv_bufs, p->recv_buf_size, 0);
    if (rc < 0) {
        snprintf(err, errlen, "provided buffer ring: %s", strerror(-rc));
        io_uring_queue_exit(&r->ring);
        sp_free(r);
        return rc;
    }
    if (restricted && (rc = io_ring_lock_down(&r->ring)) < 0) {
        snprintf(err, errlen, "io_uring restrictions: %s", strerror(-rc));
        io_bufring_destroy(&r->ring, &r->bufs);
        io_uring_queue_exit(&r->ring);
        sp_free(r);
        return rc;
    }
    l->ring = r;
    l->buf_mem = r->bufs.mem;
    l->buf_size = r->bufs.size;
    io_op_init(&l->wake_op, on_wake);
    io_loop_clock(l);
    arm_wake(l);
    return 0;
}

void io_loop_fini(struct io_loop *l)
{
    if (!l->ring) {
        return;
    }
    io_uring_queue_exit(&l->ring->ring);
    /* the ring is gone: its registration went with it, only the memory is left */
    io_bufring_free(&l->ring->bufs);
    sp_free(l->ring);
    l->ring = NULL;
    l->buf_mem = NULL;
}

void io_loop_wake(struct io_loop *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->wake_fd, &one, sizeof(one));
    (void)r;
}

void io_loop_on_wake(struct io_loop *l, void (*fn)(void *arg), void *arg)
{
    l->on_wake = fn;
    l->wake_arg = arg;
}

static void on_wake(struct io_op *op, int res, unsigned flags)
{
    (void)res;
    (void)flags;
    struct io_loop *l = container_of(op, struct io_loop, wake_op);
    arm_wake(l);
    if (l->on_wake) {
        l->on_wake(l->wake_arg);
    }
}

void io_loop_add_timers(struct io_loop *l, struct timer_list *t)
{
    ASSERT(l->ntimers < IO_TIMER_LISTS);
    l->timers[l->ntimers++] = t;
}

int io_loop_submit(struct io_loop *l)
{
    int rc = io_uring_submit(&l->ring->ring);
    return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------- the turn */

void io_loop_clock(struct io_loop *l)
{
    struct timespec ts;
    uint64_t ms;
    if (l->precise_clock) {
        /*
         * One fine read a turn (about 25 ns through the vDSO, against 3 for a coarse one): the
         * milliseconds derive from it, and the wall clock from its distance to the monotonic
         * one, which only a step of the wall clock changes (both are slewed alike); that
         * distance is read again when the derived wall second turns, so a step shows within
         * a second.
         */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        l->now_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
        ms = l->now_us / 1000;
        uint64_t wall_us = l->now_us + (uint64_t)l->wall_off_us;
        if ((time_t)(wall_us / 1000000) != l->now_s) {
            clock_gettime(CLOCK_REALTIME, &ts);
            wall_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
            l->wall_off_us = (int64_t)(wall_us - l->now_us);
        }
        l->epoch_ms = wall_us / 1000;
        l->now_s = (time_t)(wall_us / 1000000);
    } else {
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
        l->now_s = time(NULL);
    }
    /* the coarse clock lags the fine one by up to a tick: when a reload turns the fine clock
     * off, now_ms must not step back (deadlines and ages are differences of it) */
    if (ms > l->now_ms) {
        l->now_ms = ms;
    }
}

void io_loop_run_deferred(struct io_loop *l)
{
    /*
     * The work list is taken once per turn: an owner that schedules itself again (a download
     * whose sendfile_max_chunk is spent) runs next turn, after the completions and timers of
     * everybody else. Re-arms only queue SQEs, so that list is run to the end.
     */
    struct io_defer *list = l->work;
    l->work = NULL;
    while (list) {
        struct io_defer *d = list;
        list = d->next;
        d->queued = false;
        l->others = list != NULL;
        d->fn(d);
    }
    l->others = false;
    while (l->arm) {
        list = l->arm;
        l->arm = NULL;
        while (list) {
            struct io_defer *d = list;
            list = d->next;
            d->queued = false;
            d->fn(d);
        }
    }
    if (l->ring) {
        io_bufring_commit(&l->ring->bufs);
    }
}

static uint64_t next_deadline(const struct io_loop *l)
{
    uint64_t d = UINT64_MAX;
    for (unsigned k = 0; k < l->ntimers; k++) {
        struct timer_node *n = timer_first(l->timers[k]);
        if (n && n->deadline_ms < d) {
            d = n->deadline_ms;
        }
    }
    return d;
}

static void expire_timers(struct io_loop *l)
{
    for (unsigned k = 0; k < l->ntimers; k++) {
        struct timer_list *t = l->timers[k];
        struct timer_node *n;
        while ((n = timer_first(t)) && n->deadline_ms <= l->now_ms) {
            timer_cancel(n);
            t->fired(t, n);
        }
    }
}

static void dispatch(struct io_loop *l, const struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    unsigned flags = 0;
    if (cqe->flags & IORING_CQE_F_MORE) {
        flags |= IO_MORE;
    }
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        flags |= IO_BUF | (cqe->flags >> IORING_CQE_BUFFER_SHIFT) << IO_BUF_SHIFT;
    }
    struct io_op *op = (struct io_op *)(uintptr_t)(ud & UD_PTR_MASK);
    /* a cancel's own result, or a completion of an op whose owner was since reused */
    if (op && op->gen == (uint16_t)(ud >> 48)) {
        op->cb(op, cqe->res, flags);
    }
    if (flags & IO_BUF) {
        io_bufring_recycle(&l->ring->bufs, flags >> IO_BUF_SHIFT);
    }
}

int io_loop_wait(struct io_loop *l, uint64_t wake_by_ms)
{
    uint64_t d = l->work ? l->now_ms : next_deadline(l); /* work left: do not sleep */
    if (wake_by_ms < d) {
        d = wake_by_ms;
    }
    struct io_uring *ring = &l->ring->ring;
    struct io_uring_cqe *cqe = NULL;
    int rc;
    if (d == UINT64_MAX) {
        rc = io_uring_submit_and_wait(ring, 1);
    } else {
        uint64_t ms = d > l->now_ms ? d - l->now_ms : 0;
        struct __kernel_timespec ts = {.tv_sec = (long long)(ms / 1000),
                                       .tv_nsec = (long long)(ms % 1000) * 1000000};
        rc = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
        errlog(ERRLOG_CRIT, "io_uring_enter: %s", strerror(-rc));
        return rc;
    }
    io_loop_clock(l);
    unsigned head, n = 0, ready = io_uring_cq_ready(ring);
    io_uring_for_each_cqe(ring, head, cqe)
    {
        l->others = n + 1 < ready;
        dispatch(l, cqe);
        n++;
    }
    l->others = false;
    io_uring_cq_advance(ring, n);
    expire_timers(l);
    return 0;
}
