/* offload.c - the helper threads and their queue (see offload.h). */
#include "core/io/offload.h"

#include "core/io/uring.h"
#include "log/errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdalign.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Static_assert((OFFLOAD_QUEUE & (OFFLOAD_QUEUE - 1)) == 0, "OFFLOAD_QUEUE is a power of two");

enum pool_state { POOL_IDLE, POOL_RUNNING, POOL_FAILED };

/*
 * The queue is Vyukov's bounded multi-producer multi-consumer array: each cell carries a
 * sequence number saying whether it is free for the producer at a position or filled for the
 * consumer there, so producers (workers) and consumers (helpers) each claim a position with
 * one compare-and-swap and never wait for each other. The semaphore counts filled cells (and,
 * at stop, one token per helper), so idle helpers sleep in the kernel, not in a spin.
 */
struct cell {
    SP_ATOMIC(size_t) seq;
    struct offload_job *job;
};

struct pool {
    pthread_mutex_t mu; /* starting and stopping only: never taken by a submit once running */
    SP_ATOMIC(unsigned) users;
    SP_ATOMIC(int) state; /* enum pool_state; RUNNING is published after everything is set */
    int fail_rc;
    bool have_cpus;
    cpu_set_t cpus;
    unsigned nthreads;
    pthread_t threads[OFFLOAD_THREADS];
    struct io_uring rings[OFFLOAD_THREADS]; /* each helper's own, to post completions from */
    sem_t sem;
    SP_ATOMIC(bool) stopping;
    SP_ATOMIC(uint64_t) n_run, n_cancelled, n_full, n_post_failed;
    alignas(CACHELINE) SP_ATOMIC(size_t) enq;
    alignas(CACHELINE) SP_ATOMIC(size_t) deq;
    alignas(CACHELINE) struct cell cells[OFFLOAD_QUEUE];
};

static struct pool P = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---------------------------------------------------------------- the queue */

static bool enqueue(struct offload_job *j)
{
    size_t pos = atomic_load_explicit(&P.enq, memory_order_relaxed);
    struct cell *c;
    for (;;) {
        c = &P.cells[pos & (OFFLOAD_QUEUE - 1)];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        intptr_t diff = (intptr_t)seq - (intptr_t)pos;
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&P.enq, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                break;
            }
        } else if (diff < 0) {
            return false; /* the cell a lap ago is still filled: full */
        } else {
            pos = atomic_load_explicit(&P.enq, memory_order_relaxed);
        }
    }
    c->job = j;
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
    return true;
}

static struct offload_job *dequeue(void)
{
    size_t pos = atomic_load_explicit(&P.deq, memory_order_relaxed);
    struct cell *c;
    for (;;) {
        c = &P.cells[pos & (OFFLOAD_QUEUE - 1)];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        intptr_t diff = (intptr_t)seq - (intptr_t)(pos + 1);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&P.deq, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                break;
            }
        } else if (diff < 0) {
            return NULL; /* empty, or the producer of this cell has not published it yet */
        } else {
            pos = atomic_load_explicit(&P.deq, memory_order_relaxed);
        }
    }
    struct offload_job *j = c->job;
    atomic_store_explicit(&c->seq, pos + OFFLOAD_QUEUE, memory_order_release);
    return j;
}

/* ---------------------------------------------------------------- helpers */

/* Posts res for the job whose ring and user_data these are; closes the ring's duplicate. */
static void post(struct io_uring *ring, int fd, uint64_t ud, int res)
{
    int rc = -EAGAIN;
    /* a failure to queue the message is transient (memory); the target being gone is not */
    for (int tries = 0; tries < 100 && (rc == -EAGAIN || rc == -ENOMEM || rc == -EINTR); tries++) {
        if (tries) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        io_uring_prep_msg_ring(sqe, fd, (unsigned)res, ud, 0);
        io_uring_sqe_set_data64(sqe, 0);
        rc = io_uring_submit_and_wait(ring, 1);
        struct io_uring_cqe *cqe;
        if (rc >= 0 && io_uring_peek_cqe(ring, &cqe) == 0) {
            rc = cqe->res;
            io_uring_cqe_seen(ring, cqe);
        }
    }
    close(fd);
    if (rc < 0) {
        /* the submitting loop has gone (a worker that exited); nobody waits for this */
        atomic_fetch_add(&P.n_post_failed, 1);
        errlog(ERRLOG_WARN, "offload: a completion could not be delivered: %s", strerror(-rc));
    }
}

static void *helper_main(void *arg)
{
    struct io_uring *ring = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals belong to the main thread */
    pthread_setname_np(pthread_self(), "spate-offload");
    for (;;) {
        while (sem_wait(&P.sem) < 0 && errno == EINTR) {
        }
        struct offload_job *j;
        /* a token means a filled cell, but its producer may still be publishing the one before */
        while (!(j = dequeue()) && !atomic_load(&P.stopping)) {
            sched_yield();
        }
        if (!j) {
            break; /* stopping, and nothing left */
        }
        int res;
        if (atomic_load(&P.stopping) || atomic_load(&j->cancelled)) {
            res = -ECANCELED;
            atomic_fetch_add(&P.n_cancelled, 1);
        } else {
            res = j->run(j);
            atomic_fetch_add(&P.n_run, 1);
        }
        /* after the post the submitter may free j at once: read what it takes first */
        int fd = j->ring_fd;
        uint64_t ud = j->user_data;
        post(ring, fd, ud, res);
    }
    return NULL;
}

/* Stops and joins the first n helpers; their queued jobs complete with -ECANCELED. */
static void stop_threads(unsigned n)
{
    atomic_store(&P.stopping, true);
    for (unsigned i = 0; i < n; i++) {
        sem_post(&P.sem);
    }
    for (unsigned i = 0; i < n; i++) {
        pthread_join(P.threads[i], NULL);
    }
}

static bool msg_ring_supported(struct io_uring *ring)
{
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
    if (probe) {
        io_uring_free_probe(probe);
    }
    return ok;
}

static int start_locked(void)
{
    atomic_store(&P.stopping, false);
    atomic_store(&P.enq, 0);
    atomic_store(&P.deq, 0);
    for (size_t i = 0; i < OFFLOAD_QUEUE; i++) {
        atomic_store(&P.cells[i].seq, i);
        P.cells[i].job = NULL;
    }
    if (sem_init(&P.sem, 0, 0) < 0) {
        return -errno;
    }
    unsigned rings = 0;
    int rc = 0;
    for (; rings < OFFLOAD_THREADS; rings++) {
        rc = io_uring_queue_init(8, &P.rings[rings], 0);
        if (rc < 0) {
            break;
        }
        if (rings == 0 && !msg_ring_supported(&P.rings[0])) {
            io_uring_queue_exit(&P.rings[0]);
            rc = -ENOSYS;
            break;
        }
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (P.have_cpus) {
        /* started from a pinned worker: without this the helpers would share its one CPU */
        pthread_attr_setaffinity_np(&attr, sizeof(P.cpus), &P.cpus);
    }
    unsigned started = 0;
    for (; rc == 0 && started < OFFLOAD_THREADS; started++) {
        int e = pthread_create(&P.threads[started], &attr, helper_main, &P.rings[started]);
        if (e != 0) {
            rc = -e;
            break;
        }
    }
    pthread_attr_destroy(&attr);
    if (rc < 0) {
        stop_threads(started);
        for (unsigned i = 0; i < rings; i++) {
            io_uring_queue_exit(&P.rings[i]);
        }
        sem_destroy(&P.sem);
        errlog(ERRLOG_ERROR, "offload: cannot start helper threads: %s", strerror(-rc));
        return rc;
    }
    P.nthreads = started;
    return 0;
}

/* Starts the helpers once (the first submit of any worker). 0 or -errno. */
static int start(void)
{
    pthread_mutex_lock(&P.mu);
    int rc = 0;
    int st = atomic_load(&P.state);
    if (st == POOL_FAILED) {
        rc = P.fail_rc;
    } else if (st == POOL_IDLE) {
        if (atomic_load(&P.users) == 0) {
            rc = -ENOSYS; /* nobody registered: nobody would stop the threads */
        } else {
            rc = start_locked();
            if (rc < 0) {
                P.fail_rc = rc;
                atomic_store(&P.state, POOL_FAILED);
            } else {
                atomic_store_explicit(&P.state, POOL_RUNNING, memory_order_release);
            }
        }
    }
    pthread_mutex_unlock(&P.mu);
    return rc;
}

/* ---------------------------------------------------------------- the loop's side */

static void on_complete(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct offload_job *j = container_of(op, struct offload_job, op);
    j->in_flight = false;
    j->done(j, res); /* may free j */
}

void offload_job_init(struct offload_job *j, offload_run_fn run, offload_done_fn done)
{
    io_op_init(&j->op, on_complete);
    j->run = run;
    j->done = done;
    j->ring_fd = -1;
    j->user_data = 0;
    atomic_store(&j->cancelled, false);
    j->in_flight = false;
}

int offload_submit(struct io_loop *l, struct offload_job *j)
{
    ASSERT(!j->in_flight);
    int rfd = io_loop_ring_fd(l);
    if (rfd < 0) {
        return -ENOSYS;
    }
    if (atomic_load_explicit(&P.state, memory_order_acquire) != POOL_RUNNING) {
        int rc = start();
        if (rc < 0) {
            return rc;
        }
    }
    /* the duplicate keeps the ring itself alive until the helper has posted into it */
    int fd = fcntl(rfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    j->ring_fd = fd;
    j->user_data = io_op_user_data(&j->op);
    atomic_store(&j->cancelled, false);
    j->in_flight = true;
    if (!enqueue(j)) {
        j->in_flight = false;
        j->ring_fd = -1;
        close(fd);
        atomic_fetch_add(&P.n_full, 1);
        return -EAGAIN;
    }
    sem_post(&P.sem);
    return 0;
}

void offload_cancel(struct offload_job *j)
{
    if (j->in_flight) {
        atomic_store(&j->cancelled, true);
    }
}

/* ---------------------------------------------------------------- users */

void offload_use(void)
{
    pthread_mutex_lock(&P.mu);
    if (!P.have_cpus) {
        CPU_ZERO(&P.cpus);
        P.have_cpus = sched_getaffinity(0, sizeof(P.cpus), &P.cpus) == 0;
    }
    atomic_fetch_add(&P.users, 1);
    pthread_mutex_unlock(&P.mu);
}

bool offload_unuse(void)
{
    pthread_mutex_lock(&P.mu);
    ASSERT(atomic_load(&P.users) > 0);
    bool last = atomic_fetch_sub(&P.users, 1) == 1;
    if (last) {
        if (atomic_load(&P.state) == POOL_RUNNING) {
            stop_threads(P.nthreads);
            for (unsigned i = 0; i < P.nthreads; i++) {
                io_uring_queue_exit(&P.rings[i]);
            }
            sem_destroy(&P.sem);
            P.nthreads = 0;
        }
        atomic_store(&P.state, POOL_IDLE); /* a later user starts afresh (tests, a reload) */
        P.have_cpus = false;
    }
    pthread_mutex_unlock(&P.mu);
    return last;
}

void offload_get_stats(struct offload_stats *out)
{
    out->run = atomic_load(&P.n_run);
    out->cancelled = atomic_load(&P.n_cancelled);
    out->full = atomic_load(&P.n_full);
    out->post_failed = atomic_load(&P.n_post_failed);
}
