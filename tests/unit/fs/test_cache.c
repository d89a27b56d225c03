/* Unit tests for fs/cache.c and fs/docroot.c against a temporary tree. */
#include "common/unit.h"
#include "core/base/hash.h"
#include "fs/cache.h"
#include "fs/docroot.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char outside[64];
static struct fs_root root;

static void write_file(const char *rel, const char *content, size_t n)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    hash_set_seed(7);
    strcpy(dir, "/tmp/spate-fs-XXXXXX");
    strcpy(outside, "/tmp/spate-out-XXXXXX");
    if (!mkdtemp(dir) || !mkdtemp(outside)) {
        return -1;
    }
    char p[256];
    snprintf(p, sizeof(p), "%s/sub", dir);
    mkdir(p, 0755);
    write_file("a.html", "<p>a</p>", 8);
    write_file("sub/b.txt", "bbbb", 4);
    char big[100000];
    memset(big, 'x', sizeof(big));
    write_file("big.bin", big, sizeof(big));
    snprintf(p, sizeof(p), "%s/secret", outside);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    close(fd);
    char l[256];
    snprintf(l, sizeof(l), "%s/escape", dir);
    symlink(p, l); /* absolute link out of the root */
    snprintf(l, sizeof(l), "%s/rel-escape", dir);
    symlink("../../../../../../../etc/passwd", l);
    snprintf(l, sizeof(l), "%s/inside", dir);
    symlink("a.html", l); /* relative link within the root: allowed */
    snprintf(p, sizeof(p), "%s/fifo", dir);
    mkfifo(p, 0644);
    return fs_root_open(&root, dir);
}

static int teardown(void **state)
{
    (void)state;
    fs_root_close(&root);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, outside);
    return system(cmd) == 0 ? 0 : -1;
}

/* A stand-in for the HTTP/1 writer's hook: "size=N type=T" after the facts are in. */
static size_t aux_len(const struct fs_entry *e)
{
    char tmp[128];
    return (size_t)snprintf(tmp, sizeof(tmp), "size=%llu type=%.*s", (unsigned long long)e->size,
                            (int)e->mime.len, e->mime.ptr);
}

static void aux_fill(const struct fs_entry *e, char *dst)
{
    char tmp[128];
    int n = snprintf(tmp, sizeof(tmp), "size=%llu type=%.*s", (unsigned long long)e->size,
                     (int)e->mime.len, e->mime.ptr);
    memcpy(dst, tmp, (size_t)n);
}

static const struct fs_cache_hooks hooks = {aux_len, aux_fill};

static struct fs_entry *get(struct fs_cache *c, const char *path, uint64_t now)
{
    struct fs_entry *e = fs_cache_get(c, &root, 0, slice_cstr(path), now);
    assert_non_null(e);
    return e;
}

static void test_kinds(void **state)
{
    (void)state;
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.small_max = 1024;
    struct fs_cache *c = fs_cache_new(&lim, &hooks);
    struct fs_entry *e = get(c, "/a.html", 0);
    assert_int_equal(e->kind, FS_FILE);
    assert_int_equal(e->size, 8);
    assert_non_null(e->body);
    assert_memory_equal(e->body, "<p>a</p>", 8);
    assert_int_equal(e->fd, -1);
    assert_true(slice_eq(e->mime, SLICE_LIT("text/html")));
    assert_int_equal(e->etag.ptr[0], '"');
    assert_int_equal(e->etag.ptr[e->etag.len - 1], '"');
    /* the owner's attachment is built from the facts, aligned, and lives with the entry */
    assert_non_null(e->aux);
    assert_int_equal((uintptr_t)e->aux % 8, 0);
    assert_int_equal(e->aux_len, strlen("size=8 type=text/html"));
    assert_memory_equal(e->aux, "size=8 type=text/html", e->aux_len);
    fs_entry_release(e);

    e = get(c, "/big.bin", 0);
    assert_int_equal(e->kind, FS_FILE);
    assert_null(e->body);
    assert_true(e->fd >= 0);
    assert_int_equal(e->size, 100000);
    fs_entry_release(e);

    e = get(c, "/sub", 0);
    assert_int_equal(e->kind, FS_DIR);
    assert_null(e->aux); /* files only */
    fs_entry_release(e);
    e = get(c, "/", 0);
    assert_int_equal(e->kind, FS_DIR);
    fs_entry_release(e);

    e = get(c, "/missing", 0);
    assert_int_equal(e->kind, FS_ERROR);
    assert_int_equal(e->status, 404);
    fs_entry_release(e);
    e = get(c, "/a.html/x", 0);
    assert_int_equal(e->status, 404);
    fs_entry_release(e);
    e = get(c, "/escape", 0);
    assert_int_equal(e->kind, FS_ERROR);
    assert_int_equal(e->status, 403);
    fs_entry_release(e);
    e = get(c, "/rel-escape", 0);
    assert_int_equal(e->kind, FS_ERROR);
    assert_int_equal(e->status, 403);
    fs_entry_release(e);
    e = get(c, "/inside", 0);
    assert_int_equal(e->kind, FS_FILE);
    fs_entry_release(e);
    e = get(c, "/fifo", 0);
    assert_int_equal(e->kind, FS_ERROR);
    assert_int_equal(e->status, 403);
    fs_entry_release(e);
    fs_cache_free(c);
}

static void test_hits_and_revalidation(void **state)
{
    (void)state;
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.valid_ms = 1000;
    struct fs_cache *c = fs_cache_new(&lim, NULL);
    struct fs_entry *e1 = get(c, "/sub/b.txt", 0);
    struct fs_entry *e2 = get(c, "/sub/b.txt", 500);
    assert_ptr_equal(e1, e2);
    struct fs_cache_stats st;
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 1);
    /* rewrite with a different size: after valid_ms the new content is served */
    write_file("sub/b.txt", "changed!", 8);
    struct fs_entry *e3 = get(c, "/sub/b.txt", 850);
    assert_ptr_equal(e3, e1); /* still within the interval (up to an eighth shorter) */
    struct fs_entry *e4 = get(c, "/sub/b.txt", 1600);
    assert_ptr_not_equal(e4, e1);
    assert_int_equal(e4->size, 8);
    assert_memory_equal(e4->body, "changed!", 8);
    /* the old entry stays valid while referenced */
    assert_memory_equal(e1->body, "bbbb", 4);
    fs_entry_release(e1);
    fs_entry_release(e2);
    fs_entry_release(e3);
    fs_entry_release(e4);
    /* unchanged file: revalidation keeps the entry */
    struct fs_entry *e5 = get(c, "/sub/b.txt", 3000);
    struct fs_entry *e6 = get(c, "/sub/b.txt", 5000);
    assert_ptr_equal(e5, e6);
    fs_cache_get_stats(c, &st);
    assert_true(st.revalidations >= 2);
    fs_entry_release(e5);
    fs_entry_release(e6);
    /* negative entries expire too: a file created later is found */
    struct fs_entry *n1 = get(c, "/late.txt", 6000);
    assert_int_equal(n1->status, 404);
    fs_entry_release(n1);
    write_file("late.txt", "late", 4);
    struct fs_entry *n2 = get(c, "/late.txt", 6500);
    assert_int_equal(n2->kind, FS_ERROR); /* negative_ms not over yet */
    fs_entry_release(n2);
    struct fs_entry *n3 = get(c, "/late.txt", 7100);
    assert_int_equal(n3->kind, FS_FILE);
    fs_entry_release(n3);
    /* deleted file: 404 after the interval */
    char p[256];
    snprintf(p, sizeof(p), "%s/late.txt", dir);
    unlink(p);
    struct fs_entry *n4 = get(c, "/late.txt", 9000);
    assert_int_equal(n4->kind, FS_ERROR);
    fs_entry_release(n4);
    write_file("sub/b.txt", "bbbb", 4);
    fs_cache_free(c);
}

static void test_bounds(void **state)
{
    (void)state;
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.max_entries = 3;
    lim.max_fds = 1;
    lim.small_max = 16;
    struct fs_cache *c = fs_cache_new(&lim, NULL);
    const char *paths[] = {"/a.html", "/sub/b.txt", "/missing1", "/missing2", "/missing3"};
    for (int i = 0; i < 5; i++) {
        /* thrice each: once full, a newcomer must be looked up more than the entry it evicts */
        for (int k = 0; k < 3; k++) {
            fs_entry_release(get(c, paths[i], 0));
        }
    }
    struct fs_cache_stats st;
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.evictions, 2);
    /* large files hold fds: bounded by max_fds, evicted entries close theirs */
    for (int k = 0; k < 5; k++) {
        fs_entry_release(get(c, "/big.bin", 0)); /* often enough to be admitted */
    }
    struct fs_entry *big = get(c, "/big.bin", 0);
    assert_true(big->fd >= 0);
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.fds, 1);
    fs_entry_release(big);
    fs_cache_clear(c);
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.fds, 0);
    fs_cache_free(c);
}

static void test_disabled(void **state)
{
    (void)state;
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.enabled = false;
    struct fs_cache *c = fs_cache_new(&lim, NULL);
    struct fs_entry *a = get(c, "/a.html", 0);
    struct fs_entry *b = get(c, "/a.html", 0);
    assert_ptr_not_equal(a, b);
    fs_entry_release(a);
    fs_entry_release(b);
    struct fs_cache_stats st;
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.entries, 0);
    fs_cache_free(c);
}

/*
 * Out of descriptors at revalidation time: the check cannot look, and the entry must stay
 * valid (it used to be evicted, and the reload then failed with 503 on every hit).
 */
static void test_recheck_without_fds(void **state)
{
    (void)state;
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    struct fs_cache *c = fs_cache_new(&lim, NULL);
    struct fs_entry *e = get(c, "/a.html", 0);
    fs_entry_release(e);
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int probe = dup(0); /* the lowest free descriptor: everything below is in use */
    assert_true(probe >= 0);
    close(probe);
    low = old;
    low.rlim_cur = (rlim_t)probe; /* no descriptor left to open */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct fs_entry *again = fs_cache_get(c, &root, 0, SLICE_LIT("/a.html"), 5000);
    int emfile = dup(0) < 0 && errno == EMFILE;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_true(emfile);
    assert_non_null(again);
    assert_int_equal(again->kind, FS_FILE);
    assert_memory_equal(again->body, "<p>a</p>", 8);
    struct fs_cache_stats st;
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.recheck_deferred, 1);
    assert_int_equal(st.replaced, 0);
    fs_entry_release(again);
    /* with descriptors back, the next check looks again (and finds it unchanged) */
    e = get(c, "/a.html", 10000);
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.revalidations, 2);
    assert_int_equal(st.replaced, 0);
    fs_entry_release(e);
    fs_cache_free(c);
}

/*
 * Short of descriptors only: the newcomer evicts an entry holding one, looking past at most 64
 * that hold none (it used to walk the whole list on every insert), else it is served uncached.
 */
static void test_fd_pressure_bounded(void **state)
{
    (void)state;
    char big[70000];
    memset(big, 'y', sizeof(big));
    write_file("big2.bin", big, sizeof(big));
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.max_fds = 1;
    char p[32];
    struct fs_cache_stats st;
    /* 10 entries without a descriptor older than the one holding it: that one is found */
    struct fs_cache *c = fs_cache_new(&lim, NULL);
    for (int i = 0; i < 10; i++) {
        snprintf(p, sizeof(p), "/small%d", i); /* 404s: entries without a descriptor */
        fs_entry_release(get(c, p, 0));
    }
    fs_entry_release(get(c, "/big.bin", 0));
    fs_entry_release(get(c, "/big2.bin", 0));
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.fds, 1);
    assert_int_equal(st.evictions, 1); /* big.bin */
    assert_int_equal(st.entries, 11);
    fs_cache_free(c);
    /* 100 of them: the look stops after 64, big2.bin is served but not kept */
    c = fs_cache_new(&lim, NULL);
    for (int i = 0; i < 100; i++) {
        snprintf(p, sizeof(p), "/small%d", i);
        fs_entry_release(get(c, p, 0));
    }
    fs_entry_release(get(c, "/big.bin", 0));
    struct fs_entry *e = get(c, "/big2.bin", 0);
    assert_true(e->fd >= 0);
    assert_int_equal(e->size, sizeof(big));
    fs_entry_release(e);
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.fds, 1);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.entries, 101);
    uint64_t misses = st.misses;
    fs_entry_release(get(c, "/big2.bin", 0));
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.misses, misses + 1); /* not kept: loaded again */
    fs_cache_free(c);
    char path[256];
    snprintf(path, sizeof(path), "%s/big2.bin", dir);
    unlink(path);
}

/* Once full, one-time lookups pass through without pushing out what is looked up often. */
static void test_admission(void **state)
{
    (void)state;
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.max_entries = 3;
    struct fs_cache *c = fs_cache_new(&lim, NULL);
    const char *hot[] = {"/a.html", "/sub/b.txt", "/big.bin"};
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 3; i++) {
            fs_entry_release(get(c, hot[i], 0));
        }
    }
    char p[32];
    for (int i = 0; i < 10; i++) {
        snprintf(p, sizeof(p), "/cold%d", i); /* each looked up once: a 404 not kept */
        struct fs_entry *e = get(c, p, 0);
        assert_int_equal(e->status, 404);
        fs_entry_release(e);
    }
    struct fs_cache_stats st;
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.evictions, 0);
    assert_true(st.rejected >= 9); /* the first may come before the counting starts */
    uint64_t hits = st.hits;
    for (int i = 0; i < 3; i++) {
        fs_entry_release(get(c, hot[i], 0));
    }
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.hits, hits + 3);
    /* a newcomer looked up more often than the coldest entry gets in */
    for (int i = 0; i < 12; i++) {
        fs_entry_release(get(c, "/inside", 0));
    }
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.evictions, 1);
    assert_true(st.hits > hits + 3);
    fs_cache_free(c);
}

/* A miss filled by the owner, phase by phase (what the worker does through io_uring). */
static void test_fill_phases(void **state)
{
    (void)state;
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.small_max = 1024;
    struct fs_cache *c = fs_cache_new(&lim, &hooks);
    uint64_t hash;
    struct fs_entry *stale;
    struct slice path = SLICE_LIT("/a.html");
    assert_null(fs_cache_find(c, FS_VIEW(0), path, 0, &hash, &stale));
    assert_null(stale);
    struct fs_fill f;
    int fd = fs_open_beneath(&root, "a.html", O_RDONLY);
    assert_int_equal(fs_fill_opened(c, FS_VIEW(0), path, hash, fd, 0, &f), FS_FILL_READ);
    assert_int_equal(f.fd, fd);
    assert_int_equal(f.len, 8);
    assert_int_equal(pread(f.fd, f.dst, f.len, 0), 8);
    assert_int_equal(fs_fill_read_done(c, &f, 8, 0), FS_FILL_DONE);
    close(f.fd);
    assert_int_equal(f.e->kind, FS_FILE);
    assert_memory_equal(f.e->body, "<p>a</p>", 8);
    struct fs_entry *hit = fs_cache_find(c, FS_VIEW(0), path, 10, &hash, &stale);
    assert_ptr_equal(hit, f.e);
    fs_entry_release(hit);
    fs_entry_release(f.e);

    /* a large file keeps its descriptor: nothing for the owner to close */
    path = SLICE_LIT("/big.bin");
    assert_null(fs_cache_find(c, FS_VIEW(0), path, 0, &hash, &stale));
    fd = fs_open_beneath(&root, "big.bin", O_RDONLY);
    assert_int_equal(fs_fill_opened(c, FS_VIEW(0), path, hash, fd, 0, &f), FS_FILL_DONE);
    assert_int_equal(f.fd, -1);
    assert_int_equal(f.e->fd, fd);
    fs_entry_release(f.e);

    /* a failed open is an error entry; a short read is a 503 that is not kept */
    path = SLICE_LIT("/nothing");
    assert_null(fs_cache_find(c, FS_VIEW(0), path, 0, &hash, &stale));
    assert_int_equal(fs_fill_opened(c, FS_VIEW(0), path, hash, -ENOENT, 0, &f), FS_FILL_DONE);
    assert_int_equal(f.e->status, 404);
    fs_entry_release(f.e);
    path = SLICE_LIT("/sub/b.txt");
    assert_null(fs_cache_find(c, FS_VIEW(0), path, 0, &hash, &stale));
    fd = fs_open_beneath(&root, "sub/b.txt", O_RDONLY);
    assert_int_equal(fs_fill_opened(c, FS_VIEW(0), path, hash, fd, 0, &f), FS_FILL_READ);
    assert_int_equal(fs_fill_read_done(c, &f, 2, 0), FS_FILL_DONE);
    close(f.fd);
    assert_int_equal(f.e->status, 503);
    fs_entry_release(f.e);
    assert_null(fs_cache_find(c, FS_VIEW(0), path, 0, &hash, &stale));
    fs_cache_free(c);
}

/* A check done by the owner; and the hand-off of an entry admission kept out. */
static void test_recheck_and_handoff(void **state)
{
    (void)state;
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.valid_ms = 1000;
    struct fs_cache *c = fs_cache_new(&lim, NULL);
    struct fs_entry *e = get(c, "/a.html", 0);
    uint64_t hash;
    struct fs_entry *stale;
    struct slice path = SLICE_LIT("/a.html");
    assert_null(fs_cache_find(c, FS_VIEW(0), path, 2000, &hash, &stale));
    assert_ptr_equal(stale, e);
    int fd = fs_open_beneath(&root, "a.html", O_PATH);
    assert_int_equal(fs_recheck_done(c, stale, fd, 2000), FS_RECHECK_SAME);
    close(fd);
    struct fs_entry *again = fs_cache_find(c, FS_VIEW(0), path, 2001, &hash, &stale);
    assert_ptr_equal(again, e);
    fs_entry_release(again);
    /* the check finds the file gone: the entry leaves, the next lookup loads afresh */
    assert_null(fs_cache_find(c, FS_VIEW(0), path, 5000, &hash, &stale));
    assert_int_equal(fs_recheck_done(c, stale, -ENOENT, 5000), FS_RECHECK_CHANGED);
    assert_null(fs_cache_find(c, FS_VIEW(0), path, 5000, &hash, &stale));
    assert_null(stale); /* gone: loaded afresh */
    fs_entry_release(e);

    /* handed off: found while set, even though the cache does not hold it */
    struct fs_fill f;
    assert_null(fs_cache_find(c, FS_VIEW(0), SLICE_LIT("/gone"), 0, &hash, &stale));
    assert_int_equal(fs_fill_opened(c, FS_VIEW(0), SLICE_LIT("/gone"), hash, -ENOENT, 0, &f),
                     FS_FILL_DONE);
    fs_cache_clear(c); /* as if admission had kept it out: referenced, so not freed */
    assert_null(fs_cache_find(c, FS_VIEW(0), SLICE_LIT("/gone"), 0, &hash, &stale));
    fs_cache_handoff(c, f.e);
    struct fs_entry *h = fs_cache_find(c, FS_VIEW(0), SLICE_LIT("/gone"), 0, &hash, &stale);
    assert_ptr_equal(h, f.e);
    fs_entry_release(h);
    fs_cache_handoff(c, NULL);
    assert_null(fs_cache_find(c, FS_VIEW(0), SLICE_LIT("/gone"), 0, &hash, &stale));
    fs_entry_release(f.e);
    fs_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_hits_and_revalidation),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_recheck_without_fds),
        cmocka_unit_test(test_fd_pressure_bounded),
        cmocka_unit_test(test_admission),
        cmocka_unit_test(test_fill_phases),
        cmocka_unit_test(test_recheck_and_handoff),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
