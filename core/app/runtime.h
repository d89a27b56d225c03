/*
 * runtime.h - the process: listening sockets, worker threads, startup and shutdown, and the
 * configuration generations the workers serve with.
 *
 * Each listen group (an address of route.h) gets one socket per worker, all
 * bound with SO_REUSEPORT to the same address. Each worker runs on a thread
 * of its own, pinned to one CPU of the process's affinity mask and named
 * "spate-w<N>" (top -H, /proc/PID/task/TID/comm). runtime_start returns once
 * every worker has its ring armed, or reports the first one that failed.
 *
 * A generation is a finished configuration with the listening addresses of
 * its listen groups; the first is made by runtime_init, later ones by a
 * reload (app/reload.c), which publishes them through `current`. An address
 * kept from one generation to the next keeps its sockets (struct
 * runtime_listen is shared, counted by the generations that use it), so a
 * reload never closes a socket that goes on listening. Older generations
 * wait in `retired` until every worker's floor is past them.
 *
 * Built and started by the main thread, which alone changes it; the workers
 * read the generation they were given and the atomic `current`.
 */
#pragma once

#include "core/base/atomic.h"
#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/accesslog.h"
#include "core/http/worker.h"
#include "core/net/addr.h"
#include "core/net/listener.h"

#include <pthread.h>
#include <stdbool.h>

/* A listening address: one socket per worker (what the workers see, first). */
struct runtime_listen {
    struct worker_listen wl;
    struct net_addr conf_addr; /* as configured (port 0 stays 0): what reloads match */
    struct net_addr addr;      /* with the port actually bound (port 0) */
    struct listen_opts opts;
    unsigned nfds;
    unsigned refs; /* generations listening here */
};

/* A configuration in force, or still used by some worker. */
struct runtime_gen {
    struct worker_gen wg;            /* what the workers see, first */
    struct conf *conf;               /* finished */
    bool own_conf;                   /* allocated by the runtime: freed with it */
    struct runtime_listen **listens; /* per listen group (wg.listen points here) */
    struct runtime_gen *next;        /* in `retired` */
};

struct runtime {
    const struct conf *conf; /* the current generation's */
    unsigned nworkers;
    struct worker *workers;
    pthread_t *threads;
    struct runtime_gen *gen;      /* in force */
    struct runtime_gen *retired;  /* older ones some worker may still use, newest first */
    SP_ATOMIC(uintptr_t) current; /* gen, as the workers load it */
    uint64_t seq;                 /* the last generation's number */
    char *error_log;              /* the error log in use (a reload cannot change it) */
    unsigned error_level;
    int cpus[1024];               /* CPUs this process may run on */
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

/* Opens the logs and every listening socket, prepares the workers to serve c (which stays the
 * caller's, and must outlive the runtime unless a reload retires it). 0 or -1 + err. */
int runtime_init(struct runtime *rt, struct conf *c, char *err, size_t errlen) MUST_CHECK;

/* Starts the log flusher and the workers; waits until each has its ring armed. 0 or -1 + err. */
int runtime_start(struct runtime *rt, char *err, size_t errlen) MUST_CHECK;

/* Asks every worker to drain (again: to stop waiting) without waiting. */
void runtime_stop_async(struct runtime *rt);

/* True once every worker thread has left its loop. */
bool runtime_all_exited(struct runtime *rt);

/* Joins the workers (all exited), then stops the flusher within timeout_ms (sooner when
 * hurry(arg) says so). 0, or -ETIMEDOUT when log lines were left unwritten (reported). */
int runtime_stop(struct runtime *rt, unsigned log_timeout_ms, bool (*hurry)(void *arg), void *arg);

/* Closes sockets, frees memory (after runtime_stop, or a failed start). */
void runtime_destroy(struct runtime *rt);

/* SIGUSR1: reopen the access logs. */
void runtime_reopen_logs(struct runtime *rt);

/*
 * A generation for c (finished), with its listen groups' sockets: those of gen `prev` for
 * addresses it has (their socket options stay prev's: a warning names each that changed), new
 * ones opened for the others. NULL with a sentence in err (nothing kept open).
 */
struct runtime_gen *runtime_gen_new(struct runtime *rt, struct conf *c, bool own_conf,
                                    const struct runtime_gen *prev, char *err, size_t errlen);

/* Frees a generation nobody uses: its configuration if owned, the sockets no other keeps. */
void runtime_gen_free(struct runtime *rt, struct runtime_gen *g);

/* Puts g in force: the previous one is retired, every worker woken to switch. */
void runtime_publish(struct runtime *rt, struct runtime_gen *g);

/* Frees the retired generations every worker is done with; the number still waiting. */
unsigned runtime_collect(struct runtime *rt);

/* Copies worker i's counters (any time). */
void runtime_worker_stats(const struct runtime *rt, unsigned i, struct worker_stats *out);
