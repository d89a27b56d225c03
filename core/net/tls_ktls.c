/*
 * tls_ktls.c - handing a TLS connection's keys to the kernel (TCP_ULP "tls", TLS_TX/TLS_RX).
 *
 * Once per process, the first time a TLS context is prepared (at startup, before the sandbox),
 * a TCP socket is asked to take the "tls" upper-layer protocol: on an unconnected socket a
 * kernel with TLS answers ENOTCONN, one without it ENOENT. Without it nothing below runs and
 * every connection encrypts in user space (tls.c).
 *
 * With it, the keys the kernel needs come from what tls_keys.c collected during the handshake:
 * the TLS 1.3 traffic secrets, expanded into key and IV with OpenSSL's TLS13-KDF (for TLS 1.2
 * the key block is derived from the master secret and the randoms with TLS1-PRF), and the
 * record sequence numbers the message callback counted.
 * The switch is made at a quiet point after the handshake: none of our ciphertext waiting or
 * in flight, every received byte read by OpenSSL (SSL_has_pending is 0). Only AES-128-GCM,
 * AES-256-GCM and ChaCha20-Poly1305 go to the kernel; anything else, or a kernel that refuses,
 * stays in user space. Afterwards the socket is plain to us: plain.c's receive delivers
 * plaintext, its send path sends the queue and sendfile sends files.
 *
 * Known limits: a key update or close_notify from the client reaches us as a receive error
 * (a record that is not data), which ends the stream as eof; our own close_notify is not sent
 * on kernel TLS connections (the FIN is).
 */

#include "core/net/tls_ktls.h"

#include "core/base/compiler.h"
#include "core/net/plain.h"
#include "core/net/tls_conn.h"
#include "core/net/tls_kdf.h"
#include "log/errlog.h"

#include <errno.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

/* ---------------------------------------------------------------- the probe */

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_errno; /* 0: available; else why not */

static void probe(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        probe_errno = errno;
        return;
    }
    int r = setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"));
    /* ENOTCONN: the kernel has the ULP and wants an established connection for it */
    probe_errno = (r == 0 || errno == ENOTCONN) ? 0 : errno;
    close(fd);
}

bool tls_ktls_available(void)
{
    pthread_once(&probe_once, probe);
    return probe_errno == 0;
}

bool tls_ktls_probe(char *why, size_t len)
{
    if (tls_ktls_available()) {
        snprintf(why, len, "available");
        return true;
    }
    snprintf(why, len, "not available (setsockopt TCP_ULP \"tls\": %s%s)", strerror(probe_errno),
             probe_errno == ENOENT ? "; the kernel is built without CONFIG_TLS" : "");
    return false;
}

/* ---------------------------------------------------------------- the keys */

struct ktls_cipher {
    uint16_t type;
    size_t key_len, iv_len; /* iv_len: the fixed IV (GCM: 4-byte salt in TLS 1.2, 12 in 1.3) */
};

static bool cipher_of(const SSL *ssl, struct ktls_cipher *c)
{
    const SSL_CIPHER *sc = SSL_get_current_cipher(ssl);
    bool v13 = SSL_version(ssl) == TLS1_3_VERSION;
    switch (sc ? SSL_CIPHER_get_cipher_nid(sc) : NID_undef) {
    case NID_aes_128_gcm:
        *c = (struct ktls_cipher){TLS_CIPHER_AES_GCM_128, 16, v13 ? 12 : 4};
        return true;
    case NID_aes_256_gcm:
        *c = (struct ktls_cipher){TLS_CIPHER_AES_GCM_256, 32, v13 ? 12 : 4};
        return true;
    case NID_chacha20_poly1305:
        *c = (struct ktls_cipher){TLS_CIPHER_CHACHA20_POLY1305, 32, 12};
        return true;
    default:
        return false;
    }
}

/* TLS 1.2 key block: PRF(master, "key expansion", server_random + client_random). */
static bool key_block12(SSL *ssl, const EVP_MD *md, uint8_t *out, size_t n)
{
    uint8_t master[SSL_MAX_MASTER_KEY_LENGTH], sr[SSL3_RANDOM_SIZE], cr[SSL3_RANDOM_SIZE];
    size_t mlen = SSL_SESSION_get_master_key(SSL_get_session(ssl), master, sizeof(master));
    if (!mlen || SSL_get_server_random(ssl, sr, sizeof(sr)) != sizeof(sr) ||
        SSL_get_client_random(ssl, cr, sizeof(cr)) != sizeof(cr)) {
        return false;
    }
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    bool ok = false;
    if (kc) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0),
            OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SECRET, master, mlen),
            OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SEED, (void *)"key expansion", 13),
            OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SEED, sr, sizeof(sr)),
            OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SEED, cr, sizeof(cr)),
            OSSL_PARAM_END,
        };
        ok = EVP_KDF_derive(kc, out, n, params) > 0;
        EVP_KDF_CTX_free(kc);
    }
    OPENSSL_cleanse(master, sizeof(master));
    return ok;
}

static void put_seq(unsigned char out[8], uint64_t seq)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)seq;
        seq >>= 8;
    }
}

/* Fills one direction's crypto_info from key, fixed IV and record sequence number; bytes. */
static socklen_t fill_info(union tls_ktls_info *info, const struct ktls_cipher *c, bool v13,
                           const uint8_t *key, const uint8_t *iv, uint64_t seq)
{
    memset(info, 0, sizeof(*info));
    info->base.version = v13 ? TLS_1_3_VERSION : TLS_1_2_VERSION;
    info->base.cipher_type = c->type;
    unsigned char rs[8];
    put_seq(rs, seq);
    if (c->type == TLS_CIPHER_CHACHA20_POLY1305) {
        memcpy(info->chacha.key, key, c->key_len);
        memcpy(info->chacha.iv, iv, 12);
        memcpy(info->chacha.rec_seq, rs, 8);
        return sizeof(info->chacha);
    }
    /* GCM: a 4-byte salt, then 8 bytes: the rest of the TLS 1.3 IV, or where the kernel's
     * TLS 1.2 explicit nonces start counting: the sequence number (OpenSSL's counted from a
     * random start: a repeat needs the two 64-bit counts to meet, a negligible chance) */
    unsigned char *salt, *ivp, *keyp, *seqp;
    socklen_t len;
    if (c->type == TLS_CIPHER_AES_GCM_128) {
        salt = info->gcm128.salt, ivp = info->gcm128.iv, keyp = info->gcm128.key;
        seqp = info->gcm128.rec_seq, len = sizeof(info->gcm128);
    } else {
        salt = info->gcm256.salt, ivp = info->gcm256.iv, keyp = info->gcm256.key;
        seqp = info->gcm256.rec_seq, len = sizeof(info->gcm256);
    }
    memcpy(keyp, key, c->key_len);
    memcpy(salt, iv, 4);
    memcpy(ivp, v13 ? iv + 4 : rs, 8);
    memcpy(seqp, rs, 8);
    return len;
}

/* Both directions' crypto_info; false when the keys cannot be had. */
bool tls_ktls_crypto_info(const struct tls_conn *tc, union tls_ktls_info *tx, socklen_t *txlen,
                          union tls_ktls_info *rx, socklen_t *rxlen)
{
    struct ktls_cipher c;
    const EVP_MD *md = tls_kdf_digest(tc->ssl);
    int version = SSL_version(tc->ssl);
    if ((version != TLS1_2_VERSION && version != TLS1_3_VERSION) || !md ||
        !cipher_of(tc->ssl, &c)) {
        return false;
    }
    bool v13 = version == TLS1_3_VERSION;
    uint8_t kb[2 * 32 + 2 * 12];
    const uint8_t *ck = kb, *sk = kb + c.key_len, *civ = kb + 2 * c.key_len, *siv = civ + c.iv_len;
    if (v13) {
        uint8_t *k = kb;
        if (!tc->secret_len || !tls_kdf_expand(md, tc->rx_secret, tc->secret_len, "key", k, c.key_len) ||
            !tls_kdf_expand(md, tc->tx_secret, tc->secret_len, "key", k + c.key_len, c.key_len) ||
            !tls_kdf_expand(md, tc->rx_secret, tc->secret_len, "iv", k + 2 * c.key_len, 12) ||
            !tls_kdf_expand(md, tc->tx_secret, tc->secret_len, "iv", k + 2 * c.key_len + 12, 12)) {
            return false;
        }
    } else if (!key_block12(tc->ssl, md, kb, 2 * c.key_len + 2 * c.iv_len)) {
        return false;
    }
    *txlen = fill_info(tx, &c, v13, sk, siv, tc->tx_records);
    *rxlen = fill_info(rx, &c, v13, ck, civ, tc->rx_records);
    OPENSSL_cleanse(kb, sizeof(kb));
    return true;
}

/* ---------------------------------------------------------------- the switch */

bool tls_ktls_switch(struct transport *t)
{
    struct tls_conn *tc = tls_of(t);
    if (!(tc->flags & TLS_KEYS) || !(tc->flags & TLS_DONE) || tc->out_len ||
        (tc->flags & (TLS_SEND | TLS_READ)) || tc->file_pos < tc->file_len ||
        SSL_has_pending(tc->ssl)) {
        return false; /* not yet: something of ours is still buffered */
    }
    tc->flags &= ~TLS_KEYS; /* one try */
    union tls_ktls_info tx, rx;
    socklen_t txlen, rxlen;
    bool ok = tls_ktls_crypto_info(tc, &tx, &txlen, &rx, &rxlen);
    OPENSSL_cleanse(tc->tx_secret, sizeof(tc->tx_secret));
    OPENSSL_cleanse(tc->rx_secret, sizeof(tc->rx_secret));
    ERR_clear_error();
    /* RX first: a kernel that takes the ULP but not the keys leaves a plain socket behind, on
     * which user space goes on; once RX is in the kernel there is no way back */
    if (!ok || setsockopt(t->fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0 ||
        setsockopt(t->fd, SOL_TLS, TLS_RX, &rx, rxlen) < 0) {
        OPENSSL_cleanse(&rx, sizeof(rx));
        OPENSSL_cleanse(&tx, sizeof(tx));
        atomic_fetch_add_explicit(&t->env->tls_user, 1, memory_order_relaxed);
        return false;
    }
    int rc = setsockopt(t->fd, SOL_TLS, TLS_TX, &tx, txlen);
    int err = errno;
    OPENSSL_cleanse(&rx, sizeof(rx));
    OPENSSL_cleanse(&tx, sizeof(tx));
    if (rc < 0) {
        errlog(ERRLOG_WARN,
               "kernel TLS took the receive keys but not the send keys (conn %llu): "
               "%s; closing the connection",
               (unsigned long long)t->id, strerror(err));
        tc->ev->error(t, err);
        return false;
    }
    tc->flags |= TLS_KTLS;
    atomic_fetch_add_explicit(&t->env->tls_ktls, 1, memory_order_relaxed);
    transport_plain_adopt(t);
    return true;
}
