/* tls_srv.c - the ssl_* directives' types and rows (see tls_srv.h). */
#include "core/http/tls_srv.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/conf/types.h"
#include "core/conf/values.h"

#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- file lists */

static int files_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    (void)n;
    struct tls_files *l = field;
    if (a[0][0] == '\0') {
        return conf_error(p, "\"%s\" needs a file name, not an empty string", r->name);
    }
    if (strchr(a[0], '$') || strncmp(a[0], "data:", 5) == 0) {
        return conf_error(p,
                          "\"%s\": variables and data: values are not supported (spate loads "
                          "every certificate when the configuration is read); name a file",
                          r->name);
    }
    struct tls_file *nv = sp_realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    l->v = nv;
    char *path = conf_path(p, a[0]);
    if (!path) {
        return conf_error(p, "out of memory");
    }
    l->v[l->n++] = (struct tls_file){path, {p->file, p->line}};
    return 0;
}

static void files_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct tls_files *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, l->v[i].path);
        conf_out_end(o);
    }
}

static void files_release(void *field)
{
    struct tls_files *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        sp_free(l->v[i].path);
    }
    sp_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static const struct conf_type files_type = {"files", sizeof(struct tls_files), files_parse,
                                            files_print, files_release};

/* ---------------------------------------------------------------- ssl_conf_command */

static int cmds_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r;
    (void)n;
    struct tls_cmds *l = field;
    struct tls_cmd *nv = sp_realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    l->v = nv;
    char *name = conf_strdup(p, a[0]);
    char *value = name ? conf_strdup(p, a[1]) : NULL;
    if (!value) {
        sp_free(name);
        return -1;
    }
    l->v[l->n++] = (struct tls_cmd){name, value, {p->file, p->line}};
    return 0;
}

static void cmds_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct tls_cmds *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, l->v[i].name);
        conf_out_arg(o, l->v[i].value);
        conf_out_end(o);
    }
}

static void cmds_release(void *field)
{
    struct tls_cmds *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        sp_free(l->v[i].name);
        sp_free(l->v[i].value);
    }
    sp_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static const struct conf_type cmds_type = {"commands", sizeof(struct tls_cmds), cmds_parse,
                                           cmds_print, cmds_release};

/* ---------------------------------------------------------------- ssl_protocols */

static const char *const proto_names[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};

static int protos_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    (void)r;
    unsigned bits = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned k = 0;
        while (k < ARRAY_SIZE(proto_names) && strcmp(a[i], proto_names[k]) != 0) {
            k++;
        }
        if (k < ARRAY_SIZE(proto_names)) {
            bits |= 1u << k;
        } else if (strcmp(a[i], "SSLv2") == 0 || strcmp(a[i], "SSLv3") == 0) {
            return conf_error(p,
                              "ssl_protocols: %s is not supported (OpenSSL 3 has no SSL; "
                              "use TLSv1.2 TLSv1.3)",
                              a[i]);
        } else {
            return conf_error(p,
                              "ssl_protocols: unknown protocol \"%s\" (TLSv1, TLSv1.1, TLSv1.2, "
                              "TLSv1.3)",
                              a[i]);
        }
    }
    *(unsigned *)field = bits;
    return 0;
}

static void protos_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    unsigned bits = *(const unsigned *)field;
    conf_out_begin(o, r->name);
    for (unsigned k = 0; k < ARRAY_SIZE(proto_names); k++) {
        if (bits & (1u << k)) {
            conf_out_arg(o, proto_names[k]);
        }
    }
    conf_out_end(o);
}

static const struct conf_type protos_type = {"protocols", sizeof(unsigned), protos_parse,
                                             protos_print, NULL};

/* ---------------------------------------------------------------- ssl_session_cache */

/* nginx's forms: off | none | [builtin[:size]] [shared:name:size]. */
static int cache_word(struct conf_parse *p, const char *w)
{
    if (strcmp(w, "builtin") == 0) {
        return 0;
    }
    uint64_t size;
    if (strncmp(w, "builtin:", 8) == 0) {
        if (conf_parse_size(w + 8, &size) < 0 || size == 0) {
            return conf_error(p, "ssl_session_cache: invalid size in \"%s\"", w);
        }
        return 0;
    }
    if (strncmp(w, "shared:", 7) == 0) {
        const char *colon = strrchr(w + 7, ':');
        if (!colon || colon == w + 7 || conf_parse_size(colon + 1, &size) < 0 || size < 8192) {
            return conf_error(p,
                              "ssl_session_cache: invalid zone \"%s\" (shared:NAME:SIZE, at "
                              "least 8k)",
                              w);
        }
        return 0;
    }
    return conf_error(p,
                      "ssl_session_cache: invalid value \"%s\" (off, none, builtin[:SIZE], "
                      "shared:NAME:SIZE)",
                      w);
}

static int cache_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    (void)r;
    struct tls_cache *c = field;
    if (n == 1 && (strcmp(a[0], "off") == 0 || strcmp(a[0], "none") == 0)) {
        c->kind = a[0][0] == 'o' ? TLS_CACHE_OFF : TLS_CACHE_NONE;
        return 0;
    }
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        if (cache_word(p, a[i]) < 0) {
            return -1;
        }
        len += strlen(a[i]) + 1;
    }
    char *text = sp_malloc(len);
    if (!text) {
        return conf_error(p, "out of memory");
    }
    text[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        strcat(text, a[i]);
        if (i + 1 < n) {
            strcat(text, " ");
        }
    }
    c->kind = TLS_CACHE_STORE;
    c->text = text;
    return 0;
}

static void cache_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct tls_cache *c = field;
    conf_out_begin(o, r->name);
    if (c->kind == TLS_CACHE_STORE) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", c->text);
        for (char *w = strtok(buf, " "); w; w = strtok(NULL, " ")) {
            conf_out_arg(o, w);
        }
    } else {
        conf_out_arg(o, c->kind == TLS_CACHE_OFF ? "off" : "none");
    }
    conf_out_end(o);
}

static void cache_release(void *field)
{
    struct tls_cache *c = field;
    sp_free(c->text);
    c->text = NULL;
}

static const struct conf_type cache_type = {"session cache", sizeof(struct tls_cache), cache_parse,
                                            cache_print, cache_release};

/* ---------------------------------------------------------------- rows */

static const char *const verify_keys[] = {"off", "on", "optional", "optional_no_ca", NULL};

/*
 * The default ciphers for TLS 1.2: forward secrecy and AEAD only (Mozilla's "intermediate"
 * list without DHE, which needs ssl_dhparam); TLS 1.3's suites are OpenSSL's (all AEAD).
 */
#define TLS_DEFAULT_CIPHERS                                                                        \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

#define OFF(f) offsetof(struct tls_srv, f)
#define CTX_BOTH (CONF_MAIN | CONF_SERVER)
#define FIX "tests/data/tls/" /* the examples' files (test_roundtrip runs in the source tree) */

const struct conf_row tls_srv_rows[TLS_ROWS] = {
    [TLS_ROW_CERTIFICATE] = {"ssl_certificate", CTX_BOTH, CONF_STORE_SRV, 1, 1, CONF_MULTI,
                             &files_type, OFF(certs), NULL, 0, 0, FIX "rsa.pem", NULL},
    [TLS_ROW_CERTIFICATE_KEY] = {"ssl_certificate_key", CTX_BOTH, CONF_STORE_SRV, 1, 1, CONF_MULTI,
                                 &files_type, OFF(keys), NULL, 0, 0, FIX "rsa.key", NULL},
    [TLS_ROW_PROTOCOLS] = {"ssl_protocols", CTX_BOTH, CONF_STORE_SRV, 1, 4, 0, &protos_type,
                           OFF(protocols), "TLSv1.2 TLSv1.3", 0, 0, "TLSv1.3", NULL},
    [TLS_ROW_CIPHERS] = {"ssl_ciphers", CTX_BOTH, CONF_STORE_SRV, 1, 1, 0, &conf_str, OFF(ciphers),
                         TLS_DEFAULT_CIPHERS, 0, 0, "HIGH:!aNULL:!MD5", NULL},
    [TLS_ROW_PREFER_SERVER_CIPHERS] = {"ssl_prefer_server_ciphers", CTX_BOTH, CONF_STORE_SRV, 1, 1,
                                       0, &conf_flag, OFF(prefer_server_ciphers), "on", 0, 0, "off",
                                       NULL},
    [TLS_ROW_ECDH_CURVE] = {"ssl_ecdh_curve", CTX_BOTH, CONF_STORE_SRV, 1, 1, 0, &conf_str,
                            OFF(ecdh_curve), "auto", 0, 0, "X25519:prime256v1:secp384r1", NULL},
    [TLS_ROW_CONF_COMMAND] = {"ssl_conf_command", CTX_BOTH, CONF_STORE_SRV, 2, 2, CONF_MULTI,
                              &cmds_type, OFF(cmds), NULL, 0, 0, "Options -SessionTicket", NULL},
    [TLS_ROW_DHPARAM] = {"ssl_dhparam", CTX_BOTH, CONF_STORE_SRV, 1, 1, 0, &conf_path_t,
                         OFF(dhparam), NULL, 0, 0, FIX "dhparam.pem", NULL},
    [TLS_ROW_SESSION_TICKETS] = {"ssl_session_tickets", CTX_BOTH, CONF_STORE_SRV, 1, 1, 0,
                                 &conf_flag, OFF(tickets), "on", 0, 0, "off", NULL},
    [TLS_ROW_SESSION_TICKET_KEY] = {"ssl_session_ticket_key", CTX_BOTH, CONF_STORE_SRV, 1, 1,
                                    CONF_MULTI, &files_type, OFF(ticket_keys), NULL, 0, 0,
                                    FIX "ticket.key", NULL},
    [TLS_ROW_SESSION_TIMEOUT] = {"ssl_session_timeout", CTX_BOTH, CONF_STORE_SRV, 1, 1, 0,
                                 &conf_msec32, OFF(session_timeout_ms), "5m", 1000,
                                 7 * 24 * 3600 * 1000u, "1h", NULL},
    [TLS_ROW_SESSION_CACHE] = {"ssl_session_cache", CTX_BOTH, CONF_STORE_SRV, 1, 2, 0, &cache_type,
                               OFF(cache), "none", 0, 0, "shared:SSL:10m", NULL},
    [TLS_ROW_STAPLING] = {"ssl_stapling", CTX_BOTH, CONF_STORE_SRV, 1, 1, 0, &conf_flag,
                          OFF(stapling), "off", 0, 0, "on", NULL},
    [TLS_ROW_STAPLING_FILE] = {"ssl_stapling_file", CTX_BOTH, CONF_STORE_SRV, 1, 1, 0, &conf_path_t,
                               OFF(stapling_file), NULL, 0, 0, FIX "ocsp.der", NULL},
    [TLS_ROW_CLIENT_CERTIFICATE] = {"ssl_client_certificate", CTX_BOTH, CONF_STORE_SRV, 1, 1, 0,
                                    &conf_path_t, OFF(client_certificate), NULL, 0, 0, FIX "ca.pem",
                                    NULL},
    [TLS_ROW_TRUSTED_CERTIFICATE] = {"ssl_trusted_certificate", CTX_BOTH, CONF_STORE_SRV, 1, 1, 0,
                                     &conf_path_t, OFF(trusted_certificate), NULL, 0, 0,
                                     FIX "ca.pem", NULL},
    [TLS_ROW_VERIFY_CLIENT] = {"ssl_verify_client", CTX_BOTH, CONF_STORE_SRV, 1, 1, 0,
                               &conf_keyword, OFF(verify_client), "off", 0, 0, "optional",
                               verify_keys},
    [TLS_ROW_VERIFY_DEPTH] = {"ssl_verify_depth", CTX_BOTH, CONF_STORE_SRV, 1, 1, 0, &conf_u32,
                              OFF(verify_depth), "1", 0, 100, "2", NULL},
};

/* Written by the main thread before any worker reads a configuration; the same value after. */
static int srv_slot = -1;

void tls_srv_slot_set(unsigned slot)
{
    srv_slot = (int)slot;
}

const struct tls_srv *tls_srv_get(const struct conf_block *b)
{
    return srv_slot < 0 ? NULL : conf_get(b, (unsigned)srv_slot, CONF_STORE_SRV);
}

struct conf_where tls_srv_where(const struct conf_block *b, unsigned slot, enum tls_row row)
{
    for (; b; b = b->parent) {
        struct conf_where w = conf_where_of(b, slot, (unsigned)row);
        if (w.line != 0) {
            return w;
        }
    }
    return (struct conf_where){NULL, 0};
}
