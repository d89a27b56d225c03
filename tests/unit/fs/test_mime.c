/* Unit tests for fs/mime.c. */
#include "common/unit.h"
#include "fs/mime.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static struct slice type_of(const char *p)
{
    return fs_mime_for_path(slice_cstr(p), SLICE_LIT("application/octet-stream"));
}

static void test_sorted(void **state)
{
    (void)state;
    for (unsigned i = 1; i < fs_mime_count(); i++) {
        if (strcmp(fs_mime_ext_at(i - 1), fs_mime_ext_at(i)) >= 0) {
            fail_msg("table out of order at %s / %s", fs_mime_ext_at(i - 1), fs_mime_ext_at(i));
        }
    }
}

static void test_lookup(void **state)
{
    (void)state;
    assert_true(slice_eq(type_of("/index.html"), SLICE_LIT("text/html")));
    assert_true(slice_eq(type_of("/A/B.HTML"), SLICE_LIT("text/html")));
    assert_true(slice_eq(type_of("/x.css"), SLICE_LIT("text/css")));
    assert_true(slice_eq(type_of("/x.js"), SLICE_LIT("text/javascript")));
    assert_true(slice_eq(type_of("/x.json"), SLICE_LIT("application/json")));
    assert_true(slice_eq(type_of("/x.png"), SLICE_LIT("image/png")));
    assert_true(slice_eq(type_of("/x.svg"), SLICE_LIT("image/svg+xml")));
    assert_true(slice_eq(type_of("/x.woff2"), SLICE_LIT("font/woff2")));
    assert_true(slice_eq(type_of("/x.wasm"), SLICE_LIT("application/wasm")));
    assert_true(slice_eq(type_of("/a.tar.gz"), SLICE_LIT("application/gzip")));
    assert_true(slice_eq(type_of("/noext"), SLICE_LIT("application/octet-stream")));
    assert_true(slice_eq(type_of("/.bashrc"), SLICE_LIT("application/octet-stream")));
    assert_true(slice_eq(type_of("/dir.d/file"), SLICE_LIT("application/octet-stream")));
    assert_true(slice_eq(type_of("/x."), SLICE_LIT("application/octet-stream")));
    assert_true(slice_eq(type_of("/x.unknownext"), SLICE_LIT("application/octet-stream")));
    assert_true(
        slice_eq(type_of("/x.averyveryverylongextension"), SLICE_LIT("application/octet-stream")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted),
        cmocka_unit_test(test_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
