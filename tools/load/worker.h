/*
 * worker.h - one spate-load thread: pinned to a CPU, its own io_uring, its own connections
 * and figures. Threads share nothing while running but the start time, set once by main
 * between two barriers.
 */
#pragma once

#include "tools/load/load.h"

#include <pthread.h>

struct load_sync {
    pthread_barrier_t ready; /* every thread has connected (or tried) */
    pthread_barrier_t go;    /* main has set start */
    uint64_t start;
};

struct worker;

/* A thread's share: connections [first, first + n) of the run's -c, on CPU cpu (-1: none). */
struct worker *worker_new(const struct load_opts *o, struct load_sync *sync, int id, int cpu,
                          int first, int n);
void worker_free(struct worker *w);

/* The thread's body (pthread_create's start routine); returns NULL, figures in stats. */
void *worker_main(void *w);

const struct load_stats *worker_stats(const struct worker *w);
/* Why the thread could not run ("" if it did). */
const char *worker_error(const struct worker *w);
