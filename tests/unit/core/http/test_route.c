/*
 * Unit tests for routing (core/http/route.c): which server answers a Host on an address,
 * which location a path falls in, which handler a location gets.
 */
#include "common/unit.h"
#include "core/app/modules.h"
#include "core/conf/conf.h"
#include "core/http/location.h"
#include "core/http/route.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char text[] = "server {\n"
                           "  listen 127.0.0.1:8001;\n"
                           "  root /tmp;\n"
                           "  server_name first.example;\n"
                           "}\n"
                           "server {\n"
                           "  listen 127.0.0.1:8001 default_server;\n"
                           "  listen 127.0.0.1:8002;\n"
                           "  root /tmp;\n"
                           "  server_name exact.example *.wild.example .dot.example;\n"
                           "  location / { }\n"
                           "  location /static/ { }\n"
                           "  location /static/img/ { }\n"
                           "  location /stream { test_stream 10; }\n"
                           "}\n"
                           "server {\n"
                           "  listen 127.0.0.1:8001;\n"
                           "  root /tmp;\n"
                           "  server_name *.exact.example sub.wild.example;\n"
                           "  location = /metrics { }\n"
                           "  location = /status { }\n"
                           "  location = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa { }\n"
                           "  location /m { }\n"
                           "}\n";

static struct conf c;
static const struct route_table *t;

static int setup(void **state)
{
    (void)state;
    char err[CONF_ERR_MAX];
    if (conf_init(&c, spate_modules, spate_nmodules) < 0 ||
        conf_load_string(&c, "r.conf", text, err, sizeof(err)) < 0 ||
        conf_finish(&c, err, sizeof(err)) < 0) {
        print_error("%s\n", err);
        return -1;
    }
    t = route_table(&c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    conf_free(&c);
    return 0;
}

static unsigned pick(unsigned group, const char *host)
{
    return route_server_for(&t->groups[group], slice_cstr(host))->index;
}

static void test_groups(void **state)
{
    (void)state;
    assert_int_equal(t->nservers, 3);
    assert_int_equal(t->ngroups, 2);
    assert_string_equal(t->groups[0].addr.text, "127.0.0.1:8001");
    assert_int_equal(t->groups[0].nservers, 3);
    assert_int_equal(t->groups[0].def->index, 1); /* default_server, though not the first */
    assert_int_equal(t->groups[1].nservers, 1);
}

static void test_virtual_hosts(void **state)
{
    (void)state;
    assert_int_equal(pick(0, "first.example"), 0);
    assert_int_equal(pick(0, "FIRST.example:8001"), 0); /* case and port ignored */
    assert_int_equal(pick(0, "first.example."), 0);     /* and a trailing dot */
    assert_int_equal(pick(0, "exact.example"), 1);
    assert_int_equal(pick(0, "a.exact.example"), 2);  /* the wildcard of server 2 */
    assert_int_equal(pick(0, "sub.wild.example"), 2); /* exact names before wildcards */
    assert_int_equal(pick(0, "x.wild.example"), 1);
    assert_int_equal(pick(0, "wild.example"), 1); /* "*.": subdomains only: the default */
    assert_int_equal(pick(0, "dot.example"), 1);  /* ".": the domain too */
    assert_int_equal(pick(0, "a.b.dot.example"), 1);
    assert_int_equal(pick(0, "unknown.example"), 1); /* nothing matches: the default */
    assert_int_equal(pick(0, ""), 1);
    assert_int_equal(pick(0, "[::1]:8001"), 1);
    assert_int_equal(pick(1, "first.example"), 1); /* another address, other servers */
}

static void test_locations(void **state)
{
    (void)state;
    const struct route_server *s = &t->servers[1];
    assert_int_equal(s->nlocs, 4);
    assert_string_equal(route_location(s, SLICE_LIT("/static/img/a.png"))->prefix, "/static/img/");
    assert_string_equal(route_location(s, SLICE_LIT("/static/a.css"))->prefix, "/static/");
    assert_string_equal(route_location(s, SLICE_LIT("/static"))->prefix, "/");
    assert_string_equal(route_location(s, SLICE_LIT("/index.html"))->prefix, "/");
    assert_string_equal(route_location(s, SLICE_LIT("/streaming"))->prefix, "/stream");
    /* a server with no location: its own settings */
    const struct route_server *s0 = &t->servers[0];
    assert_ptr_equal(route_location(s0, SLICE_LIT("/x")), &s0->self);
    /* the handler each location names, or the static files */
    assert_string_equal(route_location(s, SLICE_LIT("/static/x"))->handler->name, "static");
    assert_string_equal(route_location(s, SLICE_LIT("/stream"))->handler->name, "test_stream");
    assert_string_equal(s0->self.handler->name, "static");
    assert_non_null(route_location(s, SLICE_LIT("/stream"))->handler_conf);
}

/* exact locations are looked up only at the lengths they have (bit 63: 63 bytes or more) */
static void test_exact_locations(void **state)
{
    (void)state;
    const struct route_server *s = &t->servers[2];
    assert_int_equal(s->nlocs, 4);
    assert_string_equal(route_location(s, SLICE_LIT("/metrics"))->prefix, "/metrics");
    assert_int_equal(route_location(s, SLICE_LIT("/metrics"))->kind, ROUTE_LOC_EXACT);
    assert_string_equal(route_location(s, SLICE_LIT("/metricz"))->prefix, "/m"); /* same length */
    assert_string_equal(route_location(s, SLICE_LIT("/metrics/"))->prefix, "/m");
    assert_string_equal(route_location(s, SLICE_LIT("/status"))->prefix, "/status");
    assert_ptr_equal(route_location(s, SLICE_LIT("/statuz")), &s->self);
    assert_ptr_equal(route_location(s, SLICE_LIT("/small.bin")), &s->self);
    assert_ptr_equal(route_location(s, SLICE_LIT("")), &s->self);
    const char *lng = "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    assert_int_equal(route_location(s, slice_cstr(lng))->kind, ROUTE_LOC_EXACT);
    char other[80];
    snprintf(other, sizeof(other), "%sb", lng); /* 71 bytes: the same bit, not the same length */
    assert_ptr_equal(route_location(s, slice_cstr(other)), &s->self);
    other[69] = 'b';
    other[70] = 0; /* 70 bytes, the last one differs */
    assert_ptr_equal(route_location(s, slice_cstr(other)), &s->self);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_virtual_hosts),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_exact_locations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
