/* tls_ctx.c - one SSL_CTX from a server's settings (see tls_ctx.h). */
#include "core/http/tls_ctx.h"

#include "core/base/alloc.h"
#include "core/http/tls_ocsp.h"
#include "core/http/tls_sni.h"
#include "core/http/tls_tickets.h"
#include "core/net/tls.h"
#include "log/errlog.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

/* The ex_data slot of struct tls_info in every context (set once, on the main thread). */
static int info_index = -1;

static void info_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    struct tls_info *i = ptr;
    if (!i) {
        return;
    }
    tls_sni_free(i->sni);
    sp_free(i);
}

int tls_ctx_process_init(char *err, size_t errlen)
{
    if (info_index >= 0) {
        return 0;
    }
    info_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, info_free);
    if (info_index < 0) {
        snprintf(err, errlen, "OpenSSL: no room for the TLS context data");
        return -1;
    }
    return 0;
}

struct tls_info *tls_info(const SSL_CTX *ctx)
{
    return SSL_CTX_get_ex_data(ctx, info_index);
}

/* "reason" of OpenSSL's last error (the queue is cleared), or fallback when there is none. */
static const char *tls_ssl_error(char *buf, size_t len, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    if (!e) {
        snprintf(buf, len, "%s", fallback);
    } else {
        const char *reason = ERR_reason_error_string(e);
        if (reason) {
            snprintf(buf, len, "%s", reason);
        } else {
            ERR_error_string_n(e, buf, len);
        }
    }
    ERR_clear_error();
    return buf;
}

/* A file the process cannot read: say why (errno) before OpenSSL's vaguer words. */
static int readable(const char *path, struct conf_where w, const char *what, char *err,
                    size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return conf_fail_at(err, errlen, w, "cannot read %s \"%s\": %s", what, path,
                            strerror(errno));
    }
    fclose(f);
    return 0;
}

/* ---------------------------------------------------------------- certificates and keys */

/* An encrypted key would make OpenSSL ask for its pass phrase on the terminal: never. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)arg;
    return -1;
}

/* Whether a PEM file holds an encrypted key (PKCS#8's or the traditional header). */
static bool encrypted_pem(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256];
    bool enc = false;
    while (f && !enc && fgets(line, sizeof(line), f)) {
        enc = strstr(line, "ENCRYPTED") != NULL;
    }
    if (f) {
        fclose(f);
    }
    return enc;
}

static int load_pair(SSL_CTX *ctx, const struct tls_file *cert, const struct tls_file *key,
                     char *err, size_t errlen)
{
    char why[256];
    if (readable(cert->path, cert->where, "certificate", err, errlen) < 0) {
        return -1;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert->path) != 1) {
        return conf_fail_at(err, errlen, cert->where, "cannot load certificate \"%s\": %s",
                            cert->path, tls_ssl_error(why, sizeof(why), "not a PEM certificate"));
    }
    if (readable(key->path, key->where, "certificate key", err, errlen) < 0) {
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key->path, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            return conf_fail_at(err, errlen, key->where,
                                "the key \"%s\" does not match the certificate \"%s\"", key->path,
                                cert->path);
        }
        if (encrypted_pem(key->path)) {
            ERR_clear_error();
            return conf_fail_at(err, errlen, key->where,
                                "the key \"%s\" is encrypted: decrypt it (openssl pkey -in KEY "
                                "-out PLAIN); spate has no ssl_password_file",
                                key->path);
        }
        return conf_fail_at(err, errlen, key->where,
                            "cannot load certificate key \"%s\" (for \"%s\"): %s", key->path,
                            cert->path, tls_ssl_error(why, sizeof(why), "not a PEM key"));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        return conf_fail_at(err, errlen, key->where,
                            "the key \"%s\" does not match the certificate \"%s\"", key->path,
                            cert->path);
    }
    return 0;
}

static int load_certs(const struct tls_ctx_params *p, SSL_CTX *ctx, char *err, size_t errlen)
{
    const struct tls_srv *ts = p->ts;
    for (unsigned i = 0; i < ts->certs.n; i++) {
        if (i >= ts->keys.n) {
            return conf_fail_at(err, errlen, ts->certs.v[i].where,
                                "no \"ssl_certificate_key\" is defined for certificate \"%s\"",
                                ts->certs.v[i].path);
        }
        if (load_pair(ctx, &ts->certs.v[i], &ts->keys.v[i], err, errlen) < 0) {
            return -1;
        }
    }
    if (ts->keys.n > ts->certs.n) {
        return conf_fail_at(err, errlen, ts->keys.v[ts->certs.n].where,
                            "\"ssl_certificate_key\" \"%s\" has no \"ssl_certificate\"",
                            ts->keys.v[ts->certs.n].path);
    }
    return 0;
}

/* ---------------------------------------------------------------- protocols and ciphers */

static int set_protocols(const struct tls_ctx_params *p, SSL_CTX *ctx, char *err, size_t errlen)
{
    static const int versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
    static const uint64_t no[] = {SSL_OP_NO_TLSv1, SSL_OP_NO_TLSv1_1, SSL_OP_NO_TLSv1_2,
                                  SSL_OP_NO_TLSv1_3};
    unsigned bits = p->ts->protocols;
    int lo = 0, hi = 0;
    for (unsigned k = 0; k < ARRAY_SIZE(versions); k++) {
        if (bits & (1u << k)) {
            lo = lo ? lo : versions[k];
            hi = versions[k];
        } else {
            SSL_CTX_set_options(ctx, no[k]); /* a hole in the range (TLSv1 TLSv1.2) too */
        }
    }
    if (!lo || SSL_CTX_set_min_proto_version(ctx, lo) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, hi) != 1) {
        return conf_fail_at(err, errlen, tls_srv_where(p->block, p->slot, TLS_ROW_PROTOCOLS),
                            "ssl_protocols: no protocol OpenSSL can use");
    }
    return 0;
}

static int set_ciphers(const struct tls_ctx_params *p, SSL_CTX *ctx, char *err, size_t errlen)
{
    const struct tls_srv *ts = p->ts;
    char why[256];
    if (ts->ciphers && SSL_CTX_set_cipher_list(ctx, ts->ciphers) != 1) {
        return conf_fail_at(err, errlen, tls_srv_where(p->block, p->slot, TLS_ROW_CIPHERS),
                            "ssl_ciphers \"%s\": %s", ts->ciphers,
                            tls_ssl_error(why, sizeof(why), "no cipher matches"));
    }
    if (ts->prefer_server_ciphers) {
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    }
    if (ts->ecdh_curve && strcmp(ts->ecdh_curve, "auto") != 0 &&
        SSL_CTX_set1_groups_list(ctx, ts->ecdh_curve) != 1) {
        return conf_fail_at(err, errlen, tls_srv_where(p->block, p->slot, TLS_ROW_ECDH_CURVE),
                            "ssl_ecdh_curve \"%s\": %s", ts->ecdh_curve,
                            tls_ssl_error(why, sizeof(why), "unknown curve"));
    }
    return 0;
}

static int set_dhparam(const struct tls_ctx_params *p, SSL_CTX *ctx, char *err, size_t errlen)
{
    const char *path = p->ts->dhparam;
    if (!path) {
        return 0; /* no DHE: the default ciphers are ECDHE only */
    }
    struct conf_where w = tls_srv_where(p->block, p->slot, TLS_ROW_DHPARAM);
    if (readable(path, w, "DH parameters", err, errlen) < 0) {
        return -1;
    }
    BIO *b = BIO_new_file(path, "r");
    EVP_PKEY *dh = b ? PEM_read_bio_Parameters(b, NULL) : NULL;
    BIO_free(b);
    char why[256];
    if (!dh || EVP_PKEY_is_a(dh, "DH") != 1) {
        EVP_PKEY_free(dh);
        return conf_fail_at(err, errlen, w, "ssl_dhparam \"%s\": %s", path,
                            tls_ssl_error(why, sizeof(why), "not PEM DH parameters"));
    }
    if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
        EVP_PKEY_free(dh);
        return conf_fail_at(err, errlen, w, "ssl_dhparam \"%s\": %s", path,
                            tls_ssl_error(why, sizeof(why), "refused by OpenSSL"));
    }
    return 0;
}

/* ssl_conf_command, as nginx: after everything else, so that it can override it. */
static int conf_commands(const struct tls_ctx_params *p, SSL_CTX *ctx, char *err, size_t errlen)
{
    const struct tls_cmds *l = &p->ts->cmds;
    if (l->n == 0) {
        return 0;
    }
    SSL_CONF_CTX *cc = SSL_CONF_CTX_new();
    if (!cc) {
        return conf_fail_at(err, errlen, l->v[0].where, "out of memory");
    }
    SSL_CONF_CTX_set_flags(cc, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER |
                                   SSL_CONF_FLAG_CERTIFICATE | SSL_CONF_FLAG_SHOW_ERRORS);
    SSL_CONF_CTX_set_ssl_ctx(cc, ctx);
    char why[256];
    for (unsigned i = 0; i < l->n; i++) {
        if (SSL_CONF_cmd(cc, l->v[i].name, l->v[i].value) <= 0) {
            SSL_CONF_CTX_free(cc);
            return conf_fail_at(err, errlen, l->v[i].where, "ssl_conf_command \"%s\" \"%s\": %s",
                                l->v[i].name, l->v[i].value,
                                tls_ssl_error(why, sizeof(why), "not accepted"));
        }
    }
    int ok = SSL_CONF_CTX_finish(cc);
    SSL_CONF_CTX_free(cc);
    if (ok != 1) {
        return conf_fail_at(err, errlen, l->v[0].where, "ssl_conf_command: %s",
                            tls_ssl_error(why, sizeof(why), "not accepted"));
    }
    return 0;
}

/* ---------------------------------------------------------------- client verification */

static int verify_cb(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1; /* as nginx: the request is answered 400 instead (tls_client_check) */
}

static int set_verify(const struct tls_ctx_params *p, SSL_CTX *ctx, char *err, size_t errlen)
{
    const struct tls_srv *ts = p->ts;
    char why[256];
    if (ts->trusted_certificate) {
        struct conf_where w = tls_srv_where(p->block, p->slot, TLS_ROW_TRUSTED_CERTIFICATE);
        if (readable(ts->trusted_certificate, w, "trusted certificates", err, errlen) < 0) {
            return -1;
        }
        if (SSL_CTX_load_verify_locations(ctx, ts->trusted_certificate, NULL) != 1) {
            return conf_fail_at(err, errlen, w, "ssl_trusted_certificate \"%s\": %s",
                                ts->trusted_certificate,
                                tls_ssl_error(why, sizeof(why), "no PEM certificate"));
        }
    }
    if (ts->verify_client == TLS_VERIFY_OFF) {
        return 0;
    }
    struct conf_where vw = tls_srv_where(p->block, p->slot, TLS_ROW_VERIFY_CLIENT);
    if (!ts->client_certificate && !ts->trusted_certificate &&
        ts->verify_client != TLS_VERIFY_OPTIONAL_NO_CA) {
        return conf_fail_at(err, errlen, vw,
                            "no ssl_client_certificate or ssl_trusted_certificate for "
                            "ssl_verify_client");
    }
    if (ts->client_certificate) {
        struct conf_where w = tls_srv_where(p->block, p->slot, TLS_ROW_CLIENT_CERTIFICATE);
        if (readable(ts->client_certificate, w, "client CA certificates", err, errlen) < 0) {
            return -1;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ts->client_certificate);
        if (!names || SSL_CTX_load_verify_locations(ctx, ts->client_certificate, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return conf_fail_at(err, errlen, w, "ssl_client_certificate \"%s\": %s",
                                ts->client_certificate,
                                tls_ssl_error(why, sizeof(why), "no PEM certificate"));
        }
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    SSL_CTX_set_verify_depth(ctx, (int)ts->verify_depth);
    return 0;
}

/* ---------------------------------------------------------------- sessions */

/*
 * The session ID context: the same for every worker (one context) and across reloads of the
 * same certificates and verification (derived from them), so a ticket made before a reload
 * resumes after it, while one made for another server's certificate or trust does not.
 */
static int set_sessions(const struct tls_ctx_params *p, SSL_CTX *ctx)
{
    const struct tls_srv *ts = p->ts;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sid[EVP_MAX_MD_SIZE];
    unsigned sidlen = 0;
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return -1;
    }
    for (unsigned i = 0; i < ts->certs.n; i++) {
        EVP_DigestUpdate(md, ts->certs.v[i].path, strlen(ts->certs.v[i].path) + 1);
    }
    for (int r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); r == 1;
         r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
        X509 *x = SSL_CTX_get0_certificate(ctx);
        unsigned char fp[EVP_MAX_MD_SIZE];
        unsigned fplen;
        if (x && X509_digest(x, EVP_sha256(), fp, &fplen) == 1) {
            EVP_DigestUpdate(md, fp, fplen);
        }
    }
    unsigned char v = (unsigned char)ts->verify_client;
    EVP_DigestUpdate(md, &v, 1);
    if (ts->client_certificate) {
        EVP_DigestUpdate(md, ts->client_certificate, strlen(ts->client_certificate));
    }
    EVP_DigestFinal_ex(md, sid, &sidlen);
    EVP_MD_CTX_free(md);
    if (SSL_CTX_set_session_id_context(ctx, sid, MIN(sidlen, SSL_MAX_SID_CTX_LENGTH)) != 1) {
        return -1;
    }
    SSL_CTX_set_timeout(ctx, (long)(ts->session_timeout_ms / 1000));
    /*
     * No session-ID cache, whatever ssl_session_cache says: one shared by every worker would
     * take a lock on each handshake. Resumption is by tickets, which every worker decrypts.
     */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (!ts->tickets) {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, 0);
    }
    return 0;
}

/* ---------------------------------------------------------------- the context */

static int build(const struct tls_ctx_params *p, SSL_CTX *ctx, struct tls_info *info, char *err,
                 size_t errlen)
{
    struct conf_where at = p->block->where;
    char why[256];
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_SINGLE_ECDH_USE | SSL_OP_SINGLE_DH_USE);
    if (set_protocols(p, ctx, err, errlen) < 0 || set_ciphers(p, ctx, err, errlen) < 0 ||
        set_dhparam(p, ctx, err, errlen) < 0 || load_certs(p, ctx, err, errlen) < 0 ||
        set_verify(p, ctx, err, errlen) < 0) {
        return -1;
    }
    if (set_sessions(p, ctx) < 0) {
        return conf_fail_at(err, errlen, at, "TLS sessions: %s",
                            tls_ssl_error(why, sizeof(why), "out of memory"));
    }
    if (p->ts->tickets) {
        struct tls_tickets *t = tls_tickets_new(p, err, errlen);
        if (!t) {
            return -1;
        }
        if (tls_tickets_attach(ctx, t) < 0) {
            return conf_fail_at(err, errlen, at, "out of memory");
        }
    }
    if (p->ts->stapling && !p->ts->stapling_file) {
        /* nginx asks the certificate's responder; spate does not: a pasted configuration
         * still loads, and says it staples nothing */
        struct conf_where w = tls_srv_where(p->block, p->slot, TLS_ROW_STAPLING);
        errlog(ERRLOG_WARN,
               "%s:%d: ssl_stapling on without ssl_stapling_file: spate does not ask OCSP "
               "responders, nothing is stapled",
               w.file ? w.file : "?", w.line);
    } else if (p->ts->stapling) {
        struct tls_staple *s = tls_staple_new(p, ctx, err, errlen);
        if (!s) {
            return -1;
        }
        if (tls_staple_attach(ctx, s) < 0) {
            return conf_fail_at(err, errlen, at, "out of memory");
        }
    }
    if (conf_commands(p, ctx, err, errlen) < 0) {
        return -1;
    }
    tls_sni_callbacks(ctx, info);
    tls_transport_prepare_ctx(ctx);
    return 0;
}

SSL_CTX *tls_ctx_new(const struct tls_ctx_params *p, char *err, size_t errlen)
{
    char why[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    struct tls_info *info = sp_calloc(1, sizeof(*info));
    if (!ctx || !info || SSL_CTX_set_ex_data(ctx, info_index, info) != 1) {
        sp_free(info);
        SSL_CTX_free(ctx);
        conf_fail_at(err, errlen, p->block->where, "TLS context: %s",
                     tls_ssl_error(why, sizeof(why), "out of memory"));
        return NULL;
    }
    info->http2 = p->http2;
    info->verify = (uint8_t)p->ts->verify_client;
    if (build(p, ctx, info, err, errlen) < 0) {
        SSL_CTX_free(ctx); /* frees info and what it holds */
        ERR_clear_error();
        return NULL;
    }
    return ctx;
}
