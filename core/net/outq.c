/* outq.c - see outq.h. */
#include "core/net/outq.h"

#include "core/base/alloc.h"

#include <string.h>

struct outq *outq_new(struct block_pool *pool)
{
    ASSERT(pool->size > sizeof(struct outq) + 1024);
    struct outq *q = block_get(pool);
    if (!q) {
        return NULL;
    }
    q->pool = pool;
    q->head = q->count = 0;
    q->len = 0;
    q->cap = (pool->size - (uint32_t)sizeof(struct outq)) & ~7u;
    q->queued_pos = q->sent_pos = 0;
    return q;
}

static void seg_done(struct outq_seg *s)
{
    if (s->ref) {
        fs_entry_release(s->ref);
    }
    if (s->kind == OUTQ_OWNED) {
        sp_free(s->owned);
    }
}

void outq_free(struct outq *q)
{
    if (!q) {
        return;
    }
    while (q->count) {
        seg_done(&q->segs[q->head]);
        q->head = (q->head + 1) % OUTQ_SEGS;
        q->count--;
    }
    block_put(q->pool, q);
}

char *outq_reserve(struct outq *q, size_t n)
{
    if (q->cap - q->len < n || q->count == OUTQ_SEGS) {
        return NULL;
    }
    return q->buf + q->len;
}

/* A new segment at the tail (the caller checked for a free slot). */
static struct outq_seg *push(struct outq *q, uint8_t kind, const char *ptr, uint64_t len)
{
    ASSERT(q->count < OUTQ_SEGS);
    struct outq_seg *s = &q->segs[(q->head + q->count) % OUTQ_SEGS];
    q->count++;
    s->kind = kind;
    s->ptr = ptr;
    s->len = len;
    s->off = 0;
    s->ref = NULL;
    s->owned = NULL;
    q->queued_pos += len;
    return s;
}

void outq_commit(struct outq *q, size_t n)
{
    if (n == 0) {
        return;
    }
    const char *p = q->buf + q->len;
    q->len += (uint32_t)n;
    struct outq_seg *t = q->count ? outq_seg(q, q->count - 1) : NULL;
    if (t && t->kind == OUTQ_MEM && !t->ref && t->ptr + t->len == p) {
        t->len += n; /* contiguous with the previous bytes: one iovec */
        q->queued_pos += n;
        return;
    }
    push(q, OUTQ_MEM, p, n);
}

void outq_push_mem(struct outq *q, const char *ptr, size_t len, struct fs_entry *ref)
{
    if (len == 0) {
        return;
    }
    struct outq_seg *s = push(q, OUTQ_MEM, ptr, len);
    s->ref = ref;
    if (ref) {
        fs_entry_ref(ref);
    }
}

void outq_push_owned(struct outq *q, char *ptr, size_t len)
{
    if (len == 0) {
        sp_free(ptr);
        return;
    }
    struct outq_seg *s = push(q, OUTQ_OWNED, ptr, len);
    s->owned = ptr;
}

void outq_push_file(struct outq *q, struct fs_entry *ref, uint64_t off, uint64_t len)
{
    if (len == 0) {
        return;
    }
    struct outq_seg *s = push(q, OUTQ_FILE, NULL, len);
    s->off = off;
    s->ref = ref;
    fs_entry_ref(ref);
}

void outq_advance(struct outq *q, uint64_t n)
{
    q->sent_pos += n;
    while (n && q->count) {
        struct outq_seg *s = &q->segs[q->head];
        if (s->len > n) {
            s->len -= n;
            if (s->kind == OUTQ_FILE) {
                s->off += n;
            } else {
                s->ptr += n;
            }
            break;
        }
        n -= s->len;
        seg_done(s);
        q->head = (q->head + 1) % OUTQ_SEGS;
        q->count--;
    }
    if (q->count == 0) {
        q->len = 0; /* nothing references the block's bytes any more */
    }
}
