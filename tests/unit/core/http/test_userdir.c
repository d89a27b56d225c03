/*
 * Unit tests for core/http/userdir.c: which URIs are user-directory ones, names checked and
 * refused before any lookup, a lookup on a helper thread that the request waits for (its
 * connection held, woken once, joined by a second request), negative and positive entries
 * served from the cache, a refresh that finds the same directory keeping its root, and the
 * synchronous lookup where no helper can run. The found case uses the system's "sys" user
 * (home /dev) with userdir_dir shm, and is skipped where that does not exist.
 */
#include "common/unit.h"
#include "core/app/modules.h"
#include "core/conf/conf.h"
#include "core/http/files.h"
#include "core/http/handler.h"
#include "core/http/route.h"
#include "core/http/userdir.h"
#include "core/io/loop.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static struct conf c;
static const struct route_table *t;
static struct io_loop loop;
static struct http_env env;
static int holds, woken;

static void t_hold(struct req *r)
{
    (void)r;
    holds++;
}

static void t_unhold(struct req *r)
{
    (void)r;
    holds--;
}

static const struct req_proto proto = {.hold = t_hold, .unhold = t_unhold};

struct call {
    struct req r;
    struct req_wait w;
    const struct http_root *root;
    struct slice path;
    bool mine;
    const char *uri;
    int rewoken; /* what the map gave when dispatched again from the wake */
};

static void t_wake(struct req_wait *w)
{
    struct call *k = container_of(w, struct call, w);
    woken++;
    /* the session dispatches the request again from its wake, as h1 does */
    k->rewoken = userdir_map(&k->r, slice_cstr(k->uri), &k->root, &k->path, &k->mine);
}

static const char text[] = "userdir on;\n"
                           "userdir_cache_negative 1h;\n"
                           "server {\n" /* 0: allow and deny lists */
                           "  listen 127.0.0.1:8001;\n"
                           "  root /tmp;\n"
                           "  userdir_allow sys alice bob;\n"
                           "  userdir_deny bob;\n"
                           "}\n"
                           "server {\n" /* 1: off */
                           "  listen 127.0.0.1:8002;\n"
                           "  root /tmp;\n"
                           "  userdir off;\n"
                           "}\n"
                           "server {\n" /* 2: /dev/shm for sys, looked up again every time */
                           "  listen 127.0.0.1:8003;\n"
                           "  root /tmp;\n"
                           "  userdir_dir shm;\n"
                           "  userdir_cache_valid 0;\n"
                           "}\n"
                           "server {\n" /* 3: everyone but uid 0 */
                           "  listen 127.0.0.1:8004;\n"
                           "  root /tmp;\n"
                           "}\n";

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
    t = route_table(&c);
    char e2[200];
    struct io_loop_params p = {64, 1024, 8, 4096};
    if (io_loop_prepare(&loop) < 0 || io_loop_init(&loop, &p, e2, sizeof(e2)) < 0) {
        print_error("%s\n", e2);
        return -1;
    }
    env.loop = &loop;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    userdir_thread_fini();
    io_loop_fini(&loop);
    io_loop_unprepare(&loop);
    conf_free(&c);
    return 0;
}

static int map(struct call *k, unsigned server, const char *uri, bool can_wait)
{
    memset(k, 0, sizeof(*k));
    k->w.wake = t_wake;
    k->r.server = &t->servers[server];
    k->r.env = &env;
    k->r.proto = &proto;
    k->r.wait = can_wait ? &k->w : NULL;
    k->uri = uri;
    return userdir_map(&k->r, slice_cstr(uri), &k->root, &k->path, &k->mine);
}

/* Turns the loop until `want` wakes happened (at most 10 s). */
static void turn_until_woken(int want)
{
    for (int i = 0; i < 1000 && woken < want; i++) {
        io_loop_run_deferred(&loop);
        assert_int_equal(io_loop_wait(&loop, loop.now_ms + 10), 0);
    }
    assert_int_equal(woken, want);
}

static void test_not_mine(void **state)
{
    (void)state;
    struct call k;
    const char *uris[] = {"/", "/x", "/~", "/~/x", "/a/~bob/", "~bob"};
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        assert_int_equal(map(&k, 3, uris[i], true), 0);
        assert_false(k.mine);
    }
    assert_int_equal(map(&k, 1, "/~bob/x", true), 0); /* userdir off */
    assert_false(k.mine);
}

static void test_refused_without_lookup(void **state)
{
    (void)state;
    struct call k;
    struct userdir_stats before, after;
    userdir_get_stats(&before);
    const char *bad[] = {"/~.x/", "/~-x/",  "/~a b/",
                         "/~a$/", "/~a:b/", "/~aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(map(&k, 3, bad[i], true), 404);
        assert_true(k.mine);
    }
    assert_int_equal(map(&k, 0, "/~bob/", true), 404);     /* denied (and allowed: deny wins) */
    assert_int_equal(map(&k, 0, "/~charlie/", true), 404); /* not in the allow list */
    assert_true(k.mine);
    userdir_get_stats(&after);
    assert_int_equal(after.lookups, before.lookups);
    assert_int_equal(holds, 0);
}

static void test_unknown_waits_once_then_cached(void **state)
{
    (void)state;
    struct call a, b, k;
    struct userdir_stats st0, st;
    userdir_get_stats(&st0);
    woken = 0;
    assert_int_equal(map(&a, 3, "/~spateunosuchuser/x", true), HANDLER_LATER);
    assert_true(a.mine);
    assert_int_equal(holds, 1);
    assert_int_equal(map(&b, 3, "/~spateunosuchuser", true), HANDLER_LATER); /* joins */
    assert_int_equal(holds, 1);
    turn_until_woken(2);
    assert_int_equal(holds, 0);
    assert_null(a.w.next); /* unlinked before its wake */
    assert_int_equal(a.rewoken, 404);
    assert_int_equal(b.rewoken, 404);
    userdir_get_stats(&st);
    assert_int_equal(st.lookups - st0.lookups, 1);
    assert_int_equal(st.not_found - st0.not_found, 1);
    assert_int_equal(st.jobs, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(map(&k, 3, "/~spateunosuchuser/x", true), 404); /* remembered */
    }
    userdir_get_stats(&st);
    assert_int_equal(st.lookups - st0.lookups, 1);
    assert_int_equal(st.hits - st0.hits, 2 + 3); /* the two woken, then these */
}

static bool have_sys(void)
{
    struct passwd *pw = getpwnam("sys");
    struct stat s;
    return pw && strcmp(pw->pw_dir, "/dev") == 0 && stat("/dev/shm", &s) == 0 && S_ISDIR(s.st_mode);
}

static void test_found_and_refreshed(void **state)
{
    (void)state;
    if (!have_sys()) {
        skip();
    }
    struct call k;
    struct userdir_stats st0, st;
    userdir_get_stats(&st0);
    woken = 0;
    assert_int_equal(map(&k, 2, "/~sys/a/b.txt", true), HANDLER_LATER);
    turn_until_woken(1);
    assert_int_equal(k.rewoken, 0); /* lifetime 0: the requests woken still use the answer */
    assert_int_equal(map(&k, 2, "/~sys/a/b.txt", true), HANDLER_LATER); /* the next waits */
    turn_until_woken(2);
    assert_int_equal(k.rewoken, 0);
    /* no wait possible: the lookup is made on this thread */
    assert_int_equal(map(&k, 2, "/~sys/a/b.txt", false), 0);
    assert_true(k.mine);
    assert_non_null(k.root);
    assert_true(k.root->id & 0x80000000u);
    assert_int_equal(k.root->root.fd >= 0, 1);
    assert_string_equal(k.root->path, "/dev/shm");
    assert_true(slice_eq(k.path, SLICE_LIT("/a/b.txt")));
    const struct http_root *first = k.root;
    uint32_t id = k.root->id;
    assert_int_equal(map(&k, 2, "/~sys", false), 0);
    assert_true(slice_eq(k.path, SLICE_LIT("/")));
    assert_ptr_equal(k.root, first); /* the same directory: the same root and id */
    assert_int_equal(k.root->id, id);
    userdir_get_stats(&st);
    assert_int_equal(st.opened - st0.opened, 1);
    assert_int_equal(st.found - st0.found, 4);
    assert_int_equal(holds, 0);
}

static void test_uid0_needs_allow(void **state)
{
    (void)state;
    struct call k;
    /* root's home has no public_html here, or has one: either way not served by default */
    int st = map(&k, 3, "/~root/", false);
    assert_int_equal(st, 404);
    assert_true(k.mine);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_mine),
        cmocka_unit_test(test_refused_without_lookup),
        cmocka_unit_test(test_unknown_waits_once_then_cached),
        cmocka_unit_test(test_found_and_refreshed),
        cmocka_unit_test(test_uid0_needs_allow),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
