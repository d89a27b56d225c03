/* Unit tests for proto/range.c. */
#include "common/unit.h"
#include "proto/range.h"

#include <stdio.h>
#include <string.h>

struct rcase {
    const char *v;
    uint64_t size;
    int rc;
    struct http_range want[4];
};

static const struct rcase cases[] = {
    {"bytes=0-99", 1000, 1, {{0, 99}}},
    {"bytes=100-", 1000, 1, {{100, 999}}},
    {"bytes=-100", 1000, 1, {{900, 999}}},
    {"bytes=-5000", 1000, 1, {{0, 999}}},
    {"bytes=0-0", 1000, 1, {{0, 0}}},
    {"bytes=999-999", 1000, 1, {{999, 999}}},
    {"bytes=500-5000", 1000, 1, {{500, 999}}},
    {"BYTES=0-1", 1000, 1, {{0, 1}}},
    {"bytes=0-1,5-6", 1000, 2, {{0, 1}, {5, 6}}},
    {"bytes= 5-6 , 0-1 ,", 1000, 2, {{0, 1}, {5, 6}}},
    {"bytes=0-10,5-20", 1000, 1, {{0, 20}}},    /* overlapping: merged */
    {"bytes=0-9,10-19", 1000, 1, {{0, 19}}},    /* adjacent: merged */
    {"bytes=0-1,2000-3000", 1000, 1, {{0, 1}}}, /* the unsatisfiable one is dropped */
    {"bytes=-1,0-0", 3, 2, {{0, 0}, {2, 2}}},
    {"bytes=1000-", 1000, -416, {{0, 0}}},
    {"bytes=1000-2000", 1000, -416, {{0, 0}}},
    {"bytes=-0", 1000, -416, {{0, 0}}},
    {"bytes=0-", 0, -416, {{0, 0}}},
    {"bytes=-1", 0, 0, {{0, 0}}},                          /* empty file: the whole (empty) 200 */
    {"bytes=0-18446744073709551616", 1000, 1, {{0, 999}}}, /* huge last-pos: clipped */
    {"bytes=99999999999999999999999-", 1000, -416, {{0, 0}}},
    {"bytes=5-1", 1000, 0, {{0, 0}}}, /* last < first: invalid, ignored */
    {"bytes=a-b", 1000, 0, {{0, 0}}},
    {"bytes=-", 1000, 0, {{0, 0}}},
    {"bytes=1-2-3", 1000, 0, {{0, 0}}},
    {"bytes=1 2", 1000, 0, {{0, 0}}},
    {"bytes=", 1000, 0, {{0, 0}}},
    {"items=0-1", 1000, 0, {{0, 0}}},
    {"0-1", 1000, 0, {{0, 0}}},

};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_range out[HTTP_RANGES_MAX];
        int rc = http_range_parse(slice_cstr(cases[i].v), cases[i].size, out, HTTP_RANGES_MAX);
        if (rc != cases[i].rc) {
            fail_msg("\"%s\" size %llu: rc=%d, want %d", cases[i].v,
                     (unsigned long long)cases[i].size, rc, cases[i].rc);
        }
        for (int k = 0; k < rc; k++) {
            if (out[k].first != cases[i].want[k].first || out[k].last != cases[i].want[k].last) {
                fail_msg("\"%s\" range %d: %llu-%llu", cases[i].v, k,
                         (unsigned long long)out[k].first, (unsigned long long)out[k].last);
            }
        }
    }
}

static void test_many(void **state)
{
    (void)state;
    char v[4096] = "bytes=";
    for (int i = 0; i < 17; i++) {
        char part[32];
        snprintf(part, sizeof(part), "%s%d-%d", i ? "," : "", i * 10, i * 10 + 1);
        strcat(v, part);
    }
    struct http_range out[HTTP_RANGES_MAX];
    /* 17 disjoint ranges: more than we answer in one response, so the field is ignored */
    assert_int_equal(http_range_parse(slice_cstr(v), 1000, out, HTTP_RANGES_MAX), 0);
    /* 100 overlapping ranges of one region collapse into one */
    strcpy(v, "bytes=");
    for (int i = 0; i < 60; i++) {
        strcat(v, i ? ",0-10" : "0-10");
    }
    assert_int_equal(http_range_parse(slice_cstr(v), 1000, out, HTTP_RANGES_MAX), 1);
    /* more than 64 range specs: refused outright */
    strcpy(v, "bytes=");
    for (int i = 0; i < 70; i++) {
        strcat(v, i ? ",0-1" : "0-1");
    }
    assert_int_equal(http_range_parse(slice_cstr(v), 1000, out, HTTP_RANGES_MAX), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
