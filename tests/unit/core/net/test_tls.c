/*
 * Unit tests for the TLS transport (core/net/tls.c): a real io_loop, the transport on one end
 * of a socket pair, an OpenSSL client on the other driven between loop turns. The handshake
 * raises secured once before any data; memory and file segments (cached ones with pread, cold
 * ones through io_uring reads) arrive whole and in order, and sent counts plaintext bytes;
 * garbage before a ClientHello gets no byte back; close_notify both ways; a TLS 1.3 key
 * update asked by the client; TLS 1.2 renegotiation refused. Where the kernel has no TLS,
 * TLS 1.3 connections go through the in-place sealer (core/net/tls_seal.c), checked here by
 * OpenSSL's client reading what it sealed: file ranges at odd offsets, a KeyUpdate answering
 * the client's, our own key updates at the per-key record limit; TLS 1.2 stays OpenSSL's.
 */
#include "common/unit.h"
#include "core/base/hash.h"
#include "core/net/plain.h"
#include "core/net/tls.h"
#include "core/net/tls_conn.h"
#include "core/net/tls_ktls.h"
#include "fs/cache.h"
#include "fs/docroot.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FILE_LEN 300000u

struct owner {
    struct transport t;
    char got[4096];
    size_t got_len;
    int secured, eof, error, drained, released;
    bool data_before_secured;
    uint64_t sent;
};

static struct io_loop loop;
static struct transport_env env;
static struct block_pool outq_pool;
static SSL_CTX *server_ctx, *client_ctx, *client12_ctx;
static struct fs_cache *cache;
static struct fs_root root;
static char dir[64];
static char big[1u << 20];

static struct owner *owner_of(struct transport *t)
{
    return container_of(t, struct owner, t);
}

static void ev_data(struct transport *t, const char *p, size_t n)
{
    struct owner *o = owner_of(t);
    o->data_before_secured |= o->secured == 0;
    if (o->got_len + n <= sizeof(o->got)) {
        memcpy(o->got + o->got_len, p, n);
        o->got_len += n;
    }
}

static void ev_eof(struct transport *t)
{
    owner_of(t)->eof++;
}

static void ev_error(struct transport *t, int err)
{
    (void)err;
    owner_of(t)->error++;
    t->ops->abort(t); /* as conn.c does */
}

static void ev_sent(struct transport *t, uint64_t n)
{
    owner_of(t)->sent += n;
}

static void ev_drained(struct transport *t)
{
    owner_of(t)->drained++;
}

static void ev_release(struct transport *t)
{
    owner_of(t)->released++;
}

static void ev_secured(struct transport *t)
{
    owner_of(t)->secured++;
}

static const struct transport_events events = {
    ev_data, ev_eof, ev_error, ev_sent, ev_drained, ev_release, ev_secured,
};

/* ---------------------------------------------------------------- setup */

static SSL_CTX *make_server_ctx(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(key);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    tls_transport_prepare_ctx(ctx);
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

static int setup(void **state)
{
    (void)state;
    hash_set_seed(5);
    char err[200];
    if (io_loop_prepare(&loop) < 0) {
        return -1;
    }
    struct io_loop_params p = {64, 1024, 8, 4096}; /* few small buffers: ENOBUFS happens */
    if (io_loop_init(&loop, &p, err, sizeof(err)) < 0) {
        fprintf(stderr, "io_loop_init: %s\n", err);
        return -1;
    }
    env.loop = &loop;
    env.sendfile_chunk = 1u << 20;
    env.use_sendfile = true;
    env.cold_reads = true;
    env.cachestat_ok = true;
    block_pool_init(&outq_pool, 32768, 4);
    server_ctx = make_server_ctx();
    client_ctx = SSL_CTX_new(TLS_client_method());
    client12_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(client12_ctx, TLS1_2_VERSION);
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (char)('a' + (i * 7 + i / 4096) % 26);
    }
    strcpy(dir, "/tmp/spate-tls-XXXXXX");
    if (!mkdtemp(dir)) {
        return -1;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/f", dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd < 0 || write(fd, big, FILE_LEN) != (ssize_t)FILE_LEN) {
        return -1;
    }
    close(fd);
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    cache = fs_cache_new(&lim, NULL);
    return cache && fs_root_open(&root, dir) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fs_cache_free(cache);
    fs_root_close(&root);
    tls_env_fini(&env);
    block_pool_destroy(&outq_pool);
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    SSL_CTX_free(client12_ctx);
    io_loop_fini(&loop);
    io_loop_unprepare(&loop);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void turn(void)
{
    io_loop_run_deferred(&loop);
    assert_int_equal(io_loop_wait(&loop, loop.now_ms + 2), 0);
}

/* ---------------------------------------------------------------- a connection */

struct pair {
    struct owner o;
    int cfd;
    SSL *cl;
};

/* KeyUpdate messages the client received (its message callback). */
static int key_updates_in;

static void client_msg(int write_p, int version, int type, const void *buf, size_t len, SSL *ssl,
                       void *arg)
{
    (void)version;
    (void)ssl;
    (void)arg;
    if (!write_p && type == SSL3_RT_HANDSHAKE && len && ((const uint8_t *)buf)[0] == 24) {
        key_updates_in++;
    }
}

static void pair_open(struct pair *p, SSL_CTX *cctx)
{
    memset(p, 0, sizeof(*p));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    p->cfd = sv[1];
    transport_tls_init(&p->o.t, sv[0], &env, &events, server_ctx);
    p->o.t.out = outq_new(&outq_pool);
    assert_non_null(p->o.t.out);
    p->o.t.ops->read_start(&p->o.t);
    if (cctx) {
        p->cl = SSL_new(cctx);
        SSL_set_msg_callback(p->cl, client_msg);
        SSL_set_fd(p->cl, p->cfd);
        SSL_set_connect_state(p->cl);
    }
}

/* Closes the transport (aborting it first) and waits for its last operation. */
static void pair_close(struct pair *p)
{
    struct transport *t = &p->o.t;
    t->ops->abort(t);
    for (int i = 0; i < 1000 && transport_busy(t); i++) {
        turn();
    }
    assert_false(transport_busy(t));
    outq_free(t->out);
    t->out = NULL;
    t->ops->close(t);
    SSL_free(p->cl);
    p->cl = NULL;
    for (int i = 0; i < 5; i++) {
        turn(); /* the close(2) goes through the ring */
    }
    if (p->cfd >= 0) {
        close(p->cfd);
    }
}

/* Runs the client's step until it succeeds (> 0) or fails for good (<= 0 returned). */
static int client(struct pair *p, int (*step)(SSL *, void *, int), void *buf, int len)
{
    for (int i = 0; i < 3000; i++) {
        ERR_clear_error();
        int r = step(p->cl, buf, len);
        if (r > 0) {
            return r;
        }
        int e = SSL_get_error(p->cl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            return r;
        }
        turn();
    }
    fail_msg("the client made no progress");
    return -1;
}

static int do_connect(SSL *s, void *b, int n)
{
    (void)b;
    (void)n;
    return SSL_connect(s);
}

static int do_write(SSL *s, void *b, int n)
{
    return SSL_write(s, b, n);
}

static int do_read(SSL *s, void *b, int n)
{
    return SSL_read(s, b, n);
}

static void client_send(struct pair *p, const char *s)
{
    assert_int_equal(client(p, do_write, (void *)s, (int)strlen(s)), (int)strlen(s));
}

/* Reads exactly n bytes into buf. */
static void client_recv(struct pair *p, char *buf, size_t n)
{
    size_t have = 0;
    while (have < n) {
        int r = client(p, do_read, buf + have, (int)MIN(n - have, 65536));
        assert_true(r > 0);
        have += (size_t)r;
    }
}

static void wait_for(struct pair *p, size_t got_len)
{
    for (int i = 0; i < 1000 && p->o.got_len < got_len && !p->o.error; i++) {
        turn();
    }
    assert_int_equal(p->o.got_len, got_len);
}

static void queue(struct transport *t, const char *s)
{
    size_t n = strlen(s);
    char *d = outq_reserve(t->out, n);
    assert_non_null(d);
    memcpy(d, s, n);
    outq_commit(t->out, n);
}

/* ---------------------------------------------------------------- tests */

static void test_request_and_file(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, client_ctx);
    assert_int_equal(client(&p, do_connect, NULL, 0), 1);
    client_send(&p, "GET / HTTP/1.1\r\n\r\n");
    wait_for(&p, 18);
    assert_memory_equal(p.o.got, "GET / HTTP/1.1\r\n\r\n", 18);
    assert_int_equal(p.o.secured, 1);
    assert_false(p.o.data_before_secured);
    bool sealed = (tls_of(&p.o.t)->flags & TLS_SEALED) != 0;
    assert_true(sealed == !tls_ktls_available()); /* TLS 1.3: ours, unless the kernel's */
    struct slice alpn = p.o.t.ops->alpn(&p.o.t);
    assert_int_equal(alpn.len, 0);
    assert_non_null(p.o.t.ops->ssl(&p.o.t));

    /* a head, the file from disk (pread), a memory tail; then the file once more, cold */
    struct fs_entry *e = fs_cache_get(cache, &root, 0, SLICE_LIT("/f"), 0);
    assert_non_null(e);
    queue(&p.o.t, "HEAD");
    outq_push_file(p.o.t.out, e, 0, FILE_LEN);
    queue(&p.o.t, "TAIL");
    p.o.t.ops->flush(&p.o.t);
    static char buf[FILE_LEN + 8];
    client_recv(&p, buf, FILE_LEN + 8);
    assert_memory_equal(buf, "HEAD", 4);
    assert_memory_equal(buf + 4, big, FILE_LEN);
    assert_memory_equal(buf + 4 + FILE_LEN, "TAIL", 4);
    for (int i = 0; i < 100 && p.o.sent < FILE_LEN + 8; i++) {
        turn();
    }
    assert_int_equal(p.o.sent, FILE_LEN + 8);
    assert_true(p.o.drained >= 1);
    assert_true(outq_empty(p.o.t.out));
    assert_false(p.o.t.flags & TR_SENDING);

    /* cached ranges at offsets of every alignment, each after a head of another length */
    static const uint32_t offs[] = {1, 13, 4097, 16320, 16383, 99999};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        uint64_t before = p.o.sent;
        uint32_t n = FILE_LEN - offs[i] - 7 * (uint32_t)i;
        outq_push_mem(p.o.t.out, "0123456789", i + 1, NULL);
        outq_push_file(p.o.t.out, e, offs[i], n);
        p.o.t.ops->flush(&p.o.t);
        client_recv(&p, buf, i + 1 + n);
        assert_memory_equal(buf, "0123456789", i + 1);
        assert_memory_equal(buf + i + 1, big + offs[i], n);
        for (int k = 0; k < 100 && p.o.sent < before + i + 1 + n; k++) {
            turn();
        }
        assert_int_equal(p.o.sent, before + i + 1 + n);
    }

    uint64_t reads = env.reads;
    assert_int_equal(fdatasync(e->fd), 0); /* dirty pages stay cached */
    assert_int_equal(posix_fadvise(e->fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    outq_push_file(p.o.t.out, e, 1000, FILE_LEN - 1000);
    p.o.t.ops->flush(&p.o.t);
    client_recv(&p, buf, FILE_LEN - 1000);
    assert_memory_equal(buf, big + 1000, FILE_LEN - 1000);
    assert_true(env.reads > reads); /* read through io_uring, not pread */
    fs_entry_release(e);
    assert_int_equal(p.o.error, 0);
    pair_close(&p);
}

static void test_large_memory(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, client_ctx);
    assert_int_equal(client(&p, do_connect, NULL, 0), 1);
    /* many small segments gathered into records, then one large one */
    char small[40][8];
    for (int i = 0; i < 40; i++) {
        snprintf(small[i], sizeof(small[i]), "<%05d>", i);
        outq_push_mem(p.o.t.out, small[i], 7, NULL);
    }
    outq_push_mem(p.o.t.out, big, sizeof(big), NULL);
    p.o.t.ops->flush(&p.o.t);
    static char buf[sizeof(big) + 280];
    client_recv(&p, buf, sizeof(buf));
    assert_memory_equal(buf, "<00000><00001>", 14);
    assert_memory_equal(buf + 273, "<00039>", 7);
    assert_memory_equal(buf + 280, big, sizeof(big));
    for (int i = 0; i < 100 && p.o.sent < sizeof(buf); i++) {
        turn();
    }
    assert_int_equal(p.o.sent, sizeof(buf));
    pair_close(&p);
}

static void test_garbage_before_hello(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, NULL);
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(p.cfd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
    for (int i = 0; i < 200 && !p.o.error; i++) {
        turn();
    }
    assert_int_equal(p.o.error, 1);
    assert_int_equal(p.o.secured, 0);
    assert_int_equal(p.o.got_len, 0);
    int cfd = p.cfd;
    p.cfd = -1;
    pair_close(&p);
    /* the transport closed its end: the client sees the end and not one byte (no alert) */
    char c;
    assert_int_equal(read(cfd, &c, 1), 0);
    close(cfd);
}

static void test_close_notify(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, client_ctx);
    assert_int_equal(client(&p, do_connect, NULL, 0), 1);
    /* ours: after the queue, close_notify, then the FIN */
    queue(&p.o.t, "bye");
    p.o.t.ops->shutdown(&p.o.t, false);
    p.o.t.ops->flush(&p.o.t);
    char buf[8];
    client_recv(&p, buf, 3);
    assert_memory_equal(buf, "bye", 3);
    int r = client(&p, do_read, buf, sizeof(buf));
    assert_int_equal(r, 0);
    assert_int_equal(SSL_get_error(p.cl, r), SSL_ERROR_ZERO_RETURN);
    /* theirs: eof */
    SSL_shutdown(p.cl);
    for (int i = 0; i < 200 && !p.o.eof; i++) {
        turn();
    }
    assert_int_equal(p.o.eof, 1);
    assert_int_equal(p.o.error, 0);
    pair_close(&p);
}

static void test_key_update(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, client_ctx);
    assert_int_equal(client(&p, do_connect, NULL, 0), 1);
    assert_int_equal(SSL_version(p.cl), TLS1_3_VERSION);
    key_updates_in = 0;
    char buf[8];
    for (int round = 0; round < 3; round++) {
        assert_int_equal(SSL_key_update(p.cl, round == 1 ? SSL_KEY_UPDATE_NOT_REQUESTED
                                                         : SSL_KEY_UPDATE_REQUESTED),
                         1);
        client_send(&p, "k");
        wait_for(&p, (size_t)round + 1);
        queue(&p.o.t, "K");
        p.o.t.ops->flush(&p.o.t);
        client_recv(&p, buf, 1);
        assert_int_equal(buf[0], 'K');
    }
    /* rounds 0 and 2 asked for ours: answered (sealed, the answer is the sealer's) */
    assert_int_equal(key_updates_in, 2);
    assert_int_equal(p.o.error, 0);
    pair_close(&p);
}

/* The sealer updates its key by itself before a key has sealed too many records. */
static void test_own_key_updates(void **state)
{
    (void)state;
    if (tls_ktls_available()) {
        skip(); /* the kernel sends these connections' records */
    }
    struct pair p;
    pair_open(&p, client_ctx);
    assert_int_equal(client(&p, do_connect, NULL, 0), 1);
    for (int i = 0; i < 200 && !p.o.secured; i++) {
        turn(); /* the client's Finished reaches the server */
    }
    struct tls_conn *tc = tls_of(&p.o.t);
    assert_true(tc->flags & TLS_SEALED);
    key_updates_in = 0;
    tc->seal_limit = tc->seal_seq + 12; /* AES-GCM's is 2^24: too many to send here */
    struct fs_entry *e = fs_cache_get(cache, &root, 0, SLICE_LIT("/f"), 0);
    assert_non_null(e);
    outq_push_file(p.o.t.out, e, 0, FILE_LEN); /* 19 records */
    outq_push_mem(p.o.t.out, big, sizeof(big), NULL); /* 65 more */
    p.o.t.ops->flush(&p.o.t);
    static char buf[FILE_LEN + sizeof(big)];
    client_recv(&p, buf, sizeof(buf));
    assert_memory_equal(buf, big, FILE_LEN);
    assert_memory_equal(buf + FILE_LEN, big, sizeof(big));
    assert_true(key_updates_in >= 1);
    /* each key sealed at most seal_limit records (the first one's count had started) */
    assert_true(key_updates_in >= (int)((19 + 65) / 12) - 1);
    fs_entry_release(e);
    assert_int_equal(p.o.error, 0);
    pair_close(&p);
}

static void test_renegotiation_refused(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, client12_ctx);
    assert_int_equal(client(&p, do_connect, NULL, 0), 1);
    assert_int_equal(SSL_version(p.cl), TLS1_2_VERSION);
    assert_false(tls_of(&p.o.t)->flags & TLS_SEALED); /* TLS 1.2: OpenSSL's records */
    client_send(&p, "x");
    wait_for(&p, 1);
    assert_int_equal(SSL_renegotiate(p.cl), 1);
    char buf[8];
    int r = client(&p, do_read, buf, sizeof(buf)); /* drives the renegotiation */
    assert_true(r <= 0);
    assert_int_equal(p.o.secured, 1); /* never a second handshake */
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_and_file),     cmocka_unit_test(test_large_memory),
        cmocka_unit_test(test_garbage_before_hello), cmocka_unit_test(test_close_notify),
        cmocka_unit_test(test_key_update),           cmocka_unit_test(test_renegotiation_refused),
        cmocka_unit_test(test_own_key_updates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
