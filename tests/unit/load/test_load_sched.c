/* test_load_sched.c - spate-load's send schedule (tools/load/sched.c) and the command-line
 * value parsers (tools/load/opts.c) and path choice (tools/load/paths.c). */
#include "tools/load/opts.h"
#include "tools/load/paths.h"
#include "tools/load/sched.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

static void test_even_spacing(void **state)
{
    (void)state;
    struct sched s;
    sched_init(&s, 1000, 250, 1000.0, false, 1); /* 1000/s: a gap of 1 ms */
    for (uint64_t i = 0; i < 1000; i++) {
        assert_int_equal(sched_take(&s), 1250 + i * 1000000ull);
    }
}

static void test_fractional_gap_keeps_the_mean(void **state)
{
    (void)state;
    struct sched s;
    sched_init(&s, 0, 0, 3e6, false, 1); /* a gap of 333.33 ns */
    uint64_t last = 0;
    for (int i = 0; i < 3000000; i++) {
        last = sched_take(&s);
    }
    /* the 3,000,000th request is intended at 999,999,667 ns, within a ns or two */
    assert_true(last >= 999999660ull && last <= 999999670ull);
}

static void test_poisson_mean_and_spread(void **state)
{
    (void)state;
    struct sched s;
    sched_init(&s, 0, 0, 1000.0, true, 42);
    const int n = 200000;
    uint64_t prev = sched_take(&s), below_mean = 0;
    for (int i = 1; i < n; i++) {
        uint64_t t = sched_take(&s);
        below_mean += t - prev < 1000000ull;
        prev = t;
    }
    double mean = (double)prev / (n - 1);
    assert_true(mean > 0.98e6 && mean < 1.02e6);
    /* exponential: P(gap < mean) = 1 - 1/e = 0.632 */
    double frac = (double)below_mean / (n - 1);
    assert_true(frac > 0.62 && frac < 0.645);
}

static void test_uniform_range(void **state)
{
    (void)state;
    uint64_t rng = 7;
    for (int i = 0; i < 100000; i++) {
        double u = sched_uniform(&rng);
        assert_true(u >= 0 && u < 1);
    }
}

static void test_value_parsers(void **state)
{
    (void)state;
    uint64_t ns;
    assert_int_equal(opts_duration("10s", &ns), 0);
    assert_int_equal(ns, 10000000000ull);
    assert_int_equal(opts_duration("500ms", &ns), 0);
    assert_int_equal(ns, 500000000ull);
    assert_int_equal(opts_duration("2m", &ns), 0);
    assert_int_equal(ns, 120000000000ull);
    assert_int_equal(opts_duration("3", &ns), 0);
    assert_int_equal(ns, 3000000000ull);
    assert_int_equal(opts_duration("1x", &ns), -1);
    assert_int_equal(opts_duration("-1s", &ns), -1);
    assert_int_equal(opts_duration("", &ns), -1);
    double r;
    assert_int_equal(opts_rate("10k", &r), 0);
    assert_true(r == 10000);
    assert_int_equal(opts_rate("0", &r), 0);
    assert_true(r == 0);
    assert_int_equal(opts_rate("fast", &r), -1);
    assert_int_equal(opts_rate("-5", &r), -1);
    assert_int_equal(opts_spin("30us", &ns), 0);
    assert_int_equal(ns, 30000);
    assert_int_equal(opts_spin("0", &ns), 0);
    assert_int_equal(ns, 0);
    assert_int_equal(opts_spin("1s", &ns), -1);
    assert_int_equal(opts_spin("20ms", &ns), -1);
    assert_int_equal(opts_spin("5", &ns), -1);
    int *cpus, n;
    assert_int_equal(opts_cpus("0,2-4,7", &cpus, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(cpus[1], 2);
    assert_int_equal(cpus[3], 4);
    assert_int_equal(cpus[4], 7);
    free(cpus);
    assert_int_equal(opts_cpus("3-1", &cpus, &n), -1);
    assert_int_equal(opts_cpus("1,", &cpus, &n), -1);
    assert_int_equal(opts_cpus("a", &cpus, &n), -1);
}

static void test_zipf_pick(void **state)
{
    (void)state;
    struct load_paths p = {.n = 4};
    double cdf[4] = {0.5, 0.75, 0.9, 1.0};
    p.cdf = cdf;
    assert_int_equal(paths_pick(&p, 0.0), 0);
    assert_int_equal(paths_pick(&p, 0.49), 0);
    assert_int_equal(paths_pick(&p, 0.5), 1);
    assert_int_equal(paths_pick(&p, 0.8), 2);
    assert_int_equal(paths_pick(&p, 0.999), 3);
    p.cdf = NULL; /* uniform */
    assert_int_equal(paths_pick(&p, 0.0), 0);
    assert_int_equal(paths_pick(&p, 0.26), 1);
    assert_int_equal(paths_pick(&p, 0.9999), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_even_spacing),
        cmocka_unit_test(test_fractional_gap_keeps_the_mean),
        cmocka_unit_test(test_poisson_mean_and_spread),
        cmocka_unit_test(test_uniform_range),
        cmocka_unit_test(test_value_parsers),
        cmocka_unit_test(test_zipf_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
