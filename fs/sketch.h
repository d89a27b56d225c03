/*
 * sketch.h - a count-min sketch of how often keys were looked up lately: the frequency
 * half of the file cache's TinyLFU admission (cache.c).
 *
 * Four rows of 8-bit saturating counters, each indexed by 16 other bits of the key's
 * hash; the estimate is the smallest of the four. Every 10 x width counts all counters
 * are halved, so what was popular a while ago counts half. The table is allocated only
 * when the cache first fills: a tree that fits pays nothing. One per cache, same thread.
 */
#pragma once

#include "core/base/compiler.h"

#include <stdint.h>

struct fs_sketch {
    uint8_t *v; /* 4 rows of mask + 1 counters, NULL until started */
    uint32_t mask;
    uint32_t count; /* counts since the last halving */
};

/*
 * Allocates the table for about `want` counters per row: at least 4K, at most 64K, so it
 * stays small enough for the CPU's caches, which every lookup touches once it is on.
 * 0 or -ENOMEM (the cache then admits everything).
 */
int fs_sketch_start(struct fs_sketch *s, uint32_t want) MUST_CHECK;

void fs_sketch_free(struct fs_sketch *s);

/* Counts one lookup of hash (nothing while not started). */
void fs_sketch_add(struct fs_sketch *s, uint64_t hash);

/* How often hash was counted lately (0..255). */
unsigned fs_sketch_estimate(const struct fs_sketch *s, uint64_t hash);
