/* Unit tests for core/handlers/cgi_env.c: a CGI script's environment (RFC 3875 4.1). */
#include "common/unit.h"
#include "core/base/arena.h"
#include "core/base/hash.h"
#include "core/handlers/cgi_env.h"
#include "proto/hdr_table.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static struct arena_pool pool;
static struct arena arena;
static char buf[8192];
static const char *vars[256];
static unsigned nvars;

static void add(struct hdr_table *t, const char *name, const char *value)
{
    struct slice n = slice_cstr(name);
    assert_int_equal(hdr_table_add(t, &arena, n, slice_cstr(value), hash_bytes_lower(n.ptr, n.len)),
                     0);
}

/* Builds in's environment into vars[]. */
static void build(const struct cgi_env_in *in)
{
    unsigned count = 0;
    long n = cgi_env_build(in, buf, sizeof(buf), &count);
    assert_true(n > 0);
    nvars = 0;
    for (const char *p = buf; p < buf + n; p += strlen(p) + 1) {
        vars[nvars++] = p;
    }
    assert_int_equal(nvars, count);
}

/* NAME's value, or NULL; each name at most once. */
static const char *get(const char *name)
{
    const char *found = NULL;
    size_t len = strlen(name);
    for (unsigned i = 0; i < nvars; i++) {
        if (!strncmp(vars[i], name, len) && vars[i][len] == '=') {
            assert_null(found);
            found = vars[i] + len + 1;
        }
    }
    return found;
}

static void setup_table(struct hdr_table *t)
{
    hash_set_seed(7);
    hdr_known_init();
    arena_pool_init(&pool, 4096, 4);
    arena_init(&arena, &pool, 0);
    assert_int_equal(hdr_table_init(t, &arena, 4), 0);
}

static void test_meta_variables(void **state)
{
    (void)state;
    struct hdr_table t;
    setup_table(&t);
    add(&t, "Host", "example.com");
    add(&t, "User-Agent", "ua/1");
    assert_int_equal(hdr_table_index(&t, &arena), 0);
    struct cgi_env_in in = {
        .method = SLICE_LIT("GET"),
        .script_name = SLICE_LIT("/cgi-bin/x.sh"),
        .path_info = SLICE_LIT("/a b"),
        .path_translated = SLICE_LIT("/srv/www/a b"),
        .remote_addr = SLICE_LIT("192.0.2.1"),
        .remote_port = SLICE_LIT("4000"),
        .server_name = SLICE_LIT("example.com"),
        .server_port = SLICE_LIT("80"),
        .server_protocol = SLICE_LIT("HTTP/1.1"),
        .server_software = SLICE_LIT("spate/0"),
        .script_filename = SLICE_LIT("/srv/cgi/x.sh"),
        .request_uri = SLICE_LIT("/cgi-bin/x.sh/a%20b"),
        .headers = &t,
    };
    build(&in);
    assert_string_equal(get("GATEWAY_INTERFACE"), "CGI/1.1");
    assert_string_equal(get("REQUEST_METHOD"), "GET");
    assert_string_equal(get("QUERY_STRING"), ""); /* always there, empty without a query */
    assert_string_equal(get("PATH_INFO"), "/a b");
    assert_string_equal(get("PATH_TRANSLATED"), "/srv/www/a b");
    assert_string_equal(get("SCRIPT_NAME"), "/cgi-bin/x.sh");
    assert_string_equal(get("SCRIPT_FILENAME"), "/srv/cgi/x.sh");
    assert_string_equal(get("REMOTE_ADDR"), "192.0.2.1");
    assert_string_equal(get("SERVER_NAME"), "example.com");
    assert_string_equal(get("REDIRECT_STATUS"), "200");
    assert_string_equal(get("PATH"), CGI_ENV_PATH);
    assert_string_equal(get("HTTP_HOST"), "example.com");
    assert_string_equal(get("HTTP_USER_AGENT"), "ua/1");
    /* what was not given is not there */
    assert_null(get("CONTENT_LENGTH"));
    assert_null(get("REMOTE_USER"));
    assert_null(get("AUTH_TYPE"));
    assert_null(get("HTTPS"));
    arena_release(&arena);
    arena_pool_destroy(&pool);
}

static void test_fields(void **state)
{
    (void)state;
    struct hdr_table t;
    setup_table(&t);
    add(&t, "Proxy", "http://evil.example:3128/");
    add(&t, "X-Many", "1");
    add(&t, "Content-Type", "text/plain");
    add(&t, "Content-Length", "3");
    add(&t, "Authorization", "Basic eDp5");
    add(&t, "Proxy-Authorization", "Basic eDp5");
    add(&t, "X_Forwarded_For", "10.0.0.1");
    add(&t, "x-many", "2");
    add(&t, "Accept-Language", "en");
    add(&t, "Cookie", "a=1");
    add(&t, "cookie", "b=2");
    assert_int_equal(hdr_table_index(&t, &arena), 0);
    struct cgi_env_in in = {.method = SLICE_LIT("POST"), .content_type = SLICE_LIT("text/plain"),
                            .content_length = SLICE_LIT("3"), .headers = &t};
    build(&in);
    assert_null(get("HTTP_PROXY")); /* httpoxy */
    assert_null(get("HTTP_CONTENT_TYPE"));
    assert_null(get("HTTP_CONTENT_LENGTH"));
    assert_null(get("HTTP_AUTHORIZATION"));
    assert_null(get("HTTP_PROXY_AUTHORIZATION"));
    assert_null(get("HTTP_X_FORWARDED_FOR")); /* an underscore would pass for a dash */
    assert_string_equal(get("HTTP_X_MANY"), "1, 2");
    assert_string_equal(get("HTTP_ACCEPT_LANGUAGE"), "en");
    assert_string_equal(get("HTTP_COOKIE"), "a=1; b=2");
    assert_string_equal(get("CONTENT_TYPE"), "text/plain");
    assert_string_equal(get("CONTENT_LENGTH"), "3");
    arena_release(&arena);
    arena_pool_destroy(&pool);
}

static void test_extra_replaces(void **state)
{
    (void)state;
    struct cgi_env_var extra[] = {
        {SLICE_LIT("SERVER_NAME"), SLICE_LIT("canonical.example")},
        {SLICE_LIT("SITE"), SLICE_LIT("blue")},
        {SLICE_LIT("EMPTY"), SLICE_LIT("")},
    };
    struct cgi_env_in in = {.method = SLICE_LIT("GET"), .server_name = SLICE_LIT("other"),
                            .extra = extra, .nextra = 3};
    build(&in);
    assert_string_equal(get("SERVER_NAME"), "canonical.example");
    assert_string_equal(get("SITE"), "blue");
    assert_string_equal(get("EMPTY"), "");
}

static void test_nul_and_room(void **state)
{
    (void)state;
    struct cgi_env_in in = {.method = SLICE_LIT("GET"), .path_info = {"/a\0b", 4}};
    build(&in);
    assert_null(get("PATH_INFO")); /* the environment cannot carry a NUL */
    unsigned count = 0;
    assert_int_equal(cgi_env_build(&in, buf, 40, &count), -E2BIG);
    long n = cgi_env_build(&in, buf, sizeof(buf), &count);
    assert_int_equal(cgi_env_build(&in, buf, (size_t)n, &count), n); /* exactly enough */
    assert_int_equal(cgi_env_build(&in, buf, (size_t)n - 1, &count), -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_variables),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_extra_replaces),
        cmocka_unit_test(test_nul_and_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
