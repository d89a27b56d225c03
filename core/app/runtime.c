/* runtime.c - see runtime.h. */
#include "core/app/runtime.h"

#include "core/app/settings.h"
#include "core/base/alloc.h"
#include "core/http/route.h"
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

int runtime_init(struct runtime *rt, const struct conf *c, char *err, size_t errlen)
{
    memset(rt, 0, sizeof(*rt));
    rt->conf = c;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    resolve_cpus(rt);
    unsigned want = process_settings(c)->workers;
    rt->nworkers = want ? want : rt->ncpus ? rt->ncpus : 1;
    if (alog_setup_open(&rt->logs, alog_plan(c), err, errlen) < 0) {
        return -1;
    }
    const struct route_table *t = route_table(c);
    rt->ngroups = t->ngroups;
    rt->groups = sp_calloc(t->ngroups ? t->ngroups : 1, sizeof(*rt->groups));
    rt->workers = sp_calloc(rt->nworkers, sizeof(*rt->workers));
    rt->threads = sp_calloc(rt->nworkers, sizeof(*rt->threads));
    rt->worker_fds = sp_calloc(rt->nworkers, sizeof(*rt->worker_fds));
    if (!rt->groups || !rt->workers || !rt->threads || !rt->worker_fds) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned g = 0; g < t->ngroups; g++) {
        struct runtime_group *rg = &rt->groups[g];
        rg->addr = t->groups[g].addr;
        rg->fds = sp_malloc(rt->nworkers * sizeof(int));
        if (!rg->fds) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (listen_open(&rg->addr, &t->groups[g].opts, rt->nworkers, rg->fds, err, errlen) < 0) {
            return -1;
        }
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        rt->worker_fds[i] = sp_calloc(t->ngroups ? t->ngroups : 1, sizeof(int));
        if (!rt->worker_fds[i]) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (unsigned g = 0; g < t->ngroups; g++) {
            rt->worker_fds[i][g] = rt->groups[g].fds[i];
        }
        int cpu = rt->ncpus ? rt->cpus[i % rt->ncpus] : -1;
        if (worker_prepare(&rt->workers[i], i + 1, cpu, c, rt->worker_fds[i], t->ngroups,
                           &rt->logs.flusher, err, errlen) < 0) {
            return -1;
        }
    }
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
    for (unsigned g = 0; rt->groups && g < rt->ngroups; g++) {
        for (unsigned i = 0; rt->groups[g].fds && i < rt->nworkers; i++) {
            if (rt->groups[g].fds[i] >= 0) {
                close(rt->groups[g].fds[i]);
            }
        }
        sp_free(rt->groups[g].fds);
    }
    sp_free(rt->groups);
    for (unsigned i = 0; rt->workers && i < rt->nworkers; i++) {
        worker_unprepare(&rt->workers[i]);
        sp_free(rt->worker_fds ? rt->worker_fds[i] : NULL);
    }
    sp_free(rt->worker_fds);
    sp_free(rt->workers);
    sp_free(rt->threads);
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
