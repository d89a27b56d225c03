/*
 * tls.c - the TLS transport: OpenSSL driven by the worker's io_uring, never blocking (tls.h).
 *
 * It runs over the plain socket's machinery (net/plain.c): the same multishot receive into the
 * loop's provided buffers, the same guards, abort, peer and close. t->ev is the transport's
 * own events table below, through which plain.c's receive hands it ciphertext; the owner's
 * events are kept in struct tls_conn.
 *
 * Receive: the received buffer is OpenSSL's input as it is (a BIO of our own reads straight
 * from it, no copy on our side); every arrival first drives the handshake (SSL_do_handshake),
 * then SSL_read until all of it is read, each record's plaintext a data event. OpenSSL keeps
 * a partial record in its own read buffer, so nothing of the provided buffer outlives the
 * event. close_notify is eof.
 *
 * Send: the output queue (memory segments and file ranges) is encrypted into the connection's
 * send buffer, a block of the worker's pool taken while there is something to send: the BIO
 * writes OpenSSL's records there, SSL_write is called for at most 16 KiB (one record) at a
 * time and only when a whole record fits, so a write never comes back unfinished. One
 * io_uring send sends a batch of up to TLS_BATCH records; its completion reports the plaintext
 * they carried as `sent`. Small memory segments are gathered into one record; file ranges are
 * read into a pooled buffer (pread when cachestat says the pages are cached, an io_uring read
 * otherwise, so a cold disk never stalls the loop) and encrypted from there. A segment leaves
 * the queue (outq_advance) once encrypted; TR_SENDING stays set until its records are sent,
 * so the owner sees the queue empty and nothing in flight only when the bytes are out.
 *
 * Shutdown: close_notify once the queue is empty, with the FIN linked behind its send.
 * A failed handshake sends the alert only when we already answered (a ServerHello went out):
 * garbage before the ClientHello gets a close and no byte back.
 *
 * After the handshake, kernel TLS takes over where it can (tls_ktls.c): the transport then
 * behaves as a plain socket (plain.c's send path and sendfile). Where the kernel has no TLS,
 * TLS 1.3 connections seal their own records in the send buffer (tls_seal.c): fill() hands
 * over to tls_seal_fill, and OpenSSL only reads. tls_queue.c takes bytes from the queue for
 * both.
 */
#include "core/net/tls.h"

#include "core/base/alloc.h"
#include "core/net/plain.h"
#include "core/net/tls_bio.h"
#include "core/net/tls_conn.h"
#include "core/net/tls_keys.h"
#include "core/net/tls_ktls.h"
#include "core/net/tls_queue.h"
#include "core/net/tls_seal.h"
#include "log/errlog.h"

#include <errno.h>
#include <openssl/err.h>
#include <string.h>
#include <unistd.h>

static const struct transport_events tls_events;

/* The state of connections made when memory ran out: they raise the error and hold nothing. */
static _Thread_local struct tls_conn no_memory;

static bool closed(const struct transport *t)
{
    return t->flags & TR_CLOSED;
}

/* OpenSSL's reason for the last failure, for the log (never NULL). */
static const char *ssl_why(void)
{
    const char *r = ERR_reason_error_string(ERR_peek_last_error());
    return r ? r : "connection broken";
}

static void count(SP_ATOMIC(uint64_t) * c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* ---------------------------------------------------------------- buffers */

static void drop_file(struct tls_conn *tc)
{
    if (tc->file) {
        block_put(&tc->w->file_pool, tc->file);
        tc->file = NULL;
    }
    tc->file_len = tc->file_pos = tc->file_skew = 0;
}

/* Returns the send buffer to the pool once nothing is in it. */
static void drop_out(struct tls_conn *tc)
{
    if (tc->out && tc->out_len == 0) {
        block_put(&tc->w->out_pool, tc->out);
        tc->out = NULL;
        tc->out_skip = 0;
    }
}

/* Sends the ciphertext in the buffer (one send; MSG_WAITALL lets the kernel finish it). */
static void send_out(struct transport *t, bool fin)
{
    struct tls_conn *tc = tls_of(t);
    tc->out_busy = tc->out_len;
    tc->busy_plain = tc->out_plain;
    tc->out_plain = 0;
    if (fin) {
        io_reserve(t->env->loop, 2);
    }
    io_send(t->env->loop, &t->send_op, t->fd, tc->out + tc->out_skip, tc->out_busy - tc->out_skip,
            MSG_NOSIGNAL | MSG_WAITALL | (fin ? MSG_MORE : 0));
    tc->flags |= TLS_SEND | TLS_SENT_ANY;
    t->pending++;
    tls_sync_sending(t);
    if (fin) {
        transport_sock_fin(t, true);
    }
}

/* ---------------------------------------------------------------- encrypting the queue */

/* Encrypts n plaintext bytes at p as one record. False: the connection failed (error raised). */
static bool seal(struct transport *t, const char *p, size_t n)
{
    struct tls_conn *tc = tls_of(t);
    int r = SSL_write(tc->ssl, p, (int)n);
    if (r > 0) {
        tc->out_plain += (uint64_t)r;
        outq_advance(t->out, (uint64_t)r);
        return true;
    }
    errlog(ERRLOG_DEBUG, "TLS write failed (conn %llu): %s", (unsigned long long)t->id, ssl_why());
    ERR_clear_error();
    t->ev->error(t, EPROTO);
    return false;
}

static void on_read(struct io_op *op, int res, unsigned flags);

/*
 * Encrypts from the head of the queue into the send buffer while a whole record fits. Returns
 * false when the connection failed meanwhile (the error was raised).
 */
static bool fill(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    struct outq *q = t->out;
    if (tc->flags & TLS_SEALED) {
        return tls_seal_fill(t); /* our records, built in place */
    }
    while (TLS_OUT_CAP - tc->out_len >= TLS_REC_ROOM) {
        if (tc->file_pos < tc->file_len) {
            size_t n = MIN(tc->file_len - tc->file_pos, TLS_REC_PLAIN);
            const char *p = tc->file + tc->file_pos;
            tc->file_pos += (uint32_t)n; /* first: the advance may end the segment */
            if (n >= 2048 && tls_skew(tc, p)) {
                /* aligned for the read, not for SSL_write's copy: a fast copy in between */
                char *stage = tc->w->stage + tls_skew(tc, tc->w->stage);
                tls_copy(stage, p, n);
                p = stage;
            }
            if (!seal(t, p, n)) {
                return false;
            }
            continue;
        }
        if (outq_empty(q) || (tc->flags & TLS_READ)) {
            return true;
        }
        struct outq_seg *s = outq_seg(q, 0);
        if (s->kind == OUTQ_FILE) {
            tc->file_len = tc->file_pos = 0;
            bool err;
            if (tls_read_file(t, s, &err) || err) {
                return !err; /* reading: what is encrypted already goes out meanwhile */
            }
            continue;
        }
        bool ok;
        char *stage = tc->w->stage + tls_skew(tc, tc->w->stage);
        size_t n = (size_t)MIN(s->len, TLS_REC_PLAIN);
        if (s->len >= TLS_REC_PLAIN || q->count == 1) {
            if (n >= 2048 && tls_skew(tc, s->ptr)) {
                /* misaligned for SSL_write's copy: two fast copies beat one slow one */
                tls_copy(stage, s->ptr, n);
                ok = seal(t, stage, n);
            } else {
                ok = seal(t, s->ptr, n);
            }
        } else {
            ok = seal(t, stage, tls_gather(q, stage, TLS_REC_PLAIN));
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* close_notify into the send buffer, once; false if OpenSSL failed to write it. */
static void write_notify(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    tc->flags |= TLS_NOTIFIED;
    if (SSL_shutdown(tc->ssl) < 0) {
        ERR_clear_error(); /* nothing more to do than the FIN */
    }
}

static void tls_flush(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    if ((t->flags & (TR_SENDING | TR_CLOSED)) || (tc->flags & (TLS_FAILED | TLS_BROKEN))) {
        return;
    }
    if (tc->flags & TLS_KTLS) {
        transport_plain.flush(t);
        return;
    }
    if ((tc->flags & TLS_DONE) && !outq_empty(t->out)) {
        if (!fill(t) || closed(t)) {
            return;
        }
    }
    bool idle = outq_empty(t->out) && tc->file_pos == tc->file_len && !(tc->flags & TLS_READ);
    if (idle && (t->flags & TR_FIN) && (tc->flags & TLS_DONE) && !(tc->flags & TLS_NOTIFIED)) {
        write_notify(t);
    }
    if (tc->out_len) {
        /* the FIN rides on close_notify's segment when that is the last thing to go */
        send_out(t, idle && (t->flags & (TR_FIN | TR_FIN_OUT)) == TR_FIN &&
                        (tc->flags & TLS_NOTIFIED));
        return;
    }
    if (tc->flags & TLS_READ) {
        return;
    }
    drop_out(tc);
    drop_file(tc);
    if (!(tc->flags & TLS_DONE)) {
        return; /* nothing of the owner's is sent before the handshake */
    }
    if (t->flags & TR_FIN) {
        transport_sock_fin(t, false);
    }
    tc->ev->drained(t);
}

/* ---------------------------------------------------------------- completions */

/* Hands the connection to kernel TLS when that is possible now; true if it was. */
static bool try_ktls(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    if (!(tc->flags & TLS_KEYS) || !tls_ktls_switch(t)) {
        return false;
    }
    drop_out(tc);
    drop_file(tc);
    if (!closed(t)) {
        transport_plain.flush(t); /* the kernel encrypts the rest of the queue */
    }
    return true;
}

static void on_read(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct transport *t = container_of(op, struct transport, read_op);
    struct tls_conn *tc = tls_of(t);
    transport_sock_enter(t);
    t->pending--;
    tc->flags &= ~TLS_READ;
    tls_sync_sending(t);
    if (!closed(t)) {
        if (res > 0) {
            tc->file_pos = tc->file_skew;
            tc->file_len = tc->file_skew + (uint32_t)res;
            tls_flush(t);
        } else {
            tls_read_failed(t, res);
        }
    }
    transport_sock_leave(t);
}

static void handshake(struct transport *t);

static void on_send(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct transport *t = container_of(op, struct transport, send_op);
    struct tls_conn *tc = tls_of(t);
    transport_sock_enter(t);
    t->pending--;
    tc->flags &= ~TLS_SEND;
    tls_sync_sending(t);
    if (closed(t)) {
        transport_sock_leave(t);
        return;
    }
    if (res < 0 || (tc->flags & TLS_FAILED)) {
        /* a failed handshake's alert is out (or could not go): now the error */
        t->ev->error(t, res < 0 ? -res : EPROTO);
        transport_sock_leave(t);
        return;
    }
    /* what OpenSSL wrote meanwhile (an alert, a key update) moves to the front */
    uint32_t done = tc->out_skip + MIN((uint32_t)res, tc->out_busy - tc->out_skip);
    memmove(tc->out, tc->out + done, tc->out_len - done);
    tc->out_len -= done;
    tc->out_busy = tc->out_skip = 0;
    uint64_t plain = tc->busy_plain;
    tc->busy_plain = 0;
    if (plain) {
        tc->ev->sent(t, plain);
    }
    if (!closed(t)) {
        if (!(tc->flags & TLS_DONE)) {
            handshake(t); /* the flight did not fit at once (a long chain): go on */
        } else if (!try_ktls(t)) {
            tls_flush(t);
        }
    }
    transport_sock_leave(t);
}

/* ---------------------------------------------------------------- receiving */

/* Reads every record OpenSSL can make of the input; each one's plaintext is a data event. */
static void read_records(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    for (;;) {
        int r = SSL_read(tc->ssl, tc->w->plain, (int)sizeof(tc->w->plain));
        if (r > 0) {
            tc->ev->data(t, tc->w->plain, (size_t)r);
            if (closed(t)) {
                return;
            }
            continue;
        }
        int e = SSL_get_error(tc->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            break; /* all read; a partial record waits in OpenSSL's buffer */
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            tc->ev->eof(t); /* close_notify */
            return;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            break; /* the send buffer is full of what OpenSSL answers: sent below */
        }
        errlog(ERRLOG_DEBUG, "TLS read failed (conn %llu): %s", (unsigned long long)t->id,
               ssl_why());
        ERR_clear_error();
        tc->ev->error(t, EPROTO);
        return;
    }
    if (SSL_get_key_update_type(tc->ssl) != SSL_KEY_UPDATE_NONE) {
        /* the client asked for our key update too: SSL_do_handshake writes it, once OpenSSL
         * is "in init" again, which SSL_write would do and SSL_key_update does (a sealed
         * connection never calls SSL_write; it fails harmlessly when already in init) */
        if ((tc->flags & TLS_SEALED) && !SSL_key_update(tc->ssl, SSL_KEY_UPDATE_NOT_REQUESTED)) {
            ERR_clear_error();
        }
        if (SSL_do_handshake(tc->ssl) <= 0) {
            ERR_clear_error();
        }
    }
}

/* The handshake failed: an alert goes out if we already spoke, then the error. */
static void failed(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    count(&t->env->tls_failed);
    errlog(ERRLOG_DEBUG, "TLS handshake failed (conn %llu): %s", (unsigned long long)t->id,
           ssl_why());
    ERR_clear_error();
    tc->flags |= TLS_FAILED;
    if (!(tc->flags & TLS_SENT_ANY)) {
        tc->out_len = 0; /* not a TLS client (garbage, plain HTTP): no byte back */
    }
    if (tc->out_len && !(tc->flags & TLS_SEND)) {
        t->flags |= TR_FIN;
        send_out(t, true);
        return;
    }
    if (!(tc->flags & TLS_SEND)) {
        t->ev->error(t, EPROTO);
    }
}

/* Bytes between a record's start and its plaintext: the header, and TLS 1.2's explicit IV. */
static uint8_t record_lead(const SSL *ssl)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    if (SSL_version(ssl) != TLS1_2_VERSION || !c) {
        return 5;
    }
    switch (SSL_CIPHER_get_cipher_nid(c)) {
    case NID_aes_128_gcm:
    case NID_aes_256_gcm:
    case NID_aes_128_ccm:
    case NID_aes_256_ccm:
        return 5 + 8;
    case NID_chacha20_poly1305:
        return 5;
    default:
        return 5 + 16; /* CBC: an IV of one block */
    }
}

/* Drives the handshake with what arrived; on completion, secured and the first data. */
static void handshake(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    int r = SSL_do_handshake(tc->ssl);
    if (r <= 0) {
        int e = SSL_get_error(tc->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            failed(t);
            return;
        }
        if (tc->out_len && !(tc->flags & TLS_SEND)) {
            send_out(t, false);
        }
        return;
    }
    tc->flags |= TLS_DONE;
    tc->wlead = record_lead(tc->ssl);
    count(&t->env->tls_handshakes);
    if (SSL_session_reused(tc->ssl)) {
        count(&t->env->tls_resumed);
    }
    tc->rx_records = 0; /* TLS 1.3: the client's application keys start here */
    if (!(tc->flags & TLS_KEYS)) {
        count(&t->env->tls_user);
        if (tls_seal_start(t)) {
            count(&t->env->tls_sealed);
        }
    }
    if (tc->ev->secured) {
        tc->ev->secured(t);
    }
    if (closed(t)) {
        return;
    }
    read_records(t); /* the request may have come with the client's Finished */
}

static void tls_data(struct transport *t, const char *p, size_t n)
{
    struct tls_conn *tc = tls_of(t);
    if (tc->flags & TLS_KTLS) {
        tc->ev->data(t, p, n); /* the kernel decrypted it */
        return;
    }
    if (tc->flags & (TLS_FAILED | TLS_BROKEN)) {
        return;
    }
    tc->in = p;
    tc->in_len = n;
    if (!(tc->flags & TLS_DONE)) {
        handshake(t);
    } else {
        read_records(t);
    }
    tc->in_len = 0; /* an aborted connection may leave some: the buffer goes back now */
    if (closed(t) || (tc->flags & TLS_FAILED)) {
        return;
    }
    if (tc->out_len && !(t->flags & TR_SENDING)) {
        tls_flush(t); /* OpenSSL's own answers: tickets, a key update, an alert */
    } else if (!(t->flags & TR_SENDING)) {
        try_ktls(t);
    }
}

static void tls_eof(struct transport *t)
{
    tls_of(t)->ev->eof(t); /* a FIN without close_notify ends the stream just the same */
}

static void tls_error(struct transport *t, int err)
{
    struct tls_conn *tc = tls_of(t);
    if ((tc->flags & TLS_KTLS) && err == EIO) {
        /* the kernel met a record that is not data (close_notify, a key update it cannot
         * follow): the stream ends there */
        tc->ev->eof(t);
        return;
    }
    tc->ev->error(t, err);
}

/* plain.c's send path raises these only after the switch to kernel TLS */
static void tls_sent(struct transport *t, uint64_t n)
{
    tls_of(t)->ev->sent(t, n);
}

static void tls_drained(struct transport *t)
{
    tls_of(t)->ev->drained(t);
}

static void tls_release(struct transport *t)
{
    tls_of(t)->ev->release(t);
}

static const struct transport_events tls_events = {
    .data = tls_data,
    .eof = tls_eof,
    .error = tls_error,
    .sent = tls_sent,
    .drained = tls_drained,
    .release = tls_release,
};

/* ---------------------------------------------------------------- the rest of the table */

static void on_broken(struct io_defer *d)
{
    struct transport *t = container_of(d, struct transport, resume);
    transport_sock_enter(t);
    if (!closed(t)) {
        tls_of(t)->ev->error(t, ENOMEM);
    }
    transport_sock_leave(t);
}

static void tls_read_start(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    if (tc->flags & TLS_BROKEN) {
        io_defer(t->env->loop, &t->resume); /* the error, from the loop */
        return;
    }
    transport_plain.read_start(t);
}

static void tls_shutdown(struct transport *t, bool reading_too)
{
    struct tls_conn *tc = tls_of(t);
    if (tc->flags & (TLS_KTLS | TLS_BROKEN)) {
        transport_plain.shutdown(t, reading_too);
        return;
    }
    if (closed(t)) {
        return;
    }
    t->flags |= TR_FIN | (reading_too ? TR_FIN_RD : 0);
    if (t->flags & TR_SENDING || !outq_empty(t->out)) {
        return; /* close_notify follows the queue (tls_flush) */
    }
    if ((tc->flags & TLS_DONE) && !(tc->flags & (TLS_NOTIFIED | TLS_FAILED))) {
        write_notify(t);
    }
    if (tc->out_len) {
        send_out(t, true);
    } else {
        transport_sock_fin(t, false);
    }
}

static void tls_close(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    if (tc && tc->ssl) {
        if ((tc->flags & (TLS_DONE | TLS_KEYS)) == (TLS_DONE | TLS_KEYS)) {
            count(&t->env->tls_user); /* closed before kernel TLS was tried */
        }
        SSL_free(tc->ssl);
        tls_seal_free(tc);
        tc->out_len = 0;
        drop_out(tc);
        drop_file(tc);
    }
    if (tc != &no_memory) {
        sp_free(tc);
    }
    t->priv = NULL;
    transport_plain.close(t);
}

static struct slice tls_alpn(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    const unsigned char *p = NULL;
    unsigned n = 0;
    if (tc->ssl) {
        SSL_get0_alpn_selected(tc->ssl, &p, &n);
    }
    return n ? (struct slice){(const char *)p, n} : SLICE_NULL;
}

static void *tls_ssl(struct transport *t)
{
    return tls_of(t)->ssl;
}

/* what plain.c does the same for both */
static void tls_read_stop(struct transport *t)
{
    transport_plain.read_stop(t);
}

static void tls_abort(struct transport *t)
{
    transport_plain.abort(t);
}

static int tls_peer(struct transport *t, struct sockaddr_storage *ss)
{
    return transport_plain.peer(t, ss);
}

const struct transport_ops transport_tls = {
    .name = "tls",
    .read_start = tls_read_start,
    .read_stop = tls_read_stop,
    .flush = tls_flush,
    .shutdown = tls_shutdown,
    .abort = tls_abort,
    .peer = tls_peer,
    .close = tls_close,
    .alpn = tls_alpn,
    .ssl = tls_ssl,
};

/* ---------------------------------------------------------------- setting up */

static struct tls_worker *worker_state(struct transport_env *env)
{
    if (!env->tls) {
        struct tls_worker *w = sp_malloc(sizeof(*w));
        if (!w) {
            return NULL;
        }
        /* idle buffers kept: enough for the connections sending at once on a busy worker */
        block_pool_init(&w->out_pool, TLS_OUT_CAP, 64);
        block_pool_init(&w->file_pool, TLS_FILE_CHUNK + TLS_ALIGN, 32);
        env->tls = w;
    }
    return env->tls;
}

void tls_env_fini(struct transport_env *env)
{
    if (env->tls) {
        block_pool_destroy(&env->tls->out_pool);
        block_pool_destroy(&env->tls->file_pool);
        sp_free(env->tls);
        env->tls = NULL;
    }
}

/* The SSL object over our BIO; NULL when memory ran out. */
static SSL *make_ssl(struct transport *t, SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    BIO *bio = tls_bio_new(t);
    if (!ssl || !bio) {
        SSL_free(ssl);
        BIO_free(bio);
        return NULL;
    }
    SSL_set_bio(ssl, bio, bio); /* one BIO both ways; the SSL object owns it */
    SSL_set_app_data(ssl, t);
    SSL_set_accept_state(ssl);
    return ssl;
}

void transport_tls_init(struct transport *t, int fd, struct transport_env *env,
                        const struct transport_events *ev, void *arg)
{
    transport_plain_init(t, fd, env, &tls_events, NULL);
    t->ops = &transport_tls;
    io_op_init(&t->send_op, on_send);
    io_op_init(&t->read_op, on_read);
    t->resume.fn = on_broken;
    struct tls_conn *tc = sp_calloc(1, sizeof(*tc));
    t->priv = tc;
    if (!tc) {
        /* no state to run on: the transport answers nothing and reports the error */
        no_memory.flags = TLS_BROKEN;
        no_memory.ev = ev;
        t->priv = &no_memory;
        return;
    }
    tc->ev = ev;
    tc->w = worker_state(env);
    tc->ssl = tc->w ? make_ssl(t, arg) : NULL;
    if (!tc->ssl) {
        const char *why = tc->w ? ERR_reason_error_string(ERR_peek_last_error()) : NULL;
        errlog(ERRLOG_ERROR, "TLS: cannot set a connection up: %s", why ? why : "out of memory");
        ERR_clear_error();
        tc->flags = TLS_BROKEN;
        return;
    }
    if (tls_ktls_available()) {
        tc->flags |= TLS_KEYS;
    }
}

void tls_transport_prepare_ctx(SSL_CTX *ctx)
{
    /* SSL_write is given at most one record and room for it, but a write that comes back
     * unfinished may be retried from a buffer that moved (the staging buffer is rebuilt).
     * OpenSSL's own record buffers (17 KiB each way) go back to the allocator while a
     * connection is idle: 26 -> 18 KiB per idle keep-alive connection, and no CPU cost the
     * benchmarks can see (mimalloc hands the same blocks back; bench/RESULTS.md, issue 16) */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* TLS 1.2 renegotiation: refused (a client-initiated one is a CPU attack) */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    /* the secrets and record counts that kernel TLS and the sealer need */
    tls_keys_prepare_ctx(ctx);
    tls_ktls_available(); /* the probe, before the sandbox */
}
