/* addr.c - see addr.h. */
#include "core/net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int net_addr_parse(const char *s, struct net_addr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char host[64] = "";
    const char *port;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host)) {
            snprintf(err, errlen, "invalid listen address \"%s\" (expected [ipv6]:port)", s);
            return -1;
        }
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        port = rb + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon) {
            if ((size_t)(colon - s) >= sizeof(host)) {
                snprintf(err, errlen, "invalid listen address \"%s\"", s);
                return -1;
            }
            memcpy(host, s, (size_t)(colon - s));
            port = colon + 1;
        } else {
            port = s; /* "8080": all IPv4 addresses */
        }
    }
    char *end;
    errno = 0;
    unsigned long pv = strtoul(port, &end, 10);
    if (!*port || *end || errno || pv > 65535 || port[0] < '0' || port[0] > '9') {
        snprintf(err, errlen, "invalid port in listen address \"%s\"", s);
        return -1;
    }
    uint16_t nport = htons((uint16_t)pv);
    if (host[0] == '\0' || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0) {
        struct sockaddr_in *a = (struct sockaddr_in *)&out->ss;
        a->sin_family = AF_INET;
        a->sin_port = nport;
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        out->len = sizeof(*a);
        snprintf(out->text, sizeof(out->text), "0.0.0.0:%lu", pv);
        return 0;
    }
    if (strcmp(host, "localhost") == 0) {
        strcpy(host, "127.0.0.1");
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = nport;
        out->len = sizeof(*a4);
        snprintf(out->text, sizeof(out->text), "%s:%lu", host, pv);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = nport;
        out->len = sizeof(*a6);
        /* the canonical text, so "[0::1]" and "[::1]" print (and compare) alike */
        char canon[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &a6->sin6_addr, canon, sizeof(canon));
        snprintf(out->text, sizeof(out->text), "[%s]:%lu", canon, pv);
        return 0;
    }
    snprintf(err, errlen, "invalid listen address \"%s\" (use an IP address, * or localhost)", s);
    return -1;
}

bool net_addr_equal(const struct net_addr *a, const struct net_addr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

uint16_t net_addr_port(const struct net_addr *a)
{
    return a->ss.ss_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port)
                                       : ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

void net_addr_set_port(struct net_addr *a, uint16_t port)
{
    if (a->ss.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
    } else {
        ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
    }
    char *colon = strrchr(a->text, ':');
    if (colon) {
        snprintf(colon + 1, sizeof(a->text) - (size_t)(colon + 1 - a->text), "%u", port);
    }
}
