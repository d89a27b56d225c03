/* pool.c - see pool.h. */
#include "core/base/pool.h"

#include "core/base/alloc.h"

void block_pool_init(struct block_pool *p, uint32_t size, uint32_t max_free)
{
    p->free_list = NULL;
    p->nfree = 0;
    p->max_free = max_free;
    p->size = size < sizeof(void *) ? (uint32_t)sizeof(void *) : size;
}

void block_pool_destroy(struct block_pool *p)
{
    while (p->free_list) {
        void *b = p->free_list;
        p->free_list = *(void **)b;
        sp_free(b);
    }
    p->nfree = 0;
}

void *block_get(struct block_pool *p)
{
    void *b = p->free_list;
    if (b) {
        p->free_list = *(void **)b;
        p->nfree--;
        return b;
    }
    return sp_malloc(p->size);
}

void block_put(struct block_pool *p, void *b)
{
    if (p->nfree >= p->max_free) {
        sp_free(b);
        return;
    }
    *(void **)b = p->free_list;
    p->free_list = b;
    p->nfree++;
}
