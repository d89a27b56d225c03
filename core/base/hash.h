/*
 * hash.h - XXH3 hashing with a per-process random seed.
 *
 * Every hash table in Spate (header table, file cache) hashes through here.
 * The seed is drawn from getrandom() once at startup (hash_init), so a client
 * cannot choose names that collide. Read-only after hash_init: any thread may
 * call the hash functions.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Draws the process seed. Call once, before any worker starts. Returns 0 or -errno. */
int hash_init(void);

/* Fixes the seed (tests and fuzzers want reproducible tables). */
void hash_set_seed(uint64_t seed);

uint64_t hash_seed(void);

/* XXH3-64 of n bytes with the process seed. */
uint64_t hash_bytes(const void *p, size_t n);

/* XXH3-64 of the ASCII-lowercased bytes (header names), without a copy for short inputs. */
uint64_t hash_bytes_lower(const void *p, size_t n);

/* Combines a hash with a 64-bit value (e.g. a virtual host id). */
uint64_t hash_mix(uint64_t h, uint64_t v);
