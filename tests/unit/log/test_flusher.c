/*
 * Unit tests for log/flusher.c: a producer thread fills a ring while the sink is a regular file
 * (exact content), a FIFO whose reader stops (stop() gives up in time), a full tmpfs (nothing
 * lost, resumes by itself once space is freed), a tiny pipe (partial writes: no byte twice,
 * none skipped), and an idle flusher (no periodic wakeups; nudge() wakes it at once).
 */
#include "common/unit.h"
#include "log/errlog.h"
#include "log/flusher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static char g_dir[64];
static char g_errlog[128];

/* A fresh temporary directory with the error log in it. */
static void setup_dir(void)
{
    strcpy(g_dir, "/tmp/spate-flusher-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_errlog, sizeof(g_errlog), "%s/error.log", g_dir);
    assert_int_equal(errlog_open(g_errlog, ERRLOG_INFO), 0);
}

static void teardown_dir(void)
{
    errlog_close();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    assert_int_equal(system(cmd), 0);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        *len = 0;
        return calloc(1, 1);
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, fp)) > 0) {
        n += r;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static size_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* Waits up to ms for cond; true if it came. */
#define WAIT_FOR(cond, ms)                                                                         \
    ({                                                                                             \
        uint64_t wf_end = now_ms() + (ms);                                                         \
        while (!(cond) && now_ms() < wf_end) {                                                     \
            sleep_ms(5);                                                                           \
        }                                                                                          \
        (bool)(cond);                                                                              \
    })

/* ---------------------------------------------------------------- records */

/* What the producer writes; every record's text is rebuilt from its index. */
struct gen {
    unsigned nsinks;    /* access records cycle over these sinks */
    unsigned err_every; /* every k-th record is an error-log line (0: none) */
    unsigned base_len;  /* lengths vary from base_len to about 2 * base_len */
    unsigned big_every; /* every k-th record is big_len bytes (0: none) */
    unsigned big_len;
};

static size_t make_rec(const struct gen *g, unsigned i, char *buf, uint16_t *type, uint16_t *sink)
{
    bool err = g->err_every && i % g->err_every == g->err_every - 1;
    size_t len = g->base_len + (i * 7919u) % (g->base_len + 1);
    if (g->big_every && i % g->big_every == 1) {
        len = g->big_len;
    }
    *type = err ? LOG_REC_ERROR : LOG_REC_ACCESS;
    *sink = err ? 0 : (uint16_t)(i % g->nsinks);
    int n = snprintf(buf, len, "%c%07u/%u ", err ? 'E' : 'A', i, *sink);
    for (size_t k = (size_t)n; k + 1 < len; k++) {
        buf[k] = (char)('a' + (i + k) % 26);
    }
    buf[len - 1] = '\n';
    return len;
}

/* The expected bytes of one stream: access sink `sink`, or (sink < 0) the error lines. */
static char *expected(const struct gen *g, unsigned n, int sink, size_t *len)
{
    size_t cap = 1 << 16, off = 0;
    char *out = malloc(cap);
    static char rec[LOG_REC_MAX];
    for (unsigned i = 0; i < n; i++) {
        uint16_t type, s;
        size_t l = make_rec(g, i, rec, &type, &s);
        if ((sink < 0) != (type == LOG_REC_ERROR) || (sink >= 0 && s != sink)) {
            continue;
        }
        while (off + l + 1 > cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        memcpy(out + off, rec, l);
        off += l;
    }
    out[off] = '\0';
    *len = off;
    return out;
}

/* The error lines (E...) of the error log, without the flusher's own reports. */
static char *error_lines(size_t *len)
{
    size_t n;
    char *all = read_all(g_errlog, &n);
    char *out = malloc(n + 1);
    size_t off = 0;
    for (char *p = all; *p;) {
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (p[0] == 'E') {
            memcpy(out + off, p, l);
            off += l;
        }
        p += l;
    }
    out[off] = '\0';
    free(all);
    *len = off;
    return out;
}

static void assert_same(const char *what, const char *got, size_t glen, const char *want,
                        size_t wlen)
{
    size_t i = 0;
    while (i < glen && i < wlen && got[i] == want[i]) {
        i++;
    }
    if (i != glen || i != wlen) {
        fprintf(stderr, "%s: %zu bytes, expected %zu; first difference at byte %zu\n", what, glen,
                wlen, i);
        fail();
    }
}

/* ---------------------------------------------------------------- the producer (a "worker") */

struct prod {
    struct log_flusher *f;
    struct log_ring *ring;
    const struct gen *g;
    unsigned n;
    _Atomic unsigned committed;
    _Atomic uint64_t committed_bytes;
    _Atomic int quit;       /* stop producing (records not committed yet are dropped) */
    _Atomic int space;      /* set by the space callback */
    _Atomic unsigned waits; /* times the ring was full */
};

static void space_cb(void *arg, unsigned ring)
{
    (void)ring;
    struct prod *p = arg;
    atomic_store(&p->space, 1);
}

static void *producer(void *arg)
{
    struct prod *p = arg;
    static char rec[LOG_REC_MAX];
    for (unsigned i = 0; i < p->n; i++) {
        uint16_t type, sink;
        size_t len = make_rec(p->g, i, rec, &type, &sink);
        char *dst;
        bool waited = false;
        while ((dst = log_ring_reserve(p->ring, len)) == NULL) {
            /* like a worker: keep the line, ask for room, wait */
            if (atomic_load(&p->quit)) {
                log_flusher_nudge(p->f);
                return NULL;
            }
            if (!waited) {
                p->waits++;
                waited = true;
            }
            atomic_store(&p->ring->want_space, 1);
            log_flusher_kick(p->f);
            sleep_ms(1);
        }
        memcpy(dst, rec, len);
        log_ring_commit(p->ring, len, type, sink);
        atomic_store(&p->committed, i + 1);
        atomic_fetch_add(&p->committed_bytes, len);
        if (i % 32 == 31) {
            log_flusher_nudge(p->f); /* "end of an event-loop turn" */
        }
    }
    log_flusher_nudge(p->f);
    return NULL;
}

struct rig {
    struct log_flusher f;
    struct log_ring ring;
    struct log_ring *rings[1];
    struct prod prod;
    pthread_t t;
};

static void rig_start(struct rig *r, const char *const *paths, unsigned npaths, const struct gen *g,
                      unsigned n)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(log_ring_init(&r->ring, 1), 0);
    r->rings[0] = &r->ring;
    const char *bad = NULL;
    assert_int_equal(log_flusher_init(&r->f, paths, npaths, &bad), 0);
    r->prod.f = &r->f;
    r->prod.ring = &r->ring;
    r->prod.g = g;
    r->prod.n = n;
    assert_int_equal(log_flusher_start(&r->f, r->rings, 1, space_cb, &r->prod), 0);
    assert_int_equal(pthread_create(&r->t, NULL, producer, &r->prod), 0);
}

static void rig_join(struct rig *r)
{
    pthread_join(r->t, NULL);
}

/* ---------------------------------------------------------------- (a) regular files */

static void test_regular_files_exact(void **state)
{
    (void)state;
    setup_dir();
    char a[160], b[160];
    snprintf(a, sizeof(a), "%s/a.log", g_dir);
    snprintf(b, sizeof(b), "%s/b.log", g_dir);
    const char *paths[] = {a, b};
    const struct gen g = {.nsinks = 2, .err_every = 10, .base_len = 60};
    const unsigned n = 60000;
    struct rig r;
    rig_start(&r, paths, 2, &g, n);
    char name[32] = "";
    assert_int_equal(pthread_getname_np(r.f.thread, name, sizeof(name)), 0);
    assert_string_equal(name, "spate-log");
    rig_join(&r);
    assert_int_equal(log_flusher_stop(&r.f, 10000), 0);
    assert_false(r.f.abandoned);
    assert_int_equal(r.prod.committed, n);
    for (int s = -1; s < 2; s++) {
        size_t glen, wlen;
        char *got = s < 0 ? error_lines(&glen) : read_all(s ? b : a, &glen);
        char *want = expected(&g, n, s, &wlen);
        assert_same(s < 0 ? "error log" : s ? "b.log" : "a.log", got, glen, want, wlen);
        free(got);
        free(want);
    }
    log_ring_destroy(&r.ring);
    teardown_dir();
}

/* ---------------------------------------------------------------- (b) a FIFO nobody reads */

struct reader {
    int fd;
    unsigned read_ms;  /* read (slowly) for this long, then stop */
    size_t chunk;      /* largest read */
    unsigned pause_us; /* between reads */
    _Atomic int drain; /* then, once set: read everything to EOF */
    char *buf;
    size_t len, cap;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    uint64_t end = now_ms() + rd->read_ms;
    unsigned seed = 1;
    for (;;) {
        bool reading = now_ms() < end || atomic_load(&rd->drain);
        if (!reading) {
            sleep_ms(5);
            continue;
        }
        if (rd->cap - rd->len < rd->chunk) {
            rd->cap = rd->cap * 2 + rd->chunk;
            rd->buf = realloc(rd->buf, rd->cap);
        }
        seed = seed * 1103515245u + 12345u;
        size_t want = 1 + (seed >> 8) % rd->chunk; /* odd sizes: partial writes everywhere */
        ssize_t r = read(rd->fd, rd->buf + rd->len, want);
        if (r == 0) {
            break; /* EOF: the flusher closed its end */
        }
        if (r < 0) {
            if (errno != EAGAIN) {
                break;
            }
            sleep_ms(1);
            continue;
        }
        rd->len += (size_t)r;
        if (rd->pause_us) {
            usleep(rd->pause_us);
        }
    }
    return NULL;
}

static void test_fifo_stalled_stop_times_out(void **state)
{
    (void)state;
    setup_dir();
    char fifo[160];
    snprintf(fifo, sizeof(fifo), "%s/access.fifo", g_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct reader rd = {.read_ms = 300, .chunk = 4096, .pause_us = 2000};
    rd.fd = open(fifo, O_RDONLY | O_NONBLOCK); /* before the flusher's blocking open */
    assert_true(rd.fd >= 0);
    const char *paths[] = {fifo};
    const struct gen g = {.nsinks = 1, .err_every = 0, .base_len = 150};
    struct rig r;
    rig_start(&r, paths, 1, &g, 200000);
    pthread_t rt; /* only now: with no writer yet, a read would see EOF */
    pthread_create(&rt, NULL, reader_main, &rd);
    /* the reader stops at 300 ms; after 1 s more without progress the sink counts as failing */
    struct log_sink_stats ss;
    assert_true(WAIT_FOR(log_flusher_sink_stats(&r.f, 0, &ss) == 0 && ss.failing == EAGAIN, 4000));
    assert_true(r.prod.waits > 0); /* pipe, backlog and ring full: the producer waits */
    atomic_store(&r.prod.quit, 1);
    rig_join(&r);

    uint64_t t0 = now_ms();
    int rc = log_flusher_stop(&r.f, 500);
    uint64_t took = now_ms() - t0;
    assert_int_equal(rc, -ETIMEDOUT);
    assert_false(r.f.abandoned); /* the thread gave up by itself and was joined */
    assert_true(took >= 300 && took <= 700);
    struct log_flusher_stats st;
    log_flusher_stats(&r.f, &st);
    /* every committed line is either written or counted as not written */
    assert_int_equal(st.lines + st.unwritten_lines, r.prod.committed);
    assert_int_equal(st.bytes + st.unwritten_bytes, r.prod.committed_bytes);
    assert_true(st.unwritten_lines > 0);

    atomic_store(&rd.drain, 1); /* what reached the pipe: exactly a prefix of the stream */
    pthread_join(rt, NULL);
    close(rd.fd);
    assert_int_equal(rd.len, st.bytes);
    size_t wlen;
    char *want = expected(&g, r.prod.committed, 0, &wlen);
    assert_true(rd.len <= wlen);
    assert_same("fifo prefix", rd.buf, rd.len, want, rd.len);
    free(want);
    free(rd.buf);
    size_t elen;
    char *el = read_all(g_errlog, &elen);
    assert_non_null(strstr(el, "not accepting writes"));
    assert_non_null(strstr(el, "not written"));
    free(el);
    log_ring_destroy(&r.ring);
    teardown_dir();
}

/* ---------------------------------------------------------------- (c) a full tmpfs */

static bool g_own_mount_ns;

/* Mounts a tmpfs of `size` under g_dir/mnt and fills it. false: not permitted (skip). */
static bool full_tmpfs(const char *size, char *mnt, size_t cap, char *filler, size_t fcap)
{
    snprintf(mnt, cap, "%s/mnt", g_dir);
    assert_int_equal(mkdir(mnt, 0700), 0);
    char opts[32];
    snprintf(opts, sizeof(opts), "size=%s", size);
    if (mount("tmpfs", mnt, "tmpfs", 0, opts) < 0) {
        fprintf(stderr, "skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
        return false;
    }
    snprintf(filler, fcap, "%s/filler", mnt);
    int fd = open(filler, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    static char block[4096];
    while (write(fd, block, sizeof(block)) > 0) {
    }
    assert_int_equal(errno, ENOSPC);
    close(fd);
    return true;
}

static void drop_tmpfs(const char *mnt)
{
    umount2(mnt, MNT_DETACH);
}

static void test_full_disk_resumes(void **state)
{
    (void)state;
    setup_dir();
    char mnt[160], filler[200], log[200];
    if (!full_tmpfs("64k", mnt, sizeof(mnt), filler, sizeof(filler))) {
        teardown_dir();
        skip();
    }
    snprintf(log, sizeof(log), "%s/access.log", mnt);
    const char *paths[] = {log};
    const struct gen g = {.nsinks = 1, .err_every = 5, .base_len = 80};
    const unsigned n = 400; /* about 40 KB: fits once the filler is gone */
    struct rig r;
    rig_start(&r, paths, 1, &g, n);
    rig_join(&r);
    struct log_sink_stats ss;
    assert_true(WAIT_FOR(log_flusher_sink_stats(&r.f, 0, &ss) == 0 && ss.failing == ENOSPC, 2000));
    /* the access sink fails; the error lines behind its lines in the same ring still flow */
    size_t want_len, got_len;
    char *want = expected(&g, n, -1, &want_len);
    assert_true(WAIT_FOR((free(error_lines(&got_len)), got_len == want_len), 2000));
    char *got = error_lines(&got_len);
    assert_same("error lines while the access log fails", got, got_len, want, want_len);
    free(got);
    free(want);
    sleep_ms(300);
    struct log_flusher_stats st;
    log_flusher_stats(&r.f, &st);
    assert_true(st.write_errors > 0);
    assert_true(st.backlog_bytes > 0);
    assert_int_equal(log_flusher_sink_stats(&r.f, 0, &ss), 0);
    assert_int_equal(ss.lines, 0); /* nothing written, nothing lost */
    assert_int_equal(file_size(log), 0);

    assert_int_equal(unlink(filler), 0); /* space again: it resumes by itself */
    unsigned n_access = n - n / 5;
    assert_true(WAIT_FOR(log_flusher_sink_stats(&r.f, 0, &ss) == 0 && ss.lines == n_access, 4000));
    assert_true(WAIT_FOR(log_flusher_sink_stats(&r.f, 0, &ss) == 0 && ss.failing == 0, 2000));
    assert_int_equal(log_flusher_stop(&r.f, 5000), 0);
    got = read_all(log, &got_len);
    want = expected(&g, n, 0, &want_len);
    assert_same("access log after the disk had room again", got, got_len, want, want_len);
    free(got);
    free(want);
    char *el = read_all(g_errlog, &got_len);
    assert_non_null(strstr(el, "[error]"));
    assert_non_null(strstr(el, "No space left on device"));
    assert_non_null(strstr(el, log));
    assert_non_null(strstr(el, "is being written again"));
    free(el);
    log_ring_destroy(&r.ring);
    drop_tmpfs(mnt);
    teardown_dir();
}

/* More than the backlog and the ring hold: the ring stops, the producer waits, and still
 * every line arrives once there is room, in order, in the file that replaced the old one. */
static void test_full_disk_holds_ring(void **state)
{
    (void)state;
    setup_dir();
    char mnt[160], filler[200], log[200];
    if (!full_tmpfs("1m", mnt, sizeof(mnt), filler, sizeof(filler))) {
        teardown_dir();
        skip();
    }
    snprintf(log, sizeof(log), "%s/access.log", mnt);
    const char *paths[] = {log};
    const struct gen g = {.nsinks = 1, .err_every = 0, .base_len = 500};
    const unsigned n = 1000; /* about 750 KB */
    struct rig r;
    rig_start(&r, paths, 1, &g, n);
    assert_true(WAIT_FOR(r.prod.waits > 0, 3000)); /* backlog and ring full */
    sleep_ms(1300);
    assert_true(atomic_load(&r.prod.committed) < n);
    assert_int_equal(file_size(log), 0);
    size_t len;
    char *el = read_all(g_errlog, &len); /* the flusher's own reports still get out */
    assert_non_null(strstr(el, "still failing"));
    free(el);
    /* the file is replaced too: only a reopen of the path finds the new one */
    assert_int_equal(unlink(log), 0);
    assert_int_equal(unlink(filler), 0);
    rig_join(&r);
    struct log_sink_stats ss;
    assert_true(WAIT_FOR(log_flusher_sink_stats(&r.f, 0, &ss) == 0 && ss.lines == n, 5000));
    assert_int_equal(log_flusher_stop(&r.f, 5000), 0);
    size_t got_len, want_len;
    char *got = read_all(log, &got_len);
    char *want = expected(&g, n, 0, &want_len);
    assert_same("access log after a held ring", got, got_len, want, want_len);
    free(got);
    free(want);
    log_ring_destroy(&r.ring);
    drop_tmpfs(mnt);
    teardown_dir();
}

/* ---------------------------------------------------------------- (d) partial writes */

static void check_pipe_stream(const char *path_or_stdout, int rfd, struct gen *g, unsigned n)
{
    struct reader rd = {.fd = rfd, .read_ms = 0, .chunk = 3000, .pause_us = 200};
    atomic_store(&rd.drain, 1);
    const char *paths[] = {path_or_stdout};
    struct rig r;
    rig_start(&r, paths, 1, g, n);
    pthread_t rt; /* only now: with no writer yet, a read would see EOF */
    pthread_create(&rt, NULL, reader_main, &rd);
    rig_join(&r);
    int rc = log_flusher_stop(&r.f, 20000);
    pthread_join(rt, NULL); /* EOF once stop closed the flusher's descriptor */
    assert_int_equal(rc, 0);
    size_t wlen;
    char *want = expected(g, n, 0, &wlen);
    assert_same("pipe stream", rd.buf, rd.len, want, wlen);
    free(want);
    free(rd.buf);
    log_ring_destroy(&r.ring);
}

static void test_partial_writes_fifo(void **state)
{
    (void)state;
    setup_dir();
    char fifo[160];
    snprintf(fifo, sizeof(fifo), "%s/p.fifo", g_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int rfd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rfd >= 0);
    assert_true(fcntl(rfd, F_SETPIPE_SZ, 4096) >= 4096); /* one page: every write is cut */
    struct gen g = {.nsinks = 1, .base_len = 300, .big_every = 97, .big_len = 20000};
    check_pipe_stream(fifo, rfd, &g, 4000);
    close(rfd);
    teardown_dir();
}

/* stdout is a pipe shared with others: never made non-blocking, still written exactly. */
static void test_partial_writes_inherited_stdout(void **state)
{
    (void)state;
    setup_dir();
    int pp[2];
    assert_int_equal(pipe(pp), 0);
    assert_true(fcntl(pp[0], F_SETPIPE_SZ, 4096) >= 4096);
    fflush(stdout);
    int saved = dup(1);
    dup2(pp[1], 1);
    close(pp[1]);
    int fl_before = fcntl(1, F_GETFL);
    fcntl(pp[0], F_SETFL, O_NONBLOCK);
    struct gen g = {.nsinks = 1, .base_len = 200, .big_every = 61, .big_len = 9000};
    /* the reader sees EOF only when every writer is gone: stdout too */
    struct reader rd = {.fd = pp[0], .chunk = 2000, .pause_us = 200};
    atomic_store(&rd.drain, 1);
    pthread_t rt;
    pthread_create(&rt, NULL, reader_main, &rd);
    const char *paths[] = {"stdout"};
    struct rig r;
    rig_start(&r, paths, 1, &g, 2000);
    int fl_during = fcntl(1, F_GETFL);
    rig_join(&r);
    int rc = log_flusher_stop(&r.f, 20000);
    dup2(saved, 1);
    close(saved);
    pthread_join(rt, NULL);
    close(pp[0]);
    assert_int_equal(rc, 0);
    assert_int_equal(fl_before & O_NONBLOCK, 0);
    assert_int_equal(fl_during & O_NONBLOCK, 0);
    size_t wlen;
    char *want = expected(&g, 2000, 0, &wlen);
    assert_same("stdout pipe", rd.buf, rd.len, want, wlen);
    free(want);
    free(rd.buf);
    log_ring_destroy(&r.ring);
    teardown_dir();
}

/* ---------------------------------------------------------------- (e) idle */

static void test_idle_sleeps_nudge_wakes(void **state)
{
    (void)state;
    setup_dir();
    char a[160];
    snprintf(a, sizeof(a), "%s/a.log", g_dir);
    const char *paths[] = {a};
    struct rig r;
    const struct gen g = {.nsinks = 1, .base_len = 40};
    rig_start(&r, paths, 1, &g, 0); /* a producer with nothing to say */
    rig_join(&r);
    sleep_ms(300);
    struct log_flusher_stats s0, s1;
    log_flusher_stats(&r.f, &s0);
    sleep_ms(700);
    log_flusher_stats(&r.f, &s1);
    assert_int_equal(s1.wakeups, s0.wakeups); /* not once in 700 ms */

    /* a record without nudge stays put: nothing polls the ring */
    char *p = log_ring_reserve(&r.ring, 8);
    memcpy(p, "first\n", 6);
    log_ring_commit(&r.ring, 6, LOG_REC_ACCESS, 0);
    sleep_ms(300);
    assert_int_equal(file_size(a), 0);

    /* nudge after a commit: written at once */
    p = log_ring_reserve(&r.ring, 8);
    memcpy(p, "second\n", 7);
    log_ring_commit(&r.ring, 7, LOG_REC_ACCESS, 0);
    uint64_t t0 = now_ms();
    log_flusher_nudge(&r.f);
    assert_true(WAIT_FOR(file_size(a) == 13, 1000));
    uint64_t took = now_ms() - t0;
    assert_true(took < 90); /* not the 100 ms batching tick */
    /* and it goes back to sleep */
    sleep_ms(300);
    log_flusher_stats(&r.f, &s0);
    sleep_ms(500);
    log_flusher_stats(&r.f, &s1);
    assert_int_equal(s1.wakeups, s0.wakeups);
    assert_int_equal(log_flusher_stop(&r.f, 1000), 0);
    log_ring_destroy(&r.ring);
    teardown_dir();
}

/* ---------------------------------------------------------------- a thread that is stopped */

/* The kernel tid of this process's thread named `name`, or -1. */
static pid_t tid_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    pid_t found = -1;
    while (d && (e = readdir(d)) != NULL) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *fp = fopen(path, "r");
        if (fp && fgets(comm, sizeof(comm), fp) && strncmp(comm, name, strlen(name)) == 0) {
            found = atoi(e->d_name);
        }
        if (fp) {
            fclose(fp);
        }
    }
    if (d) {
        closedir(d);
    }
    return found;
}

/*
 * A child stops just the flusher thread with ptrace (as a debugger would): stop() must come
 * back in time without waiting for it or freeing what it uses; once the thread runs again, a
 * second stop() finishes the job and nothing was lost.
 */
static void test_stopped_thread_abandoned(void **state)
{
    (void)state;
    setup_dir();
    char a[160];
    snprintf(a, sizeof(a), "%s/a.log", g_dir);
    const char *paths[] = {a};
    const struct gen g = {.nsinks = 1, .base_len = 40};
    struct rig r;
    rig_start(&r, paths, 1, &g, 1000);
    rig_join(&r);
    pid_t tid = tid_named("spate-log");
    assert_true(tid > 0);
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    pid_t child = fork();
    if (child == 0) {
        close(done[1]); /* so that the parent's close is an EOF here */
        char c = 'n';
        if (ptrace(PTRACE_SEIZE, tid, 0, 0) == 0 && ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0) {
            int st;
            c = waitpid(tid, &st, __WALL) == tid ? 'y' : 'n';
        }
        ssize_t w = write(go[1], &c, 1);
        (void)!read(done[0], &c, 1); /* until the parent is done; exiting detaches */
        _exit(w == 1 ? 0 : 1);
    }
    char c = 'n';
    assert_int_equal(read(go[0], &c, 1), 1);
    if (c != 'y') {
        fprintf(stderr, "skipped: ptrace not permitted here\n");
        close(done[1]);
        waitpid(child, NULL, 0);
        assert_int_equal(log_flusher_stop(&r.f, 5000), 0);
        log_ring_destroy(&r.ring);
        teardown_dir();
        skip();
    }
    /* lines committed while the thread is stopped */
    for (int i = 0; i < 5; i++) {
        char *p = log_ring_reserve(&r.ring, 16);
        memcpy(p, "while stopped\n", 14);
        log_ring_commit(&r.ring, 14, LOG_REC_ACCESS, 0);
    }
    log_flusher_nudge(&r.f);
    uint64_t t0 = now_ms();
    int rc = log_flusher_stop(&r.f, 300);
    uint64_t took = now_ms() - t0;
    assert_int_equal(rc, -ETIMEDOUT);
    assert_true(r.f.abandoned);
    assert_true(took >= 300 && took < 600);
    size_t len;
    char *el = read_all(g_errlog, &len);
    /* the message gives the time it actually waited: 300 ms or a little more under load */
    const char *msg = strstr(el, "did not stop within ");
    assert_non_null(msg);
    unsigned waited = (unsigned)strtoul(msg + strlen("did not stop within "), NULL, 10);
    assert_true(waited >= 300 && waited < 600);
    free(el);

    close(done[1]); /* the child exits: the thread runs again */
    waitpid(child, NULL, 0);
    close(go[0]);
    close(go[1]);
    close(done[0]);
    assert_int_equal(log_flusher_stop(&r.f, 5000), 0); /* it may be called again */
    assert_false(r.f.abandoned);
    size_t glen;
    char *got = read_all(a, &glen);
    size_t wlen;
    char *want = expected(&g, 1000, 0, &wlen);
    want = realloc(want, wlen + 5 * 14 + 1);
    for (int i = 0; i < 5; i++) {
        memcpy(want + wlen + 14 * (size_t)i, "while stopped\n", 14);
    }
    wlen += 5 * 14;
    assert_same("after the stopped thread ran again", got, glen, want, wlen);
    free(got);
    free(want);
    log_ring_destroy(&r.ring);
    teardown_dir();
}

/* ---------------------------------------------------------------- hand_over, never started */

static void test_hand_over_written_at_stop(void **state)
{
    (void)state;
    setup_dir();
    char a[160];
    snprintf(a, sizeof(a), "%s/a.log", g_dir);
    const char *paths[] = {a};
    struct rig r;
    const struct gen g = {.nsinks = 1, .base_len = 40};
    rig_start(&r, paths, 1, &g, 10);
    rig_join(&r);
    struct log_line *head = NULL, **tail = &head;
    for (int i = 0; i < 3; i++) {
        struct log_line *l = malloc(sizeof(*l) + 16);
        l->next = NULL;
        l->len = (uint32_t)snprintf(l->data, 16, "late %d\n", i);
        l->type = LOG_REC_ACCESS;
        l->sink = 0;
        *tail = l;
        tail = &l->next;
    }
    log_flusher_hand_over(&r.f, head);
    assert_int_equal(log_flusher_stop(&r.f, 2000), 0);
    size_t wlen, glen;
    char *want = expected(&g, 10, 0, &wlen);
    want = realloc(want, wlen + 32);
    strcpy(want + wlen, "late 0\nlate 1\nlate 2\n");
    wlen += 21;
    char *got = read_all(a, &glen);
    assert_same("hand over", got, glen, want, wlen);
    free(got);
    free(want);
    log_ring_destroy(&r.ring);

    /* a flusher that never started stops at once */
    struct log_flusher f;
    const char *bad;
    assert_int_equal(log_flusher_init(&f, paths, 1, &bad), 0);
    assert_int_equal(log_flusher_stop(&f, 1000), 0);
    teardown_dir();
}

int main(void)
{
    /* a mount namespace of our own, so the tmpfs tests leave nothing behind even on a crash */
    if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0) {
        g_own_mount_ns = true;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_files_exact),
        cmocka_unit_test(test_fifo_stalled_stop_times_out),
        cmocka_unit_test(test_full_disk_resumes),
        cmocka_unit_test(test_full_disk_holds_ring),
        cmocka_unit_test(test_partial_writes_fifo),
        cmocka_unit_test(test_partial_writes_inherited_stdout),
        cmocka_unit_test(test_idle_sleeps_nudge_wakes),
        cmocka_unit_test(test_hand_over_written_at_stop),
        cmocka_unit_test(test_stopped_thread_abandoned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
