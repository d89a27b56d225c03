/*
 * keyslots.h - a table of small per-key states shared by every thread, without locks.
 *
 * limit_req and limit_conn count per client across all workers: a zone is one table in memory
 * that every worker updates with compare-and-swap. A slot holds the key's 64-bit hash (XXH3 of
 * the key, 0: empty) and one packed state word:
 *
 *   bits 63..58  generation (bumped each time the slot changes hands)
 *   bits 57..32  value (26 bits: limit_req's excess, limit_conn's count)
 *   bits 31..0   time in ms (modulo 2^32: when the value last changed)
 *
 * Open addressing: a key lives in one of KEYSLOTS_WINDOW slots from its hash. A key that
 * finds neither itself nor an empty slot there takes over a slot whose state is idle (the
 * caller says what idle means: a drained bucket, a count of 0), the least recently used
 * first; with none idle, the caller chooses: take over the least recently used anyway
 * (limit_req: that key's history is lost) or give up (limit_conn: the request is refused).
 *
 * Taking a slot over is the one place that waits: the taker swaps the state word to
 * KEYSLOTS_LOCKED, writes the new hash, then the key's first state (its step applied to a
 * fresh state of the next generation, so no fresh word is ever updated later by its taker);
 * a thread that reads LOCKED spins for those two stores. Every update reads the state, then
 * checks the hash, then swaps the state: a slot taken over between the two reads fails the
 * swap or shows the other hash, so no count lands on another key (unless the slot changes
 * hands a multiple of 64 times between a thread's two reads and ends with the very word it
 * read, generation, value and millisecond alike: what "no count lands" rests on).
 *
 * Two keys with the same 64-bit hash share a slot (one in 2^64 per pair: ignored).
 */
#pragma once

#include "core/base/atomic.h"
#include "core/base/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYSLOTS_WINDOW 8
#define KEYSLOTS_LOCKED UINT64_MAX
#define KEYSLOTS_VALUE_MAX ((1u << 26) - 1)

struct keyslot {
    SP_ATOMIC(uint64_t) hash;
    SP_ATOMIC(uint64_t) state;
};

struct keyslots {
    struct keyslot *slots;
    uint32_t mask; /* slots - 1 (a power of two) */
};

static inline uint64_t keyslots_pack(unsigned gen, uint32_t value, uint32_t time)
{
    return (uint64_t)(gen & 63u) << 58 | (uint64_t)(value & KEYSLOTS_VALUE_MAX) << 32 | time;
}

static inline unsigned keyslots_gen(uint64_t s)
{
    return (unsigned)(s >> 58);
}

static inline uint32_t keyslots_value(uint64_t s)
{
    return (uint32_t)(s >> 32) & KEYSLOTS_VALUE_MAX;
}

static inline uint32_t keyslots_time(uint64_t s)
{
    return (uint32_t)s;
}

/* A table of the largest power of two of slots that fits bytes (at least 16). 0 or -ENOMEM. */
int keyslots_init(struct keyslots *t, size_t bytes) MUST_CHECK;
void keyslots_fini(struct keyslots *t);

static inline uint32_t keyslots_count(const struct keyslots *t)
{
    return t->mask + 1;
}

/*
 * What the caller does with a key's state: step computes the new state word from the old one
 * (the same generation: keep bits 63..58) and returns true to store it, false to leave it
 * (it may be called more than once: it must have no effect beyond *arg's last call).
 * idle says whether a state may be given to another key.
 */
struct keyslots_ops {
    bool (*step)(uint64_t old, uint64_t *out, void *arg);
    bool (*idle)(uint64_t state, void *arg);
    bool evict_busy; /* no idle slot in the window: take the least recently used anyway */
};

/*
 * Applies ops->step to hash's state (finding or claiming its slot; now, in the states' ms,
 * tells which slot was used least recently). Returns the slot's index, or -1 when the window
 * is full of busy keys and evict_busy is false (nothing was stored). Two threads bringing the
 * same new key to a full window at the same moment may give it two slots; its counts then
 * split between them until one goes idle (a takeover checks only its own slot).
 */
long keyslots_apply(struct keyslots *t, uint64_t hash, uint32_t now, const struct keyslots_ops *ops,
                    void *arg);

/* The same on a slot already known to hold hash (limit_conn's release); false if it does not. */
bool keyslots_apply_at(struct keyslots *t, uint32_t index, uint64_t hash,
                       const struct keyslots_ops *ops, void *arg);

/* True when some slot's value is not 0 (a limit_conn zone that requests still count in). */
bool keyslots_any_value(const struct keyslots *t);
