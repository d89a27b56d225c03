/*
 * registry.h - what the process publishes for the handlers that report on it (metrics,
 * status, health): its workers, the configuration generation in force, the drain state.
 *
 * Set by the main thread (app/runtime.c) before the workers start and changed only by it;
 * read by any worker while it answers a report. The workers array stays put for the life of
 * the process (a reload does not change it), so a reader holds no lock: each counter it reads
 * is an atomic field of one worker (http/counters.h), each histogram a relaxed snapshot.
 */
#pragma once

#include "core/base/atomic.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct worker;

struct registry {
    struct worker *workers;
    unsigned nworkers;
    time_t started;              /* when the process started (wall clock) */
    SP_ATOMIC(uint64_t) gen;     /* the configuration generation in force (1, 2, ...) */
    SP_ATOMIC(uint64_t) reloads; /* reloads that failed are not counted: see reload_failed */
    SP_ATOMIC(uint64_t) reload_failed;
    SP_ATOMIC(int) draining;     /* 0, or REGISTRY_DRAIN_* */
};

enum {
    REGISTRY_DRAIN_HEALTH = 1, /* drain begun: health checks fail, accepting goes on */
    REGISTRY_DRAIN_CLOSING,    /* listeners closed, open connections finishing */
};

extern struct registry process_registry;

/* Main thread: the workers, before they start. */
void registry_publish(struct worker *workers, unsigned n);

/* Any thread: the drain state, and whether health checks fail. */
static inline int registry_draining(void)
{
    return atomic_load_explicit(&process_registry.draining, memory_order_relaxed);
}
