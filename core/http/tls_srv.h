/*
 * tls_srv.h - a server's ssl_* settings: their types, their rows, where each was set.
 *
 * The rows (parsing and printing nginx's syntax) are tls_conf_module's (tls_conf.h), which
 * builds the SSL_CTX objects from these settings (tls_ctx.h). Main thread, while a
 * configuration is built.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"

#include <stdbool.h>
#include <stdint.h>

/* A file named by a directive, with where it was named (errors give that line). */
struct tls_file {
    char *path; /* absolute */
    struct conf_where where;
};

/* A repeatable file directive's values (ssl_certificate, ssl_session_ticket_key), in order. */
struct tls_files {
    struct tls_file *v;
    unsigned n;
};

/* ssl_conf_command NAME VALUE, in order. */
struct tls_cmd {
    char *name, *value;
    struct conf_where where;
};

struct tls_cmds {
    struct tls_cmd *v;
    unsigned n;
};

/* ssl_protocols: bits of the versions allowed. */
enum tls_proto {
    TLS_PROTO_TLS1 = 1u << 0,
    TLS_PROTO_TLS1_1 = 1u << 1,
    TLS_PROTO_TLS1_2 = 1u << 2,
    TLS_PROTO_TLS1_3 = 1u << 3,
};

/* ssl_verify_client (the words in this order). */
enum tls_verify {
    TLS_VERIFY_OFF,
    TLS_VERIFY_ON,
    TLS_VERIFY_OPTIONAL,
    TLS_VERIFY_OPTIONAL_NO_CA,
};

/* ssl_session_cache: nginx's forms, kept to print them back (see docs: what each does). */
struct tls_cache {
    uint8_t kind; /* enum tls_cache_kind */
    char *text;   /* as written ("builtin:1000 shared:SSL:10m"), or NULL for off/none */
};

enum tls_cache_kind {
    TLS_CACHE_NONE,
    TLS_CACHE_OFF,
    TLS_CACHE_STORE, /* builtin and/or shared:NAME:SIZE */
};

/* A server's TLS settings (CONF_STORE_SRV: the http level's are inherited). */
struct tls_srv {
    struct tls_files certs; /* ssl_certificate */
    struct tls_files keys;  /* ssl_certificate_key, one per certificate, same order */
    unsigned protocols;     /* enum tls_proto bits */
    char *ciphers;
    bool prefer_server_ciphers;
    char *ecdh_curve;
    struct tls_cmds cmds; /* ssl_conf_command */
    char *dhparam;
    bool tickets;
    struct tls_files ticket_keys;
    uint32_t session_timeout_ms;
    struct tls_cache cache;
    bool stapling;
    char *stapling_file;
    char *client_certificate;
    char *trusted_certificate;
    unsigned verify_client; /* enum tls_verify */
    uint32_t verify_depth;
};

/* The rows' indexes in tls_srv_rows (their order there). */
enum tls_row {
    TLS_ROW_CERTIFICATE,
    TLS_ROW_CERTIFICATE_KEY,
    TLS_ROW_PROTOCOLS,
    TLS_ROW_CIPHERS,
    TLS_ROW_PREFER_SERVER_CIPHERS,
    TLS_ROW_ECDH_CURVE,
    TLS_ROW_CONF_COMMAND,
    TLS_ROW_DHPARAM,
    TLS_ROW_SESSION_TICKETS,
    TLS_ROW_SESSION_TICKET_KEY,
    TLS_ROW_SESSION_TIMEOUT,
    TLS_ROW_SESSION_CACHE,
    TLS_ROW_STAPLING,
    TLS_ROW_STAPLING_FILE,
    TLS_ROW_CLIENT_CERTIFICATE,
    TLS_ROW_TRUSTED_CERTIFICATE,
    TLS_ROW_VERIFY_CLIENT,
    TLS_ROW_VERIFY_DEPTH,
    TLS_ROWS,
};

extern const struct conf_row tls_srv_rows[TLS_ROWS];

/* What one SSL_CTX is built from. */
struct tls_ctx_params {
    const struct tls_srv *ts;
    const struct conf_block *block; /* the server's (errors about inherited values: their line) */
    unsigned slot;                  /* tls_conf_module's */
    bool http2;                     /* ALPN may choose h2 */
};

/* The module's slot, recorded by its finish (the same in every configuration of a process:
 * the module list is fixed), so that a request can find its server's settings. */
void tls_srv_slot_set(unsigned slot);

/* Server block b's settings (NULL before a configuration with the module was finished). */
const struct tls_srv *tls_srv_get(const struct conf_block *b);

/* Where row applies to block b: its own line, or the nearest enclosing block's. */
struct conf_where tls_srv_where(const struct conf_block *b, unsigned slot, enum tls_row row);
