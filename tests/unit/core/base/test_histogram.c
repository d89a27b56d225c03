/* test_histogram.c - the log-linear histogram: buckets, error bound, percentiles, export. */
#include "common/unit.h"
#include "core/base/compiler.h"
#include "core/base/histogram.h"

#include <stdlib.h>
#include <string.h>

static struct hist_snap *snap_new(void)
{
    struct hist_snap *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    return s;
}

/* Every bucket's range starts one past the previous one's: no gap, no overlap, and the
 * index of both ends is the bucket itself. */
static void test_buckets_tile_the_range(void **state)
{
    (void)state;
    assert_int_equal(HIST_BUCKETS, 3840);
    assert_int_equal(hist_bucket_low(0), 0);
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
        assert_true(lo <= hi);
        assert_int_equal(hist_index(lo), i);
        assert_int_equal(hist_index(hi), i);
        if (i > 0) {
            assert_int_equal(lo, hist_bucket_high(i - 1) + 1);
        }
    }
    assert_int_equal(hist_bucket_high(HIST_BUCKETS - 1), (1ull << 36) - 1);
    assert_int_equal(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
    assert_int_equal(hist_index(60000000000ull), hist_index(60000000000ull)); /* 60 s fits */
    assert_true(hist_index(60000000000ull) < HIST_BUCKETS - 1);
}

/* Reading a value back as its bucket's highest is off by less than 1%, 1 us .. 60 s. */
static void test_relative_error_below_one_percent(void **state)
{
    (void)state;
    uint64_t v = 1000;
    while (v <= 60000000000ull) {
        for (uint64_t d = 0; d < 3; d++) {
            uint64_t x = v + d * (v / 7);
            if (x >= (1ull << 36)) {
                break;
            }
            uint64_t hi = hist_bucket_high(hist_index(x));
            assert_true(hi >= x);
            assert_true((double)(hi - x) < 0.01 * (double)x);
        }
        v = v * 3 / 2 + 1;
    }
    for (uint64_t x = 0; x < 256; x++) { /* exact below 256 ns */
        assert_int_equal(hist_bucket_high(hist_index(x)), x);
    }
}

static void test_percentiles(void **state)
{
    (void)state;
    struct hist_snap *s = snap_new();
    assert_int_equal(hist_percentile(s, 50), 0); /* empty */
    for (uint64_t i = 1; i <= 10000; i++) {      /* 1 us .. 10 ms, uniform */
        hist_snap_record(s, i * 1000, 1);
    }
    assert_int_equal(s->count, 10000);
    assert_int_equal(s->max, 10000000);
    double pcts[] = {50, 90, 99, 99.9, 99.99};
    for (unsigned k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
        double want = pcts[k] / 100.0 * 10000.0 * 1000.0;
        uint64_t got = hist_percentile(s, pcts[k]);
        assert_true((double)got >= want * 0.999);
        assert_true((double)got <= want * 1.01);
    }
    assert_int_equal(hist_percentile(s, 100), 10000000);
    assert_int_equal(hist_percentile(s, 0), 1003); /* the first sample's bucket: 1000 .. 1003 */
    assert_true(hist_percentile(s, 99.9999) <= s->max);
    free(s);
}

/* One sample far out, as a stall: p99.99 finds it, p99 does not. */
static void test_tail_sample(void **state)
{
    (void)state;
    struct hist_snap *s = snap_new();
    hist_snap_record(s, 50000, 9999);
    hist_snap_record(s, 100000000, 1); /* 100 ms */
    assert_true(hist_percentile(s, 99) < 51000);
    assert_true(hist_percentile(s, 99.99) < 51000);
    assert_int_equal(hist_percentile(s, 99.999), 100000000);
    free(s);
}

/* The live histogram: recorded in place, copied out whole, merged. */
static void test_record_snapshot_merge(void **state)
{
    (void)state;
    struct hist *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    hist_record(h, 5);
    hist_record(h, 1500);
    hist_record(h, 1500);
    hist_record(h, 200000000000ull); /* 200 s: past the top, kept as max */
    struct hist_snap *a = snap_new(), *b = snap_new();
    hist_snapshot(h, a);
    assert_int_equal(a->count, 4);
    assert_int_equal(a->sum, 5 + 3000 + 200000000000ull);
    assert_int_equal(a->max, 200000000000ull);
    assert_int_equal(a->b[5], 1);
    assert_int_equal(a->b[hist_index(1500)], 2);
    assert_int_equal(a->b[HIST_BUCKETS - 1], 1);
    hist_snap_record(b, 7, 3);
    hist_merge(b, a);
    assert_int_equal(b->count, 7);
    assert_int_equal(b->max, 200000000000ull);
    assert_int_equal(b->b[7], 3);
    free(a);
    free(b);
    free(h);
}

static void test_count_le(void **state)
{
    (void)state;
    struct hist_snap *s = snap_new();
    for (uint64_t i = 1; i <= 1000; i++) {
        hist_snap_record(s, i * 1000, 1);
    }
    unsigned k = hist_index(500000);
    uint64_t hi = hist_bucket_high(k);
    uint64_t exact = hi / 1000; /* samples i*1000 <= hi */
    assert_int_equal(hist_count_le(s, hi), exact);
    assert_int_equal(hist_count_le(s, 0), 0);
    assert_int_equal(hist_count_le(s, UINT64_MAX), 1000);
    assert_true(hist_count_le(s, 500000) <= 500);
    assert_true(hist_count_le(s, 500000) >= 495);
    free(s);
}

/* the one-walk form gives what the bound-by-bound one gives, bounds on and inside buckets */
static void test_counts_le(void **state)
{
    (void)state;
    struct hist_snap *s = snap_new();
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        hist_snap_record(s, x >> (28 + (x & 31)), 1 + (x & 3)); /* 0 .. 2^36: every octave */
    }
    hist_snap_record(s, 1ull << 40, 1); /* past the top: the last bucket */
    uint64_t hi = hist_bucket_high(hist_index(77777));
    uint64_t ns[] = {0,          1,         255, 256, 257, 1000, 5000, hi, 1000000, 60000000000ull,
                     1ull << 36, UINT64_MAX};
    uint64_t out[ARRAY_SIZE(ns)];
    hist_counts_le(s, ns, ARRAY_SIZE(ns), out);
    for (size_t k = 0; k < ARRAY_SIZE(ns); k++) {
        assert_int_equal(out[k], hist_count_le(s, ns[k]));
    }
    assert_int_equal(out[ARRAY_SIZE(ns) - 1], s->count);
    assert_true(out[0] > 0 && out[5] > out[0]);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_tile_the_range),
        cmocka_unit_test(test_relative_error_below_one_percent),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_tail_sample),
        cmocka_unit_test(test_record_snapshot_merge),
        cmocka_unit_test(test_count_le),
        cmocka_unit_test(test_counts_le),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
