/* Unit tests for log/ring.c: order and integrity across threads, wrap-around, full. */
#include "common/unit.h"
#include "log/ring.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void test_basic(void **state)
{
    (void)state;
    struct log_ring r;
    assert_int_equal(log_ring_init(&r, 1), 0);
    assert_null(log_ring_peek(&r));
    char *p = log_ring_reserve(&r, 5);
    memcpy(p, "hello", 5);
    log_ring_commit(&r, 5, LOG_REC_ACCESS, 3);
    p = log_ring_reserve(&r, 100);
    memcpy(p, "world", 5);
    log_ring_commit(&r, 5, LOG_REC_ERROR, 0); /* committed shorter than reserved */
    const struct log_rec *a = log_ring_peek(&r);
    assert_non_null(a);
    assert_int_equal(a->len, 5);
    assert_int_equal(a->type, LOG_REC_ACCESS);
    assert_int_equal(a->sink, 3);
    assert_memory_equal(a->data, "hello", 5);
    const struct log_rec *b = log_ring_next(&r, a);
    assert_non_null(b);
    assert_memory_equal(b->data, "world", 5);
    assert_null(log_ring_next(&r, b));
    log_ring_release_through(&r, b);
    assert_null(log_ring_peek(&r));
    log_ring_destroy(&r);
}

/* the configured size is the ring's size when it is a power of two, never twice it */
static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        size_t ask, cap;
    } cases[] = {{1, 256u << 10}, {256u << 10, 256u << 10}, {300u << 10, 512u << 10},
                 {1u << 20, 1u << 20}, {(1u << 20) + 1, 2u << 20}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct log_ring r;
        assert_int_equal(log_ring_init(&r, cases[i].ask), 0);
        assert_int_equal(r.cap, cases[i].cap);
        log_ring_destroy(&r);
    }
}

static void test_full_then_room(void **state)
{
    (void)state;
    struct log_ring r;
    assert_int_equal(log_ring_init(&r, 1), 0);
    size_t n = 0;
    char *p;
    while ((p = log_ring_reserve(&r, 1000)) != NULL) {
        memset(p, 'a', 1000);
        log_ring_commit(&r, 1000, LOG_REC_ACCESS, 0);
        n++;
    }
    assert_true(n > 100);
    assert_int_equal(r.full_events, 1);
    /* free half, then it accepts again, wrapping around with a pad record */
    const struct log_rec *rec = log_ring_peek(&r);
    for (size_t i = 0; i < n / 2 - 1; i++) {
        rec = log_ring_next(&r, rec);
    }
    log_ring_release_through(&r, rec);
    size_t more = 0;
    while ((p = log_ring_reserve(&r, 1000)) != NULL) {
        log_ring_commit(&r, 1000, LOG_REC_ACCESS, 0);
        more++;
    }
    assert_true(more >= n / 2 - 2);
    log_ring_destroy(&r);
}

#define N_RECORDS 2000000

static void *consumer(void *arg)
{
    struct log_ring *r = arg;
    unsigned long expect = 0;
    while (expect < N_RECORDS) {
        const struct log_rec *rec = log_ring_peek(r);
        if (!rec) {
            continue;
        }
        const struct log_rec *last = rec;
        for (const struct log_rec *x = rec; x; x = log_ring_next(r, x)) {
            last = x;
            if (x->type == LOG_REC_PAD) {
                continue;
            }
            unsigned long v;
            char tmp[32];
            memcpy(tmp, x->data, x->len);
            tmp[x->len] = '\0';
            if (sscanf(tmp, "%lu", &v) != 1 || v != expect || x->sink != (expect & 7)) {
                fprintf(stderr, "record %lu: got \"%s\" sink %u\n", expect, tmp, x->sink);
                return (void *)1;
            }
            expect++;
        }
        log_ring_release_through(r, last);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct log_ring r;
    assert_int_equal(log_ring_init(&r, 1), 0);
    pthread_t t;
    pthread_create(&t, NULL, consumer, &r);
    for (unsigned long i = 0; i < N_RECORDS; i++) {
        char *p;
        size_t want = 8 + (i % 200); /* varied sizes force wrap-arounds at odd places */
        while ((p = log_ring_reserve(&r, want)) == NULL) {
        }
        int n = snprintf(p, want, "%lu", i);
        log_ring_commit(&r, (size_t)n, LOG_REC_ACCESS, (uint16_t)(i & 7));
    }
    void *ret;
    pthread_join(t, &ret);
    assert_null(ret);
    log_ring_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_full_then_room),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
