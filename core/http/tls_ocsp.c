/* tls_ocsp.c - OCSP stapling from ssl_stapling_file (see tls_ctx.h). */
#include "core/http/tls_ocsp.h"

#include "core/base/alloc.h"

#include <errno.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define STAPLE_CERTS_MAX 8
#define STAPLE_MAX (64 * 1024) /* a response larger than this is not an OCSP response */

/* The response, for each certificate of the context it answers for. */
struct tls_staple {
    unsigned char *der;
    int len;
    time_t next_update; /* 0: none given; past it, nothing is stapled */
    X509 *certs[STAPLE_CERTS_MAX];
    unsigned ncerts;
};

void tls_staple_free(struct tls_staple *s)
{
    if (!s) {
        return;
    }
    for (unsigned i = 0; i < s->ncerts; i++) {
        X509_free(s->certs[i]);
    }
    sp_free(s->der);
    sp_free(s);
}

static int read_der(const char *path, struct conf_where w, struct tls_staple *s, char *err,
                    size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return conf_fail_at(err, errlen, w, "cannot read OCSP response \"%s\": %s", path,
                            strerror(errno));
    }
    s->der = sp_malloc(STAPLE_MAX);
    size_t n = s->der ? fread(s->der, 1, STAPLE_MAX, f) : 0;
    fclose(f);
    if (!s->der) {
        return conf_fail_at(err, errlen, w, "out of memory");
    }
    if (n == 0 || n == STAPLE_MAX) {
        return conf_fail_at(err, errlen, w, "\"%s\" is not a DER OCSP response", path);
    }
    s->len = (int)n;
    return 0;
}

/* The certificate's issuer among the context's chain and trusted certificates, or NULL. */
static X509 *issuer_of(SSL_CTX *ctx, X509 *x)
{
    STACK_OF(X509) *chain = NULL;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    for (int i = 0; chain && i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        if (X509_check_issued(c, x) == X509_V_OK) {
            return c;
        }
    }
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_OBJECT) *objs = st ? X509_STORE_get0_objects(st) : NULL;
    for (int i = 0; objs && i < sk_X509_OBJECT_num(objs); i++) {
        X509 *c = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (c && X509_check_issued(c, x) == X509_V_OK) {
            return c;
        }
    }
    return NULL;
}

/* The response's signature, by the issuer or a responder it delegated to. */
static bool signed_by(OCSP_BASICRESP *bs, X509 *issuer)
{
    X509_STORE *st = X509_STORE_new();
    STACK_OF(X509) *certs = sk_X509_new_null();
    bool ok = false;
    if (st && certs && X509_STORE_add_cert(st, issuer) == 1 && sk_X509_push(certs, issuer)) {
        X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
        ok = OCSP_basic_verify(bs, certs, st, OCSP_TRUSTOTHER) == 1;
    }
    sk_X509_free(certs);
    X509_STORE_free(st);
    return ok;
}

enum answer { ANSWER_NONE, ANSWER_GOOD, ANSWER_BAD_SIG, ANSWER_REVOKED, ANSWER_EXPIRED };

/* What the response says about x (signed, current and good: ANSWER_GOOD). */
static enum answer answer_for(SSL_CTX *ctx, OCSP_BASICRESP *bs, X509 *x, time_t *next)
{
    X509 *issuer = issuer_of(ctx, x);
    OCSP_CERTID *id = issuer ? OCSP_cert_to_id(NULL, x, issuer) : NULL;
    int status, reason;
    ASN1_GENERALIZEDTIME *rev, *thisupd, *nextupd;
    enum answer a = ANSWER_NONE;
    if (id && OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd, &nextupd) == 1) {
        if (!signed_by(bs, issuer)) {
            a = ANSWER_BAD_SIG;
        } else if (status != V_OCSP_CERTSTATUS_GOOD) {
            a = ANSWER_REVOKED;
        } else if (OCSP_check_validity(thisupd, nextupd, 300, -1) != 1) {
            a = ANSWER_EXPIRED;
        } else {
            a = ANSWER_GOOD;
            struct tm tm;
            *next = nextupd && ASN1_TIME_to_tm(nextupd, &tm) == 1 ? timegm(&tm) : 0;
        }
    }
    OCSP_CERTID_free(id);
    return a;
}

static int check(const struct tls_ctx_params *p, SSL_CTX *ctx, struct tls_staple *s,
                 const char *path, struct conf_where w, char *err, size_t errlen)
{
    const unsigned char *q = s->der;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &q, s->len);
    OCSP_BASICRESP *bs = NULL;
    if (!resp || OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
        !(bs = OCSP_response_get1_basic(resp))) {
        OCSP_RESPONSE_free(resp);
        return conf_fail_at(err, errlen, w, "\"%s\" is not a successful OCSP response", path);
    }
    enum answer worst = ANSWER_NONE;
    for (int r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); r == 1;
         r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
        X509 *x = SSL_CTX_get0_certificate(ctx);
        time_t next = 0;
        enum answer a = x ? answer_for(ctx, bs, x, &next) : ANSWER_NONE;
        if (a == ANSWER_GOOD && s->ncerts < STAPLE_CERTS_MAX && X509_up_ref(x) == 1) {
            s->certs[s->ncerts++] = x;
            s->next_update = next;
        } else if (a > worst) {
            worst = a;
        }
    }
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    (void)p;
    static const char *const why[] = {
        [ANSWER_NONE] = "is not for a certificate of this server (or its issuer is missing: "
                        "put it in the certificate's chain or in ssl_trusted_certificate)",
        [ANSWER_BAD_SIG] = "is not signed by the certificate's issuer",
        [ANSWER_REVOKED] = "says the certificate is revoked or unknown",
        [ANSWER_EXPIRED] = "has expired (or is not valid yet)",
    };
    if (s->ncerts == 0 || worst > ANSWER_NONE) {
        return conf_fail_at(err, errlen, w, "the OCSP response \"%s\" %s", path,
                            why[s->ncerts == 0 && worst == ANSWER_NONE ? ANSWER_NONE : worst]);
    }
    return 0;
}

struct tls_staple *tls_staple_new(const struct tls_ctx_params *p, SSL_CTX *ctx, char *err,
                                  size_t errlen)
{
    const char *path = p->ts->stapling_file;
    struct conf_where w = tls_srv_where(p->block, p->slot, TLS_ROW_STAPLING_FILE);
    struct tls_staple *s = sp_calloc(1, sizeof(*s));
    if (!s) {
        conf_fail_at(err, errlen, w, "out of memory");
        return NULL;
    }
    if (read_der(path, w, s, err, errlen) < 0 || check(p, ctx, s, path, w, err, errlen) < 0) {
        tls_staple_free(s);
        return NULL;
    }
    return s;
}

/* The ex_data slot of a context's struct tls_staple (made once, on the main thread). */
static int staple_index = -1;

static void staple_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                           void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    tls_staple_free(ptr);
}

/* Only called when the client asked for the status (status_request in its ClientHello), on
 * the context SNI chose. */
static int on_status(SSL *ssl, void *arg)
{
    (void)arg;
    const struct tls_staple *s = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), staple_index);
    X509 *x = SSL_get_certificate(ssl);
    if (!s || !x || (s->next_update && time(NULL) > s->next_update)) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    for (unsigned k = 0; k < s->ncerts; k++) {
        if (s->certs[k] == x || X509_cmp(s->certs[k], x) == 0) {
            unsigned char *copy = OPENSSL_memdup(s->der, (size_t)s->len); /* OpenSSL frees it */
            if (!copy || SSL_set_tlsext_status_ocsp_resp(ssl, copy, s->len) != 1) {
                OPENSSL_free(copy);
                return SSL_TLSEXT_ERR_NOACK;
            }
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

int tls_staple_attach(SSL_CTX *ctx, struct tls_staple *s)
{
    if (staple_index < 0) {
        staple_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, staple_ex_free);
    }
    if (staple_index < 0 || SSL_CTX_set_ex_data(ctx, staple_index, s) != 1) {
        tls_staple_free(s);
        return -1;
    }
    SSL_CTX_set_tlsext_status_cb(ctx, on_status);
    return 0;
}
