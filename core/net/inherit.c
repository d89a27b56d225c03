/* inherit.c - see inherit.h. */
#include "core/net/inherit.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define INHERIT_MAX 4096

static int fds[INHERIT_MAX];
static unsigned nfds;

/* Only a listening TCP socket counts: a stray number must not become a listener. */
static bool listening_tcp(int fd)
{
    int v = 0;
    socklen_t len = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v) {
        return false;
    }
    len = sizeof(v);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == SOCK_STREAM;
}

unsigned inherit_init(void)
{
    const char *s = getenv("SPATE_INHERIT");
    if (!s) {
        return 0;
    }
    while (*s && nfds < INHERIT_MAX) {
        char *end;
        errno = 0;
        long fd = strtol(s, &end, 10);
        if (end == s || errno || fd < 3 || fd > INT32_MAX) {
            break;
        }
        if (listening_tcp((int)fd)) {
            fds[nfds++] = (int)fd;
        }
        s = *end == ',' ? end + 1 : end;
    }
    unsetenv("SPATE_INHERIT"); /* not for CGI programs, nor a later upgrade */
    return nfds;
}

static bool same_place(const struct sockaddr_storage *got, const struct net_addr *a)
{
    if (got->ss_family != a->ss.ss_family) {
        return false;
    }
    uint16_t want = net_addr_port(a);
    if (got->ss_family == AF_INET) {
        const struct sockaddr_in *g = (const void *)got, *w = (const void *)&a->ss;
        return g->sin_addr.s_addr == w->sin_addr.s_addr && (!want || g->sin_port == w->sin_port);
    }
    if (got->ss_family == AF_INET6) {
        const struct sockaddr_in6 *g = (const void *)got, *w = (const void *)&a->ss;
        return memcmp(&g->sin6_addr, &w->sin6_addr, sizeof(g->sin6_addr)) == 0 &&
               (!want || g->sin6_port == w->sin6_port);
    }
    return false;
}

int inherit_take(const struct net_addr *a)
{
    for (unsigned i = 0; i < nfds; i++) {
        struct sockaddr_storage got;
        socklen_t len = sizeof(got);
        if (fds[i] >= 0 && getsockname(fds[i], (struct sockaddr *)&got, &len) == 0 &&
            same_place(&got, a)) {
            int fd = fds[i];
            fds[i] = -1;
            return fd;
        }
    }
    return -1;
}

unsigned inherit_count(const struct net_addr *a)
{
    struct net_addr want = *a;
    unsigned n = 0;
    for (unsigned i = 0; i < nfds; i++) {
        struct sockaddr_storage got;
        socklen_t len = sizeof(got);
        if (fds[i] >= 0 && getsockname(fds[i], (struct sockaddr *)&got, &len) == 0 &&
            same_place(&got, &want)) {
            if (!net_addr_port(&want)) {
                struct net_addr g = want;
                memcpy(&g.ss, &got, sizeof(got));
                net_addr_set_port(&want, net_addr_port(&g));
            }
            n++;
        }
    }
    return n;
}

unsigned inherit_close_rest(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < nfds; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
            n++;
        }
    }
    nfds = 0;
    return n;
}
