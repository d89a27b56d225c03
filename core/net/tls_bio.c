/*
 * tls_bio.c - the BIO under a TLS connection's SSL object (see tls_bio.h).
 *
 * Reads come from the ciphertext the receive is delivering now (tls_conn in, in_len): no
 * copy of ours, OpenSSL's record layer takes the bytes from the provided buffer. Writes go
 * into the connection's send buffer, taken from the worker's pool on the first byte; a full
 * buffer says "retry" (tls.c makes sure a whole record fits before it calls SSL_write, so
 * that only happens to what OpenSSL writes on its own). Once the sealer sends (tls_seal.c),
 * writes are dropped: the message callback gave the sealer their plaintext.
 */
#include "core/net/tls_bio.h"

#include "core/base/compiler.h"
#include "core/net/tls_conn.h"

#include <pthread.h>
#include <string.h>

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

/* OpenSSL reads ciphertext: from the buffer received now, or "try again" when it is used up. */
static int bio_read(BIO *b, char *buf, int len)
{
    struct tls_conn *tc = tls_of(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    if (tc->in_len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = MIN(tc->in_len, (size_t)len);
    memcpy(buf, tc->in, n);
    tc->in += n;
    tc->in_len -= n;
    return (int)n;
}

/* OpenSSL writes ciphertext: into the send buffer, taken from the pool when there is none. */
static int bio_write(BIO *b, const char *buf, int len)
{
    struct tls_conn *tc = tls_of(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    if (tc->flags & TLS_SEALED) {
        /* OpenSSL's keys for sending are stale: the sealer sends this (tls_seal_control) */
        return len;
    }
    if (!tc->out && !(tc->out = block_get(&tc->w->out_pool))) {
        return -1; /* out of memory: the write fails and so does the connection */
    }
    size_t room = TLS_OUT_CAP - tc->out_len;
    if (room == 0) {
        BIO_set_retry_write(b);
        return -1;
    }
    size_t n = MIN(room, (size_t)len);
    tc->wmod = (uint8_t)((uintptr_t)buf & (TLS_ALIGN - 1)); /* the record start: fixed */
    tls_copy(tc->out + tc->out_len, buf, n);
    tc->out_len += (uint32_t)n;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    /* a flush is a no-op: the send buffer goes out when the transport says so */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void make_bio_method(void)
{
    bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "spate transport");
    if (bio_method) {
        BIO_meth_set_read(bio_method, bio_read);
        BIO_meth_set_write(bio_method, bio_write);
        BIO_meth_set_ctrl(bio_method, bio_ctrl);
        BIO_meth_set_create(bio_method, bio_create);
    }
}

BIO *tls_bio_new(struct transport *t)
{
    pthread_once(&bio_once, make_bio_method);
    BIO *b = bio_method ? BIO_new(bio_method) : NULL;
    if (b) {
        BIO_set_data(b, t);
    }
    return b;
}
