/* bucket.c - see bucket.h. */
#include "core/base/bucket.h"

/* ms since s.last; a time up to a minute behind it is another thread's earlier clock read. */
static uint32_t elapsed(struct bucket_state s, uint32_t now)
{
    uint32_t ms = now - s.last;
    return ms > UINT32_MAX - 60000u ? 0 : ms;
}

uint32_t bucket_leaked(const struct bucket_rule *r, struct bucket_state s, uint32_t now)
{
    uint32_t ms = elapsed(s, now);
    uint64_t leak = (uint64_t)r->rate * ms / 1000u;
    return leak >= s.excess ? 0 : s.excess - (uint32_t)leak;
}

enum bucket_verdict bucket_take(const struct bucket_rule *r, struct bucket_state s, uint32_t now,
                                struct bucket_state *next, uint32_t *wait_ms)
{
    *wait_ms = 0;
    uint32_t ms = elapsed(s, now);
    /* nginx's order: the request is added, then the leak taken, so a key that keeps to the
     * rate stays at 0, and a fresh key starts at 0: burst=5 lets 1 + 5 requests go at once */
    int64_t excess = s.last == 0 && s.excess == 0 ? 0
                                                  : (int64_t)s.excess + BUCKET_ONE -
                                                        (int64_t)((uint64_t)r->rate * ms / 1000u);
    if (excess < 0) {
        excess = 0;
    }
    if (excess > (int64_t)r->burst * BUCKET_ONE || excess > BUCKET_EXCESS_MAX) {
        *next = s;
        return BUCKET_BUSY;
    }
    *next = (struct bucket_state){(uint32_t)excess, ms ? now : s.last};
    uint64_t free_ = (uint64_t)r->delay * BUCKET_ONE;
    if ((uint64_t)excess <= free_) {
        return BUCKET_PASS;
    }
    *wait_ms = (uint32_t)(((uint64_t)excess - free_) * 1000u / r->rate);
    return *wait_ms ? BUCKET_DELAY : BUCKET_PASS;
}

struct bucket_state bucket_refund(const struct bucket_rule *r, struct bucket_state s, uint32_t now)
{
    uint32_t e = bucket_leaked(r, s, now);
    uint32_t last = elapsed(s, now) ? now : s.last;
    return (struct bucket_state){e > BUCKET_ONE ? e - BUCKET_ONE : 0, last};
}
