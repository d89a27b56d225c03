/* tls_vars.c - the $ssl_* variables and the client-certificate check (see tls_conf.h). */
#include "core/http/tls_vars.h"

#include "core/base/arena.h"
#include "core/http/req.h"
#include "core/http/respond.h"
#include "core/http/route.h"
#include "core/http/tls_ctx.h"
#include "core/http/tls_srv.h"
#include "core/http/vars.h"
#include "log/errlog.h"
#include "proto/uri.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

static SSL *ssl_of(struct req *r)
{
    return req_ssl(r);
}

static struct slice cstr(const char *s)
{
    return s ? slice_make(s, strlen(s)) : SLICE_NULL;
}

static struct slice v_protocol(struct req *r, struct slice arg)
{
    (void)arg;
    SSL *s = ssl_of(r);
    return s ? cstr(SSL_get_version(s)) : SLICE_NULL;
}

static struct slice v_cipher(struct req *r, struct slice arg)
{
    (void)arg;
    SSL *s = ssl_of(r);
    return s ? cstr(SSL_get_cipher_name(s)) : SLICE_NULL;
}

static struct slice v_server_name(struct req *r, struct slice arg)
{
    (void)arg;
    SSL *s = ssl_of(r);
    return s ? cstr(SSL_get_servername(s, TLSEXT_NAMETYPE_host_name)) : SLICE_NULL;
}

static struct slice v_reused(struct req *r, struct slice arg)
{
    (void)arg;
    SSL *s = ssl_of(r);
    if (!s) {
        return SLICE_NULL;
    }
    return SSL_session_reused(s) ? SLICE_LIT("r") : SLICE_LIT(".");
}

static struct slice v_alpn(struct req *r, struct slice arg)
{
    (void)arg;
    SSL *s = ssl_of(r);
    const unsigned char *p = NULL;
    unsigned n = 0;
    if (s) {
        SSL_get0_alpn_selected(s, &p, &n);
    }
    return p && n ? slice_make((const char *)p, n) : SLICE_NULL;
}

/* nginx's values: NONE, SUCCESS, FAILED:reason. */
static struct slice v_verify(struct req *r, struct slice arg)
{
    (void)arg;
    SSL *s = ssl_of(r);
    if (!s) {
        return SLICE_NULL;
    }
    if (!SSL_get0_peer_certificate(s)) {
        return SLICE_LIT("NONE");
    }
    long rc = SSL_get_verify_result(s);
    if (rc == X509_V_OK) {
        return SLICE_LIT("SUCCESS");
    }
    const char *why = X509_verify_cert_error_string(rc);
    size_t n = 7 + strlen(why);
    char *p = arena_alloc(r->arena, n + 1);
    if (!p) {
        return SLICE_LIT("FAILED");
    }
    snprintf(p, n + 1, "FAILED:%s", why);
    return slice_make(p, n);
}

/* The subject as RFC 2253 writes it (nginx's $ssl_client_s_dn). */
static struct slice v_s_dn(struct req *r, struct slice arg)
{
    (void)arg;
    SSL *s = ssl_of(r);
    X509 *x = s ? SSL_get0_peer_certificate(s) : NULL;
    BIO *b = x ? BIO_new(BIO_s_mem()) : NULL;
    struct slice out = SLICE_NULL;
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
        char *data;
        long n = BIO_get_mem_data(b, &data);
        char *p = n > 0 ? arena_memdup(r->arena, data, (size_t)n) : NULL;
        out = p ? slice_make(p, (size_t)n) : SLICE_NULL;
    }
    BIO_free(b);
    return out;
}

static struct slice hex(struct req *r, const unsigned char *p, size_t n, bool upper)
{
    char *o = arena_alloc(r->arena, 2 * n + 1);
    if (!o) {
        return SLICE_NULL;
    }
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = digits[p[i] >> 4];
        o[2 * i + 1] = digits[p[i] & 15];
    }
    o[2 * n] = '\0';
    return slice_make(o, 2 * n);
}

static struct slice v_serial(struct req *r, struct slice arg)
{
    (void)arg;
    SSL *s = ssl_of(r);
    X509 *x = s ? SSL_get0_peer_certificate(s) : NULL;
    const ASN1_INTEGER *sn = x ? X509_get0_serialNumber(x) : NULL;
    if (!sn) {
        return SLICE_NULL;
    }
    return hex(r, ASN1_STRING_get0_data(sn), (size_t)ASN1_STRING_length(sn), true);
}

static struct slice v_fingerprint(struct req *r, struct slice arg)
{
    (void)arg;
    SSL *s = ssl_of(r);
    X509 *x = s ? SSL_get0_peer_certificate(s) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n;
    if (!x || X509_digest(x, EVP_sha1(), md, &n) != 1) {
        return SLICE_NULL;
    }
    return hex(r, md, n, false);
}

static const struct http_var_def defs[] = {
    {"ssl_protocol", false, v_protocol},       {"ssl_cipher", false, v_cipher},
    {"ssl_server_name", false, v_server_name}, {"ssl_session_reused", false, v_reused},
    {"ssl_client_verify", false, v_verify},    {"ssl_client_s_dn", false, v_s_dn},
    {"ssl_client_serial", false, v_serial},    {"ssl_client_fingerprint", false, v_fingerprint},
    {"ssl_alpn_protocol", false, v_alpn},
};

int tls_vars_start(void)
{
    return http_vars_provide(defs, ARRAY_SIZE(defs)) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- ssl_verify_client */

/* nginx's pages for its 496 and 495, sent with status 400. */
static int refuse(struct req *r, const char *why)
{
    static const char fmt[] = "<html>\r\n<head><title>400 %s</title></head>\r\n<body>\r\n"
                              "<center><h1>400 Bad Request</h1></center>\r\n"
                              "<center>%s</center>\r\n<hr><center>spate</center>\r\n"
                              "</body>\r\n</html>\r\n";
    size_t cap = sizeof(fmt) + 2 * strlen(why);
    char *body = arena_alloc(r->arena, cap);
    if (!body) {
        return -ENOMEM;
    }
    int n = snprintf(body, cap, fmt, why, why);
    r->resp.close = true;
    resp_begin(r, 400);
    if (resp_field(r, SLICE_LIT("Content-Type"), SLICE_LIT("text/html")) < 0 ||
        resp_body_mem(r, body, (size_t)n, NULL) < 0) {
        return -ENOMEM;
    }
    int rc = resp_send(r);
    return rc < 0 ? rc : 1;
}

/* Errors optional_no_ca lets through: the chain does not reach a CA we trust. */
static bool no_ca_error(long rc)
{
    return rc == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
           rc == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
           rc == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
           rc == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
           rc == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

/* The client's SNI names the host the request asks for (case, a trailing dot aside). */
static bool same_host(const char *sni, struct slice host)
{
    struct slice h = uri_host_name(host);
    size_t n = strlen(sni);
    if (n && sni[n - 1] == '.') {
        n--;
    }
    if (h.len && h.ptr[h.len - 1] == '.') {
        h.len--;
    }
    return n == h.len && slice_eq_nocase(slice_make(sni, n), h);
}

int tls_client_check(struct req *r, void *ssl)
{
    SSL *s = ssl;
    /* the settings of the server Host chose: SNI may have named another (nginx's rules) */
    const struct tls_srv *ts = r->server && r->secure ? tls_srv_get(r->server->block) : NULL;
    if (!ts || ts->verify_client == TLS_VERIFY_OFF) {
        return 0;
    }
    if (!s) {
        /* a session that does not give its SSL (req_proto.ssl): verification cannot be
         * checked, so a server that wants it refuses rather than letting the client in */
        errlog(ERRLOG_ERROR, "ssl_verify_client: this connection's session does not expose its "
                             "TLS state; request refused");
        return refuse(r, "The SSL certificate error");
    }
    const char *sni = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    if (sni && r->msg && !same_host(sni, r->msg->host)) {
        /* the certificate was checked (or not asked for) for another server: as nginx, 421 */
        r->resp.close = true;
        int rc = resp_error(r, 421);
        return rc < 0 ? rc : 1;
    }
    long rc = SSL_get_verify_result(s);
    if (!SSL_get0_peer_certificate(s)) {
        return ts->verify_client == TLS_VERIFY_ON
                   ? refuse(r, "No required SSL certificate was sent")
                   : 0;
    }
    if (rc != X509_V_OK && !(ts->verify_client == TLS_VERIFY_OPTIONAL_NO_CA && no_ca_error(rc))) {
        return refuse(r, "The SSL certificate error");
    }
    return 0;
}
