/* tls_rig.c - see tls_rig.h. */
#include "tls_rig.h"

#include "core/base/compiler.h"
#include "core/base/hash.h"
#include "core/base/pool.h"
#include "core/net/tls.h"
#include "fs/cache.h"
#include "fs/docroot.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY_MAX (1u << 20)

static struct io_loop loop;
static struct transport_env env;
static struct block_pool pool;
static struct transport tr;
static SSL_CTX *sctx, *cctx;
static SSL *cl;
static int cfd = -1;
static uint64_t sent;
static int drained, failed;
static char *body;
static struct fs_cache *cache;
static struct fs_root root;
static struct fs_entry *file;
static char dir[64];

static void ev_data(struct transport *t, const char *p, size_t n)
{
    (void)t;
    (void)p;
    (void)n;
}

static void ev_eof(struct transport *t)
{
    (void)t;
    failed = 1;
}

static void ev_error(struct transport *t, int err)
{
    (void)err;
    failed = 1;
    t->ops->abort(t);
}

static void ev_sent(struct transport *t, uint64_t n)
{
    (void)t;
    sent += n;
}

static void ev_drained(struct transport *t)
{
    (void)t;
    drained = 1;
}

static void ev_nop(struct transport *t)
{
    (void)t;
}

static const struct transport_events events = {ev_data,    ev_eof, ev_error, ev_sent,
                                               ev_drained, ev_nop, ev_nop};

static void turn(void)
{
    io_loop_run_deferred(&loop);
    if (io_loop_wait(&loop, loop.now_ms + 1) < 0) {
        failed = 1;
    }
}

/* The client drops whatever ciphertext has arrived. */
static void drain_client(void)
{
    static char sink[1 << 18];
    while (read(cfd, sink, sizeof(sink)) > 0) {
    }
}

static SSL_CTX *server_ctx(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"bench", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, key, EVP_sha256());
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx, x);
    SSL_CTX_use_PrivateKey(ctx, key);
    tls_transport_prepare_ctx(ctx);
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

static int make_file(void)
{
    strcpy(dir, "/tmp/spate-tlsrig-XXXXXX");
    if (!mkdtemp(dir)) {
        return -1;
    }
    char p[128];
    snprintf(p, sizeof(p), "%s/f", dir);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    if (fd < 0 || write(fd, body, BODY_MAX) != (ssize_t)BODY_MAX) {
        return -1;
    }
    close(fd);
    struct fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    cache = fs_cache_new(&lim, NULL);
    if (!cache || fs_root_open(&root, dir) != 0) {
        return -1;
    }
    file = fs_cache_get(cache, &root, 0, SLICE_LIT("/f"), 0);
    return file ? 0 : -1;
}

int tls_rig_init(const char *cipher)
{
    char err[200];
    hash_set_seed(1);
    struct io_loop_params p = IO_LOOP_PARAMS_DEFAULT;
    if (io_loop_prepare(&loop) < 0 || io_loop_init(&loop, &p, err, sizeof(err)) < 0) {
        return -1;
    }
    env.loop = &loop;
    env.sendfile_chunk = 1u << 20;
    env.use_sendfile = true;
    env.cold_reads = true;
    env.cachestat_ok = true;
    block_pool_init(&pool, 32768, 4);
    body = malloc(BODY_MAX);
    memset(body, 'b', BODY_MAX);
    if (make_file() < 0) {
        return -1;
    }
    sctx = server_ctx();
    cctx = SSL_CTX_new(TLS_client_method());
    if (cipher) {
        SSL_CTX_set_ciphersuites(cctx, cipher);
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0) {
        return -1;
    }
    /* a socket buffer like a loopback TCP one, so sends are not cut into tiny pieces */
    int sz = 4 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    cfd = sv[1];
    transport_tls_init(&tr, sv[0], &env, &events, sctx);
    tr.out = outq_new(&pool);
    tr.ops->read_start(&tr);
    cl = SSL_new(cctx);
    SSL_set_fd(cl, cfd);
    for (int i = 0; i < 1000; i++) {
        int r = SSL_connect(cl);
        if (r == 1) {
            break;
        }
        int e = SSL_get_error(cl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            return -1;
        }
        turn();
    }
    for (int i = 0; i < 20; i++) {
        turn(); /* the session tickets */
    }
    drain_client();
    return failed ? -1 : 0;
}

static size_t run(size_t head, size_t body_len, bool as_file)
{
    static char hbuf[1024];
    char *h = outq_reserve(tr.out, head);
    if (!h) {
        return 0;
    }
    memcpy(h, hbuf, head);
    outq_commit(tr.out, head);
    if (as_file) {
        outq_push_file(tr.out, file, 0, MIN(body_len, BODY_MAX));
    } else {
        outq_push_mem(tr.out, body, MIN(body_len, BODY_MAX), NULL);
    }
    uint64_t before = sent;
    drained = 0;
    tr.ops->flush(&tr);
    while (!drained && !failed) {
        turn();
        drain_client();
    }
    return (size_t)(sent - before);
}

size_t tls_rig_response(size_t head, size_t body_len)
{
    return run(head, body_len, false);
}

size_t tls_rig_file_response(size_t head, size_t body_len)
{
    return run(head, body_len, true);
}

void tls_rig_fini(void)
{
    tr.ops->abort(&tr);
    for (int i = 0; i < 100 && transport_busy(&tr); i++) {
        turn();
    }
    outq_free(tr.out);
    tr.ops->close(&tr);
    tls_env_fini(&env);
    SSL_free(cl);
    close(cfd);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    fs_entry_release(file);
    fs_cache_free(cache);
    fs_root_close(&root);
    block_pool_destroy(&pool);
    io_loop_fini(&loop);
    io_loop_unprepare(&loop);
    free(body);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        failed = 1;
    }
}
