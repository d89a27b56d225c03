/* Unit tests for proto/hdr_table.c: O(1) lookup, case folding, duplicates, seeds. */
#include "common/unit.h"
#include "core/base/arena.h"
#include "core/base/hash.h"
#include "proto/hdr_table.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static struct arena_pool pool;
static struct arena arena;

static void add(struct hdr_table *t, const char *name, const char *value)
{
    struct slice n = slice_cstr(name);
    assert_int_equal(hdr_table_add(t, &arena, n, slice_cstr(value), hash_bytes_lower(n.ptr, n.len)),
                     0);
}

static void test_lookup(void **state)
{
    (void)state;
    hash_set_seed(1);
    hdr_known_init();
    arena_pool_init(&pool, 4096, 4);
    arena_init(&arena, &pool, 0);
    struct hdr_table t;
    assert_int_equal(hdr_table_init(&t, &arena, 2), 0); /* forces growth */
    add(&t, "Host", "example.com");
    add(&t, "Content-Length", "10");
    add(&t, "X-Forwarded-For", "1.1.1.1");
    add(&t, "x-forwarded-for", "2.2.2.2");
    add(&t, "X-FORWARDED-FOR", "3.3.3.3");
    add(&t, "Accept", "*/*");
    assert_int_equal(hdr_table_index(&t, &arena), 0);
    assert_int_equal(t.count, 6);
    const struct http_header *h = hdr_get_known(&t, HDR_HOST);
    assert_non_null(h);
    assert_true(slice_eq(h->value, SLICE_LIT("example.com")));
    assert_int_equal(hdr_count_known(&t, HDR_HOST), 1);
    assert_int_equal(hdr_count_known(&t, HDR_CONTENT_LENGTH), 1);
    assert_int_equal(hdr_count_known(&t, HDR_RANGE), 0);
    h = hdr_get(&t, SLICE_LIT("x-forwarded-for"));
    assert_true(slice_eq(h->value, SLICE_LIT("1.1.1.1")));
    h = hdr_next_dup(&t, h);
    assert_true(slice_eq(h->value, SLICE_LIT("2.2.2.2")));
    h = hdr_next_dup(&t, h);
    assert_true(slice_eq(h->value, SLICE_LIT("3.3.3.3")));
    assert_null(hdr_next_dup(&t, h));
    assert_null(hdr_get(&t, SLICE_LIT("accept-encoding")));
    assert_non_null(hdr_get(&t, SLICE_LIT("ACCEPT")));
    arena_release(&arena);
    arena_pool_destroy(&pool);
}

static void test_seed_changes_hash(void **state)
{
    (void)state;
    hash_set_seed(1);
    uint64_t a = hash_bytes_lower("Host", 4);
    uint64_t b = hash_bytes_lower("host", 4);
    assert_true(a == b);
    hash_set_seed(2);
    assert_true(hash_bytes_lower("host", 4) != a);
    /* long names stream through the same function */
    char longname[300];
    memset(longname, 'A', sizeof(longname));
    char lower[300];
    memset(lower, 'a', sizeof(lower));
    assert_true(hash_bytes_lower(longname, sizeof(longname)) == hash_bytes(lower, sizeof(lower)));
}

static void test_many(void **state)
{
    (void)state;
    hash_set_seed(99);
    hdr_known_init();
    arena_pool_init(&pool, 4096, 4);
    arena_init(&arena, &pool, 0);
    struct hdr_table t;
    assert_int_equal(hdr_table_init(&t, &arena, 8), 0);
    char names[1000][16];
    for (int i = 0; i < 1000; i++) {
        snprintf(names[i], sizeof(names[i]), "N%d", i);
        add(&t, names[i], names[i]);
    }
    assert_int_equal(hdr_table_index(&t, &arena), 0);
    for (int i = 0; i < 1000; i++) {
        const struct http_header *h = hdr_get(&t, slice_cstr(names[i]));
        assert_non_null(h);
        assert_true(slice_eq(h->value, slice_cstr(names[i])));
    }
    arena_release(&arena);
    arena_pool_destroy(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_seed_changes_hash),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
