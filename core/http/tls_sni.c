/* tls_sni.c - choosing the server by the client's server name, and ALPN (see tls_ctx.h). */
#include "core/http/tls_sni.h"

#include "core/base/alloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct sni_name {
    char *name;           /* exact: "example.com"; wildcard: the suffix ".example.com" */
    bool subdomains_only; /* "*.example.com": not example.com itself */
    unsigned order;       /* the first server with a name keeps it */
    SSL_CTX *ctx;
};

struct tls_sni {
    struct sni_name *exact, *wild;
    unsigned nexact, nwild, capx, capw;
    unsigned added;
};

/* The SSL's address context info (set by the servername callback), for the ALPN callback. */
static int ssl_index = -1;

struct tls_sni *tls_sni_new(unsigned n)
{
    struct tls_sni *s = sp_calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->capx = s->capw = n ? n : 1;
    s->exact = sp_calloc(s->capx, sizeof(*s->exact));
    s->wild = sp_calloc(s->capw, sizeof(*s->wild));
    if (!s->exact || !s->wild) {
        tls_sni_free(s);
        return NULL;
    }
    return s;
}

void tls_sni_free(struct tls_sni *s)
{
    if (!s) {
        return;
    }
    for (unsigned i = 0; i < s->nexact; i++) {
        sp_free(s->exact[i].name);
        SSL_CTX_free(s->exact[i].ctx);
    }
    for (unsigned i = 0; i < s->nwild; i++) {
        sp_free(s->wild[i].name);
        SSL_CTX_free(s->wild[i].ctx);
    }
    sp_free(s->exact);
    sp_free(s->wild);
    sp_free(s);
}

static int grow(struct sni_name **v, unsigned n, unsigned *cap)
{
    if (n < *cap) {
        return 0;
    }
    unsigned nc = *cap * 2;
    struct sni_name *nv = sp_realloc(*v, nc * sizeof(*nv));
    if (!nv) {
        return -1;
    }
    *v = nv;
    *cap = nc;
    return 0;
}

int tls_sni_add(struct tls_sni *s, const char *name, SSL_CTX *ctx)
{
    bool wild = name[0] == '.' || (name[0] == '*' && name[1] == '.');
    if (!wild && strchr(name, '*')) {
        return 0; /* "www.*": a name no client sends in SNI as such; Host routing has it */
    }
    struct sni_name **v = wild ? &s->wild : &s->exact;
    unsigned *n = wild ? &s->nwild : &s->nexact;
    if (grow(v, *n, wild ? &s->capw : &s->capx) < 0) {
        return -1;
    }
    char *copy = sp_strndup(name[0] == '*' ? name + 1 : name, strlen(name));
    if (!copy) {
        return -1;
    }
    for (char *q = copy; *q; q++) {
        *q = (char)tolower((unsigned char)*q);
    }
    SSL_CTX_up_ref(ctx);
    (*v)[(*n)++] = (struct sni_name){copy, name[0] == '*', s->added++, ctx};
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const struct sni_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Sorted by name; of equal names the first server's stays. A "*.x" and a ".x" of one server
 * on the same suffix: the bare domain is served (as route.c). */
static void finalize(struct sni_name *v, unsigned *n)
{
    qsort(v, *n, sizeof(*v), by_name);
    unsigned out = 0;
    for (unsigned i = 0; i < *n; i++) {
        if (out && strcmp(v[out - 1].name, v[i].name) == 0) {
            if (v[out - 1].ctx == v[i].ctx && !v[i].subdomains_only) {
                v[out - 1].subdomains_only = false;
            }
            sp_free(v[i].name);
            SSL_CTX_free(v[i].ctx);
            continue;
        }
        v[out++] = v[i];
    }
    *n = out;
}

void tls_sni_attach(struct tls_info *info, struct tls_sni *s, bool http2_all)
{
    finalize(s->exact, &s->nexact);
    finalize(s->wild, &s->nwild);
    info->sni = s;
    info->http2_all = http2_all;
}

static const struct sni_name *find(const struct sni_name *v, unsigned n, const char *name,
                                   size_t len)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c = strncmp(v[mid].name, name, len);
        if (c == 0 && v[mid].name[len] != '\0') {
            c = 1;
        }
        if (c == 0) {
            return &v[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

SSL_CTX *tls_sni_find(const struct tls_sni *s, const char *name, size_t len)
{
    char low[256];
    if (len == 0 || len >= sizeof(low) - 1) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        low[i] = (char)tolower((unsigned char)name[i]);
    }
    if (low[len - 1] == '.') {
        len--; /* a trailing dot names the same host */
    }
    low[len] = '\0';
    const struct sni_name *e = find(s->exact, s->nexact, low, len);
    if (e) {
        return e->ctx;
    }
    for (size_t i = 0; i < len; i++) { /* the longest suffix first */
        if (low[i] == '.' && (e = find(s->wild, s->nwild, low + i, len - i))) {
            return e->ctx;
        }
    }
    memmove(low + 1, low, len + 1);
    low[0] = '.';
    e = find(s->wild, s->nwild, low, len + 1);
    return e && !e->subdomains_only ? e->ctx : NULL;
}

/* ---------------------------------------------------------------- handshake callbacks */

/* On the address's context (OpenSSL calls it with or without SNI in the ClientHello). */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
    struct tls_info *gi = arg;
    if (!gi->sni) {
        return SSL_TLSEXT_ERR_OK;
    }
    SSL_set_ex_data(ssl, ssl_index, gi);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    SSL_CTX *to = name ? tls_sni_find(gi->sni, name, strlen(name)) : NULL;
    if (!to || to == ctx) {
        return SSL_TLSEXT_ERR_OK; /* an unknown name: the default server's certificate */
    }
    if (!SSL_set_SSL_CTX(ssl, to)) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    /* SSL_set_SSL_CTX changes the certificates only: the chosen server's verification and
     * options too, as nginx does */
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(to), SSL_CTX_get_verify_callback(to));
    SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(to));
    SSL_clear_options(ssl, SSL_get_options(ssl) & ~SSL_CTX_get_options(to));
    SSL_set_options(ssl, SSL_CTX_get_options(to));
    return SSL_TLSEXT_ERR_OK;
}

static bool offered(const unsigned char *in, unsigned inlen, const char *proto,
                    const unsigned char **out, unsigned char *outlen)
{
    size_t plen = strlen(proto);
    for (unsigned i = 0; i < inlen;) {
        unsigned l = in[i];
        if (i + 1 + l > inlen) {
            return false;
        }
        if (l == plen && memcmp(in + i + 1, proto, plen) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)l;
            return true;
        }
        i += 1 + l;
    }
    return false;
}

/* h2 when the chosen server has HTTP/2 on, else http/1.1; neither offered: no ALPN, and the
 * connection speaks HTTP/1.1 (as nginx before 1.21.4: a client offering only h2 to a server
 * without it still gets an answer). */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
    const struct tls_info *i = arg; /* the context's SNI chose */
    const struct tls_info *g = ssl_index >= 0 ? SSL_get_ex_data(ssl, ssl_index) : NULL;
    bool h2 = i->http2 || (g && g->http2_all);
    if (h2 && offered(in, inlen, "h2", out, outlen)) {
        return SSL_TLSEXT_ERR_OK;
    }
    if (offered(in, inlen, "http/1.1", out, outlen)) {
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

void tls_sni_callbacks(SSL_CTX *ctx, struct tls_info *info)
{
    if (ssl_index < 0) {
        ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); /* main thread, once */
    }
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, info);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, info);
}
