/* h2_rig.c - see h2_rig.h. The transport drops what it is given, as fast as it is given; the
 * client's frames are made once (HPACK without a dynamic table, so every block is the same)
 * and only their stream ids change. */
#include "h2_rig.h"

#include "core/app/modules.h"
#include "core/base/hash.h"
#include "core/conf/conf.h"
#include "core/http/conn.h"
#include "core/http/h1.h"
#include "core/http/h1_write.h"
#include "core/http/h2.h"
#include "core/http/route.h"
#include "core/http/settings.h"
#include "proto/hdr_table.h"

#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BODY 1024u

static struct conf conf;
static struct io_loop loop;
static struct transport_env tenv;
static struct conn_pool pool;
static struct h1_env h1;
static struct h2_env h2;
static struct alog_worker alog;
static struct worker_counters ctr;
static struct fs_cache *fcache;
static struct conn *conn;
static size_t sent;
static char root[64];
static uint8_t req_frame[256]; /* HEADERS on stream 0 (patched), then WINDOW_UPDATE */
static size_t req_len;
static uint32_t next_id = 1;
static char *batch;

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

static void put_hd(uint8_t *p, uint32_t len, uint8_t type, uint8_t flags, uint32_t id)
{
    p[0] = (uint8_t)(len >> 16);
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)len;
    p[3] = type;
    p[4] = flags;
    p[5] = (uint8_t)(id >> 24);
    p[6] = (uint8_t)(id >> 16);
    p[7] = (uint8_t)(id >> 8);
    p[8] = (uint8_t)id;
}

/* The request's frames, made once. */
static int make_request(void)
{
    nghttp2_hd_deflater *d;
    if (nghttp2_hd_deflate_new(&d, 0) != 0) {
        return -1;
    }
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)"127.0.0.1:8080", 10, 14, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)"/small.bin", 5, 10, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"user-agent", (uint8_t *)"h2load nghttp2/1.52.0", 10, 21, NGHTTP2_NV_FLAG_NONE},
    };
    ssize_t n = nghttp2_hd_deflate_hd(d, req_frame + 9, sizeof(req_frame) - 9 - 13, nv,
                                      sizeof(nv) / sizeof(nv[0]));
    nghttp2_hd_deflate_del(d);
    if (n < 0) {
        return -1;
    }
    put_hd(req_frame, (uint32_t)n, NGHTTP2_HEADERS,
           NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS, 0);
    uint8_t *w = req_frame + 9 + n;
    put_hd(w, 4, NGHTTP2_WINDOW_UPDATE, 0, 0);
    w[9] = 0, w[10] = 0, w[11] = (uint8_t)(BODY >> 8), w[12] = (uint8_t)BODY;
    req_len = 9 + (size_t)n + 13;
    return 0;
}

static void run_deferred(void)
{
    while (loop.work || loop.arm) {
        io_loop_run_deferred(&loop);
    }
}

static void feed(const char *p, size_t n)
{
    conn->tr.pending++; /* as a transport's callback would be: guarded */
    conn->tr.ev->data(&conn->tr, p, n);
    conn->tr.pending--;
    run_deferred();
}

int h2_rig_init(const char *conf_extra)
{
    hash_init();
    hdr_known_init();
    strcpy(root, "/tmp/spate-rig-XXXXXX");
    if (!mkdtemp(root) || make_request() < 0) {
        return -1;
    }
    char p[128];
    snprintf(p, sizeof(p), "%s/small.bin", root);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    char kib[BODY];
    memset(kib, 'x', sizeof(kib));
    if (fd < 0 || write(fd, kib, sizeof(kib)) != (ssize_t)sizeof(kib)) {
        return -1;
    }
    close(fd);
    char text[2048], err[CONF_ERR_MAX];
    snprintf(text, sizeof(text),
             "keepalive_requests 4294967295;\nhttp2_max_requests 4294967295;\n"
             "server {\n listen 127.0.0.1:0;\n http2 on;\n root %s;\n %s\n}\n",
             root, conf_extra ? conf_extra : "");
    if (conf_init(&conf, spate_modules, spate_nmodules) < 0 ||
        conf_load_string(&conf, "rig.conf", text, err, sizeof(err)) < 0 ||
        conf_finish(&conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "h2_rig: %s\n", err);
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
    if (h1_env_init(&h1, set, route_table(&conf), &alog) < 0 ||
        h2_env_init(&h2, &h1, h2_settings_of(&conf)) < 0) {
        return -1;
    }
    h1.http.loop = &loop;
    h1.http.fcache = fcache;
    h1.http.worker = 1;
    h1.http.max_body = set->max_body;
    struct conn_pool_params cp = {8, {60000, 60000, 75000, 60000, 2000}, 1u << 20, 32768};
    if (conn_pool_init(&pool, &loop, &tenv, &h1_session, &h1, &ctr, &cp) < 0) {
        return -1;
    }
    pool.h2 = &h2_session;
    conn = conn_open(&pool, open("/dev/null", O_RDONLY), 0, t_init, NULL);
    if (!conn) {
        return -1;
    }
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                  "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    feed(preface, sizeof(preface) - 1);
    batch = malloc(64 * req_len);
    return conn->sess == &h2_session && batch ? 0 : -1;
}

size_t h2_rig_requests(unsigned n)
{
    size_t before = sent;
    size_t len = 0;
    for (unsigned i = 0; i < n && i < 64; i++) {
        uint32_t id = next_id;
        next_id += 2;
        req_frame[5] = (uint8_t)(id >> 24);
        req_frame[6] = (uint8_t)(id >> 16);
        req_frame[7] = (uint8_t)(id >> 8);
        req_frame[8] = (uint8_t)id;
        memcpy(batch + len, req_frame, req_len);
        len += req_len;
    }
    feed(batch, len);
    return sent - before;
}

void h2_rig_fini(void)
{
    conn_pool_fini(&pool, false);
    alog_worker_stop(&alog);
    alog_worker_free(&alog);
    h2_env_fini(&h2);
    h1_env_fini(&h1);
    fs_cache_free(fcache);
    conf_free(&conf);
    free(batch);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    if (system(cmd) != 0) {
        perror("rm");
    }
}
