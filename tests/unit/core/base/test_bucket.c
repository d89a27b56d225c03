/* Unit tests for core/base/bucket.c: limit_req's leaky bucket (nginx's arithmetic). */
#include "common/unit.h"
#include "core/base/bucket.h"
#include "core/base/compiler.h"

/* n requests at the same instant: how many pass at once, are delayed, are refused. */
static void burst_at_once(const struct bucket_rule *r, unsigned n, unsigned *pass, unsigned *delay,
                          unsigned *busy, uint32_t *last_wait)
{
    struct bucket_state s = {0, 0};
    *pass = *delay = *busy = 0;
    *last_wait = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t w;
        enum bucket_verdict v = bucket_take(r, s, 1000, &s, &w);
        *pass += v == BUCKET_PASS;
        *delay += v == BUCKET_DELAY;
        *busy += v == BUCKET_BUSY;
        if (v == BUCKET_DELAY) {
            *last_wait = w;
        }
    }
}

static void test_nodelay_burst(void **state)
{
    (void)state;
    /* rate=10r/s burst=5 nodelay: 1 + 5 go, the rest are refused */
    struct bucket_rule r = {10000, 5, 5};
    unsigned pass, delay, busy;
    uint32_t w;
    burst_at_once(&r, 20, &pass, &delay, &busy, &w);
    assert_int_equal(pass, 6);
    assert_int_equal(delay, 0);
    assert_int_equal(busy, 14);
    /* no burst at all: one per 100 ms */
    struct bucket_rule r0 = {10000, 0, 0};
    burst_at_once(&r0, 5, &pass, &delay, &busy, &w);
    assert_int_equal(pass, 1);
    assert_int_equal(busy, 4);
}

static void test_delay_spacing(void **state)
{
    (void)state;
    /* rate=10r/s burst=5 (no nodelay): the first goes, five wait 100, 200, ... 500 ms */
    struct bucket_rule r = {10000, 5, 0};
    struct bucket_state s = {0, 0};
    uint32_t w;
    assert_int_equal(bucket_take(&r, s, 50, &s, &w), BUCKET_PASS);
    for (unsigned i = 1; i <= 5; i++) {
        assert_int_equal(bucket_take(&r, s, 50, &s, &w), BUCKET_DELAY);
        assert_int_equal(w, 100 * i);
    }
    assert_int_equal(bucket_take(&r, s, 50, &s, &w), BUCKET_BUSY);
    assert_int_equal(s.excess, 5000); /* a refusal changes nothing */
    /* delay=2: two of the burst go at once, the next ones wait for the excess over 2 */
    struct bucket_rule d = {10000, 5, 2};
    unsigned pass, delay, busy;
    burst_at_once(&d, 8, &pass, &delay, &busy, &w);
    assert_int_equal(pass, 3);
    assert_int_equal(delay, 3);
    assert_int_equal(busy, 2);
    assert_int_equal(w, 300);
}

static void test_rate_leaks(void **state)
{
    (void)state;
    struct bucket_rule r = {10000, 0, 0}; /* 10r/s */
    struct bucket_state s = {0, 0};
    uint32_t w;
    uint32_t t = 5000;
    /* one request every 100 ms keeps to the rate forever */
    for (unsigned i = 0; i < 100; i++, t += 100) {
        assert_int_equal(bucket_take(&r, s, t, &s, &w), BUCKET_PASS);
        assert_int_equal(s.excess, 0);
    }
    /* every 50 ms: every other one is refused */
    unsigned busy = 0;
    for (unsigned i = 0; i < 100; i++, t += 50) {
        busy += bucket_take(&r, s, t, &s, &w) == BUCKET_BUSY;
    }
    assert_int_equal(busy, 50);
    /* per minute: 30r/m is one per 2 s */
    struct bucket_rule m = {30 * 1000 / 60, 0, 0};
    s = (struct bucket_state){0, 0};
    assert_int_equal(bucket_take(&m, s, 10, &s, &w), BUCKET_PASS);
    assert_int_equal(bucket_take(&m, s, 1500, &s, &w), BUCKET_BUSY);
    assert_int_equal(bucket_take(&m, s, 2010, &s, &w), BUCKET_PASS);
    /* a full bucket drains at the rate: idle after burst / rate */
    struct bucket_rule b = {10000, 5, 5};
    s = (struct bucket_state){5000, 1000};
    assert_false(bucket_idle(&b, s, 1499));
    assert_int_equal(bucket_leaked(&b, s, 1200), 3000);
    assert_true(bucket_idle(&b, s, 1500));
    /* a clock read a little earlier elsewhere: nothing leaks, the time does not go back */
    s = (struct bucket_state){2000, 1000};
    assert_int_equal(bucket_take(&b, s, 990, &s, &w), BUCKET_PASS);
    assert_int_equal(s.excess, 3000);
    assert_int_equal(s.last, 1000);
    /* the 32-bit clock wraps */
    s = (struct bucket_state){2000, UINT32_MAX - 50};
    assert_int_equal(bucket_leaked(&b, s, 50), 990); /* 101 ms later */
}

static void test_refund(void **state)
{
    (void)state;
    struct bucket_rule r = {10000, 5, 5};
    struct bucket_state s = {0, 0};
    uint32_t w;
    (void)bucket_take(&r, s, 100, &s, &w);
    (void)bucket_take(&r, s, 100, &s, &w);
    assert_int_equal(s.excess, 1000);
    s = bucket_refund(&r, s, 100);
    assert_int_equal(s.excess, 0);
    s = bucket_refund(&r, s, 100);
    assert_int_equal(s.excess, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodelay_burst),
        cmocka_unit_test(test_delay_spacing),
        cmocka_unit_test(test_rate_leaks),
        cmocka_unit_test(test_refund),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
