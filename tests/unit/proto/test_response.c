/* Unit tests for proto/response.c and proto/http.c tables. */
#include "common/unit.h"
#include "proto/http.h"
#include "proto/response.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void test_head(void **state)
{
    (void)state;
    char mem[256];
    struct http_buf b;
    hbuf_init(&b, mem, sizeof(mem));
    http_put_status_line(&b, 404);
    http_put_header(&b, SLICE_LIT("Content-Type"), SLICE_LIT("text/html"));
    http_put_header_u64(&b, SLICE_LIT("Content-Length"), 18446744073709551615ull);
    hbuf_lit(&b, "\r\n");
    assert_false(b.overflow);
    const char want[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n"
                        "Content-Length: 18446744073709551615\r\n\r\n";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(mem, want, b.len);
}

static void test_overflow(void **state)
{
    (void)state;
    char mem[8];
    struct http_buf b;
    hbuf_init(&b, mem, sizeof(mem));
    hbuf_lit(&b, "12345");
    hbuf_lit(&b, "6789");
    assert_true(b.overflow);
    assert_int_equal(b.len, 5);
}

static void test_error_body(void **state)
{
    (void)state;
    static const int codes[] = {400, 403, 404, 405, 408, 411, 413, 414, 431, 500, 501, 505};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char mem[512];
        struct http_buf b;
        hbuf_init(&b, mem, sizeof(mem));
        size_t n = http_put_error_body(&b, codes[i]);
        assert_int_equal(n, http_error_body_len(codes[i]));
        assert_int_equal(n, b.len);
        mem[b.len] = '\0';
        char code[8];
        snprintf(code, sizeof(code), "%d ", codes[i]);
        assert_non_null(strstr(mem, code));
        assert_true(strcmp(http_status_reason(codes[i]).ptr, "Unknown") != 0);
    }
}

static void test_methods(void **state)
{
    (void)state;
    assert_int_equal(http_method_from(SLICE_LIT("GET")), HTTP_GET);
    assert_int_equal(http_method_from(SLICE_LIT("HEAD")), HTTP_HEAD);
    assert_int_equal(http_method_from(SLICE_LIT("OPTIONS")), HTTP_OPTIONS);
    assert_int_equal(http_method_from(SLICE_LIT("get")), HTTP_METHOD_UNKNOWN);
    assert_int_equal(http_method_from(SLICE_LIT("GETS")), HTTP_METHOD_UNKNOWN);
    for (int m = HTTP_GET; m < HTTP_METHOD__COUNT; m++) {
        assert_int_equal(http_method_from(http_method_name(m)), m);
    }
    assert_true(http_is_tchar('!'));
    assert_false(http_is_tchar(':'));
    assert_false(http_is_tchar(' '));
    assert_false(http_is_tchar(0x80));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
