/*
 * tls_conn.h - the TLS transport's own state, shared by its parts (tls.c: the data path in user
 * space; tls_seal.c: TLS 1.3 records sealed in place; tls_keys.c: the secrets; tls_ktls.c: the
 * hand-over to kernel TLS). Nothing outside core/net/tls*.c (and their tests) includes it.
 *
 * Memory: a struct tls_conn per connection (t->priv, made at init, freed at close) holds the
 * SSL object and the bookkeeping; the buffers that carry bytes come from the worker's pools
 * (struct tls_worker) only while a connection has something to send, so an idle keep-alive
 * connection holds the SSL object and nothing else of ours.
 *
 * Single-threaded: the owning worker only.
 */
#pragma once

#include "core/base/pool.h"
#include "core/net/transport.h"

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Plaintext bytes per record (TLS's maximum, what SSL_write puts in one record). */
#define TLS_REC_PLAIN 16384u
/* Room one record needs in the send buffer: its plaintext and the most any cipher adds. */
#define TLS_REC_ROOM (TLS_REC_PLAIN + 512u)
/* Records per send: one io_uring send carries up to this many. */
#define TLS_BATCH 8u
/* The send buffer: a batch, and room for what OpenSSL writes on its own (alerts, tickets). */
#define TLS_OUT_CAP (TLS_BATCH * TLS_REC_ROOM + 4096u)
/* File bytes read per read (one batch of records). */
#define TLS_FILE_CHUNK (TLS_BATCH * TLS_REC_PLAIN)
/* Slack before the plaintext in the file and staging buffers, to align it (tls_skew). */
#define TLS_ALIGN 64u

/* Per-worker state of the TLS transport (transport_env.tls), made on the first connection. */
struct tls_worker {
    struct block_pool out_pool;            /* send buffers, TLS_OUT_CAP bytes */
    struct block_pool file_pool;           /* file read buffers, TLS_FILE_CHUNK bytes */
    char plain[TLS_REC_PLAIN];             /* SSL_read's plaintext, valid during a data event */
    char stage[TLS_REC_PLAIN + TLS_ALIGN]; /* queued memory gathered into one record */
};

enum tls_flag {
    TLS_DONE = 1u << 0,     /* the handshake completed */
    TLS_FAILED = 1u << 1,   /* the handshake failed: an alert goes out, then the error */
    TLS_NOTIFIED = 1u << 2, /* our close_notify is written */
    TLS_SEND = 1u << 3,     /* a send of the out buffer is in flight */
    TLS_READ = 1u << 4,     /* a file read into the file buffer is in flight */
    TLS_KTLS = 1u << 5,     /* the kernel encrypts and decrypts: the socket is plain to us */
    TLS_SENT_ANY = 1u << 6, /* some ciphertext went out (a ServerHello at least) */
    TLS_BROKEN = 1u << 7,   /* no SSL object (out of memory at init): the error is raised */
    TLS_KEYS = 1u << 8,     /* kernel TLS may be tried (once, at a quiet point) */
    TLS_SEALED = 1u << 9,   /* we seal the records we send (tls_seal.c); OpenSSL only reads */
};

struct tls_conn {
    SSL *ssl;
    const struct transport_events *ev; /* the owner's events (t->ev is the transport's own) */
    struct tls_worker *w;
    uint32_t flags; /* enum tls_flag */

    /* ciphertext received and not yet read by OpenSSL (during a data event only) */
    const char *in;
    size_t in_len;

    /* the send buffer: ciphertext [out_skip, out_len), of which [out_skip, out_busy) is being
     * sent; out_skip (< TLS_ALIGN) only ever leads a buffer the sealer filled from empty, to
     * align the first file bytes (tls_seal.c) */
    char *out;
    uint32_t out_len, out_busy, out_skip;
    uint64_t out_plain;  /* plaintext bytes in [out_busy, out_len) (reported as sent) */
    uint64_t busy_plain; /* plaintext bytes in [0, out_busy) */

    /* file bytes read for the file segment at the head: [file_pos, file_len) not encrypted,
     * from file + file_skew on (the offset that aligns them, tls_skew) */
    char *file;
    uint32_t file_len, file_pos, file_skew;

    /* where OpenSSL builds records: the record start modulo TLS_ALIGN (seen by the BIO's
     * writes), and the bytes between it and the plaintext (header, explicit IV) */
    uint8_t wmod, wlead;

    /* records since the current keys (message callback), the traffic secrets (tls_keys.c);
     * the sealer moves tx_secret on at each of its key updates */
    uint64_t tx_records, rx_records;
    uint8_t secret_len;
    uint8_t tx_secret[48], rx_secret[48]; /* TLS 1.3: SERVER_ / CLIENT_TRAFFIC_SECRET_0 */

    /* the sealer (TLS_SEALED): the cipher keyed with the current send key, its IV, and the
     * sequence number of the next record */
    EVP_CIPHER_CTX *seal;
    uint64_t seal_seq, seal_limit; /* seal_limit: the key updates itself at this many records */
    uint8_t seal_iv[12];
};

static inline struct tls_conn *tls_of(const struct transport *t)
{
    return (struct tls_conn *)t->priv;
}

/* TR_SENDING mirrors our own send and read: the owner knows no more than "in flight". */
static inline void tls_sync_sending(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    if (tc->flags & (TLS_SEND | TLS_READ)) {
        t->flags |= TR_SENDING;
    } else {
        t->flags &= ~TR_SENDING;
    }
}

/*
 * Copies n bytes in pieces of 2 KiB. A large memcpy becomes `rep movsb`, which on some CPUs
 * (AMD Zen here) runs 20 to 30 times slower when source and destination differ in alignment
 * modulo 64, as a record's bytes do everywhere (records are 16 KiB plus a few bytes); pieces
 * this small stay on glibc's vector loop, as fast at any alignment.
 */
static inline void tls_copy(char *dst, const char *src, size_t n)
{
    /* through a pointer the compiler cannot see into: inlined, a 2 KiB memcpy becomes a
     * `rep movsq`, which has the same trouble */
    static void *(*volatile copy)(void *, const void *, size_t) = memcpy;
    while (n) {
        size_t k = n < 2048 ? n : 2048;
        copy(dst, src, k);
        dst += k;
        src += k;
        n -= k;
    }
}

/*
 * The offset into buffer b at which plaintext has the alignment of the place SSL_write copies
 * it to (OpenSSL's write buffer, after the record header and explicit IV), so that its own
 * memcpy of every record is the fast kind (see tls_copy).
 */
static inline uint32_t tls_skew(const struct tls_conn *tc, const char *b)
{
    return (uint32_t)(tc->wmod + tc->wlead - (uintptr_t)b) & (TLS_ALIGN - 1);
}
