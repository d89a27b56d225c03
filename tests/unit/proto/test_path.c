/* Unit tests for proto/path.c: decoding, dot segments, traversal, refusals. */
#include "common/guard.h"
#include "common/unit.h"
#include "proto/path.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct pcase {
    const char *in;
    const char *out; /* NULL when an error is expected */
    int err;
    unsigned flags;
};

static const struct pcase cases[] = {
    {"/", "/", 0, 0},
    {"/index.html", "/index.html", 0, 0},
    {"/a/b/c", "/a/b/c", 0, 0},
    {"/a/b/", "/a/b/", 0, 0},
    {"//a///b", "/a/b", 0, 0},
    {"/./a/./b/.", "/a/b/", 0, 0},
    {"/a/../b", "/b", 0, 0},
    {"/a/b/../../c", "/c", 0, 0},
    {"/a/..", "/", 0, 0},
    {"/a/../", "/", 0, 0},
    {"/a/b/..", "/a/", 0, 0},
    {"/..", NULL, -403, 0},
    {"/../etc/passwd", NULL, -403, 0},
    {"/a/../../etc/passwd", NULL, -403, 0},
    {"/%2e%2e/etc/passwd", NULL, -403, 0},
    {"/%2E%2E/etc/passwd", NULL, -403, 0},
    {"/.%2e/x", NULL, -403, 0},
    {"/a/%2e%2e/b", "/b", 0, 0},
    {"/a%2fb", NULL, -404, 0},
    {"/a%2Fb", NULL, -404, 0},
    {"/a%2fb", "/a/b", 0, 1},
    {"/a%2f..%2f..%2fetc", NULL, -403, 1},
    {"/a%00b", NULL, -404, 0},
    {"/a%zz", NULL, -400, 0},
    {"/a%2", NULL, -400, 0},
    {"/a%", NULL, -400, 0},
    {"/hello%20world", "/hello world", 0, 0},
    {"/caf%C3%A9", "/caf\xc3\xa9", 0, 0},
    {"/..foo/bar..", "/..foo/bar..", 0, 0},
    {"/.hidden", "/.hidden", 0, 0},
    {"/a/...", "/a/...", 0, 0},
    {"relative", NULL, -400, 0},
    {"", NULL, -400, 0},
};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct pcase *c = &cases[i];
        char out[256];
        struct guard_buf g;
        size_t n = strlen(c->in);
        char *in = guard_copy(&g, c->in, n);
        int rc = http_path_normalize(slice_make(in, n), out, sizeof(out), c->flags);
        guard_free(&g);
        if (c->out) {
            if (rc != (int)strlen(c->out) || strcmp(out, c->out) != 0) {
                fail_msg("case %zu \"%s\": rc=%d out=\"%s\", want \"%s\"", i, c->in, rc,
                         rc >= 0 ? out : "", c->out);
            }
        } else if (rc != c->err) {
            fail_msg("case %zu \"%s\": rc=%d, want %d", i, c->in, rc, c->err);
        }
    }
}

static void test_never_escapes(void **state)
{
    (void)state;
    /* every combination of 6 segments from a hostile alphabet stays under '/' */
    static const char *const segs[] = {"..", ".", "a", "%2e%2e", "%2e", ""};
    char in[128], out[128];
    int n = 6;
    for (int mask = 0; mask < 6 * 6 * 6 * 6 * 6 * 6; mask++) {
        size_t len = 0;
        int m = mask;
        for (int k = 0; k < n; k++) {
            len += (size_t)snprintf(in + len, sizeof(in) - len, "/%s", segs[m % 6]);
            m /= 6;
        }
        int rc = http_path_normalize(slice_make(in, len), out, sizeof(out), 0);
        if (rc >= 0) {
            assert_int_equal(out[0], '/');
            assert_null(strstr(out, "/../"));
            assert_true(strcmp(out, "/..") != 0);
            size_t ol = strlen(out);
            assert_false(ol >= 3 && strcmp(out + ol - 3, "/..") == 0);
        } else {
            assert_int_equal(rc, -403);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_never_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
