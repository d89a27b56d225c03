/*
 * Unit tests for the HTTP/2 request builder (core/http/h2_build.c): pseudo-headers into the
 * request line, :authority and Host, cookies joined, content-length, and the RFC 9113 8.2/8.3
 * refusals (connection-specific fields, uppercase names, TE, missing or repeated
 * pseudo-headers, pseudo-headers after fields), and the header list limit (431).
 */
#include "common/unit.h"
#include "core/base/hash.h"
#include "core/http/h2_build.h"

#include <cmocka.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static struct arena_pool pool;
static struct arena arena;
static struct http_request msg;
static struct h2_build b;
static const struct http_limits lim = {8192, 4096, 20};

struct kv {
    const char *n, *v;
};

#define S(x) slice_cstr(x)

static int add_all(const struct kv *f, size_t n)
{
    int err = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = h2_build_field(&b, S(f[i].n), S(f[i].v));
        if (rc && !err) {
            err = rc;
        }
    }
    return err;
}

static int build(const struct kv *f, size_t n, bool end_stream)
{
    arena_reset(&arena);
    assert_int_equal(h2_build_init(&b, &arena, &lim, &msg), 0);
    int rc = add_all(f, n);
    int fin = h2_build_finish(&b, end_stream);
    return rc ? rc : fin;
}

#define BUILD(arr, end) build(arr, sizeof(arr) / sizeof(arr[0]), end)

static void eq(struct slice s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

static void test_get(void **state)
{
    (void)state;
    static const struct kv f[] = {{":method", "GET"},       {":scheme", "https"},
                                  {":authority", "ex.com"}, {":path", "/a/b?x=1&y"},
                                  {"user-agent", "t/1"},    {"cookie", "a=1"},
                                  {"accept", "*/*"},        {"cookie", "b=2"}};
    assert_int_equal(BUILD(f, true), 0);
    assert_int_equal(msg.method, HTTP_GET);
    eq(msg.request_line, "GET /a/b?x=1&y HTTP/2.0");
    eq(msg.method_token, "GET");
    eq(msg.target, "/a/b?x=1&y");
    eq(msg.path, "/a/b");
    assert_true(msg.has_query);
    eq(msg.query, "x=1&y");
    eq(msg.host, "ex.com");
    assert_int_equal(msg.body, HTTP_BODY_NONE);
    assert_int_equal(msg.version_minor, 1);
    const struct http_header *c = hdr_get(&msg.headers, SLICE_LIT("Cookie"));
    assert_non_null(c);
    eq(c->value, "a=1; b=2"); /* RFC 9113 8.2.3 */
    assert_null(hdr_next_dup(&msg.headers, c));
    const struct http_header *hf = hdr_get_known(&msg.headers, HDR_HOST);
    assert_non_null(hf); /* made from :authority */
    eq(hf->value, "ex.com");
    const struct http_header *ua = hdr_get_known(&msg.headers, HDR_USER_AGENT);
    assert_non_null(ua);
    eq(ua->value, "t/1");
}

static void test_host_and_bodies(void **state)
{
    (void)state;
    static const struct kv host[] = {
        {":method", "POST"}, {":scheme", "http"}, {":path", "/p"}, {"host", "h.example"}};
    assert_int_equal(BUILD(host, false), 0);
    eq(msg.host, "h.example");
    assert_int_equal(msg.body, HTTP_BODY_CHUNKED); /* a body of unknown length follows */
    static const struct kv len[] = {
        {":method", "PUT"}, {":scheme", "http"}, {":path", "/p"}, {"content-length", "42"}};
    assert_int_equal(BUILD(len, false), 0);
    assert_int_equal(msg.body, HTTP_BODY_LENGTH);
    assert_int_equal(msg.content_length, 42);
    assert_int_equal(BUILD(len, true), -400); /* END_STREAM with a length of 42 */
    static const struct kv two[] = {{":method", "PUT"},
                                    {":scheme", "http"},
                                    {":path", "/p"},
                                    {"content-length", "4"},
                                    {"content-length", "5"}};
    assert_int_equal(BUILD(two, false), -400);
    static const struct kv star[] = {{":method", "OPTIONS"}, {":scheme", "http"}, {":path", "*"}};
    assert_int_equal(BUILD(star, true), 0);
    assert_int_equal(msg.form, HTTP_TARGET_ASTERISK);
}

static void test_malformed(void **state)
{
    (void)state;
    static const struct kv conn[] = {
        {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"connection", "close"}};
    assert_int_equal(BUILD(conn, true), -400);
    static const struct kv te[] = {
        {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"te", "gzip"}};
    assert_int_equal(BUILD(te, true), -400);
    static const struct kv te_ok[] = {
        {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"te", "trailers"}};
    assert_int_equal(BUILD(te_ok, true), 0);
    static const struct kv upper[] = {
        {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"X-Up", "1"}};
    assert_int_equal(BUILD(upper, true), -400);
    static const struct kv nopath[] = {{":method", "GET"}, {":scheme", "http"}};
    assert_int_equal(BUILD(nopath, true), -400);
    static const struct kv twice[] = {
        {":method", "GET"}, {":method", "GET"}, {":scheme", "http"}, {":path", "/"}};
    assert_int_equal(BUILD(twice, true), -400);
    static const struct kv late[] = {
        {":method", "GET"}, {":scheme", "http"}, {"accept", "*/*"}, {":path", "/"}};
    assert_int_equal(BUILD(late, true), -400);
    static const struct kv unknown[] = {
        {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":status", "200"}};
    assert_int_equal(BUILD(unknown, true), -400);
    static const struct kv relative[] = {{":method", "GET"}, {":scheme", "http"}, {":path", "a"}};
    assert_int_equal(BUILD(relative, true), -400);
    static const struct kv connect[] = {{":method", "CONNECT"}, {":authority", "x:1"}};
    assert_int_equal(BUILD(connect, true), -400);
    static const struct kv crlf[] = {
        {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"x-a", "a\r\nb"}};
    assert_int_equal(BUILD(crlf, true), -400);
}

static void test_limits(void **state)
{
    (void)state;
    arena_reset(&arena);
    assert_int_equal(h2_build_init(&b, &arena, &lim, &msg), 0);
    assert_int_equal(h2_build_field(&b, S(":method"), S("GET")), 0);
    assert_int_equal(h2_build_field(&b, S(":scheme"), S("http")), 0);
    assert_int_equal(h2_build_field(&b, S(":path"), S("/")), 0);
    char big[1200];
    memset(big, 'v', sizeof(big));
    int rc = 0;
    for (int i = 0; i < 100000 && rc == 0; i++) {
        rc = h2_build_field(&b, S("x-a"), slice_make(big, sizeof(big)));
    }
    assert_int_equal(rc, -431); /* over header_max, counted as HPACK does */
    size_t used = b.msg->headers.count;
    for (int i = 0; i < 100000; i++) { /* an HPACK bomb: counted, never stored */
        assert_int_equal(h2_build_field(&b, S("x-a"), slice_make(big, sizeof(big))), -431);
    }
    assert_int_equal(b.msg->headers.count, used);
    assert_int_equal(h2_build_finish(&b, true), -431);
    static const struct kv many[] = {
        {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"a", "1"}, {"b", "1"}, {"c", "1"},
        {"d", "1"},         {"e", "1"},          {"f", "1"},     {"g", "1"}, {"h", "1"}, {"i", "1"},
        {"j", "1"},         {"k", "1"},          {"l", "1"},     {"m", "1"}, {"n", "1"}, {"o", "1"},
        {"p", "1"},         {"q", "1"},          {"r", "1"}};
    assert_int_equal(BUILD(many, true), -431); /* over headers_count_max (20 here) */
}

int main(void)
{
    hash_init();
    hdr_known_init();
    arena_pool_init(&pool, 4096, 8);
    arena_init(&arena, &pool, 1u << 20);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_host_and_bodies),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    arena_release(&arena);
    arena_pool_destroy(&pool);
    return rc;
}
