/* Unit tests for proto/date.c: the three HTTP-date formats, round trips, rejects. */
#include "common/unit.h"
#include "proto/date.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
        assert_int_equal(http_date_parse(slice_make(d, HTTP_DATE_LEN), &back), 0);
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
    assert_int_equal(http_date_parse(SLICE_LIT("Sun, 06 Nov 1994 08:49:37 GMT"), &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(http_date_parse(SLICE_LIT("Sunday, 06-Nov-94 08:49:37 GMT"), &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(http_date_parse(SLICE_LIT("Sun Nov  6 08:49:37 1994"), &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(http_date_parse(SLICE_LIT("Thu Nov 26 08:49:37 2026"), &t), 0);
    assert_int_equal(http_date_parse(SLICE_LIT("Tue, 29 Feb 2000 00:00:00 GMT"), &t), 0);
    /* RFC 850 two-digit years: more than 50 years ahead means the past century */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int yy = (tm.tm_year + 1900 + 10) % 100; /* ten years ahead: this century */
    char buf[64];
    snprintf(buf, sizeof(buf), "Monday, 01-Jan-%02d 00:00:00 GMT", yy);
    assert_int_equal(http_date_parse(slice_cstr(buf), &t), 0);
    assert_true(t > now);
    yy = (tm.tm_year + 1900 + 60) % 100; /* 60 years ahead: read as 40 years ago */
    snprintf(buf, sizeof(buf), "Monday, 01-Jan-%02d 00:00:00 GMT", yy);
    assert_int_equal(http_date_parse(slice_cstr(buf), &t), 0);
    assert_true(t < now);
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
        if (http_date_parse(slice_cstr(bad[i]), &t) == 0) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_parse_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
