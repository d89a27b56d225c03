/* fake_http.c - see fake_http.h. */
#include "common/fake_http.h"

#include "common/unit.h"
#include "core/app/modules.h"
#include "core/base/hash.h"
#include "core/http/h1_write.h"
#include "core/http/route.h"
#include "core/http/settings.h"
#include "proto/hdr_table.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WIRES 64

static struct fake_wire wires[WIRES];
static unsigned flush_depth;
static bool flush_again;

static struct fake_wire *wire(struct transport *t)
{
    struct conn *c = container_of(t, struct conn, tr);
    assert_true(c->idx < WIRES);
    return &wires[c->idx];
}

struct fake_wire *fake_wire_of(struct conn *c)
{
    return wire(&c->tr);
}

static void enter(struct transport *t)
{
    t->pending++;
}

static void leave(struct transport *t)
{
    if (--t->pending == 0 && (t->flags & TR_CLOSED)) {
        t->ev->release(t);
    }
}

static void put(struct fake_wire *fw, const void *p, size_t n)
{
    if (fw->out_len + n > fw->out_cap) {
        fw->out_cap = (fw->out_len + n) * 2 + 4096;
        fw->out = realloc(fw->out, fw->out_cap);
        assert_non_null(fw->out);
    }
    memcpy(fw->out + fw->out_len, p, n);
    fw->out_len += n;
}

/* Sends what the window allows, segment by segment, as a transport would report it. */
static void send_some(struct transport *t)
{
    struct fake_wire *fw = wire(t);
    struct outq *q = t->out;
    while (q && q->count && fw->window && !(t->flags & TR_CLOSED)) {
        struct outq_seg *s = outq_seg(q, 0);
        uint64_t n = MIN(s->len, fw->window);
        if (s->kind == OUTQ_FILE) {
            char *tmp = malloc((size_t)n);
            assert_int_equal(pread(s->ref->fd, tmp, (size_t)n, (off_t)s->off), (ssize_t)n);
            put(fw, tmp, (size_t)n);
            free(tmp);
        } else {
            put(fw, s->ptr, (size_t)n);
        }
        if (fw->window != UINT64_MAX) {
            fw->window -= n;
        }
        outq_advance(q, n);
        t->ev->sent(t, n);
        q = t->out;
    }
    if (outq_empty(t->out) && !(t->flags & TR_CLOSED)) {
        t->ev->drained(t);
    }
}

static void f_flush(struct transport *t)
{
    if (t->flags & TR_CLOSED) {
        return;
    }
    if (flush_depth) {
        flush_again = true; /* drained() asked for more: the outer loop sends it */
        return;
    }
    flush_depth++;
    enter(t);
    wire(t)->flushes++;
    do {
        flush_again = false;
        send_some(t);
    } while (flush_again && !(t->flags & TR_CLOSED));
    leave(t);
    flush_depth--;
}

static void f_read_start(struct transport *t)
{
    wire(t)->reading = true;
}

static void f_read_stop(struct transport *t)
{
    wire(t)->reading = false;
}

static void f_shutdown(struct transport *t, bool reading_too)
{
    wire(t)->fin = true;
    wire(t)->fin_read |= reading_too;
}

static void f_abort(struct transport *t)
{
    t->flags |= TR_CLOSED;
    wire(t)->aborted = true;
}

static int f_peer(struct transport *t, struct sockaddr_storage *ss)
{
    (void)t;
    memset(ss, 0, sizeof(*ss));
    ss->ss_family = AF_UNSPEC;
    return -ENOTCONN;
}

static void f_close(struct transport *t)
{
    if (t->fd >= 0) {
        close(t->fd);
    }
    t->fd = -1;
}

static const struct transport_ops fake_ops = {
    "fake", f_read_start, f_read_stop, f_flush, f_shutdown, f_abort, f_peer, f_close,
};

static void fake_init(struct transport *t, int fd, struct transport_env *env,
                      const struct transport_events *ev, void *arg)
{
    (void)arg;
    memset(t, 0, sizeof(*t));
    t->ops = &fake_ops;
    t->ev = ev;
    t->env = env;
    t->fd = fd;
    struct conn *c = container_of(t, struct conn, tr);
    struct fake_wire *fw = &wires[c->idx];
    free(fw->out);
    memset(fw, 0, sizeof(*fw));
    fw->window = UINT64_MAX;
}

void fake_file(struct fake_world *w, const char *rel, const void *content, size_t len)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", w->root, rel);
    for (char *s = strchr(p + strlen(w->root) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
}

void fake_world_init(struct fake_world *w, const char *conf_text)
{
    memset(w, 0, sizeof(*w));
    hash_set_seed(11);
    hdr_known_init();
    strcpy(w->root, "/tmp/spate-fake-XXXXXX");
    assert_non_null(mkdtemp(w->root));
    /* the configuration, with ROOT standing for the temporary directory */
    char text[8192];
    size_t n = 0;
    for (const char *s = conf_text; *s && n + 80 < sizeof(text);) {
        if (strncmp(s, "ROOT", 4) == 0) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", w->root);
            s += 4;
        } else {
            text[n++] = *s++;
        }
    }
    text[n] = '\0';
    char err[CONF_ERR_MAX];
    assert_int_equal(conf_init(&w->conf, spate_modules, spate_nmodules), 0);
    if (conf_load_string(&w->conf, "fake.conf", text, err, sizeof(err)) < 0 ||
        conf_finish(&w->conf, err, sizeof(err)) < 0) {
        fail_msg("%s", err);
    }
    const struct http_settings *set = http_settings(&w->conf);
    io_loop_init_bare(&w->loop);
    w->loop.now_ms = 1000;
    w->loop.now_s = 1800000000; /* fixed: every Date line is the same */
    w->tenv.loop = &w->loop;
    w->tenv.sendfile_chunk = 1u << 20;
    w->tenv.use_sendfile = true;
    w->fcache = fs_cache_new(&set->file_cache, &h1_entity_hooks);
    assert_non_null(w->fcache);
    assert_int_equal(alog_worker_prepare(&w->log, alog_plan(&w->conf)), 0);
    alog_worker_start(&w->log, NULL, &w->loop, &w->ctr, 1, NULL, NULL);
    assert_int_equal(h1_env_init(&w->h1, set, route_table(&w->conf), &w->log), 0);
    w->h1.http.loop = &w->loop;
    w->h1.http.fcache = w->fcache;
    w->h1.http.worker = 1;
    w->h1.http.trace = set->trace;
    w->h1.http.max_body = set->max_body;
    struct conn_pool_params cp = {
        .max_conns = 64,
        .timeout_ms = {60000, 60000, 75000, 60000, 2000},
        .arena_cap = (size_t)set->limits.max_head * 4 + 65536,
        .out_block = 32768,
    };
    assert_int_equal(
        conn_pool_init(&w->pool, &w->loop, &w->tenv, &h1_session, &w->h1, &w->ctr, &cp),
        0);
}

void fake_world_fini(struct fake_world *w)
{
    fake_settle(w);
    conn_pool_fini(&w->pool, false);
    alog_worker_stop(&w->log);
    alog_worker_free(&w->log);
    h1_env_fini(&w->h1);
    fs_cache_free(w->fcache);
    conf_free(&w->conf);
    for (unsigned i = 0; i < WIRES; i++) {
        free(wires[i].out);
        memset(&wires[i], 0, sizeof(wires[i]));
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", w->root);
    assert_int_equal(system(cmd), 0);
}

struct conn *fake_connect(struct fake_world *w)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct conn *c = conn_open(&w->pool, fd, 0, fake_init, NULL);
    assert_non_null(c);
    fake_settle(w);
    return c;
}

void fake_settle(struct fake_world *w)
{
    for (int i = 0; i < 1000 && (w->loop.work || w->loop.arm); i++) {
        io_loop_run_deferred(&w->loop);
    }
}

void fake_feed(struct fake_world *w, struct conn *c, const char *p, size_t n)
{
    enter(&c->tr);
    c->tr.ev->data(&c->tr, p, n);
    leave(&c->tr);
    fake_settle(w);
}

void fake_allow(struct fake_world *w, struct conn *c, uint64_t n)
{
    struct fake_wire *fw = wire(&c->tr);
    fw->window = n == UINT64_MAX || fw->window == UINT64_MAX ? n : fw->window + n;
    c->tr.ops->flush(&c->tr);
    fake_settle(w);
}

void fake_eof(struct fake_world *w, struct conn *c)
{
    enter(&c->tr);
    c->tr.ev->eof(&c->tr);
    leave(&c->tr);
    fake_settle(w);
}

void fake_close(struct fake_world *w, struct conn *c)
{
    if (c->pool) {
        conn_abort(c);
    }
    fake_settle(w);
}

void fake_fix_dates(char *p, size_t n)
{
    static const char fixed[] = "Thu, 01 Jan 1970 00:00:00 GMT";
    for (size_t i = 0; i + 6 + 29 <= n; i++) {
        if (memcmp(p + i, "\nDate: ", 7) == 0) {
            memcpy(p + i + 7, fixed, 29);
        }
    }
}
