/* cidr.c - address rules compiled into multibit tries (see cidr.h). */
#include "core/base/cidr.h"

#include "core/base/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRIDE 4
#define FANOUT (1u << STRIDE)
#define CHILD 0x80000000u /* a slot holding a node index rather than a rule's value */

struct cidr_node {
    uint32_t slot[FANOUT];
};

struct cidr_table {
    struct cidr_node *nodes; /* [0]: the IPv4 root, [1]: the IPv6 root */
    uint32_t n, cap;
};

_Static_assert(sizeof(struct cidr_node) == 64, "one node, one cache line");

struct cidr_table *cidr_table_new(void)
{
    struct cidr_table *t = sp_calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->cap = 16;
    t->nodes = sp_calloc(t->cap, sizeof(*t->nodes));
    if (!t->nodes) {
        sp_free(t);
        return NULL;
    }
    t->n = 2;
    return t;
}

void cidr_table_free(struct cidr_table *t)
{
    if (t) {
        sp_free(t->nodes);
        sp_free(t);
    }
}

size_t cidr_table_nodes(const struct cidr_table *t)
{
    return t->n;
}

static unsigned nibble(const uint8_t *a, unsigned k)
{
    return k & 1 ? a[k >> 1] & 0xfu : a[k >> 1] >> 4;
}

/* A new node whose every slot is e (the value the slot above it had: pushed down). */
static int new_node(struct cidr_table *t, uint32_t e, uint32_t *out)
{
    if (t->n == t->cap) {
        if (t->cap >= CIDR_VALUE_MAX / 2) {
            return -ENOMEM;
        }
        struct cidr_node *nn = sp_realloc(t->nodes, (size_t)t->cap * 2 * sizeof(*nn));
        if (!nn) {
            return -ENOMEM;
        }
        t->nodes = nn;
        t->cap *= 2;
    }
    for (unsigned i = 0; i < FANOUT; i++) {
        t->nodes[t->n].slot[i] = e;
    }
    *out = t->n++;
    return 0;
}

/*
 * Paints a prefix of `bits` bits of addr (a trie of `depth` levels from root) with v. The
 * rule is newer than everything painted so far, so where it covers a slot it replaces the
 * slot whole, subtree included (the subtree's nodes stay allocated, unreachable).
 */
static int paint(struct cidr_table *t, uint32_t root, const uint8_t *addr, unsigned bits,
                 uint32_t v)
{
    uint32_t node = root;
    if (bits == 0) {
        for (unsigned i = 0; i < FANOUT; i++) {
            t->nodes[node].slot[i] = v;
        }
        return 0;
    }
    unsigned d = (bits - 1) / STRIDE; /* the level whose slots the prefix ends in */
    for (unsigned k = 0; k < d; k++) {
        uint32_t *s = &t->nodes[node].slot[nibble(addr, k)];
        if (*s & CHILD) {
            node = *s & ~CHILD;
            continue;
        }
        uint32_t child;
        if (new_node(t, *s, &child) < 0) {
            return -ENOMEM;
        }
        t->nodes[node].slot[nibble(addr, k)] = child | CHILD; /* nodes may have moved */
        node = child;
    }
    unsigned rem = bits - d * STRIDE; /* 1..STRIDE bits of the last nibble are fixed */
    unsigned span = 1u << (STRIDE - rem);
    unsigned first = nibble(addr, d) & ~(span - 1);
    for (unsigned i = first; i < first + span; i++) {
        t->nodes[node].slot[i] = v;
    }
    return 0;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int cidr_table_add(struct cidr_table *t, const struct cidr_prefix *p, uint32_t v)
{
    ASSERT(v > 0 && v <= CIDR_VALUE_MAX);
    switch (p->family) {
    case CIDR_ALL:
        if (paint(t, 0, p->addr, 0, v) < 0) {
            return -ENOMEM;
        }
        return paint(t, 1, p->addr, 0, v);
    case CIDR_V4:
        return paint(t, 0, p->addr, p->bits, v);
    default:
        if (paint(t, 1, p->addr, p->bits, v) < 0) {
            return -ENOMEM;
        }
        if (p->bits >= 96 && memcmp(p->addr, v4mapped, 12) == 0) {
            return paint(t, 0, p->addr + 12, p->bits - 96u, v); /* ::ffff:a.b.c.d/N */
        }
        return 0;
    }
}

static uint32_t walk(const struct cidr_table *t, uint32_t root, const uint8_t *a, unsigned levels)
{
    const struct cidr_node *n = &t->nodes[root];
    for (unsigned k = 0; k < levels; k++) {
        uint32_t e = n->slot[nibble(a, k)];
        if (!(e & CHILD)) {
            return e;
        }
        n = &t->nodes[e & ~CHILD];
    }
    return 0; /* not reached: the last level holds values only */
}

uint32_t cidr_lookup_raw(const struct cidr_table *t, const uint8_t *addr, bool v6)
{
    if (!v6) {
        return walk(t, 0, addr, 32 / STRIDE);
    }
    if (memcmp(addr, v4mapped, 12) == 0) {
        return walk(t, 0, addr + 12, 32 / STRIDE);
    }
    return walk(t, 1, addr, 128 / STRIDE);
}

uint32_t cidr_lookup(const struct cidr_table *t, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        return cidr_lookup_raw(t, (const uint8_t *)&a->sin_addr, false);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        return cidr_lookup_raw(t, a->sin6_addr.s6_addr, true);
    }
    return 0;
}

int cidr_parse(const char *text, struct cidr_prefix *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(text, "all") == 0) {
        out->family = CIDR_ALL;
        return 0;
    }
    char buf[INET6_ADDRSTRLEN + 8];
    size_t len = strlen(text);
    if (len >= sizeof(buf)) {
        snprintf(err, errlen, "invalid address \"%s\"", text);
        return -1;
    }
    memcpy(buf, text, len + 1);
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end || bits < 0 || bits > 128) {
            snprintf(err, errlen, "invalid prefix length in \"%s\"", text);
            return -1;
        }
    }
    unsigned maxbits;
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = CIDR_V4;
        maxbits = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = CIDR_V6;
        maxbits = 128;
    } else {
        snprintf(err, errlen, "invalid address \"%s\"", text);
        return -1;
    }
    if (bits < 0) {
        bits = maxbits;
    }
    if ((unsigned long)bits > maxbits) {
        snprintf(err, errlen, "prefix length %ld is longer than the address in \"%s\"", bits, text);
        return -1;
    }
    out->bits = (uint8_t)bits;
    int rc = 0;
    for (unsigned b = (unsigned)bits; b < maxbits; b++) {
        if (out->addr[b / 8] & (0x80u >> (b % 8))) {
            out->addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
            rc = 1;
        }
    }
    if (rc) {
        snprintf(err, errlen, "low address bits of %s are meaningless", text);
    }
    return rc;
}
