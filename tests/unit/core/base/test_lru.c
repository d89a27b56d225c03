/* Unit tests for core/base/lru.c. */
#include "common/unit.h"
#include "core/base/compiler.h"
#include "core/base/lru.h"

#include <string.h>

/* An owner's item: a key of its own, the node somewhere inside (not first, as in the callers). */
struct item {
    int key;
    struct lru_node node;
};

static struct item *item_of(struct lru_node *n)
{
    return n ? container_of(n, struct item, node) : NULL;
}

/* The owner's lookup: the table gives the nodes with the hash, the owner compares keys. */
static struct item *find(const struct lru *t, uint64_t hash, int key)
{
    for (struct lru_node *n = lru_first(t, hash); n; n = lru_next(n)) {
        if (item_of(n)->key == key) {
            return item_of(n);
        }
    }
    return NULL;
}

/* The keys from the oldest to the most recent; the count of them. */
static unsigned order(const struct lru *t, int *keys, unsigned max)
{
    unsigned k = 0;
    for (struct lru_node *n = lru_oldest(t); n && k < max; n = lru_newer(t, n)) {
        keys[k++] = item_of(n)->key;
    }
    return k;
}

/* Inserts items 0..n-1, item i with key i, hash i * mul and the given bytes. */
static void fill(struct lru *t, struct item *it, int n, uint64_t mul, size_t bytes)
{
    for (int i = 0; i < n; i++) {
        it[i].key = i;
        lru_insert(t, &it[i].node, (uint64_t)i * mul, bytes);
    }
}

static void test_empty(void **state)
{
    (void)state;
    struct lru t;
    struct lru_node *b[4] = {(void *)1, (void *)1, (void *)1, (void *)1}; /* cleared by init */
    lru_init(&t, b, 4);
    assert_int_equal(t.count, 0);
    assert_int_equal(t.bytes, 0);
    assert_null(lru_oldest(&t));
    assert_null(lru_first(&t, 0));
    assert_null(lru_first(&t, 3));
}

static void test_insert_find_touch(void **state)
{
    (void)state;
    struct lru t;
    struct lru_node *b[8];
    lru_init(&t, b, 8);
    struct item it[3] = {{10, {0}}, {20, {0}}, {30, {0}}};
    for (int i = 0; i < 3; i++) {
        lru_insert(&t, &it[i].node, 100 + (uint64_t)i, 10 * (size_t)(i + 1));
    }
    assert_int_equal(t.count, 3);
    assert_int_equal(t.bytes, 60);
    assert_ptr_equal(find(&t, 101, 20), &it[1]);
    assert_null(find(&t, 101, 10)); /* the right key under another hash is not found */
    assert_null(find(&t, 103, 20));
    assert_true(it[1].node.hash == 101 && it[1].node.bytes == 20);

    int k[8];
    assert_int_equal(order(&t, k, 8), 3);
    assert_true(k[0] == 10 && k[1] == 20 && k[2] == 30);
    lru_touch(&t, &it[0].node); /* oldest becomes newest */
    assert_int_equal(order(&t, k, 8), 3);
    assert_true(k[0] == 20 && k[1] == 30 && k[2] == 10);
    lru_touch(&t, &it[0].node); /* the newest touched again: no change */
    assert_int_equal(order(&t, k, 8), 3);
    assert_true(k[0] == 20 && k[1] == 30 && k[2] == 10);
    lru_touch(&t, &it[2].node); /* a middle one */
    assert_int_equal(order(&t, k, 8), 3);
    assert_true(k[0] == 20 && k[1] == 10 && k[2] == 30);
    assert_int_equal(t.count, 3); /* touching counts nothing */
    assert_int_equal(t.bytes, 60);
}

/* The callers' eviction: drop the oldest until under a byte and a count budget. */
static void test_evict_order_and_bytes(void **state)
{
    (void)state;
    struct lru t;
    struct lru_node *b[2];
    lru_init(&t, b, 2);
    struct item it[6];
    fill(&t, it, 6, 7919, 100);
    lru_touch(&t, &it[0].node); /* 0 was used: 1 is now the oldest */
    int evicted[6];
    unsigned ne = 0;
    while (t.count && (t.bytes + 150 > 500 || t.count >= 5)) {
        struct item *old = item_of(lru_oldest(&t));
        evicted[ne++] = old->key;
        lru_remove(&t, &old->node);
    }
    assert_int_equal(ne, 3); /* 600 + 150 > 500 until 200 + 150 */
    assert_true(evicted[0] == 1 && evicted[1] == 2 && evicted[2] == 3);
    assert_int_equal(t.count, 3);
    assert_int_equal(t.bytes, 300);
    for (int i = 1; i <= 3; i++) {
        assert_null(find(&t, (uint64_t)i * 7919, i));
    }
    for (int i = 4; i <= 5; i++) {
        assert_ptr_equal(find(&t, (uint64_t)i * 7919, i), &it[i]);
    }
    assert_ptr_equal(find(&t, 0, 0), &it[0]);
    int k[6];
    assert_int_equal(order(&t, k, 6), 3);
    assert_true(k[0] == 4 && k[1] == 5 && k[2] == 0);
}

/* One bucket: every node collides, some with the same hash; removal from the chain's head,
 * middle and tail leaves the others findable. */
static void test_collisions_and_remove(void **state)
{
    (void)state;
    struct lru t;
    struct lru_node *b[1];
    lru_init(&t, b, 1);
    struct item it[5];
    uint64_t hashes[5] = {5, 9, 5, 13, 5}; /* keys 0, 2, 4 share a hash */
    for (int i = 0; i < 5; i++) {
        it[i].key = i;
        lru_insert(&t, &it[i].node, hashes[i], 1);
    }
    /* the nodes with hash 5, most recently inserted first, none of the others */
    struct lru_node *n = lru_first(&t, 5);
    assert_ptr_equal(n, &it[4].node);
    n = lru_next(n);
    assert_ptr_equal(n, &it[2].node);
    n = lru_next(n);
    assert_ptr_equal(n, &it[0].node);
    assert_null(lru_next(n));
    assert_ptr_equal(lru_first(&t, 9), &it[1].node);
    assert_null(lru_next(&it[1].node));
    assert_null(lru_first(&t, 6));
    for (int i = 0; i < 5; i++) {
        assert_ptr_equal(find(&t, hashes[i], i), &it[i]);
    }

    lru_remove(&t, &it[2].node); /* the middle of the chain */
    assert_null(find(&t, 5, 2));
    assert_ptr_equal(find(&t, 5, 4), &it[4]);
    assert_ptr_equal(find(&t, 5, 0), &it[0]);
    lru_remove(&t, &it[4].node); /* its head */
    lru_remove(&t, &it[0].node); /* its tail */
    assert_null(lru_first(&t, 5));
    assert_ptr_equal(find(&t, 9, 1), &it[1]);
    assert_ptr_equal(find(&t, 13, 3), &it[3]);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.bytes, 2);
    int k[5];
    assert_int_equal(order(&t, k, 5), 2);
    assert_true(k[0] == 1 && k[1] == 3);

    /* a removed node may go in again (a refreshed entry reuses nothing, but nothing forbids it) */
    lru_insert(&t, &it[2].node, 5, 4);
    assert_ptr_equal(find(&t, 5, 2), &it[2]);
    lru_remove(&t, &it[1].node);
    lru_remove(&t, &it[3].node);
    lru_remove(&t, &it[2].node);
    assert_int_equal(t.count, 0);
    assert_int_equal(t.bytes, 0);
    assert_null(lru_oldest(&t));
    assert_null(b[0]);
}

/* The userdir sweep: walk from the oldest, removing some, reading lru_newer first. */
static void test_walk_while_removing(void **state)
{
    (void)state;
    struct lru t;
    struct lru_node *b[16];
    lru_init(&t, b, 16);
    struct item it[6];
    fill(&t, it, 6, 1, 0);
    for (struct lru_node *n = lru_oldest(&t); n;) {
        struct lru_node *newer = lru_newer(&t, n);
        if (item_of(n)->key % 2 == 0) {
            lru_remove(&t, n);
        }
        n = newer;
    }
    int k[6];
    assert_int_equal(order(&t, k, 6), 3);
    assert_true(k[0] == 1 && k[1] == 3 && k[2] == 5);
    assert_null(lru_newer(&t, &it[5].node)); /* the most recent has none newer */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_insert_find_touch),
        cmocka_unit_test(test_evict_order_and_bytes),
        cmocka_unit_test(test_collisions_and_remove),
        cmocka_unit_test(test_walk_while_removing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
