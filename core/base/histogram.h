/*
 * histogram.h - a log-linear latency histogram: recorded by one thread with no lock and no
 * allocation, read by any.
 *
 * Values are nanoseconds. Below 256 ns every value has a bucket of its own; above, each power
 * of two is cut into 128 equal buckets, so a bucket's width is at most 1/128 of its smallest
 * value: a value read back as its bucket's highest is off by less than 0.8%, from 1 us to the
 * top, 2^36 ns (~68.7 s). Larger values land in the last bucket; `max` keeps the true one.
 * HdrHistogram's layout with 7 bits of sub-buckets, and nothing else of it: the server's
 * workers and spate-load record through this same code, so both report the same figures.
 *
 * One writer (the owning thread) stores with relaxed atomics: plain moves on x86-64, no
 * locked instruction. A reader takes a struct hist_snap with hist_snapshot(): each bucket is
 * exact, the copy as a whole is not (a record in flight may show in the count but not yet in
 * the sum), which is what monitoring needs. Its count is the sum of its buckets, so exported
 * cumulative buckets always end at the count.
 *
 * A struct hist is 30 KiB: allocate it, never put one on the stack.
 */
#pragma once

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_TOP_BITS 36 /* values up to 2^36 - 1 ns */
#define HIST_BUCKETS ((HIST_TOP_BITS - HIST_SUB_BITS + 1) << HIST_SUB_BITS) /* 3840 */

#ifdef __cplusplus
extern "C" {
#endif

struct hist {
    uint64_t count, sum, max; /* sum and max in ns */
    uint64_t b[HIST_BUCKETS];
};

struct hist_snap {
    uint64_t count, sum, max;
    uint64_t b[HIST_BUCKETS];
};

/* The bucket of a value: below 256 the value itself, above (shift << 7) + (v >> shift). */
static inline unsigned hist_index(uint64_t ns)
{
    if (ns >= (1ull << HIST_TOP_BITS)) {
        ns = (1ull << HIST_TOP_BITS) - 1;
    }
    if (ns < (2u << HIST_SUB_BITS)) {
        return (unsigned)ns;
    }
    unsigned shift = (unsigned)(63 - __builtin_clzll(ns)) - HIST_SUB_BITS;
    return (shift << HIST_SUB_BITS) + (unsigned)(ns >> shift);
}

static inline void hist_add_relaxed(uint64_t *p, uint64_t n)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* The owning thread records one value. */
static inline void hist_record(struct hist *h, uint64_t ns)
{
    hist_add_relaxed(&h->b[hist_index(ns)], 1);
    hist_add_relaxed(&h->count, 1);
    hist_add_relaxed(&h->sum, ns);
    if (ns > __atomic_load_n(&h->max, __ATOMIC_RELAXED)) {
        __atomic_store_n(&h->max, ns, __ATOMIC_RELAXED);
    }
}

/* The smallest and the largest value bucket i holds. */
uint64_t hist_bucket_low(unsigned i);
uint64_t hist_bucket_high(unsigned i);

/* Any thread: a copy of h (its count is the sum of the copied buckets). */
void hist_snapshot(const struct hist *h, struct hist_snap *out);

/* Adds from's samples to into (per-worker copies into a total). */
void hist_merge(struct hist_snap *into, const struct hist_snap *from);

/* Adds n samples of value ns to a plain copy (tests, and tools that merge runs). */
void hist_snap_record(struct hist_snap *s, uint64_t ns, uint64_t n);

/* The value at percentile pct (0..100): the highest value of the bucket holding that rank,
 * never above max; 0 for an empty histogram. pct 100 is max. */
uint64_t hist_percentile(const struct hist_snap *s, double pct);

/* The samples at most ns, counting only the buckets whose highest value is <= ns: exact when
 * ns is a bucket's highest value (use those as Prometheus `le` bounds), low by at most one
 * bucket's samples otherwise. */
uint64_t hist_count_le(const struct hist_snap *s, uint64_t ns);

/* out[k] = hist_count_le(s, ns[k]) for n ascending bounds, in one walk of the buckets (an
 * exporter's `le` series: 25 bounds cost one pass, not 25). */
void hist_counts_le(const struct hist_snap *s, const uint64_t *ns, unsigned n, uint64_t *out);

#ifdef __cplusplus
}
#endif
