/*
 * loadgen - sends an exact number of HTTP/1.1 requests and counts the responses.
 *
 *   loadgen PORT CONNS TOTAL [DEPTH] [PATH]
 *
 * Opens CONNS keep-alive connections to 127.0.0.1:PORT and sends TOTAL requests in all,
 * "GET PATH?id=N HTTP/1.1" with every N from 0 to TOTAL-1 exactly once, at most DEPTH
 * (default 1) outstanding per connection. Responses are framed by Content-Length.
 * Prints "requests R responses S status2xx A other B" and exits 0 only if every request got
 * a response. Tests use it where Python would be the bottleneck (a million requests).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct cn {
    int fd;
    int outstanding;
    char in[1 << 16];
    size_t inlen;
    char out[1 << 14];
    size_t outlen, outoff;
};

static long total, next_id, responses, ok2xx, other;
static int depth = 1;
static const char *path = "/";

static void fill(struct cn *c)
{
    while (c->outstanding < depth && next_id < total && c->outlen + 256 < sizeof(c->out)) {
        c->outlen +=
            (size_t)snprintf(c->out + c->outlen, sizeof(c->out) - c->outlen,
                             "GET %s?id=%ld HTTP/1.1\r\nHost: loadgen\r\n\r\n", path, next_id++);
        c->outstanding++;
    }
}

static int flush(struct cn *c)
{
    while (c->outoff < c->outlen) {
        ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (w < 0) {
            return errno == EAGAIN ? 0 : -1;
        }
        c->outoff += (size_t)w;
    }
    c->outlen = c->outoff = 0;
    return 0;
}

/* Consumes complete responses from c->in. */
static void parse(struct cn *c)
{
    size_t off = 0;
    for (;;) {
        char *h = memmem(c->in + off, c->inlen - off, "\r\n\r\n", 4);
        if (!h) {
            break;
        }
        size_t head = (size_t)(h - (c->in + off)) + 4;
        long cl = 0;
        char *p = memmem(c->in + off, head, "Content-Length: ", 16);
        if (p) {
            cl = strtol(p + 16, NULL, 10);
        }
        if (off + head + (size_t)cl > c->inlen) {
            break;
        }
        int status = atoi(c->in + off + 9);
        responses++;
        if (status >= 200 && status < 300) {
            ok2xx++;
        } else {
            other++;
        }
        c->outstanding--;
        off += head + (size_t)cl;
    }
    memmove(c->in, c->in + off, c->inlen - off);
    c->inlen -= off;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: loadgen PORT CONNS TOTAL [DEPTH] [PATH]\n");
        return 2;
    }
    int port = atoi(argv[1]), nconn = atoi(argv[2]);
    total = atol(argv[3]);
    if (argc > 4) {
        depth = atoi(argv[4]);
    }
    if (argc > 5) {
        path = argv[5];
    }
    int ep = epoll_create1(0);
    struct cn *cs = calloc((size_t)nconn, sizeof(*cs));
    for (int i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            perror("connect");
            return 1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fcntl(fd, F_SETFL, O_NONBLOCK);
        cs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        fill(&cs[i]);
    }
    struct epoll_event evs[256];
    while (responses < total) {
        int n = epoll_wait(ep, evs, 256, 30000);
        if (n <= 0) {
            fprintf(stderr, "loadgen: stalled with %ld/%ld responses\n", responses, total);
            break;
        }
        for (int i = 0; i < n; i++) {
            struct cn *c = evs[i].data.ptr;
            for (;;) {
                ssize_t r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
                if (r <= 0) {
                    break;
                }
                c->inlen += (size_t)r;
                parse(c);
            }
            fill(c);
            if (flush(c) < 0) {
                perror("write");
                return 1;
            }
        }
    }
    printf("requests %ld responses %ld status2xx %ld other %ld\n", next_id, responses, ok2xx,
           other);
    for (int i = 0; i < nconn; i++) {
        close(cs[i].fd);
    }
    free(cs);
    close(ep);
    return responses == total ? 0 : 1;
}
