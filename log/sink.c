/* sink.c - see sink.h. */
#include "log/sink.h"

#include "core/base/compiler.h"
#include "log/errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
#define REPORT_EVERY_MS 1000
#define STALL_MS 1000 /* EAGAIN without any progress this long counts as a failure */

uint64_t log_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int log_sink_open(const char *path, int extra)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | extra, 0644);
    return fd < 0 ? -errno : fd;
}

/* Picks how to write to s without ever blocking. */
void log_sink_setup(struct log_sink *s)
{
    struct stat st;
    s->kind = LOG_SK_FILE;
    s->wfd = s->fd;
    if (fstat(s->fd, &st) < 0) {
        return;
    }
    s->have_id = true;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    if (S_ISSOCK(st.st_mode)) {
        s->kind = LOG_SK_SOCKET;
        return;
    }
    if (!S_ISFIFO(st.st_mode) && !(S_ISCHR(st.st_mode) && isatty(s->fd))) {
        return;
    }
    if (s->own_fd) {
        /* opened by us, with O_CLOEXEC: no other process shares this description */
        int fl = fcntl(s->fd, F_GETFL);
        if (fl >= 0 && fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) == 0) {
            s->kind = LOG_SK_NONBLOCK;
            return;
        }
    } else {
        /*
         * Inherited (stdout, stderr) or errlog's: its description may be shared with other
         * processes, which O_NONBLOCK would break. Reopening it through /proc gives a
         * description of our own on the same pipe or terminal.
         */
        char proc[40];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s->fd);
        int fd = open(proc, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
            s->wfd = fd;
            s->own_wfd = true;
            s->kind = LOG_SK_NONBLOCK;
            return;
        }
    }
    s->kind = LOG_SK_GUARDED;
}

/* Reopens the sink's path onto the same fd number (after an error, or for SIGUSR1). */
int log_sink_reopen(struct log_sink *s)
{
    if (s->is_errlog) {
        /* errlog's open blocks on a FIFO without a reader: only ask it for plain files */
        return s->kind == LOG_SK_FILE ? errlog_reopen() : 0;
    }
    if (!s->path) {
        return 0; /* stdout, stderr: nothing to reopen */
    }
    /* O_NONBLOCK: opening a FIFO without a reader fails at once instead of waiting */
    int fd = log_sink_open(s->path, O_NONBLOCK);
    if (fd < 0) {
        return fd;
    }
    int rc = dup2(fd, s->fd) < 0 ? -errno : 0;
    close(fd);
    if (rc == 0) {
        struct stat st;
        bool pipe = fstat(s->fd, &st) == 0 &&
                    (S_ISFIFO(st.st_mode) || (S_ISCHR(st.st_mode) && isatty(s->fd)));
        s->kind = pipe ? LOG_SK_NONBLOCK : LOG_SK_FILE;
    }
    return rc;
}

static void sink_failed(struct log_flusher *f, struct log_sink *s, int err, uint64_t now)
{
    s->err = err;
    s->reopen_due = true;
    s->backoff_ms = s->backoff_ms ? MIN(2 * s->backoff_ms, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
    s->retry_at_ms = now + s->backoff_ms;
    if (!s->fail_since_ms) {
        s->fail_since_ms = now;
    }
    atomic_fetch_add_explicit(&s->a_errors, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&f->write_errors, 1, memory_order_relaxed);
}

static ssize_t write_once(const struct log_sink *s, struct iovec *iov, int n)
{
    if (s->kind == LOG_SK_SOCKET) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        return sendmsg(s->wfd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (s->kind == LOG_SK_GUARDED) {
        struct pollfd pf = {.fd = s->wfd, .events = POLLOUT};
        int r = poll(&pf, 1, 0);
        if (r <= 0) {
            errno = r == 0 ? EAGAIN : errno;
            return -1;
        }
        /* POLLOUT on a pipe means a free page: a write of at most PIPE_BUF cannot block */
        struct iovec part[16];
        size_t room = PIPE_BUF;
        int k = 0;
        for (; k < n && k < (int)ARRAY_SIZE(part) && room > 0; k++) {
            part[k] = iov[k];
            part[k].iov_len = MIN(part[k].iov_len, room);
            room -= part[k].iov_len;
        }
        return writev(s->wfd, part, k);
    }
    return writev(s->wfd, iov, n);
}

/*
 * One attempt to write iov[0..n) (total bytes; the array is consumed) to s.
 * Returns the bytes written; a failure, EAGAIN or short write is recorded in
 * s and ends the attempt. A regular file is written until done or an error.
 */
size_t log_sink_write(struct log_flusher *f, struct log_sink *s, struct iovec *iov, int n,
                      size_t total, uint64_t now)
{
    if (total == 0) {
        return 0;
    }
    if (s->err && s->reopen_due) {
        s->reopen_due = false;
        int r = log_sink_reopen(s);
        if (r < 0) {
            sink_failed(f, s, -r, now);
            return 0;
        }
    }
    size_t done = 0;
    while (done < total) {
        ssize_t w = write_once(s, iov, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w > 0) {
            done += (size_t)w;
            s->err = 0;
            s->backoff_ms = 0;
            s->wait_since_ms = 0;
            size_t k = (size_t)w;
            while (n > 0 && k >= iov->iov_len) {
                k -= iov->iov_len;
                iov++;
                n--;
            }
            if (n > 0) {
                iov->iov_base = (char *)iov->iov_base + k;
                iov->iov_len -= k;
            }
            if (done < total && s->kind != LOG_SK_FILE) {
                s->wait_out = true; /* short write: the pipe is full */
                s->wait_since_ms = now;
                break;
            }
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && s->kind != LOG_SK_FILE) {
            s->wait_out = true;
            if (!s->wait_since_ms) {
                s->wait_since_ms = now;
            }
            break;
        }
        sink_failed(f, s, w < 0 ? errno : EAGAIN, now); /* 0 bytes: retry later, too */
        break;
    }
    if (done) {
        atomic_fetch_add_explicit(&f->batches, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->a_bytes, done, memory_order_relaxed);
    }
    return done;
}

bool log_sink_can_write(const struct log_sink *s, uint64_t now)
{
    if (s->wait_out) {
        return false;
    }
    return s->err == 0 || now >= s->retry_at_ms;
}

/* "access log "PATH"" or "the error log", for messages. */
static const char *label(const struct log_sink *s, char *buf, size_t cap)
{
    if (s->is_errlog) {
        return "the error log";
    }
    snprintf(buf, cap, "access log \"%s\"", s->name);
    return buf;
}

/* The first failure, once a second while it lasts, and its end; updates the atomics. */
void log_sink_report(struct log_sink *s, uint64_t now)
{
    bool stalled = s->wait_out && s->wait_since_ms && now - s->wait_since_ms >= STALL_MS;
    bool failing = s->err != 0 || stalled;
    char buf[300];
    if (failing) {
        if (!s->fail_since_ms) {
            s->fail_since_ms = s->err ? now : s->wait_since_ms;
        }
        const char *why = s->err ? strerror(s->err) : "not accepting writes";
        if (!s->reported) {
            errlog(ERRLOG_ERROR, "%s: %s%s; keeping its lines and retrying",
                   label(s, buf, sizeof(buf)), why, s->err ? "" : " (is its reader stalled?)");
            s->reported = true;
            s->report_at_ms = now + REPORT_EVERY_MS;
        } else if (now >= s->report_at_ms) {
            errlog(ERRLOG_ERROR,
                   "%s still failing (%s) for %llu s: %llu bytes waiting, %u ring(s) held",
                   label(s, buf, sizeof(buf)), why,
                   (unsigned long long)((now - s->fail_since_ms) / 1000),
                   (unsigned long long)s->bl_bytes, s->held);
            s->report_at_ms = now + REPORT_EVERY_MS;
        }
    } else if (s->fail_since_ms) {
        if (s->reported) {
            errlog(ERRLOG_NOTICE, "%s is being written again after %llu s; no line lost",
                   label(s, buf, sizeof(buf)),
                   (unsigned long long)((now - s->fail_since_ms) / 1000));
        }
        s->fail_since_ms = 0;
        s->reported = false;
    }
    atomic_store_explicit(&s->a_failing, failing ? (s->err ? s->err : EAGAIN) : 0,
                          memory_order_relaxed);
    atomic_store_explicit(&s->a_since_ms, failing ? s->fail_since_ms : 0, memory_order_relaxed);
    atomic_store_explicit(&s->a_backlog, s->bl_bytes, memory_order_relaxed);
}
