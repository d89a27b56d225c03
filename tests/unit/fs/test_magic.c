/*
 * Unit tests for fs/magic.c: the types the web serves are told from their first bytes, what
 * libmagic cannot type is NULL, bytes past FS_MAGIC_PEEK are ignored, each thread has its
 * own handle, and a failed load answers NULL without retrying.
 */
#include "common/unit.h"
#include "fs/magic.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 4 KiB buffer: the sample's bytes first, then filler (what a peek at a bigger file reads). */
struct peek {
    unsigned char b[FS_MAGIC_PEEK];
    size_t len;
};

static _Thread_local uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    /* xorshift64: fixed seed, so "random bytes" are the same bytes on every run */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(rng_next() >> 32);
    }
}

/* head (hlen bytes) then random bytes up to FS_MAGIC_PEEK: a binary file's first block */
static void binary(struct peek *pk, const void *head, size_t hlen)
{
    fill_random(pk->b, sizeof(pk->b));
    memcpy(pk->b, head, hlen);
    pk->len = sizeof(pk->b);
}

/* text repeated up to FS_MAGIC_PEEK bytes */
static void text(struct peek *pk, const char *head, const char *body)
{
    size_t n = strlen(head), bl = strlen(body);
    memcpy(pk->b, head, n);
    while (n + bl <= sizeof(pk->b)) {
        memcpy(pk->b + n, body, bl);
        n += bl;
    }
    pk->len = n;
}

static void assert_type(const struct peek *pk, const char *want)
{
    const char *got = fs_magic_type(pk->b, pk->len);
    if (want == NULL) {
        if (got != NULL) {
            fail_msg("expected NULL, got %s", got);
        }
        return;
    }
    if (got == NULL || strcmp(got, want) != 0) {
        fail_msg("expected %s, got %s", want, got ? got : "NULL");
    }
}

static const unsigned char png_head[] = {
    0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I',  'H',  'D',  'R',  0,
    0,    1,   0,   0,   0,    1,    0,    8,    6, 0, 0, 0,  0x1f, 0x15, 0xc4, 0x89,
};

static void make_png(struct peek *pk)
{
    binary(pk, png_head, sizeof(png_head));
}

static void test_binary_formats(void **state)
{
    (void)state;
    struct peek pk;
    make_png(&pk);
    assert_type(&pk, "image/png");

    static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I',
                                         'F',  0,    1,    1,    0, 0,    1,   0,   1};
    binary(&pk, jpeg, sizeof(jpeg));
    assert_type(&pk, "image/jpeg");

    static const unsigned char gif[] = "GIF89a\x10\x00\x10\x00\x80\x00\x00";
    binary(&pk, gif, sizeof(gif) - 1);
    assert_type(&pk, "image/gif");

    /* gzip: magic, deflate, no flags, mtime 0, max compression, Unix */
    static const unsigned char gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3};
    binary(&pk, gz, sizeof(gz));
    assert_type(&pk, "application/gzip");

    /* a ZIP local file header for "a.txt" (version 2.0, deflated) */
    static const unsigned char zip[] = {'P', 'K', 3, 4, 20, 0, 0,   0,   8,   0,   0,  0,
                                        0,   0,   0, 0, 0,  0, 0,   0,   0,   0,   0,  0,
                                        0,   0,   5, 0, 0,  0, 'a', '.', 't', 'x', 't'};
    binary(&pk, zip, sizeof(zip));
    assert_type(&pk, "application/zip");

    /* ELF64 little-endian, ET_EXEC, x86-64 */
    unsigned char elf[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    elf[16] = 2;    /* e_type ET_EXEC */
    elf[18] = 0x3e; /* e_machine x86-64 */
    elf[20] = 1;    /* e_version */
    binary(&pk, elf, sizeof(elf));
    assert_type(&pk, "application/x-executable");
}

static void test_pdf(void **state)
{
    (void)state;
    struct peek pk;
    text(&pk, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
         "2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n");
    assert_type(&pk, "application/pdf");
}

static void test_text_formats(void **state)
{
    (void)state;
    struct peek pk;
    text(&pk, "<!DOCTYPE html>\n<html lang=\"en\">\n<head><title>Spate</title></head>\n<body>\n",
         "<p>A paragraph of the page, long enough to fill a peek.</p>\n");
    assert_type(&pk, "text/html");

    text(&pk, "", "The quick brown fox jumps over the lazy dog. ");
    assert_type(&pk, "text/plain");

    text(&pk,
         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "
         "xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">\n",
         "<rect width=\"1\" height=\"1\"/>\n");
    assert_type(&pk, "image/svg+xml");

    /* a whole JSON document (a truncated one is not JSON to libmagic: it says text/plain) */
    static const char json[] = "{\"name\": \"spate\", \"workers\": [1, 2, 3], \"ok\": true}\n";
    assert_string_equal(fs_magic_type(json, sizeof(json) - 1), "application/json");
}

static void test_unknown(void **state)
{
    (void)state;
    struct peek pk;
    fill_random(pk.b, sizeof(pk.b));
    pk.len = sizeof(pk.b);
    /* libmagic's application/octet-stream ("data") is NULL: the caller uses default_type */
    assert_type(&pk, NULL);

    assert_null(fs_magic_type(pk.b, 0));
    assert_null(fs_magic_type("", 0));
    assert_null(fs_magic_type(NULL, 0));
}

/* only FS_MAGIC_PEEK bytes are looked at: text, then binary beyond it, is still text */
static void test_peek_bound(void **state)
{
    (void)state;
    size_t n = 3 * FS_MAGIC_PEEK;
    unsigned char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'a', FS_MAGIC_PEEK);
    for (size_t i = 0; i < FS_MAGIC_PEEK; i += 64) {
        big[i] = '\n';
    }
    fill_random(big + FS_MAGIC_PEEK, n - FS_MAGIC_PEEK);
    assert_string_equal(fs_magic_type(big, n), "text/plain");
    free(big);
}

/* a database that cannot load: NULL, a reason, no retry; a later handle loads again */
static void test_load_failure(void **state)
{
    (void)state;
    struct peek pk;
    make_png(&pk);
    fs_magic_thread_end();
    assert_string_equal(fs_magic_error(), "");
    assert_int_equal(setenv("MAGIC", "/nonexistent/spate-magic", 1), 0);
    int rc = fs_magic_warm();
    assert_true(rc < 0);
    assert_true(fs_magic_error()[0] != '\0');
    assert_int_equal(unsetenv("MAGIC"), 0);
    /* failed stays failed on this thread (a load per request would cost milliseconds) */
    assert_null(fs_magic_type(pk.b, pk.len));
    assert_int_equal(fs_magic_warm(), rc);
    fs_magic_thread_end();
    fs_magic_thread_end(); /* twice is harmless */
    assert_int_equal(fs_magic_warm(), 0);
    assert_int_equal(fs_magic_warm(), 0);
    assert_type(&pk, "image/png");
    assert_string_equal(fs_magic_error(), "");
}

struct worker {
    pthread_t tid;
    int bad; /* wrong answers */
};

static void *sniff_loop(void *arg)
{
    struct worker *w = arg;
    struct peek png, txt;
    make_png(&png);
    text(&txt, "", "plain text line after line\n"); /* no commas: that is text/csv */
    if (fs_magic_warm() != 0) {
        w->bad = -1;
        return NULL;
    }
    for (int i = 0; i < 200; i++) {
        const char *a = fs_magic_type(png.b, png.len);
        if (a == NULL || strcmp(a, "image/png") != 0) {
            w->bad++;
        }
        const char *b = fs_magic_type(txt.b, txt.len);
        if (b == NULL || strcmp(b, "text/plain") != 0) {
            w->bad++;
        }
    }
    fs_magic_thread_end();
    return NULL;
}

/* two threads at once, each with its own handle (a shared one would corrupt its answers) */
static void test_threads(void **state)
{
    (void)state;
    struct worker w[2] = {{0}};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&w[i].tid, NULL, sniff_loop, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(w[i].tid, NULL), 0);
        assert_int_equal(w[i].bad, 0);
    }
}

static int teardown(void **state)
{
    (void)state;
    fs_magic_thread_end();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_formats), cmocka_unit_test(test_pdf),
        cmocka_unit_test(test_text_formats),   cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_peek_bound),     cmocka_unit_test(test_load_failure),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
