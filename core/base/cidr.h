/*
 * cidr.h - address rules (allow / deny by address and CIDR) compiled into tries whose lookup
 * cost does not depend on how many rules there are.
 *
 * nginx checks its allow/deny rules one after the other, so 10,000 rules cost 10,000
 * comparisons per request. Here the rules are painted, in priority order, into two
 * multibit tries (one for IPv4, one for IPv6) with 4-bit strides: each slot holds the
 * first rule that covers the addresses under it (the leaves are pushed down, so nothing is
 * compared on the way), and a lookup walks at most 8 (IPv4) or 32 (IPv6) nodes of 64
 * bytes, one cache line each, whatever the number of rules.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, a dual-stack listener's IPv4 clients) are
 * looked up as the IPv4 address they carry, as nginx does; an IPv6 rule inside
 * ::ffff:0:0/96 is also an IPv4 rule. `all` covers both families.
 *
 * Building allocates; lookups are read-only, any thread. Pure: no I/O.
 */
#pragma once

#include "core/base/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* One rule's addresses: a prefix of `bits` bits (0: everything of the family). */
struct cidr_prefix {
    uint8_t family; /* CIDR_V4, CIDR_V6, CIDR_ALL */
    uint8_t bits;
    uint8_t addr[16]; /* IPv4: the first 4 bytes */
};

enum { CIDR_V4 = 4, CIDR_V6 = 6, CIDR_ALL = 1 };

/*
 * Parses "all", "A.B.C.D", "A.B.C.D/N", an IPv6 address, "ADDR6/N". 0; 1 when bits were
 * set past the prefix length (10.0.0.1/8): they are cleared, and err says so for a warning,
 * as nginx's "low address bits are meaningless"; -1 with a sentence in err.
 */
int cidr_parse(const char *text, struct cidr_prefix *out, char *err, size_t errlen) MUST_CHECK;

/* The compiled rules: values are the callers' (1..CIDR_VALUE_MAX), 0 is "no rule matches". */
#define CIDR_VALUE_MAX 0x7fffffffu

struct cidr_table;

/* An empty table (no rule matches anything). NULL when memory ran out. */
struct cidr_table *cidr_table_new(void);

/*
 * Adds a rule with value v. Rules must be added from the LAST to the FIRST: a rule added
 * later takes precedence where it overlaps an earlier one, so the first rule in the file
 * ends up winning, as nginx's order wants. 0, or -ENOMEM.
 */
int cidr_table_add(struct cidr_table *t, const struct cidr_prefix *p, uint32_t v) MUST_CHECK;

/* The value of the first rule covering the address (sockaddr_in or sockaddr_in6), or 0. */
uint32_t cidr_lookup(const struct cidr_table *t, const struct sockaddr *sa);

/* Same, for a raw address: 4 bytes (v4) or 16 (v6, mapped ones looked up as v4). */
uint32_t cidr_lookup_raw(const struct cidr_table *t, const uint8_t *addr, bool v6);

/* Nodes in the table (for tests and the memory it takes: 64 bytes each). */
size_t cidr_table_nodes(const struct cidr_table *t);

void cidr_table_free(struct cidr_table *t);
