/*
 * cgi_spawner.c - the spawner process (cgi_spawner.h; its protocol: core/handlers/cgi_spawn.h).
 *
 * The spawner is a fork of spate made before any worker starts. It allocates nothing (the
 * allocator's and the error log's threads do not exist in it, and their locks may have been
 * held at the fork): its tables are static, and what goes wrong is said to the worker on the
 * script's status pipe, which the worker logs. It never writes a log of its own.
 */
#include "core/app/cgi_spawner.h"

#include "core/handlers/cgi.h"
#include "core/handlers/cgi_conf.h"
#include "core/handlers/cgi_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KIDS_MAX 4096      /* scripts running at once, all workers together */
#define ENV_MAX 2048       /* variables of one script */
#define TERM_GRACE_MS 2000 /* from SIGTERM to SIGKILL */

struct kid {
    pid_t pid;        /* also its process group and session */
    int status_fd;    /* the status pipe's write end, -1 once the worker let go */
    uint64_t kill_at; /* SIGKILL due (ms), 0: none */
};

static struct kid kids[KIDS_MAX];
static unsigned nkids;
static char msgbuf[CGI_SPAWN_MSG_MAX];
static char *envp[ENV_MAX + 1];
static struct pollfd pfds[KIDS_MAX + 2];
static pid_t polled[KIDS_MAX + 2];

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void put_rec(int fd, int kind, int value)
{
    struct cgi_rec rec = {kind, value};
    ssize_t n;
    do {
        n = write(fd, &rec, sizeof(rec));
    } while (n < 0 && errno == EINTR);
}

static struct kid *find(pid_t pid)
{
    for (unsigned i = 0; i < nkids; i++) {
        if (kids[i].pid == pid) {
            return &kids[i];
        }
    }
    return NULL;
}

static void drop(struct kid *k)
{
    if (k->status_fd >= 0) {
        close(k->status_fd);
    }
    *k = kids[--nkids];
}

/* ---------------------------------------------------------------- the child */

static void set_limit(int res, uint64_t v)
{
    if (v) {
        struct rlimit rl = {(rlim_t)v, (rlim_t)v};
        setrlimit(res, &rl);
    }
}

static _Noreturn void child(const struct cgi_spawn_msg *m, const char *path, const char *dir,
                            const int fds[CGI_SPAWN_FDS], int errw)
{
    setsid();
    for (int s = 1; s < NSIG; s++) {
        signal(s, SIG_DFL); /* SIGPIPE was ignored: a script expects the default */
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    set_limit(RLIMIT_CPU, m->rlimit_cpu);
    set_limit(RLIMIT_AS, m->rlimit_as);
    set_limit(RLIMIT_NOFILE, m->rlimit_nofile);
    /* the received descriptors are above 2 (0..2 are /dev/null here): no overlap */
    int e = 0;
    if (dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[2], 2) < 0) {
        e = errno;
    }
    /* everything else closes at exec (errw too: its closing tells the spawner exec worked) */
    if (!e && syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) < 0) {
        for (int fd = 3; fd < 65536; fd++) {
            fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
    }
    if (!e && chdir(dir) < 0) {
        e = errno;
    }
    if (!e) {
        char *argv[] = {(char *)path, NULL};
        execve(path, argv, envp);
        e = errno;
    }
    ssize_t n = write(errw, &e, sizeof(e));
    (void)n;
    _exit(127);
}

/* ---------------------------------------------------------------- requests */

static void spawn(const struct cgi_spawn_msg *m, const char *path, const char *dir,
                  const int fds[CGI_SPAWN_FDS])
{
    int status = fds[3];
    if (nkids == KIDS_MAX) {
        put_rec(status, CGI_REC_FAILED, EAGAIN);
        close(status);
        return;
    }
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0) {
        put_rec(status, CGI_REC_FAILED, errno);
        close(status);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(ep[0]);
        child(m, path, dir, fds, ep[1]);
    }
    int fe = errno;
    close(ep[1]);
    if (pid < 0) {
        close(ep[0]);
        put_rec(status, CGI_REC_FAILED, fe);
        close(status);
        return;
    }
    /* until exec: the child's own steps (a few system calls), or its errno */
    int e = 0;
    ssize_t n;
    do {
        n = read(ep[0], &e, sizeof(e));
    } while (n < 0 && errno == EINTR);
    close(ep[0]);
    if (n == (ssize_t)sizeof(e)) {
        waitpid(pid, NULL, 0);
        put_rec(status, CGI_REC_FAILED, e);
        close(status);
        return;
    }
    put_rec(status, CGI_REC_STARTED, pid);
    kids[nkids++] = (struct kid){pid, status, 0};
}

/* One request off the socket: 1 done (or dropped), 0 nothing there, -1 the socket ended. */
static int take(int sock)
{
    char cbuf[CMSG_SPACE(sizeof(int) * CGI_SPAWN_FDS)];
    struct iovec iov = {msgbuf, sizeof(msgbuf)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    if (n == 0) {
        return -1;
    }
    int fds[CGI_SPAWN_FDS];
    unsigned nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (unsigned i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (nfds < CGI_SPAWN_FDS) {
                    fds[nfds++] = fd;
                } else {
                    close(fd);
                }
            }
        }
    }
    struct cgi_spawn_msg m;
    bool ok = nfds == CGI_SPAWN_FDS && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) &&
              (size_t)n >= sizeof(m);
    const char *path = NULL, *dir = NULL;
    if (ok) {
        memcpy(&m, msgbuf, sizeof(m));
        size_t want = sizeof(m) + (size_t)m.path_len + m.dir_len + m.env_len;
        path = msgbuf + sizeof(m);
        dir = path + m.path_len;
        ok = m.magic == CGI_SPAWN_MAGIC && want == (size_t)n && m.path_len && m.dir_len &&
             m.nenv <= ENV_MAX && path[m.path_len - 1] == '\0' && dir[m.dir_len - 1] == '\0' &&
             (m.env_len == 0 || msgbuf[n - 1] == '\0');
    }
    if (ok) {
        char *p = (char *)dir + m.dir_len, *end = msgbuf + n;
        unsigned k = 0;
        while (p < end && k < m.nenv) {
            envp[k++] = p;
            p += strlen(p) + 1;
        }
        envp[k] = NULL;
        ok = k == m.nenv && p == end;
    }
    if (ok) {
        spawn(&m, path, dir, fds);
    } else if (nfds == CGI_SPAWN_FDS) {
        put_rec(fds[3], CGI_REC_FAILED, EINVAL);
        close(fds[3]);
    }
    for (unsigned i = 0; i < nfds && i < 3; i++) {
        close(fds[i]); /* the script has its copies: its stdout ends when it does */
    }
    return 1;
}

/* ---------------------------------------------------------------- children */

static void reap(void)
{
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0) {
            return;
        }
        pid_t pid = si.si_pid;
        struct kid *k = find(pid);
        if (k) {
            /* still a zombie, so its group id cannot be anyone else's: stragglers go with it */
            kill(-pid, SIGKILL);
        }
        int st = 0;
        if (waitpid(pid, &st, 0) < 0) {
            return;
        }
        if (k) {
            if (k->status_fd >= 0) {
                put_rec(k->status_fd, CGI_REC_EXITED, st);
            }
            drop(k);
        }
        /* else an orphan of a script's that this subreaper inherited: reaped, nothing else */
    }
}

static void terminate(struct kid *k, uint64_t now)
{
    close(k->status_fd);
    k->status_fd = -1;
    kill(-k->pid, SIGTERM);
    kill(-k->pid, SIGCONT); /* a stopped group would not see the TERM */
    k->kill_at = now + TERM_GRACE_MS;
}

static _Noreturn void finish_all(void)
{
    for (unsigned i = 0; i < nkids; i++) {
        kill(-kids[i].pid, SIGKILL);
    }
    for (unsigned i = 0; i < nkids; i++) {
        waitpid(kids[i].pid, NULL, 0);
    }
    _exit(0);
}

static _Noreturn void spawner_main(int sock)
{
    prctl(PR_SET_NAME, "spate-cgi");
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* nothing of spate's stays open here: listeners, logs, roots, the terminal */
    if (sock != 3) {
        dup2(sock, 3);
        sock = 3;
    }
    syscall(SYS_close_range, 4u, ~0u, 0u);
    int null = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; fd++) {
        if (null >= 0 && null != fd) {
            dup2(null, fd);
        }
    }
    if (null > 3) {
        close(null);
    }
    fcntl(sock, F_SETFD, FD_CLOEXEC);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL); /* the others stay blocked: spate's main handles them */
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        _exit(1);
    }
    for (;;) {
        uint64_t now = now_ms(), next = UINT64_MAX;
        unsigned np = 0;
        pfds[np++] = (struct pollfd){sock, POLLIN, 0};
        pfds[np++] = (struct pollfd){sfd, POLLIN, 0};
        for (unsigned i = 0; i < nkids; i++) {
            if (kids[i].status_fd >= 0) {
                polled[np] = kids[i].pid;
                pfds[np++] = (struct pollfd){kids[i].status_fd, 0, 0}; /* POLLERR: let go */
            }
            if (kids[i].kill_at && kids[i].kill_at < next) {
                next = kids[i].kill_at;
            }
        }
        int timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
        int rc = poll(pfds, np, timeout);
        if (rc < 0 && errno != EINTR) {
            finish_all();
        }
        now = now_ms();
        for (unsigned i = 2; rc > 0 && i < np; i++) {
            struct kid *k = pfds[i].revents ? find(polled[i]) : NULL;
            if (k && k->status_fd >= 0) {
                terminate(k, now);
            }
        }
        if (rc > 0 && pfds[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) > 0) {
            }
        }
        reap(); /* every turn: a SIGCHLD merged with another is not lost */
        for (unsigned i = 0; i < nkids; i++) {
            if (kids[i].kill_at && kids[i].kill_at <= now) {
                kill(-kids[i].pid, SIGKILL);
                kids[i].kill_at = 0;
            }
        }
        if (rc > 0 && (pfds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            for (int i = 0; i < 64; i++) {
                int t = take(sock);
                if (t < 0) {
                    finish_all();
                }
                if (t == 0) {
                    break;
                }
                reap(); /* a script that already ended is not kept waiting behind new ones */
            }
        }
    }
}

int cgi_spawner_start(const struct conf *c, char *err, size_t errlen)
{
    if (!cgi_conf_used(c, &cgi_module)) {
        return 0;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, errlen, "cgi: cannot make the spawner's socket: %s", strerror(errno));
        return -1;
    }
    /* room for a few large requests from every worker at once */
    int sz = 4 * (int)CGI_SPAWN_MSG_MAX;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cgi: cannot start the spawner process: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        spawner_main(sv[1]);
    }
    close(sv[1]);
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    cgi_spawner_set(sv[0]);
    return 0;
}
