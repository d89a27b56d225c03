/*
 * spate-load - an open-loop HTTP/1.1 load generator on io_uring (docs/spate-load.md).
 *
 *   spate-load -t THREADS -c CONNS -d DURATION [-R RATE] [options] URL
 *
 * main.c checks what can be checked before the clock starts (the file-descriptor limit, that
 * the server answers a connect at all), starts one pinned thread per -t, lines them up so
 * the schedule starts once every connection is open, then merges and reports their figures.
 */
#include "tools/load/opts.h"
#include "tools/load/plot.h"
#include "tools/load/report.h"
#include "tools/load/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Raises the soft limit to the hard one; fails if -c still does not fit. */
static void fit_nofile(const struct load_opts *o)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    /* each connection one socket, each thread a ring, and stdio, the JSON, the plot */
    rlim_t need = (rlim_t)o->conns + (rlim_t)o->threads + 16;
    if (need > rl.rlim_cur) {
        fprintf(stderr,
                "spate-load: -c %d needs about %llu open files, but RLIMIT_NOFILE allows %llu "
                "(hard limit %llu): lower -c or raise the limit (ulimit -Hn, limits.conf)\n",
                o->conns, (unsigned long long)need, (unsigned long long)rl.rlim_cur,
                (unsigned long long)rl.rlim_max);
        exit(1);
    }
}

/* A blocking connect to each address the host resolved to, before anything starts: the
 * first that answers is the run's; none is an error, not a run of connect errors. */
static void probe(struct load_opts *o)
{
    int err = 0;
    for (struct addrinfo *ai = o->addrs; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        struct timeval tv = {.tv_sec = 3};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        err = rc < 0 ? (errno == EINPROGRESS ? ETIMEDOUT : errno) : 0;
        close(fd);
        if (rc == 0) {
            memcpy(&o->addr, ai->ai_addr, ai->ai_addrlen);
            o->addrlen = ai->ai_addrlen;
            return;
        }
    }
    char addr[INET6_ADDRSTRLEN + 8] = "?";
    getnameinfo((const struct sockaddr *)&o->addr, o->addrlen, addr, sizeof(addr), NULL, 0,
                NI_NUMERICHOST);
    fprintf(stderr, "spate-load: cannot connect to %s port %s (%s%s): %s\n", o->host, o->port,
            addr, o->addrs && o->addrs->ai_next ? " and its other addresses" : "",
            strerror(err));
    exit(1);
}

/* --cpus must name CPUs this process may run on (found now, not after the run); more
 * threads than CPUs share them, which is allowed but said. */
static void check_cpus(const struct load_opts *o, const cpu_set_t *mask)
{
    for (int i = 0; i < o->ncpus; i++) {
        if (!CPU_ISSET(o->cpus[i], mask)) {
            fprintf(stderr, "spate-load: --cpus names CPU %d, which is not in this process's "
                            "CPU set (%d CPUs there; taskset -p shows it)\n",
                    o->cpus[i], CPU_COUNT(mask));
            exit(2);
        }
    }
    int ncpu = o->ncpus ? o->ncpus : CPU_COUNT(mask);
    if (ncpu > 0 && o->threads > ncpu) {
        fprintf(stderr, "spate-load: note: %d threads on %d CPU%s: some threads share a CPU\n",
                o->threads, ncpu, ncpu == 1 ? "" : "s");
    }
}

/* Thread i's CPU: --cpus[i % n], or the i-th CPU (modulo) of the affinity mask. */
static int cpu_for(const struct load_opts *o, int i, const cpu_set_t *mask)
{
    if (o->ncpus) {
        return o->cpus[i % o->ncpus];
    }
    int n = CPU_COUNT(mask), k = i % (n ? n : 1);
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, mask) && k-- == 0) {
            return c;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct load_opts o;
    bool merge;
    int mi = 0;
    opts_parse(&o, argc, argv, &merge, &mi);
    if (merge) {
        return plot_merge(argv[mi], argc - mi - 1, argv + mi + 1);
    }
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof(mask), &mask) < 0) {
        CPU_ZERO(&mask);
    }
    check_cpus(&o, &mask);
    fit_nofile(&o);
    probe(&o);

    /* with --json - the JSON owns stdout, and the summary goes to stderr */
    FILE *text = o.json_file && !strcmp(o.json_file, "-") ? stderr : stdout;
    report_start(text, &o);
    struct load_sync sync;
    pthread_barrier_init(&sync.ready, NULL, (unsigned)o.threads + 1);
    pthread_barrier_init(&sync.go, NULL, (unsigned)o.threads + 1);
    struct worker **w = calloc((size_t)o.threads, sizeof(*w));
    pthread_t *th = calloc((size_t)o.threads, sizeof(*th));
    int first = 0;
    for (int i = 0; i < o.threads; i++) {
        int n = o.conns / o.threads + (i < o.conns % o.threads);
        w[i] = worker_new(&o, &sync, i, cpu_for(&o, i, &mask), first, n);
        first += n;
        if (pthread_create(&th[i], NULL, worker_main, w[i])) {
            fprintf(stderr, "spate-load: cannot start thread %d\n", i);
            return 1;
        }
    }
    pthread_barrier_wait(&sync.ready);
    sync.start = load_now() + 1000000; /* 1 ms: every thread is past the barrier by then */
    pthread_barrier_wait(&sync.go);
    struct load_result r = {.lat = calloc(1, sizeof(struct hist_snap))};
    struct hist_snap *one = calloc(1, sizeof(struct hist_snap));
    int rc = 0;
    for (int i = 0; i < o.threads; i++) {
        pthread_join(th[i], NULL);
        if (*worker_error(w[i])) {
            fprintf(stderr, "spate-load: thread %d: %s\n", i, worker_error(w[i]));
            rc = 1;
        }
        const struct load_stats *s = worker_stats(w[i]);
        r.total.requests += s->requests;
        r.total.sent += s->sent;
        r.total.bytes += s->bytes;
        for (int k = 0; k < 6; k++) {
            r.total.status[k] += s->status[k];
        }
        for (int k = 0; k < ERR_N; k++) {
            r.total.err[k] += s->err[k];
        }
        hist_snapshot(s->lat, one);
        hist_merge(r.lat, one);
        worker_free(w[i]);
    }
    r.seconds = (double)o.duration_ns / 1e9;
    r.rate = (double)r.total.requests / r.seconds;
    r.rate_short = o.rate > 0 && r.rate < 0.95 * o.rate;
    report_text(text, &o, &r);
    fflush(text);
    if (r.rate_short) {
        fprintf(stderr,
                "spate-load: WARNING: achieved %.0f req/s, below 95%% of the target %.0f req/s: "
                "the generator or the server could not keep up (latencies are still charged from "
                "the intended times)\n",
                r.rate, o.rate);
    }
    if (o.json_file && report_json(o.json_file, &o, &r) < 0) {
        fprintf(stderr, "spate-load: cannot write %s: %s\n", o.json_file, strerror(errno));
        rc = 1;
    }
    if (o.plot_file && plot_write(o.plot_file, 1, (const char *[]){o.label}, &r.lat) < 0) {
        fprintf(stderr, "spate-load: cannot write %s: %s\n", o.plot_file, strerror(errno));
        rc = 1;
    }
    if (r.total.requests == 0) {
        fprintf(stderr, "spate-load: no response at all from %s\n", o.url);
        rc = 1;
    }
    if (r.total.err[ERR_CHECK]) { /* a check that fails fails the command, not just a line */
        fprintf(stderr, "spate-load: %llu bodies differ from what --check/--sha256 expects\n",
                (unsigned long long)r.total.err[ERR_CHECK]);
        rc = 1;
    }
    free(one);
    free(r.lat);
    free(w);
    free(th);
    opts_free(&o);
    return rc;
}
