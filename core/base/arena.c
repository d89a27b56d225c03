/* arena.c - see arena.h. */
#include "core/base/arena.h"

#include "core/base/alloc.h"

#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/*
 * A chunk is a header followed by its bytes. Pooled chunks all have the pool's
 * chunk_size; an allocation larger than half a chunk gets a dedicated
 * ("oversize") chunk of its own, freed on reset.
 */
struct arena_chunk {
    struct arena_chunk *next;
    size_t size;  /* usable bytes after the header */
    int oversize; /* 1: not from the pool */
    char data[] __attribute__((aligned(16)));
};

void arena_pool_init(struct arena_pool *p, size_t chunk_size, size_t max_free)
{
    memset(p, 0, sizeof(*p));
    p->chunk_size = ALIGN_UP(chunk_size, (size_t)16);
    p->max_free = max_free;
}

void arena_pool_destroy(struct arena_pool *p)
{
    struct arena_chunk *c = p->free_list;
    while (c) {
        struct arena_chunk *next = c->next;
        UNPOISON(c, sizeof(*c) + c->size);
        sp_free(c);
        c = next;
    }
    p->free_list = NULL;
    p->allocated -= p->nfree;
    p->nfree = 0;
}

static struct arena_chunk *pool_get(struct arena_pool *p)
{
    struct arena_chunk *c = p->free_list;
    if (c) {
        UNPOISON(c, sizeof(*c));
        p->free_list = c->next;
        p->nfree--;
        UNPOISON(c->data, c->size);
        return c;
    }
    c = sp_malloc(sizeof(*c) + p->chunk_size);
    if (!c) {
        return NULL;
    }
    c->size = p->chunk_size;
    c->oversize = 0;
    p->allocated++;
    return c;
}

static void pool_put(struct arena_pool *p, struct arena_chunk *c)
{
    if (c->oversize || p->nfree >= p->max_free) {
        if (!c->oversize) {
            p->allocated--;
        }
        sp_free(c);
        return;
    }
    c->next = p->free_list;
    p->free_list = c;
    p->nfree++;
    POISON(c->data, c->size);
}

void arena_init(struct arena *a, struct arena_pool *pool, size_t cap)
{
    memset(a, 0, sizeof(*a));
    a->pool = pool;
    a->cap = cap;
}

static void *alloc_slow(struct arena *a, size_t n)
{
    struct arena_chunk *c;
    if (n > a->pool->chunk_size / 2) {
        /* dedicated chunk; keep allocating from the current one afterwards */
        c = sp_malloc(sizeof(*c) + n);
        if (!c) {
            return NULL;
        }
        c->size = n;
        c->oversize = 1;
        if (a->head) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = NULL;
            a->head = c;
            a->cur = a->end = c->data + n;
        }
        a->used += n;
        return c->data;
    }
    c = pool_get(a->pool);
    if (!c) {
        return NULL;
    }
    c->next = a->head;
    a->head = c;
    a->cur = c->data + n;
    a->end = c->data + c->size;
    a->used += n;
    return c->data;
}

void *arena_alloc(struct arena *a, size_t n)
{
    n = ALIGN_UP(n ? n : 1, (size_t)16);
    if (UNLIKELY(a->cap && a->used + n > a->cap)) {
        return NULL;
    }
    if (LIKELY((size_t)(a->end - a->cur) >= n)) {
        void *p = a->cur;
        a->cur += n;
        a->used += n;
        UNPOISON(p, n);
        return p;
    }
    return alloc_slow(a, n);
}

void *arena_memdup(struct arena *a, const void *src, size_t n)
{
    void *p = arena_alloc(a, n);
    if (p && n) {
        memcpy(p, src, n);
    }
    return p;
}

void arena_reset(struct arena *a)
{
    struct arena_chunk *keep = NULL;
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        if (!c->oversize && !keep) {
            keep = c;
        } else {
            pool_put(a->pool, c);
        }
        c = next;
    }
    a->head = keep;
    a->used = 0;
    if (keep) {
        keep->next = NULL;
        POISON(keep->data, keep->size);
        a->cur = keep->data;
        a->end = keep->data + keep->size;
    } else {
        a->cur = a->end = NULL;
    }
}

void arena_release(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        pool_put(a->pool, c);
        c = next;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->used = 0;
}
