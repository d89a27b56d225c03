/* errlog.c - see errlog.h. */
#include "log/errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info", "notice", "warn", "error", "crit"};

/* A direct write waits at most this long for room in a pipe, socket or terminal. */
#define ERRLOG_WAIT_MS 1000

static _Atomic int g_fd = 2;
static _Atomic int g_may_block; /* g_fd is not a regular file: a write could block */
static _Atomic unsigned long long g_dropped;
static int g_level = ERRLOG_NOTICE;
static char g_path[4096];
static _Thread_local unsigned t_id;
static _Thread_local errlog_sink_fn t_sink;

void errlog_set_thread_sink(errlog_sink_fn fn)
{
    t_sink = fn;
}

int errlog_level_from_name(const char *name)
{
    for (int i = 0; i < (int)ARRAY_SIZE(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return i;
        }
    }
    if (strcmp(name, "warning") == 0) {
        return ERRLOG_WARN;
    }
    return -1;
}

const char *errlog_level_name(int level)
{
    if (level < 0 || level >= (int)ARRAY_SIZE(level_names)) {
        return "?";
    }
    return level_names[level];
}

static void note_kind(int fd)
{
    struct stat st;
    atomic_store(&g_may_block, fstat(fd, &st) == 0 && !S_ISREG(st.st_mode));
}

static int open_path(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int errlog_open(const char *path, int level)
{
    g_level = level;
    if (!path || strcmp(path, "stderr") == 0) {
        g_path[0] = '\0';
        atomic_store(&g_fd, 2);
        note_kind(2);
        return 0;
    }
    if (strlen(path) >= sizeof(g_path)) {
        return -ENAMETOOLONG;
    }
    int fd = open_path(path);
    if (fd < 0) {
        return fd;
    }
    strcpy(g_path, path);
    note_kind(fd);
    int old = atomic_exchange(&g_fd, fd);
    if (old > 2) {
        close(old);
    }
    return 0;
}

int errlog_reopen(void)
{
    if (g_path[0] == '\0') {
        return 0;
    }
    int fd = open_path(g_path);
    if (fd < 0) {
        return fd;
    }
    /* dup2 keeps the number, so a writer racing with us never sees a closed fd */
    int cur = atomic_load(&g_fd);
    if (cur > 2) {
        dup2(fd, cur);
        close(fd);
    } else {
        note_kind(fd);
        atomic_store(&g_fd, fd);
    }
    return 0;
}

void errlog_close(void)
{
    note_kind(2);
    int old = atomic_exchange(&g_fd, 2);
    if (old > 2) {
        close(old);
    }
}

int errlog_enabled(int level)
{
    return level >= g_level;
}

int errlog_fd(void)
{
    return atomic_load(&g_fd);
}

void errlog_set_thread_id(unsigned id)
{
    t_id = id;
}

int errlog_format(char *buf, int cap, int level, const char *fmt, va_list ap)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    int n =
        snprintf(buf, (size_t)cap, "%04d/%02d/%02d %02d:%02d:%02d [%s] %d#%u: ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 errlog_level_name(level), (int)getpid(), t_id);
    if (n < 0 || n >= cap) {
        return 0;
    }
    int m = vsnprintf(buf + n, (size_t)(cap - n), fmt, ap);
    if (m < 0) {
        m = 0;
    }
    n += m;
    if (n > cap - 2) {
        n = cap - 2; /* truncated */
    }
    /* one line per message: newlines inside become spaces */
    for (int i = 0; i < n; i++) {
        if (buf[i] == '\n' || buf[i] == '\r') {
            buf[i] = ' ';
        }
    }
    buf[n++] = '\n';
    buf[n] = '\0';
    return n;
}

void errlog_v(int level, const char *fmt, va_list ap)
{
    if (level < g_level) {
        return;
    }
    char buf[2048];
    int n = errlog_format(buf, (int)sizeof(buf), level, fmt, ap);
    if (n <= 0) {
        return;
    }
    if (t_sink && t_sink(buf, (size_t)n) == 0) {
        return;
    }
    int fd = atomic_load(&g_fd);
    if (atomic_load_explicit(&g_may_block, memory_order_relaxed)) {
        /*
         * A pipe whose reader stopped must not hang the thread (at exit, the main thread).
         * POLLOUT on a pipe means a free page, and a line (< 2048 bytes) is below PIPE_BUF, so
         * the write that follows does not block.
         */
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, ERRLOG_WAIT_MS) <= 0) {
            atomic_fetch_add_explicit(&g_dropped, 1, memory_order_relaxed);
            return;
        }
    }
    ssize_t w = write(fd, buf, (size_t)n);
    (void)w;
}

unsigned long long errlog_dropped(void)
{
    return atomic_load(&g_dropped);
}

void errlog(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errlog_v(level, fmt, ap);
    va_end(ap);
}
