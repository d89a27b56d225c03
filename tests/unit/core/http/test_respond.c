/*
 * Unit tests for the response writer (core/http/respond.c, h1_write.c) over a fake
 * transport: the head a handler's description becomes, HEAD, error pages, bodiless
 * statuses, configured fields replacing generated ones, heads larger than the output
 * block, and streamed bodies (chunked with backpressure, close-delimited for HTTP/1.0).
 */
#include "common/fake_http.h"
#include "common/unit.h"
#include "core/http/h1_write.h"
#include "core/http/respond.h"
#include "core/http/location.h"
#include "core/http/route.h"
#include "proto/request.h"

#include <errno.h>
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
                                "  location /typed/ {\n"
                                "    add_header Content-Type text/x-spate;\n"
                                "    add_header Server edge;\n"
                                "    add_header X-Always yes always;\n"
                                "    expires 90s;\n"
                                "  }\n"
                                "}\n";

static struct fake_world world;

static int setup(void **state)
{
    (void)state;
    fake_world_init(&world, conf_text);
    fake_file(&world, "typed/t.txt", "typed", 5);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_world_fini(&world);
    return 0;
}

/* A request on a fresh connection, as the session would hand it to a handler. */
struct rig {
    struct conn *c;
    struct http_request msg;
    struct req r;
    char head[512];
};

static void rig_init(struct rig *g, const char *request)
{
    memset(g, 0, sizeof(*g));
    g->c = fake_connect(&world);
    snprintf(g->head, sizeof(g->head), "%s", request);
    int rc = http_parse_request(g->head, strlen(g->head), 0, &http_settings(&world.conf)->limits,
                                &g->c->arena, &g->msg);
    assert_true(rc > 0);
    const struct route_table *t = route_table(&world.conf);
    struct req *r = &g->r;
    r->msg = &g->msg;
    r->version_minor = g->msg.version_minor;
    r->method = g->msg.method;
    r->head_only = g->msg.method == HTTP_HEAD;
    r->group = &t->groups[0];
    r->server = t->groups[0].def;
    char *path = arena_alloc(&g->c->arena, g->msg.path.len + 1); /* NUL-terminated, as routed */
    memcpy(path, g->msg.path.ptr, g->msg.path.len);
    path[g->msg.path.len] = '\0';
    r->path = slice_make(path, g->msg.path.len);
    r->loc = route_location(r->server, r->path);
    r->env = &world.h1.http;
    r->arena = &g->c->arena;
    r->proto = &h1_proto;
    r->proto_data = g->c;
    resp_begin(r, 200);
}

/* What went out, Dates fixed, NUL-terminated. */
static const char *wire(struct rig *g)
{
    fake_allow(&world, g->c, UINT64_MAX);
    struct fake_wire *fw = fake_wire_of(g->c);
    fake_fix_dates(fw->out, fw->out_len);
    fw->out = realloc(fw->out, fw->out_len + 1);
    fw->out[fw->out_len] = '\0';
    return fw->out;
}

static unsigned count(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static void test_fields_and_body(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
    resp_begin(&g.r, 202);
    assert_int_equal(resp_field(&g.r, SLICE_LIT("X-One"), SLICE_LIT("1")), 0);
    assert_int_equal(resp_body_mem(&g.r, "abc", 3, NULL), 0);
    assert_int_equal(resp_body_mem(&g.r, "defg", 4, NULL), 0);
    assert_int_equal(resp_send(&g.r), 0);
    assert_string_equal(wire(&g), "HTTP/1.1 202 Accepted\r\n"
                                  "Server: spate\r\n"
                                  "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                                  "Content-Length: 7\r\n"
                                  "X-One: 1\r\n"
                                  "\r\n"
                                  "abcdefg");
    fake_close(&world, g.c);
}

static void test_head_and_bodiless(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(resp_body_mem(&g.r, "abc", 3, NULL), 0);
    assert_int_equal(resp_send(&g.r), 0);
    const char *out = wire(&g);
    assert_non_null(strstr(out, "Content-Length: 3\r\n\r\n"));
    assert_null(strstr(out, "abc")); /* HEAD: the same head, no body */
    fake_close(&world, g.c);

    rig_init(&g, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
    resp_begin(&g.r, 304);
    assert_int_equal(resp_send(&g.r), 0);
    assert_null(strstr(wire(&g), "Content-Length")); /* 304: no length (RFC 9110 8.6) */
    fake_close(&world, g.c);

    rig_init(&g, "GET /x HTTP/1.0\r\n\r\n");
    assert_int_equal(resp_error(&g.r, 404), 0);
    out = wire(&g);
    assert_non_null(strstr(out, "HTTP/1.1 404 Not Found\r\n"));
    assert_non_null(strstr(out, "Content-Type: text/html\r\n"));
    assert_non_null(strstr(out, "Connection: keep-alive\r\n")); /* 1.0 asked to keep it */
    assert_non_null(strstr(out, "<h1>404 Not Found</h1>"));
    fake_close(&world, g.c);
}

/* A location's add_header replaces the generated field of the same name (one Content-Type). */
static void test_configured_fields_replace(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, "GET /typed/t.txt HTTP/1.1\r\nHost: h\r\n\r\n");
    /* through the real handler: the route says which */
    assert_string_equal(g.r.loc->prefix, "/typed/");
    assert_int_equal(g.r.loc->handler->handle(&g.r, g.r.loc->handler_conf), 0);
    const char *out = wire(&g);
    assert_int_equal(count(out, "Content-Type:"), 1);
    assert_non_null(strstr(out, "Content-Type: text/x-spate\r\n"));
    assert_int_equal(count(out, "Server:"), 1);
    assert_non_null(strstr(out, "Server: edge\r\n"));
    assert_non_null(strstr(out, "Date: "));
    assert_non_null(strstr(out, "Cache-Control: max-age=90\r\n"));
    assert_non_null(strstr(out, "Expires: "));
    assert_non_null(strstr(out, "X-Always: yes\r\n"));
    assert_non_null(strstr(out, "Content-Length: 5\r\n"));
    assert_non_null(strstr(out, "\r\n\r\ntyped"));
    fake_close(&world, g.c);

    /* an error: only the "always" field */
    rig_init(&g, "GET /typed/nope HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(resp_error(&g.r, 404), 0);
    out = wire(&g);
    assert_non_null(strstr(out, "X-Always: yes\r\n"));
    assert_null(strstr(out, "Expires"));
    assert_non_null(strstr(out, "Content-Type: text/html\r\n"));
    fake_close(&world, g.c);
}

/* Past the inline few, fields grow into the arena up to RESP_FIELDS_MAX, and go out in order. */
static void test_fields_grow(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
    static char names[RESP_FIELDS_MAX][16];
    for (int i = 0; i < RESP_FIELDS_MAX; i++) {
        int n = snprintf(names[i], sizeof(names[i]), "X-F%03d", i);
        assert_int_equal(resp_field(&g.r, slice_make(names[i], (size_t)n), SLICE_LIT("v")), 0);
    }
    assert_int_equal(resp_field(&g.r, SLICE_LIT("X-Too-Many"), SLICE_LIT("no")), -ENOSPC);
    assert_int_equal(resp_send(&g.r), 0);
    const char *out = wire(&g);
    const char *prev = out;
    for (int i = 0; i < RESP_FIELDS_MAX; i++) {
        char want[32];
        snprintf(want, sizeof(want), "\r\n%s: v\r\n", names[i]);
        const char *at = strstr(out, want);
        assert_non_null(at);
        assert_true(at >= prev);
        prev = at;
    }
    assert_null(strstr(out, "X-Too-Many"));
    fake_close(&world, g.c);
}

/* A head larger than the connection's output block still goes out whole and in order. */
static void test_head_larger_than_block(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
    static char big[8][6000];
    for (int i = 0; i < 8; i++) {
        memset(big[i], 'a' + i, sizeof(big[i]));
        assert_int_equal(resp_field(&g.r, SLICE_LIT("X-Big"), slice_make(big[i], sizeof(big[i]))),
                         0);
    }
    assert_int_equal(resp_body_mem(&g.r, "end", 3, NULL), 0);
    assert_int_equal(resp_send(&g.r), 0);
    const char *out = wire(&g);
    assert_true(strlen(out) > 48000);
    assert_int_equal(count(out, "X-Big: "), 8);
    const char *h = strstr(out, "X-Big: h");
    assert_non_null(h);
    assert_string_equal(h + 7 + 6000, "\r\n\r\nend");
    fake_close(&world, g.c);
}

/* ---------------------------------------------------------------- streams */

struct producer {
    struct req *r;
    size_t total, done;
    unsigned writable_calls;
    bool ended, aborted;
};

static void produce(struct producer *p)
{
    char buf[1000];
    while (p->done < p->total) {
        size_t want = MIN(sizeof(buf), p->total - p->done);
        for (size_t i = 0; i < want; i++) {
            buf[i] = (char)('a' + (p->done + i) % 26);
        }
        size_t n = resp_stream_write(p->r, buf, want);
        p->done += n;
        if (n < want) {
            return;
        }
    }
    assert_int_equal(resp_stream_end(p->r), 0);
    p->ended = true;
}

static void writable(struct req *r)
{
    struct producer *p = r->resp.stream_arg;
    p->writable_calls++;
    produce(p);
}

static void aborted(struct req *r)
{
    ((struct producer *)r->resp.stream_arg)->aborted = true;
}

static const struct resp_stream_ops ops = {writable, aborted};

/* Decodes a chunked body; returns its length, or -1 if malformed. */
static long dechunk(const char *p, char *out)
{
    long n = 0;
    for (;;) {
        char *end;
        long len = strtol(p, &end, 16);
        if (end == p || strncmp(end, "\r\n", 2) != 0) {
            return -1;
        }
        p = end + 2;
        if (len == 0) {
            return strcmp(p, "\r\n") == 0 ? n : -1;
        }
        memcpy(out + n, p, (size_t)len);
        n += len;
        p += len;
        if (strncmp(p, "\r\n", 2) != 0) {
            return -1;
        }
        p += 2;
    }
}

static void test_stream_chunked_backpressure(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, "GET /s HTTP/1.1\r\nHost: h\r\n\r\n");
    struct fake_wire *fw = fake_wire_of(g.c);
    fw->window = 0; /* the client reads nothing yet */
    struct producer p = {&g.r, 200000, 0, 0, false, false};
    assert_int_equal(resp_field(&g.r, SLICE_LIT("Content-Type"), SLICE_LIT("text/plain")), 0);
    assert_int_equal(resp_stream(&g.r, &ops, &p), 0);
    produce(&p);
    fake_settle(&world);
    /* the queue filled up: the producer waits, memory stays bounded by the block */
    assert_false(p.ended);
    assert_true(p.done < 40000);
    size_t at_stall = p.done;
    /* the client reads a little at a time: writable() keeps it going */
    for (int i = 0; i < 1000 && !p.ended; i++) {
        fake_allow(&world, g.c, 4096);
    }
    assert_true(p.ended);
    assert_true(p.writable_calls > 1);
    assert_true(p.done > at_stall);
    const char *out = wire(&g);
    assert_non_null(strstr(out, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(out, "Content-Length"));
    const char *body = strstr(out, "\r\n\r\n") + 4;
    char *dec = malloc(p.total);
    assert_int_equal(dechunk(body, dec), (long)p.total);
    for (size_t i = 0; i < p.total; i++) {
        if (dec[i] != (char)('a' + i % 26)) {
            fail_msg("byte %zu differs", i);
        }
    }
    free(dec);
    assert_false(fw->fin); /* keep-alive goes on after a chunked body */
    fake_close(&world, g.c);
    assert_false(p.aborted); /* it ended before the connection did */
}

static void test_stream_http10_and_abort(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, "GET /s HTTP/1.0\r\n\r\n");
    struct producer p = {&g.r, 5000, 0, 0, false, false};
    assert_int_equal(resp_stream(&g.r, &ops, &p), 0);
    produce(&p);
    const char *out = wire(&g);
    /* no chunked coding in HTTP/1.0: the body ends with the connection */
    assert_null(strstr(out, "Transfer-Encoding"));
    assert_non_null(strstr(out, "Connection: close\r\n"));
    const char *body = strstr(out, "\r\n\r\n") + 4;
    assert_int_equal(strlen(body), 5000);
    assert_true(fake_wire_of(g.c)->fin);
    fake_close(&world, g.c);

    /* the client goes away mid-body: the producer hears of it */
    rig_init(&g, "GET /s HTTP/1.1\r\nHost: h\r\n\r\n");
    fake_wire_of(g.c)->window = 0;
    struct producer q = {&g.r, 1 << 20, 0, 0, false, false};
    assert_int_equal(resp_stream(&g.r, &ops, &q), 0);
    produce(&q);
    fake_close(&world, g.c);
    assert_true(q.aborted);
    assert_false(q.ended);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_and_body),
        cmocka_unit_test(test_head_and_bodiless),
        cmocka_unit_test(test_configured_fields_replace),
        cmocka_unit_test(test_head_larger_than_block),
        cmocka_unit_test(test_fields_grow),
        cmocka_unit_test(test_stream_chunked_backpressure),
        cmocka_unit_test(test_stream_http10_and_abort),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
