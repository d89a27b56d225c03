/*
 * Unit tests for core/net/listener.c's accept sets over real io_uring loops, two sets on one
 * listening socket as the old and the new process of a binary upgrade have (the same socket,
 * inherited): a connection whose wake-up went to the set that stops is still delivered, by
 * the stopping set itself or by the other one, never left in the accept queue; a set that
 * stops sweeps what is queued; a plain accept goes on after another set stopped.
 *
 * Why it can fail: the kernel wakes one io_uring accept per connection (the op is polled
 * with EPOLLEXCLUSIVE); the one armed first gets it. If that accept is cancelled before its
 * ring ran the task work that accepts (a drain begins), the wake-up is spent and nobody
 * else is told: the connection waits in the queue until the next one arrives.
 */
#include "common/unit.h"
#include "core/io/loop.h"
#include "core/net/addr.h"
#include "core/net/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct side {
    struct io_loop loop;
    struct accept_set set;
    unsigned got; /* connections delivered to this side */
};

static void on_conn(void *arg, int fd, unsigned index)
{
    struct side *s = arg;
    (void)index;
    s->got++;
    close(fd);
}

static void side_init(struct side *s, int lfd)
{
    char err[256];
    memset(s, 0, sizeof(*s));
    assert_int_equal(io_loop_prepare(&s->loop), 0);
    struct io_loop_params p = {64, 1024, 8, 4096};
    assert_int_equal(io_loop_init(&s->loop, &p, err, sizeof(err)), 0);
    accept_set_init(&s->set, &s->loop, on_conn, s);
    assert_non_null(accept_add(&s->set, lfd, 0, s));
    accept_start(&s->set);
    assert_int_equal(io_loop_submit(&s->loop), 0); /* armed now: its place in the queue */
}

static void side_fini(struct side *s)
{
    io_loop_fini(&s->loop);
    accept_set_fini(&s->set);
    io_loop_unprepare(&s->loop);
}

/* One turn of s's loop, waiting at most ms for a completion. */
static void turn(struct side *s, unsigned ms)
{
    io_loop_run_deferred(&s->loop);
    io_loop_clock(&s->loop);
    assert_int_equal(io_loop_wait(&s->loop, s->loop.now_ms + ms), 0);
}

static int listener(struct net_addr *a)
{
    char err[256];
    struct listen_opts o;
    listen_opts_default(&o);
    assert_int_equal(net_addr_parse("127.0.0.1:0", a, err, sizeof(err)), 0);
    int fd = -1;
    assert_int_equal(listen_open(a, &o, 1, &fd, err, sizeof(err)), 0);
    return fd;
}

static int dial(const struct net_addr *a)
{
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c >= 0);
    /* loopback: the handshake is done when connect returns; the connection is queued */
    assert_int_equal(connect(c, (const struct sockaddr *)&a->ss, a->len), 0);
    return c;
}

static bool queue_empty(int lfd)
{
    struct pollfd pf = {lfd, POLLIN, 0};
    return poll(&pf, 1, 0) == 0;
}

/* The old process stops (drain) right after a connection's wake-up went to it. */
static void test_stop_after_wakeup_delivers(void **state)
{
    (void)state;
    struct net_addr a;
    int lfd = listener(&a);
    static struct side old, young;
    side_init(&old, lfd);   /* armed first: the kernel wakes this one */
    side_init(&young, lfd); /* the new process, which serves from now on */
    int c = dial(&a);
    /* the drain begins before old's ring ran the task work that would accept */
    accept_stop(&old.set);
    for (int i = 0; i < 100 && !accept_quiet(&old.set); i++) {
        turn(&old, 100);
    }
    assert_true(accept_quiet(&old.set));
    /* give the other side every chance to take it, if the wake-up had gone there */
    for (int i = 0; i < 5 && old.got + young.got == 0; i++) {
        turn(&young, 20);
    }
    assert_int_equal(old.got + young.got, 1);
    assert_true(queue_empty(lfd));
    /* and the new side goes on accepting */
    int c2 = dial(&a);
    for (int i = 0; i < 100 && young.got + old.got < 2; i++) {
        turn(&young, 100);
    }
    assert_int_equal(old.got + young.got, 2);
    assert_int_equal(old.set.accepted + young.set.accepted, 2);
    close(c);
    close(c2);
    side_fini(&old);
    side_fini(&young);
    close(lfd);
}

/* A set that stops with connections queued serves them (a plain stop: nobody else would). */
static void test_stop_sweeps_the_queue(void **state)
{
    (void)state;
    struct net_addr a;
    int lfd = listener(&a);
    static struct side s;
    side_init(&s, lfd);
    int c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = dial(&a);
    }
    accept_stop(&s.set);
    for (int i = 0; i < 100 && !accept_quiet(&s.set); i++) {
        turn(&s, 100);
    }
    assert_true(accept_quiet(&s.set));
    assert_int_equal(s.got, 3);
    assert_true(queue_empty(lfd));
    for (int i = 0; i < 3; i++) {
        close(c[i]);
    }
    side_fini(&s);
    close(lfd);
}

/* Listening sockets never block a worker that accepts on them outside io_uring. */
static void test_listening_socket_is_nonblocking(void **state)
{
    (void)state;
    struct net_addr a;
    int lfd = listener(&a);
    assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
    assert_int_equal(accept4(lfd, NULL, NULL, SOCK_CLOEXEC), -1);
    assert_int_equal(errno, EAGAIN);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_after_wakeup_delivers),
        cmocka_unit_test(test_stop_sweeps_the_queue),
        cmocka_unit_test(test_listening_socket_is_nonblocking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
