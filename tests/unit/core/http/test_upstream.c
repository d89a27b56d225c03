/* test_upstream.c - choosing peers (smooth weighted round robin, least_conn, consistent hash),
 * passive health, backups, and the idle pool, on groups read from a configuration. */
#include "common/unit.h"
#include "core/app/modules.h"
#include "core/base/arena.h"
#include "core/base/hash.h"
#include "core/conf/conf.h"
#include "core/http/upstream.h"
#include "core/http/upstream_conf.h"
#include "core/io/loop.h"
#include "proto/request.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char text[] = "upstream wrr { server 10.0.0.1:80 weight=5; server 10.0.0.2:80; "
                           "server 10.0.0.3:80; }\n"
                           "upstream lc { least_conn; server 10.0.0.1:80; server 10.0.0.2:80; }\n"
                           "upstream hf { server 10.0.0.1:80 max_fails=2 fail_timeout=5s; "
                           "server 10.0.0.2:80; server 10.0.0.3:80 backup; }\n"
                           "upstream h3 { hash $request_uri consistent; server 10.0.0.1:80; "
                           "server 10.0.0.2:80; server 10.0.0.3:80; }\n"
                           "upstream h2 { hash $request_uri consistent; server 10.0.0.1:80; "
                           "server 10.0.0.2:80; }\n"
                           "upstream ka { server 127.0.0.1:9; keepalive 2; }\n"
                           "server { listen 127.0.0.1:8000; root /tmp; }\n";

static struct conf c;
static struct io_loop loop;
static struct http_env env;
static struct arena_pool apool;
static struct arena arena;

static int setup(void **state)
{
    (void)state;
    char err[CONF_ERR_MAX];
    if (conf_init(&c, spate_modules, spate_nmodules) < 0 ||
        conf_load_string(&c, "u.conf", text, err, sizeof(err)) < 0 ||
        conf_finish(&c, err, sizeof(err)) < 0) {
        print_error("%s\n", err);
        return -1;
    }
    io_loop_init_bare(&loop);
    loop.now_ms = 1000000;
    env.loop = &loop;
    env.worker = 1;
    arena_pool_init(&apool, 4096, 16);
    arena_init(&arena, &apool, 1 << 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    conf_free(&c);
    arena_release(&arena);
    arena_pool_destroy(&apool);
    return 0;
}

static struct req request(void)
{
    struct req r;
    memset(&r, 0, sizeof(r));
    r.env = &env;
    r.arena = &arena;
    return r;
}

static int pick(const char *group)
{
    struct req r = request();
    struct upstream_try t = {0};
    return upstream_pick(&r, upstream_find(&c, group), &t);
}

static void test_smooth_weighted_round_robin(void **state)
{
    (void)state;
    char seq[15] = {0};
    for (int i = 0; i < 14; i++) {
        seq[i] = (char)('a' + pick("wrr"));
    }
    assert_string_equal(seq, "aabacaaaabacaa"); /* nginx's: a a b a c a a, again */
}

static void test_least_conn(void **state)
{
    (void)state;
    const struct upstream_group *g = upstream_find(&c, "lc");
    struct upstream_conn uc;
    int first = pick("lc");
    assert_int_equal(upstream_take(&env, g, (unsigned)first, false, &uc), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pick("lc"), !first); /* the busy one is passed over */
    }
    upstream_give(&env, g, &uc, false);
    assert_int_equal(uc.fd, -1);
}

static void test_max_fails_and_backup(void **state)
{
    (void)state;
    const struct upstream_group *g = upstream_find(&c, "hf");
    upstream_failed(&env, g, 0);
    int seen0 = 0;
    for (int i = 0; i < 10; i++) {
        seen0 += pick("hf") == 0;
    }
    assert_true(seen0 > 0); /* one failure of max_fails=2: still in */
    upstream_failed(&env, g, 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(pick("hf"), 1); /* skipped, and the backup is not needed */
    }
    upstream_failed(&env, g, 1);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pick("hf"), 2); /* both primaries out: the backup */
    }
    loop.now_ms += 5000;                 /* fail_timeout later */
    seen0 = 0;
    for (int i = 0; i < 4; i++) {
        seen0 += pick("hf") == 0;
    }
    assert_true(seen0 > 0);
    upstream_failed(&env, g, 0); /* one more failure skips it again */
    for (int i = 0; i < 4; i++) {
        assert_int_not_equal(pick("hf"), 0);
    }
    upstream_ok(&env, g, 0);
    upstream_ok(&env, g, 1);
    /* a try that was made is not made again for the same request */
    struct req r = request();
    struct upstream_try t = {0};
    int a = upstream_pick(&r, g, &t), b = upstream_pick(&r, g, &t), x = upstream_pick(&r, g, &t);
    assert_true(a >= 0 && b >= 0 && a != b);
    assert_int_equal(x, 2);
    assert_int_equal(upstream_pick(&r, g, &t), -1);
}

/* The peer the hash group picks for a request to uri. */
static int hashed(const char *group, const char *uri)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", uri);
    struct http_request m;
    const struct http_limits lim = HTTP_LIMITS_DEFAULT;
    assert_true(http_parse_request(buf, (size_t)n, 0, &lim, &arena, &m) > 0);
    struct req r = request();
    r.msg = &m;
    struct upstream_try t = {0};
    return upstream_pick(&r, upstream_find(&c, group), &t);
}

static void test_consistent_hash(void **state)
{
    (void)state;
    int count[3] = {0}, moved = 0, kept = 0;
    for (int i = 0; i < 3000; i++) {
        char uri[32];
        snprintf(uri, sizeof(uri), "/obj/%d", i);
        int p3 = hashed("h3", uri), p2 = hashed("h2", uri);
        assert_int_equal(hashed("h3", uri), p3); /* the same key, the same peer */
        count[p3]++;
        if (p3 == 2) {
            moved++; /* its peer is gone: somewhere else */
        } else {
            assert_int_equal(p2, p3); /* the others stay where they were */
            kept++;
        }
        arena_reset(&arena);
    }
    for (int i = 0; i < 3; i++) {
        assert_in_range(count[i], 600, 1400); /* a fair share, roughly */
    }
    assert_true(moved > 0 && kept > 0);
}

static void test_idle_pool(void **state)
{
    (void)state;
    const struct upstream_group *g = upstream_find(&c, "ka");
    struct upstream_conn a, b, x;
    assert_int_equal(upstream_take(&env, g, 0, false, &a), 0);
    assert_false(a.reused);
    int fd = a.fd;
    upstream_give(&env, g, &a, true);
    assert_int_equal(a.fd, -1);
    assert_int_equal(upstream_take(&env, g, 0, false, &b), 0);
    assert_true(b.reused);
    assert_int_equal(b.fd, fd);
    assert_int_equal(b.requests, 1);
    /* idle for a second: checked, and this socket was never connected: not taken */
    upstream_give(&env, g, &b, true);
    loop.now_ms += 1500;
    assert_int_equal(upstream_take(&env, g, 0, false, &x), 0);
    assert_false(x.reused);
    upstream_give(&env, g, &x, false);
}

int main(void)
{
    hash_set_seed(7);
    hdr_known_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smooth_weighted_round_robin),
        cmocka_unit_test(test_least_conn),
        cmocka_unit_test(test_max_fails_and_backup),
        cmocka_unit_test(test_consistent_hash),
        cmocka_unit_test(test_idle_pool),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
