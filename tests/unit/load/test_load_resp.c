/* test_load_resp.c - spate-load's response parser (tools/load/resp.c): framing by
 * Content-Length, chunked and close, HEAD/204/304 with no body, 1xx skipped, any split. */
#include "tools/load/resp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

static size_t body_seen;
static char body_buf[256];

static void on_body(void *ctx, const char *p, size_t n)
{
    (void)ctx;
    if (body_seen + n <= sizeof(body_buf)) {
        memcpy(body_buf + body_seen, p, n);
    }
    body_seen += n;
}

/* Feeds msg in pieces of `step` bytes; returns the bytes used when the response ended (or -1
 * on error, or the length if it did not end). */
static long feed_steps(struct resp *r, const char *msg, size_t len, size_t step)
{
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        long used = resp_feed(r, msg + off, n);
        if (used < 0) {
            return -1;
        }
        off += (size_t)used;
        if (r->state == RESP_DONE) {
            return (long)off;
        }
    }
    return (long)off;
}

static struct resp *fresh(bool head)
{
    static struct resp r;
    memset(&r, 0, sizeof(r));
    r.on_body = on_body;
    resp_begin(&r, head);
    body_seen = 0;
    return &r;
}

static void test_content_length_any_split(void **state)
{
    (void)state;
    const char m[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhelloHTTP/1.1";
    size_t want = sizeof(m) - 1 - strlen("HTTP/1.1");
    for (size_t step = 1; step <= sizeof(m); step++) {
        struct resp *r = fresh(false);
        assert_int_equal(feed_steps(r, m, sizeof(m) - 1, step), (long)want);
        assert_int_equal(r->state, RESP_DONE);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->body, 5);
        assert_int_equal(body_seen, 5);
        assert_memory_equal(body_buf, "hello", 5);
        assert_false(r->close);
    }
}

static void test_chunked_with_extensions_and_trailers(void **state)
{
    (void)state;
    const char m[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n";
    for (size_t step = 1; step <= sizeof(m); step++) {
        struct resp *r = fresh(false);
        assert_int_equal(feed_steps(r, m, sizeof(m) - 1, step), (long)(sizeof(m) - 1));
        assert_int_equal(r->state, RESP_DONE);
        assert_int_equal(r->body, 13);
        assert_memory_equal(body_buf, "abc0123456789", 13);
    }
}

/* chunked counts only as the last coding; any other last coding runs to the close, whatever
 * Content-Length says (RFC 9112 6.1, 6.3) */
static void test_transfer_coding_order(void **state)
{
    (void)state;
    const char last[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
                        "2\r\nab\r\n0\r\n\r\n";
    struct resp *r = fresh(false);
    assert_int_equal(resp_feed(r, last, sizeof(last) - 1), (long)(sizeof(last) - 1));
    assert_int_equal(r->state, RESP_DONE);
    assert_int_equal(r->body, 2);
    const char *other[] = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nxyz",
                           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: gzip\r\n"
                           "\r\n3\r\nxyz"};
    for (int i = 0; i < 2; i++) {
        r = fresh(false);
        assert_int_equal(resp_feed(r, other[i], strlen(other[i])), (long)strlen(other[i]));
        assert_int_equal(r->state, RESP_UNTIL_CLOSE);
        assert_true(r->close);
        assert_int_equal(r->body, 6); /* "3\r\nxyz": the bytes as they came */
    }
}

static void test_no_body_cases(void **state)
{
    (void)state;
    const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    struct resp *r = fresh(true);
    assert_int_equal(resp_feed(r, head, sizeof(head) - 1), sizeof(head) - 1);
    assert_int_equal(r->state, RESP_DONE);
    assert_int_equal(r->body, 0);
    const char *nobody[] = {"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
                            "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"};
    for (int i = 0; i < 3; i++) {
        r = fresh(false);
        assert_int_equal(resp_feed(r, nobody[i], strlen(nobody[i])), (long)strlen(nobody[i]));
        assert_int_equal(r->state, RESP_DONE);
    }
}

static void test_interim_skipped(void **state)
{
    (void)state;
    const char m[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                     "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
    struct resp *r = fresh(false);
    assert_int_equal(resp_feed(r, m, sizeof(m) - 1), sizeof(m) - 1);
    assert_int_equal(r->state, RESP_DONE);
    assert_int_equal(r->status, 404);
    assert_int_equal(r->body, 2);
}

static void test_until_close_and_eof(void **state)
{
    (void)state;
    const char m[] = "HTTP/1.0 200 OK\r\n\r\nsome bytes";
    struct resp *r = fresh(false);
    assert_int_equal(resp_feed(r, m, sizeof(m) - 1), sizeof(m) - 1);
    assert_int_equal(r->state, RESP_UNTIL_CLOSE);
    assert_int_equal(resp_eof(r), 1);
    assert_int_equal(r->body, 10);
    assert_true(r->close);
    /* EOF before any byte: nothing cut; EOF mid-body: cut short */
    r = fresh(false);
    assert_int_equal(resp_eof(r), 0);
    const char part[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    assert_int_equal(resp_feed(r, part, sizeof(part) - 1), sizeof(part) - 1);
    assert_int_equal(resp_eof(r), -1);
}

static void test_connection_close_and_keepalive(void **state)
{
    (void)state;
    const char a[] = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    struct resp *r = fresh(false);
    resp_feed(r, a, sizeof(a) - 1);
    assert_true(r->close);
    const char b[] = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n";
    r = fresh(false);
    resp_feed(r, b, sizeof(b) - 1);
    assert_false(r->close);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"HTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY\r\n"};
    for (int i = 0; i < 7; i++) {
        struct resp *r = fresh(false);
        assert_int_equal(resp_feed(r, bad[i], strlen(bad[i])), -1);
    }
    /* a header line longer than the limit */
    static char big[RESP_LINE_MAX + 64];
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(big + 20, 'a', sizeof(big) - 20);
    struct resp *r = fresh(false);
    assert_int_equal(resp_feed(r, big, sizeof(big)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length_any_split),
        cmocka_unit_test(test_chunked_with_extensions_and_trailers),
        cmocka_unit_test(test_transfer_coding_order),
        cmocka_unit_test(test_no_body_cases),
        cmocka_unit_test(test_interim_skipped),
        cmocka_unit_test(test_until_close_and_eof),
        cmocka_unit_test(test_connection_close_and_keepalive),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
