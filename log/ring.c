/* ring.c - see ring.h. Memory ordering: the producer writes a record, then publishes head
 * with release; the consumer reads head with acquire, reads records, then publishes tail with
 * release; the producer reads tail with acquire before reusing the space. */
#include "log/ring.h"

#include "core/base/alloc.h"
#include "core/base/compiler.h"

#include <errno.h>
#include <string.h>

#define HDR ((uint64_t)sizeof(struct log_rec))

static uint64_t rec_size(uint64_t payload)
{
    return ALIGN_UP(HDR + payload, (uint64_t)8);
}

int log_ring_init(struct log_ring *r, size_t cap)
{
    memset(r, 0, sizeof(*r));
    /* room for two records of the largest size, so a wrap's padding never blocks one */
    uint64_t c = MAX((uint64_t)cap, 2 * (uint64_t)LOG_REC_MAX + 2 * HDR);
    uint64_t p2 = 1;
    while (p2 < c) {
        p2 *= 2;
    }
    r->buf = sp_malloc(p2);
    if (!r->buf) {
        return -ENOMEM;
    }
    r->cap = p2;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return 0;
}

void log_ring_destroy(struct log_ring *r)
{
    sp_free(r->buf);
    r->buf = NULL;
}

uint64_t log_ring_used(const struct log_ring *r)
{
    return atomic_load_explicit(&r->head, memory_order_relaxed) - r->tail_cache;
}

/* Room for `need` bytes at the head, refreshing the cached tail only when needed. */
static int has_room(struct log_ring *r, uint64_t head, uint64_t need)
{
    if (head + need - r->tail_cache <= r->cap) {
        return 1;
    }
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    return head + need - r->tail_cache <= r->cap;
}

char *log_ring_reserve(struct log_ring *r, size_t n)
{
    if (n > LOG_REC_MAX) {
        n = LOG_REC_MAX;
    }
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t need = rec_size(n);
    uint64_t off = head & (r->cap - 1);
    if (off + need > r->cap) {
        /* does not fit before the end: pad the end, start over at 0 */
        uint64_t pad = r->cap - off;
        if (!has_room(r, head, pad + need)) {
            r->full_events++;
            return NULL;
        }
        struct log_rec *p = (struct log_rec *)(r->buf + off);
        p->len = (uint32_t)(pad - HDR);
        p->type = LOG_REC_PAD;
        p->sink = 0;
        head += pad;
        atomic_store_explicit(&r->head, head, memory_order_release);
        off = 0;
    } else if (!has_room(r, head, need)) {
        r->full_events++;
        return NULL;
    }
    r->reserved_at = head;
    return ((struct log_rec *)(r->buf + off))->data;
}

void log_ring_commit(struct log_ring *r, size_t len, uint16_t type, uint16_t sink)
{
    uint64_t head = r->reserved_at;
    struct log_rec *rec = (struct log_rec *)(r->buf + (head & (r->cap - 1)));
    rec->len = (uint32_t)len;
    rec->type = type;
    rec->sink = sink;
    atomic_store_explicit(&r->head, head + rec_size(len), memory_order_release);
}

const struct log_rec *log_ring_peek(struct log_ring *r)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (tail == r->head_cache) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (tail == r->head_cache) {
            return NULL;
        }
    }
    return (const struct log_rec *)(r->buf + (tail & (r->cap - 1)));
}

const struct log_rec *log_ring_next(struct log_ring *r, const struct log_rec *rec)
{
    uint64_t base = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t off = (uint64_t)((const char *)rec - r->buf);
    /* absolute position of rec: the tail's lap, adjusted if rec is in the next lap */
    uint64_t pos = (base & ~(r->cap - 1)) + off;
    if (pos < base) {
        pos += r->cap;
    }
    uint64_t next = pos + rec_size(rec->len);
    if (next == r->head_cache) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (next == r->head_cache) {
            return NULL;
        }
    }
    return (const struct log_rec *)(r->buf + (next & (r->cap - 1)));
}

void log_ring_release_through(struct log_ring *r, const struct log_rec *rec)
{
    uint64_t base = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t off = (uint64_t)((const char *)rec - r->buf);
    uint64_t pos = (base & ~(r->cap - 1)) + off;
    if (pos < base) {
        pos += r->cap;
    }
    atomic_store_explicit(&r->tail, pos + rec_size(rec->len), memory_order_release);
}
