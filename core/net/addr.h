/*
 * addr.h - listening addresses: parsing "host:port" forms, comparing, printing.
 *
 * Pure apart from inet_pton; any thread.
 */
#pragma once

#include "core/base/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct net_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[80]; /* "127.0.0.1:8080", "[::1]:8080" */
};

/*
 * Parses "host:port", "[v6]:port", "*:port", "localhost:port" or "port" (all
 * IPv4 addresses). 0, or -1 with a sentence in err.
 */
int net_addr_parse(const char *s, struct net_addr *out, char *err, size_t errlen) MUST_CHECK;

bool net_addr_equal(const struct net_addr *a, const struct net_addr *b);

uint16_t net_addr_port(const struct net_addr *a);

/* Sets the port (after binding port 0), text included. */
void net_addr_set_port(struct net_addr *a, uint16_t port);
