/*
 * runtime.h - the process: listening sockets, worker threads, startup and shutdown.
 *
 * Each listen group (an address of route.h) gets one socket per worker, all
 * bound with SO_REUSEPORT to the same address. Each worker runs on a thread
 * of its own, pinned to one CPU of the process's affinity mask and named
 * "spate-w<N>" (top -H, /proc/PID/task/TID/comm). runtime_start returns once
 * every worker has its ring armed, or reports the first one that failed.
 *
 * Built and started by the main thread; read-only while the workers run,
 * except the exit count.
 */
#pragma once

#include "core/base/atomic.h"
#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/accesslog.h"
#include "core/http/worker.h"
#include "core/net/addr.h"

#include <pthread.h>
#include <stdbool.h>

struct runtime_group {
    struct net_addr addr; /* with the port actually bound (port 0) */
    int *fds;             /* one listening socket per worker */
};

struct runtime {
    const struct conf *conf;
    unsigned nworkers;
    struct worker *workers;
    pthread_t *threads;
    int **worker_fds; /* per worker: its socket of each group */
    struct runtime_group *groups;
    unsigned ngroups;
    int cpus[1024]; /* CPUs this process may run on */
    unsigned ncpus;
    struct alog_setup logs;
    struct log_ring **rings; /* the workers' rings, as the flusher reads them */
    bool log_abandoned;      /* the flusher did not finish in time: leave its memory alone */

    pthread_mutex_t mu; /* startup barrier only */
    pthread_cond_t cv;
    unsigned nstarted, ncreated;
    SP_ATOMIC(unsigned) nexited; /* workers that left their loop */
};

/* CPUs the process may run on (its affinity mask). */
unsigned runtime_cpu_count(void);

/* Opens the logs and every listening socket, prepares the workers. 0 or -1 + err. */
int runtime_init(struct runtime *rt, const struct conf *c, char *err, size_t errlen) MUST_CHECK;

/* Starts the log flusher and the workers; waits until each has its ring armed. 0 or -1 + err. */
int runtime_start(struct runtime *rt, char *err, size_t errlen) MUST_CHECK;

/* Asks every worker to drain (again: to stop waiting) without waiting. */
void runtime_stop_async(struct runtime *rt);

/* True once every worker thread has left its loop. */
bool runtime_all_exited(struct runtime *rt);

/* Joins the workers (all exited), then stops the flusher within timeout_ms (sooner when
 * hurry(arg) says so). 0, or -ETIMEDOUT when log lines were left unwritten (reported). */
int runtime_stop(struct runtime *rt, unsigned log_timeout_ms, bool (*hurry)(void *arg),
                 void *arg);

/* Closes sockets, frees memory (after runtime_stop, or a failed start). */
void runtime_destroy(struct runtime *rt);

/* SIGUSR1: reopen the access logs. */
void runtime_reopen_logs(struct runtime *rt);

/* Copies worker i's counters (any time). */
void runtime_worker_stats(const struct runtime *rt, unsigned i, struct worker_stats *out);
