/*
 * Unit tests for kernel TLS's keys (core/net/tls_ktls.c), without a kernel that has TLS: the
 * crypto_info the transport would hand to TLS_TX and TLS_RX is checked by decrypting, with it
 * alone, the next record each side of a real OpenSSL connection writes (TLS 1.3 from the
 * traffic secrets the key-log callback gives, TLS 1.2 from the master secret; AES-128-GCM,
 * AES-256-GCM and ChaCha20-Poly1305), so a wrong key, IV, salt or sequence number fails here
 * and not only on a kernel with CONFIG_TLS. The probe's answer is printed.
 */
#include "common/unit.h"
#include "core/net/tls_conn.h"
#include "core/net/tls_ktls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

static SSL_CTX *server_ctx;
static struct tls_conn keys; /* what the key-log callback collected */

static int unhex(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static void keylog(const SSL *ssl, const char *line)
{
    (void)ssl;
    uint8_t *out = NULL;
    if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0) {
        out = keys.tx_secret;
    } else if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0) {
        out = keys.rx_secret;
    } else {
        return;
    }
    const char *p = strchr(line + 24, ' ') + 1;
    size_t n = 0;
    for (; p[0] && p[1] && n < 48; p += 2) {
        out[n++] = (uint8_t)(unhex(p[0]) << 4 | unhex(p[1]));
    }
    keys.secret_len = (uint8_t)n;
}

static int setup(void **state)
{
    (void)state;
    char why[200];
    printf("# kernel TLS here: %s\n", tls_ktls_probe(why, sizeof(why)) ? "available" : why);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, key, EVP_sha256());
    server_ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(server_ctx, x);
    SSL_CTX_use_PrivateKey(server_ctx, key);
    SSL_CTX_set_keylog_callback(server_ctx, keylog);
    SSL_CTX_set_num_tickets(server_ctx, 0);            /* TLS 1.3: no record before ours */
    SSL_CTX_set_options(server_ctx, SSL_OP_NO_TICKET); /* TLS 1.2: the same */
    X509_free(x);
    EVP_PKEY_free(key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    SSL_CTX_free(server_ctx);
    return 0;
}

/* One record out of bio: its length, 0 if none is whole there. */
static size_t next_record(BIO *bio, uint8_t *rec, size_t cap)
{
    if (BIO_read(bio, rec, 5) != 5) {
        return 0;
    }
    size_t len = (size_t)rec[3] << 8 | rec[4];
    assert_true(len + 5 <= cap);
    assert_int_equal(BIO_read(bio, rec + 5, (int)len), (int)len);
    return len + 5;
}

static const uint8_t *info_key(const union tls_ktls_info *i, size_t *len)
{
    switch (i->base.cipher_type) {
    case TLS_CIPHER_AES_GCM_128:
        *len = 16;
        return i->gcm128.key;
    case TLS_CIPHER_AES_GCM_256:
        *len = 32;
        return i->gcm256.key;
    default:
        *len = 32;
        return i->chacha.key;
    }
}

/*
 * Decrypts record rec (rlen bytes) with info alone, as the kernel would: the plaintext's
 * length in out (TLS 1.3: with its inner content type), or -1.
 */
static int open_record(const union tls_ktls_info *i, const uint8_t *rec, size_t rlen, uint8_t *out)
{
    bool v13 = i->base.version == TLS_1_3_VERSION;
    bool chacha = i->base.cipher_type == TLS_CIPHER_CHACHA20_POLY1305;
    const unsigned char *seq = chacha                                          ? i->chacha.rec_seq
                               : i->base.cipher_type == TLS_CIPHER_AES_GCM_128 ? i->gcm128.rec_seq
                                                                               : i->gcm256.rec_seq;
    uint8_t nonce[12];
    size_t skip = 5; /* header, then TLS 1.2 GCM's explicit nonce */
    if (chacha) {
        memcpy(nonce, i->chacha.iv, 12);
    } else {
        const unsigned char *salt =
            i->base.cipher_type == TLS_CIPHER_AES_GCM_128 ? i->gcm128.salt : i->gcm256.salt;
        const unsigned char *iv =
            i->base.cipher_type == TLS_CIPHER_AES_GCM_128 ? i->gcm128.iv : i->gcm256.iv;
        memcpy(nonce, salt, 4);
        if (v13) {
            memcpy(nonce + 4, iv, 8);
        } else {
            /* the record's explicit nonce (OpenSSL's count from a random start; the kernel
             * counts from the info's iv): only the salt and the sequence number (in the
             * additional data) come from the info */
            memcpy(nonce + 4, rec + 5, 8);
            skip += 8;
        }
    }
    if (v13 || chacha) {
        for (int k = 0; k < 8; k++) {
            nonce[4 + k] ^= seq[k];
        }
    }
    size_t ctlen = rlen - skip - 16;
    uint8_t aad[13];
    size_t aadlen;
    if (v13) {
        memcpy(aad, rec, 5);
        aadlen = 5;
    } else {
        memcpy(aad, seq, 8);
        aad[8] = rec[0];
        aad[9] = rec[1];
        aad[10] = rec[2];
        aad[11] = (uint8_t)(ctlen >> 8);
        aad[12] = (uint8_t)ctlen;
        aadlen = 13;
    }
    size_t klen;
    const uint8_t *key = info_key(i, &klen);
    const EVP_CIPHER *c = chacha       ? EVP_chacha20_poly1305()
                          : klen == 16 ? EVP_aes_128_gcm()
                                       : EVP_aes_256_gcm();
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int n = 0, m = 0,
        ok = EVP_DecryptInit_ex(x, c, NULL, key, nonce) &&
             EVP_DecryptUpdate(x, NULL, &n, aad, (int)aadlen) &&
             EVP_DecryptUpdate(x, out, &n, rec + skip, (int)ctlen) &&
             EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(rec + skip + ctlen)) &&
             EVP_DecryptFinal_ex(x, out + n, &m);
    EVP_CIPHER_CTX_free(x);
    return ok ? n + m : -1;
}

static void check(int version, const char *cipher)
{
    memset(&keys, 0, sizeof(keys));
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(cctx, version);
    SSL_CTX_set_max_proto_version(cctx, version);
    if (version == TLS1_3_VERSION) {
        assert_int_equal(SSL_CTX_set_ciphersuites(cctx, cipher), 1);
    } else {
        assert_int_equal(SSL_CTX_set_cipher_list(cctx, cipher), 1);
    }
    SSL *s = SSL_new(server_ctx), *c = SSL_new(cctx);
    BIO *bs, *bc;
    assert_int_equal(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
    SSL_set_bio(s, bs, bs);
    SSL_set_bio(c, bc, bc);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    int rs = 0, rc = 0;
    for (int k = 0; k < 20 && (rs != 1 || rc != 1); k++) {
        rc = SSL_do_handshake(c);
        rs = SSL_do_handshake(s);
    }
    assert_int_equal(rs, 1);
    assert_int_equal(rc, 1);
    uint8_t rec[512], out[512];
    /* the client's handshake ended with its Finished: nothing more of the server's waits */
    assert_int_equal(BIO_ctrl_pending(bc), 0);

    keys.ssl = s;
    /* what the message callback counts: TLS 1.2's Finished is each side's first record under
     * the new keys; TLS 1.3's keys are fresh (no ticket before our record) */
    uint64_t first = version == TLS1_2_VERSION ? 1 : 0;
    keys.tx_records = first;
    keys.rx_records = first;
    union tls_ktls_info tx, rx;
    socklen_t txlen, rxlen;
    assert_true(tls_ktls_crypto_info(&keys, &tx, &txlen, &rx, &rxlen));
    assert_true(txlen > sizeof(struct tls_crypto_info));

    /* ours: the server's next record */
    assert_int_equal(SSL_write(s, "to the kernel", 13), 13);
    size_t rlen = next_record(bc, rec, sizeof(rec));
    assert_true(rlen > 0);
    int n = open_record(&tx, rec, rlen, out);
    assert_int_equal(n, version == TLS1_3_VERSION ? 14 : 13);
    assert_memory_equal(out, "to the kernel", 13);

    /* theirs: the client's next record */
    assert_int_equal(SSL_write(c, "from the peer", 13), 13);
    rlen = next_record(bs, rec, sizeof(rec));
    assert_true(rlen > 0);
    n = open_record(&rx, rec, rlen, out);
    assert_true(n >= 13);
    assert_memory_equal(out, "from the peer", 13);

    SSL_free(s);
    SSL_free(c);
    SSL_CTX_free(cctx);
}

static void test_tls13_aes128(void **state)
{
    (void)state;
    check(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256");
}

static void test_tls13_aes256(void **state)
{
    (void)state;
    check(TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384");
}

static void test_tls13_chacha(void **state)
{
    (void)state;
    check(TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256");
}

static void test_tls12_aes128(void **state)
{
    (void)state;
    check(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256");
}

static void test_tls12_aes256(void **state)
{
    (void)state;
    check(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384");
}

static void test_tls12_chacha(void **state)
{
    (void)state;
    check(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls13_aes128), cmocka_unit_test(test_tls13_aes256),
        cmocka_unit_test(test_tls13_chacha), cmocka_unit_test(test_tls12_aes128),
        cmocka_unit_test(test_tls12_aes256), cmocka_unit_test(test_tls12_chacha),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
