/* accesslog_conf.c - see accesslog_conf.h. */
#include "core/http/accesslog_conf.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/conf/types.h"
#include "log/errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ================================================================ the directives */

/* access_log PATH|stdout|stderr|off [FORMAT] */
struct alog_spec {
    char *path; /* "off", "stdout", "stderr" or absolute */
    char *format;
    struct conf_where where;
};

/* log_format NAME [escape=...] TEXT */
struct alog_fmt_def {
    char *name, *text;
    enum log_escape escape;
    struct conf_where where;
};

struct alog_fmt_defs {
    struct alog_fmt_def *v;
    unsigned n;
};

struct alog_main {
    struct alog_fmt_defs formats;
    uint32_t ring_bytes;
    uint32_t wait_ms;
    struct alog_plan plan; /* derived by finish */
};

struct alog_srv {
    struct alog_spec log;
};

static bool special_sink(const char *p)
{
    return !strcmp(p, "off") || !strcmp(p, "stdout") || !strcmp(p, "stderr");
}

static int spec_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r;
    struct alog_spec *s = field;
    s->path = special_sink(a[0]) ? conf_strdup(p, a[0]) : conf_path(p, a[0]);
    if (!s->path) {
        return -1;
    }
    if (n > 1 && !(s->format = conf_strdup(p, a[1]))) {
        return -1;
    }
    s->where = (struct conf_where){p->file, p->line};
    return 0;
}

static void spec_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct alog_spec *s = field;
    if (!s->path) {
        return;
    }
    conf_out_begin(o, r->name);
    conf_out_arg(o, s->path);
    if (s->format) {
        conf_out_arg(o, s->format);
    }
    conf_out_end(o);
}

static void spec_release(void *field)
{
    struct alog_spec *s = field;
    sp_free(s->path);
    sp_free(s->format);
    s->path = s->format = NULL;
}

static const struct conf_type spec_type = {"access_log", sizeof(struct alog_spec), spec_parse,
                                           spec_print, spec_release};

static const char *const escape_names[] = {"escape=default", "escape=json", "escape=none", NULL};

static bool builtin_format(const char *name)
{
    enum log_escape e;
    return log_format_builtin(name, &e) != NULL;
}

static int fmt_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                     unsigned n)
{
    (void)r;
    struct alog_fmt_defs *l = field;
    enum log_escape esc = LOG_ESC_DEFAULT;
    if (n == 3) {
        unsigned i = 0;
        while (escape_names[i] && strcmp(escape_names[i], a[1]) != 0) {
            i++;
        }
        if (!escape_names[i]) {
            return conf_error(p,
                              "log_format parameter must be escape=default, escape=json or "
                              "escape=none, not \"%s\"",
                              a[1]);
        }
        esc = (enum log_escape)i;
    }
    if (builtin_format(a[0])) {
        return conf_error(p, "log_format \"%s\" is built in and cannot be redefined", a[0]);
    }
    for (unsigned i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].name, a[0]) == 0) {
            return conf_error(p, "duplicate log_format \"%s\" (first at line %d)", a[0],
                              l->v[i].where.line);
        }
    }
    struct alog_fmt_def *nv = sp_realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    l->v = nv;
    struct alog_fmt_def d = {
        conf_strdup(p, a[0]), conf_strdup(p, a[n - 1]), esc, {p->file, p->line}};
    if (!d.name || !d.text) {
        sp_free(d.name);
        sp_free(d.text);
        return -1;
    }
    l->v[l->n++] = d;
    return 0;
}

static void fmt_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct alog_fmt_defs *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, l->v[i].name);
        if (l->v[i].escape != LOG_ESC_DEFAULT) {
            conf_out_arg(o, escape_names[l->v[i].escape]);
        }
        conf_out_arg(o, l->v[i].text);
        conf_out_end(o);
    }
}

static void fmt_release(void *field)
{
    struct alog_fmt_defs *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        sp_free(l->v[i].name);
        sp_free(l->v[i].text);
    }
    sp_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static const struct conf_type fmt_type = {"log_format", sizeof(struct alog_fmt_defs), fmt_parse,
                                          fmt_print, fmt_release};

#define MAIN_OFF(f) offsetof(struct alog_main, f)
#define T_MAX_MS (30u * 86400 * 1000)

static const struct conf_row rows[] = {
    {"access_log", CONF_MAIN | CONF_SERVER, CONF_STORE_SRV, 1, 2, 0, &spec_type,
     offsetof(struct alog_srv, log), "off", 0, 0, "/tmp/spate-roundtrip-access.log combined", NULL},
    {"log_format", CONF_MAIN, CONF_STORE_MAIN, 2, 3, CONF_MULTI, &fmt_type, MAIN_OFF(formats), NULL,
     0, 0, "edge escape=json '{\"s\":$status,\"u\":\"$request_uri\"}'", NULL},
    {"access_log_buffer", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_size32, MAIN_OFF(ring_bytes),
     "1m", 64u << 10, 1u << 30, "4m", NULL},
    {"access_log_wait", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_msec32, MAIN_OFF(wait_ms), "1s",
     0, T_MAX_MS, "250ms", NULL},
};

/* ---------------------------------------------------------------- finishing: the plan */

static int add_format(struct alog_plan *pl, const char *name, const char *text, enum log_escape esc,
                      struct conf_where w, char *err, size_t errlen)
{
    struct log_format *n = sp_realloc(pl->formats, (pl->nformats + 1) * sizeof(*n));
    if (!n) {
        return conf_fail_at(err, errlen, w, "out of memory");
    }
    pl->formats = n;
    char msg[CONF_ERR_MAX];
    if (log_format_compile(&n[pl->nformats], name, text, esc, msg, sizeof(msg)) < 0) {
        return conf_fail_at(err, errlen, w, "%s", msg);
    }
    pl->nformats++;
    return 0;
}

static const struct log_format *find_format(const struct alog_plan *pl, const char *name)
{
    for (unsigned i = 0; i < pl->nformats; i++) {
        if (strcmp(pl->formats[i].name, name) == 0) {
            return &pl->formats[i];
        }
    }
    return NULL;
}

/* The sink for path, added if new; -1 on OOM. */
static int sink_for(struct alog_plan *pl, const char *path, const struct log_format *fmt)
{
    for (unsigned k = 0; k < pl->nsinks; k++) {
        if (strcmp(pl->sinks[k], path) == 0) {
            return (int)k;
        }
    }
    char **ns = sp_realloc(pl->sinks, (pl->nsinks + 1) * sizeof(*ns));
    if (!ns) {
        return -1;
    }
    pl->sinks = ns;
    const struct log_format **nf = sp_realloc(pl->sink_fmt, (pl->nsinks + 1) * sizeof(*nf));
    if (!nf) {
        return -1;
    }
    pl->sink_fmt = nf;
    if (!(ns[pl->nsinks] = sp_strndup(path, strlen(path)))) {
        return -1;
    }
    nf[pl->nsinks] = fmt;
    return (int)pl->nsinks++;
}

/*
 * -t must fail where a start would: the file has to be writable (it is created, as nginx does).
 * A FIFO or a device is only checked for permission: opening one for writing would look like a
 * writer to whoever reads it, and closing it an end of file.
 */
static int check_writable(const char *path, struct conf_where w, char *err, size_t errlen)
{
    if (!strcmp(path, "stdout") || !strcmp(path, "stderr")) {
        return 0;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (access(path, W_OK) < 0) {
            return conf_fail_at(err, errlen, w, "cannot write access log \"%s\": %s", path,
                                strerror(errno));
        }
        return 0;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return conf_fail_at(err, errlen, w, "cannot open access log \"%s\": %s", path,
                            strerror(errno));
    }
    close(fd);
    return 0;
}

static int alog_finish(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    struct alog_main *m = conf_main(c, slot);
    struct alog_plan *pl = &m->plan;
    pl->ring_bytes = m->ring_bytes;
    pl->wait_ms = m->wait_ms;
    static const char *const builtin[] = {"common", "combined", "json"};
    for (size_t i = 0; i < ARRAY_SIZE(builtin); i++) {
        enum log_escape esc;
        const char *text = log_format_builtin(builtin[i], &esc);
        if (add_format(pl, builtin[i], text, esc, (struct conf_where){"(built in)", 0}, err,
                       errlen) < 0) {
            return -1;
        }
    }
    for (unsigned i = 0; i < m->formats.n; i++) {
        const struct alog_fmt_def *d = &m->formats.v[i];
        if (add_format(pl, d->name, d->text, d->escape, d->where, err, errlen) < 0) {
            return -1;
        }
    }
    pl->servers = sp_calloc(c->main->nchildren ? c->main->nchildren : 1, sizeof(*pl->servers));
    if (!pl->servers) {
        return conf_fail_at(err, errlen, c->main->where, "out of memory");
    }
    for (const struct conf_block *b = c->main->children; b; b = b->next) {
        const struct alog_srv *s = conf_get(b, slot, CONF_STORE_SRV);
        struct alog_server *as = &pl->servers[pl->nservers++];
        as->sink = -1;
        if (!s->log.path || strcmp(s->log.path, "off") == 0) {
            continue;
        }
        const char *fname = s->log.format ? s->log.format : "common";
        as->fmt = find_format(pl, fname);
        if (!as->fmt) {
            return conf_fail_at(err, errlen, s->log.where,
                                "unknown log format \"%s\" (common, combined, json, or a "
                                "log_format name)",
                                fname);
        }
        as->sink = sink_for(pl, s->log.path, as->fmt);
        if (as->sink < 0) {
            return conf_fail_at(err, errlen, s->log.where, "out of memory");
        }
        if (check_writable(s->log.path, s->log.where, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

static void alog_release(struct conf *c, unsigned slot)
{
    struct alog_main *m = conf_main(c, slot);
    struct alog_plan *pl = &m->plan;
    for (unsigned i = 0; i < pl->nformats; i++) {
        log_format_free(&pl->formats[i]);
    }
    sp_free(pl->formats);
    sp_free(pl->servers);
    for (unsigned k = 0; k < pl->nsinks; k++) {
        sp_free(pl->sinks[k]);
    }
    sp_free(pl->sinks);
    sp_free(pl->sink_fmt);
    memset(pl, 0, sizeof(*pl));
}

const struct conf_module accesslog_module = {
    .name = "accesslog",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size =
        {[CONF_STORE_MAIN] = sizeof(struct alog_main), [CONF_STORE_SRV] = sizeof(struct alog_srv)},
    .finish = alog_finish,
    .release = alog_release,
};

const struct alog_plan *alog_plan(const struct conf *c)
{
    int slot = conf_slot(c, &accesslog_module);
    return slot < 0 ? NULL : &((const struct alog_main *)conf_main(c, (unsigned)slot))->plan;
}

/*
 * The files stay the ones opened at start (the flusher's sinks are fixed: records carry their
 * index), so the new plan takes the running plan's list of sinks, and a log file the running
 * server does not have open is an error: opening it needs a restart.
 */
int alog_plan_adopt(struct conf *c, const struct alog_plan *running, char *err, size_t errlen)
{
    int slot = conf_slot(c, &accesslog_module);
    if (slot < 0) {
        return 0;
    }
    struct alog_main *m = conf_main(c, (unsigned)slot);
    struct alog_plan *pl = &m->plan;
    char **sinks = sp_calloc(running->nsinks ? running->nsinks : 1, sizeof(*sinks));
    const struct log_format **fmts =
        sp_calloc(running->nsinks ? running->nsinks : 1, sizeof(*fmts));
    int *map = sp_calloc(pl->nsinks ? pl->nsinks : 1, sizeof(*map));
    if (!sinks || !fmts || !map) {
        sp_free(sinks);
        sp_free(fmts);
        sp_free(map);
        return conf_fail_at(err, errlen, c->main->where, "out of memory");
    }
    int rc = 0;
    for (unsigned k = 0; k < running->nsinks && rc == 0; k++) {
        sinks[k] = sp_strndup(running->sinks[k], strlen(running->sinks[k]));
        fmts[k] = &pl->formats[0]; /* "common": only its escaping is read, for summaries */
        if (!sinks[k]) {
            rc = conf_fail_at(err, errlen, c->main->where, "out of memory");
        }
    }
    for (unsigned j = 0; j < pl->nsinks && rc == 0; j++) {
        map[j] = -1;
        for (unsigned k = 0; k < running->nsinks; k++) {
            if (strcmp(pl->sinks[j], running->sinks[k]) == 0) {
                map[j] = (int)k;
                fmts[k] = pl->sink_fmt[j];
                break;
            }
        }
    }
    unsigned i = 0;
    for (const struct conf_block *b = c->main->children; b && rc == 0; b = b->next, i++) {
        struct alog_server *as = &pl->servers[i];
        if (as->sink < 0) {
            continue;
        }
        if (map[as->sink] < 0) {
            const struct alog_srv *s = conf_get(b, (unsigned)slot, CONF_STORE_SRV);
            rc = conf_fail_at(err, errlen, s->log.where,
                              "access_log \"%s\" is not open in the running server: a reload "
                              "keeps the log files opened at start, adding one needs a restart",
                              pl->sinks[as->sink]);
            break;
        }
        as->sink = map[as->sink];
    }
    sp_free(map);
    if (rc < 0) {
        for (unsigned k = 0; k < running->nsinks; k++) {
            sp_free(sinks[k]);
        }
        sp_free(sinks);
        sp_free(fmts);
        return -1;
    }
    for (unsigned k = 0; k < pl->nsinks; k++) {
        sp_free(pl->sinks[k]);
    }
    sp_free(pl->sinks);
    sp_free(pl->sink_fmt);
    pl->sinks = sinks;
    pl->sink_fmt = fmts;
    pl->nsinks = running->nsinks;
    if (pl->ring_bytes != running->ring_bytes) {
        errlog(ERRLOG_WARN,
               "access_log_buffer: a new size (%u bytes) needs a restart; keeping %u bytes",
               pl->ring_bytes, running->ring_bytes);
        pl->ring_bytes = running->ring_bytes;
    }
    return 0;
}
