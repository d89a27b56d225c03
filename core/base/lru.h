/*
 * lru.h - a hashed table of owned items kept in least-recently-used order.
 *
 * The per-worker caches (autoindex pages, MultiViews directory names, user directories) each
 * keep items by a hash of a key of their own, look one up, move it to the front when it is used
 * and evict from the back past a byte or count budget. This is that table, once.
 *
 * Intrusive: the owner embeds a struct lru_node in its item and gets the item back with
 * container_of. The table never allocates and never frees: the caller compares its own keys
 * (lru_first/lru_next walk the nodes with a hash), decides what to evict (lru_oldest, then
 * lru_newer to go on) and frees an item after lru_remove. The buckets are an array the caller
 * owns, so a table cannot fail to start. No rehashing: a table has as many buckets as it was
 * given, and colliding nodes share a bucket's chain.
 *
 * Single-threaded: a table belongs to one thread. It holds pointers into itself (the list's
 * sentinel), so it is initialized in place and never copied.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct lru_node {
    struct lru_node *hnext;       /* the next node in the same bucket */
    struct lru_node *prev, *next; /* the recency list, most recent first */
    uint64_t hash;                /* set by lru_insert; the caller may read it */
    size_t bytes;                 /* what the node counts in lru.bytes; set by lru_insert */
};

struct lru {
    struct lru_node **buckets;
    uint32_t nbuckets;
    struct lru_node list; /* sentinel: list.next is the most recent node, list.prev the oldest */
    size_t bytes;         /* the sum of the nodes' bytes (read-only for the caller) */
    unsigned count;       /* nodes in the table (read-only for the caller) */
};

/* An empty table over nbuckets (> 0) bucket heads the caller owns; they are cleared here. */
void lru_init(struct lru *t, struct lru_node **buckets, uint32_t nbuckets);

/* The most recently inserted node whose hash is hash, or NULL. */
struct lru_node *lru_first(const struct lru *t, uint64_t hash);

/* The next node (inserted earlier) with n's hash, or NULL: the caller's keys tell them apart. */
struct lru_node *lru_next(const struct lru_node *n);

/* Adds n (in no table) as the most recent node, counting bytes. Keys are not checked: a caller
 * that wants one node per key removes the old one first. */
void lru_insert(struct lru *t, struct lru_node *n, uint64_t hash, size_t bytes);

/* Makes n (in t) the most recent node. */
void lru_touch(struct lru *t, struct lru_node *n);

/* Takes n out of t, uncounting its bytes; the caller frees the item. */
void lru_remove(struct lru *t, struct lru_node *n);

/* The least recently used node, or NULL when t is empty. */
struct lru_node *lru_oldest(const struct lru *t);

/* The node used just after n, or NULL when n is the most recent: read it before removing n. */
struct lru_node *lru_newer(const struct lru *t, const struct lru_node *n);
