/*
 * pool.h - a free list of fixed-size blocks.
 *
 * A worker keeps one pool per block kind (connection output blocks, HTTP/1
 * response records): a busy connection takes a block, an idle one gives it
 * back, so the request path never calls the allocator once the pool is warm.
 * At most max_free idle blocks are kept; beyond that a returned block is freed.
 *
 * Single-threaded: a pool belongs to one worker thread.
 */
#pragma once

#include "core/base/compiler.h"

#include <stdint.h>

struct block_pool {
    void *free_list; /* idle blocks, linked through their first word */
    uint32_t nfree, max_free;
    uint32_t size; /* bytes per block */
};

/* An empty pool of size-byte blocks (size >= sizeof(void *)). */
void block_pool_init(struct block_pool *p, uint32_t size, uint32_t max_free);

/* Frees every idle block. Blocks still in use must not be returned afterwards. */
void block_pool_destroy(struct block_pool *p);

/* A block of p->size bytes (contents undefined), or NULL when memory ran out. */
void *block_get(struct block_pool *p) MUST_CHECK;

/* Returns a block taken from p. */
void block_put(struct block_pool *p, void *b);
