/*
 * main.c - the command line, the configuration, startup checks, signals.
 *
 * The main thread owns every signal: the other threads block them all.
 *   SIGINT, SIGTERM, SIGQUIT  drain and exit within drain_timeout plus a second, log or no
 *                             log; a second one closes the connections at once
 *   SIGUSR1                   reopen the logs
 *   SIGHUP                    reload the configuration (app/reload.c)
 *   SIGWINCH                  drain: health checks fail (health;) for drain_delay, then as
 *                             SIGQUIT: stop accepting, finish the connections, exit
 *   SIGUSR2                   binary upgrade (app/upgrade.c): the new binary takes the
 *                             listening sockets; once it serves, this process drains and exits
 * While running, the main thread also reports lost access-log lines once a second at most,
 * and frees configurations a reload retired once no worker uses them.
 * `spate -s reload|reopen|stop|quit|drain|upgrade -c FILE` signals the pid in FILE's pid file.
 */
#include "core/app/modules.h"
#include "core/app/notify.h"
#include "core/app/pidfile.h"
#include "core/app/privilege.h"
#include "core/app/reload.h"
#include "core/app/runtime.h"
#include "core/app/sandbox.h"
#include "core/app/settings.h"
#include "core/app/upgrade.h"
#include "core/base/alloc.h"
#include "core/base/hash.h"
#include "core/conf/conf.h"
#include "core/conf/print.h"
#include "core/http/registry.h"
#include "core/http/route.h"
#include "core/http/settings.h"
#include "core/io/loop.h"
#include "core/net/inherit.h"
#include "core/net/tls_ktls.h"
#include "log/errlog.h"
#include "proto/hdr_table.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: spate [options]\n"
                 "\n"
                 "  -c, --config FILE     read the configuration file FILE (nginx-style syntax)\n"
                 "  -t, --test            check the configuration (as a start would) and exit\n"
                 "  -s SIGNAL             send reload, reopen, stop, quit, drain or upgrade\n"
                 "                        to the running spate\n"
                 "                        whose pid file the configuration (-c) names\n"
                 "      --print-config    print the effective configuration and exit\n"
                 "  -r, --root DIR        serve files from DIR (overrides every server's root)\n"
                 "  -l, --listen ADDR     listen on ADDR (host:port, [v6]:port, *:port or port);\n"
                 "                        repeatable; port 0 picks a free port, printed at start\n"
                 "  -w, --workers N       worker threads (default: one per available CPU)\n"
                 "      --access-log PATH access log for every server (\"off\" to disable)\n"
                 "      --error-log PATH  error log (default: standard error)\n"
                 "      --stats-on-exit   print every worker's counters to stderr at exit\n"
                 "  -h, --help            show this help\n"
                 "  -v, --version         show the version\n"
                 "\n"
                 "Without -c, spate serves --root on 127.0.0.1:8080 (or --listen).\n"
                 "See docs/config.md for the configuration file.\n");
}

static void version(void)
{
    printf("spate %s (%s, io_uring via liburing)\n", SPATE_VERSION, sp_alloc_name());
}

static int fatal(const char *msg)
{
    fprintf(stderr, "spate: %s\n", msg);
    return 1;
}

enum { OPT_PRINT_CONFIG = 256, OPT_ACCESS_LOG, OPT_ERROR_LOG, OPT_STATS };

struct options {
    const char *config;
    const char *signal;
    bool test, print, stats;
    const char *root;
    const char *listen[8];
    unsigned nlisten;
    const char *workers;
    const char *access_log;
    const char *error_log;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- the configuration */

/* A flag's path is relative to where spate was started, not to the configuration file. */
static char *absolute(const char *path)
{
    char cwd[PATH_MAX];
    if (path[0] == '/' || !strcmp(path, "stderr") || !strcmp(path, "stdout") ||
        !strcmp(path, "off") || !getcwd(cwd, sizeof(cwd))) {
        return sp_strndup(path, strlen(path));
    }
    size_t cl = strlen(cwd), pl = strlen(path);
    char *r = sp_malloc(cl + 1 + pl + 1);
    if (r) {
        memcpy(r, cwd, cl);
        r[cl] = '/';
        memcpy(r + cl + 1, path, pl + 1);
    }
    return r;
}

static int set_path(struct conf *c, struct conf_block *b, const char *flag, const char *name,
                    const char *path, char *err, size_t errlen)
{
    char *abs = absolute(path);
    if (!abs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *args[] = {abs};
    int rc = conf_set(c, b, flag, name, args, 1, err, errlen);
    sp_free(abs);
    return rc;
}

static int build_conf(struct conf *c, const struct options *o, char *err, size_t errlen)
{
    if (conf_init(c, spate_modules, spate_nmodules) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (o->config && conf_load_file(c, o->config, err, errlen) < 0) {
        return -1;
    }
    if (!c->source) {
        c->source = sp_strndup("(command line)", 14);
    }
    if (!c->main->children && !conf_add_server(c)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (struct conf_block *s = c->main->children; s; s = s->next) {
        if (o->root && set_path(c, s, "--root", "root", o->root, err, errlen) < 0) {
            return -1;
        }
        if (o->access_log &&
            set_path(c, s, "--access-log", "access_log", o->access_log, err, errlen) < 0) {
            return -1;
        }
    }
    for (unsigned i = 0; i < o->nlisten; i++) {
        /* --listen replaces the first server's addresses */
        const char *args[] = {o->listen[i]};
        if (conf_set(c, c->main->children, "--listen", "listen", args, 1, err, errlen) < 0) {
            return -1;
        }
    }
    if (o->workers) {
        const char *args[] = {o->workers};
        if (conf_set(c, c->main, "--workers", "workers", args, 1, err, errlen) < 0) {
            return -1;
        }
    }
    if (o->access_log &&
        set_path(c, c->main, "--access-log", "access_log", o->access_log, err, errlen) < 0) {
        return -1;
    }
    if (o->error_log &&
        set_path(c, c->main, "--error-log", "error_log", o->error_log, err, errlen) < 0) {
        return -1;
    }
    return conf_finish(c, err, errlen);
}

/*
 * Raises the soft RLIMIT_NOFILE to the hard one, then keeps the file caches' open fds to a
 * quarter of it and connections within the rest, so the cache can never be the reason the
 * process runs out of descriptors.
 */
static void fit_fd_limit(struct http_settings *s, unsigned workers)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (workers == 0) {
        workers = runtime_cpu_count();
    }
    uint64_t limit = rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : (uint64_t)rl.rlim_cur;
    uint64_t cache_fds = limit / 4 / workers;
    if (s->file_cache.max_fds > cache_fds) {
        errlog(ERRLOG_INFO,
               "open_file_cache_fds lowered to %llu per worker (RLIMIT_NOFILE %llu, %u workers)",
               (unsigned long long)cache_fds, (unsigned long long)limit, workers);
        s->file_cache.max_fds = (uint32_t)cache_fds;
    }
    uint64_t reserve = (uint64_t)s->file_cache.max_fds * workers + 64;
    if (limit <= 2 * reserve) {
        return; /* a tiny limit: accept()'s EMFILE handling copes */
    }
    uint64_t conns = (limit - reserve) / workers;
    if (s->max_connections > conns) {
        errlog(ERRLOG_INFO,
               "max_connections lowered to %llu per worker (RLIMIT_NOFILE %llu, %u workers)",
               (unsigned long long)conns, (unsigned long long)limit, workers);
        s->max_connections = (uint32_t)conns;
    }
}

/* Where TLS is served, whether the kernel can take the keys (probed once; net/tls_ktls.c). */
static void log_ktls(const struct conf *c)
{
    const struct route_table *rt = route_table(c);
    for (unsigned i = 0; rt && i < rt->ngroups; i++) {
        if (rt->groups[i].ssl) {
            char why[200];
            tls_ktls_probe(why, sizeof(why));
            errlog(ERRLOG_NOTICE, "kernel TLS: %s", why);
            return;
        }
    }
}

/* ---------------------------------------------------------------- counters */

static void add_stats(struct worker_stats *t, const struct worker_stats *s)
{
    uint64_t *a = &t->requests;
    const uint64_t *b = &s->requests;
    size_t n = (sizeof(*t) - offsetof(struct worker_stats, requests)) / sizeof(uint64_t);
    for (size_t i = 0; i < n; i++) {
        a[i] += b[i];
    }
}

static void print_stats(const char *who, const struct worker_stats *s)
{
    fprintf(stderr,
            "spate: stats worker=%s requests=%llu responses_1xx=%llu responses_2xx=%llu "
            "responses_3xx=%llu responses_4xx=%llu responses_5xx=%llu bytes_in=%llu "
            "bytes_out=%llu conns_open=%llu accepted=%llu refused=%llu denied=%llu closed=%llu "
            "accept_errors=%llu timeouts=%llu fcache_hits=%llu fcache_misses=%llu "
            "fcache_evictions=%llu fcache_entries=%llu fcache_bytes=%llu log_lines=%llu "
            "log_stalls=%llu log_dropped=%llu enobufs=%llu cold_reads=%llu fcache_rechecks=%llu "
            "fcache_rejected=%llu tls_handshakes=%llu tls_failed=%llu tls_resumed=%llu tls_ktls=%llu "
            "tls_user=%llu tls_sealed=%llu\n",
            who, (unsigned long long)s->requests, (unsigned long long)s->responses[1],
            (unsigned long long)s->responses[2], (unsigned long long)s->responses[3],
            (unsigned long long)s->responses[4], (unsigned long long)s->responses[5],
            (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
            (unsigned long long)s->conns_open, (unsigned long long)s->accepted,
            (unsigned long long)s->refused, (unsigned long long)s->denied,
            (unsigned long long)s->closed,
            (unsigned long long)s->accept_errors, (unsigned long long)s->timeouts,
            (unsigned long long)s->fcache_hits, (unsigned long long)s->fcache_misses,
            (unsigned long long)s->fcache_evictions, (unsigned long long)s->fcache_entries,
            (unsigned long long)s->fcache_bytes, (unsigned long long)s->log_lines,
            (unsigned long long)s->log_stalls, (unsigned long long)s->log_dropped,
            (unsigned long long)s->enobufs, (unsigned long long)s->cold_reads,
            (unsigned long long)s->fcache_rechecks, (unsigned long long)s->fcache_rejected,
            (unsigned long long)s->tls_handshakes, (unsigned long long)s->tls_failed,
            (unsigned long long)s->tls_resumed, (unsigned long long)s->tls_ktls,
            (unsigned long long)s->tls_user, (unsigned long long)s->tls_sealed);
}

static void dump_stats(const struct runtime *rt)
{
    struct worker_stats total;
    memset(&total, 0, sizeof(total));
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct worker_stats s;
        runtime_worker_stats(rt, i, &s);
        char who[16];
        snprintf(who, sizeof(who), "%u", s.worker);
        print_stats(who, &s);
        add_stats(&total, &s);
    }
    print_stats("total", &total);
}

/* Lines the workers had to drop since the last call, reported once (at most every second). */
static void report_drops(const struct runtime *rt, uint64_t *reported, uint64_t *last_ms)
{
    uint64_t now = now_ms();
    if (now - *last_ms < 1000) {
        return;
    }
    *last_ms = now;
    uint64_t total = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct worker_stats s;
        runtime_worker_stats(rt, i, &s);
        total += s.log_dropped;
    }
    if (total > *reported) {
        errlog(ERRLOG_ERROR,
               "access log: %llu line(s) dropped since the last report (%llu in all): the log "
               "writer is stalled or its file fails; see the summary lines in the access log",
               (unsigned long long)(total - *reported), (unsigned long long)total);
        *reported = total;
    }
}

/* ---------------------------------------------------------------- running */

/* What a reload builds with: the command line's options, over the process's worker count. */
struct rebuild_arg {
    const struct options *o;
    unsigned workers;
};

static int rebuild(struct conf *c, void *arg, char *err, size_t errlen)
{
    const struct rebuild_arg *ra = arg;
    if (build_conf(c, ra->o, err, errlen) < 0) {
        const char *user = privilege_user();
        bool boxed = sandbox_landlocked();
        if ((user || boxed) && strstr(err, strerror(EACCES))) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n,
                     " (since it started, spate %s%s%s%s: a path it cannot reach now needs a "
                     "restart)",
                     user ? "runs as user " : "", user ? user : "", user && boxed ? " and " : "",
                     boxed ? "reads and writes only the paths of the configuration it started "
                             "with (\"sandbox off;\" lifts that)"
                           : "");
        }
        return -1;
    }
    if (sandbox_check_reach(err, errlen) < 0) {
        return -1;
    }
    fit_fd_limit((struct http_settings *)http_settings(c), ra->workers);
    return 0;
}

static bool handed_over; /* an upgrade's new process serves: it is the service now */

/* SIGUSR2: start the new binary on our sockets; serve() waits for its answer. */
static void begin_upgrade(struct runtime *rt)
{
    char err[CONF_ERR_MAX];
    if (upgrade_begin(rt, pidfile_path(rt->conf), err, sizeof(err)) < 0) {
        errlog(ERRLOG_ERROR, "SIGUSR2: no upgrade: %s; spate goes on serving", err);
        return;
    }
    errlog(ERRLOG_NOTICE, "SIGUSR2: upgrading: starting the new binary on the listening sockets");
}

/* Serves until a signal to stop, a drain's delay is over, or a new binary took over. */
static int serve(struct runtime *rt, const sigset_t *sigs, const struct options *o)
{
    uint64_t reported = 0, last = 0, drain_at = 0;
    unsigned retired = 0;
    struct rebuild_arg ra = {o, rt->nworkers};
    for (;;) {
        /* while a retired configuration waits for the workers or an upgrade for its answer,
         * look again soon; a drain's delay ends on time */
        bool soon = retired || upgrade_pending();
        struct timespec wait = {soon ? 0 : 1, soon ? 50 * 1000 * 1000 : 0};
        if (drain_at) {
            uint64_t now = now_ms(), left = drain_at > now ? drain_at - now : 0;
            if (left < (uint64_t)wait.tv_sec * 1000 + (uint64_t)wait.tv_nsec / 1000000) {
                wait = (struct timespec){(time_t)(left / 1000), (long)(left % 1000) * 1000000};
            }
        }
        int sig = sigtimedwait(sigs, NULL, &wait);
        report_drops(rt, &reported, &last);
        if (rt->retired) {
            retired = runtime_collect(rt);
        }
        if (upgrade_pending()) {
            char err[CONF_ERR_MAX];
            pid_t pid = upgrade_poll(err, sizeof(err));
            if (pid > 0) {
                errlog(ERRLOG_NOTICE, "upgrade: the new binary serves as pid %ld; this process "
                                      "stops accepting, finishes its connections and exits",
                       (long)pid);
                handed_over = true;
                return SIGQUIT;
            }
            if (pid < 0) {
                errlog(ERRLOG_ERROR, "upgrade failed: %s; spate goes on serving", err);
            }
        }
        if (drain_at && now_ms() >= drain_at) {
            atomic_store(&process_registry.draining, REGISTRY_DRAIN_CLOSING);
            errlog(ERRLOG_NOTICE, "drain: the delay is over; closing the listeners");
            return SIGQUIT;
        }
        if (sig < 0) {
            continue;
        }
        switch (sig) {
        case SIGUSR1: {
            runtime_reopen_logs(rt);
            int r = errlog_reopen();
            errlog(r < 0 ? ERRLOG_ERROR : ERRLOG_NOTICE, "reopening logs%s%s", r < 0 ? ": " : "",
                   r < 0 ? strerror(-r) : "");
            break;
        }
        case SIGHUP:
            errlog(ERRLOG_NOTICE, "SIGHUP: reloading the configuration");
            notify_reloading();
            notify_reloaded(reload_run(rt, rebuild, &ra) == 0);
            retired = rt->retired != NULL;
            break;
        case SIGUSR2:
            begin_upgrade(rt);
            break;
        case SIGWINCH:
            if (!drain_at) {
                unsigned delay = http_settings(rt->conf)->drain_delay_ms;
                atomic_store(&process_registry.draining, REGISTRY_DRAIN_HEALTH);
                drain_at = now_ms() + delay;
                errlog(ERRLOG_NOTICE, "SIGWINCH: draining: health checks fail for %u ms while "
                                      "spate serves, then it stops accepting and exits", delay);
            }
            break;
        default:
            return sig;
        }
    }
}

/* -s NAME: the signal to the pid the configuration's pid file holds. */
static int send_signal(const struct options *o)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"reload", SIGHUP}, {"reopen", SIGUSR1}, {"stop", SIGTERM}, {"quit", SIGQUIT},
                 {"drain", SIGWINCH}, {"upgrade", SIGUSR2}};
    char err[CONF_ERR_MAX];
    int sig = 0;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (strcmp(names[i].name, o->signal) == 0) {
            sig = names[i].sig;
        }
    }
    if (!sig) {
        snprintf(err, sizeof(err), "-s takes reload, reopen, stop, quit, drain or upgrade, not \"%s\"", o->signal);
        return fatal(err);
    }
    if (!o->config) {
        return fatal("-s needs -c FILE: the configuration's pid directive names the pid file");
    }
    /* parsed, not finished: the running server checks the file itself when it reloads */
    struct conf c = {0};
    int rc = conf_init(&c, spate_modules, spate_nmodules) < 0 ? -1 : 0;
    if (rc < 0) {
        snprintf(err, sizeof(err), "out of memory");
    } else if ((rc = conf_load_file(&c, o->config, err, sizeof(err))) == 0) {
        const char *pid = pidfile_path(&c);
        if (!pid) {
            snprintf(err, sizeof(err), "%s names no pid file (add: pid /run/spate.pid;)",
                     o->config);
            rc = -1;
        } else {
            rc = pidfile_signal(pid, sig, err, sizeof(err));
        }
    }
    conf_free(&c);
    return rc < 0 ? fatal(err) : 0;
}

/* While the log writer finishes: a second signal means stop waiting for it. */
static bool second_signal(void *arg)
{
    const sigset_t *sigs = arg;
    struct timespec zero = {0, 0};
    int sig = sigtimedwait(sigs, NULL, &zero);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGQUIT) {
        errlog(ERRLOG_NOTICE, "second signal: not waiting for the log writer");
        return true;
    }
    return false;
}

/* Drains within drain_timeout plus a second; returns the exit status. */
static int shut_down(struct runtime *rt, const sigset_t *sigs, unsigned drain_ms, bool stats)
{
    errlog(ERRLOG_NOTICE, "shutting down: draining connections (up to %u ms)", drain_ms);
    uint64_t t0 = now_ms(), deadline = t0 + drain_ms + 1000, reported = 0, last = t0;
    bool again = false;
    runtime_stop_async(rt);
    while (!runtime_all_exited(rt)) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        int sig = sigtimedwait(sigs, NULL, &ts);
        if (!again && (sig == SIGINT || sig == SIGTERM || sig == SIGQUIT)) {
            errlog(ERRLOG_NOTICE, "second signal: closing connections now");
            runtime_stop_async(rt);
            again = true;
            deadline = MIN(deadline, now_ms() + 800);
        }
        report_drops(rt, &reported, &last);
        if (now_ms() > deadline) {
            /* a worker refuses to finish: exit anyway, the kernel tears everything down */
            errlog(ERRLOG_CRIT, "workers did not stop in time: exiting without them");
            _exit(1);
        }
    }
    uint64_t now = now_ms();
    unsigned left = deadline > now + 50 ? (unsigned)(deadline - now - 50) : 50;
    int rc = again ? runtime_stop(rt, MIN(left, 200u), NULL, NULL)
                   : runtime_stop(rt, left, second_signal, (void *)sigs);
    last = 0;
    report_drops(rt, &reported, &last);
    if (stats) {
        dump_stats(rt);
    }
    if (rc < 0) {
        /* the log writer is stuck (a stalled sink, a stopped thread): what it holds is lost,
         * and said so; exiting now keeps the promise of a bounded shutdown */
        errlog(ERRLOG_CRIT, "exited with access-log lines unwritten (see above)");
        _exit(0);
    }
    return 0;
}

/* Sockets an upgrade handed over that no address took are closed; then the launcher a later
 * upgrade needs is forked (before privileges drop). Never fails the start: without a launcher
 * spate serves, and says that SIGUSR2 will not work. */
static bool start_launcher(char **argv, unsigned inherited)
{
    if (inherited) {
        unsigned left = inherit_close_rest();
        errlog(ERRLOG_NOTICE, "upgrade: took %u listening socket(s) from the old process%s",
               inherited - left, left ? "; closed the ones no address uses" : "");
    }
    char err[CONF_ERR_MAX];
    if (upgrade_init(argv, err, sizeof(err)) < 0) {
        errlog(ERRLOG_WARN, "%s: binary upgrade (SIGUSR2) is not available", err);
    }
    return false;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},
        {"test", no_argument, 0, 't'},
        {"root", required_argument, 0, 'r'},
        {"listen", required_argument, 0, 'l'},
        {"workers", required_argument, 0, 'w'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'v'},
        {"print-config", no_argument, 0, OPT_PRINT_CONFIG},
        {"access-log", required_argument, 0, OPT_ACCESS_LOG},
        {"error-log", required_argument, 0, OPT_ERROR_LOG},
        {"stats-on-exit", no_argument, 0, OPT_STATS},
        {0, 0, 0, 0},
    };
    struct options o = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "c:tr:l:w:hvs:", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            o.config = optarg;
            break;
        case 's':
            o.signal = optarg;
            break;
        case 't':
            o.test = true;
            break;
        case 'r':
            o.root = optarg;
            break;
        case 'l':
            if (o.nlisten == ARRAY_SIZE(o.listen)) {
                return fatal("too many --listen options (at most 8)");
            }
            o.listen[o.nlisten++] = optarg;
            break;
        case 'w': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || n < 1 || n > 1024) {
                return fatal("--workers needs a number from 1 to 1024");
            }
            o.workers = optarg;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case 'v':
            version();
            return 0;
        case OPT_PRINT_CONFIG:
            o.print = true;
            break;
        case OPT_ACCESS_LOG:
            o.access_log = optarg;
            break;
        case OPT_ERROR_LOG:
            o.error_log = optarg;
            break;
        case OPT_STATS:
            o.stats = true;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "spate: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (o.signal) {
        return send_signal(&o);
    }
    if (!o.config && !o.root) {
        fprintf(stderr, "spate: nothing to serve: give --root DIR or -c FILE\n");
        usage(stderr);
        return 2;
    }

    signal(SIGPIPE, SIG_IGN); /* sendfile to a closed socket must not kill us */
    hash_init(); /* before the configuration: its name tables are hashed with the seed */
    char err[CONF_ERR_MAX];
    static struct conf conf;
    if (build_conf(&conf, &o, err, sizeof(err)) < 0) {
        conf_free(&conf);
        return fatal(err);
    }
    if (o.test) {
        for (unsigned i = 0; i < conf.nnotices; i++) {
            fprintf(stderr, "spate: [notice] %s\n", conf.notices[i]); /* as nginx -t shows them */
        }
        printf("spate: configuration %s is valid\n", conf.source);
        conf_free(&conf);
        return 0;
    }
    if (o.print) {
        conf_print(&conf, stdout);
        conf_free(&conf);
        return 0;
    }
    const struct process_settings *ps = process_settings(&conf);
    int rc = errlog_open(ps->error_log, (int)ps->error_level);
    if (rc < 0) {
        snprintf(err, sizeof(err), "cannot open error log \"%s\": %s", ps->error_log,
                 strerror(-rc));
        conf_free(&conf);
        return fatal(err);
    }
    for (unsigned i = 0; i < conf.nnotices; i++) {
        errlog(ERRLOG_NOTICE, "%s", conf.notices[i]); /* nginx directives without effect */
    }
    struct http_settings *hs = (struct http_settings *)http_settings(&conf);
    fit_fd_limit(hs, ps->workers);
    hdr_known_init();
    if (io_probe(err, sizeof(err)) < 0) {
        conf_free(&conf);
        return fatal(err);
    }
    log_ktls(&conf);

    sigset_t sigs;
    sigemptyset(&sigs);
    int handled[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH};
    for (size_t i = 0; i < ARRAY_SIZE(handled); i++) {
        sigaddset(&sigs, handled[i]);
    }
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before any thread starts: they inherit it */

    static struct runtime rt;
    const char *pid = pidfile_path(&conf);
    unsigned inherited = inherit_init(); /* started by an upgrade: the old process's sockets */
    if (runtime_init(&rt, &conf, err, sizeof(err)) < 0 ||
        (pid && pidfile_write(pid, err, sizeof(err)) < 0) || start_launcher(argv, inherited) ||
        privilege_drop(&conf, err, sizeof(err)) < 0 || sandbox_apply(&conf, err, sizeof(err)) < 0 ||
        runtime_start(&rt, err, sizeof(err)) < 0) {
        pidfile_remove(pid);
        runtime_destroy(&rt);
        conf_free(&conf);
        return fatal(err);
    }
    const struct runtime_gen *g0 = rt.gen;
    const struct route_table *routes = route_table(&conf);
    for (unsigned g = 0; g < g0->wg.nlisten; g++) {
        printf("spate: listening on %s://%s (%u worker%s)\n",
               routes->groups[g].ssl ? "https" : "http", g0->listens[g]->addr.text,
               rt.nworkers, rt.nworkers == 1 ? "" : "s");
    }
    fflush(stdout);
    errlog(ERRLOG_NOTICE, "spate %s started: %u workers, %u listener(s)", SPATE_VERSION,
           rt.nworkers, g0->wg.nlisten);
    upgrade_ready(); /* if an upgrade started us, the old process may go now */
    notify_ready(rt.nworkers, g0->wg.nlisten, inherited > 0);

    serve(&rt, &sigs, &o);
    if (!handed_over) {
        notify_stopping();
    }
    rc = shut_down(&rt, &sigs, http_settings(rt.conf)->drain_timeout_ms, o.stats);
    pidfile_remove(pidfile_path(rt.conf)); /* a reload may have moved it */
    runtime_destroy(&rt);
    conf_free(&conf);
    errlog(ERRLOG_NOTICE, "exited");
    errlog_close();
    return rc;
}
