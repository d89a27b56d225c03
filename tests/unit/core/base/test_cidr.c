/* Unit tests for core/base/cidr.c: parsing, first-match order, IPv4-mapped addresses, and the
 * tries against a linear first-match scan (what nginx does) on random rule sets. */
#include "common/unit.h"
#include "core/base/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static struct cidr_prefix P(const char *text)
{
    struct cidr_prefix p;
    char err[128];
    assert_true(cidr_parse(text, &p, err, sizeof(err)) >= 0);
    return p;
}

static uint32_t look4(const struct cidr_table *t, const char *a)
{
    struct sockaddr_in s = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
    return cidr_lookup(t, (const struct sockaddr *)&s);
}

static uint32_t look6(const struct cidr_table *t, const char *a)
{
    struct sockaddr_in6 s = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
    return cidr_lookup(t, (const struct sockaddr *)&s);
}

/* A table of rules given first to last (values 1..n), added last to first as cidr.h wants. */
static struct cidr_table *table(const char *const *rules, unsigned n)
{
    struct cidr_table *t = cidr_table_new();
    assert_non_null(t);
    for (unsigned i = n; i-- > 0;) {
        struct cidr_prefix p = P(rules[i]);
        assert_int_equal(cidr_table_add(t, &p, i + 1), 0);
    }
    return t;
}

static void test_parse(void **state)
{
    (void)state;
    struct cidr_prefix p;
    char err[128];
    assert_int_equal(cidr_parse("all", &p, err, sizeof(err)), 0);
    assert_int_equal(p.family, CIDR_ALL);
    assert_int_equal(cidr_parse("10.1.2.3", &p, err, sizeof(err)), 0);
    assert_int_equal(p.family, CIDR_V4);
    assert_int_equal(p.bits, 32);
    assert_int_equal(cidr_parse("10.0.0.0/8", &p, err, sizeof(err)), 0);
    assert_int_equal(p.bits, 8);
    assert_int_equal(cidr_parse("2001:db8::/32", &p, err, sizeof(err)), 0);
    assert_int_equal(p.family, CIDR_V6);
    assert_int_equal(p.bits, 32);
    assert_int_equal(cidr_parse("::1", &p, err, sizeof(err)), 0);
    assert_int_equal(p.bits, 128);
    assert_int_equal(cidr_parse("0.0.0.0/0", &p, err, sizeof(err)), 0);
    assert_int_equal(p.bits, 0);
    /* nginx's "low address bits are meaningless": accepted, cleared, said */
    assert_int_equal(cidr_parse("10.1.2.3/8", &p, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "meaningless"));
    assert_int_equal(p.addr[1], 0);
    assert_int_equal(cidr_parse("2001:db8::1/32", &p, err, sizeof(err)), 1);

    static const char *const bad[] = {"", "10.0.0", "10.0.0.256", "10.0.0.0/33", "::/129",
                                      "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "host",
                                      "1.2.3.4/ 8", "gggg::", "10.0.0.0/8/8",
                                      "0123456789012345678901234567890123456789012345678901"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(cidr_parse(bad[i], &p, err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
    }
}

static void test_order(void **state)
{
    (void)state;
    /* deny 192.168.1.1; allow 192.168.1.0/24; allow 10.1.1.0/16; allow 2001:0db8::/32; deny all */
    static const char *const rules[] = {"192.168.1.1", "192.168.1.0/24", "10.1.0.0/16",
                                        "2001:db8::/32", "all"};
    struct cidr_table *t = table(rules, 5);
    assert_int_equal(look4(t, "192.168.1.1"), 1);
    assert_int_equal(look4(t, "192.168.1.2"), 2);
    assert_int_equal(look4(t, "192.168.1.255"), 2);
    assert_int_equal(look4(t, "192.168.2.1"), 5);
    assert_int_equal(look4(t, "10.1.200.7"), 3);
    assert_int_equal(look4(t, "10.2.0.0"), 5);
    assert_int_equal(look6(t, "2001:db8::5"), 4);
    assert_int_equal(look6(t, "2001:db9::5"), 5);
    assert_int_equal(look6(t, "::1"), 5);
    cidr_table_free(t);

    /* a broad rule first hides the narrow ones after it */
    static const char *const broad[] = {"10.0.0.0/8", "10.1.2.3", "10.1.0.0/16"};
    t = table(broad, 3);
    assert_int_equal(look4(t, "10.1.2.3"), 1);
    assert_int_equal(look4(t, "10.1.9.9"), 1);
    assert_int_equal(look4(t, "11.0.0.0"), 0);
    assert_int_equal(look6(t, "::a01:203"), 0); /* not a mapped address: IPv6 rules only */
    cidr_table_free(t);

    /* no rules: nothing matches */
    t = cidr_table_new();
    assert_int_equal(look4(t, "1.2.3.4"), 0);
    assert_int_equal(look6(t, "::"), 0);
    cidr_table_free(t);
}

static void test_mapped(void **state)
{
    (void)state;
    static const char *const rules[] = {"127.0.0.1", "::ffff:10.0.0.0/104", "::1"};
    struct cidr_table *t = table(rules, 3);
    /* a dual-stack listener's IPv4 client is ::ffff:a.b.c.d: looked up as IPv4 */
    assert_int_equal(look6(t, "::ffff:127.0.0.1"), 1);
    assert_int_equal(look4(t, "127.0.0.1"), 1);
    /* an IPv6 rule inside ::ffff:0:0/96 is an IPv4 rule too */
    assert_int_equal(look4(t, "10.9.8.7"), 2);
    assert_int_equal(look6(t, "::ffff:10.9.8.7"), 2);
    assert_int_equal(look4(t, "11.0.0.1"), 0);
    assert_int_equal(look6(t, "::1"), 3);
    assert_int_equal(look4(t, "0.0.0.1"), 0); /* ::1 is not 0.0.0.1 */
    cidr_table_free(t);

    /* a family rule: ::/0 is IPv6 only, 0.0.0.0/0 IPv4 only, all is both */
    static const char *const fam[] = {"::/0", "0.0.0.0/0"};
    t = table(fam, 2);
    assert_int_equal(look6(t, "2001:db8::1"), 1);
    assert_int_equal(look4(t, "8.8.8.8"), 2);
    assert_int_equal(look6(t, "::ffff:8.8.8.8"), 2);
    cidr_table_free(t);
    static const char *const all[] = {"all"};
    t = table(all, 1);
    assert_int_equal(look6(t, "2001:db8::1"), 1);
    assert_int_equal(look4(t, "8.8.8.8"), 1);
    cidr_table_free(t);
}

/* ---- random rule sets against a linear scan */

struct rule {
    bool v6;
    unsigned bits;
    uint8_t a[16];
};

static bool covers(const struct rule *r, const uint8_t *a, bool v6)
{
    if (r->v6 != v6) {
        return false;
    }
    for (unsigned b = 0; b < r->bits; b++) {
        unsigned m = 0x80u >> (b % 8);
        if ((r->a[b / 8] & m) != (a[b / 8] & m)) {
            return false;
        }
    }
    return true;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void random_rule(struct rule *r, bool v6)
{
    memset(r, 0, sizeof(*r));
    r->v6 = v6;
    unsigned max = v6 ? 128 : 32;
    /* clustered in a few networks so rules nest and overlap, as real lists do */
    r->a[0] = v6 ? 0x20 : (uint8_t)(10 + rnd() % 3);
    r->a[1] = (uint8_t)(rnd() % 4);
    for (unsigned i = 2; i < max / 8; i++) {
        r->a[i] = (uint8_t)rnd();
    }
    r->bits = rnd() % (max + 1);
    for (unsigned b = r->bits; b < max; b++) {
        r->a[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
    }
}

static void check_random(unsigned nrules)
{
    struct rule *rules = calloc(nrules, sizeof(*rules));
    assert_non_null(rules);
    struct cidr_table *t = cidr_table_new();
    assert_non_null(t);
    for (unsigned i = 0; i < nrules; i++) {
        random_rule(&rules[i], rnd() % 4 == 0);
    }
    for (unsigned i = nrules; i-- > 0;) {
        struct cidr_prefix p = {.family = rules[i].v6 ? CIDR_V6 : CIDR_V4,
                                .bits = (uint8_t)rules[i].bits};
        memcpy(p.addr, rules[i].a, 16);
        assert_int_equal(cidr_table_add(t, &p, i + 1), 0);
    }
    for (unsigned probe = 0; probe < 20000; probe++) {
        /* near a rule (its prefix, random low bits), or anywhere */
        uint8_t a[16];
        bool v6;
        if (probe % 3) {
            const struct rule *r = &rules[rnd() % nrules];
            v6 = r->v6;
            memcpy(a, r->a, 16);
            unsigned max = v6 ? 128 : 32;
            for (unsigned b = r->bits + rnd() % 3; b < max; b++) {
                if (rnd() & 1) {
                    a[b / 8] ^= (uint8_t)(0x80u >> (b % 8));
                }
            }
        } else {
            v6 = rnd() & 1;
            for (unsigned i = 0; i < 16; i++) {
                a[i] = (uint8_t)rnd();
            }
            a[0] = v6 ? 0x20 : (uint8_t)(10 + rnd() % 3);
        }
        if (v6 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
            a[0] = 0x20; /* mapped addresses are another test's */
        }
        uint32_t want = 0;
        for (unsigned i = 0; i < nrules; i++) {
            if (covers(&rules[i], a, v6)) {
                want = i + 1;
                break;
            }
        }
        assert_int_equal(cidr_lookup_raw(t, a, v6), want);
    }
    cidr_table_free(t);
    free(rules);
}

static void test_random_small(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        check_random(1 + rnd() % 12);
    }
}

static void test_random_large(void **state)
{
    (void)state;
    check_random(3000);
}

/* Lookups touch no more nodes with 10,000 rules than with 10: the depth is the address's. */
static void test_size(void **state)
{
    (void)state;
    struct cidr_table *t = cidr_table_new();
    assert_non_null(t);
    for (unsigned i = 10000; i > 0; i--) {
        struct cidr_prefix p = {.family = CIDR_V4, .bits = 32};
        uint32_t a = htonl(0x0a000000u + i * 7919u);
        memcpy(p.addr, &a, 4);
        assert_int_equal(cidr_table_add(t, &p, i), 0);
    }
    /* 64 bytes a node: 10,000 host rules in a few MiB at most */
    assert_true(cidr_table_nodes(t) * 64 < 8u << 20);
    uint32_t a = htonl(0x0a000000u + 5 * 7919u);
    assert_int_equal(cidr_lookup_raw(t, (const uint8_t *)&a, false), 5);
    a = htonl(0x0a000000u + 5 * 7919u + 1);
    assert_int_equal(cidr_lookup_raw(t, (const uint8_t *)&a, false), 0);
    cidr_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),        cmocka_unit_test(test_order),
        cmocka_unit_test(test_mapped),       cmocka_unit_test(test_random_small),
        cmocka_unit_test(test_random_large), cmocka_unit_test(test_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
