/* Unit tests for proto/upstream_head.c: status lines, fields with the request parser's
 * strictness, framing per RFC 9112 6.3, 1xx heads, limits, and heads split at every byte. */
#include "common/unit.h"
#include "core/base/arena.h"
#include "core/base/hash.h"
#include "proto/upstream_head.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct arena_pool pool;
static struct arena arena;
static const struct upstream_head_limits lim = {4096, 100};

static int setup(void **state)
{
    (void)state;
    hash_set_seed(12345);
    hdr_known_init();
    arena_pool_init(&pool, 4096, 16);
    arena_init(&arena, &pool, 1 << 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    arena_release(&arena);
    arena_pool_destroy(&pool);
    return 0;
}

/* Parses s whole, and checks every prefix is -EAGAIN or the same verdict. */
static int parse(const char *s, bool head_req, struct upstream_head *h)
{
    size_t n = strlen(s);
    int whole = upstream_head_parse(s, n, &lim, head_req, &arena, h);
    for (size_t cut = 0; cut < n; cut++) {
        struct upstream_head p;
        int rc = upstream_head_parse(s, cut, &lim, head_req, &arena, &p);
        if (rc != -EAGAIN) {
            assert_int_equal(rc, whole);
        }
    }
    if (whole > 0) {
        /* the prefixes reused the arena: parse again for the caller's table */
        whole = upstream_head_parse(s, n, &lim, head_req, &arena, h);
    }
    return whole;
}

static struct slice field(const struct upstream_head *h, const char *name)
{
    const struct http_header *f = hdr_get(&h->headers, slice_cstr(name));
    return f ? f->value : SLICE_NULL;
}

static void test_valid(void **state)
{
    (void)state;
    struct upstream_head h;
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A:  v  \r\n\r\nbody";
    assert_int_equal(parse(s, false, &h), (int)strlen(s) - 4);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.version_minor, 1);
    assert_true(slice_eq(h.reason, SLICE_LIT("OK")));
    assert_int_equal(h.body, UPSTREAM_BODY_LENGTH);
    assert_int_equal(h.content_length, 12);
    assert_true(h.keep_alive);
    assert_true(slice_eq(field(&h, "x-a"), SLICE_LIT("v")));

    /* no reason phrase, with and without its SP; bare LF line ends */
    assert_true(parse("HTTP/1.1 204\r\n\r\n", false, &h) > 0);
    assert_int_equal(h.body, UPSTREAM_BODY_NONE);
    assert_true(parse("HTTP/1.0 404 \nServer: x\n\n", false, &h) > 0);
    assert_int_equal(h.status, 404);
    assert_int_equal(h.version_minor, 0);
    assert_int_equal(h.body, UPSTREAM_BODY_CLOSE);
    assert_false(h.keep_alive);
    /* reason phrase with obs-text and HTAB */
    assert_true(parse("HTTP/1.1 500 Tr\xc3\xa8s\tmal\r\nContent-Length: 0\r\n\r\n", false, &h) > 0);
    assert_int_equal(h.body, UPSTREAM_BODY_NONE);
}

static void test_framing(void **state)
{
    (void)state;
    struct upstream_head h;
    assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, &h) > 0);
    assert_int_equal(h.body, UPSTREAM_BODY_CHUNKED);
    assert_true(h.keep_alive);
    assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", false, &h) > 0);
    /* HEAD, 304: no body whatever the fields say */
    assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true, &h) > 0);
    assert_int_equal(h.body, UPSTREAM_BODY_NONE);
    assert_true(h.keep_alive);
    assert_true(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", false, &h) > 0);
    assert_int_equal(h.body, UPSTREAM_BODY_NONE);
    /* no framing: to the close, never reused */
    assert_true(parse("HTTP/1.1 200 OK\r\n\r\n", false, &h) > 0);
    assert_int_equal(h.body, UPSTREAM_BODY_CLOSE);
    assert_false(h.keep_alive);
    /* identical duplicates are one length */
    assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7, 7\r\n\r\n",
                      false, &h) > 0);
    assert_int_equal(h.content_length, 7);
    /* Connection */
    assert_true(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", false,
                      &h) > 0);
    assert_false(h.keep_alive);
    assert_true(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
                      false, &h) > 0);
    assert_true(h.keep_alive);
}

static void test_ambiguous(void **state)
{
    (void)state;
    struct upstream_head h;
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], false, &h), UPSTREAM_HEAD_BAD);
    }
}

static void test_malformed(void **state)
{
    (void)state;
    struct upstream_head h;
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n",           /* obs-fold at the first line */
        "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n",          /* obs-fold */
        "HTTP/1.1 200 OK\r\nA : b\r\n\r\n",                /* whitespace before the colon */
        "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",              /* bare CR */
        "HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n",             /* control byte */
        "HTTP/1.1 200 OK\r\n: b\r\n\r\n",                  /* empty name */
        "HTTP/1.1 200 OK\r\nA\x80: b\r\n\r\n",             /* not a token */
        "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\r\n\r\n",                       /* bare CR in the status line */
        "HTTP/1.1 20 OK\r\n\r\n",                          /* two digits */
        "HTTP/1.1 2000 OK\r\n\r\n",                        /* four */
        "HTTP/1.1 200OK\r\n\r\n",                          /* reason glued to the code */
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 600 High\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n",                     /* junk before the head */
        "garbage\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\r\n\r\r\n",               /* bare CR on the empty line */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], false, &h), UPSTREAM_HEAD_BAD);
    }
    /* early verdicts: the status line alone shows it */
    assert_int_equal(upstream_head_parse("HTTP/1.1 2x", 11, &lim, false, &arena, &h),
                     UPSTREAM_HEAD_BAD);
    assert_int_equal(upstream_head_parse("HTTP/1.1 200 OK\r\nA : b\r\n", 24, &lim, false,
                                         &arena, &h),
                     UPSTREAM_HEAD_BAD);
    assert_int_equal(upstream_head_parse("HTTP/1.1 200 OK\r\nA: b\r\n", 23, &lim, false, &arena,
                                         &h),
                     -EAGAIN);
}

static void test_interim(void **state)
{
    (void)state;
    struct upstream_head h;
    const char *s = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    size_t n = strlen(s), off = 0;
    int rc = upstream_head_parse(s, n, &lim, false, &arena, &h);
    assert_int_equal(rc, 25);
    assert_int_equal(h.status, 100);
    assert_int_equal(h.body, UPSTREAM_BODY_NONE);
    off += (size_t)rc;
    rc = upstream_head_parse(s + off, n - off, &lim, false, &arena, &h);
    assert_int_equal(h.status, 103);
    off += (size_t)rc;
    rc = upstream_head_parse(s + off, n - off, &lim, false, &arena, &h);
    assert_true(rc > 0);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.content_length, 2);
}

static void test_limits(void **state)
{
    (void)state;
    struct upstream_head h;
    char big[8192];
    int n = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(big + n, 'a', 4200);
    n += 4200;
    /* incomplete and already over the limit: refused without waiting for more */
    assert_int_equal(upstream_head_parse(big, (size_t)n, &lim, false, &arena, &h),
                     UPSTREAM_HEAD_BAD);
    memcpy(big + n, "\r\n\r\n", 5);
    assert_int_equal(upstream_head_parse(big, strlen(big), &lim, false, &arena, &h),
                     UPSTREAM_HEAD_BAD);
    /* too many fields */
    size_t len = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 101; i++) {
        len += (size_t)snprintf(big + len, sizeof(big) - len, "F%d: v\r\n", i);
    }
    memcpy(big + len, "\r\n", 3);
    assert_int_equal(upstream_head_parse(big, len + 2, &lim, false, &arena, &h),
                     UPSTREAM_HEAD_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),     cmocka_unit_test(test_framing),
        cmocka_unit_test(test_ambiguous), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_interim),   cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
