/* Unit tests for core/base/numfmt.c. */
#include "common/unit.h"
#include "core/base/numfmt.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void test_dec(void **state)
{
    (void)state;
    static const uint64_t vals[] = {0, 1, 9, 10, 99, 1024, 4294967296ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        char buf[32], ref[32];
        size_t n = num_u64_to_dec(buf, vals[i]);
        buf[n] = '\0';
        snprintf(ref, sizeof(ref), "%llu", (unsigned long long)vals[i]);
        assert_string_equal(buf, ref);
        uint64_t back;
        assert_int_equal(num_parse_u64(slice_make(buf, n), UINT64_MAX, &back), 0);
        assert_true(back == vals[i]);
    }
    char h[20];
    size_t n = num_u64_to_hex(h, 0xdeadbeef);
    assert_int_equal(n, 8);
    assert_memory_equal(h, "deadbeef", 8);
    assert_int_equal(num_u64_to_hex(h, 0), 1);
}

static void test_parse(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(num_parse_u64(SLICE_LIT(""), 100, &v), -EINVAL);
    assert_int_equal(num_parse_u64(SLICE_LIT("+1"), 100, &v), -EINVAL);
    assert_int_equal(num_parse_u64(SLICE_LIT("1 "), 100, &v), -EINVAL);
    assert_int_equal(num_parse_u64(SLICE_LIT("101"), 100, &v), -ERANGE);
    assert_int_equal(num_parse_u64(SLICE_LIT("100"), 100, &v), 0);
    assert_int_equal(v, 100);
    assert_int_equal(num_parse_u64(SLICE_LIT("18446744073709551616"), UINT64_MAX, &v), -ERANGE);
    assert_int_equal(num_parse_u64(SLICE_LIT("99999999999999999999x"), UINT64_MAX, &v), -EINVAL);
    assert_int_equal(num_parse_u64(SLICE_LIT("007"), 100, &v), 0);
    assert_int_equal(v, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dec),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
