/* lru.c - see lru.h. */
#include "core/base/lru.h"

#include <string.h>

void lru_init(struct lru *t, struct lru_node **buckets, uint32_t nbuckets)
{
    memset(buckets, 0, nbuckets * sizeof(*buckets));
    t->buckets = buckets;
    t->nbuckets = nbuckets;
    t->list.prev = t->list.next = &t->list;
    t->bytes = 0;
    t->count = 0;
}

static struct lru_node **bucket_of(const struct lru *t, uint64_t hash)
{
    return &t->buckets[hash % t->nbuckets];
}

/* The first node at or after n with that hash. */
static struct lru_node *same_hash(struct lru_node *n, uint64_t hash)
{
    while (n && n->hash != hash) {
        n = n->hnext;
    }
    return n;
}

struct lru_node *lru_first(const struct lru *t, uint64_t hash)
{
    return same_hash(*bucket_of(t, hash), hash);
}

struct lru_node *lru_next(const struct lru_node *n)
{
    return same_hash(n->hnext, n->hash);
}

/* Puts n at the front of the recency list. */
static void link_front(struct lru *t, struct lru_node *n)
{
    n->prev = &t->list;
    n->next = t->list.next;
    t->list.next->prev = n;
    t->list.next = n;
}

static void unlink_list(struct lru_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
}

void lru_insert(struct lru *t, struct lru_node *n, uint64_t hash, size_t bytes)
{
    struct lru_node **b = bucket_of(t, hash);
    n->hash = hash;
    n->bytes = bytes;
    n->hnext = *b;
    *b = n;
    link_front(t, n);
    t->bytes += bytes;
    t->count++;
}

void lru_touch(struct lru *t, struct lru_node *n)
{
    unlink_list(n);
    link_front(t, n);
}

void lru_remove(struct lru *t, struct lru_node *n)
{
    struct lru_node **pp = bucket_of(t, n->hash);
    while (*pp != n) { /* n is in this chain: the caller found it in t */
        pp = &(*pp)->hnext;
    }
    *pp = n->hnext;
    unlink_list(n);
    n->hnext = n->prev = n->next = NULL; /* a stale use faults rather than corrupts */
    t->bytes -= n->bytes;
    t->count--;
}

struct lru_node *lru_oldest(const struct lru *t)
{
    return t->list.prev == &t->list ? NULL : t->list.prev;
}

struct lru_node *lru_newer(const struct lru *t, const struct lru_node *n)
{
    return n->prev == &t->list ? NULL : n->prev;
}
