/* Unit tests for utf8_len (core/base/utf8.c): every length, and each way bytes fail to be
 * UTF-8 (RFC 3629 section 4's table). */
#include "common/unit.h"
#include "core/base/utf8.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

static size_t len_of(const char *s, size_t n)
{
    return utf8_len((const unsigned char *)s, n);
}

static void test_well_formed(void **state)
{
    (void)state;
    assert_int_equal(len_of("a", 1), 1);
    assert_int_equal(len_of("\x7f", 1), 1);
    assert_int_equal(len_of("\xc2\x80", 2), 2);         /* U+0080 */
    assert_int_equal(len_of("\xdf\xbf", 2), 2);         /* U+07FF */
    assert_int_equal(len_of("\xe0\xa0\x80", 3), 3);     /* U+0800 */
    assert_int_equal(len_of("\xed\x9f\xbf", 3), 3);     /* U+D7FF, below the surrogates */
    assert_int_equal(len_of("\xee\x80\x80", 3), 3);     /* U+E000, above them */
    assert_int_equal(len_of("\xf0\x90\x80\x80", 4), 4); /* U+10000 */
    assert_int_equal(len_of("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
}

static void test_ill_formed(void **state)
{
    (void)state;
    assert_int_equal(len_of("", 0), 0);
    assert_int_equal(len_of("\x80", 1), 0);             /* a continuation byte alone */
    assert_int_equal(len_of("\xc0\xaf", 2), 0);         /* overlong '/' */
    assert_int_equal(len_of("\xc1\xbf", 2), 0);
    assert_int_equal(len_of("\xe0\x9f\xbf", 3), 0);     /* overlong U+07FF */
    assert_int_equal(len_of("\xf0\x8f\xbf\xbf", 4), 0); /* overlong U+FFFF */
    assert_int_equal(len_of("\xed\xa0\x80", 3), 0);     /* U+D800 */
    assert_int_equal(len_of("\xed\xbf\xbf", 3), 0);     /* U+DFFF */
    assert_int_equal(len_of("\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
    assert_int_equal(len_of("\xf5\x80\x80\x80", 4), 0);
    assert_int_equal(len_of("\xc3y", 2), 0);            /* not a continuation */
    assert_int_equal(len_of("\xe2\x82", 2), 0);         /* cut short by n */
    assert_int_equal(len_of("\xe2\x82\xac", 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_formed),
        cmocka_unit_test(test_ill_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
