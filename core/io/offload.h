/*
 * offload.h - blocking work done off the workers: a small process-wide pool of helper threads.
 *
 * Some work has no io_uring operation and may block for long: reading a large directory
 * (getdents + a stat per entry), a passwd lookup (getpwnam_r), a password hash. A worker
 * hands such a job to the pool and goes on serving; a helper thread runs it and posts its
 * result back into the submitting worker's ring (IORING_OP_MSG_RING from the helper's own
 * small ring), where it arrives as an ordinary completion on the job's io_op and the loop
 * calls done() on the worker's thread. The worker side takes no lock: a submit is a
 * compare-and-swap on a bounded lock-free queue and a semaphore post; the completion is a
 * CQE like any other.
 *
 * Lifetime (the loop's rule, loop.h): the job is the submitter's memory and must stay
 * valid until done() is called; done() is always called exactly once per accepted submit,
 * and is where the owner may free the job. offload_cancel() does not free anything: a job
 * that has not started yet is skipped and completes with -ECANCELED, one that is running
 * finishes. A helper never touches a job after posting its completion. Each submit holds a
 * duplicate of the submitter's ring descriptor until the completion is posted, so a
 * completion can only ever reach the ring that asked for it, even if that loop is gone.
 * The submitter keeps its loop running until its jobs completed (a handler holds the
 * request's connection with req_hold, which keeps the worker from exiting).
 *
 * The pool: OFFLOAD_THREADS helpers, started by the first submit (no thread exists when
 * nothing submits; `spate -t` starts none), with the CPU mask the process had when the
 * first user registered (not the submitting worker's pin) and every signal blocked. Users
 * are counted: a module whose configuration may submit calls offload_use() in its finish
 * and offload_unuse() in its release; the last unuse stops and joins the helpers (jobs
 * still queued then complete with -ECANCELED). The queue holds OFFLOAD_QUEUE jobs; a full
 * queue is -EAGAIN, never a wait: the caller answers 503.
 *
 * Threads: offload_use/offload_unuse on the main thread; offload_submit/offload_cancel on
 * the loop's thread; run() on a helper; done() on the loop's thread.
 */
#pragma once

#include "core/base/atomic.h"
#include "core/base/compiler.h"
#include "core/io/loop.h"

#include <stdbool.h>
#include <stdint.h>

#define OFFLOAD_THREADS 2
#define OFFLOAD_QUEUE 256 /* a power of two */

struct offload_job;

/* Helper thread: does the blocking work; returns a result (>= 0) or -errno for done(). */
typedef int (*offload_run_fn)(struct offload_job *j);

/* The submitting loop's thread: the job ended with res (run's, or -ECANCELED). */
typedef void (*offload_done_fn)(struct offload_job *j, int res);

/* Embedded in the owner's struct (container_of in run and done). Fields are private. */
struct offload_job {
    struct io_op op; /* the completion arrives here */
    offload_run_fn run;
    offload_done_fn done;
    int ring_fd;        /* the submitter's ring, duplicated for this submit */
    uint64_t user_data; /* op's user_data at submit */
    SP_ATOMIC(bool) cancelled;
    bool in_flight; /* submitted and done() not called yet (the loop's thread only) */
};

/* Prepares j (before its first submit; again before reuse once done() was called). */
void offload_job_init(struct offload_job *j, offload_run_fn run, offload_done_fn done);

/*
 * Queues j for a helper; done(j, res) follows on l's thread. Starts the helpers on first
 * use. 0; -EAGAIN when the queue is full; -ENOSYS when l has no ring or the kernel cannot
 * post completions across rings (the caller does the work itself or fails); another -errno
 * when the ring could not be duplicated or a helper could not start. Nothing happens to j
 * when it fails.
 */
int offload_submit(struct io_loop *l, struct offload_job *j) MUST_CHECK;

/* The loop's thread: j need not run any more (done() still comes). No-op when not in flight. */
void offload_cancel(struct offload_job *j);

/* True from a successful submit until done() is called. */
static inline bool offload_in_flight(const struct offload_job *j)
{
    return j->in_flight;
}

/* Main thread: one more user of the pool (records the CPU mask for the helpers). */
void offload_use(void);

/*
 * Main thread: one user less; the last one stops and joins the helpers (see above) and
 * returns true: from then on no run() is going on anywhere, so the memory of jobs whose
 * completion never arrived (their loop exited first) may be freed.
 */
bool offload_unuse(void);

/* Counters (any thread): jobs run, refused (queue full), posts that failed. */
struct offload_stats {
    uint64_t run, cancelled, full, post_failed;
};

void offload_get_stats(struct offload_stats *out);
