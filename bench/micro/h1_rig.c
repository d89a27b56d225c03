/* h1_rig.c - see h1_rig.h. The transport drops what it is given, as fast as it is given. */
#include "h1_rig.h"

#include "core/app/modules.h"
#include "core/base/hash.h"
#include "core/conf/conf.h"
#include "core/http/conn.h"
#include "core/http/h1.h"
#include "core/http/h1_write.h"
#include "core/http/latency.h"
#include "core/http/route.h"
#include "core/http/settings.h"
#include "proto/hdr_table.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct conf conf;
static struct io_loop loop;
static struct transport_env tenv;
static struct conn_pool pool;
static struct h1_env h1;
static struct alog_worker alog;
static struct worker_counters ctr;
static struct fs_cache *fcache;
static struct conn *conn;
static size_t sent;
static char root[64];
static struct worker_latency *lat;

static void t_flush(struct transport *t)
{
    struct outq *q = t->out;
    uint64_t n = q ? q->queued_pos - q->sent_pos : 0;
    if (n) {
        outq_advance(q, n);
        sent += n;
        t->ev->sent(t, n);
    }
    t->ev->drained(t);
}

static void t_nop(struct transport *t)
{
    (void)t;
}

static void t_shutdown(struct transport *t, bool reading_too)
{
    (void)t, (void)reading_too;
}

static int t_peer(struct transport *t, struct sockaddr_storage *ss)
{
    (void)t;
    ss->ss_family = AF_UNSPEC;
    return -1;
}

static void t_close(struct transport *t)
{
    close(t->fd);
}

static const struct transport_ops null_ops = {"null",     t_nop, t_nop,  t_flush,
                                              t_shutdown, t_nop, t_peer, t_close};

static void t_init(struct transport *t, int fd, struct transport_env *env,
                   const struct transport_events *ev, void *arg)
{
    (void)arg;
    memset(t, 0, sizeof(*t));
    t->ops = &null_ops;
    t->ev = ev;
    t->env = env;
    t->fd = fd;
}

int h1_rig_init(const char *conf_extra)
{
    return h1_rig_init_main(NULL, conf_extra);
}

int h1_rig_init_main(const char *main_extra, const char *conf_extra)
{
    hash_init();
    hash_set_seed(0x5eed); /* the same table probes every run: instruction counts compare */
    hdr_known_init();
    strcpy(root, "/tmp/spate-rig-XXXXXX");
    if (!mkdtemp(root)) {
        return -1;
    }
    char p[128];
    snprintf(p, sizeof(p), "%s/small.bin", root);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    char kib[1024];
    memset(kib, 'x', sizeof(kib));
    if (fd < 0 || write(fd, kib, sizeof(kib)) != (ssize_t)sizeof(kib)) {
        return -1;
    }
    close(fd);
    char text[2048], err[CONF_ERR_MAX];
    /* keepalive_requests at its most: a benchmark makes more requests than the default allows */
    snprintf(
        text, sizeof(text),
        "keepalive_requests 4294967295;\n%s\nserver {\n listen 127.0.0.1:0;\n root %s;\n %s\n}\n",
        main_extra ? main_extra : "", root, conf_extra ? conf_extra : "");
    if (conf_init(&conf, spate_modules, spate_nmodules) < 0 ||
        conf_load_string(&conf, "rig.conf", text, err, sizeof(err)) < 0 ||
        conf_finish(&conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "h1_rig: %s\n", err);
        return -1;
    }
    const struct http_settings *set = http_settings(&conf);
    io_loop_init_bare(&loop);
    tenv.loop = &loop;
    fcache = fs_cache_new(&set->file_cache, &h1_entity_hooks);
    if (!fcache || alog_worker_prepare(&alog, alog_plan(&conf)) < 0) {
        return -1;
    }
    alog_worker_start(&alog, NULL, &loop, &ctr, 1, NULL, NULL);
    if (h1_env_init(&h1, set, route_table(&conf), &alog) < 0) {
        return -1;
    }
    h1.http.loop = &loop;
    h1.http.fcache = fcache;
    h1.http.worker = 1;
    h1.http.max_body = set->max_body;
    /* the histograms as a worker takes them up (worker.c apply_http): its own, the locations' */
    (void)latency_attach(route_table(&conf), h1.http.worker);
    if (set->latency && !(lat = calloc(1, sizeof(*lat)))) {
        return -1;
    }
    h1.http.lat = lat;
    /* a worker's fine clock is on whatever the histograms say: its log flusher is always
     * there (worker.c apply_http), so histograms on or off differ only in what they add */
    loop.precise_clock = true;
    struct conn_pool_params cp = {8, {60000, 60000, 75000, 60000, 2000}, 1u << 20, 32768};
    if (conn_pool_init(&pool, &loop, &tenv, &h1_session, &h1, &ctr, &cp) < 0) {
        return -1;
    }
    conn = conn_open(&pool, open("/dev/null", O_RDONLY), 0, t_init, NULL);
    return conn ? 0 : -1;
}

size_t h1_rig_feed(const char *p, size_t n)
{
    size_t before = sent;
    io_loop_clock(&loop); /* a loop turn per request: the worst case, the clock's cost counts */
    conn->tr.pending++; /* as a transport's callback would be: guarded */
    conn->tr.ev->data(&conn->tr, p, n);
    conn->tr.pending--;
    while (loop.work || loop.arm) {
        io_loop_run_deferred(&loop);
    }
    return sent - before;
}

void h1_rig_fini(void)
{
    conn_pool_fini(&pool, false);
    alog_worker_stop(&alog);
    alog_worker_free(&alog);
    h1_env_fini(&h1);
    fs_cache_free(fcache);
    conf_free(&conf);
    free(lat);
    lat = NULL;
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    if (system(cmd) != 0) {
        perror("rm");
    }
}
