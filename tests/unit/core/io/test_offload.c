/*
 * Unit tests for core/io/offload.c over real io_uring loops: a job runs on a helper thread and
 * completes on the loop (and the thread) that submitted it; many jobs through a small queue;
 * a full queue is -EAGAIN; cancellation skips a queued job and still completes it; no helper
 * thread exists before the first submit or after the last user left.
 */
#include "common/unit.h"
#include "core/base/alloc.h"
#include "core/io/loop.h"
#include "core/io/offload.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct tjob {
    struct offload_job oj;
    struct tloop *owner;
    int id;
    pthread_t ran_on;
    SP_ATOMIC(int) * gate; /* non-NULL: run() waits until it is nonzero */
    bool ran;
};

struct tloop {
    struct io_loop loop;
    pthread_t thread;
    unsigned done, wrong_thread, wrong_res, cancelled;
    int last_res;
};

static int helpers_alive(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[300], comm[32] = "";
        snprintf(p, sizeof(p), "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(p, "r");
        if (f) {
            if (fgets(comm, sizeof(comm), f) && strncmp(comm, "spate-offload", 13) == 0) {
                n++;
            }
            fclose(f);
        }
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static int t_run(struct offload_job *oj)
{
    struct tjob *j = container_of(oj, struct tjob, oj);
    j->ran_on = pthread_self();
    j->ran = true;
    if (j->gate) {
        while (!atomic_load(j->gate)) {
            usleep(1000);
        }
    }
    return j->id * 2;
}

static void t_done(struct offload_job *oj, int res)
{
    struct tjob *j = container_of(oj, struct tjob, oj);
    struct tloop *t = j->owner;
    t->done++;
    t->last_res = res;
    if (!pthread_equal(pthread_self(), t->thread)) {
        t->wrong_thread++;
    }
    if (res == -ECANCELED) {
        t->cancelled++;
    } else if (res != j->id * 2 || pthread_equal(j->ran_on, t->thread)) {
        t->wrong_res++;
    }
}

static void loop_up(struct tloop *t)
{
    memset(t, 0, sizeof(*t));
    char err[200];
    assert_int_equal(io_loop_prepare(&t->loop), 0);
    struct io_loop_params p = {64, 1024, 8, 4096};
    assert_int_equal(io_loop_init(&t->loop, &p, err, sizeof(err)), 0);
    t->thread = pthread_self();
}

static void loop_down(struct tloop *t)
{
    io_loop_fini(&t->loop);
    io_loop_unprepare(&t->loop);
}

/* Turns the loop until `until` completions arrived (at most 20 s). */
static void turn_until(struct tloop *t, unsigned until)
{
    for (int i = 0; i < 2000 && t->done < until; i++) {
        io_loop_run_deferred(&t->loop);
        assert_int_equal(io_loop_wait(&t->loop, t->loop.now_ms + 10), 0);
    }
    assert_int_equal(t->done, until);
}

static void tjob_init(struct tjob *j, struct tloop *t, int id)
{
    memset(j, 0, sizeof(*j));
    offload_job_init(&j->oj, t_run, t_done);
    j->owner = t;
    j->id = id;
}

static void test_no_ring(void **state)
{
    (void)state;
    struct io_loop bare;
    io_loop_init_bare(&bare);
    struct tloop t = {0};
    struct tjob j;
    tjob_init(&j, &t, 1);
    offload_use();
    assert_int_equal(offload_submit(&bare, &j.oj), -ENOSYS);
    assert_false(offload_in_flight(&j.oj));
    assert_true(offload_unuse());
    assert_int_equal(helpers_alive(), 0);
}

static void test_many_jobs(void **state)
{
    (void)state;

    enum { N = 10000 };
    struct tloop t;
    loop_up(&t);
    struct tjob *jobs = sp_calloc(N, sizeof(*jobs));
    assert_non_null(jobs);
    offload_use();
    assert_int_equal(helpers_alive(), 0); /* nothing submitted yet: no thread */
    unsigned full = 0;
    for (int i = 0; i < N;) {
        tjob_init(&jobs[i], &t, i);
        int rc = offload_submit(&t.loop, &jobs[i].oj);
        if (rc == -EAGAIN) {
            full++; /* the queue is bounded: let completions drain, then go on */
            io_loop_run_deferred(&t.loop);
            assert_int_equal(io_loop_wait(&t.loop, t.loop.now_ms + 1), 0);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_true(offload_in_flight(&jobs[i].oj));
        i++;
    }
    assert_int_equal(helpers_alive(), OFFLOAD_THREADS);
    turn_until(&t, N);
    assert_int_equal(t.wrong_thread, 0);
    assert_int_equal(t.wrong_res, 0);
    assert_int_equal(t.cancelled, 0);
    for (int i = 0; i < N; i++) {
        assert_false(offload_in_flight(&jobs[i].oj));
    }
    assert_true(offload_unuse());
    assert_int_equal(helpers_alive(), 0);
    sp_free(jobs);
    loop_down(&t);
    (void)full;
}

/* Several loops on their own threads: every completion lands on its submitter. */
static void *loop_thread(void *arg)
{
    struct tloop *t = arg;

    enum { N = 2000 };

    loop_up(t);
    struct tjob *jobs = sp_calloc(N, sizeof(*jobs));
    for (int i = 0; i < N;) {
        tjob_init(&jobs[i], t, i);
        int rc = offload_submit(&t->loop, &jobs[i].oj);
        if (rc == -EAGAIN) {
            io_loop_run_deferred(&t->loop);
            if (io_loop_wait(&t->loop, t->loop.now_ms + 1) < 0) {
                break;
            }
            continue;
        }
        if (rc < 0) {
            break;
        }
        i++;
    }
    for (int i = 0; i < 4000 && t->done < N; i++) {
        io_loop_run_deferred(&t->loop);
        if (io_loop_wait(&t->loop, t->loop.now_ms + 10) < 0) {
            break;
        }
    }
    sp_free(jobs);
    loop_down(t);
    return NULL;
}

static void test_right_loop(void **state)
{
    (void)state;
    struct tloop t[3];
    pthread_t th[3];
    offload_use();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, loop_thread, &t[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].done, 2000);
        assert_int_equal(t[i].wrong_thread, 0);
        assert_int_equal(t[i].wrong_res, 0);
    }
    assert_true(offload_unuse());
}

/* With every helper busy: the queue fills to exactly its size; a cancelled job never runs. */
static void test_full_and_cancel(void **state)
{
    (void)state;
    struct tloop t;
    loop_up(&t);
    SP_ATOMIC(int) gate = 0;

    enum { N = OFFLOAD_THREADS + OFFLOAD_QUEUE + 1 };
    struct tjob *jobs = sp_calloc(N, sizeof(*jobs));
    offload_use();
    offload_use(); /* two users: the first unuse must not stop the helpers */
    for (int i = 0; i < OFFLOAD_THREADS; i++) {
        tjob_init(&jobs[i], &t, i);
        jobs[i].gate = &gate;
        assert_int_equal(offload_submit(&t.loop, &jobs[i].oj), 0);
    }
    /* wait until both helpers hold a blocked job, so the queue itself is empty */
    for (int k = 0; k < 2000; k++) {
        bool all = true;
        for (int i = 0; i < OFFLOAD_THREADS; i++) {
            all = all && jobs[i].ran;
        }
        if (all) {
            break;
        }
        usleep(1000);
    }
    int queued = 0;
    for (int i = OFFLOAD_THREADS; i < N; i++) {
        tjob_init(&jobs[i], &t, i);
        int rc = offload_submit(&t.loop, &jobs[i].oj);
        if (rc == -EAGAIN) {
            assert_false(offload_in_flight(&jobs[i].oj));
            break;
        }
        assert_int_equal(rc, 0);
        queued++;
    }
    assert_int_equal(queued, OFFLOAD_QUEUE);
    struct offload_stats st;
    offload_get_stats(&st);
    assert_true(st.full >= 1);
    /* cancel every other queued job, then open the gate */
    int cancelled = 0;
    for (int i = OFFLOAD_THREADS; i < OFFLOAD_THREADS + queued; i += 2) {
        offload_cancel(&jobs[i].oj);
        cancelled++;
    }
    assert_false(offload_unuse()); /* one user is left: the helpers keep running */
    atomic_store(&gate, 1);
    turn_until(&t, (unsigned)(OFFLOAD_THREADS + queued));
    assert_int_equal(t.cancelled, cancelled);
    assert_int_equal(t.wrong_res, 0);
    assert_int_equal(t.wrong_thread, 0);
    for (int i = OFFLOAD_THREADS; i < OFFLOAD_THREADS + queued; i++) {
        assert_int_equal(jobs[i].ran, (i - OFFLOAD_THREADS) % 2 == 1);
    }
    /* a job cancelled while it runs finishes and reports its own result */
    atomic_store(&gate, 0);
    struct tjob late;
    tjob_init(&late, &t, 7);
    late.gate = &gate;
    assert_int_equal(offload_submit(&t.loop, &late.oj), 0);
    while (!late.ran) {
        usleep(1000);
    }
    offload_cancel(&late.oj);
    atomic_store(&gate, 1);
    unsigned before = t.done;
    turn_until(&t, before + 1);
    assert_int_equal(t.last_res, 14);
    assert_true(offload_unuse());
    assert_int_equal(helpers_alive(), 0);
    sp_free(jobs);
    loop_down(&t);
}

static void *open_gate_later(void *arg)
{
    usleep(50000);
    atomic_store((SP_ATOMIC(int) *)arg, 1);
    return NULL;
}

/* Queued jobs still complete (with -ECANCELED) when the last user stops the pool. */
static void test_stop_with_queue(void **state)
{
    (void)state;
    struct tloop t;
    loop_up(&t);
    SP_ATOMIC(int) gate = 0;

    enum { N = OFFLOAD_THREADS + 8 };
    struct tjob jobs[N];
    offload_use();
    for (int i = 0; i < N; i++) {
        tjob_init(&jobs[i], &t, i);
        jobs[i].gate = i < OFFLOAD_THREADS ? &gate : NULL;
        assert_int_equal(offload_submit(&t.loop, &jobs[i].oj), 0);
    }
    for (int k = 0; k < 2000 && !(jobs[0].ran && jobs[1].ran); k++) {
        usleep(1000);
    }
    pthread_t opener;
    assert_int_equal(pthread_create(&opener, NULL, open_gate_later, &gate), 0);
    assert_true(offload_unuse()); /* joins: the blocked two finish, the rest are skipped */
    pthread_join(opener, NULL);
    turn_until(&t, N);
    assert_int_equal(t.wrong_thread, 0);
    assert_int_equal(t.cancelled, N - OFFLOAD_THREADS);
    loop_down(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_ring),         cmocka_unit_test(test_many_jobs),
        cmocka_unit_test(test_right_loop),      cmocka_unit_test(test_full_and_cancel),
        cmocka_unit_test(test_stop_with_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
