/* Unit tests for proto/negotiate.c: the Accept-* parsers, matching, and the choosers. */
#include "common/guard.h"
#include "common/unit.h"
#include "core/base/arena.h"
#include "core/base/hash.h"
#include "proto/negotiate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHROMIUM                                                                                   \
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;"  \
    "q=0.8,application/signed-exchange;v=b3;q=0.7"

/* RFC 9110 12.5.1's example */
#define RFC_ACCEPT                                                                                 \
    "text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, text/plain;format=fixed;q=0.4, "    \
    "*/*;q=0.5"

enum {
    ACC = HTTP_NEG_ACCEPT,
    LNG = HTTP_NEG_ACCEPT_LANGUAGE,
    CS = HTTP_NEG_ACCEPT_CHARSET,
    ENC = HTTP_NEG_ACCEPT_ENCODING
};

/* A list parsed from one field line; the line is copied flush against a guard page. */
struct parsed {
    struct http_neg_list l;
    struct http_neg_item items[HTTP_NEG_ITEMS_MAX];
    struct guard_buf g;
};

static void parse(struct parsed *p, int field, const char *v)
{
    http_neg_init(&p->l, (enum http_neg_field)field, p->items, HTTP_NEG_ITEMS_MAX);
    size_t n = strlen(v);
    const char *copy = guard_copy(&p->g, v, n);
    assert_non_null(copy);
    http_neg_add(&p->l, slice_make(copy, n));
}

/* "value[params]=q" per item, space-separated: what the parser kept, for the table below. */
static void render(const struct http_neg_list *l, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (unsigned i = 0; i < l->count && o < cap; i++) {
        const struct http_neg_item *it = &l->items[i];
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s", i ? " " : "", (int)it->value.len,
                              it->value.ptr);
        if (it->params.len && o < cap) {
            o += (size_t)snprintf(out + o, cap - o, "[%.*s]", (int)it->params.len, it->params.ptr);
        }
        if (o < cap) {
            o += (size_t)snprintf(out + o, cap - o, "=%u", it->q);
        }
    }
}

struct pcase {
    int field;
    const char *v;
    const char *want; /* render() of the items kept */
    unsigned malformed;
};

static const struct pcase parse_cases[] = {
    {ACC, CHROMIUM,
     "text/html=1000 application/xhtml+xml=1000 application/xml=900 image/avif=1000 "
     "image/webp=1000 image/apng=1000 */*=800 application/signed-exchange[v=b3]=700",
     0},
    {ACC, "*/*", "*/*=1000", 0},
    {ACC, "text/*;q=0.3, text/html;q=0.7, text/html;level=1, text/html;level=2;q=0.4, */*;q=0.5",
     "text/*=300 text/html=700 text/html[level=1]=1000 text/html[level=2]=400 */*=500", 0},
    {ACC, " text/html ;  charset = \"utf-8\" ; q = 0.5 ; ext=1 ; q=0.1 ",
     "text/html[charset = \"utf-8\"]=500", 0}, /* OWS; accept-ext and a second q ignored */
    {ACC, "text/html;a=\"x,y;z\",image/png", "text/html[a=\"x,y;z\"]=1000 image/png=1000", 0},
    {ACC, "text/html;a=\"q\\\"uo\\\\te\";q=0", "text/html[a=\"q\\\"uo\\\\te\"]=0", 0},
    {ACC, "text/html;;q=0.2;", "text/html=200", 0}, /* empty parameters are allowed */
    {ACC, "TEXT/HTML;Q=0.5", "TEXT/HTML=500", 0},
    {ACC, "text/html;q=1.000,a/b;q=0.,c/d;q=1.,e/f;q=0.001,g/h;q=0",
     "text/html=1000 a/b=0 c/d=1000 e/f=1 g/h=0", 0},
    {ACC, "text/html;q=abc, image/png", "image/png=1000", 1},
    {ACC, "text/html;q=1.0001, image/png", "image/png=1000", 1},
    {ACC, "text/html;q=2, text/plain;q=1.5, a/b;q=1.001, c/d;q=-1, e/f;q=.5, g/h;q=", "", 6},
    {ACC, "text/html;q=\"0.5\"", "", 1}, /* a qvalue is not a quoted string */
    {ACC, "text/html;q=0.12345", "", 1},
    {ACC, ",, text/html ,,, ,", "text/html=1000", 0},
    {ACC, "text, text/, /html, */html, text/html/x, text/ html", "", 6},
    {ACC, "text/html;charset, a/b;=x, c/d;x=, e/f;x=\"unterminated, g/h", "", 4},
    {ACC, "text/html;a=\"bad\x01\", g/h", "g/h=1000", 1},
    {ACC, "text/html junk, g/h", "g/h=1000", 1},
    {ACC, "a/b;p=\"\\\x01\", g/h", "g/h=1000", 1},             /* a quoted-pair of a control byte */
    {ACC, "text/html junk;a=\"x\\\",y\", g/h", "g/h=1000", 1}, /* skipped past the quote */
    {ACC, "t\xc3\xa9xt/html, g/h", "g/h=1000", 1},
    {ACC, "", "", 0},
    {LNG, "en-US,en;q=0.9,ko;q=0.8,*;q=0.1", "en-US=1000 en=900 ko=800 *=100", 0},
    {LNG, "zh-Hant-TW, de-1996, x-klingon;q=0.2, i-default",
     "zh-Hant-TW=1000 de-1996=1000 "
     "x-klingon=200 i-default=1000",
     0},
    {LNG, "en_US, 123, en-, -en, toolongtag, en-*, en-US;q=x, fr", "fr=1000", 7},
    {LNG, "da, en-gb;q=0.8;ext=1", "da=1000 en-gb=800", 0},
    {CS, "utf-8, iso-8859-1;q=0.5, *;q=0.1", "utf-8=1000 iso-8859-1=500 *=100", 0},
    {CS, "utf 8, koi8-r", "koi8-r=1000", 1},
    {ENC, "gzip, deflate, br, zstd", "gzip=1000 deflate=1000 br=1000 zstd=1000", 0},
    {ENC, "gzip;q=1.0, identity; q=0.5, *;q=0", "gzip=1000 identity=500 *=0", 0},
    {ENC, "x-gzip, BR;Q=0.3", "x-gzip=1000 BR=300", 0},
    {ENC, "", "", 0},
};

static void test_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++) {
        const struct pcase *c = &parse_cases[i];
        struct parsed p;
        parse(&p, c->field, c->v);
        char got[512];
        render(&p.l, got, sizeof(got));
        if (strcmp(got, c->want) != 0 || p.l.malformed != c->malformed) {
            fail_msg("case %zu \"%s\": got \"%s\" (%u malformed), want \"%s\" (%u)", i, c->v, got,
                     p.l.malformed, c->want, c->malformed);
        }
        assert_int_equal(p.l.lines, 1);
        guard_free(&p.g);
    }
}

/* The specificity each media range records: 1 + 1 per level, + 1 per parameter. */
static void test_spec(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, ACC, "*/*, text/*, text/html, text/html;level=1, text/html;a=1;b=2;q=0.5");
    assert_int_equal(p.l.count, 5);
    const uint16_t want[] = {1, 2, 3, 4, 5};
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(p.l.items[i].spec, want[i]);
    }
    guard_free(&p.g);
}

struct mcase {
    int field;
    const char *header; /* NULL: the request has no such field */
    const char *value;
    unsigned q;
};

static struct http_neg_match match(int field, const struct http_neg_list *l, struct slice v)
{
    switch (field) {
    case ACC:
        return http_neg_type_match(l, v);
    case LNG:
        return http_neg_language_match(l, v);
    case CS:
        return http_neg_charset_match(l, v);
    default:
        return http_neg_coding_match(l, v);
    }
}

static const struct mcase match_cases[] = {
    {ACC, RFC_ACCEPT, "text/plain;format=flowed", 1000},
    {ACC, RFC_ACCEPT, "text/plain", 700},
    {ACC, RFC_ACCEPT, "text/html", 300},
    {ACC, RFC_ACCEPT, "image/jpeg", 500},
    {ACC, RFC_ACCEPT, "text/plain;format=fixed", 400},
    {ACC, RFC_ACCEPT, "text/plain; format=\"flowed\"; charset=utf-8", 1000},
    {ACC, CHROMIUM, "text/html", 1000},
    {ACC, CHROMIUM, "text/html; charset=utf-8", 1000},
    {ACC, CHROMIUM, "application/json", 800},
    {ACC, CHROMIUM, "application/xml", 900},
    {ACC, CHROMIUM, "application/signed-exchange", 800}, /* the v=b3 range needs v=b3 */
    {ACC, CHROMIUM, "application/signed-exchange;v=b3", 700},
    {ACC, CHROMIUM, "application/signed-exchange;V=b3", 700}, /* names are case-insensitive */
    {ACC, CHROMIUM, "application/signed-exchange;v=B3", 800}, /* values are not */
    {ACC, "text/html;charset=UTF-8", "text/html;charset=utf-8", 1000}, /* except charset's */
    {ACC, "*/*", "application/json", 1000},
    {ACC, NULL, "application/json", 1000},
    {ACC, "", "application/json", 1000},         /* empty: as absent */
    {ACC, "text/html;q=abc", "image/png", 1000}, /* nothing usable: as absent */
    {ACC, "text/html", "application/json", 0},
    {ACC, "text/html", "TEXT/Html", 1000},
    {ACC, "text/html", "text/htmlx", 0},
    {ACC, "text/html", "text/htm", 0},
    {ACC, "text/html", "text", 0}, /* a server type without a subtype matches nothing */
    {ACC, "text/html;q=0.5, text/html;q=0.9", "text/html", 500}, /* first of equals */
    {ACC, "*/*;q=0, text/html", "text/html", 1000},
    {ACC, "*/*;q=0, text/html", "image/png", 0},
    {ACC, "text/*;q=0, */*", "text/css", 0},
    {ACC, "text/*;q=0, */*", "image/gif", 1000},
    {ACC, "text/html;level=1", "text/html", 0},
    {ACC, "a/b;p=\"\\x\";q=0.5, */*;q=0", "a/b;p=x", 500}, /* quoted-pair undone */
    {ACC, "a/b;p=\"x\";q=0.5, */*;q=0", "a/b;p=\"x\"", 500},
    {ACC, "a/b;p=abc;q=0.5, */*;q=0", "a/b;p=ab", 0},
    {ACC, "a/b;p=ab;q=0.5, */*;q=0", "a/b;p=abc", 0},
    {ACC, "a/b;p=ab;q=0.5, */*;q=0", "a/b;x=1;p=ab;y", 500}, /* a bad server param ends the list */
    {LNG, "en-US,en;q=0.9,ko;q=0.8", "en-US", 1000},
    {LNG, "en-US,en;q=0.9,ko;q=0.8", "en-us", 1000},
    {LNG, "en-US,en;q=0.9,ko;q=0.8", "en-GB", 900},
    {LNG, "en-US,en;q=0.9,ko;q=0.8", "en", 900},
    {LNG, "en-US,en;q=0.9,ko;q=0.8", "ko", 800},
    {LNG, "en-US,en;q=0.9,ko;q=0.8", "ko-KR", 800},
    {LNG, "en-US,en;q=0.9,ko;q=0.8", "fr", 0},
    {LNG, "en-US,en;q=0.9,ko;q=0.8", "eng", 0},     /* prefix only on a "-" boundary */
    {LNG, "en-US", "en", 0},                        /* a longer range never matches a shorter tag */
    {LNG, "en, en-US;q=0.2", "en-US-x-twain", 200}, /* the longest range wins */
    {LNG, "fr, *;q=0.3", "de", 300},
    {LNG, "fr, *;q=0.3", "fr-CA", 1000},
    {LNG, "*;q=0, fr", "de", 0},
    {LNG, NULL, "de", 1000},
    {LNG, "en_US", "en", 1000}, /* nothing usable: as absent */
    {CS, "utf-8, iso-8859-1;q=0.5", "UTF-8", 1000},
    {CS, "utf-8, iso-8859-1;q=0.5", "iso-8859-1", 500},
    {CS, "utf-8, iso-8859-1;q=0.5", "koi8-r", 0},
    {CS, "utf-8, *;q=0.1", "koi8-r", 100},
    {CS, "*;q=0.1, utf-8", "utf-8", 1000}, /* a named charset beats "*" wherever it is */
    {CS, NULL, "koi8-r", 1000},
    {ENC, "br, gzip", "br", 1000},
    {ENC, "br, gzip", "zstd", 0},
    {ENC, "br, gzip", "identity", 1}, /* acceptable unless excluded, but last */
    {ENC, "br, gzip", "IDENTITY", 1},
    {ENC, "identity;q=0", "identity", 0},
    {ENC, "*;q=0", "identity", 0},
    {ENC, "*;q=0, identity", "identity", 1000},
    {ENC, "*;q=0, identity;q=0.2", "identity", 200},
    {ENC, "*;q=0.5", "identity", 500},
    {ENC, "*;q=0.5", "zstd", 500},
    {ENC, "gzip;q=0, *", "gzip", 0},
    {ENC, "gzip;q=0, *", "br", 1000},
    {ENC, "x-gzip", "gzip", 1000},
    {ENC, "gzip;q=0.3", "x-gzip", 300},
    {ENC, "x-compress", "compress", 1000},
    {ENC, "x-br", "br", 0},      /* only gzip and compress have x- aliases */
    {ENC, "", "identity", 1000}, /* empty: no coding wanted, identity only */
    {ENC, "", "gzip", 0},
    {ENC, NULL, "gzip", 1000},       /* absent: anything (RFC), see the chooser */
    {ENC, "gzip;q=2", "gzip", 1000}, /* nothing usable: as absent */
};

static void test_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(match_cases); i++) {
        const struct mcase *c = &match_cases[i];
        struct parsed p;
        http_neg_init(&p.l, (enum http_neg_field)c->field, p.items, HTTP_NEG_ITEMS_MAX);
        bool guarded = c->header != NULL;
        if (guarded) {
            parse(&p, c->field, c->header);
        }
        /* the server's value flush against a guard page too */
        struct guard_buf g;
        size_t n = strlen(c->value);
        const char *v = guard_copy(&g, c->value, n);
        struct http_neg_match m = match(c->field, &p.l, slice_make(v, n));
        if (m.q != c->q) {
            fail_msg("case %zu: \"%s\" against \"%s\": q=%u, want %u", i, c->value,
                     c->header ? c->header : "(absent)", m.q, c->q);
        }
        guard_free(&g);
        if (guarded) {
            guard_free(&p.g);
        }
    }
}

static void test_match_details(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, ACC, CHROMIUM);
    struct http_neg_match m = http_neg_type_match(&p.l, SLICE_LIT("image/webp"));
    assert_int_equal(m.q, 1000);
    assert_int_equal(m.spec, 3);
    assert_int_equal(m.index, 4);
    m = http_neg_type_match(&p.l, SLICE_LIT("font/woff2"));
    assert_int_equal(m.spec, 1);
    assert_int_equal(m.index, 6);
    assert_int_equal(http_neg_type_q(&p.l, SLICE_LIT("application/json")), 800);
    assert_true(http_neg_type_q(&p.l, SLICE_LIT("text/html")) >
                http_neg_type_q(&p.l, SLICE_LIT("application/json")));
    guard_free(&p.g);

    parse(&p, LNG, "de, en;q=0.5, en-GB-oed;q=0.7, *;q=0.1");
    m = http_neg_language_match(&p.l, SLICE_LIT("en-GB-oed"));
    assert_int_equal(m.q, 700);
    assert_int_equal(m.index, 2);
    assert_int_equal(m.spec, 10);
    m = http_neg_language_match(&p.l, SLICE_LIT("pt"));
    assert_int_equal(m.q, 100);
    assert_int_equal(m.spec, 1);
    assert_int_equal(m.index, 3);
    m = http_neg_language_match(&p.l, SLICE_LIT(""));
    assert_int_equal(m.q, 100); /* an empty tag matches only "*" */
    guard_free(&p.g);

    /* absent: q=1000, no deciding element, and the caller can tell */
    struct http_neg_list none;
    http_neg_init(&none, HTTP_NEG_ACCEPT_LANGUAGE, NULL, 0);
    assert_true(http_neg_absent(&none));
    assert_true(http_neg_absent(NULL));
    m = http_neg_language_match(&none, SLICE_LIT("ko"));
    assert_int_equal(m.q, 1000);
    assert_int_equal(m.index, HTTP_NEG_NONE);
}

static void test_absent(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, LNG, "en");
    assert_false(http_neg_absent(&p.l));
    guard_free(&p.g);
    parse(&p, LNG, "");
    assert_true(http_neg_absent(&p.l));
    guard_free(&p.g);
    parse(&p, ACC, ",,,");
    assert_true(http_neg_absent(&p.l));
    guard_free(&p.g);
    parse(&p, ENC, ""); /* empty Accept-Encoding means something */
    assert_false(http_neg_absent(&p.l));
    guard_free(&p.g);
    parse(&p, ENC, "gzip;q=x");
    assert_true(http_neg_absent(&p.l));
    guard_free(&p.g);
}

/* Several field lines of one name are one list, in order. */
static void test_lines(void **state)
{
    (void)state;
    struct http_neg_item items[4];
    struct http_neg_list l;
    http_neg_init(&l, HTTP_NEG_ACCEPT, items, 4);
    http_neg_add(&l, SLICE_LIT("text/html;q=0.5"));
    http_neg_add(&l, SLICE_LIT(""));
    http_neg_add(&l, SLICE_LIT("application/json, */*;q=0.1"));
    assert_int_equal(l.lines, 3);
    assert_int_equal(l.count, 3);
    assert_int_equal(http_neg_type_q(&l, SLICE_LIT("text/html")), 500);
    assert_int_equal(http_neg_type_q(&l, SLICE_LIT("application/json")), 1000);
    assert_int_equal(http_neg_type_q(&l, SLICE_LIT("image/png")), 100);
    /* past cap: the rest is ignored and counted, the first choices stand */
    http_neg_add(&l, SLICE_LIT("image/png, image/gif;a=\"x,y\", image/jpeg"));
    assert_int_equal(l.count, 4);
    assert_int_equal(l.overflowed, 2);
    assert_int_equal(http_neg_type_q(&l, SLICE_LIT("image/png")), 1000);
    assert_int_equal(http_neg_type_q(&l, SLICE_LIT("image/gif")), 100);
}

/* The same through the request's header table, duplicates chained by hdr_next_dup. */
static void test_add_fields(void **state)
{
    (void)state;
    hash_set_seed(7);
    hdr_known_init();
    struct arena_pool pool;
    struct arena a;
    arena_pool_init(&pool, 4096, 2);
    arena_init(&a, &pool, 0);
    struct hdr_table t;
    assert_int_equal(hdr_table_init(&t, &a, 8), 0);
    const char *hs[][2] = {{"Accept-Language", "ko"},
                           {"Host", "x"},
                           {"accept-language", "en;q=0.5"},
                           {"ACCEPT-LANGUAGE", "de;q=0.1"}};
    for (size_t i = 0; i < ARRAY_SIZE(hs); i++) {
        struct slice n = slice_cstr(hs[i][0]);
        assert_int_equal(
            hdr_table_add(&t, &a, n, slice_cstr(hs[i][1]), hash_bytes_lower(n.ptr, n.len)), 0);
    }
    assert_int_equal(hdr_table_index(&t, &a), 0);
    struct http_neg_item items[HTTP_NEG_ITEMS_MAX];
    struct http_neg_list l;
    http_neg_init(&l, HTTP_NEG_ACCEPT_LANGUAGE, items, HTTP_NEG_ITEMS_MAX);
    http_neg_add_fields(&l, &t, SLICE_LIT("accept-language"));
    assert_int_equal(l.lines, 3);
    assert_int_equal(l.count, 3);
    assert_int_equal(http_neg_language_match(&l, SLICE_LIT("en-US")).q, 500);
    assert_int_equal(http_neg_language_match(&l, SLICE_LIT("de")).index, 2);
    http_neg_init(&l, HTTP_NEG_ACCEPT, items, HTTP_NEG_ITEMS_MAX);
    http_neg_add_fields(&l, &t, SLICE_LIT("accept"));
    assert_int_equal(l.lines, 0);
    assert_true(http_neg_absent(&l));
    arena_release(&a);
    arena_pool_destroy(&pool);
}

struct ccase {
    const char *header; /* NULL: no Accept-Encoding */
    const char *offered[5];
    int want;
};

static const struct ccase coding_cases[] = {
    {"br, gzip", {"br", "zstd", "gzip", "identity"}, 0},
    {"gzip, br", {"br", "zstd", "gzip", "identity"}, 0}, /* ties: the server's order */
    {"gzip;q=0.5, br;q=0.4", {"br", "zstd", "gzip", "identity"}, 2},
    {"gzip;q=0.5, br;q=0.4", {"identity", "br", "zstd", "gzip"}, 3}, /* not identity first */
    {"br, gzip", {"identity"}, 0}, /* but identity when nothing else */
    {"gzip;q=0.5, br;q=0.4, identity;q=0", {"br", "zstd", "gzip", "identity"}, 2},
    {"gzip;q=0.5, br;q=0.4", {"br", "zstd", "gzip"}, 2},
    {"gzip, deflate, br, zstd", {"br", "zstd", "gzip", "identity"}, 0},
    {"gzip, deflate, br, zstd", {"zstd", "br", "gzip", "identity"}, 0},
    {"gzip, deflate", {"br", "zstd", "gzip", "identity"}, 2},
    {"identity;q=0", {"identity"}, -1},
    {"identity;q=0", {NULL}, -1},
    {"*;q=0", {"identity"}, -1},
    {"*;q=0", {"br", "identity"}, -1},
    {"*;q=0, gzip", {"br", "gzip", "identity"}, 1},
    {"*", {"br", "gzip", "identity"}, 0},
    {"br;q=0, *", {"br", "gzip", "identity"}, 1},
    {"x-gzip", {"br", "gzip", "identity"}, 1},
    {"", {"br", "gzip", "identity"}, 2}, /* empty: identity only */
    {"", {"br", "gzip"}, -1},
    {NULL, {"br", "gzip", "identity"}, 2}, /* absent: identity, as nginx does */
    {NULL, {"br", "gzip"}, 0},
    {"gzip;q=abc", {"br", "gzip", "identity"}, 2}, /* malformed: as absent */
    {"BR", {"br", "identity"}, 0},
};

static void test_choose_coding(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(coding_cases); i++) {
        const struct ccase *c = &coding_cases[i];
        struct parsed p;
        http_neg_init(&p.l, HTTP_NEG_ACCEPT_ENCODING, p.items, HTTP_NEG_ITEMS_MAX);
        if (c->header) {
            parse(&p, ENC, c->header);
        }
        struct slice off[5];
        unsigned n = 0;
        while (n < 5 && c->offered[n]) {
            off[n] = slice_cstr(c->offered[n]);
            n++;
        }
        int got = http_neg_choose_coding(&p.l, off, n);
        if (got != c->want) {
            fail_msg("case %zu \"%s\": chose %d, want %d", i, c->header ? c->header : "(absent)",
                     got, c->want);
        }
        if (c->header) {
            guard_free(&p.g);
        }
    }
}

struct vcase {
    const char *accept, *language, *charset; /* NULL: absent */

    struct {
        const char *type, *lang, *cs;
        unsigned qs;
    } v[4];

    unsigned n;
    int want;
    unsigned vary;
};

#define V_AL (HTTP_NEG_VARY_ACCEPT | HTTP_NEG_VARY_LANGUAGE)

static const struct vcase variant_cases[] = {
    /* chromium prefers the page to the JSON */
    {CHROMIUM,
     NULL,
     NULL,
     {{"application/json", "", "", 1000}, {"text/html", "", "", 1000}},
     2,
     1,
     HTTP_NEG_VARY_ACCEPT},
    /* curl's */
    {"*/*",
     NULL,
     NULL,
     {{"application/json", "", "", 1000}, {"text/html", "", "", 1000}},
     2,
     0,
     HTTP_NEG_VARY_ACCEPT},
    /* the server's qs decides when the client does not care */
    {"*/*",
     NULL,
     NULL,
     {{"application/json", "", "", 500}, {"text/html", "", "", 1000}},
     2,
     1,
     HTTP_NEG_VARY_ACCEPT},
    /* the product: 0.8 * 1 beats 1 * 0.7 */
    {"text/html, image/*;q=0.8",
     NULL,
     NULL,
     {{"text/html", "", "", 700}, {"image/png", "", "", 1000}},
     2,
     1,
     HTTP_NEG_VARY_ACCEPT},
    /* equal scores: the more specific range wins (image/png over image/any) */
    {"image/png, image/*",
     NULL,
     NULL,
     {{"image/gif", "", "", 1000}, {"image/png", "", "", 1000}},
     2,
     1,
     HTTP_NEG_VARY_ACCEPT},
    /* languages */
    {NULL,
     "ko, en;q=0.8",
     NULL,
     {{"text/html", "en", "", 1000}, {"text/html", "ko", "", 1000}},
     2,
     1,
     HTTP_NEG_VARY_LANGUAGE},
    {NULL,
     "en-US, en;q=0.9",
     NULL,
     {{"text/html", "de", "", 1000}, {"text/html", "en", "", 1000}},
     2,
     1,
     HTTP_NEG_VARY_LANGUAGE},
    /* equal q: the language the client listed first */
    {NULL,
     "fr, de",
     NULL,
     {{"text/html", "de", "", 1000}, {"text/html", "fr", "", 1000}},
     2,
     1,
     HTTP_NEG_VARY_LANGUAGE},
    /* no language: beaten by the one asked for, beats one not asked for */
    {NULL,
     "ko",
     NULL,
     {{"text/html", "", "", 1000}, {"text/html", "ko", "", 1000}},
     2,
     1,
     HTTP_NEG_VARY_LANGUAGE},
    {NULL,
     "ko",
     NULL,
     {{"text/html", "ja", "", 1000}, {"text/html", "", "", 1000}},
     2,
     1,
     HTTP_NEG_VARY_LANGUAGE},
    /* no language takes "*"'s q: here it beats en at 0.3 */
    {NULL,
     "en;q=0.3, *;q=0.5",
     NULL,
     {{"text/html", "en", "", 1000}, {"text/html", "", "", 1000}},
     2,
     1,
     HTTP_NEG_VARY_LANGUAGE},
    /* Accept-Language absent: every variant 1, the first one given */
    {NULL,
     NULL,
     NULL,
     {{"text/html", "en", "", 1000}, {"text/html", "ko", "", 1000}},
     2,
     0,
     HTTP_NEG_VARY_LANGUAGE},
    /* nothing acceptable */
    {"image/png",
     "ko",
     NULL,
     {{"text/html", "en", "", 1000}, {"text/html", "ko", "", 1000}},
     2,
     -1,
     HTTP_NEG_VARY_LANGUAGE},
    {NULL,
     "ko",
     NULL,
     {{"text/html", "en", "", 1000}, {"text/html", "ja", "", 1000}},
     2,
     -1,
     HTTP_NEG_VARY_LANGUAGE},
    {NULL, NULL, NULL, {{"text/html", "", "", 0}}, 1, -1, 0},    /* qs 0: never */
    {NULL, NULL, NULL, {{"text/html", "", "", 1000}}, 0, -1, 0}, /* no variants */
    /* charsets */
    {NULL,
     NULL,
     "utf-8, iso-8859-1;q=0.5",
     {{"text/html", "", "iso-8859-1", 1000}, {"text/html", "", "utf-8", 1000}},
     2,
     1,
     HTTP_NEG_VARY_CHARSET},
    {NULL,
     NULL,
     "utf-8",
     {{"text/html", "", "koi8-r", 1000}, {"image/png", "", "", 1000}},
     2,
     1,
     HTTP_NEG_VARY_ACCEPT | HTTP_NEG_VARY_CHARSET},
    /* all three, and the tie on score down to the variant order */
    {"text/html, application/json",
     "en, ko",
     NULL,
     {{"application/json", "en", "", 1000},
      {"text/html", "ko", "", 1000},
      {"text/html", "en", "", 1000},
      {"application/json", "ko", "", 1000}},
     4,
     0,
     V_AL},
    {"text/html;q=0.9, application/json",
     "en;q=0.5, ko",
     NULL,
     {{"application/json", "en", "", 1000},
      {"text/html", "ko", "", 1000},
      {"text/html", "en", "", 1000},
      {"application/json", "ko", "", 1000}},
     4,
     3,
     V_AL},
    /* an empty type is not negotiated on type */
    {"text/html", NULL, NULL, {{"", "", "", 1000}}, 1, 0, 0},
};

static void test_choose_variant(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(variant_cases); i++) {
        const struct vcase *c = &variant_cases[i];
        struct parsed pa, pl, pc;
        struct http_neg_request req = {NULL, NULL, NULL};
        if (c->accept) {
            parse(&pa, ACC, c->accept);
            req.accept = &pa.l;
        }
        if (c->language) {
            parse(&pl, LNG, c->language);
            req.language = &pl.l;
        }
        if (c->charset) {
            parse(&pc, CS, c->charset);
            req.charset = &pc.l;
        }
        struct http_neg_variant v[4];
        for (unsigned k = 0; k < 4; k++) {
            v[k].type = slice_cstr(c->v[k].type);
            v[k].language = slice_cstr(c->v[k].lang);
            v[k].charset = slice_cstr(c->v[k].cs);
            v[k].qs = (uint16_t)c->v[k].qs;
        }
        unsigned vary = 99;
        int got = http_neg_choose_variant(&req, v, c->n, &vary);
        if (got != c->want || vary != c->vary) {
            fail_msg("case %zu: chose %d vary %u, want %d vary %u", i, got, vary, c->want, c->vary);
        }
        assert_int_equal(http_neg_choose_variant(&req, v, c->n, NULL), got);
        if (c->accept) {
            guard_free(&pa.g);
        }
        if (c->language) {
            guard_free(&pl.g);
        }
        if (c->charset) {
            guard_free(&pc.g);
        }
    }
}

static void test_vary_text(void **state)
{
    (void)state;
    assert_int_equal(http_neg_vary_text(0).len, 0);
    assert_true(slice_eq(http_neg_vary_text(HTTP_NEG_VARY_ACCEPT), SLICE_LIT("Accept")));
    assert_true(slice_eq(http_neg_vary_text(V_AL), SLICE_LIT("Accept, Accept-Language")));
    assert_true(
        slice_eq(http_neg_vary_text(7), SLICE_LIT("Accept, Accept-Language, Accept-Charset")));
}

/* A list far past cap, and one huge element: bounded, and the first elements kept. */
static void test_huge(void **state)
{
    (void)state;
    size_t cap = 200000;
    char *v = malloc(cap);
    assert_non_null(v);
    size_t o = 0;
    for (int i = 0; o + 32 < cap; i++) {
        o += (size_t)snprintf(v + o, cap - o, "%sa%d/b;q=0.%d", i ? "," : "", i, i % 10);
    }
    struct parsed p;
    http_neg_init(&p.l, HTTP_NEG_ACCEPT, p.items, HTTP_NEG_ITEMS_MAX);
    const char *g = guard_copy(&p.g, v, o);
    http_neg_add(&p.l, slice_make(g, o));
    assert_int_equal(p.l.count, HTTP_NEG_ITEMS_MAX);
    assert_true(p.l.overflowed > 10000);
    assert_int_equal(http_neg_type_q(&p.l, SLICE_LIT("a3/b")), 300);
    assert_int_equal(http_neg_type_q(&p.l, SLICE_LIT("a5000/b")), 0);
    guard_free(&p.g);

    memset(v, 'a', o);
    v[o / 2] = '/';
    parse(&p, ACC, ""); /* re-init */
    guard_free(&p.g);
    g = guard_copy(&p.g, v, o);
    http_neg_add(&p.l, slice_make(g, o));
    assert_int_equal(p.l.count, 0); /* a 200 kB media range: malformed, not truncated */
    assert_int_equal(p.l.malformed, 1);
    guard_free(&p.g);
    memcpy(v + 500, "/", 1); /* a 1 kB one is fine: "a{500}/a{499};q=0" */
    memcpy(v + 1000, ";q=0", 4);
    g = guard_copy(&p.g, v, 1004);
    http_neg_add(&p.l, slice_make(g, 1004));
    assert_int_equal(p.l.count, 1);
    assert_int_equal(p.l.items[0].type_len, 500);
    assert_int_equal(p.l.items[0].q, 0);
    guard_free(&p.g);
    free(v);
}

/*
 * Every prefix of tricky values, and random bytes, flush against a guard page in
 * every field: no over-read, no crash, and the counts add up.
 */
static void test_robust(void **state)
{
    (void)state;
    static const char *const vals[] = {
        CHROMIUM,
        "text/html;a=\"x\\\"y,z\";q=0.5, */*;q=0",
        "en-US,en;q=0.9,*;q=0.1",
        "gzip;q=1.0, identity; q=0.5, *;q=0",
        "a/b;q=0.123;x=\"\\",
        "\"\"\",,;;==//**",
    };
    for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
        size_t n = strlen(vals[i]);
        for (size_t len = 0; len <= n; len++) {
            for (int f = ACC; f <= ENC; f++) {
                struct parsed p;
                http_neg_init(&p.l, (enum http_neg_field)f, p.items, HTTP_NEG_ITEMS_MAX);
                const char *g = guard_copy(&p.g, vals[i], len);
                http_neg_add(&p.l, slice_make(g, len));
                (void)match(f, &p.l, slice_make(g, len));
                guard_free(&p.g);
            }
        }
    }
    srand(12345);
    static const char alphabet[] = "a/*;q=0.15,\" \\\t-x";
    for (int round = 0; round < 3000; round++) {
        char buf[64];
        size_t len = (size_t)(rand() % (int)sizeof(buf));
        for (size_t k = 0; k < len; k++) {
            buf[k] = round % 3 == 0 ? (char)rand() : alphabet[rand() % (int)(sizeof(alphabet) - 1)];
        }
        int f = round % 4;
        struct parsed p;
        http_neg_init(&p.l, (enum http_neg_field)f, p.items, 4);
        const char *g = guard_copy(&p.g, buf, len);
        http_neg_add(&p.l, slice_make(g, len));
        assert_true(p.l.count <= 4);
        for (unsigned k = 0; k < p.l.count; k++) {
            assert_true(p.l.items[k].q <= HTTP_NEG_Q_ONE);
            assert_true(p.l.items[k].value.len > 0);
        }
        (void)match(f, &p.l, slice_make(g, len));
        guard_free(&p.g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),          cmocka_unit_test(test_spec),
        cmocka_unit_test(test_match),          cmocka_unit_test(test_match_details),
        cmocka_unit_test(test_absent),         cmocka_unit_test(test_lines),
        cmocka_unit_test(test_add_fields),     cmocka_unit_test(test_choose_coding),
        cmocka_unit_test(test_choose_variant), cmocka_unit_test(test_vary_text),
        cmocka_unit_test(test_huge),           cmocka_unit_test(test_robust),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
