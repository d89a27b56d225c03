/* test_redirect_pool.c - rendezvous hashing: an even spread, and stability when a target goes. */
#include "common/unit.h"
#include "core/http/redirect_pool.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CLIENTS 10000

static const char *const urls[] = {"http://a.example", "http://b.example", "http://c.example",
                                   "http://d.example"};

/* 10,000 simulated IPv4 clients (as spate hashes them: the 4 address bytes). */
static void key_of(unsigned i, uint8_t k[4])
{
    uint32_t a = 0x0a000000u + i * 2654435761u % 16777216u; /* spread over 10.0.0.0/8 */
    k[0] = (uint8_t)(a >> 24), k[1] = (uint8_t)(a >> 16), k[2] = (uint8_t)(a >> 8);
    k[3] = (uint8_t)a;
}

static void test_even_spread(void **state)
{
    (void)state;
    uint64_t ids[4];
    for (int i = 0; i < 4; i++) {
        ids[i] = redirect_pool_target_id(urls[i]);
    }
    unsigned count[4] = {0};
    for (unsigned i = 0; i < CLIENTS; i++) {
        uint8_t k[4];
        key_of(i, k);
        count[redirect_pool_rendezvous(ids, 4, k, 4)]++;
    }
    for (int i = 0; i < 4; i++) {
        /* within 5% of an even 2,500 */
        assert_in_range(count[i], 2375, 2625);
    }
}

static void test_removal_moves_only_that_targets_clients(void **state)
{
    (void)state;
    uint64_t ids[4], rest[3];
    for (int i = 0; i < 4; i++) {
        ids[i] = redirect_pool_target_id(urls[i]);
    }
    /* without target 2 ("c") */
    rest[0] = ids[0], rest[1] = ids[1], rest[2] = ids[3];
    static const int map[3] = {0, 1, 3};
    unsigned moved = 0, was_c = 0;
    for (unsigned i = 0; i < CLIENTS; i++) {
        uint8_t k[4];
        key_of(i, k);
        unsigned before = redirect_pool_rendezvous(ids, 4, k, 4);
        unsigned after = (unsigned)map[redirect_pool_rendezvous(rest, 3, k, 4)];
        if (before == 2) {
            was_c++;
        } else if (before != after) {
            moved++;
        }
        /* the same key always gets the same answer */
        assert_int_equal(before, redirect_pool_rendezvous(ids, 4, k, 4));
    }
    assert_int_equal(moved, 0);
    assert_true(was_c > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_even_spread),
        cmocka_unit_test(test_removal_moves_only_that_targets_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
