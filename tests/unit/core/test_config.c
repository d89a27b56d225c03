/* Unit tests for core/config.c: syntax, every value type, errors with file:line. */
#include "common/unit.h"
#include "core/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_full(void **state)
{
    (void)state;
    struct cfg c;
    cfg_init_defaults(&c);
    char err[CFG_ERR_MAX];
    const char *text = "# comment\n"
                       "workers 3;\n"
                       "keepalive_timeout 5s;   client_header_timeout 500ms;\n"
                       "header_max 16k; request_line_max 4k; headers_count_max 50;\n"
                       "client_max_body_size 2m;\n"
                       "open_file_cache off;\n"
                       "open_file_cache_valid 2s;\n"
                       "server {\n"
                       "    listen 127.0.0.1:8081 default_server;\n"
                       "    listen [::1]:8081;\n"
                       "    server_name Example.COM *.example.com;\n"
                       "    root \"/tmp\";\n"
                       "    index index.htm 'home page.html';\n"
                       "    location /static/ { expires 1h; add_header X-A \"b c\"; }\n"
                       "}\n"
                       "server { listen 8082; root /; }\n";
    int rc = cfg_load_string(&c, "t.conf", text, err, sizeof(err));
    if (rc != 0) {
        fail_msg("%s", err);
    }
    assert_int_equal(c.workers, 3);
    assert_int_equal(c.keepalive_timeout_ms, 5000);
    assert_int_equal(c.header_timeout_ms, 500);
    assert_int_equal(c.limits.max_head, 16384);
    assert_int_equal(c.limits.max_request_line, 4096);
    assert_int_equal(c.limits.max_headers, 50);
    assert_int_equal(c.max_body, 2 << 20);
    assert_false(c.file_cache.enabled);
    assert_int_equal(c.file_cache.valid_ms, 2000);
    assert_int_equal(c.nservers, 2);
    struct cfg_server *s = &c.servers[0];
    assert_int_equal(s->nlistens, 2);
    assert_true(s->listens[0].default_server);
    assert_string_equal(s->listens[0].text, "127.0.0.1:8081");
    assert_string_equal(s->listens[1].text, "[::1]:8081");
    assert_int_equal(s->nnames, 2);
    assert_string_equal(s->names[0], "example.com");
    assert_string_equal(s->root, "/tmp");
    assert_int_equal(s->nindex, 2);
    assert_string_equal(s->index[1], "home page.html");
    assert_int_equal(s->nlocs, 1);
    assert_string_equal(s->locs[0].prefix, "/static/");
    assert_int_equal(s->locs[0].expires_s, 3600);
    assert_string_equal(s->locs[0].extra_headers, "X-A: b c\r\n");
    assert_string_equal(c.servers[1].listens[0].text, "0.0.0.0:8082");
    assert_int_equal(cfg_finalize(&c, err, sizeof(err)), 0);
    assert_true(c.servers[0].froot.fd >= 0);
    assert_string_equal(c.servers[1].index[0], "index.html");
    cfg_free(&c);
}

struct bad {
    const char *text;
    const char *msg; /* substring of the error */
};

static const struct bad bad[] = {
    {"rot /x;", "t.conf:1: unknown directive \"rot\""},
    {"\n\nworkers;", "t.conf:3: invalid number of arguments in \"workers\""},
    {"workers 0;", "t.conf:1: \"workers\" must be"},
    {"workers lots;", "t.conf:1: \"workers\" must be"},
    {"keepalive_timeout 5x;", "t.conf:1: \"keepalive_timeout\" must be a time"},
    {"header_max 1q;", "t.conf:1: \"header_max\" must be a size"},
    {"header_max 10;", "t.conf:1: \"header_max\" must be a size between 256"},
    {"server {\n root /tmp;\n", "unexpected end of file, expecting \"}\""},
    {"}", "t.conf:1: unexpected \"}\""},
    {"workers 1", "unexpected end of file"},
    {"root /tmp;", "t.conf:1: \"root\" directive is not allowed in the main context"},
    {"server { listen 1.2.3.4:99999; }", "t.conf:1: invalid port"},
    {"server { listen nohost:80; }", "t.conf:1: invalid listen address"},
    {"server { listen 80 fast; }", "unknown listen parameter"},
    {"server { root /a; root /b; }", "\"root\" is duplicate"},
    {"server { location x { } }", "must start with '/'"},
    {"server { location /a { } location /a { } }", "duplicate location"},
    {"server { index a/b; }", "must not contain '/'"},
    {"server;", "\"server\" needs a { } block"},
    {"workers 1 { }", "\"workers\" takes no block"},
    {"open_file_cache maybe;", "takes \"on\" or \"off\""},
    {"server { location / { add_header \"X Y\" z; } }", "invalid header name"},
    {"s\"x", "unterminated quoted string"},
    {"error_log /tmp/x loud;", "unknown error_log level"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cfg c;
        cfg_init_defaults(&c);
        char err[CFG_ERR_MAX] = "";
        int rc = cfg_load_string(&c, "t.conf", bad[i].text, err, sizeof(err));
        if (rc == 0 || !strstr(err, bad[i].msg)) {
            fail_msg("case %zu (%s): rc=%d err=\"%s\", want \"%s\"", i, bad[i].text, rc, err,
                     bad[i].msg);
        }
        cfg_free(&c);
    }
}

static void test_finalize_errors(void **state)
{
    (void)state;
    struct cfg c;
    char err[CFG_ERR_MAX];
    cfg_init_defaults(&c);
    assert_int_equal(cfg_load_string(&c, "t.conf", "server {\n listen 1;\n}\n", err, sizeof(err)),
                     0);
    assert_int_equal(cfg_finalize(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "t.conf:1: server has no \"root\""));
    cfg_free(&c);

    cfg_init_defaults(&c);
    assert_int_equal(
        cfg_load_string(&c, "t.conf", "\nserver { root /nonexistent/dir; }", err, sizeof(err)), 0);
    assert_int_equal(cfg_finalize(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "t.conf:2: document root \"/nonexistent/dir\" is not usable"));
    cfg_free(&c);

    cfg_init_defaults(&c);
    assert_int_equal(cfg_finalize(&c, err, sizeof(err)), -1);
    cfg_free(&c);
}

static void test_overrides(void **state)
{
    (void)state;
    struct cfg c;
    char err[CFG_ERR_MAX];
    cfg_init_defaults(&c);
    struct cfg_overrides o = {0};
    o.root = "/tmp";
    o.listen[0] = "127.0.0.1:0";
    o.nlisten = 1;
    o.workers = 2;
    assert_int_equal(cfg_apply_overrides(&c, &o, err, sizeof(err)), 0);
    assert_int_equal(cfg_finalize(&c, err, sizeof(err)), 0);
    assert_int_equal(c.nservers, 1);
    assert_int_equal(c.workers, 2);
    assert_string_equal(c.servers[0].listens[0].text, "127.0.0.1:0");
    cfg_free(&c);

    cfg_init_defaults(&c);
    o.listen[0] = "nope";
    assert_int_equal(cfg_apply_overrides(&c, &o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--listen"));
    cfg_free(&c);
}

static void test_values(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(cfg_parse_size("64k", &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(cfg_parse_size("1G", &v), 0);
    assert_int_equal(v, 1ull << 30);
    assert_int_equal(cfg_parse_size("12", &v), 0);
    assert_int_equal(cfg_parse_size("k", &v), -1);
    assert_int_equal(cfg_parse_size("-1", &v), -1);
    assert_int_equal(cfg_parse_time_ms("250ms", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(cfg_parse_time_ms("2m", &v), 0);
    assert_int_equal(v, 120000);
    assert_int_equal(cfg_parse_time_ms("7", &v), 0);
    assert_int_equal(v, 7000);
    assert_int_equal(cfg_parse_time_ms("1y", &v), -1);
}

static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/spate-cfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "server {\n  root /tmp;\n  bogus 1;\n}\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    close(fd);
    struct cfg c;
    char err[CFG_ERR_MAX];
    cfg_init_defaults(&c);
    assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), -1);
    char want[128];
    snprintf(want, sizeof(want), "%s:3: unknown directive \"bogus\"", path);
    assert_string_equal(err, want);
    cfg_free(&c);
    unlink(path);
    cfg_init_defaults(&c);
    assert_int_equal(cfg_load_file(&c, "/nonexistent.conf", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot open configuration file"));
    cfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_finalize_errors),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
