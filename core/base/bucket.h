/*
 * bucket.h - the leaky bucket of limit_req (nginx's arithmetic), as pure functions of numbers.
 *
 * A key's state is its excess (requests beyond the rate, in thousandths of a request) and the
 * time it was last updated. A request at `now` adds one request (1000) and takes away what
 * leaked since then (rate per second), never going below 0: a key that keeps to the rate, and
 * a fresh key, stay at 0. Over the burst, the request is refused and the state stays as it
 * was; otherwise the new state is kept and the request goes on at once (excess at most
 * `delay` requests: nodelay means delay = burst) or waits until the bucket has leaked down to
 * `delay`. So burst=5 lets 1 + 5 requests of a burst go, as nginx does.
 *
 * Units: rates in thousandths of a request per second (10r/s is 10000, 30r/m is 500), times in
 * milliseconds. The time is 32 bits wide (it lives in a packed word, core/base/keyslots.h),
 * read modulo 2^32: an elapsed time is `now - last` in uint32 arithmetic, so a key left idle
 * for 49 days looks recent again (its excess drained long before, unless the rate is absurd);
 * a `now` up to a minute behind `last` is another thread's earlier clock read (no time
 * passed). The state {0, 0} is a fresh key: callers' clocks never read 0.
 *
 * No state of its own, no I/O: any thread may call these.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define BUCKET_ONE 1000u                   /* one request, in the excess's units */
#define BUCKET_EXCESS_MAX ((1u << 26) - 1) /* the packed word holds 26 bits of excess */
#define BUCKET_BURST_MAX 65535u            /* requests: burst * 1000 + 1000 fits 26 bits */

struct bucket_rule {
    uint32_t rate;  /* thousandths of a request per second, > 0 */
    uint32_t burst; /* requests beyond the rate that are queued (or let through) */
    uint32_t delay; /* requests of the burst that go at once (nodelay: delay == burst) */
};

struct bucket_state {
    uint32_t excess; /* thousandths of a request */
    uint32_t last;   /* ms (modulo 2^32) */
};

enum bucket_verdict {
    BUCKET_PASS,  /* go on now */
    BUCKET_DELAY, /* go on after *wait_ms */
    BUCKET_BUSY,  /* over the burst: refused, the state unchanged */
};

/* The excess of s at now, after leaking (never below 0). */
uint32_t bucket_leaked(const struct bucket_rule *r, struct bucket_state s, uint32_t now);

/*
 * One request at now: its verdict; *next is the state to store (for BUCKET_BUSY the same as
 * s), *wait_ms how long a BUCKET_DELAY request waits (0 otherwise).
 */
enum bucket_verdict bucket_take(const struct bucket_rule *r, struct bucket_state s, uint32_t now,
                                struct bucket_state *next, uint32_t *wait_ms);

/* Takes back one request counted by bucket_take at now (a later rule refused the request). */
struct bucket_state bucket_refund(const struct bucket_rule *r, struct bucket_state s, uint32_t now);

/* True when s holds nothing at now: a slot in this state may be given to another key. */
static inline bool bucket_idle(const struct bucket_rule *r, struct bucket_state s, uint32_t now)
{
    return bucket_leaked(r, s, now) == 0;
}
