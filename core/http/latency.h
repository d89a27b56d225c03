/*
 * latency.h - the service-time and queueing-delay histograms of a worker and of the
 * locations that ask for their own (`latency_histograms on;`, `location_latency on;`).
 *
 * Service time: from the loop turn that received the request's first bytes to the turn
 * that saw the last byte of its response handed to the kernel (HTTP/1: the send
 * completion; HTTP/2: nghttp2 closing the stream after its last frame). Queueing delay: from
 * the turn that received the request's last bytes to its handler starting (a fresh clock
 * read), the time it waited behind other work of the worker or behind earlier responses on
 * its connection: what grows first under overload. Both in the worker's microsecond turn
 * clock (io_loop.now_us), so the resolution is 1 us and a request served within one turn
 * reads 0.
 *
 * Writers: the owning worker only, with base/histogram.h's relaxed stores: no lock, no
 * allocation on the request path. A location's histograms are one per worker, in a table of
 * the location's (struct loc_latency) whose slot the worker fills when it takes up the
 * configuration (latency_attach), so every worker writes memory no other worker writes.
 * Readers (the metrics and status handlers, on any worker) take snapshots.
 */
#pragma once

#include "core/base/atomic.h"
#include "core/base/histogram.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define LATENCY_MAX_WORKERS 1024

struct route_table;

/* A worker's own histograms (allocated with the worker, freed at its end). */
struct worker_latency {
    struct hist service; /* every request's service time */
    struct hist queue;   /* every request's queueing delay */
};

/* A location's histograms, one per worker (NULL: that worker has not taken this location up). */
struct loc_latency {
    SP_ATOMIC(uintptr_t) slot[LATENCY_MAX_WORKERS]; /* struct hist * */
};

/* A monotonic clock read in microseconds (the queueing delay's end). */
static inline uint64_t latency_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Records a duration from..to in microseconds (0 when the clock did not move). */
static inline void latency_record(struct hist *h, uint64_t from_us, uint64_t to_us)
{
    hist_record(h, to_us > from_us ? (to_us - from_us) * 1000 : 0);
}

/* Worker `worker`'s histogram of location l, NULL when none. */
static inline struct hist *loc_latency_hist(const struct loc_latency *l, unsigned worker)
{
    if (!l || worker == 0 || worker > LATENCY_MAX_WORKERS) {
        return NULL;
    }
    return (struct hist *)atomic_load_explicit((SP_ATOMIC(uintptr_t) *)&l->slot[worker - 1],
                                               memory_order_acquire);
}

/* A location's table (route building), NULL on OOM; freed with loc_latency_free. */
struct loc_latency *loc_latency_new(void);
void loc_latency_free(struct loc_latency *l);

/*
 * Worker `worker` takes up the routes t: every location that asks for histograms gets this
 * worker's slot filled (allocated here, on the worker's thread, not per request). Returns
 * whether any location of t asks for them (the worker then keeps its fine clock on).
 */
bool latency_attach(const struct route_table *t, unsigned worker);
