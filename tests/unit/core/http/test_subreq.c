/*
 * Unit tests for subrequests (core/http/subreq.c) through the SSI renderer, over the fake
 * HTTP/1 transport: a page whose includes are answered by the static files, a `return`, a
 * `deny all` and a missing file comes out the same whatever the client's window does (the whole
 * page at once, or a few bytes per turn so that every write of the page and of its includes
 * meets a full queue), and a client that leaves mid-page leaves nothing behind (ASan).
 */
#include "common/fake_http.h"
#include "common/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char conf_text[] = "server {\n"
                                "  listen 127.0.0.1:0;\n"
                                "  root ROOT;\n"
                                "  ssi on;\n"
                                "  location /denied/ { deny all; }\n"
                                "  location = /ret { return 200 \"RET\"; }\n"
                                "}\n";

static struct fake_world world;
static char big[20000];
static char *want;
static size_t want_len;

#define PAGE                                                                                       \
    "<p>head</p>[<!--#include virtual=\"/inc/big.txt\" -->][<!--#include virtual=\"/ret\" -->]"    \
    "[<!--#include virtual=\"/denied/x.txt\" -->][<!--#include file=\"inc/nothere\" -->]"          \
    "[<!--#include virtual=\"/inc/nested.html\" -->]<p>tail</p>"
#define ERR "[an error occurred while processing the directive]"

static int setup(void **state)
{
    (void)state;
    fake_world_init(&world, conf_text);
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (char)('a' + i % 26);
    }
    fake_file(&world, "inc/big.txt", big, sizeof(big));
    fake_file(&world, "denied/x.txt", "secret", 6);
    static const char nested[] = "n(<!--#include virtual=\"/ret\" -->)";
    fake_file(&world, "inc/nested.html", nested, sizeof(nested) - 1);
    fake_file(&world, "p.html", PAGE, sizeof(PAGE) - 1);
    want = malloc(sizeof(big) + 512);
    want_len = (size_t)sprintf(want, "<p>head</p>[");
    memcpy(want + want_len, big, sizeof(big));
    want_len += sizeof(big);
    want_len += (size_t)sprintf(want + want_len, "][RET][" ERR "][" ERR "][n(RET)]<p>tail</p>");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(want);
    fake_world_fini(&world);
    return 0;
}

/* The chunked body of the one response in out (malloc), or NULL when it is not complete. */
static char *dechunk(const char *out, size_t n, size_t *len)
{
    const char *p = memmem(out, n, "\r\n\r\n", 4);
    if (!p || !memmem(out, (size_t)(p - out), "Transfer-Encoding: chunked", 26)) {
        return NULL;
    }
    p += 4;
    const char *end = out + n;
    char *body = malloc(n);
    *len = 0;
    while (p < end) {
        char *e;
        unsigned long k = strtoul(p, &e, 16);
        if (e + 2 > end || memcmp(e, "\r\n", 2)) {
            break;
        }
        p = e + 2;
        if (k == 0) {
            return body;
        }
        if (p + k + 2 > end) {
            break;
        }
        memcpy(body + *len, p, k);
        *len += k;
        p += k + 2;
    }
    free(body);
    return NULL;
}

static const char request[] = "GET /p.html HTTP/1.1\r\nHost: x\r\n\r\n";

static void expect_page(struct fake_wire *fw)
{
    size_t len;
    char *body = dechunk(fw->out, fw->out_len, &len);
    assert_non_null(body);
    assert_int_equal(len, want_len);
    assert_memory_equal(body, want, len);
    free(body);
}

static void test_whole_page(void **state)
{
    (void)state;
    struct conn *c = fake_connect(&world);
    fake_feed(&world, c, request, sizeof(request) - 1);
    fake_settle(&world);
    expect_page(fake_wire_of(c));
    fake_close(&world, c);
}

/* A few bytes per turn: the page and its includes wait for room again and again. */
static void test_small_window(void **state)
{
    (void)state;
    static const uint64_t steps[] = {1, 7, 100, 1000};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        struct conn *c = fake_connect(&world);
        struct fake_wire *fw = fake_wire_of(c);
        fw->window = 0;
        fake_feed(&world, c, request, sizeof(request) - 1);
        size_t len;
        char *body = NULL;
        for (int turn = 0; turn < 200000 && !body; turn++) {
            fake_allow(&world, c, steps[s]);
            fake_settle(&world);
            body = dechunk(fw->out, fw->out_len, &len);
        }
        assert_non_null(body);
        free(body);
        expect_page(fw);
        fake_close(&world, c);
    }
}

/* The client goes at every point of the page: nothing leaks, nothing runs on. */
static void test_client_leaves(void **state)
{
    (void)state;
    for (uint64_t allow = 0; allow < 22000; allow += 997) {
        struct conn *c = fake_connect(&world);
        struct fake_wire *fw = fake_wire_of(c);
        fw->window = allow;
        fake_feed(&world, c, request, sizeof(request) - 1);
        fake_settle(&world);
        fake_close(&world, c);
        fake_settle(&world);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_page),
        cmocka_unit_test(test_small_window),
        cmocka_unit_test(test_client_leaves),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
