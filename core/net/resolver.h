/*
 * resolver.h - DNS lookups without blocking the worker: c-ares driven by the worker's io_uring
 * (its sockets polled through the ring, its timeouts by a ring timer). One per worker thread.
 *
 * Only the two questions hostname_lookups asks: the name of an address (PTR) and the
 * addresses of a name (A or AAAA), each with the smallest TTL of its answer.
 */
#pragma once

#include "core/base/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct io_loop;
struct resolver;

struct resolver_params {
    const char *servers; /* "ADDR[:PORT],..." (c-ares's csv), NULL: /etc/resolv.conf */
    uint32_t timeout_ms; /* per query (one try) */
};

enum resolver_status {
    RESOLVER_OK = 0,
    RESOLVER_NONAME = 1,  /* NXDOMAIN, or no record of the type */
    RESOLVER_FAIL = 2,    /* SERVFAIL, refused, malformed, out of memory */
    RESOLVER_TIMEOUT = 3, /* no answer within timeout_ms */
};

/* name: the PTR's target (NUL-terminated, valid during the call) when status is RESOLVER_OK. */
typedef void (*resolver_name_fn)(void *arg, enum resolver_status st, const char *name,
                                 uint32_t ttl);

/* addrs: the answer's addresses of the family asked for (valid during the call). */
typedef void (*resolver_addrs_fn)(void *arg, enum resolver_status st,
                                  const struct sockaddr_storage *addrs, unsigned n, uint32_t ttl);

/* Once per process (main thread), before any resolver_new, and its end. 0 or -1. */
int resolver_library_init(void) MUST_CHECK;
void resolver_library_cleanup(void);

/* A resolver on loop l (the calling thread's). NULL with a sentence in err. */
struct resolver *resolver_new(struct io_loop *l, const struct resolver_params *p, char *err,
                              size_t errlen);

/* Lookups in flight. */
unsigned resolver_busy(const struct resolver *rs);

/* The name of addr (AF_INET or AF_INET6); fn is called once, maybe before this returns. */
void resolver_name(struct resolver *rs, const struct sockaddr_storage *addr, resolver_name_fn fn,
                   void *arg);

/* The addresses of name of family (AF_INET: A, AF_INET6: AAAA); fn is called once. */
void resolver_addrs(struct resolver *rs, const char *name, int family, resolver_addrs_fn fn,
                    void *arg);

/* Ends every lookup (their fn called with RESOLVER_FAIL) and frees. ring_gone: the loop's ring
 * is torn down already (worker exit), so nothing of it is touched. */
void resolver_free(struct resolver *rs, bool ring_gone);
