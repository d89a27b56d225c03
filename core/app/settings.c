/* settings.c - the process module's rows (see settings.h). */
#include "core/app/settings.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "log/errlog.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* workers N | auto */
static int workers_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                         unsigned n)
{
    (void)n;
    if (strcmp(a[0], "auto") == 0) {
        *(unsigned *)field = 0;
        return 0;
    }
    char *end;
    unsigned long v = strtoul(a[0], &end, 10);
    if (!isdigit((unsigned char)a[0][0]) || *end || v < 1 || v > 1024) {
        return conf_error(p, "\"%s\" must be \"auto\" or a number from 1 to 1024, not \"%s\"",
                          r->name, a[0]);
    }
    *(unsigned *)field = (unsigned)v;
    return 0;
}

static void workers_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    unsigned v = *(const unsigned *)field;
    conf_out_begin(o, r->name);
    if (v) {
        conf_out_argf(o, "%u", v);
    } else {
        conf_out_arg(o, "auto");
    }
    conf_out_end(o);
}

static const struct conf_type workers_type = {"workers", sizeof(unsigned), workers_parse,
                                              workers_print, NULL};

/* error_log PATH|stderr [LEVEL]: the path and level are one row; the level lives beside it */
static int elog_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r;
    struct process_settings *s = container_of(field, struct process_settings, error_log);
    char *path = strcmp(a[0], "stderr") == 0 ? conf_strdup(p, a[0]) : conf_path(p, a[0]);
    if (!path) {
        return -1;
    }
    if (n > 1) {
        int lvl = errlog_level_from_name(a[1]);
        if (lvl < 0) {
            sp_free(path);
            return conf_error(p,
                              "unknown error_log level \"%s\" (debug, info, notice, warn, error, "
                              "crit)",
                              a[1]);
        }
        s->error_level = (unsigned)lvl;
    } else {
        s->error_level = ERRLOG_NOTICE;
    }
    s->error_log = path;
    return 0;
}

static void elog_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct process_settings *s =
        container_of(field, const struct process_settings, error_log);
    if (!s->error_log) {
        return;
    }
    conf_out_begin(o, r->name);
    conf_out_arg(o, s->error_log);
    conf_out_arg(o, errlog_level_name((int)s->error_level));
    conf_out_end(o);
}

static void elog_release(void *field)
{
    sp_free(*(char **)field);
    *(char **)field = NULL;
}

/* the level is copied with the path when inherited: one field, as far as the engine knows */
static const struct conf_type elog_type = {"error_log",
                                           offsetof(struct process_settings, error_level) +
                                               sizeof(unsigned) -
                                               offsetof(struct process_settings, error_log),
                                           elog_parse, elog_print, elog_release};

/* -t must fail where a start would: the file has to be writable (a FIFO: permission only). */
static int check(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    const struct process_settings *s = conf_main(c, slot);
    if (strcmp(s->error_log, "stderr") == 0) {
        return 0;
    }
    struct stat st;
    int ok;
    if (stat(s->error_log, &st) == 0 && !S_ISREG(st.st_mode)) {
        ok = access(s->error_log, W_OK) == 0;
    } else {
        int fd = open(s->error_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        ok = fd >= 0;
        if (ok) {
            close(fd);
        }
    }
    if (!ok) {
        return conf_fail_at(err, errlen, conf_where_of(c->main, slot, 1),
                            "cannot open error log \"%s\": %s", s->error_log, strerror(errno));
    }
    return 0;
}

static const struct conf_row rows[] = {
    {"workers", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &workers_type,
     offsetof(struct process_settings, workers), "auto", 0, 0, "3", NULL},
    {"error_log", CONF_MAIN, CONF_STORE_MAIN, 1, 2, 0, &elog_type,
     offsetof(struct process_settings, error_log), "stderr notice", 0, 0,
     "/tmp/spate-roundtrip-error.log warn", NULL},
};

const struct conf_module process_module = {
    .name = "process",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct process_settings)},
    .finish = check,
};

const struct process_settings *process_settings(const struct conf *c)
{
    int slot = conf_slot(c, &process_module);
    return slot < 0 ? NULL : conf_main(c, (unsigned)slot);
}
