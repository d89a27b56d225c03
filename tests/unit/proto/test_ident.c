/* Unit tests for proto/ident.c: the query, and every kind of reply (RFC 1413). */
#include "common/unit.h"
#include "proto/ident.h"

#include <stdlib.h>
#include <string.h>

static enum ident_status parse(const char *s, struct ident_reply *r)
{
    /* a copy of exactly the reply's bytes, so a read past them is ASan's to see */
    size_t n = strlen(s);
    char *p = malloc(n ? n : 1);
    memcpy(p, s, n);
    enum ident_status st = ident_parse(p, n, 6191, 23, r);
    static char keep[2048];
    /* the slices point into p: move them to keep before freeing it */
    struct slice *f[] = {&r->opsys, &r->charset, &r->user, &r->error};
    size_t at = 0;
    for (size_t i = 0; i < 4; i++) {
        if (f[i]->ptr) {
            memcpy(keep + at, f[i]->ptr, f[i]->len);
            f[i]->ptr = keep + at;
            at += f[i]->len;
        }
    }
    free(p);
    return st;
}

static void assert_slice(struct slice s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr ? s.ptr : "", want, s.len);
}

static void test_query(void **state)
{
    (void)state;
    char buf[16];
    size_t n = ident_query(buf, 65535, 80);
    assert_int_equal(n, strlen("65535 , 80\r\n"));
    assert_memory_equal(buf, "65535 , 80\r\n", n);
}

static void test_userid(void **state)
{
    (void)state;
    struct ident_reply r;
    assert_int_equal(parse("6191 , 23 : USERID : UNIX : stjohns\r\n", &r), IDENT_USERID);
    assert_slice(r.opsys, "UNIX");
    assert_slice(r.charset, "");
    assert_slice(r.user, "stjohns");
    /* no blanks, lowercase type, a bare LF */
    assert_int_equal(parse("6191,23:userid:OTHER:x\n", &r), IDENT_USERID);
    assert_slice(r.opsys, "OTHER");
    assert_slice(r.user, "x");
    /* a charset, and a user id with colons and inner blanks kept */
    assert_int_equal(parse("6191 , 23 : USERID : UNIX , UTF-8 : a:b c \r\n", &r), IDENT_USERID);
    assert_slice(r.charset, "UTF-8");
    assert_slice(r.user, "a:b c ");
}

static void test_error(void **state)
{
    (void)state;
    struct ident_reply r;
    assert_int_equal(parse("6191 , 23 : ERROR : NO-USER\r\n", &r), IDENT_ERROR);
    assert_slice(r.error, "NO-USER");
    assert_int_equal(parse("6191 , 23 : ERROR : X-LOCAL\r\n", &r), IDENT_ERROR);
    assert_int_equal(parse("6191 , 23 : ERROR : \r\n", &r), IDENT_MALFORMED);
    assert_int_equal(parse("6191 , 23 : ERROR : TWO WORDS\r\n", &r), IDENT_MALFORMED);
}

static void test_incomplete(void **state)
{
    (void)state;
    struct ident_reply r;
    assert_int_equal(parse("", &r), IDENT_MORE);
    assert_int_equal(parse("6191 , 23 : USERID : UNIX : joe", &r), IDENT_MORE);
    assert_int_equal(parse("6191 , 23 : USERID : UNIX : joe\r", &r), IDENT_MORE);
}

static void test_malformed(void **state)
{
    (void)state;
    struct ident_reply r;
    const char *bad[] = {
        "hello\r\n",
        "6191 , 24 : USERID : UNIX : joe\r\n", /* another pair */
        "6192 , 23 : USERID : UNIX : joe\r\n",
        "6191 23 : USERID : UNIX : joe\r\n",
        "x6191 , 23 : USERID : UNIX : joe\r\n",
        "6191 , 23 : USERID : UNIX\r\n",      /* no user id */
        "6191 , 23 : USERID : UNIX :   \r\n", /* an empty one */
        "6191 , 23 : USERID :  : joe\r\n",    /* no opsys */
        "6191 , 23 : USERID : UN IX : joe\r\n",
        "6191 , 23 : USERID : UNIX , : joe\r\n",
        "6191 , 23 : WHO : UNIX : joe\r\n",
        "6191 , 23 : USERID : UNIX : jo\rn\r\n",
        "6191 , 23\r\n",
        "999999 , 23 : USERID : UNIX : joe\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &r), IDENT_MALFORMED);
    }
    /* a NUL inside */
    char nul[] = "6191 , 23 : USERID : UNIX : j\0e\r\n";
    assert_int_equal(ident_parse(nul, sizeof(nul) - 1, 6191, 23, &r), IDENT_MALFORMED);
}

static void test_lengths(void **state)
{
    (void)state;
    struct ident_reply r;
    static char buf[4096];
    const char *head = "6191 , 23 : USERID : UNIX : ";
    size_t h = strlen(head);
    memcpy(buf, head, h);
    /* a user id of 512 octets is the most */
    memset(buf + h, 'u', 512);
    memcpy(buf + h + 512, "\r\n", 3);
    assert_int_equal(parse(buf, &r), IDENT_USERID);
    assert_int_equal(r.user.len, 512);
    memset(buf + h, 'u', 513);
    memcpy(buf + h + 513, "\r\n", 3);
    assert_int_equal(parse(buf, &r), IDENT_MALFORMED);
    /* over IDENT_REPLY_MAX bytes: refused, with or without an end of line */
    memset(buf + h, 'u', 1000);
    buf[h + 1000] = '\0';
    assert_int_equal(parse(buf, &r), IDENT_TOO_LONG);
    memcpy(buf + h + 1000, "\r\n", 3);
    assert_int_equal(parse(buf, &r), IDENT_TOO_LONG);
    /* exactly IDENT_REPLY_MAX bytes with the CR LF is still a reply (its id too long) */
    size_t fill = IDENT_REPLY_MAX - h - 2;
    memset(buf + h, 'u', fill);
    memcpy(buf + h + fill, "\r\n", 3);
    assert_int_equal(parse(buf, &r), IDENT_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query),     cmocka_unit_test(test_userid),
        cmocka_unit_test(test_error),     cmocka_unit_test(test_incomplete),
        cmocka_unit_test(test_malformed), cmocka_unit_test(test_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
