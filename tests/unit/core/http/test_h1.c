/*
 * Unit tests for the HTTP/1 session (core/http/h1.c) over a fake transport: a pipelined
 * batch split at every byte gives the same responses as the batch in one read, output
 * backpressure holds requests back and lets them go, bodies are skipped, errors close.
 */
#include "common/fake_http.h"
#include "common/unit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char conf_text[] = "server {\n"
                                "  listen 127.0.0.1:0;\n"
                                "  root ROOT;\n"
                                "  location /cached/ { expires 1h; }\n"
                                "}\n";

/* GET, HEAD, a 404, a directory redirect, a body to skip, OPTIONS, an index via redirect. */
static const char batch[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                            "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /dir HTTP/1.1\r\nHost: x\r\n\r\n"
                            "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                            "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /cached/c.txt HTTP/1.1\r\nHost: x\r\n\r\n";

static const int statuses[] = {200, 200, 404, 301, 405, 200, 200, 200};

static struct fake_world world;

static int setup(void **state)
{
    (void)state;
    fake_world_init(&world, conf_text);
    fake_file(&world, "a.txt", "0123456789", 10);
    fake_file(&world, "dir/index.html", "<p>i</p>", 8);
    fake_file(&world, "cached/c.txt", "cc", 2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_world_fini(&world);
    return 0;
}

/* Statuses of the responses in out (Content-Length framing; HEAD's body is not there). */
static unsigned statuses_of(const char *out, size_t n, int *st, unsigned max, bool head_second)
{
    unsigned k = 0;
    size_t i = 0;
    while (i < n && k < max) {
        const char *end = memmem(out + i, n - i, "\r\n\r\n", 4);
        assert_non_null(end);
        st[k] = atoi(out + i + 9);
        const char *cl = memmem(out + i, (size_t)(end - (out + i)), "Content-Length: ", 16);
        size_t body = cl && !(head_second && k == 1) ? (size_t)atol(cl + 16) : 0;
        if (st[k] == 304) {
            body = 0;
        }
        i = (size_t)(end - out) + 4 + body;
        k++;
    }
    assert_int_equal(i, n);
    return k;
}

/* Runs the batch fed in pieces of `first` bytes then the rest; returns the output (malloc). */
static char *run(size_t first, size_t *len)
{
    struct conn *c = fake_connect(&world);
    size_t total = sizeof(batch) - 1;
    fake_feed(&world, c, batch, first);
    if (first < total) {
        fake_feed(&world, c, batch + first, total - first);
    }
    struct fake_wire *fw = fake_wire_of(c);
    char *out = malloc(fw->out_len + 1);
    memcpy(out, fw->out, fw->out_len);
    *len = fw->out_len;
    fake_fix_dates(out, *len);
    fake_close(&world, c);
    return out;
}

static void test_whole_batch(void **state)
{
    (void)state;
    size_t n;
    char *out = run(sizeof(batch) - 1, &n);
    int st[16];
    unsigned k = statuses_of(out, n, st, 16, true);
    assert_int_equal(k, ARRAY_SIZE(statuses));
    for (unsigned i = 0; i < k; i++) {
        assert_int_equal(st[i], statuses[i]);
    }
    /* the body of the first, the redirect's Location, the index via the internal redirect */
    assert_non_null(memmem(out, n, "\r\n\r\n0123456789HTTP/1.1 200 OK", 29));
    /* absolute (absolute_redirect on), with the Host the request gave */
    const char *loc = memmem(out, n, "Location: http://x", 18);
    assert_non_null(loc);
    assert_non_null(memmem(loc, (size_t)(out + n - loc), "/dir/\r\n", 7));
    assert_non_null(memmem(out, n, "Allow: GET, HEAD, OPTIONS\r\n", 27));
    assert_non_null(memmem(out, n, "<p>i</p>", 8));
    /* the location's expires applies to its file only */
    const char *cached = memmem(out, n, "\r\n\r\ncc", 6);
    assert_non_null(cached);
    assert_non_null(memmem(out, n, "Cache-Control: max-age=3600\r\n", 29));
    assert_null(memmem(out, (size_t)(cached - out) - 200, "Cache-Control", 13));
    free(out);
}

static void test_every_split_point(void **state)
{
    (void)state;
    size_t whole_len;
    char *whole = run(sizeof(batch) - 1, &whole_len);
    for (size_t k = 1; k < sizeof(batch) - 1; k++) {
        size_t n;
        char *out = run(k, &n);
        if (n != whole_len || memcmp(out, whole, n) != 0) {
            fail_msg("split at %zu: %zu bytes of output, want %zu", k, n, whole_len);
        }
        free(out);
    }
    free(whole);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    size_t whole_len;
    char *whole = run(sizeof(batch) - 1, &whole_len);
    struct conn *c = fake_connect(&world);
    for (size_t i = 0; i < sizeof(batch) - 1; i++) {
        fake_feed(&world, c, batch + i, 1);
    }
    struct fake_wire *fw = fake_wire_of(c);
    fake_fix_dates(fw->out, fw->out_len);
    assert_int_equal(fw->out_len, whole_len);
    assert_memory_equal(fw->out, whole, whole_len);
    fake_close(&world, c);
    free(whole);
}

/* A client that does not read: the session stops parsing, then goes on as it reads. */
static void test_backpressure(void **state)
{
    (void)state;
    static char big[64 * 1024];
    memset(big, 'b', sizeof(big));
    fake_file(&world, "big.bin", big, sizeof(big));
    char req[4096];
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        n += (size_t)snprintf(req + n, sizeof(req) - n, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    struct conn *c = fake_connect(&world);
    struct fake_wire *fw = fake_wire_of(c);
    fw->window = 0; /* reads nothing */
    fake_feed(&world, c, req, n);
    assert_int_equal(fw->out_len, 0);
    fake_allow(&world, c, UINT64_MAX);
    int st[64];
    assert_int_equal(statuses_of(fw->out, fw->out_len, st, 64, false), 40);
    fake_close(&world, c);
}

static void test_bad_request_closes_after_earlier(void **state)
{
    (void)state;
    static const char in[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /a.txt HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n"
                             "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    struct conn *c = fake_connect(&world);
    struct fake_wire *fw = fake_wire_of(c);
    fake_feed(&world, c, in, sizeof(in) - 1);
    int st[8];
    assert_int_equal(statuses_of(fw->out, fw->out_len, st, 8, false), 2);
    assert_int_equal(st[0], 200);
    assert_int_equal(st[1], 400);
    assert_non_null(memmem(fw->out, fw->out_len, "Connection: close\r\n", 19));
    assert_true(fw->fin);       /* FIN after the last response, */
    assert_false(fw->fin_read); /* then a linger: more bytes followed the bad request */
    fake_close(&world, c);
}

static void test_http10_and_close(void **state)
{
    (void)state;
    static const char in[] = "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                             "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                             "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    struct conn *c = fake_connect(&world);
    struct fake_wire *fw = fake_wire_of(c);
    fake_feed(&world, c, in, sizeof(in) - 1);
    int st[8];
    assert_int_equal(statuses_of(fw->out, fw->out_len, st, 8, false), 2);
    assert_non_null(memmem(fw->out, fw->out_len, "Connection: keep-alive\r\n", 24));
    assert_non_null(memmem(fw->out, fw->out_len, "Connection: close\r\n", 19));
    assert_true(fw->fin);
    assert_false(fw->fin_read); /* a third request followed the close: linger */
    fake_close(&world, c);
}

/* Who said the connection ends decides the linger (nginx's rule, and RFC 9112 9.6). */
static void test_linger_decision(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool linger;
    } cases[] = {
        /* the client is done and nothing follows: no linger */
        {"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false},
        {"GET /a.txt HTTP/1.0\r\n\r\n", false},
        /* a body the server does not read may still be arriving */
        {"POST /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 9\r\n\r\n",
         true},
        /* bytes after the request that closes */
        {"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /", true},
        /* a head that can never be valid */
        {"GET /a.txt HTTP/1.1\r\nBad Header\r\n\r\n", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct conn *c = fake_connect(&world);
        struct fake_wire *fw = fake_wire_of(c);
        fake_feed(&world, c, cases[i].in, strlen(cases[i].in));
        assert_true(fw->fin);
        if (fw->fin_read == cases[i].linger) {
            fail_msg("case %zu: linger should be %d", i, cases[i].linger);
        }
        fake_close(&world, c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_batch),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_bad_request_closes_after_earlier),
        cmocka_unit_test(test_http10_and_close),
        cmocka_unit_test(test_linger_decision),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
