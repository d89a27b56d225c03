/*
 * runtime.h - the process: listen groups, workers, startup and shutdown.
 *
 * A listen group is one configured address (say 127.0.0.1:8080) with the
 * servers (virtual hosts) that listen on it. Each worker has its own socket
 * in every group, bound with SO_REUSEPORT to the same address, so the kernel
 * spreads connections over the workers with no shared accept queue.
 *
 * Built and started by the main thread; read-only while workers run.
 */
#pragma once

#include "core/accesslog.h"
#include "core/config.h"
#include "core/worker.h"

#include <pthread.h>
#include <stdbool.h>

struct listen_group {
    struct cfg_listen addr;            /* with the port actually bound */
    const struct cfg_server **servers; /* virtual hosts on this address */
    unsigned nservers;
    const struct cfg_server *def; /* default_server, else the first */
    int *fds;                     /* one listening socket per worker */
};

struct runtime {
    const struct cfg *cfg;
    struct alog_setup *logs; /* access/error log plumbing, or NULL */
    unsigned nworkers;
    struct worker *workers;
    struct listen_group *groups;
    unsigned ngroups;
    int cpus[1024]; /* CPUs this process may run on */
    unsigned ncpus;

    pthread_mutex_t mu; /* startup barrier only */
    pthread_cond_t cv;
    unsigned nstarted;
    _Atomic unsigned nexited; /* workers that left their loop */
};

/* Resolves workers and CPUs, opens every listening socket. 0 or -1 + err. */
int runtime_init(struct runtime *rt, const struct cfg *cfg, int nworkers_override, char *err,
                 size_t errlen) MUST_CHECK;

/* Starts the workers and waits until each has its ring armed. 0 or -1 + err. */
int runtime_start(struct runtime *rt, char *err, size_t errlen) MUST_CHECK;

/* Asks every worker to drain (again: to stop waiting) without waiting. */
void runtime_stop_async(struct runtime *rt);

/* True once every worker thread has left its loop. */
bool runtime_all_exited(struct runtime *rt);

/* Asks every worker to drain and waits for all of them to exit. */
void runtime_stop(struct runtime *rt);

/* Closes sockets, frees memory. */
void runtime_destroy(struct runtime *rt);

/* Picks the server for a Host value on group g (port and trailing dot ignored). */
const struct cfg_server *runtime_pick_server(const struct listen_group *g, struct slice host);

/* Called by a worker when its initialization finished (rc 0 or -errno). */
void runtime_worker_ready(struct runtime *rt);
