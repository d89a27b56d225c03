/*
 * counters.h - a worker's counters: written by that worker only, readable by any thread.
 *
 * Every field is a relaxed atomic: the worker adds with a plain load and
 * store (no locked instruction on the request path: it is the only writer),
 * another thread reads each field whole with counters_snapshot(). Fields are
 * individually exact, not mutually consistent (a snapshot taken while the
 * worker runs may count a request whose bytes it does not count yet), which
 * is what counters for monitoring need. The metrics endpoint reads these.
 */
#pragma once

#include "core/base/atomic.h"

#include <stdint.h>

struct worker_counters {
    SP_ATOMIC(uint64_t) requests; /* requests answered (heads parsed, or refused as malformed) */
    SP_ATOMIC(uint64_t) responses[6]; /* responses fully sent, by class: [1] 1xx .. [5] 5xx */
    SP_ATOMIC(uint64_t) bytes_in, bytes_out;
    SP_ATOMIC(uint64_t) conns_open; /* connections open now */
    SP_ATOMIC(uint64_t) refused;    /* closed at accept: max_connections, draining, no memory */
    SP_ATOMIC(uint64_t) denied;     /* closed at accept by the servers' allow/deny rules */
    SP_ATOMIC(uint64_t) closed;
    SP_ATOMIC(uint64_t) timeouts;
    /* the file cache (published by the worker every second and at exit) */
    SP_ATOMIC(uint64_t) fcache_hits, fcache_misses, fcache_evictions;
    SP_ATOMIC(uint64_t) fcache_entries, fcache_bytes;
    SP_ATOMIC(uint64_t) fcache_rechecks, fcache_rejected;
    /* the access log */
    SP_ATOMIC(uint64_t) log_lines;   /* lines handed to the log writer */
    SP_ATOMIC(uint64_t) log_stalls;  /* episodes in which requests waited for the log */
    SP_ATOMIC(uint64_t) log_dropped; /* lines dropped after waiting access_log_wait */
};

/* A plain copy, for whoever reads: every field of struct worker_counters, same names. */
struct worker_stats {
    unsigned worker;
    int cpu;
    uint64_t requests;
    uint64_t responses[6];
    uint64_t bytes_in, bytes_out;
    uint64_t conns_open, accepted, refused, denied, closed, accept_errors, timeouts;
    uint64_t fcache_hits, fcache_misses, fcache_evictions, fcache_entries, fcache_bytes;
    uint64_t log_lines, log_stalls, log_dropped;
    uint64_t enobufs, cold_reads;
    /* TLS (net/tls.c, from transport_env): handshakes done, failed, resumed; connections
     * handed to kernel TLS, and those encrypted in user space */
    uint64_t tls_handshakes, tls_failed, tls_resumed, tls_ktls, tls_user, tls_sealed;
    uint64_t fcache_rechecks, fcache_rejected;
};

/* The owning worker adds n (no locked instruction: it is the only writer). */
static inline void ctr_add(SP_ATOMIC(uint64_t) * c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* The owning worker sets a gauge. */
static inline void ctr_set(SP_ATOMIC(uint64_t) * c, uint64_t v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}

/* Any thread reads a field. */
static inline uint64_t ctr_get(const SP_ATOMIC(uint64_t) * c)
{
    return atomic_load_explicit((SP_ATOMIC(uint64_t) *)c, memory_order_relaxed);
}
