/*
 * tls_seal.c - sealing TLS 1.3 records in place in the send buffer (tls_seal.h).
 *
 * Why our own: without kernel TLS, a file sent through SSL_write is copied three times in user
 * space besides the kernel's two (pread, send): into a staging buffer at the alignment
 * OpenSSL's write buffer wants, by OpenSSL into that buffer, and by our BIO into the send
 * buffer; on `1m` those copies were about a fifth of the server's time (bench/RESULTS.md,
 * issue 14). Here file bytes are read with one preadv straight into the places of the records'
 * plaintext in the send buffer, encrypted there (EVP AEAD, in place) and sent from there: what
 * kernel TLS does, short of sendfile. OpenSSL keeps the handshake and the receiving side.
 *
 * A record (RFC 8446 5.2): 17 03 03 and the length, then AEAD(plaintext || content type ||
 * zero padding) and the 16-byte tag; the nonce is the IV XOR the sequence number, the
 * additional data the header. A full record carries 16,320 bytes and 42 bytes of padding (the
 * inner plaintext stays within 2^14 + 1), 16,384 bytes in all, so the plaintexts of
 * consecutive records have the same alignment modulo 64 in the buffer as in the file, and the
 * kernel's copy from the page cache runs at full speed (misaligned, `rep movsb` on this
 * project's AMD CPUs is 20-30 times slower). The record before file bytes gets the padding
 * that aligns the next one; a buffer filled from empty starts at out_skip for the same reason.
 *
 * What OpenSSL still sends after the take-over (the KeyUpdate that answers a client's
 * update_requested, alerts, close_notify from SSL_shutdown) goes into a BIO that drops it; the
 * message callback (tls_keys.c) hands us the plaintext, sealed here in its place in the
 * stream. After a KeyUpdate of ours the send key moves on: traffic secret N+1 =
 * HKDF-Expand-Label(secret N, "traffic upd", "", Hash.length), sequence number 0. We also send
 * one ourselves before AES-GCM's limit of records per key (RFC 8446 5.5).
 *
 * Cold files (not in the page cache) are read by io_uring into the file buffer as on the
 * OpenSSL path and copied into the records from there: the disk is what they wait for.
 */
#include "core/net/tls_seal.h"

#include "core/net/plain.h"
#include "core/net/tls_conn.h"
#include "core/net/tls_kdf.h"
#include "core/net/tls_queue.h"
#include "log/errlog.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sys/uio.h>

/* Records per AES-GCM key: RFC 8446 5.5 allows 2^24.5 full-size ones. */
#define GCM_RECORDS (1ull << 24)

static EVP_CIPHER *aes128, *aes256, *chacha;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch(void)
{
    aes128 = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    aes256 = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    ERR_clear_error();
}

/* Key and IV from tc->tx_secret; c: the cipher the first time, NULL to keep it. */
static bool set_keys(struct tls_conn *tc, const EVP_MD *md, const EVP_CIPHER *c)
{
    uint8_t key[32];
    size_t klen = (size_t)EVP_CIPHER_get_key_length(c ? c : EVP_CIPHER_CTX_get0_cipher(tc->seal));
    bool ok = klen <= sizeof(key) &&
              tls_kdf_expand(md, tc->tx_secret, tc->secret_len, "key", key, klen) &&
              tls_kdf_expand(md, tc->tx_secret, tc->secret_len, "iv", tc->seal_iv, 12) &&
              EVP_EncryptInit_ex2(tc->seal, c, key, NULL, NULL) > 0;
    OPENSSL_cleanse(key, sizeof(key));
    tc->seal_seq = 0;
    return ok;
}

/* After a KeyUpdate of ours went into the stream: the next traffic secret and its keys. */
static bool next_key(struct tls_conn *tc)
{
    const EVP_MD *md = tls_kdf_digest(tc->ssl);
    uint8_t next[sizeof(tc->tx_secret)];
    bool ok = md &&
              tls_kdf_expand(md, tc->tx_secret, tc->secret_len, "traffic upd", next,
                              tc->secret_len);
    if (ok) {
        memcpy(tc->tx_secret, next, tc->secret_len);
        ok = set_keys(tc, md, NULL);
    }
    OPENSSL_cleanse(next, sizeof(next));
    return ok;
}

/* The sealer cannot go on (its keys could not be had): every later fill fails the connection. */
static void seal_lost(struct tls_conn *tc)
{
    ERR_clear_error();
    EVP_CIPHER_CTX_free(tc->seal);
    tc->seal = NULL;
}

bool tls_seal_start(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    SSL *ssl = tc->ssl;
    const SSL_CIPHER *sc = SSL_get_current_cipher(ssl);
    const EVP_MD *md = tls_kdf_digest(ssl);
    if (SSL_version(ssl) != TLS1_3_VERSION || !sc || !md || !tc->secret_len ||
        SSL_SESSION_get_max_fragment_length(SSL_get_session(ssl)) !=
            TLSEXT_max_fragment_length_DISABLED) {
        return false; /* a client that asked for small records keeps OpenSSL's */
    }
    pthread_once(&fetch_once, fetch);
    const EVP_CIPHER *c = NULL;
    uint64_t limit = GCM_RECORDS;
    switch (SSL_CIPHER_get_cipher_nid(sc)) {
    case NID_aes_128_gcm:
        c = aes128;
        break;
    case NID_aes_256_gcm:
        c = aes256;
        break;
    case NID_chacha20_poly1305:
        c = chacha;
        limit = UINT64_MAX; /* 2^62 records: never reached */
        break;
    default:
        return false; /* AES-CCM: OpenSSL's */
    }
    uint64_t seq = tc->tx_records; /* what OpenSSL sent under these keys: its tickets */
    if (!c || !(tc->seal = EVP_CIPHER_CTX_new()) || !set_keys(tc, md, c)) {
        seal_lost(tc);
        return false;
    }
    tc->seal_seq = seq;
    tc->seal_limit = limit;
    OPENSSL_cleanse(tc->rx_secret, sizeof(tc->rx_secret));
    tc->flags |= TLS_SEALED;
    return true;
}

void tls_seal_free(struct tls_conn *tc)
{
    EVP_CIPHER_CTX_free(tc->seal); /* wipes the key schedule */
    tc->seal = NULL;
    OPENSSL_cleanse(tc->tx_secret, sizeof(tc->tx_secret));
    OPENSSL_cleanse(tc->seal_iv, sizeof(tc->seal_iv));
}

size_t tls_seal_record(struct tls_conn *tc, char *rec, size_t n, uint8_t type, size_t pad)
{
    uint8_t *p = (uint8_t *)rec;
    size_t inner = n + 1 + pad, len = inner + 16;
    p[0] = SSL3_RT_APPLICATION_DATA;
    p[1] = 3;
    p[2] = 3;
    p[3] = (uint8_t)(len >> 8);
    p[4] = (uint8_t)len;
    p[5 + n] = type;
    memset(p + 6 + n, 0, pad);
    uint8_t nonce[12];
    memcpy(nonce, tc->seal_iv, sizeof(nonce));
    for (int k = 0; k < 8; k++) {
        nonce[4 + k] ^= (uint8_t)(tc->seal_seq >> (56 - 8 * k));
    }
    int l1 = 0, l2 = 0;
    if (!tc->seal || EVP_EncryptInit_ex(tc->seal, NULL, NULL, NULL, nonce) <= 0 ||
        EVP_EncryptUpdate(tc->seal, NULL, &l1, p, 5) <= 0 ||
        EVP_EncryptUpdate(tc->seal, p + 5, &l1, p + 5, (int)inner) <= 0 ||
        EVP_EncryptFinal_ex(tc->seal, p + 5 + l1, &l2) <= 0 ||
        EVP_CIPHER_CTX_ctrl(tc->seal, EVP_CTRL_AEAD_GET_TAG, 16, p + 5 + inner) <= 0) {
        ERR_clear_error();
        return 0;
    }
    tc->seal_seq++;
    return 5 + len;
}

void tls_seal_control(struct transport *t, uint8_t type, const void *msg, size_t len)
{
    struct tls_conn *tc = tls_of(t);
    if (!tc->seal) {
        return;
    }
    if (len > TLS_SEAL_PLAIN || (!tc->out && !(tc->out = block_get(&tc->w->out_pool))) ||
        TLS_OUT_CAP - tc->out_len < len + 22) {
        /* cannot happen with a fill that leaves a record's room: say so if it does */
        errlog(ERRLOG_WARN, "TLS: no room to send a %s of %zu bytes (conn %llu): dropped",
               type == SSL3_RT_ALERT ? "alert" : "handshake message", len,
               (unsigned long long)t->id);
        return;
    }
    char *rec = tc->out + tc->out_len;
    memcpy(rec + 5, msg, len);
    size_t r = tls_seal_record(tc, rec, len, type, 0);
    if (!r) {
        seal_lost(tc);
        return;
    }
    tc->out_len += (uint32_t)r;
    if (type == SSL3_RT_HANDSHAKE && len && ((const uint8_t *)msg)[0] == SSL3_MT_KEY_UPDATE &&
        !next_key(tc)) {
        seal_lost(tc);
    }
}

/* ---------------------------------------------------------------- filling */

/* The padding that gives the record after this one (plaintext at next) the alignment of the
 * file bytes that go there, if file bytes do. */
static size_t align_pad(struct tls_conn *tc, struct outq *q, const char *next)
{
    uintptr_t want;
    if (tc->file_pos < tc->file_len) {
        want = (uintptr_t)(tc->file + tc->file_pos);
    } else if (!outq_empty(q) && outq_seg(q, 0)->kind == OUTQ_FILE) {
        want = (uintptr_t)outq_seg(q, 0)->off;
    } else {
        return 0; /* memory is copied in pieces that are fast at any alignment (tls_copy) */
    }
    return (want - (uintptr_t)next) & (TLS_ALIGN - 1);
}

/* An empty buffer: the first record starts where its plaintext has the alignment of want. */
static void start_at(struct tls_conn *tc, uintptr_t want)
{
    if (tc->out_len == 0) {
        tc->out_skip = tc->out_len = (uint32_t)(want - (uintptr_t)(tc->out + 5)) & (TLS_ALIGN - 1);
    }
}

/* Seals the n plaintext bytes at rec + 5 as one application data record; pad < 0: the
 * padding that aligns the next record. False: failed (raised). */
static bool seal_data(struct transport *t, char *rec, size_t n, long pad)
{
    struct tls_conn *tc = tls_of(t);
    tc->out_plain += n;
    outq_advance(t->out, n); /* first: the head is then what comes next */
    size_t p = pad < 0 ? align_pad(tc, t->out, rec + 27 + n) : (size_t)pad;
    size_t r = tls_seal_record(tc, rec, n, SSL3_RT_APPLICATION_DATA, p);
    if (!r) {
        errlog(ERRLOG_DEBUG, "TLS: sealing a record failed (conn %llu)",
               (unsigned long long)t->id);
        t->ev->error(t, EPROTO);
        return false;
    }
    tc->out_len += (uint32_t)r;
    return true;
}

/*
 * The file segment s at the head: a batch of records read into place with one preadv when its
 * pages are cached; else an io_uring read into the file buffer (*wait). False: failed.
 */
static bool seal_file(struct transport *t, const struct outq_seg *s, bool *wait)
{
    struct tls_conn *tc = tls_of(t);
    struct transport_env *env = t->env;
    *wait = false;
    start_at(tc, (uintptr_t)s->off);
    size_t recs = MIN((TLS_OUT_CAP - tc->out_len - TLS_ALIGN) / TLS_SEAL_STRIDE, TLS_BATCH);
    size_t want = (size_t)MIN(s->len, recs * TLS_SEAL_PLAIN);
    bool cold = env->cold_reads && !transport_sock_cached(t, s, want);
    if (want == s->len) {
        /* the segment's last read: its entry may go (see tls.c's read_file) */
        t->warm_ref = NULL;
    }
    if (cold) {
        tc->file_len = tc->file_pos = 0;
        *wait = true;
        return tls_read_async(t, s, (size_t)MIN(s->len, TLS_BATCH * TLS_SEAL_PLAIN));
    }
    struct iovec iov[TLS_BATCH];
    int cnt = 0;
    char *first = tc->out + tc->out_len + 5;
    for (size_t done = 0; done < want; done += TLS_SEAL_PLAIN, cnt++) {
        iov[cnt].iov_base = first + (size_t)cnt * TLS_SEAL_STRIDE;
        iov[cnt].iov_len = MIN(TLS_SEAL_PLAIN, want - done);
    }
    ssize_t r;
    do {
        r = preadv(s->ref->fd, iov, cnt, (off_t)s->off);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        tls_read_failed(t, r < 0 ? -errno : 0);
        return false;
    }
    /* s may go with the advance of its last bytes: not used below */
    for (size_t done = 0; done < (size_t)r;) {
        size_t n = MIN(TLS_SEAL_PLAIN, (size_t)r - done);
        done += n;
        /* full records in the batch keep the stride the reads were placed at */
        long pad = done < (size_t)r ? (long)TLS_SEAL_PAD : -1;
        if (!seal_data(t, tc->out + tc->out_len, n, pad)) {
            return false;
        }
    }
    return true;
}

/* Our own KeyUpdate (update_not_requested), before a key has sealed too many records. */
static bool own_key_update(struct transport *t)
{
    static const uint8_t key_update[5] = {SSL3_MT_KEY_UPDATE, 0, 0, 1, 0};
    tls_seal_control(t, SSL3_RT_HANDSHAKE, key_update, sizeof(key_update));
    return tls_of(t)->seal != NULL;
}

bool tls_seal_fill(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    struct outq *q = t->out;
    if (!tc->seal) {
        t->ev->error(t, EPROTO);
        return false;
    }
    if (!tc->out && !(tc->out = block_get(&tc->w->out_pool))) {
        t->ev->error(t, ENOMEM);
        return false;
    }
    while (TLS_OUT_CAP - tc->out_len >= TLS_REC_ROOM) {
        if (tc->seal_seq + TLS_BATCH >= tc->seal_limit && !own_key_update(t)) {
            t->ev->error(t, EPROTO);
            return false;
        }
        if (tc->file_pos < tc->file_len) {
            /* a cold read's bytes, in the file buffer */
            start_at(tc, (uintptr_t)(tc->file + tc->file_pos));
            char *rec = tc->out + tc->out_len;
            size_t n = MIN(tc->file_len - tc->file_pos, TLS_SEAL_PLAIN);
            tls_copy(rec + 5, tc->file + tc->file_pos, n);
            tc->file_pos += (uint32_t)n;
            if (!seal_data(t, rec, n, -1)) {
                return false;
            }
            continue;
        }
        if (outq_empty(q) || (tc->flags & TLS_READ)) {
            return true;
        }
        const struct outq_seg *s = outq_seg(q, 0);
        if (s->kind == OUTQ_FILE) {
            bool wait;
            if (!seal_file(t, s, &wait)) {
                return false;
            }
            if (wait) {
                return true; /* what is sealed already goes out meanwhile */
            }
            continue;
        }
        char *rec = tc->out + tc->out_len;
        if (!seal_data(t, rec, tls_gather(q, rec + 5, TLS_SEAL_PLAIN), -1)) {
            return false;
        }
    }
    return true;
}
