/*
 * hdr_table.h - the request's header fields in a hashed table.
 *
 * Entries keep arrival order; an open-addressing index of 16-bit slots maps the
 * XXH3 hash of the lowercased name (process-seeded, see core/base/hash.h) to
 * the first entry of that name, so a lookup is O(1). Duplicate fields are all
 * kept, chained in arrival order through next_dup.
 *
 * Names and values are slices into the receive buffer (zero-copy); the entry
 * and index arrays live in the connection's arena. Single-threaded.
 */
#pragma once

#include "core/base/arena.h"
#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stdbool.h>
#include <stdint.h>

#define HDR_NONE UINT32_MAX

struct http_header {
    struct slice name;  /* as received (case preserved) */
    struct slice value; /* OWS trimmed */
    uint64_t hash;      /* hash_bytes_lower(name) */
    uint32_t next_dup;  /* next entry with the same name, or HDR_NONE */
    uint32_t last_dup;  /* on the first entry of a name: the last one (private) */
};

struct hdr_table {
    struct http_header *entries;
    uint32_t count, cap;
    uint16_t *slots; /* entry index + 1; 0 = empty */
    uint32_t mask;   /* slot count - 1 (power of two) */
};

/* Header names the server itself consults, looked up by precomputed hash. */
enum hdr_known {
    HDR_HOST,
    HDR_CONNECTION,
    HDR_CONTENT_LENGTH,
    HDR_TRANSFER_ENCODING,
    HDR_EXPECT,
    HDR_UPGRADE,
    HDR_TE,
    HDR_IF_MODIFIED_SINCE,
    HDR_IF_UNMODIFIED_SINCE,
    HDR_IF_NONE_MATCH,
    HDR_IF_MATCH,
    HDR_IF_RANGE,
    HDR_RANGE,
    HDR_REFERER,
    HDR_USER_AGENT,
    HDR_ACCEPT_ENCODING,
    HDR_AUTHORIZATION,
    HDR__COUNT
};

/* Computes the known names' hashes. Call after hash_init(), before any lookup. */
void hdr_known_init(void);

/* The lowercase name of a known header. */
struct slice hdr_known_name(enum hdr_known k);

/* Empty table with room for cap entries in arena a. Returns 0 or -ENOMEM. */
int hdr_table_init(struct hdr_table *t, struct arena *a, uint32_t cap) MUST_CHECK;

/* Appends a field (arrival order). Grows the entry array in the arena. 0 or -ENOMEM. */
int hdr_table_add(struct hdr_table *t, struct arena *a, struct slice name, struct slice value,
                  uint64_t hash) MUST_CHECK;

/* Builds the hash index over all entries; call once after the last add. 0 or -ENOMEM. */
int hdr_table_index(struct hdr_table *t, struct arena *a) MUST_CHECK;

/* First field with this (any-case) name, or NULL. */
const struct http_header *hdr_get(const struct hdr_table *t, struct slice name);

/* First field of a known name, or NULL. */
const struct http_header *hdr_get_known(const struct hdr_table *t, enum hdr_known k);

/* Next field with the same name as h, or NULL. */
static inline const struct http_header *hdr_next_dup(const struct hdr_table *t,
                                                     const struct http_header *h)
{
    return h->next_dup == HDR_NONE ? NULL : &t->entries[h->next_dup];
}

/* Number of fields with this known name (0, 1, or more). */
uint32_t hdr_count_known(const struct hdr_table *t, enum hdr_known k);
