/* test_load_text.c - tools/load/text.c: labels made fit for SVG text, JSON strings read back. */
#include "tools/load/text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_label_keeps_valid_utf8_and_cuts_on_a_character(void **state)
{
    (void)state;
    char out[8];
    text_label(out, sizeof(out), "abc");
    assert_string_equal(out, "abc");
    /* "é" is two bytes: 7 bytes of room hold three of them, not three and a half */
    text_label(out, sizeof(out), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    assert_string_equal(out, "\xc3\xa9\xc3\xa9\xc3\xa9");
    char big[32];
    text_label(big, sizeof(big), "\xe2\x82\xac \xf0\x9f\x98\x80"); /* euro sign, an emoji */
    assert_string_equal(big, "\xe2\x82\xac \xf0\x9f\x98\x80");
}

static void test_label_replaces_what_xml_cannot_hold(void **state)
{
    (void)state;
    char out[32];
    text_label(out, sizeof(out), "a\x01" "b\nc\td\x7f");
    assert_string_equal(out, "a?b?c\td?");
    /* a lone continuation byte, a cut sequence, an overlong form, a surrogate, past U+10FFFF */
    text_label(out, sizeof(out), "\x80x\xc3" "y\xc0\xafz\xed\xa0\x80w\xf4\x90\x80\x80");
    assert_string_equal(out, "?x?y??z???w????");
    text_label(out, 1, "abc");
    assert_string_equal(out, "");
}

static void test_json_string_escapes(void **state)
{
    (void)state;
    char out[64];
    text_json_string("plain\" tail", out, sizeof(out));
    assert_string_equal(out, "plain");
    text_json_string("a\\\"b\\\\c\\/d\\n\\t\\u0001\"", out, sizeof(out));
    assert_string_equal(out, "a\"b\\c/d\n\t\x01");
    text_json_string("\\u00e9\\u20ac\\ud83d\\ude00\"", out, sizeof(out));
    assert_string_equal(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* a lone surrogate, a bad \u: '?' each, the rest kept */
    text_json_string("x\\ud83dy\\uZZZZz\"", out, sizeof(out));
    assert_string_equal(out, "x?y?ZZZZz");
    char small[8]; /* cut short, still terminated */
    text_json_string("0123456789\"", small, sizeof(small));
    assert_true(strlen(small) < sizeof(small));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_keeps_valid_utf8_and_cuts_on_a_character),
        cmocka_unit_test(test_label_replaces_what_xml_cannot_hold),
        cmocka_unit_test(test_json_string_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
