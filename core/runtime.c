/* runtime.c - see runtime.h. */
#include "core/runtime.h"

#include "core/base/alloc.h"
#include "log/errlog.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096
#define LISTEN_RCVBUF (256 * 1024)

static int resolve_cpus(struct runtime *rt)
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
    return rt->ncpus ? 0 : -1;
}

static bool same_addr(const struct cfg_listen *a, const struct cfg_listen *b)
{
    return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

/* Groups the servers by listen address. */
static int build_groups(struct runtime *rt, char *err, size_t errlen)
{
    const struct cfg *c = rt->cfg;
    for (unsigned i = 0; i < c->nservers; i++) {
        const struct cfg_server *s = &c->servers[i];
        for (unsigned k = 0; k < s->nlistens; k++) {
            const struct cfg_listen *l = &s->listens[k];
            struct listen_group *g = NULL;
            for (unsigned j = 0; j < rt->ngroups; j++) {
                if (same_addr(&rt->groups[j].addr, l)) {
                    g = &rt->groups[j];
                }
            }
            if (!g) {
                struct listen_group *ng = sp_realloc(rt->groups, (rt->ngroups + 1) * sizeof(*ng));
                if (!ng) {
                    snprintf(err, errlen, "out of memory");
                    return -1;
                }
                rt->groups = ng;
                g = &ng[rt->ngroups++];
                memset(g, 0, sizeof(*g));
                g->addr = *l;
                g->addr.default_server = false;
            }
            const struct cfg_server **ns = sp_realloc(g->servers, (g->nservers + 1) * sizeof(*ns));
            if (!ns) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            g->servers = ns;
            ns[g->nservers++] = s;
            if (l->default_server) {
                if (g->def && g->addr.default_server) {
                    snprintf(err, errlen, "%s:%d: a duplicate default server for %s", s->file,
                             s->line, l->text);
                    return -1;
                }
                g->def = s;
                g->addr.default_server = true;
            } else if (!g->def) {
                g->def = s;
            }
        }
    }
    return 0;
}

static int make_socket(const struct cfg_listen *l, bool reuseport, int *out)
{
    int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (l->addr.ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    /* inherited by accepted sockets: no per-connection setsockopt */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /*
     * A static server receives only request heads (and bodies it discards), so a bounded
     * receive buffer costs nothing, and it bounds what a multishot receive can pull in before
     * a pause for output backpressure takes effect (see conn_io.c: stash).
     */
    int rcvbuf = LISTEN_RCVBUF;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *out = fd;
    return 0;
}

static uint16_t addr_port(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)a)->sin6_port)
                                    : ntohs(((const struct sockaddr_in *)a)->sin_port);
}

static void set_port(struct cfg_listen *l, uint16_t port)
{
    if (l->addr.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)&l->addr)->sin6_port = htons(port);
    } else {
        ((struct sockaddr_in *)&l->addr)->sin_port = htons(port);
    }
    char *colon = strrchr(l->text, ':');
    if (colon) {
        snprintf(colon + 1, sizeof(l->text) - (size_t)(colon + 1 - l->text), "%u", port);
    }
}

static int open_group(struct runtime *rt, struct listen_group *g, char *err, size_t errlen)
{
    g->fds = sp_malloc(rt->nworkers * sizeof(int));
    if (!g->fds) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        g->fds[i] = -1;
    }
    if (addr_port(&g->addr.addr) != 0) {
        /* a plain bind first: a port held by anyone (even with SO_REUSEPORT) is refused */
        int probe;
        int rc = make_socket(&g->addr, false, &probe);
        if (rc < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", g->addr.text, strerror(-rc));
            return -1;
        }
        close(probe);
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        int rc = make_socket(&g->addr, true, &g->fds[i]);
        if (rc < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", g->addr.text, strerror(-rc));
            return -1;
        }
        if (i == 0 && addr_port(&g->addr.addr) == 0) {
            /* port 0: every other worker joins the port the kernel picked */
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            if (getsockname(g->fds[0], (struct sockaddr *)&ss, &len) < 0) {
                snprintf(err, errlen, "getsockname: %s", strerror(errno));
                return -1;
            }
            set_port(&g->addr, addr_port(&ss));
        }
        if (listen(g->fds[i], LISTEN_BACKLOG) < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", g->addr.text, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int runtime_init(struct runtime *rt, const struct cfg *cfg, int nworkers_override, char *err,
                 size_t errlen)
{
    memset(rt, 0, sizeof(*rt));
    rt->cfg = cfg;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    resolve_cpus(rt);
    rt->nworkers = nworkers_override > 0 ? (unsigned)nworkers_override
                   : cfg->workers        ? cfg->workers
                                         : rt->ncpus;
    if (rt->nworkers == 0) {
        rt->nworkers = 1;
    }
    if (build_groups(rt, err, errlen) < 0) {
        return -1;
    }
    for (unsigned i = 0; i < rt->ngroups; i++) {
        if (open_group(rt, &rt->groups[i], err, errlen) < 0) {
            return -1;
        }
    }
    rt->workers = sp_calloc(rt->nworkers, sizeof(struct worker));
    if (!rt->workers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct worker *w = &rt->workers[i];
        w->id = i + 1;
        w->cpu = rt->ncpus ? rt->cpus[i % rt->ncpus] : -1;
        w->cfg = cfg;
        w->rt = rt;
        w->wake_fd = eventfd(0, EFD_CLOEXEC);
        if (w->wake_fd < 0) {
            snprintf(err, errlen, "eventfd: %s", strerror(errno));
            return -1;
        }
        w->nlisten = rt->ngroups;
        w->lfds = sp_calloc(rt->ngroups ? rt->ngroups : 1, sizeof(int));
        w->accept_armed = sp_calloc(rt->ngroups ? rt->ngroups : 1, sizeof(bool));
        if (!w->lfds || !w->accept_armed) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (unsigned g = 0; g < rt->ngroups; g++) {
            w->lfds[g] = rt->groups[g].fds[i];
        }
    }
    return 0;
}

void runtime_worker_ready(struct runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    rt->nstarted++;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

int runtime_start(struct runtime *rt, char *err, size_t errlen)
{
    unsigned created = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct worker *w = &rt->workers[i];
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start worker %u: %s", w->id, strerror(rc));
            break;
        }
        created++;
    }
    pthread_mutex_lock(&rt->mu);
    while (rt->nstarted < created) {
        pthread_cond_wait(&rt->cv, &rt->mu);
    }
    pthread_mutex_unlock(&rt->mu);
    int failed = created < rt->nworkers;
    for (unsigned i = 0; i < created; i++) {
        struct worker *w = &rt->workers[i];
        if (w->init_rc < 0 && !failed) {
            snprintf(err, errlen, "worker %u: %s", w->id, w->init_err);
            failed = 1;
        }
    }
    if (failed) {
        for (unsigned i = 0; i < created; i++) {
            worker_request_stop(&rt->workers[i]);
        }
        for (unsigned i = 0; i < created; i++) {
            pthread_join(rt->workers[i].thread, NULL);
            rt->workers[i].thread = 0;
        }
        return -1;
    }
    return 0;
}

void runtime_stop_async(struct runtime *rt)
{
    for (unsigned i = 0; i < rt->nworkers; i++) {
        if (rt->workers[i].thread) {
            worker_request_stop(&rt->workers[i]);
        }
    }
}

bool runtime_all_exited(struct runtime *rt)
{
    unsigned running = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        running += rt->workers[i].thread != 0;
    }
    return atomic_load(&rt->nexited) >= running;
}

void runtime_stop(struct runtime *rt)
{
    for (unsigned i = 0; i < rt->nworkers; i++) {
        worker_request_stop(&rt->workers[i]);
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        if (rt->workers[i].thread) {
            pthread_join(rt->workers[i].thread, NULL);
            rt->workers[i].thread = 0;
        }
    }
}

void runtime_destroy(struct runtime *rt)
{
    for (unsigned g = 0; g < rt->ngroups; g++) {
        struct listen_group *lg = &rt->groups[g];
        for (unsigned i = 0; lg->fds && i < rt->nworkers; i++) {
            if (lg->fds[i] >= 0) {
                close(lg->fds[i]);
            }
        }
        sp_free(lg->fds);
        sp_free(lg->servers);
    }
    sp_free(rt->groups);
    for (unsigned i = 0; rt->workers && i < rt->nworkers; i++) {
        struct worker *w = &rt->workers[i];
        if (w->wake_fd > 0) {
            close(w->wake_fd);
        }
        sp_free(w->lfds);
        sp_free(w->accept_armed);
    }
    sp_free(rt->workers);
    pthread_mutex_destroy(&rt->mu);
    pthread_cond_destroy(&rt->cv);
    memset(rt, 0, sizeof(*rt));
}

static bool name_matches(const char *name, struct slice host)
{
    size_t n = strlen(name);
    if (name[0] == '*' && name[1] == '.') {
        /* *.example.com: any subdomain, not the bare domain */
        return host.len > n - 1 && slice_eq_nocase(slice_make(host.ptr + host.len - (n - 1), n - 1),
                                                   slice_make(name + 1, n - 1));
    }
    if (name[0] == '.') {
        /* .example.com: the domain and every subdomain */
        if (slice_eq_nocase(host, slice_make(name + 1, n - 1))) {
            return true;
        }
        return host.len > n &&
               slice_eq_nocase(slice_make(host.ptr + host.len - n, n), slice_make(name, n));
    }
    return slice_eq_nocase(host, slice_make(name, n));
}

const struct cfg_server *runtime_pick_server(const struct listen_group *g, struct slice host)
{
    if (g->nservers == 1 || host.len == 0) {
        return g->def;
    }
    /* strip the port ("[::1]:80", "example.com:80") and a trailing dot */
    if (host.ptr[0] == '[') {
        const char *rb = memchr(host.ptr, ']', host.len);
        if (rb) {
            host.len = (size_t)(rb - host.ptr) + 1;
        }
    } else {
        const char *colon = memchr(host.ptr, ':', host.len);
        if (colon) {
            host.len = (size_t)(colon - host.ptr);
        }
    }
    if (host.len && host.ptr[host.len - 1] == '.') {
        host.len--;
    }
    for (unsigned i = 0; i < g->nservers; i++) {
        const struct cfg_server *s = g->servers[i];
        for (unsigned k = 0; k < s->nnames; k++) {
            if (s->names[k][0] != '*' && s->names[k][0] != '.' && name_matches(s->names[k], host)) {
                return s;
            }
        }
    }
    for (unsigned i = 0; i < g->nservers; i++) {
        const struct cfg_server *s = g->servers[i];
        for (unsigned k = 0; k < s->nnames; k++) {
            if ((s->names[k][0] == '*' || s->names[k][0] == '.') &&
                name_matches(s->names[k], host)) {
                return s;
            }
        }
    }
    return g->def;
}
