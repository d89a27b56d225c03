/* Unit tests for proto/fastcgi.c: records and pairs as the specification lays them out, and the
 * answer's decoder fed whole and split at every byte, with every error. */
#include "common/guard.h"
#include "common/unit.h"
#include "proto/fastcgi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_begin_abort(void **state)
{
    (void)state;
    char b[FCGI_BEGIN_LEN];
    fcgi_begin_request(b, 0x0102, true);
    const char want[] = {1, 1, 1, 2, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
    assert_memory_equal(b, want, sizeof(want));
    fcgi_begin_request(b, 1, false);
    assert_int_equal(b[10], 0);
    char a[FCGI_HEADER_LEN];
    fcgi_abort_request(a, 7);
    const char wa[] = {1, 2, 0, 7, 0, 0, 0, 0};
    assert_memory_equal(a, wa, sizeof(wa));
}

static void test_pairs(void **state)
{
    (void)state;
    char out[1024];
    size_t n = fcgi_pair_encode(out, SLICE_LIT("QUERY_STRING"), SLICE_LIT("a=1"));
    assert_int_equal(n, fcgi_pair_size(12, 3));
    assert_int_equal(n, 2 + 12 + 3);
    assert_int_equal(out[0], 12);
    assert_int_equal(out[1], 3);
    assert_memory_equal(out + 2, "QUERY_STRINGa=1", 15);

    /* 127 is the last one-byte length, 128 the first four-byte one */
    char v[300];
    memset(v, 'x', sizeof(v));
    n = fcgi_pair_encode(out, SLICE_LIT("N"), slice_make(v, 127));
    assert_int_equal(n, 1 + 1 + 1 + 127);
    n = fcgi_pair_encode(out, SLICE_LIT("N"), slice_make(v, 300));
    assert_int_equal(n, 1 + 4 + 1 + 300);
    const unsigned char l4[] = {0x80, 0, 1, 44};
    assert_memory_equal(out + 1, l4, 4);
    struct slice nm, vl;
    size_t used;
    assert_int_equal(fcgi_pair_decode(out, n, &nm, &vl, &used), 1);
    assert_int_equal(used, n);
    assert_int_equal(nm.len, 1);
    assert_int_equal(vl.len, 300);
    for (size_t cut = 0; cut < n; cut++) {
        assert_int_equal(fcgi_pair_decode(out, cut, &nm, &vl, &used), 0);
    }
    /* empty value */
    n = fcgi_pair_encode(out, SLICE_LIT("HTTPS"), SLICE_NULL);
    assert_int_equal(n, 7);
    assert_int_equal(fcgi_pair_decode(out, n, &nm, &vl, &used), 1);
    assert_int_equal(vl.len, 0);
    assert_int_equal(fcgi_pair_size((size_t)FCGI_PAIR_LEN_MAX + 1, 1), 0);
}

static void test_stream_encode(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(fcgi_stream_encode(out, FCGI_STDIN, 1, NULL, 0), 8);
    const char empty[] = {1, 5, 0, 1, 0, 0, 0, 0};
    assert_memory_equal(out, empty, 8);

    size_t len = 3 * FCGI_CONTENT_MAX + 5;
    char *in = malloc(len);
    for (size_t i = 0; i < len; i++) {
        in[i] = (char)(i % 251);
    }
    size_t sz = fcgi_stream_size(len);
    assert_int_equal(sz, 4 * 8 + len + 3 * fcgi_padding(FCGI_CONTENT_MAX) + fcgi_padding(5));
    char *enc = malloc(sz);
    assert_int_equal(fcgi_stream_encode(enc, FCGI_PARAMS, 9, in, len), sz);
    /* walk the records back */
    size_t pos = 0, got = 0;
    while (pos < sz) {
        const unsigned char *h = (const unsigned char *)enc + pos;
        assert_int_equal(h[0], 1);
        assert_int_equal(h[1], FCGI_PARAMS);
        assert_int_equal(h[3], 9);
        size_t c = (size_t)h[4] << 8 | h[5];
        assert_int_equal((c + h[6]) % 8, 0);
        assert_memory_equal(enc + pos + 8, in + got, c);
        got += c;
        pos += 8 + c + h[6];
    }
    assert_int_equal(got, len);
    free(enc);
    free(in);
}

/* An answer: records appended to buf. */
static size_t rec(char *buf, size_t at, unsigned type, unsigned id, const char *p, size_t len,
                  unsigned pad)
{
    fcgi_header(buf + at, (enum fcgi_type)type, (uint16_t)id, (uint16_t)len, (uint8_t)pad);
    memcpy(buf + at + 8, p, len);
    memset(buf + at + 8 + len, 0, pad);
    return at + 8 + len + pad;
}

static size_t end_rec(char *buf, size_t at, unsigned id, uint32_t app, unsigned proto,
                      unsigned extra, unsigned pad)
{
    char body[16] = {(char)(app >> 24), (char)(app >> 16), (char)(app >> 8), (char)app,
                     (char)proto};
    return rec(buf, at, FCGI_END_REQUEST, id, body, 8 + extra, pad);
}

struct outcome {
    int rc;
    size_t consumed;
    char out[4096], err[4096];
    size_t outn, errn;
};

/* Decodes in fed in pieces of at most step bytes, each in a guarded copy. */
static void decode(const char *in, size_t n, size_t step, unsigned id, struct outcome *o)
{
    struct fcgi_decoder d;
    fcgi_decoder_init(&d, (uint16_t)id);
    memset(o, 0, sizeof(*o));
    size_t off = 0;
    o->rc = FCGI_DEC_MORE;
    while (off < n) {
        size_t piece = n - off < step ? n - off : step;
        struct guard_buf g;
        char *p = guard_copy(&g, in + off, piece);
        size_t pos = 0;
        for (;;) {
            size_t used;
            struct slice data;
            int rc = fcgi_decode(&d, p + pos, piece - pos, &used, &data);
            assert_true(used <= piece - pos);
            if (rc == FCGI_DEC_STDOUT) {
                memcpy(o->out + o->outn, data.ptr, data.len);
                o->outn += data.len;
            } else if (rc == FCGI_DEC_STDERR) {
                memcpy(o->err + o->errn, data.ptr, data.len);
                o->errn += data.len;
            } else {
                assert_int_equal(data.len, 0);
            }
            pos += used;
            if (rc < 0 || rc == FCGI_DEC_END) {
                guard_free(&g);
                o->rc = rc;
                o->consumed = off + pos;
                if (rc == FCGI_DEC_END) {
                    assert_int_equal(d.app_status, 0x01020304);
                }
                return;
            }
            if (rc == FCGI_DEC_MORE) {
                assert_int_equal(pos, piece);
                break;
            }
        }
        guard_free(&g);
        off += piece;
    }
    o->consumed = off;
}

static void test_decode_answer(void **state)
{
    (void)state;
    char in[2048];
    size_t n = 0;
    n = rec(in, n, FCGI_STDOUT, 1, "Content-type: text/html\r\n\r\n", 27, 5);
    n = rec(in, n, FCGI_STDERR, 1, "PHP Notice", 10, 6);
    n = rec(in, n, 0 /* type */ + FCGI_UNKNOWN_TYPE, 0, "\x09\0\0\0\0\0\0\0", 8, 0);
    n = rec(in, n, FCGI_STDOUT, 1, "hello", 5, 0);
    n = rec(in, n, FCGI_STDOUT, 1, "", 0, 0);
    n = end_rec(in, n, 1, 0x01020304, FCGI_REQUEST_COMPLETE, 0, 0);
    size_t whole = n;
    memcpy(in + n, "\x01\x06trailing", 10); /* not this answer's: never consumed */
    n += 10;
    for (size_t step = 1; step <= n; step++) {
        struct outcome o;
        decode(in, n, step, 1, &o);
        assert_int_equal(o.rc, FCGI_DEC_END);
        assert_int_equal(o.consumed, whole);
        assert_int_equal(o.outn, 32);
        assert_memory_equal(o.out, "Content-type: text/html\r\n\r\nhello", 32);
        assert_int_equal(o.errn, 10);
        assert_memory_equal(o.err, "PHP Notice", 10);
    }
}

static void test_decode_end_padding(void **state)
{
    (void)state;
    char in[256];
    size_t n = end_rec(in, 0, 3, 0x01020304, FCGI_REQUEST_COMPLETE, 4, 4); /* 12 + 4 pad */
    for (size_t step = 1; step <= n; step++) {
        struct outcome o;
        decode(in, n, step, 3, &o);
        assert_int_equal(o.rc, FCGI_DEC_END);
        assert_int_equal(o.consumed, n);
    }
    /* short of its padding: not ended yet */
    struct outcome o;
    decode(in, n - 1, n, 3, &o);
    assert_int_equal(o.rc, FCGI_DEC_MORE);
}

static void test_decode_errors(void **state)
{
    (void)state;
    char in[256];
    struct outcome o;
    size_t n = rec(in, 0, FCGI_STDOUT, 2, "x", 1, 7); /* another request */
    decode(in, n, n, 1, &o);
    assert_int_equal(o.rc, FCGI_DEC_BAD_ID);
    n = rec(in, 0, FCGI_STDOUT, 1, "x", 1, 7);
    in[0] = 2; /* version */
    decode(in, n, 1, 1, &o);
    assert_int_equal(o.rc, FCGI_DEC_BAD_VERSION);
    n = rec(in, 0, FCGI_PARAMS, 1, "x", 1, 7); /* a type the server never sends back */
    decode(in, n, n, 1, &o);
    assert_int_equal(o.rc, FCGI_DEC_BAD_TYPE);
    n = rec(in, 0, 0x86, 1, "x", 1, 7);
    decode(in, n, n, 1, &o);
    assert_int_equal(o.rc, FCGI_DEC_BAD_TYPE);
    n = rec(in, 0, FCGI_END_REQUEST, 1, "1234567", 7, 1); /* short body */
    decode(in, n, n, 1, &o);
    assert_int_equal(o.rc, FCGI_DEC_BAD_END);
    assert_string_not_equal(fcgi_decode_error(FCGI_DEC_BAD_END), "no error");

    /* after the end, nothing more is this request's */
    struct fcgi_decoder d;
    fcgi_decoder_init(&d, 1);
    n = end_rec(in, 0, 1, 0, 0, 0, 0);
    size_t used;
    struct slice data;
    assert_int_equal(fcgi_decode(&d, in, n, &used, &data), FCGI_DEC_END);
    assert_int_equal(fcgi_decode(&d, in, n, &used, &data), FCGI_DEC_DONE);
    assert_int_equal(used, 0);
}

static void test_decode_large(void **state)
{
    (void)state;
    /* a full-size record: the content comes through in pieces, never buffered */
    size_t cl = FCGI_CONTENT_MAX;
    char *in = malloc(cl + 64);
    char *body = malloc(cl);
    for (size_t i = 0; i < cl; i++) {
        body[i] = (char)(i % 253);
    }
    size_t n = rec(in, 0, FCGI_STDOUT, 1, body, cl, 1);
    n = end_rec(in, n, 1, 0x01020304, 0, 0, 0);
    struct fcgi_decoder d;
    fcgi_decoder_init(&d, 1);
    size_t pos = 0, got = 0;
    int rc;
    do {
        size_t used;
        struct slice data;
        size_t piece = n - pos < 1000 ? n - pos : 1000;
        rc = fcgi_decode(&d, in + pos, piece, &used, &data);
        assert_true(rc >= 0);
        if (rc == FCGI_DEC_STDOUT) {
            assert_memory_equal(data.ptr, body + got, data.len);
            got += data.len;
        }
        pos += used;
    } while (rc != FCGI_DEC_END);
    assert_int_equal(got, cl);
    assert_int_equal(pos, n);
    free(in);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_begin_abort),        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_stream_encode),      cmocka_unit_test(test_decode_answer),
        cmocka_unit_test(test_decode_end_padding), cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
