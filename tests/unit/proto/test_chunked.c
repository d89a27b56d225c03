/* Unit tests for proto/chunked.c: valid bodies whole and split at every byte, every error. */
#include "common/guard.h"
#include "common/unit.h"
#include "proto/chunked.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes in (fed in pieces of at most `step` bytes); returns the status and the payload. */
static int decode(const char *in, size_t n, size_t step, uint64_t max, char *out, size_t *outn,
                  size_t *consumed)
{
    struct http_chunked d;
    http_chunked_init(&d, max);
    size_t off = 0, o = 0;
    while (off < n) {
        size_t piece = n - off < step ? n - off : step;
        struct guard_buf g;
        char *p = guard_copy(&g, in + off, piece);
        size_t pos = 0;
        for (;;) {
            size_t used;
            struct slice data;
            int rc = http_chunked_decode(&d, p + pos, piece - pos, &used, &data);
            memcpy(out + o, data.ptr ? data.ptr : "", data.len);
            o += data.len;
            pos += used;
            if (rc < 0 || rc == HTTP_CHUNKED_DONE) {
                guard_free(&g);
                *outn = o;
                *consumed = off + pos;
                return rc;
            }
            if (rc == HTTP_CHUNKED_MORE) {
                assert_int_equal(pos, piece);
                break;
            }
        }
        guard_free(&g);
        off += piece;
    }
    *outn = o;
    *consumed = off;
    return HTTP_CHUNKED_MORE;
}

struct good {
    const char *in;
    const char *payload;
};

static const struct good good[] = {
    {"0\r\n\r\n", ""},
    {"5\r\nhello\r\n0\r\n\r\n", "hello"},
    {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
    {"000a\r\n0123456789\r\n0000\r\n\r\n", "0123456789"},
    {"A\r\nabcdefghij\r\n0\r\n\r\n", "abcdefghij"},
    {"3;name=value\r\nabc\r\n0;last\r\n\r\n", "abc"},
    {"3 ; a = b ; c=\"q \\\" x\"\r\nabc\r\n0\r\n\r\n", "abc"},
    {"3\r\nabc\r\n0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n", "abc"},
    {"1\r\n\r\r\n1\r\n\n\r\n0\r\n\r\n", "\r\n"},
};

static void test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        size_t n = strlen(good[i].in);
        for (size_t step = 1; step <= n; step++) {
            char out[256];
            size_t outn, consumed;
            int rc = decode(good[i].in, n, step, 1 << 20, out, &outn, &consumed);
            if (rc != HTTP_CHUNKED_DONE || consumed != n || outn != strlen(good[i].payload) ||
                memcmp(out, good[i].payload, outn) != 0) {
                fail_msg("good[%zu] step %zu: rc=%d consumed=%zu outn=%zu", i, step, rc, consumed,
                         outn);
            }
        }
    }
}

static void test_stops_at_end(void **state)
{
    (void)state;
    /* bytes after the body belong to the next request */
    const char *in = "2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    char out[64];
    size_t outn, consumed;
    assert_int_equal(decode(in, strlen(in), 1000, 100, out, &outn, &consumed), HTTP_CHUNKED_DONE);
    assert_int_equal(consumed, 12);
    assert_memory_equal(out, "hi", 2);
}

struct bad {
    const char *in;
    int rc;
};

static const struct bad bad[] = {
    {"\r\n", -400},  /* no size */
    {"x\r\n", -400}, /* not hex */
    {"-1\r\n", -400},
    {"+1\r\n", -400},
    {"5\nhello\r\n0\r\n\r\n", -400},    /* bare LF after the size */
    {"5\r\nhello\n0\r\n\r\n", -400},    /* bare LF after data */
    {"5\r\nhelloX\r\n0\r\n\r\n", -400}, /* data longer than the size */
    {"5 x\r\nhello\r\n", -400},         /* garbage after the size */
    {"5;\r\nhello\r\n", -400},          /* ";" without a name */
    {"5;a=\r\nhello\r\n", -400},        /* "=" without a value */
    {"5;a=\"x\r\n", -400},              /* unterminated quoted string */
    {"5;a\x01\r\nhello\r\n", -400},
    {"5 \r\nhello\r\n0\r\n\r\n", -400}, /* whitespace without an extension */
    {"5;a=b \r\nhello\r\n0\r\n\r\n", -400},
    {"5;a \r\nhello\r\n0\r\n\r\n", -400},
    {"10000000000000000\r\n", -400}, /* 17 digits: overflow */
    {"fffffffffffffffff\r\n", -400},
    {"0\r\nX: 1\r\n folded\r\n\r\n", -400}, /* obs-fold in a trailer */
    {"0\r\nX : 1\r\n\r\n", -400},           /* space before colon */
    {"0\r\n: 1\r\n\r\n", -400},             /* empty trailer name */
    {"0\r\nX: a\x01\r\n\r\n", -400},        /* control byte in a trailer */
    {"0\r\n\n", -400},                      /* bare LF ending the body */
    {"0\r\n\rX", -400},
    {"65\r\n", -413}, /* 101 bytes > max 100 */
    {"32\r\n"
     "01234567890123456789012345678901234567890123456789\r\n"
     "33\r\n",
     -413}, /* 50 + 51 > 100 */
};

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = strlen(bad[i].in);
        for (size_t step = 1; step <= n; step++) {
            char out[256];
            size_t outn, consumed;
            int rc = decode(bad[i].in, n, step, 100, out, &outn, &consumed);
            if (rc != bad[i].rc) {
                fail_msg("bad[%zu] \"%s\" step %zu: rc=%d, want %d", i, bad[i].in, step, rc,
                         bad[i].rc);
            }
        }
    }
}

static void test_large(void **state)
{
    (void)state;
    /* 1 MiB in 1000 chunks, decoded in odd-sized reads */
    size_t cap = 2 << 20;
    char *in = malloc(cap), *out = malloc(cap);
    size_t n = 0, total = 0;
    for (int i = 0; i < 1000; i++) {
        size_t sz = 1000 + (size_t)i % 97;
        n += (size_t)sprintf(in + n, "%zx\r\n", sz);
        memset(in + n, 'a' + i % 26, sz);
        n += sz;
        memcpy(in + n, "\r\n", 2);
        n += 2;
        total += sz;
    }
    memcpy(in + n, "0\r\n\r\n", 5);
    n += 5;
    size_t outn, consumed;
    assert_int_equal(decode(in, n, 4093, 1 << 30, out, &outn, &consumed), HTTP_CHUNKED_DONE);
    assert_int_equal(outn, total);
    assert_int_equal(consumed, n);
    free(in);
    free(out);
}

/* A consumer that takes part of each data slice: the rest is given back and decoded again. */
static void test_unread(void **state)
{
    (void)state;
    const char *in = "5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n";
    size_t n = strlen(in);
    for (size_t take = 1; take <= 5; take++) {
        struct http_chunked d;
        http_chunked_init(&d, 1000);
        char out[16];
        size_t o = 0, off = 0;
        int rc;
        do {
            size_t used;
            struct slice data;
            rc = http_chunked_decode(&d, in + off, n - off, &used, &data);
            assert_true(rc >= 0);
            off += used;
            if (rc == HTTP_CHUNKED_DATA && data.len > take) {
                http_chunked_unread(&d, data.len - take);
                off -= data.len - take;
                data.len = take;
            }
            memcpy(out + o, data.ptr ? data.ptr : "", data.len);
            o += data.len;
        } while (rc != HTTP_CHUNKED_DONE);
        assert_int_equal(off, n);
        assert_int_equal(o, 8);
        assert_memory_equal(out, "helloabc", 8);
        assert_int_equal(d.total, 8);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_stops_at_end),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_unread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
