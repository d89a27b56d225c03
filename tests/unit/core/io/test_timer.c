/* Unit tests for core/io/timer.c: FIFO order, re-arm moves to the tail, cancel. */
#include "common/unit.h"
#include "core/io/timer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

static void test_fifo(void **state)
{
    (void)state;
    struct timer_list l, other;
    timer_list_init(&l, 100, 0);
    timer_list_init(&other, 5, 1);
    struct timer_node n[4] = {0};
    assert_null(timer_first(&l));
    timer_arm(&l, &n[0], 1000);
    timer_arm(&l, &n[1], 1001);
    timer_arm(&l, &n[2], 1002);
    assert_ptr_equal(timer_first(&l), &n[0]);
    assert_int_equal(n[0].deadline_ms, 1100);
    timer_arm(&l, &n[0], 1050); /* re-arm: moves behind the others */
    assert_ptr_equal(timer_first(&l), &n[1]);
    assert_int_equal(l.count, 3);
    timer_cancel(&n[1]);
    assert_false(timer_armed(&n[1]));
    assert_ptr_equal(timer_first(&l), &n[2]);
    timer_cancel(&n[1]);            /* no-op */
    timer_arm(&other, &n[2], 2000); /* moves lists */
    assert_int_equal(l.count, 1);
    assert_int_equal(other.count, 1);
    assert_ptr_equal(timer_first(&l), &n[0]);
    assert_ptr_equal(timer_first(&other), &n[2]);
    assert_int_equal(n[2].deadline_ms, 2005);
    timer_cancel(&n[0]);
    timer_cancel(&n[2]);
    assert_null(timer_first(&l));
    assert_null(timer_first(&other));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
