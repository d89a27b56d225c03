/* reload.c - see reload.h. */
#include "core/app/reload.h"

#include "core/app/pidfile.h"
#include "core/app/settings.h"
#include "core/base/alloc.h"
#include "core/http/accesslog.h"
#include "core/http/registry.h"
#include "core/http/route.h"
#include "log/errlog.h"

#include <stdio.h>
#include <string.h>

/* Main-context settings a running process cannot take up: said once, the running value kept. */
static void restart_only(const struct runtime *rt, const struct conf *c)
{
    const struct process_settings *next = process_settings(c);
    unsigned want = next->workers ? next->workers : rt->ncpus ? rt->ncpus : 1;
    if (want != rt->nworkers) {
        errlog(ERRLOG_WARN, "workers %u: a new number of workers needs a restart; keeping %u",
               want, rt->nworkers);
    }
    if (strcmp(next->error_log, rt->error_log) != 0 || next->error_level != rt->error_level) {
        errlog(ERRLOG_WARN,
               "error_log %s %s: a new error log needs a restart (SIGUSR1 reopens the running "
               "one); keeping %s %s",
               next->error_log, errlog_level_name((int)next->error_level), rt->error_log,
               errlog_level_name((int)rt->error_level));
    }
}

/* The pid file moves with the configuration: the new one written, the old one removed. */
static void move_pidfile(const struct conf *was, const struct conf *c)
{
    const char *old = pidfile_path(was), *now = pidfile_path(c);
    if ((!old && !now) || (old && now && strcmp(old, now) == 0)) {
        return;
    }
    char err[CONF_ERR_MAX];
    if (now && pidfile_write(now, err, sizeof(err)) < 0) {
        errlog(ERRLOG_ERROR, "reload: %s", err);
    }
    pidfile_remove(old);
}

static unsigned count_new(const struct runtime_gen *g, const struct runtime_gen *prev,
                          bool log_them)
{
    unsigned n = 0;
    for (unsigned i = 0; i < g->wg.nlisten; i++) {
        bool kept = false;
        for (unsigned j = 0; j < prev->wg.nlisten; j++) {
            kept |= g->listens[i] == prev->listens[j];
        }
        if (!kept) {
            n++;
            if (log_them) {
                errlog(ERRLOG_NOTICE, "reload: listening on %s://%s",
                       route_table(g->wg.conf)->groups[i].ssl ? "https" : "http",
                       g->listens[i]->addr.text);
            }
        }
    }
    return n;
}

int reload_run(struct runtime *rt, reload_build_fn build, void *arg)
{
    char err[CONF_ERR_MAX];
    struct conf *c = sp_calloc(1, sizeof(*c));
    if (!c) {
        errlog(ERRLOG_ERROR, "reload failed: out of memory; the running configuration stays");
        return -1;
    }
    struct runtime_gen *g = NULL;
    if (build(c, arg, err, sizeof(err)) < 0) {
        goto fail;
    }
    for (unsigned i = 0; i < c->nnotices; i++) {
        errlog(ERRLOG_NOTICE, "%s", c->notices[i]); /* nginx directives without effect */
    }
    if (alog_plan_adopt(c, alog_plan(rt->conf), err, sizeof(err)) < 0) {
        goto fail;
    }
    g = runtime_gen_new(rt, c, true, rt->gen, err, sizeof(err));
    if (!g) {
        goto fail;
    }
    restart_only(rt, c);
    move_pidfile(rt->conf, c);
    const struct runtime_gen *prev = rt->gen;
    unsigned added = count_new(g, prev, true), removed = count_new(prev, g, false);
    runtime_publish(rt, g);
    errlog(ERRLOG_NOTICE,
           "reloaded %s: configuration %llu in force (%u address(es) added, %u removed)", c->source,
           (unsigned long long)g->wg.seq, added, removed);
    return 0;
fail:
    atomic_fetch_add(&process_registry.reload_failed, 1);
    errlog(ERRLOG_ERROR, "reload failed, the running configuration stays: %s", err);
    conf_free(c);
    sp_free(c);
    return -1;
}
