/*
 * sendpath.c - what does it cost the sending CPU to push a cached file into a loopback TCP
 * socket, by method? The sender thread is pinned to CPU 0, a reader thread on CPU 1 drains.
 * For each method it sends COUNT responses of the file (1 MiB by default) and reports the
 * busy time of CPU 0 (from /proc/stat: user + system + softirq, everything the sending side
 * costs that CPU, as the shared harness counts it) per response, and the throughput.
 *
 *   cc -O2 -o sendpath bench/e2e/sendpath.c -luring -lpthread
 *   ./sendpath FILE [COUNT]
 *
 * Methods: sendfile (2 MiB calls, what spate and nginx do), read+send through a 256 KiB user
 * buffer, splice file->pipe->socket, and io_uring read + send.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int port;
static volatile long long received;

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static void *reader(void *arg)
{
    (void)arg;
    pin(1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("connect");
        exit(1);
    }
    static char buf[1 << 20];
    ssize_t r;
    while ((r = read(fd, buf, sizeof(buf))) > 0) {
        received += r;
    }
    close(fd);
    return NULL;
}

/* busy jiffies of CPU 0 (user, nice, system, irq, softirq, steal) */
static long long cpu0_busy(void)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[512];
    long long u = 0, n = 0, s = 0, id = 0, io = 0, irq = 0, sirq = 0, st = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "cpu0 ", 5) == 0) {
            sscanf(line + 5, "%lld %lld %lld %lld %lld %lld %lld %lld", &u, &n, &s, &id, &io, &irq,
                   &sirq, &st);
        }
    }
    fclose(f);
    return u + n + s + irq + sirq;
}

static double thread_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void send_all(int sock, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(sock, p, n, 0);
        if (w <= 0) {
            perror("send");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sendpath FILE [COUNT]\n");
        return 2;
    }
    int count = argc > 2 ? atoi(argv[2]) : 2000;
    int file = open(argv[1], O_RDONLY);
    struct stat st;
    fstat(file, &st);
    size_t size = (size_t)st.st_size;
    static char ubuf[256 * 1024];
    const char *names[] = {"sendfile", "read+send", "splice", "io_uring read+send"};
    printf("| method | sender thread CPU per response | CPU 0 busy per response | MB/s |\n"
           "|---|---|---|---|\n");
    for (int m = 0; m < 4; m++) {
        pin(0);
        int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(ls, (struct sockaddr *)&a, sizeof(a));
        socklen_t al = sizeof(a);
        getsockname(ls, (struct sockaddr *)&a, &al);
        port = ntohs(a.sin_port);
        listen(ls, 1);
        pthread_t t;
        received = 0;
        pthread_create(&t, NULL, reader, NULL);
        int s = accept(ls, NULL, NULL);
        setsockopt(s, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
        int pipefd[2];
        if (pipe(pipefd) < 0) {
            perror("pipe");
            return 1;
        }
        fcntl(pipefd[0], F_SETPIPE_SZ, 1 << 20);
        struct io_uring ring;
        io_uring_queue_init(8, &ring, 0);
        long long b0 = cpu0_busy();
        double t0 = now_s(), c0 = thread_cpu_s();
        for (int i = 0; i < count; i++) {
            off_t off = 0;
            size_t left = size;
            while (left) {
                size_t chunk = left < (2u << 20) ? left : (2u << 20);
                if (m == 0) {
                    ssize_t w = sendfile(s, file, &off, chunk);
                    if (w <= 0) {
                        perror("sendfile");
                        return 1;
                    }
                    left -= (size_t)w;
                } else if (m == 1) {
                    size_t c = chunk < sizeof(ubuf) ? chunk : sizeof(ubuf);
                    ssize_t r = pread(file, ubuf, c, off);
                    send_all(s, ubuf, (size_t)r);
                    off += r;
                    left -= (size_t)r;
                } else if (m == 2) {
                    loff_t lo = off;
                    ssize_t r = splice(file, &lo, pipefd[1], NULL, chunk < (1u << 20) ? chunk : (1u << 20),
                                       SPLICE_F_MOVE);
                    ssize_t moved = 0;
                    while (moved < r) {
                        ssize_t w = splice(pipefd[0], NULL, s, NULL, (size_t)(r - moved),
                                           SPLICE_F_MOVE | SPLICE_F_MORE);
                        moved += w;
                    }
                    off += r;
                    left -= (size_t)r;
                } else {
                    size_t c = chunk < sizeof(ubuf) ? chunk : sizeof(ubuf);
                    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
                    io_uring_prep_read(sqe, file, ubuf, (unsigned)c, (uint64_t)off);
                    sqe->flags |= IOSQE_IO_LINK;
                    sqe = io_uring_get_sqe(&ring);
                    io_uring_prep_send(sqe, s, ubuf, c, MSG_WAITALL);
                    io_uring_submit_and_wait(&ring, 2);
                    struct io_uring_cqe *cqe;
                    for (int k = 0; k < 2; k++) {
                        io_uring_wait_cqe(&ring, &cqe);
                        io_uring_cqe_seen(&ring, cqe);
                    }
                    off += (off_t)c;
                    left -= c;
                }
            }
        }
        shutdown(s, SHUT_WR);
        pthread_join(t, NULL);
        double cpu = thread_cpu_s() - c0;
        double secs = now_s() - t0;
        long long busy = cpu0_busy() - b0;
        double us = (double)busy * 1e6 / (double)sysconf(_SC_CLK_TCK) / count;
        printf("| %s | %.1f us | %.1f us | %.0f |\n", names[m], cpu * 1e6 / count, us,
               (double)received / secs / 1e6);
        io_uring_queue_exit(&ring);
        close(pipefd[0]);
        close(pipefd[1]);
        close(s);
        close(ls);
    }
    return 0;
}
