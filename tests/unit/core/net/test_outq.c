/*
 * Unit tests for the output queue (core/net/outq.c): contiguous bytes merge into one
 * segment, references and owned memory live exactly as long as their bytes are queued,
 * partial progress moves pointers and offsets, the block is reused once empty.
 */
#include "common/unit.h"
#include "core/base/alloc.h"
#include "core/base/hash.h"
#include "core/net/outq.h"
#include "fs/cache.h"
#include "fs/docroot.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct block_pool pool;
static struct fs_cache *cache;
static struct fs_root root;
static char dir[64];

static int setup(void **state)
{
    (void)state;
    hash_set_seed(3);
    block_pool_init(&pool, 32768, 4);
    strcpy(dir, "/tmp/spate-outq-XXXXXX");
    if (!mkdtemp(dir)) {
        return -1;
    }
    char p[128];
    snprintf(p, sizeof(p), "%s/f", dir);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    char buf[200000];
    memset(buf, 'f', sizeof(buf));
    if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
        return -1;
    }
    close(fd);
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    cache = fs_cache_new(&lim, NULL);
    return cache && fs_root_open(&root, dir) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fs_cache_free(cache);
    fs_root_close(&root);
    block_pool_destroy(&pool);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put(struct outq *q, const char *s)
{
    size_t n = strlen(s);
    char *p = outq_reserve(q, n);
    assert_non_null(p);
    memcpy(p, s, n);
    outq_commit(q, n);
}

static void test_merge_and_advance(void **state)
{
    (void)state;
    struct outq *q = outq_new(&pool);
    assert_non_null(q);
    assert_true(outq_empty(q));
    put(q, "HTTP/1.1 200 OK\r\n");
    put(q, "\r\nbody");
    assert_int_equal(q->count, 1); /* contiguous bytes in the block: one iovec */
    assert_int_equal(outq_seg(q, 0)->len, 23);
    assert_int_equal(q->queued_pos, 23);
    outq_advance(q, 5);
    assert_memory_equal(outq_seg(q, 0)->ptr, "1.1 200", 7);
    put(q, "!");
    assert_int_equal(q->count, 1); /* still contiguous behind the head segment */
    outq_advance(q, 19);
    assert_true(outq_empty(q));
    assert_int_equal(q->len, 0); /* the block's bytes are free again */
    assert_int_equal(q->sent_pos, 24);
    outq_free(q);
}

static void test_references_and_owned(void **state)
{
    (void)state;
    struct fs_entry *e = fs_cache_get(cache, &root, 0, SLICE_LIT("/f"), 0);
    assert_non_null(e);
    assert_int_equal(e->kind, FS_FILE);
    struct outq *q = outq_new(&pool);
    put(q, "head");
    outq_push_file(q, e, 100, 1000);
    char *own = sp_malloc(10);
    memcpy(own, "0123456789", 10);
    outq_push_owned(q, own, 10);
    outq_push_mem(q, "ref'd", 5, e);
    put(q, "tail");
    assert_int_equal(q->count, 5); /* nothing merges across a file, owned or referenced piece */
    assert_int_equal(outq_free_segs(q), OUTQ_SEGS - 5);
    /* partial progress inside the file segment moves its offset */
    outq_advance(q, 4 + 300);
    assert_int_equal(outq_seg(q, 0)->kind, OUTQ_FILE);
    assert_int_equal(outq_seg(q, 0)->off, 400);
    assert_int_equal(outq_seg(q, 0)->len, 700);
    outq_advance(q, 700 + 3);
    assert_int_equal(outq_seg(q, 0)->kind, OUTQ_OWNED);
    assert_memory_equal(outq_seg(q, 0)->ptr, "3456789", 7);
    /* freeing with bytes queued releases the references and frees owned memory (ASan: no
     * leak, and the entry's reference count comes back to the cache's own) */
    outq_free(q);
    fs_entry_release(e);
    fs_cache_clear(cache); /* frees the entry: it must be unreferenced now */
    struct fs_cache_stats st;
    fs_cache_get_stats(cache, &st);
    assert_int_equal(st.entries, 0);
}

static void test_full_block(void **state)
{
    (void)state;
    struct outq *q = outq_new(&pool);
    size_t room = outq_room(q);
    assert_true(room > 20000 && room < 32768);
    assert_null(outq_reserve(q, room + 1));
    char *p = outq_reserve(q, room);
    assert_non_null(p);
    outq_commit(q, room);
    assert_int_equal(outq_room(q), 0);
    assert_null(outq_reserve(q, 1));
    outq_advance(q, room);
    assert_int_equal(outq_room(q), room);
    outq_free(q);
    /* the block went back to the pool and comes out again */
    struct outq *again = outq_new(&pool);
    assert_ptr_equal(again, q);
    outq_free(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_and_advance),
        cmocka_unit_test(test_references_and_owned),
        cmocka_unit_test(test_full_block),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
