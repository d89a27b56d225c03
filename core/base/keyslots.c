/* keyslots.c - see keyslots.h. */
#include "core/base/keyslots.h"

#include "core/base/alloc.h"

#include <errno.h>
#include <sched.h>

int keyslots_init(struct keyslots *t, size_t bytes)
{
    size_t n = 16;
    while (n * 2 * sizeof(struct keyslot) <= bytes && n * 2 <= (size_t)1 << 31) {
        n *= 2;
    }
    t->slots = sp_calloc(n, sizeof(struct keyslot));
    if (!t->slots) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        atomic_init(&t->slots[i].hash, 0);
        atomic_init(&t->slots[i].state, 0);
    }
    t->mask = (uint32_t)(n - 1);
    return 0;
}

void keyslots_fini(struct keyslots *t)
{
    sp_free(t->slots);
    t->slots = NULL;
}

/* The state word, once no takeover holds it. */
static uint64_t load_state(struct keyslot *s)
{
    unsigned spins = 0;
    uint64_t st;
    while ((st = atomic_load(&s->state)) == KEYSLOTS_LOCKED) {
        if (++spins % 64 == 0) {
            sched_yield(); /* the taker was preempted between its two stores */
        }
    }
    return st;
}

/* 1: stored (or step declined), 0: the slot no longer holds hash. */
static int update(struct keyslot *s, uint64_t hash, const struct keyslots_ops *ops, void *arg)
{
    for (;;) {
        uint64_t old = load_state(s);
        if (atomic_load(&s->hash) != hash) {
            return 0;
        }
        uint64_t out;
        if (!ops->step(old, &out, arg)) {
            return 1;
        }
        if (atomic_compare_exchange_weak(&s->state, &old, out)) {
            return 1;
        }
    }
}

/*
 * Gives slot s, holding state old (under another hash), to hash, with the step already applied
 * to its fresh state: the slot never shows a fresh word that its taker would then update.
 * (A fresh word is the same for every takeover but its generation: a taker preempted between
 * reading it and its swap could find it again 64 takeovers later and count into another key.)
 * false: it moved meanwhile.
 */
static bool take_over(struct keyslot *s, uint64_t old, uint64_t hash,
                      const struct keyslots_ops *ops, void *arg)
{
    if (old == KEYSLOTS_LOCKED) {
        return false;
    }
    uint64_t fresh = keyslots_pack(keyslots_gen(old) + 1, 0, 0), out;
    if (!ops->step(fresh, &out, arg)) {
        out = fresh; /* declined (a cap of 0): the slot is still this key's, empty */
    }
    if (!atomic_compare_exchange_strong(&s->state, &old, KEYSLOTS_LOCKED)) {
        return false;
    }
    atomic_store(&s->hash, hash);
    atomic_store(&s->state, out);
    return true;
}

long keyslots_apply(struct keyslots *t, uint64_t hash, uint32_t now, const struct keyslots_ops *ops,
                    void *arg)
{
    hash = hash ? hash : 1; /* 0 marks an empty slot */
    for (;;) {
        uint32_t base = (uint32_t)hash & t->mask;
        long idle = -1, lru = -1;
        uint64_t idle_st = 0, lru_st = 0;
        bool retry = false;
        for (uint32_t i = 0; i < KEYSLOTS_WINDOW && i <= t->mask; i++) {
            uint32_t idx = (base + i) & t->mask;
            struct keyslot *s = &t->slots[idx];
            uint64_t h = atomic_load(&s->hash);
            if (h == 0) {
                uint64_t zero = 0;
                if (!atomic_compare_exchange_strong(&s->hash, &zero, hash)) {
                    h = zero; /* claimed meanwhile: by this key, or another */
                } else {
                    h = hash;
                }
            }
            if (h == hash) {
                if (update(s, hash, ops, arg)) {
                    return idx;
                }
                retry = true; /* taken over meanwhile: look again */
                break;
            }
            uint64_t st = atomic_load(&s->state);
            if (st == KEYSLOTS_LOCKED) {
                continue;
            }
            /* the least recently used: the longest since its time */
            uint32_t age = now - keyslots_time(st);
            if (ops->idle(st, arg) && (idle < 0 || age > now - keyslots_time(idle_st))) {
                idle = idx;
                idle_st = st;
            }
            if (lru < 0 || age > now - keyslots_time(lru_st)) {
                lru = idx;
                lru_st = st;
            }
        }
        if (retry) {
            continue;
        }
        long victim = idle >= 0 ? idle : ops->evict_busy ? lru : -1;
        uint64_t vst = idle >= 0 ? idle_st : lru_st;
        if (victim < 0) {
            return -1;
        }
        if (take_over(&t->slots[victim], vst, hash, ops, arg)) {
            return victim;
        }
        /* another thread moved first: look again */
    }
}

bool keyslots_apply_at(struct keyslots *t, uint32_t index, uint64_t hash,
                       const struct keyslots_ops *ops, void *arg)
{
    hash = hash ? hash : 1;
    return update(&t->slots[index & t->mask], hash, ops, arg) == 1;
}

bool keyslots_any_value(const struct keyslots *t)
{
    for (uint32_t i = 0; i <= t->mask; i++) {
        uint64_t st = atomic_load(&t->slots[i].state);
        if (st != KEYSLOTS_LOCKED && keyslots_value(st)) {
            return true;
        }
    }
    return false;
}
