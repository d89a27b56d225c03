/* Unit tests for fs/htpasswd.c: what htpasswd and openssl passwd write, and what is refused. */
#include "common/unit.h"
#include "fs/htpasswd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Written by apache2-utils' htpasswd (-nb[mBsd25] u p) and openssl passwd (-1 -5 -6 -apr1). */
static const struct {
    const char *hash;
    enum htpasswd_kind kind;
} known[] = {
    {"$apr1$Tpr8d/et$KJh7VJoRXfaebekXbICMC/", HTPW_APR1},
    {"$2y$05$B67/enQ4K4ZcVoVbgruOjeTy3TC7baPF2HTG.bwe2P5SCrRky3Bsi", HTPW_BCRYPT},
    {"$2b$10$B67/enQ4K4ZcVoVbgruOjeTy3TC7baPF2HTG.bwe2P5SCrRky3Bsi", HTPW_BCRYPT},
    {"{SHA}UWuXg/ylF+7L0dBk2i0WUxCxl1k=", HTPW_SHA1},
    {"1tPJ2XeLjStBU", HTPW_DES},
    {"$5$YrBgDXkmYgzdPt43$N05//NgCffvzX6uQ3ryhokd6QsOIjI1Z7R.tFqrmnoA", HTPW_SHA256},
    {"$6$ZUPhwTi9PKBaSlVd$JNrrZfiRFnugVtWKvOJxQYi50bH8e2eWy6.ylTJrW7zRsx3lUMohqWDT1xKgJLstfVmblWA"
     "vqQsnXLl5jvH.R/",
     HTPW_SHA512},
    {"$5$rounds=10000$YrBgDXkmYgzdPt43$N05//NgCffvzX6uQ3ryhokd6QsOIjI1Z7R.tFqrmnoA", HTPW_SHA256},
    {"$1$vGfiXDGz$lIx.2k9XWeMt2uRPuSo0c/", HTPW_MD5},
    {"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7", HTPW_YESCRYPT},
};

/* Not hashes: each is what `htpasswd -p` (or a hand) would write. */
static const char *const plain[] = {
    "secret",
    "",
    "hunter2!",
    "$apr1$",
    "$apr1$salt$",
    "$2y$05$short",
    "{SHA}abc",
    "{SHA}UWuXg/ylF+7L0dBk2i0WUxCxl1k",
    "1tPJ2XeLjStB",
    "1tPJ2XeLjStB!",
    "$6$salt$bad digest!",
    "$9$abc$defghijklmnopqrstuvwxyz",
};

static void test_kinds(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        enum htpasswd_kind k = htpasswd_kind_of(slice_cstr(known[i].hash));
        if (k != known[i].kind) {
            fail_msg("%s: kind %s, want %s", known[i].hash, htpasswd_kind_name(k),
                     htpasswd_kind_name(known[i].kind));
        }
    }
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        if (htpasswd_kind_of(slice_cstr(plain[i])) != HTPW_UNKNOWN) {
            fail_msg("\"%s\" was taken for a hash", plain[i]);
        }
    }
    assert_string_equal(htpasswd_kind_name(HTPW_BCRYPT), "bcrypt");
    assert_string_equal(htpasswd_kind_name(HTPW_UNKNOWN), "plaintext");
}

static struct htpasswd *parse_ok(const char *text)
{
    struct htpasswd *h;
    struct htpasswd_error err;
    int rc = htpasswd_parse(text, strlen(text), &h, &err);
    if (rc != 0) {
        fail_msg("refused (%d) at line %u: %s", rc, err.line, err.msg);
    }
    return h;
}

static void refused(const char *text, size_t len, unsigned line, const char *msg_part)
{
    struct htpasswd *h = (struct htpasswd *)1;
    struct htpasswd_error err;
    assert_int_equal(htpasswd_parse(text, len, &h, &err), -EINVAL);
    assert_null(h);
    if (err.line != line || !strstr(err.msg, msg_part)) {
        fail_msg("line %u \"%s\", want line %u with \"%s\"", err.line, err.msg, line, msg_part);
    }
}

static void test_file(void **state)
{
    (void)state;
    struct htpasswd *h = parse_ok("# written by htpasswd\n"
                                  "\n"
                                  "alice:$apr1$Tpr8d/et$KJh7VJoRXfaebekXbICMC/\r\n"
                                  "   \t\n"
                                  "bob:{SHA}UWuXg/ylF+7L0dBk2i0WUxCxl1k=:Bob, room 12\n"
                                  "  # an indented comment\n"
                                  "carol:$2y$05$B67/enQ4K4ZcVoVbgruOjeTy3TC7baPF2HTG.bwe2P5SCrRk"
                                  "y3Bsi\n"
                                  "alice:$1$vGfiXDGz$lIx.2k9XWeMt2uRPuSo0c/\n"
                                  "dave:1tPJ2XeLjStBU");
    assert_int_equal(h->n, 4);
    const struct htpasswd_entry *e = htpasswd_find(h, SLICE_LIT("alice"));
    assert_non_null(e);
    /* the first line of a name wins (Apache, nginx); the CR is not part of the hash */
    assert_string_equal(e->hash, "$apr1$Tpr8d/et$KJh7VJoRXfaebekXbICMC/");
    assert_int_equal(e->kind, HTPW_APR1);
    assert_int_equal(e->line, 3);
    e = htpasswd_find(h, SLICE_LIT("bob"));
    assert_non_null(e);
    assert_string_equal(e->hash, "{SHA}UWuXg/ylF+7L0dBk2i0WUxCxl1k="); /* the comment is not */
    assert_int_equal(e->kind, HTPW_SHA1);
    e = htpasswd_find(h, SLICE_LIT("carol"));
    assert_non_null(e);
    assert_int_equal(e->kind, HTPW_BCRYPT);
    e = htpasswd_find(h, SLICE_LIT("dave")); /* no newline at the end */
    assert_non_null(e);
    assert_int_equal(e->kind, HTPW_DES);
    assert_int_equal(e->line, 9);
    assert_null(htpasswd_find(h, SLICE_LIT("eve")));
    assert_null(htpasswd_find(h, SLICE_LIT("alic")));
    assert_null(htpasswd_find(h, SLICE_LIT("alice2")));
    assert_null(htpasswd_find(h, SLICE_LIT("")));
    htpasswd_free(h);

    /* an empty file, or one of comments only: valid, with nobody in it */
    h = parse_ok("");
    assert_int_equal(h->n, 0);
    assert_null(htpasswd_find(h, SLICE_LIT("alice")));
    htpasswd_free(h);
    h = parse_ok("# nobody yet\n\n");
    assert_int_equal(h->n, 0);
    htpasswd_free(h);
}

static void test_many(void **state)
{
    (void)state;
    size_t cap = 5000 * 64, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 4999; i >= 0; i--) {
        len += (size_t)snprintf(text + len, cap - len,
                                "user%d:$apr1$Tpr8d/et$KJh7VJoRXfaebekXbICMC/\n", i);
    }
    struct htpasswd *h;
    struct htpasswd_error err;
    assert_int_equal(htpasswd_parse(text, len, &h, &err), 0);
    assert_int_equal(h->n, 5000);
    char name[32];
    for (int i = 0; i < 5000; i += 7) {
        snprintf(name, sizeof(name), "user%d", i);
        const struct htpasswd_entry *e = htpasswd_find(h, slice_cstr(name));
        assert_non_null(e);
        assert_string_equal(e->user, name);
        assert_int_equal(e->line, 5000 - i);
    }
    assert_null(htpasswd_find(h, SLICE_LIT("user5000")));
    htpasswd_free(h);
    free(text);
}

static void test_refused(void **state)
{
    (void)state;
    /* htpasswd -p: the file is refused, at the line, naming the user */
    const char *t = "alice:$apr1$Tpr8d/et$KJh7VJoRXfaebekXbICMC/\n# x\nbob:hunter2\n";
    refused(t, strlen(t), 3, "\"bob\" is not a hash");
    t = "alice:$apr1$Tpr8d/et$KJh7VJoRXfaebekXbICMC/\nbob:\n";
    refused(t, strlen(t), 2, "plaintext");
    /* lines that are no account */
    t = "alice:$apr1$Tpr8d/et$KJh7VJoRXfaebekXbICMC/\njust some words\n";
    refused(t, strlen(t), 2, "no \"user:hash\"");
    t = ":$apr1$Tpr8d/et$KJh7VJoRXfaebekXbICMC/\n";
    refused(t, strlen(t), 1, "without a user name");
    t = "al\x01ice:$apr1$Tpr8d/et$KJh7VJoRXfaebekXbICMC/\n";
    refused(t, strlen(t), 1, "control character");
    static const char nul[] = "alice:$apr1$Tpr8d/et$KJh7VJoRXfaebekXbICMC/\n\nb\0b:x\n";
    refused(nul, sizeof(nul) - 1, 3, "NUL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
