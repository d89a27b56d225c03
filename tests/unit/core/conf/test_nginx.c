/*
 * Pasted nginx configurations (core/conf): `http { }`, `events { }`, worker_processes,
 * `include` with globs, cycles and depth, and nginx directives spate does not have (accepted
 * with a notice, or refused in one line that says what instead). Over a test-only module
 * with a few rows named as spate's, so that only the engine is under test.
 */
#include "common/unit.h"
#include "core/conf/conf.h"
#include "core/conf/types.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct n_main {
    uint32_t workers, max_connections;
    bool sendfile;
};

struct n_loc {
    char *root;
    struct conf_words index;
    char *ret;
};

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)

static const struct conf_row n_rows[] = {
    {"workers", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_u32, offsetof(struct n_main, workers),
     NULL, 1, 1024, "2", NULL},
    {"max_connections", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_u32,
     offsetof(struct n_main, max_connections), NULL, 1, 1u << 22, "9", NULL},
    {"sendfile", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_flag, offsetof(struct n_main, sendfile),
     NULL, 0, 0, "off", NULL},
    {"root", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_str, offsetof(struct n_loc, root), NULL, 0, 0, "/",
     NULL},
    {"index", ALL, CONF_STORE_LOC, 1, 8, CONF_MULTI, &conf_words, offsetof(struct n_loc, index),
     NULL, 0, 0, "i", NULL},
    /* a name the nginx table refuses: a module's row must win over it */
    {"return", CONF_LOCATION, CONF_STORE_LOC, 1, 1, 0, &conf_str, offsetof(struct n_loc, ret), NULL,
     0, 0, "x", NULL},
};

static const struct conf_module n_module = {
    .name = "n",
    .rows = n_rows,
    .nrows = ARRAY_SIZE(n_rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct n_main), [CONF_STORE_LOC] = sizeof(struct n_loc)},
};

static const struct conf_module *const modules[] = {&n_module};

static int load(struct conf *c, const char *text, char *err, size_t errlen)
{
    assert_int_equal(conf_init(c, modules, ARRAY_SIZE(modules)), 0);
    return conf_load_string(c, "t.conf", text, err, errlen);
}

static void load_ok(struct conf *c, const char *text)
{
    char err[CONF_ERR_MAX];
    if (load(c, text, err, sizeof(err)) != 0 || conf_finish(c, err, sizeof(err)) != 0) {
        fail_msg("%s\n--- in\n%s", err, text);
    }
}

static const struct n_main *nmain(const struct conf *c)
{
    return conf_main(c, 0);
}

static const struct n_loc *nloc(const struct conf_block *b)
{
    return conf_get(b, 0, CONF_STORE_LOC);
}

struct bad {
    const char *text;
    const char *msg; /* a substring of the error */
};

static void expect_errors(const struct bad *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct conf c;
        char err[CONF_ERR_MAX] = "";
        int rc = load(&c, cases[i].text, err, sizeof(err));
        if (rc == 0 || !strstr(err, cases[i].msg) || strchr(err, '\n')) {
            fail_msg("case %zu (%s): rc=%d err=\"%s\", want \"%s\"", i, cases[i].text, rc, err,
                     cases[i].msg);
        }
        conf_free(&c);
    }
}

/* ---------------------------------------------------------------- http, events, aliases */

static void test_http_events(void **state)
{
    (void)state;
    struct conf c;
    load_ok(&c, "worker_processes 3;\n"
                "events {\n"
                "    worker_connections 768;\n"
                "    multi_accept on;\n"
                "    use epoll;\n"
                "    accept_mutex off; accept_mutex_delay 100ms;\n"
                "}\n"
                "http {\n"
                "    sendfile on;\n"
                "    index a.html;\n"
                "    server { root /srv/a; }\n"
                "}\n"
                "server { root /srv/b; }\n");
    assert_int_equal(nmain(&c)->workers, 3);
    assert_int_equal(nmain(&c)->max_connections, 768);
    assert_true(nmain(&c)->sendfile);
    assert_int_equal(c.main->nchildren, 2); /* servers in and outside http alike */
    const struct conf_block *s1 = c.main->children;
    assert_string_equal(nloc(s1)->root, "/srv/a");
    assert_string_equal(nloc(s1->next)->root, "/srv/b");
    assert_string_equal(nloc(s1->next)->index.v[0], "a.html"); /* http's is main's */
    assert_int_equal(c.nnotices, 4);
    assert_string_equal(c.notices[0], "t.conf:4: \"multi_accept\" has no effect: spate runs one "
                                      "thread per core, accepting through io_uring; ignored");
    assert_non_null(strstr(c.notices[3], "t.conf:6: \"accept_mutex_delay\""));
    conf_free(&c);
}

static const struct bad http_errors[] = {
    {"http { }\nhttp { }", "t.conf:2: \"http\" directive is duplicate (first at t.conf:1)"},
    {"http { http { } }", "\"http\" directive is not allowed in the http context"},
    {"server { http { } }", "\"http\" directive is not allowed in the server context"},
    {"http x { }", "invalid number of arguments in \"http\" directive"},
    {"http;", "\"http\" needs a { } block"},
    {"http { location / { } }", "\"location\" directive is not allowed in the http context"},
    {"http { server { }", "unexpected end of file, expecting \"}\""},
    {"events { }\nevents { }", "t.conf:2: \"events\" directive is duplicate"},
    {"http { events { } }", "\"events\" directive is not allowed in the http context"},
    {"events {\n bogus 1;\n}", "t.conf:2: unknown directive \"bogus\" in the events block"},
    {"events { server { } }", "unknown directive \"server\" in the events block"},
    {"events { worker_connections lots; }", "\"worker_connections\" must be a number"},
    {"events { worker_connections 0; }", "\"worker_connections\" must be a number between 1"},
    {"events { worker_connections 1; }\nmax_connections 2;",
     "t.conf:2: \"max_connections\" directive is duplicate (first at line 1)"},
    {"events { multi_accept on { } }", "\"multi_accept\" takes no block"},
    {"events { debug_connection 1.2.3.4; }", "\"debug_connection\" is not supported"},
    {"worker_connections 5;", "t.conf:1: \"worker_connections\" is allowed in events { } only"},
    {"worker_processes lots;", "\"worker_processes\" must be a number"},
    {"workers 2;\nworker_processes 3;",
     "t.conf:2: \"worker_processes\" directive is duplicate (first at line 1)"},
    {"server { worker_processes 3; }",
     "\"worker_processes\" directive is not allowed in the server context"},
};

static void test_http_errors(void **state)
{
    (void)state;
    expect_errors(http_errors, ARRAY_SIZE(http_errors));
}

/* ---------------------------------------------------------------- nginx's other directives */

static void test_noops(void **state)
{
    (void)state;
    struct conf c;
    load_ok(&c, "\n"
                "daemon off;\n"
                "http {\n"
                "    tcp_nopush on;\n"
                "    tcp_nodelay on;\n"
                "    types_hash_max_size 2048;\n"
                "    server_names_hash_bucket_size 64;\n"
                "    server_tokens off;\n"
                "    server { tcp_nopush on; location / { tcp_nodelay off; return ok; } }\n"
                "}\n");
    assert_int_equal(c.nnotices, 8);
    assert_string_equal(c.notices[0],
                        "t.conf:2: \"daemon\" has no effect: spate always runs in the "
                        "foreground; ignored");
    assert_non_null(strstr(c.notices[1], "t.conf:4: \"tcp_nopush\" has no effect: "));
    assert_non_null(strstr(c.notices[7], "t.conf:9: \"tcp_nodelay\""));
    /* the module's row won over the table's refusal */
    assert_string_equal(nloc(c.main->children->children)->ret, "ok");
    conf_free(&c);
    /* `user` is a row of core/app/privilege.c now (tests/integration/test_privilege.py) */
}

/* ssi and its like are the SSI module's rows (test_roundtrip has them); nginx's
 * ssi_min_file_chunk is accepted with no effect. */
static void test_ssi_noop(void **state)
{
    (void)state;
    struct conf c;
    load_ok(&c, "http {\n"
                "    ssi_min_file_chunk 1k;\n"
                "    server { location / { return ok; } }\n"
                "}\n");
    assert_int_equal(c.nnotices, 1);
    assert_non_null(strstr(c.notices[0], "t.conf:2: \"ssi_min_file_chunk\" has no effect: "));
    conf_free(&c);
}

/* Each is refused in one line that names file:line and the directive, never "unknown". */
static const char *const refused[] = {
    "gzip on;",
    "gzip_types text/css;",
    "ssl_certificate /x.pem;",
    "ssl on;",
    "ssl_protocols TLSv1.2 TLSv1.3;",
    "http2 on;",
    "proxy_cache one;", /* proxy_pass and its like are the proxy module's rows */
    "proxy_cache_path /tmp/c keys_zone=one:10m;",
    "fastcgi_cache php;", /* fastcgi_pass and its like are the fastcgi module's rows */
    "uwsgi_pass 127.0.0.1:3031;",
    "scgi_pass 127.0.0.1:4000;",
    "source_charset koi8-r;",
    "override_charset on;",
    "load_module modules/x.so;",
    "worker_rlimit_nofile 65535;",
    "worker_cpu_affinity auto;",
    "master_process on;",
    "daemon on;",
    "if ($request_method = POST) { return 405; }",
    "map $uri $x { default 1; }",
    "large_client_header_buffers 4 8k;",
};

static void test_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
        for (int in_server = 0; in_server < 2; in_server++) {
            char text[256], want[128];
            snprintf(text, sizeof(text), "%s\n%s\n%s", in_server ? "server {" : "http {",
                     refused[i], "}");
            size_t n = strcspn(refused[i], " ;");
            snprintf(want, sizeof(want), "t.conf:2: \"%.*s", (int)n, refused[i]);
            struct conf c;
            char err[CONF_ERR_MAX] = "";
            int rc = load(&c, text, err, sizeof(err));
            if (rc == 0 || strncmp(err, want, strlen(want)) != 0 || strchr(err, '\n') ||
                strstr(err, "unknown") ||
                (!strstr(err, "not supported") && !strstr(err, ": use "))) {
                fail_msg("\"%s\": rc=%d err=\"%s\"", refused[i], rc, err);
            }
            conf_free(&c);
        }
    }
    static const struct bad other[] = {
        {"bogus 1;", "t.conf:1: unknown directive \"bogus\""},
        {"tcp_nopush on { }", "\"tcp_nopush\" takes no block"},
        {"worker_rlimit_nofile 1;", "raise that instead (ulimit -Hn"},
        {"large_client_header_buffers 4 8k;", "use header_max and request_line_max"},
    };
    expect_errors(other, ARRAY_SIZE(other));
}

/* ---------------------------------------------------------------- include */

static char dir[64];

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0755); /* one level is all the tests need */
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int load_file(struct conf *c, const char *name, char *err, size_t errlen)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(conf_init(c, modules, ARRAY_SIZE(modules)), 0);
    return conf_load_file(c, path, err, errlen);
}

static void setup_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/spate-include-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_include(void **state)
{
    (void)state;
    setup_dir();
    put("nginx.conf", "include modules-enabled/*.conf;\n" /* no match: fine */
                      "events { include events.conf; }\n"
                      "http {\n"
                      "    include conf.d/*.conf;\n"
                      "    include sites-enabled/default;\n"
                      "}\n");
    put("events.conf", "worker_connections 64;\n");
    put("conf.d/b.conf", "index b;\n");
    put("conf.d/a.conf", "index a;\n");
    put("conf.d/c.conf.off", "bogus;\n"); /* not matched by *.conf */
    /* beside the including file first; then, as nginx, beside the main file */
    put("sites-enabled/default", "server {\n"
                                 "    root /srv;\n"
                                 "    include here.conf;\n"
                                 "    include snippets/loc.conf;\n"
                                 "}\n");
    put("sites-enabled/here.conf", "index here;\n");
    put("snippets/loc.conf", "location /x { index x; }\n");
    struct conf c;
    char err[CONF_ERR_MAX];
    if (load_file(&c, "nginx.conf", err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_int_equal(nmain(&c)->max_connections, 64);
    const struct n_loc *m = nloc(c.main);
    assert_int_equal(m->index.n, 2);
    assert_string_equal(m->index.v[0], "a"); /* a glob's files in name order */
    assert_string_equal(m->index.v[1], "b");
    const struct conf_block *s = c.main->children;
    assert_non_null(s);
    assert_string_equal(nloc(s)->index.v[0], "here");
    assert_string_equal(nloc(s->children)->index.v[0], "x");
    char want[256];
    snprintf(want, sizeof(want), "%s/snippets/loc.conf", dir);
    assert_string_equal(s->children->where.file, want); /* where names the included file */
    assert_int_equal(s->children->where.line, 1);
    conf_free(&c);
    remove_dir();
}

/* want, each "%s" in it replaced by the test directory. */
static void expect_file_error(const char *name, const char *tmpl)
{
    struct conf c;
    char err[CONF_ERR_MAX] = "", want[512];
    size_t n = 0;
    for (const char *t = tmpl; *t && n + sizeof(dir) < sizeof(want);) {
        if (t[0] == '%' && t[1] == 's') {
            n += (size_t)snprintf(want + n, sizeof(want) - n, "%s", dir);
            t += 2;
        } else {
            want[n++] = *t++;
        }
    }
    want[n] = '\0';
    int rc = load_file(&c, name, err, sizeof(err));
    if (rc == 0 || !strstr(err, want) || strchr(err, '\n')) {
        fail_msg("%s: rc=%d err=\"%s\", want \"%s\"", name, rc, err, want);
    }
    conf_free(&c);
}

static void test_include_errors(void **state)
{
    (void)state;
    setup_dir();
    put("missing.conf", "\n\ninclude nothere.conf;\n");
    expect_file_error("missing.conf", "%s/missing.conf:3: cannot open included file "
                                      "\"%s/nothere.conf\": No such file or directory");
    put("bad.conf", "http {\n include inc/bad1.conf;\n}\n");
    put("inc/bad1.conf", "index a;\nbogus 1;\n");
    expect_file_error("bad.conf", "%s/inc/bad1.conf:2: unknown directive \"bogus\"");
    put("cycle.conf", "include inc/c1.conf;\n");
    put("inc/c1.conf", "include c2.conf;\n");
    put("inc/c2.conf", "index x;\ninclude c1.conf;\n");
    expect_file_error("cycle.conf", "%s/inc/c2.conf:2: include cycle: \"%s/inc/c1.conf\" is "
                                    "already being read");
    put("selfdir/self.conf", "include *.conf;\n");
    expect_file_error("selfdir/self.conf", "%s/selfdir/self.conf:1: include cycle");
    put("brace.conf", "server {\n include inc/brace1.conf;\n}\n");
    put("inc/brace1.conf", "root /x;\n}\n");
    expect_file_error("brace.conf", "%s/inc/brace1.conf:2: unexpected \"}\"");
    put("open.conf", "include inc/open1.conf;\n");
    put("inc/open1.conf", "server {\n root /x;\n");
    expect_file_error("open.conf", "%s/inc/open1.conf:2: unexpected end of file, expecting \"}\"");
    put("lex.conf", "include inc/lex1.conf;\n");
    put("inc/lex1.conf", "\nroot \"/x;\n");
    expect_file_error("lex.conf", "%s/inc/lex1.conf:2: unterminated quoted string");
    put("dup.conf", "server {\n location /a { }\n include inc/dup1.conf;\n}\n");
    put("inc/dup1.conf", "location /a { }\n");
    expect_file_error("dup.conf", "%s/inc/dup1.conf:1: duplicate location \"/a\" (first at "
                                  "%s/dup.conf:2)");
    put("args.conf", "include;\n");
    expect_file_error("args.conf", "%s/args.conf:1: invalid number of arguments in \"include\"");
    put("args2.conf", "include a b;\n");
    expect_file_error("args2.conf", "invalid number of arguments in \"include\"");
    put("dir.conf", "include inc;\n");
    expect_file_error("dir.conf", "%s/dir.conf:1: configuration file \"%s/inc\" is not a regular");
    /* a chain deeper than CONF_INCLUDE_DEPTH, no cycle */
    for (int i = 0; i <= CONF_INCLUDE_DEPTH; i++) {
        char name[32], text[64];
        snprintf(name, sizeof(name), "deep/d%d.conf", i);
        snprintf(text, sizeof(text), "include d%d.conf;\n", i + 1);
        put(name, text);
    }
    put("deep/d17.conf", "index end;\n");
    expect_file_error("deep/d0.conf", "includes nested deeper than 16 levels");
    /* the main file and CONF_INCLUDE_DEPTH levels of includes load */
    put("deep/d16.conf", "index end;\n");
    struct conf c;
    char err[CONF_ERR_MAX];
    if (load_file(&c, "deep/d0.conf", err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_string_equal(nloc(c.main)->index.v[0], "end");
    conf_free(&c);
    remove_dir();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_events), cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_noops),       cmocka_unit_test(test_refused),
        cmocka_unit_test(test_ssi_noop),
        cmocka_unit_test(test_include),     cmocka_unit_test(test_include_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
