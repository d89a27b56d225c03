/* Unit tests for proto/cgi_head.c: heads whole and cut short, each kind, every refusal. */
#include "common/guard.h"
#include "common/unit.h"
#include "proto/cgi_head.h"

#include <errno.h>
#include <string.h>

/* Parses a copy that ends at a guard page; the copy lives until the next call (h's slices). */
static int parse(const char *s, size_t max, struct cgi_head *h)
{
    static struct guard_buf g;
    static bool held;
    if (held) {
        guard_free(&g);
    }
    char *p = guard_copy(&g, s, strlen(s));
    held = true;
    return cgi_head_parse(p, strlen(s), max, h);
}

static void assert_slice(struct slice s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

static void test_document(void **state)
{
    (void)state;
    static struct cgi_head h;
    const char *in = "Content-Type: text/plain\r\nX-One:  a b \r\nSet-Cookie: c=1\n"
                     "Content-Length: 5\nStatus: 201 Made\n\nhello";
    int n = cgi_head_parse(in, strlen(in), 4096, &h);
    assert_int_equal(n, (int)(strlen(in) - 5));
    assert_int_equal(h.status, 201);
    assert_slice(h.reason, "Made");
    assert_slice(h.content_type, "text/plain");
    assert_true(h.has_length);
    assert_int_equal(h.content_length, 5);
    assert_int_equal(h.nfields, 2);
    assert_slice(h.fields[0].name, "X-One");
    assert_slice(h.fields[0].value, "a b");
    assert_slice(h.fields[1].name, "Set-Cookie");
    assert_int_equal(cgi_head_kind(&h), CGI_DOCUMENT);
}

static void test_incomplete_at_every_byte(void **state)
{
    (void)state;
    static struct cgi_head h;
    const char *in = "Content-Type: text/html\r\nX-A: 1\r\n\r\n";
    size_t n = strlen(in);
    for (size_t cut = 0; cut < n; cut++) {
        struct guard_buf g;
        char *p = guard_copy(&g, in, cut);
        assert_int_equal(cgi_head_parse(p, cut, 4096, &h), 0);
        guard_free(&g);
    }
    assert_int_equal(parse(in, 4096, &h), (int)n);
}

static void test_kinds(void **state)
{
    (void)state;
    static struct cgi_head h;
    assert_true(parse("Location: /next?a=1\n\n", 4096, &h) > 0);
    assert_int_equal(cgi_head_kind(&h), CGI_LOCAL_REDIRECT);
    assert_true(parse("Location: http://example.com/\n\n", 4096, &h) > 0);
    assert_int_equal(cgi_head_kind(&h), CGI_CLIENT_REDIRECT);
    assert_true(parse("Location: //example.com/\n\n", 4096, &h) > 0);
    assert_int_equal(cgi_head_kind(&h), CGI_CLIENT_REDIRECT); /* a network-path, not local */
    assert_true(parse("Status: 302 Found\nLocation: /x\nContent-Type: text/html\n\n", 4096,
                      &h) > 0);
    assert_int_equal(cgi_head_kind(&h), CGI_DOCUMENT); /* 6.2.4: a redirect with a document */
    assert_true(parse("Status: 404\n\n", 4096, &h) > 0);
    assert_int_equal(h.status, 404);
    assert_int_equal(h.reason.len, 0);
}

static void test_dropped_fields(void **state)
{
    (void)state;
    static struct cgi_head h;
    assert_true(parse("Content-Type: a/b\nConnection: close\nTransfer-Encoding: chunked\n"
                      "Keep-Alive: 1\nUpgrade: x\nServer: evil\nDate: now\nTE: x\n"
                      "Trailer: x\nProxy-Connection: x\nX-Kept: y\n\n",
                      4096, &h) > 0);
    assert_int_equal(h.nfields, 1);
    assert_slice(h.fields[0].name, "X-Kept");
}

static void test_refused(void **state)
{
    (void)state;
    static struct cgi_head h;
    static const char *const bad[] = {
        "\n",                                        /* no CGI field at all */
        "X-Only: 1\n\n",                             /* still none */
        "Content-Type : a/b\n\n",                    /* space before the colon */
        "Content-Type: a/b\n folded\n\n",            /* obs-fold */
        "Content-Type: a/b\nNoColon\n\n",            /* not a field */
        ": empty-name\n\n",                          /* no name */
        "Content-Type: a\rb\n\n",                    /* a bare CR */
        "Content-Type: a\001b\n\n",                  /* a control byte */
        "Status: 2000\n\n",                          /* not three digits and a space */
        "Status: 99\n\n",                            /* too short */
        "Status: 100 Continue\n\n",                  /* an interim response */
        "Status: 600\n\n",                           /* no such class */
        "Status: 200\nStatus: 200\n\n",              /* twice */
        "Content-Type: a/b\nContent-Length: 1x\n\n", /* not a number */
        "Content-Type: a/b\nContent-Length: 1\nContent-Length: 2\n\n", /* which one? */
        "Content-Type: a/b\nContent-Length: 99999999999999999999\n\n", /* overflows */
        "Content-Type: a/b\nContent-Type: c/d\n\n",                    /* twice */
        "Location:\n\n",                                               /* empty */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i], 4096, &h);
        if (rc != -EBADMSG) {
            print_error("case %zu: %d\n", i, rc);
        }
        assert_int_equal(rc, -EBADMSG);
    }
    /* the same length twice is one length */
    assert_true(parse("Content-Type: a/b\nContent-Length: 3\nContent-Length: 3\n\n", 4096, &h) >
                0);
}

static void test_limits(void **state)
{
    (void)state;
    static struct cgi_head h;
    /* longer than max without its end: too big, not "more" */
    assert_int_equal(parse("Content-Type: text/plain\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaa", 32, &h),
                     -E2BIG);
    /* a complete head longer than max is too big too */
    assert_int_equal(parse("Content-Type: text/plain\nX-Long: aaaaaaaaaaaaa\n\n", 32, &h), -E2BIG);
    /* more fields than the table holds */
    static char many[8192];
    size_t o = 0;
    o += (size_t)snprintf(many + o, sizeof(many) - o, "Content-Type: a/b\n");
    for (int i = 0; i <= CGI_HEAD_FIELDS_MAX; i++) {
        o += (size_t)snprintf(many + o, sizeof(many) - o, "X-%d: v\n", i);
    }
    snprintf(many + o, sizeof(many) - o, "\n");
    assert_int_equal(parse(many, sizeof(many), &h), -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document),       cmocka_unit_test(test_incomplete_at_every_byte),
        cmocka_unit_test(test_kinds),          cmocka_unit_test(test_dropped_fields),
        cmocka_unit_test(test_refused),        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
