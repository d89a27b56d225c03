/* pidfile.c - see pidfile.h. */
#include "core/app/pidfile.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

struct pid_settings {
    char *path; /* "off" or absolute */
};

/* pid PATH | off */
static int pid_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                     unsigned n)
{
    (void)r;
    (void)n;
    char **dst = field;
    char *v = strcmp(a[0], "off") == 0 ? conf_strdup(p, a[0]) : conf_path(p, a[0]);
    if (!v) {
        return -1;
    }
    sp_free(*dst);
    *dst = v;
    return 0;
}

static void pid_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const char *v = *(char *const *)field;
    if (!v) {
        return;
    }
    conf_out_begin(o, r->name);
    conf_out_arg(o, v);
    conf_out_end(o);
}

static void pid_release(void *field)
{
    sp_free(*(char **)field);
    *(char **)field = NULL;
}

static const struct conf_type pid_type = {"pid", sizeof(char *), pid_parse, pid_print, pid_release};

/* -t must fail where a start would: the file's directory has to be writable. */
static int check(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    const char *path = pidfile_path(c);
    if (!path) {
        return 0;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash && slash != path ? (size_t)(slash - path) : 1;
    if (n >= sizeof(dir)) {
        return conf_fail_at(err, errlen, conf_where_of(c->main, slot, 0),
                            "pid file path \"%s\" is too long", path);
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    if (access(dir, W_OK) < 0) {
        return conf_fail_at(err, errlen, conf_where_of(c->main, slot, 0),
                            "cannot write pid file \"%s\": %s", path, strerror(errno));
    }
    return 0;
}

static const struct conf_row rows[] = {
    {"pid", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &pid_type, offsetof(struct pid_settings, path),
     "off", 0, 0, "/tmp/spate-roundtrip.pid", NULL},
};

const struct conf_module pidfile_module = {
    .name = "pidfile",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct pid_settings)},
    .finish = check,
};

const char *pidfile_path(const struct conf *c)
{
    int slot = conf_slot(c, &pidfile_module);
    if (slot < 0) {
        return NULL;
    }
    const struct pid_settings *s = conf_main(c, (unsigned)slot);
    return s && s->path && strcmp(s->path, "off") != 0 ? s->path : NULL;
}

int pidfile_write(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write pid file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    ssize_t w = write(fd, buf, (size_t)n);
    int e = errno;
    close(fd);
    if (w != n) {
        snprintf(err, errlen, "cannot write pid file \"%s\": %s", path,
                 w < 0 ? strerror(e) : "short write");
        unlink(path);
        return -1;
    }
    return 0;
}

/* The pid in path: > 0, or -1 with a sentence in err. */
static long read_pid(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open pid file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    char buf[32];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read pid file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    while (*end == '\n' || *end == ' ') {
        end++;
    }
    if (end == buf || *end || pid <= 0) {
        snprintf(err, errlen, "invalid pid \"%.*s\" in pid file \"%s\"", (int)strcspn(buf, "\n"),
                 buf, path);
        return -1;
    }
    return pid;
}

void pidfile_remove(const char *path)
{
    char err[256];
    if (path && read_pid(path, err, sizeof(err)) == (long)getpid()) {
        unlink(path);
    }
}

int pidfile_signal(const char *path, int sig, char *err, size_t errlen)
{
    long pid = read_pid(path, err, errlen);
    if (pid < 0) {
        return -1;
    }
    if (kill((pid_t)pid, sig) < 0) {
        snprintf(err, errlen, "cannot signal process %ld (from \"%s\"): %s", pid, path,
                 strerror(errno));
        return -1;
    }
    return 0;
}
