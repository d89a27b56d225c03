/* Unit tests for log/format.c: compiling formats, both phases, escaping, truncation. */
#include "common/unit.h"
#include "log/format.h"

#include <stdio.h>
#include <string.h>

static size_t render(const char *fmt, enum log_escape esc, const struct log_req_info *ri,
                     const struct log_done_info *di, char *out, size_t cap)
{
    struct log_format f;
    char err[256];
    assert_int_equal(log_format_compile(&f, "t", fmt, esc, err, sizeof(err)), 0);
    char capture[32768];
    size_t need = log_capture_bound(&f, ri);
    assert_true(need <= sizeof(capture));
    size_t n = log_render_request(&f, ri, capture, need);
    if (n == 0 || n > need) {
        fail_msg("format \"%s\": capture %zu, bound %zu", fmt, n, need);
    }
    size_t m = log_render_done(capture, n, di, out, cap);
    log_format_free(&f);
    out[m] = '\0';
    return m;
}

static struct log_req_info sample(void)
{
    struct log_req_info ri;
    memset(&ri, 0, sizeof(ri));
    ri.request_line = SLICE_LIT("GET /a?b=1 HTTP/1.1");
    ri.method = SLICE_LIT("GET");
    ri.target = SLICE_LIT("/a?b=1");
    ri.path = SLICE_LIT("/a");
    ri.query = SLICE_LIT("b=1");
    ri.has_query = true;
    ri.protocol = SLICE_LIT("HTTP/1.1");
    ri.host = SLICE_LIT("example.com");
    ri.referer = SLICE_LIT("http://r/");
    ri.user_agent = SLICE_LIT("curl/8");
    ri.status = 200;
    ri.client_addr = "192.0.2.7";
    ri.client_port = 50000;
    ri.worker = 2;
    ri.connection = 17;
    ri.conn_requests = 3;
    return ri;
}

static struct log_done_info done(void)
{
    struct log_done_info di = {1234,
                               1000,
                               4321,
                               "26/Nov/2026:01:44:04 +0000",
                               "2026-11-26T01:44:04+00:00",
                               "2026-11-26T01:44:04.123Z",
                               1795658644123ull};
    return di;
}

static void test_builtins(void **state)
{
    (void)state;
    struct log_req_info ri = sample();
    struct log_done_info di = done();
    char out[4096];
    enum log_escape esc;
    const char *text = log_format_builtin("common", &esc);
    render(text, esc, &ri, &di, out, sizeof(out));
    assert_string_equal(out, "192.0.2.7 - - [26/Nov/2026:01:44:04 +0000] \"GET /a?b=1 HTTP/1.1\" "
                             "200 1000\n");
    text = log_format_builtin("combined", &esc);
    render(text, esc, &ri, &di, out, sizeof(out));
    assert_string_equal(out, "192.0.2.7 - - [26/Nov/2026:01:44:04 +0000] \"GET /a?b=1 HTTP/1.1\" "
                             "200 1000 \"http://r/\" \"curl/8\"\n");
    text = log_format_builtin("json", &esc);
    render(text, esc, &ri, &di, out, sizeof(out));
    assert_non_null(strstr(out, "\"status\":200,"));
    assert_non_null(strstr(out, "\"remote_port\":50000,"));
    assert_non_null(strstr(out, "\"request_time_us\":4321,"));
    assert_non_null(strstr(out, "\"time\":\"2026-11-26T01:44:04.123Z\""));
    assert_non_null(strstr(out, "\"worker\":2,\"connection\":17,\"connection_requests\":3}"));
}

/* The identity holes: the address and "-" stand until the lookups answer; then the answers,
 * escaped; $clf_host is the name only where hostname_lookups is on for the request. */
static void test_identity(void **state)
{
    (void)state;
    struct log_req_info ri = sample();
    struct log_done_info di = done();
    char out[4096];
    enum log_escape esc;
    const char *common = log_format_builtin("common", &esc);
    di.remote_host = "client.example";
    di.remote_ident = "joe";
    render(common, esc, &ri, &di, out, sizeof(out));
    assert_string_equal(out, "192.0.2.7 joe - [26/Nov/2026:01:44:04 +0000] \"GET /a?b=1 HTTP/1.1\" "
                             "200 1000\n");
    ri.host_lookups = true;
    render(common, esc, &ri, &di, out, sizeof(out));
    assert_string_equal(out, "client.example joe - [26/Nov/2026:01:44:04 +0000] \"GET /a?b=1 "
                             "HTTP/1.1\" 200 1000\n");
    di.remote_host = NULL;
    di.remote_ident = NULL;
    render(common, esc, &ri, &di, out, sizeof(out));
    assert_string_equal(out, "192.0.2.7 - - [26/Nov/2026:01:44:04 +0000] \"GET /a?b=1 HTTP/1.1\" "
                             "200 1000\n");
    di.remote_host = "h";
    di.remote_ident = "a \"b\"\n";
    render("[$remote_host|$remote_ident|$remote_addr|$ident]", LOG_ESC_DEFAULT, &ri, &di, out,
           sizeof(out));
    assert_string_equal(out, "[h|a \\x22b\\x22\\x0A|192.0.2.7|a \\x22b\\x22\\x0A]\n");
    render("{\"u\":\"$ident\"}", LOG_ESC_JSON, &ri, &di, out, sizeof(out));
    assert_string_equal(out, "{\"u\":\"a \\\"b\\\"\\n\"}\n");
}

static void test_custom_and_errors(void **state)
{
    (void)state;
    struct log_req_info ri = sample();
    struct log_done_info di = done();
    char out[4096];
    render("$request_method ${uri}|$args|$host $status $bytes_sent $request_time "
           "$msec $remote_port $ident $remote_host",
           LOG_ESC_DEFAULT, &ri, &di, out, sizeof(out));
    assert_string_equal(out,
                        "GET /a|b=1|example.com 200 1234 0.004 1795658644.123 50000 - 192.0.2.7\n");
    struct log_format f;
    char err[256];
    assert_int_equal(log_format_compile(&f, "x", "$nope", LOG_ESC_DEFAULT, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown variable \"$nope\""));
    assert_int_equal(log_format_compile(&f, "x", "a $ b", LOG_ESC_DEFAULT, err, sizeof(err)), -1);
    assert_int_equal(log_format_compile(&f, "x", "${uri", LOG_ESC_DEFAULT, err, sizeof(err)), -1);
    /* empty values: "-" by default, "" in JSON */
    ri.referer = SLICE_NULL;
    render("[$http_referer]", LOG_ESC_DEFAULT, &ri, &di, out, sizeof(out));
    assert_string_equal(out, "[-]\n");
    render("[$http_referer]", LOG_ESC_JSON, &ri, &di, out, sizeof(out));
    assert_string_equal(out, "[]\n");
}

static void test_escaping(void **state)
{
    (void)state;
    struct log_req_info ri = sample();
    struct log_done_info di = done();
    char out[4096];
    ri.user_agent = SLICE_LIT("a\"b\\c\nd\x01\x7f\xc3\xa9\xff");
    render("\"$http_user_agent\"", LOG_ESC_DEFAULT, &ri, &di, out, sizeof(out));
    assert_string_equal(out, "\"a\\x22b\\x5Cc\\x0Ad\\x01\\x7F\\xC3\\xA9\\xFF\"\n");
    render("\"$http_user_agent\"", LOG_ESC_JSON, &ri, &di, out, sizeof(out));
    /* valid UTF-8 (é) passes, the lone 0xff becomes \u00FF: always valid JSON */
    assert_string_equal(out, "\"a\\\"b\\\\c\\nd\\u0001\\u007F\xc3\xa9\\u00FF\"\n");
    /* overlong and surrogate encodings are not valid UTF-8 */
    ri.user_agent = SLICE_LIT("\xc0\xaf\xed\xa0\x80");
    render("$http_user_agent", LOG_ESC_JSON, &ri, &di, out, sizeof(out));
    assert_string_equal(out, "\\u00C0\\u00AF\\u00ED\\u00A0\\u0080\n");
}

static void test_truncation(void **state)
{
    (void)state;
    struct log_req_info ri = sample();
    struct log_done_info di = done();
    static char big[20000];
    memset(big, 'x', sizeof(big));
    ri.request_line = slice_make(big, sizeof(big));
    ri.user_agent = slice_make(big, sizeof(big));
    char out[32768];
    size_t n =
        render("\"$request\" \"$http_user_agent\"", LOG_ESC_DEFAULT, &ri, &di, out, sizeof(out));
    assert_true(n < 4096);
    assert_non_null(strstr(out, "x...\" \"x"));
    assert_int_equal(out[n - 1], '\n');
    assert_null(memchr(out, '\n', n - 1));
}

static void test_http_header_var(void **state)
{
    (void)state;
    struct log_format f;
    char err[256];
    assert_int_equal(
        log_format_compile(&f, "x", "$http_x_forwarded_for", LOG_ESC_DEFAULT, err, sizeof(err)), 0);
    assert_false(f.needs_addr);
    log_format_free(&f);
    assert_int_equal(log_format_compile(&f, "x", "$remote_addr", LOG_ESC_DEFAULT, err, sizeof(err)),
                     0);
    assert_true(f.needs_addr);
    log_format_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins),        cmocka_unit_test(test_custom_and_errors),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_escaping),        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_http_header_var),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
