/* test_uri.c - percent-encoding per destination, query and cookie pairs, Host names. */
#include "common/unit.h"
#include "proto/uri.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static void check(const char *in, size_t len, enum uri_esc how, const char *want)
{
    char out[256];
    size_t n = uri_escape(out, slice_make(in, len), how);
    out[n] = '\0';
    assert_string_equal(out, want);
}

static void test_escape(void **state)
{
    (void)state;
    const char all[] = "/a b%?#[]@:&=+\"<>\\^`{|}~\r\n\xc3\xa9";
    size_t n = sizeof(all) - 1;
    check(all, n, URI_ESC_TARGET,
          "/a%20b%?#[]@:&=+%22%3C%3E%5C%5E%60%7B%7C%7D~%0D%0A%C3%A9");
    check(all, n, URI_ESC_PATH,
          "/a%20b%25%3F%23%5B%5D@:&=+%22%3C%3E%5C%5E%60%7B%7C%7D~%0D%0A%C3%A9");
    check("h/o?s#t@x:80", 12, URI_ESC_HOST, "h%2Fo%3Fs%23t%40x:80");
    check("a b&c=d/é", 10, URI_ESC_COMPONENT, "a%20b%26c%3Dd%2F%C3%A9");
    check("A-z_0.9~", 8, URI_ESC_COMPONENT, "A-z_0.9~");
    check("\x7f\x00", 2, URI_ESC_TARGET, "%7F%00");
}

static void test_param(void **state)
{
    (void)state;
    struct slice q = SLICE_LIT("a=1&bb=22&flag&empty=&a=3");
    struct slice v = uri_param(q, SLICE_LIT("a"), '&');
    assert_true(slice_eq(v, SLICE_LIT("1"))); /* the first */
    assert_true(slice_eq(uri_param(q, SLICE_LIT("bb"), '&'), SLICE_LIT("22")));
    v = uri_param(q, SLICE_LIT("flag"), '&');
    assert_non_null(v.ptr);
    assert_int_equal(v.len, 0);
    v = uri_param(q, SLICE_LIT("empty"), '&');
    assert_non_null(v.ptr);
    assert_int_equal(v.len, 0);
    assert_null(uri_param(q, SLICE_LIT("b"), '&').ptr);
    assert_null(uri_param(q, SLICE_LIT("A"), '&').ptr); /* exact */
    struct slice c = SLICE_LIT("sid=abc;  theme=dark;\tx=1");
    assert_true(slice_eq(uri_param(c, SLICE_LIT("theme"), ';'), SLICE_LIT("dark")));
    assert_true(slice_eq(uri_param(c, SLICE_LIT("x"), ';'), SLICE_LIT("1")));
    assert_null(uri_param(SLICE_NULL, SLICE_LIT("x"), ';').ptr);
}

static void test_host_name(void **state)
{
    (void)state;
    assert_true(slice_eq(uri_host_name(SLICE_LIT("Example.com:8080")), SLICE_LIT("Example.com")));
    assert_true(slice_eq(uri_host_name(SLICE_LIT("a.b.")), SLICE_LIT("a.b")));
    assert_true(slice_eq(uri_host_name(SLICE_LIT("[::1]:80")), SLICE_LIT("[::1]")));
    assert_true(slice_eq(uri_host_name(SLICE_LIT("x.y.:1")), SLICE_LIT("x.y")));
    assert_int_equal(uri_host_name(SLICE_LIT("")).len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_param),
        cmocka_unit_test(test_host_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
