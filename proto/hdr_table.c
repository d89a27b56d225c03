/* hdr_table.c - see hdr_table.h. */
#include "proto/hdr_table.h"

#include "core/base/hash.h"

#include <errno.h>
#include <string.h>

static const struct slice known_names[HDR__COUNT] = {
    [HDR_HOST] = SLICE_LIT("host"),
    [HDR_CONNECTION] = SLICE_LIT("connection"),
    [HDR_CONTENT_LENGTH] = SLICE_LIT("content-length"),
    [HDR_TRANSFER_ENCODING] = SLICE_LIT("transfer-encoding"),
    [HDR_EXPECT] = SLICE_LIT("expect"),
    [HDR_UPGRADE] = SLICE_LIT("upgrade"),
    [HDR_TE] = SLICE_LIT("te"),
    [HDR_IF_MODIFIED_SINCE] = SLICE_LIT("if-modified-since"),
    [HDR_IF_UNMODIFIED_SINCE] = SLICE_LIT("if-unmodified-since"),
    [HDR_IF_NONE_MATCH] = SLICE_LIT("if-none-match"),
    [HDR_IF_MATCH] = SLICE_LIT("if-match"),
    [HDR_IF_RANGE] = SLICE_LIT("if-range"),
    [HDR_RANGE] = SLICE_LIT("range"),
    [HDR_REFERER] = SLICE_LIT("referer"),
    [HDR_USER_AGENT] = SLICE_LIT("user-agent"),
    [HDR_ACCEPT_ENCODING] = SLICE_LIT("accept-encoding"),
    [HDR_AUTHORIZATION] = SLICE_LIT("authorization"),
};

static uint64_t known_hash[HDR__COUNT];

void hdr_known_init(void)
{
    for (unsigned i = 0; i < HDR__COUNT; i++) {
        known_hash[i] = hash_bytes_lower(known_names[i].ptr, known_names[i].len);
    }
}

struct slice hdr_known_name(enum hdr_known k)
{
    return known_names[k];
}

int hdr_table_init(struct hdr_table *t, struct arena *a, uint32_t cap)
{
    memset(t, 0, sizeof(*t));
    if (cap == 0) {
        cap = 8;
    }
    t->entries = arena_alloc(a, cap * sizeof(struct http_header));
    if (!t->entries) {
        return -ENOMEM;
    }
    t->cap = cap;
    return 0;
}

int hdr_table_add(struct hdr_table *t, struct arena *a, struct slice name, struct slice value,
                  uint64_t hash)
{
    if (UNLIKELY(t->count == t->cap)) {
        uint32_t ncap = t->cap * 2;
        struct http_header *n = arena_alloc(a, ncap * sizeof(*n));
        if (!n) {
            return -ENOMEM;
        }
        memcpy(n, t->entries, t->count * sizeof(*n));
        t->entries = n;
        t->cap = ncap;
    }
    struct http_header *h = &t->entries[t->count++];
    h->name = name;
    h->value = value;
    h->hash = hash;
    h->next_dup = HDR_NONE;
    h->last_dup = t->count - 1;
    return 0;
}

int hdr_table_index(struct hdr_table *t, struct arena *a)
{
    uint32_t nslots = 16;
    while (nslots < t->count * 2) {
        nslots *= 2;
    }
    t->slots = arena_alloc(a, nslots * sizeof(uint16_t));
    if (!t->slots) {
        return -ENOMEM;
    }
    memset(t->slots, 0, nslots * sizeof(uint16_t));
    t->mask = nslots - 1;
    /* duplicates chain in arrival order */
    for (uint32_t i = 0; i < t->count; i++) {
        struct http_header *h = &t->entries[i];
        uint32_t s = (uint32_t)h->hash & t->mask;
        for (;;) {
            uint16_t e = t->slots[s];
            if (e == 0) {
                t->slots[s] = (uint16_t)(i + 1);
                break;
            }
            struct http_header *first = &t->entries[e - 1];
            if (first->hash == h->hash && slice_eq_nocase(first->name, h->name)) {
                /* append in O(1): the first entry remembers the chain's tail */
                t->entries[first->last_dup].next_dup = i;
                first->last_dup = i;
                break;
            }
            s = (s + 1) & t->mask;
        }
    }
    return 0;
}

static const struct http_header *lookup(const struct hdr_table *t, struct slice name, uint64_t hash)
{
    if (!t->slots) {
        return NULL;
    }
    uint32_t s = (uint32_t)hash & t->mask;
    for (;;) {
        uint16_t e = t->slots[s];
        if (e == 0) {
            return NULL;
        }
        const struct http_header *h = &t->entries[e - 1];
        if (h->hash == hash && slice_eq_nocase(h->name, name)) {
            return h;
        }
        s = (s + 1) & t->mask;
    }
}

const struct http_header *hdr_get(const struct hdr_table *t, struct slice name)
{
    return lookup(t, name, hash_bytes_lower(name.ptr, name.len));
}

const struct http_header *hdr_get_known(const struct hdr_table *t, enum hdr_known k)
{
    return lookup(t, known_names[k], known_hash[k]);
}

uint32_t hdr_count_known(const struct hdr_table *t, enum hdr_known k)
{
    uint32_t n = 0;
    for (const struct http_header *h = hdr_get_known(t, k); h; h = hdr_next_dup(t, h)) {
        n++;
    }
    return n;
}
