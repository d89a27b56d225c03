/* Unit tests for core/conf: syntax, the modules' rows, inheritance, errors with file:line. */
#include "common/unit.h"
#include "core/app/modules.h"
#include "core/app/settings.h"
#include "core/conf/conf.h"
#include "core/conf/print.h"
#include "core/http/headers.h"
#include "core/http/route.h"
#include "core/http/settings.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int load(struct conf *c, const char *text, char *err, size_t errlen)
{
    assert_int_equal(conf_init(c, spate_modules, spate_nmodules), 0);
    return conf_load_string(c, "t.conf", text, err, errlen);
}

static const struct headers_conf *hdrs(const struct conf *c, const struct conf_block *b)
{
    return conf_get(b, (unsigned)conf_slot(c, &headers_module), CONF_STORE_LOC);
}

static void test_full(void **state)
{
    (void)state;
    struct conf c;
    char err[CONF_ERR_MAX];
    const char *text = "# comment\n"
                       "workers 3;\n"
                       "keepalive_timeout 5s;   client_header_timeout 500ms;\n"
                       "header_max 16k; request_line_max 4k; headers_count_max 50;\n"
                       "client_max_body_size 2m;\n"
                       "open_file_cache off;\n"
                       "open_file_cache_valid 2s;\n"
                       "expires 1m;\n"
                       "server {\n"
                       "    listen 127.0.0.1:8081 default_server;\n"
                       "    listen [::1]:8081;\n"
                       "    server_name Example.COM *.example.com;\n"
                       "    root \"/tmp\";\n"
                       "    index index.htm 'home page.html';\n"
                       "    location /static/ { expires 1h; add_header X-A \"b c\"; }\n"
                       "}\n"
                       "server { listen 8082; root /; }\n";
    if (load(&c, text, err, sizeof(err)) != 0 || conf_finish(&c, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_int_equal(process_settings(&c)->workers, 3);
    const struct http_settings *s = http_settings(&c);
    assert_int_equal(s->keepalive_timeout_ms, 5000);
    assert_int_equal(s->header_timeout_ms, 500);
    assert_int_equal(s->limits.max_head, 16384);
    assert_int_equal(s->limits.max_request_line, 4096);
    assert_int_equal(s->limits.max_headers, 50);
    assert_int_equal(s->max_body, 2 << 20);
    assert_false(s->file_cache.enabled);
    assert_int_equal(s->file_cache.valid_ms, 2000);
    assert_int_equal(s->send_timeout_ms, 60000); /* a default */
    const struct route_table *t = route_table(&c);
    assert_int_equal(t->nservers, 2);
    assert_int_equal(t->ngroups, 3);
    const struct route_server *s0 = &t->servers[0];
    assert_int_equal(s0->nnames, 2);
    assert_string_equal(s0->names[0], "example.com");
    assert_int_equal(s0->nlocs, 1);
    assert_string_equal(s0->locs[0].prefix, "/static/");
    assert_string_equal(t->groups[0].addr.text, "127.0.0.1:8081");
    assert_ptr_equal(t->groups[0].def, s0);
    assert_string_equal(t->groups[1].addr.text, "[::1]:8081");
    assert_string_equal(t->groups[2].addr.text, "0.0.0.0:8082");
    /* inheritance: main -> server -> location, a location's own value wins */
    const struct headers_conf *h = hdrs(&c, s0->locs[0].block);
    assert_true(h->expires.on);
    assert_int_equal(h->expires.seconds, 3600);
    assert_int_equal(h->add.n, 1);
    assert_string_equal(h->add.v[0].value, "b c");
    assert_int_equal(hdrs(&c, s0->block)->expires.seconds, 60);
    assert_int_equal(hdrs(&c, t->servers[1].block)->add.n, 0);
    conf_free(&c);
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
    {"listen 80;", "t.conf:1: \"listen\" directive is not allowed in the main context"},
    {"server { location / { listen 80; } }", "not allowed in the location context"},
    {"server { listen 1.2.3.4:99999; }", "t.conf:1: invalid port"},
    {"server { listen nohost:80; }", "t.conf:1: invalid listen address"},
    {"server { listen 80 fast; }", "unknown listen parameter"},
    {"server { root /a; root /b; }", "\"root\" directive is duplicate"},
    {"workers 1;\nworkers 2;", "t.conf:2: \"workers\" directive is duplicate (first at line 1)"},
    {"server { location x { } }", "must start with '/'"},
    {"server { location /a { } location /a { } }", "duplicate location"},
    {"server { index a/b; }", "must not contain '/'"},
    {"server;", "\"server\" needs a { } block"},
    {"workers 1 { }", "\"workers\" takes no block"},
    {"open_file_cache maybe;", "takes \"on\" or \"off\""},
    {"server { location / { add_header \"X Y\" z; } }", "invalid header name"},
    {"add_header Content-Length 5;", "the server sets this field itself"},
    {"add_header X y sometimes;", "\"always\""},
    {"expires soon;", "invalid expires time"},
    {"s \"x", "unterminated quoted string"},
    {"error_log /tmp/x loud;", "unknown error_log level"},
    {"log_format common '$status';", "built in and cannot be redefined"},
    {"log_format a '$status';\nlog_format a '$status';", "t.conf:2: duplicate log_format"},
    {"log_format a escape=xml '$status';", "escape=default, escape=json or escape=none"},
    {"server { location / { } }\nlocation / { }",
     "t.conf:2: \"location\" directive is not allowed"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct conf c;
        char err[CONF_ERR_MAX] = "";
        int rc = load(&c, bad[i].text, err, sizeof(err));
        if (rc == 0 || !strstr(err, bad[i].msg)) {
            fail_msg("case %zu (%s): rc=%d err=\"%s\", want \"%s\"", i, bad[i].text, rc, err,
                     bad[i].msg);
        }
        conf_free(&c);
    }
}

/* What only the whole configuration can tell, found by finish (-t runs it like a start). */
static const struct bad bad_finish[] = {
    {"server {\n listen 1;\n}\n", "t.conf:1: server has no \"root\""},
    {"\nserver { root /nonexistent/dir; }", "t.conf:2: document root \"/nonexistent/dir\" is"},
    {"", "no server { } block"},
    {"request_line_max 64k;", "request_line_max (65536) is larger than header_max (32768)"},
    {"server { root /tmp; listen 127.0.0.1:1 default_server; }\n"
     "server { root /tmp;\n listen 127.0.0.1:1 default_server; }",
     "t.conf:3: a duplicate default server for 127.0.0.1:1 (the first is at t.conf:1)"},
    {"server { root /tmp;\n access_log /tmp/spate-t.log fancy; }",
     "t.conf:2: unknown log format \"fancy\""},
    {"log_format x '$nosuchvar';\nserver { root /tmp; }", "t.conf:1:"},
    {"server { root /tmp; access_log /nonexistent/dir/a.log; }",
     "t.conf:1: cannot open access log \"/nonexistent/dir/a.log\""},
    {"error_log /nonexistent/dir/e.log;\nserver { root /tmp; }", "t.conf:1: cannot open error log"},
};

static void test_finish_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_finish) / sizeof(bad_finish[0]); i++) {
        struct conf c;
        char err[CONF_ERR_MAX] = "";
        if (load(&c, bad_finish[i].text, err, sizeof(err)) != 0) {
            fail_msg("case %zu: parse failed: %s", i, err);
        }
        int rc = conf_finish(&c, err, sizeof(err));
        if (rc == 0 || !strstr(err, bad_finish[i].msg)) {
            fail_msg("case %zu (%s): rc=%d err=\"%s\", want \"%s\"", i, bad_finish[i].text, rc, err,
                     bad_finish[i].msg);
        }
        conf_free(&c);
    }
}

static void test_overrides(void **state)
{
    (void)state;
    struct conf c;
    char err[CONF_ERR_MAX];
    assert_int_equal(load(&c, "server { root /nonexistent; listen 1.2.3.4:5; }", err, sizeof(err)),
                     0);
    struct conf_block *s = c.main->children;
    const char *root[] = {"/tmp"}, *l1[] = {"127.0.0.1:0"}, *l2[] = {"127.0.0.2:0"}, *w[] = {"2"};
    assert_int_equal(conf_set(&c, s, "--root", "root", root, 1, err, sizeof(err)), 0);
    assert_int_equal(conf_set(&c, s, "--listen", "listen", l1, 1, err, sizeof(err)), 0);
    assert_int_equal(conf_set(&c, s, "--listen", "listen", l2, 1, err, sizeof(err)), 0);
    assert_int_equal(conf_set(&c, c.main, "--workers", "workers", w, 1, err, sizeof(err)), 0);
    if (conf_finish(&c, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_int_equal(process_settings(&c)->workers, 2);
    const struct route_table *t = route_table(&c);
    assert_int_equal(t->ngroups, 2); /* the file's listen was replaced, the flags added up */
    assert_string_equal(t->groups[0].addr.text, "127.0.0.1:0");
    assert_string_equal(t->groups[1].addr.text, "127.0.0.2:0");
    conf_free(&c);

    assert_int_equal(load(&c, "", err, sizeof(err)), 0);
    assert_non_null(conf_add_server(&c));
    const char *badl[] = {"nope"};
    assert_int_equal(
        conf_set(&c, c.main->children, "--listen", "listen", badl, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--listen: invalid"));
    conf_free(&c);
}

static void test_values(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(conf_parse_size("64k", &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(conf_parse_size("1G", &v), 0);
    assert_int_equal(v, 1ull << 30);
    assert_int_equal(conf_parse_size("12", &v), 0);
    assert_int_equal(conf_parse_size("k", &v), -1);
    assert_int_equal(conf_parse_size("-1", &v), -1);
    assert_int_equal(conf_parse_time_ms("250ms", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(conf_parse_time_ms("2m", &v), 0);
    assert_int_equal(v, 120000);
    assert_int_equal(conf_parse_time_ms("7", &v), 0);
    assert_int_equal(v, 7000);
    assert_int_equal(conf_parse_time_ms("1y", &v), -1);
}

static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/spate-cfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "server {\n  root www;\n  bogus 1;\n}\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    close(fd);
    struct conf c;
    char err[CONF_ERR_MAX];
    assert_int_equal(conf_init(&c, spate_modules, spate_nmodules), 0);
    assert_int_equal(conf_load_file(&c, path, err, sizeof(err)), -1);
    char want[128];
    snprintf(want, sizeof(want), "%s:3: unknown directive \"bogus\"", path);
    assert_string_equal(err, want);
    conf_free(&c);
    /* a relative path in a file is relative to the file's directory, and kept absolute */
    const char ok[] = "server {\n  root ./;\n}\n";
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, ok, sizeof(ok) - 1), (ssize_t)sizeof(ok) - 1);
    close(fd);
    assert_int_equal(conf_init(&c, spate_modules, spate_nmodules), 0);
    assert_int_equal(conf_load_file(&c, path, err, sizeof(err)), 0);
    if (conf_finish(&c, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    conf_print(&c, f);
    fclose(f);
    assert_non_null(strstr(out, "root /tmp;"));
    free(out);
    conf_free(&c);
    unlink(path);
    assert_int_equal(conf_init(&c, spate_modules, spate_nmodules), 0);
    assert_int_equal(conf_load_file(&c, "/nonexistent.conf", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot open configuration file"));
    conf_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),          cmocka_unit_test(test_errors),
        cmocka_unit_test(test_finish_errors), cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_values),        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
