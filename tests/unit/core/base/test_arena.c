/* Unit tests for core/base/arena.c: alignment, cap, reset keeps one chunk, pool reuse. */
#include "common/unit.h"
#include "core/base/arena.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static void test_basic(void **state)
{
    (void)state;
    struct arena_pool p;
    arena_pool_init(&p, 1024, 8);
    struct arena a;
    arena_init(&a, &p, 0);
    assert_true(arena_is_empty(&a));
    char *x = arena_alloc(&a, 10);
    char *y = arena_alloc(&a, 10);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal((uintptr_t)x % 16, 0);
    assert_int_equal((uintptr_t)y % 16, 0);
    assert_true(y >= x + 10);
    memset(x, 1, 10);
    memset(y, 2, 10);
    assert_int_equal(x[9], 1);
    /* spills into new chunks and a dedicated oversize one */
    for (int i = 0; i < 100; i++) {
        char *z = arena_alloc(&a, 100);
        assert_non_null(z);
        memset(z, i, 100);
    }
    char *big = arena_alloc(&a, 5000);
    assert_non_null(big);
    memset(big, 7, 5000);
    char *after = arena_alloc(&a, 16);
    assert_non_null(after);
    arena_reset(&a);
    assert_false(arena_is_empty(&a));
    assert_int_equal(a.used, 0);
    assert_true(p.nfree > 0);
    arena_release(&a);
    assert_true(arena_is_empty(&a));
    size_t allocated = p.allocated;
    /* chunks are reused from the pool, not reallocated */
    arena_init(&a, &p, 0);
    for (int i = 0; i < 5; i++) {
        assert_non_null(arena_alloc(&a, 500));
    }
    assert_int_equal(p.allocated, allocated);
    arena_release(&a);
    arena_pool_destroy(&p);
    assert_int_equal(p.nfree, 0);
}

static void test_cap(void **state)
{
    (void)state;
    struct arena_pool p;
    arena_pool_init(&p, 1024, 8);
    struct arena a;
    arena_init(&a, &p, 256);
    assert_non_null(arena_alloc(&a, 200));
    assert_null(arena_alloc(&a, 100)); /* over the per-request cap: NULL, not abort */
    assert_non_null(arena_alloc(&a, 32));
    arena_reset(&a);
    assert_non_null(arena_alloc(&a, 250));
    const char src[] = "hello";
    arena_reset(&a);
    char *d = arena_memdup(&a, src, sizeof(src));
    assert_string_equal(d, "hello");
    arena_release(&a);
    arena_pool_destroy(&p);
}

static void test_pool_bound(void **state)
{
    (void)state;
    struct arena_pool p;
    arena_pool_init(&p, 256, 2);
    struct arena a[5];
    for (int i = 0; i < 5; i++) {
        arena_init(&a[i], &p, 0);
        assert_non_null(arena_alloc(&a[i], 100));
    }
    for (int i = 0; i < 5; i++) {
        arena_release(&a[i]);
    }
    assert_int_equal(p.nfree, 2); /* the rest went back to the allocator */
    assert_int_equal(p.allocated, 2);
    arena_pool_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_pool_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
