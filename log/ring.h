/*
 * ring.h - a lock-free single-producer single-consumer byte ring for log records.
 *
 *   producer (one worker thread)          consumer (the flusher thread)
 *   p = log_ring_reserve(r, n)            rec = log_ring_peek(r)
 *   ...format up to n bytes at p...       ...rec = log_ring_next(r, rec)...
 *   log_ring_commit(r, len, type, sink)   log_ring_release_through(r, rec)
 *
 * Records are length-prefixed and 8-byte aligned; a record never wraps: when
 * it does not fit before the end, a padding record fills the end and the
 * record starts at offset 0. head (written by the producer) and tail
 * (written by the consumer) live on separate cache lines; each side keeps a
 * cached copy of the other's index so the common case touches no shared
 * line. Full never blocks and never drops: reserve returns NULL and the
 * caller keeps the line and applies backpressure (see core/http/accesslog.h).
 */
#pragma once

#include "core/base/atomic.h"
#include "core/base/compiler.h"

#include <stddef.h>
#include <stdint.h>

enum log_rec_type {
    LOG_REC_PAD = 0,    /* filler up to the end of the buffer */
    LOG_REC_ACCESS = 1, /* an access-log line for sink `sink` */
    LOG_REC_ERROR = 2,  /* an error-log line */
};

struct log_rec {
    uint32_t len;  /* payload bytes */
    uint16_t type; /* enum log_rec_type */
    uint16_t sink; /* access-log sink index */
    char data[];
};

/* Largest record payload; longer lines are cut (with a marker) by the formatters. */
#define LOG_REC_MAX (64u * 1024)

struct log_ring {
    /* producer side */
    SP_ATOMIC(uint64_t) head __attribute__((aligned(CACHELINE)));
    uint64_t tail_cache;
    uint64_t reserved_at; /* position of the pending reservation */
    uint64_t full_events; /* reservations refused for lack of room */
    /* consumer side */
    SP_ATOMIC(uint64_t) tail __attribute__((aligned(CACHELINE)));
    uint64_t head_cache;
    /* shared, read-only after init */
    char *buf __attribute__((aligned(CACHELINE)));
    uint64_t cap; /* power of two */
    /* set by the producer when it waits for room; the consumer then calls wake() */
    SP_ATOMIC(int) want_space;
    /* set by the producer when the consumer should drain early (ring filling up) */
    SP_ATOMIC(int) want_flush;
};

/* A ring of cap bytes (rounded up to a power of two, at least 2 * LOG_REC_MAX). 0 or -ENOMEM. */
int log_ring_init(struct log_ring *r, size_t cap) MUST_CHECK;
void log_ring_destroy(struct log_ring *r);

/*
 * Producer: room for a record of up to n payload bytes, or NULL when the
 * ring is full (nothing is reserved). At most one reservation is open.
 */
char *log_ring_reserve(struct log_ring *r, size_t n);

/* Producer: publishes the reserved record with its final length (<= the reserved n). */
void log_ring_commit(struct log_ring *r, size_t len, uint16_t type, uint16_t sink);

/* Producer: bytes in use (approximate from the producer's view). */
uint64_t log_ring_used(const struct log_ring *r);

/*
 * Consumer: the oldest record, or NULL if the ring is empty. The record stays
 * valid until log_ring_release() of it (records can be peeked in order with
 * log_ring_next()).
 */
const struct log_rec *log_ring_peek(struct log_ring *r);

/* Consumer: the record after rec (still unreleased), or NULL. */
const struct log_rec *log_ring_next(struct log_ring *r, const struct log_rec *rec);

/* Consumer: frees every record up to and including rec. */
void log_ring_release_through(struct log_ring *r, const struct log_rec *rec);
