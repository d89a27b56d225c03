/*
 * tls_kdf.c - TLS 1.3's key schedule steps the transport needs after the handshake (tls_kdf.h),
 * through OpenSSL's TLS13-KDF.
 */
#include "core/net/tls_kdf.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <string.h>

const EVP_MD *tls_kdf_digest(const SSL *ssl)
{
    const SSL_CIPHER *sc = SSL_get_current_cipher(ssl);
    return sc ? SSL_CIPHER_get_handshake_digest(sc) : NULL;
}

/* Fetched once: a fetch is a lookup in OpenSSL's method store (under its lock), and the
 * sealer expands two labels per handshake. */
static EVP_KDF *tls13_kdf;
static pthread_once_t kdf_once = PTHREAD_ONCE_INIT;

static void fetch_kdf(void)
{
    tls13_kdf = EVP_KDF_fetch(NULL, "TLS13-KDF", NULL);
}

bool tls_kdf_expand(const EVP_MD *md, const uint8_t *secret, size_t slen, const char *label,
                    uint8_t *out, size_t n)
{
    pthread_once(&kdf_once, fetch_kdf);
    EVP_KDF_CTX *kc = tls13_kdf ? EVP_KDF_CTX_new(tls13_kdf) : NULL;
    if (!kc) {
        return false;
    }
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, slen),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_PREFIX, (void *)"tls13 ", 6),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_LABEL, (void *)label, strlen(label)),
        OSSL_PARAM_END,
    };
    bool ok = EVP_KDF_derive(kc, out, n, params) > 0;
    EVP_KDF_CTX_free(kc);
    return ok;
}
