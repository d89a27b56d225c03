/* Unit tests for the loop's deferred work (core/io/loop.c): taken once per turn, and what
 * io_loop_others_wait tells each item about the ones still waiting (a long send yields only
 * then: core/net/plain.c's send_file). */
#include "common/unit.h"
#include "core/io/loop.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct item {
    struct io_defer d;
    struct io_loop *l;
    bool saw_others;
    int runs, again; /* again: times it schedules itself once more */
};

static void run_item(struct io_defer *d)
{
    struct item *it = (struct item *)d;
    it->runs++;
    it->saw_others = io_loop_others_wait(it->l);
    if (it->again > 0) {
        it->again--;
        io_defer(it->l, &it->d);
    }
}

static void init(struct item *it, struct io_loop *l)
{
    *it = (struct item){.d = {.fn = run_item}, .l = l};
}

static void test_others_wait_until_the_last(void **state)
{
    (void)state;
    struct io_loop l;
    io_loop_init_bare(&l);
    assert_false(io_loop_others_wait(&l));
    struct item a, b, c;
    init(&a, &l);
    init(&b, &l);
    init(&c, &l);
    io_defer(&l, &a.d);
    io_defer(&l, &b.d);
    io_defer(&l, &c.d);
    assert_true(io_loop_others_wait(&l)); /* work queued for the next turn */
    io_loop_run_deferred(&l);
    /* LIFO: c, b, then a, the last, which nobody waits behind */
    assert_true(c.saw_others);
    assert_true(b.saw_others);
    assert_false(a.saw_others);
    assert_int_equal(a.runs + b.runs + c.runs, 3);
    assert_false(io_loop_others_wait(&l));
}

static void test_rescheduled_work_waits_and_runs_next_turn(void **state)
{
    (void)state;
    struct io_loop l;
    io_loop_init_bare(&l);
    struct item dl, other;
    init(&dl, &l);
    init(&other, &l);
    dl.again = 1; /* a download whose chunk is spent */
    io_defer(&l, &other.d);
    io_defer(&l, &dl.d);
    io_loop_run_deferred(&l);
    assert_int_equal(dl.runs, 1);         /* once per turn, not again in this one */
    assert_true(other.saw_others);        /* the download waits for the next turn */
    assert_true(io_loop_others_wait(&l)); /* and so the next turn has work */
    io_loop_run_deferred(&l);
    assert_int_equal(dl.runs, 2);
    assert_false(dl.saw_others); /* alone now: it may send its whole chunk */
    assert_false(io_loop_others_wait(&l));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_others_wait_until_the_last),
        cmocka_unit_test(test_rescheduled_work_waits_and_runs_next_turn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
