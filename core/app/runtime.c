/* runtime.c - see runtime.h. */
#include "core/app/runtime.h"

#include "core/app/settings.h"
#include "core/base/alloc.h"
#include "core/http/registry.h"
#include "core/http/route.h"
#include "core/net/inherit.h"
#include "core/net/listener.h"
#include "log/errlog.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void resolve_cpus(struct runtime *rt)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    rt->ncpus = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int i = 0; i < CPU_SETSIZE && rt->ncpus < ARRAY_SIZE(rt->cpus); i++) {
            if (CPU_ISSET(i, &set)) {
                rt->cpus[rt->ncpus++] = i;
            }
        }
    }
    if (rt->ncpus == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (long i = 0; i < n && rt->ncpus < ARRAY_SIZE(rt->cpus); i++) {
            rt->cpus[rt->ncpus++] = (int)i;
        }
    }
}

unsigned runtime_cpu_count(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof(set), &set) == 0 ? (unsigned)CPU_COUNT(&set) : 1;
}

/* ---------------------------------------------------------------- generations */

#define OPTS_CHANGED                                                                               \
    "listen %s: new socket options need a restart (or a reload without the address, then one "     \
    "with it); the running sockets keep theirs"

static struct runtime_listen *find_listen(const struct runtime_gen *g, const struct net_addr *a)
{
    for (unsigned i = 0; g && i < g->wg.nlisten; i++) {
        if (net_addr_equal(&g->listens[i]->conf_addr, a)) {
            return g->listens[i];
        }
    }
    return NULL;
}

static void listen_unref(struct runtime_listen *l)
{
    if (!l || --l->refs > 0) {
        return;
    }
    for (unsigned i = 0; l->wl.fds && i < l->nfds; i++) {
        if (l->wl.fds[i] >= 0) {
            close(l->wl.fds[i]);
        }
    }
    sp_free(l->wl.fds);
    sp_free(l);
}

/* A new address's sockets, one per worker. NULL with a sentence in err. */
static struct runtime_listen *listen_new(const struct runtime *rt, const struct route_group *rg,
                                         char *err, size_t errlen)
{
    /* a binary upgrade from more workers: every socket the old process had (worker.h) */
    unsigned inherited = inherit_count(&rg->addr), n = MAX(rt->nworkers, inherited);
    struct runtime_listen *l = sp_calloc(1, sizeof(*l));
    if (!l || !(l->wl.fds = sp_malloc(n * sizeof(int)))) {
        sp_free(l);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->conf_addr = l->addr = rg->addr;
    l->opts = rg->opts;
    l->nfds = l->wl.nfds = n;
    l->wl.nworkers = rt->nworkers;
    l->refs = 1;
    char msg[CONF_ERR_MAX];
    if (n > rt->nworkers) {
        errlog(ERRLOG_NOTICE,
               "listen %s: %u sockets from the old process for %u workers: some workers accept "
               "on more than one (a restart evens them out)",
               rg->addr.text, n, rt->nworkers);
    }
    if (listen_open(&l->addr, &l->opts, n, l->wl.fds, msg, sizeof(msg)) < 0) {
        if (rg->opts_at.file) {
            conf_fail_at(err, errlen, rg->opts_at, "%s", msg);
        } else {
            snprintf(err, errlen, "%s", msg);
        }
        listen_unref(l);
        return NULL;
    }
    return l;
}

struct runtime_gen *runtime_gen_new(struct runtime *rt, struct conf *c, bool own_conf,
                                    const struct runtime_gen *prev, char *err, size_t errlen)
{
    const struct route_table *t = route_table(c);
    struct runtime_gen *g = sp_calloc(1, sizeof(*g));
    const struct worker_listen **wls = sp_calloc(t->ngroups ? t->ngroups : 1, sizeof(*wls));
    if (!g || !wls || !(g->listens = sp_calloc(t->ngroups ? t->ngroups : 1, sizeof(*g->listens)))) {
        sp_free(g);
        sp_free(wls);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->conf = c;
    g->own_conf = own_conf;
    g->wg.conf = c;
    g->wg.listen = wls;
    for (unsigned i = 0; i < t->ngroups; i++) {
        const struct route_group *rg = &t->groups[i];
        struct runtime_listen *l = find_listen(prev, &rg->addr);
        if (l) {
            l->refs++;
            if (memcmp(&l->opts, &rg->opts, sizeof(l->opts)) != 0) {
                char msg[CONF_ERR_MAX];
                if (rg->opts_at.file) {
                    conf_fail_at(msg, sizeof(msg), rg->opts_at, OPTS_CHANGED, rg->addr.text);
                } else {
                    snprintf(msg, sizeof(msg), OPTS_CHANGED, rg->addr.text);
                }
                errlog(ERRLOG_WARN, "%s", msg);
            }
        } else if (!(l = listen_new(rt, rg, err, errlen))) {
            g->wg.nlisten = i;
            g->conf = NULL; /* the caller's, to free as it sees fit */
            g->own_conf = false;
            runtime_gen_free(rt, g);
            return NULL;
        }
        g->listens[i] = l;
        wls[i] = &l->wl;
    }
    g->wg.nlisten = t->ngroups;
    return g;
}

void runtime_gen_free(struct runtime *rt, struct runtime_gen *g)
{
    (void)rt;
    if (!g) {
        return;
    }
    for (unsigned i = 0; i < g->wg.nlisten; i++) {
        listen_unref(g->listens[i]);
    }
    sp_free(g->listens);
    sp_free((void *)g->wg.listen);
    if (g->conf) {
        conf_free(g->conf); /* a caller's configuration is left empty (conf_free again: no-op) */
    }
    if (g->own_conf) {
        sp_free(g->conf);
    }
    sp_free(g);
}

void runtime_publish(struct runtime *rt, struct runtime_gen *g)
{
    g->wg.seq = ++rt->seq;
    rt->gen->next = rt->retired;
    rt->retired = rt->gen;
    rt->gen = g;
    rt->conf = g->conf;
    atomic_store_explicit(&rt->current, (uintptr_t)&g->wg, memory_order_release);
    atomic_store(&process_registry.gen, g->wg.seq);
    atomic_fetch_add(&process_registry.reloads, 1);
    for (unsigned i = 0; i < rt->ncreated; i++) {
        worker_wake(&rt->workers[i]);
    }
}

unsigned runtime_collect(struct runtime *rt)
{
    uint64_t floor = rt->gen->wg.seq;
    for (unsigned i = 0; i < rt->ncreated; i++) {
        floor = MIN(floor, worker_gen_floor(&rt->workers[i]));
    }
    unsigned left = 0;
    struct runtime_gen **pp = &rt->retired;
    while (*pp) {
        struct runtime_gen *g = *pp;
        if (g->wg.seq < floor) {
            *pp = g->next;
            errlog(ERRLOG_INFO, "configuration %llu freed: no worker uses it any more",
                   (unsigned long long)g->wg.seq);
            runtime_gen_free(rt, g);
        } else {
            pp = &g->next;
            left++;
        }
    }
    return left;
}

/* ---------------------------------------------------------------- startup */

int runtime_init(struct runtime *rt, struct conf *c, char *err, size_t errlen)
{
    memset(rt, 0, sizeof(*rt));
    rt->conf = c;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    resolve_cpus(rt);
    const struct process_settings *ps = process_settings(c);
    rt->nworkers = ps->workers ? ps->workers : rt->ncpus ? rt->ncpus : 1;
    rt->error_level = ps->error_level;
    if (!(rt->error_log = sp_strndup(ps->error_log, strlen(ps->error_log)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (alog_setup_open(&rt->logs, alog_plan(c), err, errlen) < 0) {
        return -1;
    }
    rt->gen = runtime_gen_new(rt, c, false, NULL, err, errlen);
    if (!rt->gen) {
        return -1;
    }
    rt->gen->wg.seq = rt->seq = 1;
    atomic_init(&rt->current, (uintptr_t)&rt->gen->wg);
    rt->workers = sp_calloc(rt->nworkers, sizeof(*rt->workers));
    rt->threads = sp_calloc(rt->nworkers, sizeof(*rt->threads));
    if (!rt->workers || !rt->threads) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        int cpu = rt->ncpus ? rt->cpus[i % rt->ncpus] : -1;
        if (worker_prepare(&rt->workers[i], i + 1, cpu, &rt->gen->wg, &rt->current,
                           &rt->logs.flusher, err, errlen) < 0) {
            return -1;
        }
    }
    registry_publish(rt->workers, rt->nworkers);
    return 0;
}

static void pin(struct worker *w)
{
    if (w->cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
        w->cpu = -1;
    }
}

struct thread_arg {
    struct runtime *rt;
    unsigned i;
};

static void *worker_thread(void *arg)
{
    struct runtime *rt = ((struct thread_arg *)arg)->rt;
    struct worker *w = &rt->workers[((struct thread_arg *)arg)->i];
    sp_free(arg);
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals belong to the main thread */
    char name[16];
    snprintf(name, sizeof(name), "spate-w%u", w->id);
    pthread_setname_np(pthread_self(), name);
    errlog_set_thread_id(w->id);
    pin(w);
    int rc = worker_init(w);
    pthread_mutex_lock(&rt->mu);
    rt->nstarted++;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
    if (rc == 0) {
        worker_run(w);
    }
    worker_fini(w);
    atomic_fetch_add(&rt->nexited, 1);
    return NULL;
}

int runtime_start(struct runtime *rt, char *err, size_t errlen)
{
    struct log_ring **rings = sp_calloc(rt->nworkers, sizeof(*rings));
    if (!rings) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        rings[i] = &rt->workers[i].log.ring;
    }
    rt->rings = rings; /* the flusher reads it until it stops */
    if (alog_setup_start(&rt->logs, rings, rt->nworkers, worker_log_space, rt->workers, err,
                         errlen) < 0) {
        return -1;
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct thread_arg *a = sp_malloc(sizeof(*a));
        if (a) {
            a->rt = rt;
            a->i = i;
        }
        int rc = a ? pthread_create(&rt->threads[i], NULL, worker_thread, a) : ENOMEM;
        if (rc != 0) {
            sp_free(a);
            snprintf(err, errlen, "cannot start worker %u: %s", i + 1, strerror(rc));
            break;
        }
        rt->ncreated++;
    }
    pthread_mutex_lock(&rt->mu);
    while (rt->nstarted < rt->ncreated) {
        pthread_cond_wait(&rt->cv, &rt->mu);
    }
    pthread_mutex_unlock(&rt->mu);
    bool failed = rt->ncreated < rt->nworkers;
    for (unsigned i = 0; i < rt->ncreated && !failed; i++) {
        if (rt->workers[i].init_err[0]) {
            snprintf(err, errlen, "worker %u: %s", i + 1, rt->workers[i].init_err);
            failed = true;
        }
    }
    if (failed) {
        runtime_stop_async(rt);
        for (unsigned i = 0; i < rt->ncreated; i++) {
            pthread_join(rt->threads[i], NULL);
        }
        rt->ncreated = 0;
        return -1;
    }
    return 0;
}

void runtime_stop_async(struct runtime *rt)
{
    for (unsigned i = 0; i < rt->ncreated; i++) {
        worker_request_stop(&rt->workers[i]);
    }
}

bool runtime_all_exited(struct runtime *rt)
{
    return atomic_load(&rt->nexited) >= rt->ncreated;
}

int runtime_stop(struct runtime *rt, unsigned log_timeout_ms, bool (*hurry)(void *arg), void *arg)
{
    for (unsigned i = 0; i < rt->ncreated; i++) {
        pthread_join(rt->threads[i], NULL);
    }
    rt->ncreated = 0;
    /* the workers are gone: write every buffered line, then stop the flusher */
    int rc = alog_setup_stop(&rt->logs, log_timeout_ms, hurry, arg);
    rt->log_abandoned = rc < 0;
    return rc;
}

void runtime_destroy(struct runtime *rt)
{
    if (alog_setup_stop(&rt->logs, 1000, NULL, NULL) < 0) { /* a failed start, or stopped */
        rt->log_abandoned = true;
    }
    if (rt->log_abandoned) {
        return; /* the flusher may still read the rings: the process exit frees them */
    }
    sp_free(rt->rings);
    while (rt->retired) {
        struct runtime_gen *g = rt->retired;
        rt->retired = g->next;
        runtime_gen_free(rt, g);
    }
    if (rt->gen && !rt->gen->own_conf) {
        rt->gen->conf = NULL; /* the caller's, still in force: the caller frees it */
    }
    runtime_gen_free(rt, rt->gen);
    rt->gen = NULL;
    for (unsigned i = 0; rt->workers && i < rt->nworkers; i++) {
        worker_unprepare(&rt->workers[i]);
    }
    sp_free(rt->workers);
    sp_free(rt->threads);
    sp_free(rt->error_log);
    pthread_mutex_destroy(&rt->mu);
    pthread_cond_destroy(&rt->cv);
    memset(rt, 0, sizeof(*rt));
}

void runtime_reopen_logs(struct runtime *rt)
{
    alog_reopen(&rt->logs);
}

void runtime_worker_stats(const struct runtime *rt, unsigned i, struct worker_stats *out)
{
    worker_stats(&rt->workers[i], out);
}
