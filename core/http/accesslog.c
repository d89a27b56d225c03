/* accesslog.c - see accesslog.h. */
#include "core/http/accesslog.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/conf/types.h"
#include "log/errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* ================================================================ the process */

int alog_setup_open(struct alog_setup *s, const struct alog_plan *p, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    const char **paths = sp_calloc(p->nsinks ? p->nsinks : 1, sizeof(char *));
    if (!paths) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < p->nsinks; i++) {
        paths[i] = p->sinks[i];
    }
    const char *bad = NULL;
    int rc = log_flusher_init(&s->flusher, paths, p->nsinks, &bad);
    sp_free(paths);
    if (rc < 0) {
        snprintf(err, errlen, "cannot open access log \"%s\": %s", bad ? bad : "?", strerror(-rc));
        log_flusher_stop(&s->flusher, 0);
        return -1;
    }
    s->ready = true;
    return 0;
}

int alog_setup_start(struct alog_setup *s, struct log_ring **rings, unsigned n, log_space_fn cb,
                     void *arg, char *err, size_t errlen)
{
    int rc = log_flusher_start(&s->flusher, rings, n, cb, arg);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start the log flusher: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

void alog_reopen(struct alog_setup *s)
{
    if (s->ready) {
        log_flusher_reopen(&s->flusher);
    }
}

int alog_setup_stop(struct alog_setup *s, unsigned timeout_ms, bool (*hurry)(void *arg), void *arg)
{
    if (!s->ready) {
        return 0;
    }
    s->ready = false;
    return log_flusher_stop_hurried(&s->flusher, timeout_ms, hurry, arg);
}

/* ================================================================ a worker */

static _Thread_local struct alog_worker *t_alog;

/*
 * Wakes the flusher early once a quarter of the ring is in use (it drains on its own
 * interval otherwise). The cached tail is refreshed only when the cheap check says the
 * threshold may be crossed, and want_flush makes it one wakeup per drain, not one per line.
 */
static void kick_if_filling(struct alog_worker *a)
{
    struct log_ring *r = &a->ring;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (head - r->tail_cache <= r->cap / 4) {
        return;
    }
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - r->tail_cache <= r->cap / 4) {
        return;
    }
    if (!atomic_exchange_explicit(&r->want_flush, 1, memory_order_relaxed)) {
        log_flusher_kick(a->flusher);
    }
}

static void want_space(struct alog_worker *a)
{
    atomic_store(&a->ring.want_space, 1);
    log_flusher_kick(a->flusher);
}

/* Overflow bounds: past the soft one requests wait; the hard one holds what was in flight. */
static uint64_t soft_limit(const struct alog_worker *a)
{
    return a->plan->ring_bytes;
}

/* Room for a line of at most max bytes: the ring, the overflow (behind what waits), or NULL. */
static char *line_begin(struct alog_worker *a, size_t max, struct log_line **ovf)
{
    *ovf = NULL;
    if (!a->ovf_head) {
        char *p = log_ring_reserve(&a->ring, max);
        if (p) {
            return p;
        }
    }
    uint64_t limit = a->dropping ? soft_limit(a) : 2 * soft_limit(a);
    if (a->ovf_bytes + max > limit) {
        return NULL;
    }
    struct log_line *l = sp_malloc(sizeof(*l) + max);
    if (!l) {
        return NULL;
    }
    *ovf = l;
    return l->data;
}

static void line_end(struct alog_worker *a, struct log_line *ovf, size_t len, uint16_t type,
                     uint16_t sink)
{
    if (!ovf) {
        log_ring_commit(&a->ring, len, type, sink);
        a->committed = true;
        kick_if_filling(a);
        return;
    }
    ovf->len = (uint32_t)len;
    ovf->type = type;
    ovf->sink = sink;
    ovf->next = NULL;
    if (a->ovf_tail) {
        a->ovf_tail->next = ovf;
    } else {
        a->ovf_head = ovf;
    }
    a->ovf_tail = ovf;
    a->ovf_bytes += sizeof(*ovf) + len;
    want_space(a);
    if (!a->waiting && !a->dropping && a->ovf_bytes >= soft_limit(a)) {
        /* the writer is behind by a whole ring and more: hold new requests back for a while */
        a->waiting = true;
        a->wait_until = a->loop->now_ms + a->plan->wait_ms;
        ctr_add(&a->ctr->log_stalls, 1);
    }
}

static void dropped(struct alog_worker *a, uint16_t type, uint16_t sink)
{
    if (type != LOG_REC_ACCESS) {
        a->dropped_errors++;
        return;
    }
    bool first = true;
    for (unsigned k = 0; k < a->plan->nsinks; k++) {
        first &= a->dropped[k] == 0;
    }
    if (first) {
        a->drop_since = a->loop->now_s;
    }
    a->dropped[sink]++;
    ctr_add(&a->ctr->log_dropped, 1);
}

/* errlog() on a worker thread lands here: the flusher writes the line, the worker never does. */
static int error_line(const char *line, size_t len)
{
    struct alog_worker *a = t_alog;
    if (!a || !a->flusher) {
        return -1;
    }
    if (len > LOG_REC_MAX) {
        len = LOG_REC_MAX;
    }
    struct log_line *ovf;
    char *p = line_begin(a, len, &ovf);
    if (!p) {
        dropped(a, LOG_REC_ERROR, 0);
        return 0; /* taken: a worker must not fall back to writing (and blocking) itself */
    }
    memcpy(p, line, len);
    line_end(a, ovf, len, LOG_REC_ERROR, 0);
    return 0;
}

static void resume_sessions(struct alog_worker *a)
{
    if (a->resume) {
        a->resume(a->resume_arg);
    }
}

static void iso_time(time_t t, char *buf, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends a line to the overflow whatever its bound (the few summary lines must get out). */
static bool overflow_line(struct alog_worker *a, const char *p, size_t n, uint16_t sink)
{
    struct log_line *l = sp_malloc(sizeof(*l) + n);
    if (!l) {
        return false;
    }
    memcpy(l->data, p, n);
    line_end(a, l, n, LOG_REC_ACCESS, sink);
    return true;
}

/* One line per sink that lost lines in the episode now over (or at exit), then the counts
 * start again. force: past the overflow's bound if need be. */
static void write_summaries(struct alog_worker *a, bool force)
{
    char since[32], until[32];
    iso_time(a->drop_since, since, sizeof(since));
    iso_time(a->loop->now_s, until, sizeof(until));
    for (unsigned k = 0; k < a->plan->nsinks; k++) {
        if (!a->dropped[k]) {
            continue;
        }
        char line[256];
        int n;
        if (a->plan->sink_fmt[k]->escape == LOG_ESC_JSON) {
            n = snprintf(line, sizeof(line),
                         "{\"spate_dropped_lines\":%llu,\"worker\":%u,\"since\":\"%s\","
                         "\"until\":\"%s\"}\n",
                         (unsigned long long)a->dropped[k], a->worker, since, until);
        } else {
            n = snprintf(line, sizeof(line),
                         "# spate: worker %u dropped %llu access log line(s) between %s and %s: "
                         "the log writer was stalled or failing\n",
                         a->worker, (unsigned long long)a->dropped[k], since, until);
        }
        struct log_line *ovf;
        char *p = line_begin(a, (size_t)n, &ovf);
        if (p) {
            memcpy(p, line, (size_t)n);
            line_end(a, ovf, (size_t)n, LOG_REC_ACCESS, (uint16_t)k);
        } else if (!force || !overflow_line(a, line, (size_t)n, (uint16_t)k)) {
            return; /* no room after all: the count stays and goes out with the next summary */
        }
        a->dropped[k] = 0;
    }
    if (a->dropped_errors) {
        errlog(ERRLOG_WARN,
               "%llu error log line(s) of this worker were dropped while the log "
               "writer was stalled or failing",
               (unsigned long long)a->dropped_errors);
        a->dropped_errors = 0;
    }
}

void alog_on_space(struct alog_worker *a)
{
    if (!a->flusher) {
        return;
    }
    while (a->ovf_head) {
        struct log_line *l = a->ovf_head;
        char *p = log_ring_reserve(&a->ring, l->len);
        if (!p) {
            want_space(a); /* still full: ask again */
            break;
        }
        memcpy(p, l->data, l->len);
        log_ring_commit(&a->ring, l->len, l->type, l->sink);
        a->committed = true;
        a->ovf_bytes -= sizeof(*l) + l->len;
        a->ovf_head = l->next;
        sp_free(l);
    }
    if (!a->ovf_head) {
        a->ovf_tail = NULL;
        a->ovf_bytes = 0;
    }
    kick_if_filling(a);
    if (a->waiting && a->ovf_bytes < soft_limit(a)) {
        a->waiting = false;
        errlog(ERRLOG_WARN,
               "access log backpressure: requests waited for the log writer (%llu time(s) so far "
               "on this worker)",
               (unsigned long long)ctr_get(&a->ctr->log_stalls));
        resume_sessions(a);
    }
    if (!a->ovf_head && a->dropping) {
        a->dropping = false; /* caught up: the next episode waits again before dropping */
        write_summaries(a, false);
    }
}

void alog_turn(struct alog_worker *a)
{
    time_t now = a->loop->now_s;
    if (now != a->fmt_sec) {
        a->fmt_sec = now;
        struct tm lt, ut;
        localtime_r(&now, &lt);
        gmtime_r(&now, &ut);
        strftime(a->time_local, sizeof(a->time_local), "%d/%b/%Y:%H:%M:%S %z", &lt);
        char z[8];
        strftime(z, sizeof(z), "%z", &lt); /* +0100 -> +01:00 */
        char base[24];
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &lt);
        snprintf(a->time_iso8601, sizeof(a->time_iso8601), "%s%.3s:%.2s", base, z, z + 3);
        strftime(a->time_utc, sizeof(a->time_utc), "%Y-%m-%dT%H:%M:%S.000Z", &ut);
    }
    if (a->waiting && a->loop->now_ms >= a->wait_until) {
        /* waited access_log_wait for the writer: go on, and count what cannot be kept */
        a->waiting = false;
        a->dropping = true;
        errlog(ERRLOG_ERROR,
               "access log: the log writer did not catch up within %u ms; lines that find no "
               "room are dropped and counted until it does",
               a->plan->wait_ms);
        resume_sessions(a);
    }
    if (a->committed && a->flusher) {
        a->committed = false;
        log_flusher_nudge(a->flusher);
    }
}

uint64_t alog_deadline(const struct alog_worker *a)
{
    return a->waiting ? a->wait_until : UINT64_MAX;
}

int alog_worker_prepare(struct alog_worker *a, const struct alog_plan *p)
{
    memset(a, 0, sizeof(*a));
    a->plan = p;
    a->dropped = sp_calloc(p->nsinks ? p->nsinks : 1, sizeof(uint64_t));
    if (!a->dropped) {
        return -ENOMEM;
    }
    return log_ring_init(&a->ring, p->ring_bytes);
}

void alog_worker_start(struct alog_worker *a, struct log_flusher *f, struct io_loop *loop,
                       struct worker_counters *ctr, unsigned worker, void (*resume)(void *arg),
                       void *arg)
{
    a->flusher = f;
    a->loop = loop;
    a->ctr = ctr;
    a->worker = worker;
    a->resume = resume;
    a->resume_arg = arg;
    t_alog = a;
    if (f) {
        errlog_set_thread_sink(error_line);
    }
    alog_turn(a);
}

void alog_worker_stop(struct alog_worker *a)
{
    if (a->flusher) {
        write_summaries(a, true); /* an episode still going on: its count must not be lost */
    }
    errlog_set_thread_sink(NULL);
    if (a->flusher) {
        log_flusher_hand_over(a->flusher, a->ovf_head);
    } else {
        while (a->ovf_head) {
            struct log_line *l = a->ovf_head;
            a->ovf_head = l->next;
            sp_free(l);
        }
    }
    a->ovf_head = a->ovf_tail = NULL;
    a->ovf_bytes = 0;
    t_alog = NULL;
}

void alog_worker_free(struct alog_worker *a)
{
    log_ring_destroy(&a->ring);
    sp_free(a->dropped);
    a->dropped = NULL;
}

/* ---------------------------------------------------------------- lines */

size_t alog_capture_need(const struct alog_worker *a, unsigned server,
                         const struct log_req_info *ri)
{
    return log_capture_bound(a->plan->servers[server].fmt, ri);
}

size_t alog_capture(const struct alog_worker *a, unsigned server, const struct log_req_info *ri,
                    char *dst, size_t cap)
{
    return log_render_request(a->plan->servers[server].fmt, ri, dst, cap);
}

void alog_done(struct alog_worker *a, unsigned server, const char *capture, size_t caplen,
               uint64_t sent, uint64_t head_len, uint64_t t_start_us)
{
    const struct alog_server *as = &a->plan->servers[server];
    size_t max = MIN(log_done_bound(capture, caplen), (size_t)LOG_REC_MAX);
    const struct io_loop *l = a->loop;
    struct log_done_info di;
    di.bytes_sent = sent;
    di.body_bytes_sent = sent > head_len ? sent - head_len : 0;
    di.duration_us = l->now_us > t_start_us ? l->now_us - t_start_us : 0;
    char utc[32];
    memcpy(utc, a->time_utc, sizeof(utc));
    unsigned ms = (unsigned)(l->epoch_ms % 1000);
    utc[20] = (char)('0' + ms / 100);
    utc[21] = (char)('0' + ms / 10 % 10);
    utc[22] = (char)('0' + ms % 10);
    di.time_local = a->time_local;
    di.time_iso8601 = a->time_iso8601;
    di.time_utc = utc;
    di.epoch_ms = l->epoch_ms;
    struct log_line *ovf;
    char *p = line_begin(a, max, &ovf);
    if (!p) {
        dropped(a, LOG_REC_ACCESS, (uint16_t)as->sink);
        return;
    }
    size_t n = log_render_done(capture, caplen, &di, p, max);
    ctr_add(&a->ctr->log_lines, 1);
    line_end(a, ovf, n, LOG_REC_ACCESS, (uint16_t)as->sink);
}
