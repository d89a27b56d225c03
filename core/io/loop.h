/*
 * loop.h - a worker's event loop: one io_uring, completions dispatched to callbacks.
 *
 * One turn of the loop:
 *   1. io_loop_run_deferred(): the work deferred to the end of the last turn
 *      (flushing connections with new output, re-arming receives) and the
 *      provided receive buffers recycled during it are handed to the kernel;
 *   2. io_loop_wait(): one io_uring_submit_and_wait_timeout() submits every
 *      operation queued during the turn and sleeps until a completion arrives
 *      or the earliest timer is due; then every completion is dispatched to
 *      its io_op's callback and the expired timers fire.
 *
 * An operation is named by a struct io_op embedded in its owner (a
 * connection, a listener, a handler's request state): user_data carries the
 * op's address and a 16-bit generation, so a completion never reaches a later
 * use of the same memory (io_op_retire bumps it). The lifetime rule that makes
 * this safe: an owner is freed only when none of its operations is in flight.
 * Cancel requests complete with no op at all and are dropped.
 *
 * liburing is visible only inside core/io/: the functions below prepare each
 * kind of operation the layers above use. Nothing here knows about
 * connections or HTTP.
 *
 * Single-threaded: a loop belongs to the worker thread that created it;
 * io_loop_wake() is the only function another thread may call.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/io/timer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/openat2.h>
#include <time.h>

struct io_loop;
struct io_op;
struct io_ring;

/* Completion flags passed to io_done_fn. */
#define IO_MORE 0x1u     /* a multishot operation stays armed: more completions follow */
#define IO_BUF 0x2u      /* the res bytes are in a provided receive buffer: io_buf() */
#define IO_BUF_SHIFT 16u /* the buffer id sits in the upper 16 bits */

/*
 * Called once per completion with the kernel's result (bytes, a new fd, or
 * -errno). A provided buffer (IO_BUF) is valid only during the call: the loop
 * hands it back to the kernel afterwards.
 */
typedef void (*io_done_fn)(struct io_op *op, int res, unsigned flags);

struct io_op {
    io_done_fn cb;
    uint16_t gen;
};

/* Work run at the start of the next turn (once per turn, in LIFO order of scheduling). */
struct io_defer {
    struct io_defer *next;
    void (*fn)(struct io_defer *d);
    bool queued;
};

/* An IORING_OP_TIMEOUT: op completes with -ETIME after the delay (or -ECANCELED). */
struct io_sleep {
    struct io_op op;
    int64_t sec; /* laid out as struct __kernel_timespec, which the kernel reads at submit */
    long long nsec;
};

#define IO_TIMER_LISTS 8

struct io_loop_params {
    unsigned sq_entries, cq_entries;
    unsigned recv_bufs, recv_buf_size; /* the provided-buffer ring for receives */
};

#define IO_LOOP_PARAMS_DEFAULT ((struct io_loop_params){1024, 16384, 1024, 4096})

struct io_loop {
    struct io_ring *ring; /* NULL in a bare loop (unit tests of the layers above) */
    const char *mode;     /* what io_uring setup succeeded, for the startup log */

    /* clocks, refreshed once per turn */
    uint64_t now_ms;     /* CLOCK_MONOTONIC (COARSE unless precise_clock), never decreasing */
    time_t now_s;        /* wall clock seconds */
    uint64_t now_us;     /* CLOCK_MONOTONIC, only when precise_clock */
    uint64_t epoch_ms;   /* CLOCK_REALTIME, only when precise_clock */
    int64_t wall_off_us; /* CLOCK_REALTIME - CLOCK_MONOTONIC, read once a wall second */
    bool precise_clock;  /* set by the owner when something needs the fine clocks (logging) */

    /* deferred work: `work` is taken once per turn (fairness), `arm` is run to the end */
    struct io_defer *work, *arm;
    /* while a completion or a deferred item is handled: others of this turn still wait */
    bool others;

    /* timeout lists whose heads bound the sleep and whose expired nodes fire */
    struct timer_list *timers[IO_TIMER_LISTS];
    unsigned ntimers;

    /* another thread's wake-up: an eventfd read by a multishot-free read op */
    int wake_fd;
    uint64_t wake_buf;
    struct io_op wake_op;
    void (*on_wake)(void *arg);
    void *wake_arg;

    /* provided receive buffers (also reachable inline by io_buf) */
    char *buf_mem;
    uint32_t buf_size;
};

/*
 * Checks once, at startup, that io_uring works here with everything the
 * workers use. Returns 0, or -errno with a human explanation in msg.
 */
int io_probe(char *msg, size_t msglen) MUST_CHECK;

/*
 * From now on, rings io_loop_init creates are restricted to the io_uring operations spate
 * submits (core/io/uring.c's io_ring_lock_down; the sandbox turns it on before the workers
 * start).
 */
void io_loop_restrict_rings(bool on);

/* Creates the wake eventfd (any thread, before the worker starts). 0 or -errno. */
int io_loop_prepare(struct io_loop *l) MUST_CHECK;

/*
 * Creates the ring and the provided-buffer ring on the calling thread (the
 * worker), arms the wake read. 0, or -errno with a sentence in err.
 */
int io_loop_init(struct io_loop *l, const struct io_loop_params *p, char *err,
                 size_t errlen) MUST_CHECK;

/* A loop with no ring: deferred work, timers and clocks only (unit tests). */
void io_loop_init_bare(struct io_loop *l);

/* Tears the ring down; in-flight operations are cancelled by the kernel. */
void io_loop_fini(struct io_loop *l);

/* Closes the wake eventfd (after the worker exited). */
void io_loop_unprepare(struct io_loop *l);

/* Any thread: makes the loop's next (or current) wait return and call on_wake. */
void io_loop_wake(struct io_loop *l);

/* Sets what a wake-up runs on the loop's thread. */
void io_loop_on_wake(struct io_loop *l, void (*fn)(void *arg), void *arg);

/* Registers a timeout list: its earliest deadline bounds the sleep; expired nodes fire. */
void io_loop_add_timers(struct io_loop *l, struct timer_list *t);

/* Runs the deferred work and hands recycled receive buffers back (step 1). */
void io_loop_run_deferred(struct io_loop *l);

/*
 * Submits, sleeps until a completion or the earliest timer (or wake_by_ms, a
 * monotonic deadline; UINT64_MAX for none), dispatches completions, fires
 * timers (step 2). Returns 0, or -errno when the ring failed for good.
 */
int io_loop_wait(struct io_loop *l, uint64_t wake_by_ms) MUST_CHECK;

/* Submits what is queued now (at startup). 0 or -errno. */
int io_loop_submit(struct io_loop *l) MUST_CHECK;

/* Refreshes the clocks (done by io_loop_wait; exposed for startup and tests). */
void io_loop_clock(struct io_loop *l);

/* Whether other owners wait for the worker: completions of this turn not yet handled, work
 * deferred in this one or to the next. A long send yields the turn only then. */
static inline bool io_loop_others_wait(const struct io_loop *l)
{
    return l->others || l->work != NULL;
}

/* Schedules d for the next turn's work (no-op if already scheduled). */
static inline void io_defer(struct io_loop *l, struct io_defer *d)
{
    if (!d->queued) {
        d->queued = true;
        d->next = l->work;
        l->work = d;
    }
}

/* Schedules d to run after the work list (re-arming receives). */
static inline void io_defer_arm(struct io_loop *l, struct io_defer *d)
{
    if (!d->queued) {
        d->queued = true;
        d->next = l->arm;
        l->arm = d;
    }
}

/* Sets the callback of an op (its generation carries on from any earlier use). */
static inline void io_op_init(struct io_op *op, io_done_fn done)
{
    op->cb = done;
}

/* Makes completions of the op's earlier uses unrecognisable (the owner is reused). */
static inline void io_op_retire(struct io_op *op)
{
    op->gen++;
}

/*
 * The user_data under which a completion reaches op now: what another thread posting a
 * completion for op into this loop's ring puts in it (core/io/offload.c, IORING_OP_MSG_RING).
 */
uint64_t io_op_user_data(const struct io_op *op);

/* The ring's file descriptor (the target of such posts), or -1 in a bare loop. */
int io_loop_ring_fd(const struct io_loop *l);

/* The provided buffer of a completion with IO_BUF. */
static inline const char *io_buf(const struct io_loop *l, unsigned flags)
{
    return l->buf_mem + (size_t)(flags >> IO_BUF_SHIFT) * l->buf_size;
}

/* ---- operations: each completes once on op (multishot ones until IO_MORE is clear) ---- */

/* Multishot receive into the loop's provided buffers. */
void io_recv_multishot(struct io_loop *l, struct io_op *op, int fd);

/* send(2) / sendmsg(2) of memory; msg must stay valid until the completion. */
void io_send(struct io_loop *l, struct io_op *op, int fd, const void *buf, size_t len, int flags);
void io_sendmsg(struct io_loop *l, struct io_op *op, int fd, const struct msghdr *msg, int flags);

/* connect(2) of a non-blocking socket; addr must stay valid until the completion. */
void io_connect(struct io_loop *l, struct io_op *op, int fd, const struct sockaddr *addr,
                socklen_t len);

/* One recv(2) into buf (which must stay valid until the completion). */
void io_recv(struct io_loop *l, struct io_op *op, int fd, void *buf, size_t len);

/* Waits for fd to become ready for events (a poll(2) mask: POLLIN, POLLOUT), once. */
void io_poll(struct io_loop *l, struct io_op *op, int fd, unsigned events);

/* Waits for fd to become writable (POLLOUT). */
void io_poll_out(struct io_loop *l, struct io_op *op, int fd);

/* pread of a file range into buf (which must stay valid until the completion). */
void io_read(struct io_loop *l, struct io_op *op, int fd, void *buf, unsigned len, uint64_t off);

/* IO_POS_CURRENT as io_read's offset: a pipe or socket, read where it is (read(2)). */
#define IO_POS_CURRENT UINT64_MAX

/* write(2) of memory to a pipe (a CGI script's stdin); buf must stay valid until the
 * completion, which may be short. */
void io_write(struct io_loop *l, struct io_op *op, int fd, const void *buf, unsigned len);

/*
 * openat2(2): completes with the new fd or -errno. path and how are read when the operation
 * is submitted (the end of the turn): they must stay valid until then. The kernel tries the
 * lookup without blocking first and hands it to a worker thread of its own when a directory
 * or inode must come from disk, so a cold open never stalls the loop.
 */
void io_openat2(struct io_loop *l, struct io_op *op, int dirfd, const char *path,
                struct open_how *how);

/* Multishot accept of non-blocking, close-on-exec sockets. */
void io_accept_multishot(struct io_loop *l, struct io_op *op, int fd);

/* A timer: s->op completes after ms milliseconds with -ETIME. */
void io_sleep(struct io_loop *l, struct io_sleep *s, uint64_t ms);

/* Asks the kernel to cancel every in-flight use of op; the cancel's own result is dropped. */
void io_cancel(struct io_loop *l, const struct io_op *op);

/* shutdown(2) of a socket (how: SHUT_WR or SHUT_RDWR). */
void io_shutdown(struct io_loop *l, struct io_op *op, int fd, int how);

/* close(2) through the ring, nobody waiting for the result (close(2) itself once the ring is
 * gone). Nothing may be in flight on fd. */
void io_close(struct io_loop *l, int fd);

/*
 * Linking: io_reserve(l, 2), prepare an operation, io_link(l), prepare the next. The second
 * starts only once the first succeeded in full; if the first fails or comes up short, the
 * second completes with -ECANCELED. io_reserve makes sure both go in the same submission
 * (a link left at the end of one would not hold the next back).
 */
void io_reserve(struct io_loop *l, unsigned n);
void io_link(struct io_loop *l);
