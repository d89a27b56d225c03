/*
 * main.c - command line, configuration, startup checks, signals.
 *
 * The main thread owns every signal: workers block them all. SIGINT and
 * SIGTERM drain and stop (a second one cuts the drain short), SIGUSR1
 * reopens the logs.
 */
#include "core/accesslog.h"
#include "core/base/alloc.h"
#include "core/base/hash.h"
#include "core/config.h"
#include "core/runtime.h"
#include "core/uring.h"
#include "log/errlog.h"
#include "proto/hdr_table.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
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
                 "  -t, --test            check the configuration and exit\n"
                 "      --print-config    print the effective configuration and exit\n"
                 "  -r, --root DIR        serve files from DIR (overrides every server's root)\n"
                 "  -l, --listen ADDR     listen on ADDR (host:port, [v6]:port, *:port or port);\n"
                 "                        repeatable; port 0 picks a free port, printed at start\n"
                 "  -w, --workers N       worker threads (default: one per available CPU)\n"
                 "      --access-log PATH access log for every server (\"off\" to disable)\n"
                 "      --error-log PATH  error log (default: standard error)\n"
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

enum { OPT_PRINT_CONFIG = 256, OPT_ACCESS_LOG, OPT_ERROR_LOG };

/*
 * Raises the soft RLIMIT_NOFILE to the hard one, then keeps the file caches' open fds to a
 * quarter of it and connections within the rest, so the cache can never be the reason the
 * process runs out of descriptors.
 */
static void fit_fd_limit(struct cfg *cfg, unsigned workers)
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
        cpu_set_t set;
        workers = sched_getaffinity(0, sizeof(set), &set) == 0 ? (unsigned)CPU_COUNT(&set) : 1;
    }
    uint64_t limit = rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : (uint64_t)rl.rlim_cur;
    uint64_t cache_fds = limit / 4 / workers;
    if (cfg->file_cache.max_fds > cache_fds) {
        errlog(ERRLOG_INFO,
               "open_file_cache_fds lowered to %llu per worker (RLIMIT_NOFILE %llu, "
               "%u workers)",
               (unsigned long long)cache_fds, (unsigned long long)limit, workers);
        cfg->file_cache.max_fds = (uint32_t)cache_fds;
    }
    uint64_t reserve = (uint64_t)cfg->file_cache.max_fds * workers + 64;
    if (limit <= 2 * reserve) {
        return; /* a tiny limit: accept()'s EMFILE handling copes */
    }
    uint64_t conns = (limit - reserve) / workers;
    if (cfg->max_connections > conns) {
        errlog(ERRLOG_INFO,
               "max_connections lowered to %llu per worker (RLIMIT_NOFILE %llu, "
               "%u workers)",
               (unsigned long long)conns, (unsigned long long)limit, workers);
        cfg->max_connections = (uint32_t)conns;
    }
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
        {0, 0, 0, 0},
    };
    const char *config = NULL;
    bool test = false, print = false;
    struct cfg_overrides ov = {0};
    ov.workers = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:tr:l:w:hv", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 't':
            test = true;
            break;
        case 'r':
            ov.root = optarg;
            break;
        case 'l':
            if (ov.nlisten == ARRAY_SIZE(ov.listen)) {
                return fatal("too many --listen options (at most 8)");
            }
            ov.listen[ov.nlisten++] = optarg;
            break;
        case 'w': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || n < 1 || n > 1024) {
                return fatal("--workers needs a number from 1 to 1024");
            }
            ov.workers = (int)n;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case 'v':
            version();
            return 0;
        case OPT_PRINT_CONFIG:
            print = true;
            break;
        case OPT_ACCESS_LOG:
            ov.access_log = optarg;
            break;
        case OPT_ERROR_LOG:
            ov.error_log = optarg;
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
    if (!config && !ov.root) {
        fprintf(stderr, "spate: nothing to serve: give --root DIR or -c FILE\n");
        usage(stderr);
        return 2;
    }

    signal(SIGPIPE, SIG_IGN); /* sendfile to a closed socket must not kill us */
    char err[CFG_ERR_MAX];
    static struct cfg cfg;
    cfg_init_defaults(&cfg);
    if (config && cfg_load_file(&cfg, config, err, sizeof(err)) < 0) {
        return fatal(err);
    }
    if (cfg_apply_overrides(&cfg, &ov, err, sizeof(err)) < 0 ||
        cfg_finalize(&cfg, err, sizeof(err)) < 0) {
        return fatal(err);
    }
    if (test) {
        printf("spate: configuration %s is valid\n", cfg.source);
        cfg_free(&cfg);
        return 0;
    }
    if (print) {
        cfg_print(&cfg, stdout);
        cfg_free(&cfg);
        return 0;
    }
    int rc = errlog_open(cfg.error_log, cfg.error_level);
    if (rc < 0) {
        snprintf(err, sizeof(err), "cannot open error log \"%s\": %s", cfg.error_log,
                 strerror(-rc));
        return fatal(err);
    }
    fit_fd_limit(&cfg, ov.workers > 0 ? (unsigned)ov.workers : cfg.workers);
    hash_init();
    hdr_known_init();
    if (io_probe(err, sizeof(err)) < 0) {
        return fatal(err);
    }

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGQUIT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    static struct runtime rt;
    static struct alog_setup logs;
    if (alog_setup_build(&logs, &cfg, err, sizeof(err)) < 0) {
        alog_setup_destroy(&logs);
        cfg_free(&cfg);
        return fatal(err);
    }
    if (runtime_init(&rt, &cfg, -1, err, sizeof(err)) < 0 ||
        (rt.logs = &logs, alog_setup_start(&logs, &rt, err, sizeof(err)) < 0) ||
        runtime_start(&rt, err, sizeof(err)) < 0) {
        alog_setup_destroy(&logs);
        runtime_destroy(&rt);
        cfg_free(&cfg);
        return fatal(err);
    }
    for (unsigned g = 0; g < rt.ngroups; g++) {
        printf("spate: listening on http://%s (%u worker%s)\n", rt.groups[g].addr.text, rt.nworkers,
               rt.nworkers == 1 ? "" : "s");
    }
    fflush(stdout);
    errlog(ERRLOG_NOTICE, "spate %s started: %u workers, %u listener(s)", SPATE_VERSION,
           rt.nworkers, rt.ngroups);

    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&sigs, &si);
        if (sig < 0) {
            continue;
        }
        if (sig == SIGUSR1) {
            alog_reopen(&logs);
            int r = errlog_reopen();
            errlog(r < 0 ? ERRLOG_ERROR : ERRLOG_NOTICE, "reopening logs%s%s", r < 0 ? ": " : "",
                   r < 0 ? strerror(-r) : "");
            continue;
        }
        if (sig == SIGHUP) {
            errlog(ERRLOG_NOTICE, "SIGHUP ignored: configuration reload is not supported yet; "
                                  "restart to apply changes");
            continue;
        }
        break;
    }
    errlog(ERRLOG_NOTICE, "shutting down: draining connections (up to %u ms)",
           cfg.drain_timeout_ms);
    runtime_stop_async(&rt);
    for (;;) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM || sig == SIGQUIT) {
            errlog(ERRLOG_NOTICE, "second signal: closing connections now");
            runtime_stop_async(&rt);
        }
        if (runtime_all_exited(&rt)) {
            break;
        }
    }
    runtime_stop(&rt);
    /* the workers are gone: write every buffered line, then stop the flusher */
    alog_setup_destroy(&logs);
    runtime_destroy(&rt);
    cfg_free(&cfg);
    errlog(ERRLOG_NOTICE, "exited");
    errlog_close();
    return 0;
}
