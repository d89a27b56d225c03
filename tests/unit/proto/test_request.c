/* Unit tests for proto/request.c: valid requests parsed whole and split at every byte,
 * every framing error with its status, pipelining, limits. Inputs end at a PROT_NONE page. */
#include "common/guard.h"
#include "common/unit.h"
#include "core/base/arena.h"
#include "core/base/hash.h"
#include "proto/request.h"

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
static const struct http_limits lim = {8192, 32768, 100};

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

/* Parses s[0..n) placed against a guard page. */
static int parse_guarded(const char *s, size_t n, size_t prev, struct http_request *r,
                         const struct http_limits *l)
{
    struct guard_buf g;
    char *p = guard_copy(&g, s, n);
    assert_non_null(p);
    int rc = http_parse_request(p, n, prev, l, &arena, r);
    guard_free(&g);
    return rc;
}

static const char *const valid[] = {
    "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "GET /index.html?x=1&y=2 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/119.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.example.com/\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: a=1\r\n"
    "Cookie: b=2\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "If-None-Match: \"abc\"\r\n\r\n",
    "GET /lf HTTP/1.1\nHost: a\n\n",
    "\r\n\r\nGET /after-empty-lines HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET http://example.org:8080/abs?q HTTP/1.1\r\nHost: ignored\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "HEAD /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET /obs HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xc3\xa9 \t tab\r\nX-Empty:\r\n\r\n",
    "PROPFIND /dav HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
};

static void check_same(const struct http_request *a, const struct http_request *b)
{
    assert_int_equal(a->head_len, b->head_len);
    assert_int_equal(a->method, b->method);
    assert_true(slice_eq(a->target, b->target));
    assert_true(slice_eq(a->path, b->path));
    assert_true(slice_eq(a->query, b->query));
    assert_int_equal(a->version_minor, b->version_minor);
    assert_int_equal(a->headers.count, b->headers.count);
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_int_equal(a->body, b->body);
    assert_int_equal(a->content_length, b->content_length);
    assert_true(slice_eq(a->host, b->host));
}

/* Every valid request gives the same result whole and split at any byte. */
static void test_split_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        const char *s = valid[i];
        size_t n = strlen(s);
        char *copy = strdup(s);
        struct http_request whole;
        int rc = http_parse_request(copy, n, 0, &lim, &arena, &whole);
        if (rc != (int)n) {
            fail_msg("sample %zu: rc=%d, want %zu", i, rc, n);
        }
        for (size_t k = 0; k < n; k++) {
            struct http_request part;
            int prc = parse_guarded(s, k, 0, &part, &lim);
            if (prc != -EAGAIN) {
                fail_msg("sample %zu split at %zu: rc=%d, want -EAGAIN", i, k, prc);
            }
            /* the rest arrives: resume with prev_len = k */
            struct http_request fin;
            int frc = parse_guarded(s, n, k, &fin, &lim);
            assert_int_equal(frc, (int)n);
            /* compare against a fresh whole parse into the same copy so slices match */
            struct http_request ref;
            assert_int_equal(http_parse_request(copy, n, k, &lim, &arena, &ref), (int)n);
            check_same(&ref, &whole);
            assert_int_equal(fin.headers.count, whole.headers.count);
            assert_int_equal(fin.method, whole.method);
            assert_int_equal(fin.head_len, whole.head_len);
            arena_release(&arena);
        }
        free(copy);
    }
}

static void test_fields(void **state)
{
    (void)state;
    struct http_request r;
    const char *s = valid[1];
    assert_int_equal(http_parse_request(s, strlen(s), 0, &lim, &arena, &r), (int)strlen(s));
    assert_int_equal(r.method, HTTP_GET);
    assert_true(slice_eq(r.path, SLICE_LIT("/index.html")));
    assert_true(r.has_query);
    assert_true(slice_eq(r.query, SLICE_LIT("x=1&y=2")));
    assert_true(slice_eq(r.host, SLICE_LIT("www.example.com")));
    assert_int_equal(r.version_minor, 1);
    assert_true(r.keep_alive);
    assert_int_equal(r.headers.count, 12);
    const struct http_header *h = hdr_get(&r.headers, SLICE_LIT("cookie"));
    assert_non_null(h);
    assert_true(slice_eq(h->value, SLICE_LIT("a=1")));
    h = hdr_next_dup(&r.headers, h);
    assert_non_null(h);
    assert_true(slice_eq(h->value, SLICE_LIT("b=2")));
    assert_null(hdr_next_dup(&r.headers, h));
    h = hdr_get(&r.headers, SLICE_LIT("USER-AGENT"));
    assert_non_null(h);
    assert_true(
        slice_eq(h->value, SLICE_LIT("Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 "
                                     "Firefox/119.0")));
    assert_non_null(hdr_get_known(&r.headers, HDR_IF_NONE_MATCH));
    assert_null(hdr_get(&r.headers, SLICE_LIT("x-missing")));
    assert_true(slice_eq(r.request_line, SLICE_LIT("GET /index.html?x=1&y=2 HTTP/1.1")));
    arena_release(&arena);
}

static void test_forms_and_versions(void **state)
{
    (void)state;
    struct http_request r;
    const char *abs = valid[4];
    assert_true(http_parse_request(abs, strlen(abs), 0, &lim, &arena, &r) > 0);
    assert_int_equal(r.form, HTTP_TARGET_ABSOLUTE);
    assert_true(slice_eq(r.host, SLICE_LIT("example.org:8080")));
    assert_true(slice_eq(r.path, SLICE_LIT("/abs")));
    assert_true(slice_eq(r.query, SLICE_LIT("q")));

    const char *star = valid[5];
    assert_true(http_parse_request(star, strlen(star), 0, &lim, &arena, &r) > 0);
    assert_int_equal(r.form, HTTP_TARGET_ASTERISK);
    assert_int_equal(r.method, HTTP_OPTIONS);

    const char *h10 = valid[6];
    assert_true(http_parse_request(h10, strlen(h10), 0, &lim, &arena, &r) > 0);
    assert_int_equal(r.version_minor, 0);
    assert_false(r.keep_alive);
    assert_int_equal(r.host.len, 0);

    const char *h10ka = valid[7];
    assert_true(http_parse_request(h10ka, strlen(h10ka), 0, &lim, &arena, &r) > 0);
    assert_true(r.keep_alive);

    const char *post = valid[8];
    assert_true(http_parse_request(post, strlen(post), 0, &lim, &arena, &r) > 0);
    assert_int_equal(r.body, HTTP_BODY_LENGTH);
    assert_int_equal(r.content_length, 5);

    const char *chunked = valid[9];
    assert_true(http_parse_request(chunked, strlen(chunked), 0, &lim, &arena, &r) > 0);
    assert_int_equal(r.body, HTTP_BODY_CHUNKED);

    const char *obs = valid[10];
    assert_true(http_parse_request(obs, strlen(obs), 0, &lim, &arena, &r) > 0);
    const struct http_header *h = hdr_get(&r.headers, SLICE_LIT("x-obs"));
    assert_true(slice_eq(h->value, SLICE_LIT("caf\xc3\xa9 \t tab")));
    h = hdr_get(&r.headers, SLICE_LIT("x-empty"));
    assert_int_equal(h->value.len, 0);

    const char *unk = valid[11];
    assert_true(http_parse_request(unk, strlen(unk), 0, &lim, &arena, &r) > 0);
    assert_int_equal(r.method, HTTP_METHOD_UNKNOWN);
    assert_true(slice_eq(r.method_token, SLICE_LIT("PROPFIND")));

    const char *v12 = valid[12];
    assert_true(http_parse_request(v12, strlen(v12), 0, &lim, &arena, &r) > 0);
    assert_int_equal(r.version_minor, 1);

    const char *close = "GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n";
    assert_true(http_parse_request(close, strlen(close), 0, &lim, &arena, &r) > 0);
    assert_false(r.keep_alive);

    const char *cl2 = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n"
                      "Content-Length: 7\r\n\r\n";
    assert_true(http_parse_request(cl2, strlen(cl2), 0, &lim, &arena, &r) > 0);
    assert_int_equal(r.content_length, 7);

    const char *exp = "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
                      "Content-Length: 3\r\n\r\n";
    assert_true(http_parse_request(exp, strlen(exp), 0, &lim, &arena, &r) > 0);
    assert_true(r.expect_continue);
    const char *exp2 = "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                       "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    assert_true(http_parse_request(exp2, strlen(exp2), 0, &lim, &arena, &r) > 0);
    assert_true(r.expect_continue);
    const char *exp3 = "GET / HTTP/1.1\r\nHost: a\r\nExpect: ,\r\n\r\n";
    assert_true(http_parse_request(exp3, strlen(exp3), 0, &lim, &arena, &r) > 0);
    assert_false(r.expect_continue);
    arena_release(&arena);
}

struct bad {
    const char *req;
    int status;
};

static const struct bad bad[] = {
    {"GET / HTTP/1.1\r\n\r\n", -400},                       /* no Host */
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400}, /* two Hosts */
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", -400},          /* bad Host */
    {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400},                   /* space before colon */
    {"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n", -400}, /* obs-fold */
    {"GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", -400},              /* bare CR */
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", -400},       /* control byte */
    {"GET / HTTP/1.1\r\nHost: a\r\nX\x7f: 1\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: a\r\n: empty-name\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", -400},
    {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", -400}, /* two spaces */
    {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", -400},
    {"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", -400},
    {"GET /#frag HTTP/1.1\r\nHost: a\r\n\r\n", -400},
    {"GET / http/1.1\r\nHost: a\r\n\r\n", -400},
    {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", -400},
    {"GET /\r\n\r\n", -400}, /* HTTP/0.9 */
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", -505},
    {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", -505},
    {"GET / HTTP/3.1\r\nHost: a\r\n\r\n", -505},
    {"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", -400},
    {"GET x HTTP/1.1\r\nHost: a\r\n\r\n", -400}, /* not origin-form */
    {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", -400}, /* * only for OPTIONS */
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", -413},
    /* differing values are 400 whatever their order, even when one is too large */
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: "
     "99999999999999999999\r\n\r\n",
     -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\nContent-Length: "
     "1\r\n\r\n",
     -400},
    {"GET / HTTP/1.1\r\nHost: ..:x\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: a:80:\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: []\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: a]b\r\n\r\n", -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     -400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -501},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", -400},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -400},
    {"GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", -417},
    {"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n", -417},
    {"GET / HTTP/1.1\r\nHost: :80\r\n\r\n", -400},
    {"GET http://a@b/ HTTP/1.1\r\nHost: a\r\n\r\n", -400},
    {"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", -400},
    {"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", -400},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_request r;
        int rc = parse_guarded(bad[i].req, strlen(bad[i].req), 0, &r, &lim);
        if (rc != bad[i].status) {
            fail_msg("bad[%zu] %s: rc=%d, want %d", i, bad[i].req, rc, bad[i].status);
        }
        arena_release(&arena);
    }
}

/*
 * Feeds s[0..n) whole and then one byte more per call, resuming with prev_len as a server
 * does. Every prefix shorter than at bytes must be -EAGAIN; from at bytes on, every call
 * (resumed or parsed afresh) must give want: the error is final as soon as it is certain.
 */
static void check_error_at(const char *s, size_t n, int want, size_t at,
                           const struct http_limits *l)
{
    struct http_request r;
    int rc = parse_guarded(s, n, 0, &r, l);
    if (rc != want) {
        fail_msg("\"%.*s\" whole: rc=%d, want %d", (int)n, s, rc, want);
    }
    size_t prev = 0;
    for (size_t k = 1; k <= n; k++) {
        rc = parse_guarded(s, k, prev, &r, l);
        int want_k = k < at ? -EAGAIN : want;
        if (rc != want_k) {
            fail_msg("\"%.*s\" first %zu bytes (prev_len %zu): rc=%d, want %d", (int)n, s, k, prev,
                     rc, want_k);
        }
        if (k >= at && parse_guarded(s, k, 0, &r, l) != want) {
            fail_msg("\"%.*s\" first %zu bytes afresh: not %d", (int)n, s, k, want);
        }
        if (rc == -EAGAIN) {
            prev = k;
        }
        arena_release(&arena);
    }
}

/* Empty list elements in Transfer-Encoding: refused, since proxies disagree on them. */
static void test_te_empty_elements(void **state)
{
    (void)state;
    static const char *const te[] = {
        "Transfer-Encoding: ,chunked\r\n",
        "Transfer-Encoding: chunked,\r\n",
        "Transfer-Encoding: chunked, ,\r\n",
        "Transfer-Encoding: , chunked\r\n",
        "Transfer-Encoding: chunked , \r\n",
        "Transfer-Encoding: gzip,, chunked\r\n",
        "Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: \r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n",
        "Transfer-Encoding: gzip,\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked,\r\nTransfer-Encoding: chunked\r\n",
    };
    char buf[256];
    for (size_t i = 0; i < sizeof(te) / sizeof(te[0]); i++) {
        int n = snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nHost: a\r\n%s\r\n", te[i]);
        check_error_at(buf, (size_t)n, -400, (size_t)n, &lim);
    }
    /* the other rules are unchanged: one chunked, last; another coding before it is 501 */
    const char *ok = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  chunked \r\n\r\n";
    struct http_request r;
    assert_int_equal(parse_guarded(ok, strlen(ok), 0, &r, &lim), (int)strlen(ok));
    assert_int_equal(r.body, HTTP_BODY_CHUNKED);
    const char *two = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(parse_guarded(two, strlen(two), 0, &r, &lim), -501);
    arena_release(&arena);
}

/* A request the parser must refuse as soon as the last byte of `upto` has arrived, with
 * `rest` completing the head; sizeof keeps embedded NUL bytes. */
struct early {
    const char *req;
    size_t at, len;
    int status;
};

#define EARLY(upto, rest, status)                                                                  \
    {                                                                                              \
        upto rest, sizeof(upto) - 1, sizeof(upto rest) - 1, status                                 \
    }

static const struct early early[] = {
    /* a request line with no version (HTTP/0.9): refused at its end, not after a timeout */
    EARLY("GET /a.txt\r", "\n\r\n", -400),
    EARLY("GET /a.txt\n", "\n", -400),
    EARLY("GET /\r", "\nHost: a\r\n\r\n", -400),
    EARLY("\r\n\r\nGET /a.txt\r", "\n", -400), /* leading empty lines are still skipped */
    EARLY("\n\nhello\r", "\n\r\n", -400),
    EARLY("\0", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY("hello\r", "\n\r\n", -400),
    EARLY("hello\n", "\n", -400),
    /* bare CR */
    EARLY("GET / HTTP/1.1\rX", "Host: a\r\n\r\n", -400),
    EARLY("GET / HTTP/1.1\r\r", "\nHost: a\r\n\r\n", -400),
    EARLY("GET /a\r", "b HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    /* a method token followed by neither tchar nor SP */
    EARLY("GET\t", "/ HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY("G@", "T / HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY("GET\0", " / HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY(" ", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY("\x80", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    /* a byte not allowed in a target, or an empty target */
    EARLY("GET /a#", "b HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY("GET /\x7f", " HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY("GET /\0", " HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY("GET /a\x01", " HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY("GET  ", "/ HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY("GET /\t", "HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    /* a version that cannot become HTTP/d.d */
    EARLY("GET / h", "ttp/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY("GET / HTTPS", "/1.1\r\nHost: a\r\n\r\n", -400),
    EARLY("GET / HTTP/x", ".1\r\nHost: a\r\n\r\n", -400),
    EARLY("GET / HTTP/1,", "1\r\nHost: a\r\n\r\n", -400),
    EARLY("GET / HTTP/1.x", "\r\nHost: a\r\n\r\n", -400),
    EARLY("GET / HTTP/1.10", "\r\nHost: a\r\n\r\n", -400),
    EARLY("GET / HTTP/1.1 ", "\r\nHost: a\r\n\r\n", -400),
    EARLY("GET / HTTP/\r", "\nHost: a\r\n\r\n", -400),
    EARLY("GET / \r", "\nHost: a\r\n\r\n", -400),
    /* well formed but unsupported or impossible: known once the line is complete */
    EARLY("GET / HTTP/2.0\r\n", "Host: a\r\n\r\n", -505),
    EARLY("GET / HTTP/0.9\n", "\n", -505),
    EARLY("GET / HTTP/3.1\r\n", "\r\n", -505),
    EARLY("GET x HTTP/1.1\r\n", "Host: a\r\n\r\n", -400),
    EARLY("GET * HTTP/1.1\r\n", "Host: a\r\n\r\n", -400),
    EARLY("GET http:///x HTTP/1.1\r\n", "Host: a\r\n\r\n", -400),
    /* complete field lines that are already malformed */
    EARLY("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n", "\r\n", -400),
    EARLY("GET / HTTP/1.1\r\nHost : a\r\n", "\r\n", -400),
    EARLY("GET / HTTP/1.1\r\nHost: a\rX: 1\r\n", "\r\n", -400),
    EARLY("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\n", "\n", -400),
    EARLY("GET / HTTP/1.1\r\nHost: a\r\nX: a\0z\r\n", "\r\n", -400),
    EARLY("GET / HTTP/1.1\r\nHost: a\r\nX\x7f: 1\r\n", "\r\n", -400),
    EARLY("GET / HTTP/1.1\r\nHost: a\r\n: empty-name\r\n", "\r\n", -400),
    EARLY("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n", "\r\n", -400),
    EARLY("GET / HTTP/1.1\r\n\rX: 1\r\n", "\r\n", -400),
};

/* Requests that can never become valid are refused at once, whole or byte by byte. */
static void test_early_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
        check_error_at(early[i].req, early[i].len, early[i].status, early[i].at, &lim);
    }
}

/*
 * An error is final as soon as it is certain, so a request gets the same answer however it
 * is split: where one head has several faults, the parse picks the one it can see first.
 */
static void test_verdict_order(void **state)
{
    (void)state;
    struct http_limits small = {32, 128, 4};
    char buf[512];
    int n;
    /* a bad byte within the request-line window is 400 even if the line is also too long */
    n = snprintf(buf, sizeof(buf), "G@T /%040d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    check_error_at(buf, (size_t)n, -400, 2, &small);
    /* past the window (limit + CRLF) it is 414, known when the window is full */
    n = snprintf(buf, sizeof(buf), "GET /%040d#x HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    check_error_at(buf, (size_t)n, -414, 34, &small);
    /* a version error at the end of a long line is 414 too */
    n = snprintf(buf, sizeof(buf), "GET /%040d HTTP/9.x\r\nHost: a\r\n\r\n", 0);
    check_error_at(buf, (size_t)n, -414, 34, &small);
    /* exactly at the limit: 505 for the version, not 414 */
    n = snprintf(buf, sizeof(buf), "GET /%018d HTTP/2.0\r\nHost: a\r\n\r\n", 0);
    check_error_at(buf, (size_t)n, -505, 34, &small);
    /* a complete request line's verdict comes before 431 for the head */
    n = snprintf(buf, sizeof(buf), "GET / HTTP/2.0\r\nX: %0200d\r\n\r\n", 0);
    check_error_at(buf, (size_t)n, -505, 16, &small);
    /* a malformed field line within max_head is 400 even if the head grows too large */
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nBad\r\nX: %0200d\r\n\r\n", 0);
    check_error_at(buf, (size_t)n, -400, 21, &small);
    /* one that ends past max_head: 431, known once max_head is passed */
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX: %0120dBad\r\n\r\n", 0);
    check_error_at(buf, (size_t)n, -431, 129, &small);
    /* too many fields is 431 only if no line is malformed */
    n = snprintf(buf, sizeof(buf),
                 "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\n"
                 "E: 1\r\nF\r\n\r\n");
    check_error_at(buf, (size_t)n, -400, (size_t)n - 2, &small);
    n = snprintf(buf, sizeof(buf),
                 "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\n"
                 "E: 1\r\nF: 1\r\n\r\n");
    check_error_at(buf, (size_t)n, -431, (size_t)n, &small);
    /* more empty lines than max_head before the request line: 400, a request after or not */
    memset(buf, '\n', 129);
    n = 129 + snprintf(buf + 129, sizeof(buf) - 129, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    check_error_at(buf, (size_t)n, -400, 129, &small);
    arena_release(&arena);
}

static void test_nul_byte(void **state)
{
    (void)state;
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    struct http_request r;
    assert_int_equal(parse_guarded(req, sizeof(req) - 1, 0, &r, &lim), -400);
    static const char req2[] = "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse_guarded(req2, sizeof(req2) - 1, 0, &r, &lim), -400);
    arena_release(&arena);
}

static void test_limits(void **state)
{
    (void)state;
    struct http_limits small = {64, 256, 4};
    struct http_request r;
    char buf[2048];
    /* request line over the limit, complete or not: 414 */
    snprintf(buf, sizeof(buf), "GET /%0100d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    assert_int_equal(parse_guarded(buf, strlen(buf), 0, &r, &small), -414);
    snprintf(buf, sizeof(buf), "GET /%0100d", 0);
    assert_int_equal(parse_guarded(buf, strlen(buf), 0, &r, &small), -414);
    /* head over the limit: 431, complete or not */
    snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: %0300d\r\n\r\n", 0);
    assert_int_equal(parse_guarded(buf, strlen(buf), 0, &r, &small), -431);
    snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: %0300d", 0);
    assert_int_equal(parse_guarded(buf, strlen(buf), 0, &r, &small), -431);
    /* too many fields: 431 */
    const char *many = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\n\r\n";
    assert_int_equal(parse_guarded(many, strlen(many), 0, &r, &small), -431);
    const char *four = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 1\r\nC: 1\r\n\r\n";
    assert_int_equal(parse_guarded(four, strlen(four), 0, &r, &small), (int)strlen(four));
    /* exactly at the request-line limit is fine */
    struct http_limits exact = {20, 256, 4};
    const char *rl = "GET /12345 HTTP/1.1\r\nHost: a\r\n\r\n"; /* line is 19 bytes */
    assert_int_equal(parse_guarded(rl, strlen(rl), 0, &r, &exact), (int)strlen(rl));
    arena_release(&arena);
}

static void test_pipelined(void **state)
{
    (void)state;
    const char *two = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\nGET /c";
    struct http_request r;
    size_t n = strlen(two);
    struct guard_buf g;
    char *p = guard_copy(&g, two, n);
    int rc = http_parse_request(p, n, 0, &lim, &arena, &r);
    assert_int_equal(rc, 28);
    assert_true(slice_eq(r.path, SLICE_LIT("/a")));
    rc = http_parse_request(p + 28, n - 28, 0, &lim, &arena, &r);
    assert_int_equal(rc, 28);
    assert_true(slice_eq(r.path, SLICE_LIT("/b")));
    rc = http_parse_request(p + 56, n - 56, 0, &lim, &arena, &r);
    assert_int_equal(rc, -EAGAIN);
    guard_free(&g);
    arena_release(&arena);
}

static void test_many_headers_table(void **state)
{
    (void)state;
    /* 90 distinct names plus 9 duplicates: every one found, dups in order */
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < 90; i++) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-H%d: v%d\r\n", i, i);
    }
    for (int i = 0; i < 9; i++) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "x-h7: dup%d\r\n", i);
    }
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
    struct http_request r;
    assert_int_equal(http_parse_request(buf, n, 0, &lim, &arena, &r), (int)n);
    assert_int_equal(r.headers.count, 100);
    for (int i = 0; i < 90; i++) {
        char name[16], val[16];
        snprintf(name, sizeof(name), "x-h%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        const struct http_header *h = hdr_get(&r.headers, slice_cstr(name));
        assert_non_null(h);
        assert_true(slice_eq(h->value, slice_cstr(val)));
    }
    const struct http_header *h = hdr_get(&r.headers, SLICE_LIT("X-H7"));
    int k = 0;
    while ((h = hdr_next_dup(&r.headers, h)) != NULL) {
        char want[16];
        snprintf(want, sizeof(want), "dup%d", k);
        assert_true(slice_eq(h->value, slice_cstr(want)));
        k++;
    }
    assert_int_equal(k, 9);
    arena_release(&arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_everywhere),   cmocka_unit_test(test_fields),
        cmocka_unit_test(test_forms_and_versions), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nul_byte),           cmocka_unit_test(test_limits),
        cmocka_unit_test(test_pipelined),          cmocka_unit_test(test_many_headers_table),
        cmocka_unit_test(test_te_empty_elements),  cmocka_unit_test(test_early_errors),
        cmocka_unit_test(test_verdict_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
