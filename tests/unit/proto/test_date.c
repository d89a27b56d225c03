/* Unit tests for proto/date.c: the three HTTP-date formats, round trips, rejects, and the
 * RFC 850 two-digit year placed against a fixed current time. */
#include "common/unit.h"
#include "proto/date.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A fixed "now" for every parse: Thu, 26 Nov 2026 12:00:00 GMT. */
#define NOW ((time_t)1795694400)

/* 00:00:00 GMT on January 1 of year y, by libc. */
static time_t jan1(int y)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mday = 1};
    return timegm(&tm);
}

static void test_format(void **state)
{
    (void)state;
    char d[HTTP_DATE_LEN + 1] = {0};
    http_date_format(d, 784111777);
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    http_date_format(d, 0);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    http_date_format(d, 951782400); /* leap day */
    assert_string_equal(d, "Tue, 29 Feb 2000 00:00:00 GMT");
    http_date_format(d, 4102444799);
    assert_string_equal(d, "Thu, 31 Dec 2099 23:59:59 GMT");
}

static void test_roundtrip(void **state)
{
    (void)state;
    for (time_t t = 0; t < 4102444800; t += 86399 * 7 + 12345) {
        char d[HTTP_DATE_LEN];
        http_date_format(d, t);
        time_t back;
        assert_int_equal(http_date_parse(slice_make(d, HTTP_DATE_LEN), NOW, &back), 0);
        assert_int_equal(back, t);
        /* agrees with libc */
        struct tm tm;
        gmtime_r(&t, &tm);
        char libc[64];
        strftime(libc, sizeof(libc), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        assert_memory_equal(d, libc, HTTP_DATE_LEN);
    }
}

static void test_parse_formats(void **state)
{
    (void)state;
    time_t t;
    assert_int_equal(http_date_parse(SLICE_LIT("Sun, 06 Nov 1994 08:49:37 GMT"), NOW, &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(http_date_parse(SLICE_LIT("Sunday, 06-Nov-94 08:49:37 GMT"), NOW, &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(http_date_parse(SLICE_LIT("Sun Nov  6 08:49:37 1994"), NOW, &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(http_date_parse(SLICE_LIT("Thu Nov 26 08:49:37 2026"), NOW, &t), 0);
    assert_int_equal(http_date_parse(SLICE_LIT("Tue, 29 Feb 2000 00:00:00 GMT"), NOW, &t), 0);
    static const char *const bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Nov 19x4 08:49:37 GMT",
        "Sun, 31 Apr 1994 08:49:37 GMT",
        "yesterday",
        "Sunday, 06-Nov-94 08:49:37",
        "Thu, 29 Feb 2001 00:00:00 GMT", /* not a leap year */
        "Mon, 29 Feb 1900 00:00:00 GMT",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (http_date_parse(slice_cstr(bad[i]), NOW, &t) == 0) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
}

/* The year an RFC 850 date with two-digit year yy gets when the current time is now. */
static int year850(unsigned yy, time_t now)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "Monday, 01-Jan-%02u 00:00:00 GMT", yy);
    time_t t;
    assert_int_equal(http_date_parse(slice_cstr(buf), now, &t), 0);
    struct tm tm;
    gmtime_r(&t, &tm);
    assert_true(tm.tm_mon == 0 && tm.tm_mday == 1 && t % 86400 == 0);
    return tm.tm_year + 1900;
}

/* RFC 9110 5.6.7: a two-digit year more than 50 years in the future is the most recent past
 * year with those digits; the clock is the caller's now, never read by the parser. */
static void test_two_digit_year(void **state)
{
    (void)state;
    /* now in 2026: 76 is exactly 50 years ahead (2076), 77 would be 51 (so 1977) */
    assert_int_equal(year850(26, NOW), 2026);
    assert_int_equal(year850(27, NOW), 2027);
    assert_int_equal(year850(75, NOW), 2075);
    assert_int_equal(year850(76, NOW), 2076);
    assert_int_equal(year850(77, NOW), 1977);
    assert_int_equal(year850(99, NOW), 1999);
    assert_int_equal(year850(0, NOW), 2000);
    assert_int_equal(year850(25, NOW), 2025);
    /* the same digits with another now: the answer follows now, not the machine's clock */
    time_t y1990 = jan1(1990) + 86400 * 100;
    assert_int_equal(year850(40, y1990), 2040);
    assert_int_equal(year850(41, y1990), 1941);
    assert_int_equal(year850(94, y1990), 1994);
    /* now in 2080: the window crosses a century; 30 is exactly 50 years ahead (2130) */
    time_t y2080 = jan1(2080) + 86400 * 200;
    assert_int_equal(year850(30, y2080), 2130);
    assert_int_equal(year850(31, y2080), 2031);
    assert_int_equal(year850(80, y2080), 2080);
    assert_int_equal(year850(99, y2080), 2099);
    assert_int_equal(year850(0, y2080), 2100);
    /* the RFC's own example */
    time_t t;
    assert_int_equal(http_date_parse(SLICE_LIT("Sunday, 06-Nov-94 08:49:37 GMT"), y1990, &t), 0);
    assert_int_equal(t, 784111777);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_parse_formats),
        cmocka_unit_test(test_two_digit_year),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
