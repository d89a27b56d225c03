/* Unit tests for proto/cond.c: RFC 9110 13.2.2 precedence, weak/strong comparison, If-Range. */
#include "common/unit.h"
#include "core/base/arena.h"
#include "core/base/hash.h"
#include "proto/cond.h"

#include <string.h>

static struct arena_pool pool;
static struct arena arena;

static struct hdr_table table(const char *const *kv)
{
    struct hdr_table t;
    assert_int_equal(hdr_table_init(&t, &arena, 8), 0);
    for (; kv[0]; kv += 2) {
        struct slice n = slice_cstr(kv[0]);
        assert_int_equal(
            hdr_table_add(&t, &arena, n, slice_cstr(kv[1]), hash_bytes_lower(n.ptr, n.len)), 0);
    }
    assert_int_equal(hdr_table_index(&t, &arena), 0);
    return t;
}

/* validators: ETag "abc", Last-Modified Sun, 06 Nov 1994 08:49:37 GMT; now is a fixed
 * Thu, 26 Nov 2026 12:00:00 GMT, so two-digit years never depend on the test machine's clock */
static const struct http_validators V = {{"\"abc\"", 5}, 784111777, true, 1795694400};
#define LM "Sun, 06 Nov 1994 08:49:37 GMT"
#define BEFORE "Sat, 05 Nov 1994 08:49:37 GMT"
#define AFTER "Mon, 07 Nov 1994 08:49:37 GMT"

struct ccase {
    const char *h[9];
    enum http_method m;
    enum http_precondition want;
};

static const struct ccase cases[] = {
    {{NULL}, HTTP_GET, HTTP_PRECOND_PROCEED},
    {{"If-None-Match", "\"abc\"", NULL}, HTTP_GET, HTTP_PRECOND_NOT_MODIFIED},
    {{"If-None-Match", "W/\"abc\"", NULL}, HTTP_GET, HTTP_PRECOND_NOT_MODIFIED}, /* weak cmp */
    {{"If-None-Match", "\"x\", \"abc\"", NULL}, HTTP_HEAD, HTTP_PRECOND_NOT_MODIFIED},
    {{"If-None-Match", "\"x\"", "If-None-Match", "\"abc\"", NULL},
     HTTP_GET,
     HTTP_PRECOND_NOT_MODIFIED},
    {{"If-None-Match", "*", NULL}, HTTP_GET, HTTP_PRECOND_NOT_MODIFIED},
    {{"If-None-Match", "\"x\"", NULL}, HTTP_GET, HTTP_PRECOND_PROCEED},
    {{"If-None-Match", "\"abc\"", NULL}, HTTP_POST, HTTP_PRECOND_FAILED},
    {{"If-None-Match", "abc", NULL}, HTTP_GET, HTTP_PRECOND_PROCEED}, /* malformed */
    {{"If-Modified-Since", LM, NULL}, HTTP_GET, HTTP_PRECOND_NOT_MODIFIED},
    {{"If-Modified-Since", AFTER, NULL}, HTTP_GET, HTTP_PRECOND_NOT_MODIFIED},
    {{"If-Modified-Since", BEFORE, NULL}, HTTP_GET, HTTP_PRECOND_PROCEED},
    {{"If-Modified-Since", "garbage", NULL}, HTTP_GET, HTTP_PRECOND_PROCEED},
    {{"If-Modified-Since", LM, NULL}, HTTP_POST, HTTP_PRECOND_PROCEED},
    /* If-None-Match wins over If-Modified-Since (13.2.2 step 3 before 4) */
    {{"If-None-Match", "\"x\"", "If-Modified-Since", AFTER, NULL}, HTTP_GET, HTTP_PRECOND_PROCEED},
    {{"If-Match", "\"abc\"", NULL}, HTTP_GET, HTTP_PRECOND_PROCEED},
    {{"If-Match", "*", NULL}, HTTP_GET, HTTP_PRECOND_PROCEED},
    {{"If-Match", "\"x\"", NULL}, HTTP_GET, HTTP_PRECOND_FAILED},
    {{"If-Match", "W/\"abc\"", NULL}, HTTP_GET, HTTP_PRECOND_FAILED}, /* strong comparison */
    {{"If-Unmodified-Since", BEFORE, NULL}, HTTP_GET, HTTP_PRECOND_FAILED},
    {{"If-Unmodified-Since", LM, NULL}, HTTP_GET, HTTP_PRECOND_PROCEED},
    {{"If-Unmodified-Since", "garbage", NULL}, HTTP_GET, HTTP_PRECOND_PROCEED},
    /* If-Match wins over If-Unmodified-Since (step 1 before 2) */
    {{"If-Match", "\"abc\"", "If-Unmodified-Since", BEFORE, NULL}, HTTP_GET, HTTP_PRECOND_PROCEED},
    /* 412 from step 1 comes before a 304 of step 3 */
    {{"If-Match", "\"x\"", "If-None-Match", "\"abc\"", NULL}, HTTP_GET, HTTP_PRECOND_FAILED},
    {{"If-Unmodified-Since", LM, "If-None-Match", "\"abc\"", NULL},
     HTTP_GET,
     HTTP_PRECOND_NOT_MODIFIED},
};

static void test_precedence(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hdr_table t = table(cases[i].h);
        enum http_precondition got = http_preconditions(&t, cases[i].m, &V);
        if (got != cases[i].want) {
            fail_msg("case %zu: got %d, want %d", i, got, cases[i].want);
        }
        arena_reset(&arena);
    }
}

static void test_if_range(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    const char *etag_ok[] = {"If-Range", "\"abc\"", NULL};
    const char *etag_bad[] = {"If-Range", "\"x\"", NULL};
    const char *weak[] = {"If-Range", "W/\"abc\"", NULL};
    const char *date_ok[] = {"If-Range", LM, NULL};
    const char *date_bad[] = {"If-Range", AFTER, NULL};
    const char *junk[] = {"If-Range", "yesterday", NULL};
    struct hdr_table t;
    t = table(none);
    assert_true(http_if_range_ok(&t, &V));
    t = table(etag_ok);
    assert_true(http_if_range_ok(&t, &V));
    t = table(etag_bad);
    assert_false(http_if_range_ok(&t, &V));
    t = table(weak);
    assert_false(http_if_range_ok(&t, &V));
    t = table(date_ok);
    assert_true(http_if_range_ok(&t, &V));
    t = table(date_bad);
    assert_false(http_if_range_ok(&t, &V));
    t = table(junk);
    assert_false(http_if_range_ok(&t, &V));
    arena_reset(&arena);
}

static void test_lists(void **state)
{
    (void)state;
    struct slice e = SLICE_LIT("\"abc\"");
    assert_true(http_etag_list_matches(SLICE_LIT(" \"a\" , W/\"abc\" "), e, true));
    assert_false(http_etag_list_matches(SLICE_LIT(" \"a\" , W/\"abc\" "), e, false));
    assert_false(http_etag_list_matches(SLICE_LIT("\"a\" junk, \"abc\""), e, true));
    assert_false(http_etag_list_matches(SLICE_LIT("\"abc"), e, true));
    assert_false(http_etag_list_matches(SLICE_LIT("\"abc\", junk"), e, true)); /* malformed */
    assert_false(http_etag_list_matches(SLICE_LIT("junk, \"abc\""), e, true));
    assert_true(http_etag_list_matches(SLICE_LIT("*"), e, false));
    assert_false(http_etag_list_matches(SLICE_LIT("*"), SLICE_NULL, false));
}

/* RFC 850 dates in If-Modified-Since and If-Range: the two-digit year is placed with the
 * validators' now (RFC 9110 5.6.7), so the verdict follows now. */
static void test_two_digit_years(void **state)
{
    (void)state;
    /* Last-Modified 2000-01-01; now 2026-11-26: 76 is 2076 (at most 50 years ahead), 77 is 1977 */
    struct http_validators v = {{"\"abc\"", 5}, 946684800, true, 1795694400};
    const char *ims76[] = {"If-Modified-Since", "Thursday, 01-Jan-76 00:00:00 GMT", NULL};
    const char *ims77[] = {"If-Modified-Since", "Friday, 01-Jan-77 00:00:00 GMT", NULL};
    struct hdr_table t = table(ims76);
    assert_int_equal(http_preconditions(&t, HTTP_GET, &v), HTTP_PRECOND_NOT_MODIFIED);
    t = table(ims77);
    assert_int_equal(http_preconditions(&t, HTTP_GET, &v), HTTP_PRECOND_PROCEED);
    v.now += 365 * 86400; /* a year later 77 is 2077 */
    assert_int_equal(http_preconditions(&t, HTTP_GET, &v), HTTP_PRECOND_NOT_MODIFIED);
    const char *ius77[] = {"If-Unmodified-Since", "Friday, 01-Jan-77 00:00:00 GMT", NULL};
    t = table(ius77);
    assert_int_equal(http_preconditions(&t, HTTP_GET, &v), HTTP_PRECOND_PROCEED);
    v.now -= 365 * 86400; /* back in 2026, 77 is 1977: modified since */
    assert_int_equal(http_preconditions(&t, HTTP_GET, &v), HTTP_PRECOND_FAILED);

    /* If-Range with Last-Modified as an RFC 850 date: 94 is 1994 only while now is before 2045 */
    const char *ir[] = {"If-Range", "Sunday, 06-Nov-94 08:49:37 GMT", NULL};
    t = table(ir);
    assert_true(http_if_range_ok(&t, &V));
    struct http_validators later = V;
    later.now = 2524608000; /* 2050-01-01: 94 is now 2094 */
    assert_false(http_if_range_ok(&t, &later));
    arena_reset(&arena);
}

static int setup(void **state)
{
    (void)state;
    hash_set_seed(3);
    hdr_known_init();
    arena_pool_init(&pool, 4096, 8);
    arena_init(&arena, &pool, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    arena_release(&arena);
    arena_pool_destroy(&pool);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_if_range),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_two_digit_years),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
