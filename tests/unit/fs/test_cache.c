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
    struct fs_cache *c = fs_cache_new(&lim);
    struct fs_entry *e = get(c, "/a.html", 0);
    assert_int_equal(e->kind, FS_FILE);
    assert_int_equal(e->size, 8);
    assert_non_null(e->body);
    assert_memory_equal(e->body, "<p>a</p>", 8);
    assert_int_equal(e->fd, -1);
    assert_true(slice_eq(e->mime, SLICE_LIT("text/html")));
    assert_int_equal(e->etag.ptr[0], '"');
    assert_int_equal(e->etag.ptr[e->etag.len - 1], '"');
    /* the header block is well formed */
    assert_true(e->hdr_len > 0 && e->off_len < e->off_val && e->off_val < e->hdr_len);
    assert_memory_equal(e->hdr, "Content-Type: text/html\r\n", e->off_len);
    assert_memory_equal(e->hdr + e->off_len, "Content-Length: 8\r\n", e->off_val - e->off_len);
    fs_entry_release(c, e);

    e = get(c, "/big.bin", 0);
    assert_int_equal(e->kind, FS_FILE);
    assert_null(e->body);
    assert_true(e->fd >= 0);
    assert_int_equal(e->size, 100000);
    fs_entry_release(c, e);

    e = get(c, "/sub", 0);
    assert_int_equal(e->kind, FS_DIR);
    fs_entry_release(c, e);
    e = get(c, "/", 0);
    assert_int_equal(e->kind, FS_DIR);
    fs_entry_release(c, e);

    e = get(c, "/missing", 0);
    assert_int_equal(e->kind, FS_ERROR);
    assert_int_equal(e->status, 404);
    fs_entry_release(c, e);
    e = get(c, "/a.html/x", 0);
    assert_int_equal(e->status, 404);
    fs_entry_release(c, e);
    e = get(c, "/escape", 0);
    assert_int_equal(e->kind, FS_ERROR);
    assert_int_equal(e->status, 403);
    fs_entry_release(c, e);
    e = get(c, "/rel-escape", 0);
    assert_int_equal(e->kind, FS_ERROR);
    assert_int_equal(e->status, 403);
    fs_entry_release(c, e);
    e = get(c, "/inside", 0);
    assert_int_equal(e->kind, FS_FILE);
    fs_entry_release(c, e);
    e = get(c, "/fifo", 0);
    assert_int_equal(e->kind, FS_ERROR);
    assert_int_equal(e->status, 403);
    fs_entry_release(c, e);
    fs_cache_free(c);
}

static void test_hits_and_revalidation(void **state)
{
    (void)state;
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.valid_ms = 1000;
    struct fs_cache *c = fs_cache_new(&lim);
    struct fs_entry *e1 = get(c, "/sub/b.txt", 0);
    struct fs_entry *e2 = get(c, "/sub/b.txt", 500);
    assert_ptr_equal(e1, e2);
    struct fs_cache_stats st;
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 1);
    /* rewrite with a different size: after valid_ms the new content is served */
    write_file("sub/b.txt", "changed!", 8);
    struct fs_entry *e3 = get(c, "/sub/b.txt", 900);
    assert_ptr_equal(e3, e1); /* still within the interval */
    struct fs_entry *e4 = get(c, "/sub/b.txt", 1600);
    assert_ptr_not_equal(e4, e1);
    assert_int_equal(e4->size, 8);
    assert_memory_equal(e4->body, "changed!", 8);
    /* the old entry stays valid while referenced */
    assert_memory_equal(e1->body, "bbbb", 4);
    fs_entry_release(c, e1);
    fs_entry_release(c, e2);
    fs_entry_release(c, e3);
    fs_entry_release(c, e4);
    /* unchanged file: revalidation keeps the entry */
    struct fs_entry *e5 = get(c, "/sub/b.txt", 3000);
    struct fs_entry *e6 = get(c, "/sub/b.txt", 5000);
    assert_ptr_equal(e5, e6);
    fs_cache_get_stats(c, &st);
    assert_true(st.revalidations >= 2);
    fs_entry_release(c, e5);
    fs_entry_release(c, e6);
    /* negative entries expire too: a file created later is found */
    struct fs_entry *n1 = get(c, "/late.txt", 6000);
    assert_int_equal(n1->status, 404);
    fs_entry_release(c, n1);
    write_file("late.txt", "late", 4);
    struct fs_entry *n2 = get(c, "/late.txt", 6500);
    assert_int_equal(n2->kind, FS_ERROR); /* negative_ms not over yet */
    fs_entry_release(c, n2);
    struct fs_entry *n3 = get(c, "/late.txt", 7100);
    assert_int_equal(n3->kind, FS_FILE);
    fs_entry_release(c, n3);
    /* deleted file: 404 after the interval */
    char p[256];
    snprintf(p, sizeof(p), "%s/late.txt", dir);
    unlink(p);
    struct fs_entry *n4 = get(c, "/late.txt", 9000);
    assert_int_equal(n4->kind, FS_ERROR);
    fs_entry_release(c, n4);
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
    struct fs_cache *c = fs_cache_new(&lim);
    const char *paths[] = {"/a.html", "/sub/b.txt", "/missing1", "/missing2", "/missing3"};
    for (int i = 0; i < 5; i++) {
        fs_entry_release(c, get(c, paths[i], 0));
    }
    struct fs_cache_stats st;
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.evictions, 2);
    /* large files hold fds: bounded by max_fds, evicted entries close theirs */
    struct fs_entry *big = get(c, "/big.bin", 0);
    assert_true(big->fd >= 0);
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.fds, 1);
    fs_entry_release(c, big);
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
    struct fs_cache *c = fs_cache_new(&lim);
    struct fs_entry *a = get(c, "/a.html", 0);
    struct fs_entry *b = get(c, "/a.html", 0);
    assert_ptr_not_equal(a, b);
    fs_entry_release(c, a);
    fs_entry_release(c, b);
    struct fs_cache_stats st;
    fs_cache_get_stats(c, &st);
    assert_int_equal(st.entries, 0);
    fs_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_hits_and_revalidation),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_disabled),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
