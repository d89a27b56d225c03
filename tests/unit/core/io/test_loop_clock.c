/* Unit tests for io_loop_clock (core/io/loop.c): the fine clock's derived milliseconds and
 * wall clock, and a wall clock step showing at the next turn that crosses a derived second. */
#include "common/unit.h"
#include "core/io/loop.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

static uint64_t read_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void test_precise(void **state)
{
    (void)state;
    struct io_loop l;
    io_loop_init_bare(&l);
    l.precise_clock = true;
    uint64_t wall0 = read_us(CLOCK_REALTIME), mono0 = read_us(CLOCK_MONOTONIC);
    io_loop_clock(&l);
    uint64_t mono1 = read_us(CLOCK_MONOTONIC), wall1 = read_us(CLOCK_REALTIME);
    assert_in_range(l.now_us, mono0, mono1);
    assert_int_equal(l.now_ms, l.now_us / 1000);
    /* this turn read the wall clock (its second was new): between the reads around it */
    assert_in_range(l.epoch_ms, wall0 / 1000, wall1 / 1000);
    assert_int_equal((uint64_t)l.now_s, l.epoch_ms / 1000);
    /* the turns after derive it: a second of slack for a preemption between two reads */
    for (int i = 0; i < 1000; i++) {
        uint64_t before_ms = l.now_ms;
        wall0 = read_us(CLOCK_REALTIME);
        io_loop_clock(&l);
        wall1 = read_us(CLOCK_REALTIME);
        assert_true(l.now_ms >= before_ms);
        assert_in_range(l.epoch_ms, wall0 / 1000 - 1000, wall1 / 1000 + 1000);
        assert_int_equal((uint64_t)l.now_s, l.epoch_ms / 1000);
    }
}

static void test_wall_step(void **state)
{
    (void)state;
    struct io_loop l;
    io_loop_init_bare(&l);
    l.precise_clock = true;
    io_loop_clock(&l);
    /* as if the wall clock had been stepped 5 s back since the distance was read */
    l.wall_off_us += 5 * 1000000;
    uint64_t wall0 = read_us(CLOCK_REALTIME);
    io_loop_clock(&l);
    uint64_t wall1 = read_us(CLOCK_REALTIME);
    assert_in_range(l.epoch_ms, wall0 / 1000, wall1 / 1000);
    uint64_t mono = read_us(CLOCK_MONOTONIC);
    int64_t off = (int64_t)(wall1 - mono);
    assert_true(l.wall_off_us > off - 1000000 && l.wall_off_us < off + 1000000);
}

static void test_coarse_after_fine(void **state)
{
    (void)state;
    struct io_loop l;
    io_loop_init_bare(&l);
    l.precise_clock = true;
    io_loop_clock(&l);
    uint64_t fine = l.now_ms;
    /* a reload turned the fine clock off: the coarse one lags it, now_ms holds still */
    l.precise_clock = false;
    for (int i = 0; i < 100; i++) {
        io_loop_clock(&l);
        assert_true(l.now_ms >= fine);
        fine = l.now_ms;
    }
    assert_true(l.now_s > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precise),
        cmocka_unit_test(test_wall_step),
        cmocka_unit_test(test_coarse_after_fine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
