/*
 * arena.h - per-connection bump allocator with a hard cap.
 *
 * Request-scoped memory (the header table, copies of a split request, bodies
 * read for a handler) comes from the connection's arena. Nothing is freed one
 * object at a time: arena_reset() drops everything after each request and
 * keeps the first chunk, arena_release() hands every chunk back when the
 * connection goes idle, so idle connections hold no arena memory.
 *
 * Chunks come from a per-worker arena_pool (a free list), so a busy connection
 * never calls malloc on the request path. Single-threaded: an arena and its
 * pool belong to one worker thread.
 *
 * The cap bounds what one request may allocate: past it arena_alloc() returns
 * NULL, which callers turn into 413/431, never an abort.
 */
#pragma once

#include "core/base/compiler.h"

#include <stddef.h>
#include <stdint.h>

struct arena_chunk;

struct arena_pool {
    struct arena_chunk *free_list;
    size_t nfree;      /* chunks on free_list */
    size_t max_free;   /* beyond this, released chunks go back to the allocator */
    size_t chunk_size; /* usable bytes per pooled chunk */
    size_t allocated;  /* pooled chunks alive (in use + free), for stats */
};

struct arena {
    struct arena_pool *pool;
    struct arena_chunk *head; /* newest chunk first */
    char *cur, *end;
    size_t used; /* bytes handed out since the last reset */
    size_t cap;  /* 0 = unlimited */
};

/* Sets up a pool of chunk_size-byte chunks; keeps at most max_free idle ones. */
void arena_pool_init(struct arena_pool *p, size_t chunk_size, size_t max_free);

/* Frees every idle chunk. Arenas using the pool must be released first. */
void arena_pool_destroy(struct arena_pool *p);

/* Binds an empty arena to its pool. Allocates nothing until first use. */
void arena_init(struct arena *a, struct arena_pool *pool, size_t cap);

/* n bytes aligned to 16, valid until the next reset/release; NULL past the cap or on OOM. */
void *arena_alloc(struct arena *a, size_t n) MUST_CHECK;

/* Copies n bytes into the arena; NULL past the cap or on OOM. */
void *arena_memdup(struct arena *a, const void *src, size_t n) MUST_CHECK;

/* Drops all allocations, keeps the first chunk for the next request. */
void arena_reset(struct arena *a);

/* Drops all allocations and returns every chunk to the pool. */
void arena_release(struct arena *a);

/* True when the arena holds no chunk (an idle connection). */
static inline int arena_is_empty(const struct arena *a)
{
    return a->head == NULL;
}
