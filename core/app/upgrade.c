/* upgrade.c - see upgrade.h. */
#include "core/app/upgrade.h"

#include "core/app/runtime.h"
#include "core/base/compiler.h"
#include "log/errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the kernel's SCM_MAX_FD is 253: sockets go in batches below it */
#define BATCH 240
#define MAX_FDS 4096

/* old process -> launcher */
struct up_msg {
    char kind;             /* 'F': sockets (in the ancillary data); 'G': start it */
    char pidpath[PATH_MAX]; /* 'G': the pid file, "" for none */
};

/* launcher -> old process */
struct up_reply {
    char kind; /* 'R': ready; 'X': failed */
    pid_t pid;
    char why[256];
};

static int sock = -1;    /* the serving process's end */
static bool pending;

/* ---------------------------------------------------------------- the launcher */

static char exe[PATH_MAX];
static char **args;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void reply(int s, char kind, pid_t pid, const char *why)
{
    struct up_reply r = {kind, pid, ""};
    snprintf(r.why, sizeof(r.why), "%s", why);
    (void)!send(s, &r, sizeof(r), MSG_NOSIGNAL);
}

/* Starts the new binary with fds inherited; its pid once it is ready, or -1 (why). */
static pid_t start_new(const int *fds, unsigned n, char *why, size_t whylen)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        static char list[MAX_FDS * 8];
        size_t off = 0;
        for (unsigned i = 0; i < n && off + 12 < sizeof(list); i++) {
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%d", i ? "," : "", fds[i]);
        }
        char rfd[16];
        snprintf(rfd, sizeof(rfd), "%d", p[1]);
        fcntl(p[1], F_SETFD, 0); /* the received sockets have no FD_CLOEXEC already */
        setenv("SPATE_INHERIT", list, 1);
        setenv("SPATE_READY_FD", rfd, 1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* the mask survives exec; start clean */
        prctl(PR_SET_PDEATHSIG, 0);
        execv(exe, args);
        dprintf(2, "spate: upgrade: cannot start %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    /* ready, or exited, or too slow: whichever comes first */
    uint64_t deadline = mono_ms() + UPGRADE_READY_MS;
    for (;;) {
        struct pollfd pf = {p[0], POLLIN, 0};
        int r = poll(&pf, 1, 100);
        if (r > 0) {
            char c;
            if (read(p[0], &c, 1) == 1 && c == 'R') {
                close(p[0]);
                return pid;
            }
            /* the write end is closed (it exited, or closed it unready): see below */
        }
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            if (WIFEXITED(st)) {
                snprintf(why, whylen, "the new binary %s exited with status %d before it was ready",
                         exe, WEXITSTATUS(st));
            } else {
                snprintf(why, whylen, "the new binary %s was killed by signal %d before it was "
                                      "ready", exe, WTERMSIG(st));
            }
            close(p[0]);
            return -1;
        }
        if (mono_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            snprintf(why, whylen, "the new binary %s was not ready in %d s: killed", exe,
                     UPGRADE_READY_MS / 1000);
            close(p[0]);
            return -1;
        }
    }
}

static void upgrade_once(int s, const struct up_msg *m, const int *fds, unsigned n)
{
    char oldbin[PATH_MAX + 8] = "";
    char why[256] = "";
    if (m->pidpath[0]) {
        snprintf(oldbin, sizeof(oldbin), "%s.oldbin", m->pidpath);
        if (rename(m->pidpath, oldbin) < 0 && errno != ENOENT) {
            snprintf(why, sizeof(why), "cannot rename %.160s to its .oldbin: %s", m->pidpath,
                     strerror(errno));
            reply(s, 'X', 0, why);
            return;
        }
    }
    pid_t pid = start_new(fds, n, why, sizeof(why));
    if (pid < 0) {
        if (oldbin[0]) {
            rename(oldbin, m->pidpath); /* the old process is the one running */
        }
        reply(s, 'X', 0, why);
        return;
    }
    reply(s, 'R', pid, "");
}

/* Removes PIDFILE.oldbin when it still names the process that has just exited. */
static void remove_oldbin(const char *pidpath, pid_t old)
{
    if (!pidpath[0]) {
        return;
    }
    char oldbin[PATH_MAX + 8], buf[32];
    snprintf(oldbin, sizeof(oldbin), "%s.oldbin", pidpath);
    int fd = open(oldbin, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    ssize_t k = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (k > 0) {
        buf[k] = 0;
        if (strtol(buf, NULL, 10) == (long)old) {
            unlink(oldbin);
        }
    }
}

static _Noreturn void launcher_main(int s, pid_t parent)
{
    prctl(PR_SET_NAME, "spate-upgrade");
    /* nothing of spate's stays open here but the terminal: listeners, logs, rings */
    if (s != 3) {
        dup2(s, 3);
        s = 3;
    }
    syscall(SYS_close_range, 4u, ~0u, 0u);
    fcntl(s, F_SETFD, FD_CLOEXEC);
    /* a terminal's ^C reaches the whole group: the serving process decides, not this one */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        _exit(0);
    }
    static int fds[MAX_FDS];
    unsigned n = 0;
    static struct up_msg last; /* the pid file of the last upgrade, for .oldbin */
    for (;;) {
        struct up_msg m;
        char cbuf[CMSG_SPACE(sizeof(int) * BATCH)];
        struct iovec iov = {&m, sizeof(m)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof(cbuf)};
        ssize_t k = recvmsg(s, &mh, 0);
        /* reap a started process that ended while this one waits (it is our child) */
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        if (k == 0 || (k < 0 && errno != EINTR)) {
            remove_oldbin(last.pidpath, parent);
            _exit(0); /* the serving process is gone */
        }
        if (k < (ssize_t)sizeof(m.kind)) {
            continue;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                unsigned got = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                int *in = (int *)CMSG_DATA(c);
                for (unsigned i = 0; i < got; i++) {
                    if (n < MAX_FDS) {
                        fds[n++] = in[i];
                    } else {
                        close(in[i]);
                    }
                }
            }
        }
        if (m.kind == 'G') {
            m.pidpath[sizeof(m.pidpath) - 1] = 0;
            last = m;
            upgrade_once(s, &m, fds, n);
            for (unsigned i = 0; i < n; i++) {
                close(fds[i]);
            }
            n = 0;
        }
    }
}

int upgrade_init(char **argv, char *err, size_t errlen)
{
    const char *r = getenv("SPATE_READY_FD");
    if (r && atoi(r) > 2) {
        fcntl(atoi(r), F_SETFD, FD_CLOEXEC); /* ours to write, not a CGI program's */
    }
    ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (k <= 0) {
        snprintf(err, errlen, "upgrade: cannot read /proc/self/exe: %s", strerror(errno));
        return -1;
    }
    exe[k] = 0;
    args = argv;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, errlen, "upgrade: socketpair: %s", strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "upgrade: cannot start the launcher process: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        launcher_main(sv[1], parent);
    }
    close(sv[1]);
    sock = sv[0];
    return 0;
}

/* ---------------------------------------------------------------- the serving process */

static int send_fds(const int *fds, unsigned n, const struct up_msg *m, size_t mlen)
{
    char cbuf[CMSG_SPACE(sizeof(int) * BATCH)];
    struct iovec iov = {(void *)m, mlen};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n) {
        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int upgrade_begin(const struct runtime *rt, const char *pidpath, char *err, size_t errlen)
{
    if (sock < 0) {
        snprintf(err, errlen, "no launcher process (it did not start, or has ended)");
        return -1;
    }
    if (pending) {
        snprintf(err, errlen, "an upgrade is already under way");
        return -1;
    }
    static struct up_msg m;
    m.kind = 'F';
    int batch[BATCH];
    unsigned nb = 0;
    const struct runtime_gen *g = rt->gen;
    for (unsigned i = 0; i < g->wg.nlisten; i++) {
        const struct runtime_listen *l = g->listens[i];
        for (unsigned j = 0; j < l->nfds; j++) {
            batch[nb++] = l->wl.fds[j];
            if (nb == BATCH) {
                int rc = send_fds(batch, nb, &m, 1);
                if (rc < 0) {
                    snprintf(err, errlen, "cannot pass the sockets: %s", strerror(-rc));
                    return -1;
                }
                nb = 0;
            }
        }
    }
    m.kind = 'G';
    snprintf(m.pidpath, sizeof(m.pidpath), "%s", pidpath ? pidpath : "");
    int rc = send_fds(batch, nb, &m, sizeof(m));
    if (rc < 0) {
        snprintf(err, errlen, "cannot pass the sockets: %s", strerror(-rc));
        return -1;
    }
    pending = true;
    return 0;
}

bool upgrade_pending(void)
{
    return pending;
}

pid_t upgrade_poll(char *err, size_t errlen)
{
    if (!pending) {
        return 0;
    }
    struct up_reply r;
    ssize_t k = recv(sock, &r, sizeof(r), MSG_DONTWAIT);
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
        return 0;
    }
    pending = false;
    if (k != (ssize_t)sizeof(r)) {
        snprintf(err, errlen, "the launcher process has ended");
        close(sock);
        sock = -1;
        return -1;
    }
    r.why[sizeof(r.why) - 1] = 0;
    if (r.kind != 'R') {
        snprintf(err, errlen, "%s", r.why);
        return -1;
    }
    return r.pid;
}

void upgrade_ready(void)
{
    const char *s = getenv("SPATE_READY_FD");
    if (!s) {
        return;
    }
    int fd = atoi(s);
    unsetenv("SPATE_READY_FD");
    if (fd > 2) {
        (void)!write(fd, "R", 1);
        close(fd);
    }
}
