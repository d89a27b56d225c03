/* Unit tests for core/base/keyslots.c: the lock-free per-key table of limit_req / limit_conn. */
#include "common/unit.h"
#include "core/base/compiler.h"
#include "core/base/keyslots.h"

#include <pthread.h>
#include <stdio.h>

/* limit_conn's steps: +1 under a cap, -1. */
struct conn_arg {
    uint32_t cap;
    int delta;
    bool refused;
    uint32_t now; /* the time a step writes (0: keeps the slot's), as limit_conn's does */
};

static bool conn_step(uint64_t old, uint64_t *out, void *arg)
{
    struct conn_arg *a = arg;
    uint32_t v = keyslots_value(old);
    a->refused = false;
    if (a->delta > 0 && v >= a->cap) {
        a->refused = true;
        return false;
    }
    if (a->delta < 0 && v == 0) {
        return false;
    }
    *out = keyslots_pack(keyslots_gen(old), (uint32_t)((int)v + a->delta),
                         a->now ? a->now : keyslots_time(old));
    return true;
}

static bool conn_idle(uint64_t st, void *arg)
{
    (void)arg;
    return keyslots_value(st) == 0;
}

static const struct keyslots_ops conn_ops = {conn_step, conn_idle, false};
static const struct keyslots_ops evict_ops = {conn_step, conn_idle, true};

static uint32_t value_of(struct keyslots *t, long idx)
{
    return keyslots_value(atomic_load(&t->slots[idx].state));
}

static void test_count_and_release(void **state)
{
    (void)state;
    struct keyslots t;
    assert_int_equal(keyslots_init(&t, 32 << 10), 0);
    assert_int_equal(keyslots_count(&t), 2048);
    struct conn_arg up = {2, 1, false}, down = {0, -1, false};
    long a = keyslots_apply(&t, 42, 1, &conn_ops, &up);
    assert_true(a >= 0 && !up.refused);
    assert_int_equal(keyslots_apply(&t, 42, 1, &conn_ops, &up), a);
    assert_false(up.refused);
    assert_int_equal(keyslots_apply(&t, 42, 1, &conn_ops, &up), a);
    assert_true(up.refused); /* the cap: 2 */
    assert_int_equal(value_of(&t, a), 2);
    long b = keyslots_apply(&t, 43, 1, &conn_ops, &up);
    assert_true(b >= 0 && b != a && !up.refused);
    assert_true(keyslots_apply_at(&t, (uint32_t)a, 42, &conn_ops, &down));
    assert_false(keyslots_apply_at(&t, (uint32_t)a, 43, &conn_ops, &down)); /* not its slot */
    assert_int_equal(value_of(&t, a), 1);
    assert_true(keyslots_any_value(&t));
    assert_true(keyslots_apply_at(&t, (uint32_t)a, 42, &conn_ops, &down));
    assert_true(keyslots_apply_at(&t, (uint32_t)b, 43, &conn_ops, &down));
    assert_false(keyslots_any_value(&t));
    keyslots_fini(&t);
}

static void test_full_window(void **state)
{
    (void)state;
    struct keyslots t;
    assert_int_equal(keyslots_init(&t, 0), 0); /* the smallest: 16 slots */
    assert_int_equal(keyslots_count(&t), 16);
    struct conn_arg up = {100, 1, false}, down = {0, -1, false};
    /* 8 keys that all start at slot 0 fill its window */
    long idx[KEYSLOTS_WINDOW];
    for (unsigned i = 0; i < KEYSLOTS_WINDOW; i++) {
        idx[i] = keyslots_apply(&t, (uint64_t)(i + 1) << 8, 10 + i, &conn_ops, &up);
        assert_int_equal(idx[i], i);
    }
    /* a ninth: every slot busy, nothing evicted */
    assert_int_equal(keyslots_apply(&t, 9u << 8, 50, &conn_ops, &up), -1);
    /* one goes idle: the ninth takes its slot, and the old key is gone from it */
    assert_true(keyslots_apply_at(&t, 3, 4u << 8, &conn_ops, &down));
    assert_int_equal(keyslots_apply(&t, 9u << 8, 50, &conn_ops, &up), 3);
    assert_int_equal(value_of(&t, 3), 1);
    assert_false(keyslots_apply_at(&t, 3, 4u << 8, &conn_ops, &down));
    unsigned gen = keyslots_gen(atomic_load(&t.slots[3].state));
    assert_int_equal(gen, 1);
    /* with eviction of busy keys (limit_req): the least recently used goes, slot 0 (time 10) */
    assert_int_equal(keyslots_apply(&t, 10u << 8, 60, &evict_ops, &up), 0);
    keyslots_fini(&t);
}

/* Several threads hammer one key, and a few others that share its window. */
#define THREADS 4
#define ROUNDS 200000

struct hammer {
    struct keyslots *t;
    unsigned id;
    uint32_t admitted;
    uint32_t no_slot, bad_release; /* assertions in a thread are not cmocka's: counted here */
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    struct conn_arg up = {KEYSLOTS_VALUE_MAX, 1, false}, down = {0, -1, false};
    for (unsigned i = 0; i < ROUNDS; i++) {
        /* each thread's clock of its own, as each worker's ms: no two writes give one word */
        up.now = down.now = i * THREADS + h->id + 1;
        long k = keyslots_apply(h->t, 7, up.now, &conn_ops, &up);
        if (k < 0) {
            h->no_slot++;
        }
        /* a key of its own comes and goes in the same window: takeovers race the counting */
        uint64_t other = ((uint64_t)(h->id * 3 + i % 3 + 1) << 32) | 7u; /* 12 keys, 8 slots */
        long o = keyslots_apply(h->t, other, up.now, &conn_ops, &up);
        if (o >= 0 && !up.refused &&
            !keyslots_apply_at(h->t, (uint32_t)o, other, &conn_ops, &down)) {
            h->bad_release++;
        }
        h->admitted++;
    }
    return NULL;
}

static void test_threads_exact(void **state)
{
    (void)state;
    struct keyslots t;
    assert_int_equal(keyslots_init(&t, 0), 0);
    pthread_t th[THREADS];
    struct hammer h[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        h[i] = (struct hammer){&t, i, 0, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        if (h[i].no_slot || h[i].bad_release) {
            fprintf(stderr, "thread %u: no_slot %u bad_release %u\n", i, h[i].no_slot,
                    h[i].bad_release);
        }
        assert_int_equal(h[i].no_slot, 0);
        assert_int_equal(h[i].bad_release, 0);
    }
    struct conn_arg peek = {0, 1, false};
    long k = keyslots_apply(&t, 7, 0, &conn_ops, &peek); /* cap 0: refuses, finds the slot */
    assert_true(k >= 0 && peek.refused);
    assert_int_equal(value_of(&t, k), THREADS * ROUNDS);
    /* the other keys did change hands around it (their slots' generations moved) */
    unsigned moved = 0;
    for (uint32_t i = 0; i < keyslots_count(&t); i++) {
        moved += keyslots_gen(atomic_load(&t.slots[i].state)) != 0;
    }
    assert_true(moved > 0);
    keyslots_fini(&t);
}

/* A capped count under contention: exactly cap of many concurrent takers get in. */
static struct keyslots cap_table;
static SP_ATOMIC(unsigned) cap_in;

static void *cap_run(void *arg)
{
    (void)arg;
    struct conn_arg up = {1000, 1, false};
    for (unsigned i = 0; i < 5000; i++) {
        (void)keyslots_apply(&cap_table, 99, 1, &conn_ops, &up);
        if (!up.refused) {
            atomic_fetch_add(&cap_in, 1);
        }
    }
    return NULL;
}

static void test_threads_cap(void **state)
{
    (void)state;
    assert_int_equal(keyslots_init(&cap_table, 1 << 12), 0);
    atomic_store(&cap_in, 0);
    pthread_t th[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, cap_run, NULL), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    assert_int_equal(atomic_load(&cap_in), 1000);
    keyslots_fini(&cap_table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_and_release),
        cmocka_unit_test(test_full_window),
        cmocka_unit_test(test_threads_exact),
        cmocka_unit_test(test_threads_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
