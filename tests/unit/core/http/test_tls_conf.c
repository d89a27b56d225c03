/*
 * Unit tests for the TLS configuration (core/http/tls_conf.c, tls_ctx.c, tls_sni.c,
 * tls_tickets.c): directive parsing and printing, inheritance, the contexts an address gets,
 * SNI lookups, the errors at file:line, ticket key files and derived ticket keys.
 * Runs in the source tree: the certificates are tests/data/tls's (make.sh).
 */
#include "common/unit.h"
#include "core/app/modules.h"
#include "core/conf/conf.h"
#include "core/conf/print.h"
#include "core/http/route.h"
#include "core/http/tls_conf.h"
#include "core/http/tls_ctx.h"
#include "core/http/tls_sni.h"
#include "core/http/tls_srv.h"
#include "core/http/tls_tickets.h"

#include <errno.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SPATE_SRC_DIR
#define SPATE_SRC_DIR "."
#endif

#define CERT "ssl_certificate tests/data/tls/rsa.pem; ssl_certificate_key tests/data/tls/rsa.key;"

/* Loads and finishes text: 0, or -1 with the error in err. */
static int load(struct conf *c, const char *text, char *err, size_t errlen)
{
    assert_int_equal(conf_init(c, spate_modules, spate_nmodules), 0);
    if (conf_load_string(c, "t.conf", text, err, errlen) < 0 || conf_finish(c, err, errlen) < 0) {
        return -1;
    }
    return 0;
}

/* The error text loads with (it must fail). */
static void expect_error(const char *text, const char *want)
{
    struct conf c;
    char err[CONF_ERR_MAX];
    int rc = load(&c, text, err, sizeof(err));
    conf_free(&c);
    if (rc == 0) {
        fail_msg("no error for:\n%s", text);
    }
    if (!strstr(err, want)) {
        fail_msg("error \"%s\" does not say \"%s\"", err, want);
    }
}

static char *print(const struct conf *c)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    conf_print(c, f);
    fclose(f);
    return out;
}

static void test_address_gets_default_servers_context(void **state)
{
    (void)state;
    struct conf c;
    char err[CONF_ERR_MAX];
    int rc = load(&c,
                  "server { listen 127.0.0.1:0 ssl; server_name a.test; root /tmp; " CERT " }\n"
                  "server { listen 127.0.0.1:1; root /tmp; }\n",
                  err, sizeof(err));
    if (rc < 0) {
        fail_msg("%s", err);
    }
    const struct route_table *t = route_table(&c);
    assert_int_equal(t->ngroups, 2);
    assert_true(t->groups[0].ssl);
    assert_non_null(t->groups[0].tls);
    assert_null(t->groups[1].tls); /* plain */
    SSL_CTX *ctx = t->groups[0].tls;
    const struct tls_info *i = tls_info(ctx);
    assert_non_null(i);
    assert_non_null(i->sni);
    assert_false(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET); /* tickets on by default */
    assert_int_equal(i->verify, TLS_VERIFY_OFF);
    assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    assert_int_equal(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
    assert_non_null(SSL_CTX_get0_certificate(ctx));
    conf_free(&c);
}

/* The http level's certificate is inherited; a server's own wins; SNI finds each. */
static void test_inheritance_and_sni(void **state)
{
    (void)state;
    struct conf c;
    char err[CONF_ERR_MAX];
    int rc = load(&c,
                  "http {\n" CERT "\n ssl_protocols TLSv1.3;\n"
                  "server { listen 127.0.0.1:0 ssl; server_name a.test; root /tmp; }\n"
                  "server { listen 127.0.0.1:0 ssl; server_name b.test *.wild.test .dot.test;\n"
                  "  root /tmp; ssl_protocols TLSv1.2 TLSv1.3; ssl_verify_client optional;\n"
                  "  ssl_client_certificate tests/data/tls/ca.pem; http2 on; }\n"
                  "}\n",
                  err, sizeof(err));
    if (rc < 0) {
        fail_msg("%s", err);
    }
    const struct route_table *t = route_table(&c);
    assert_int_equal(t->ngroups, 1);
    SSL_CTX *g = t->groups[0].tls;
    const struct tls_info *gi = tls_info(g);
    assert_int_equal(SSL_CTX_get_min_proto_version(g), TLS1_3_VERSION); /* a.test: inherited */
    assert_false(gi->http2);
    SSL_CTX *a = tls_sni_find(gi->sni, "a.test", 6);
    SSL_CTX *b = tls_sni_find(gi->sni, "B.Test.", 7); /* case and a trailing dot */
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal(SSL_CTX_get_min_proto_version(b), TLS1_2_VERSION);
    assert_int_equal(tls_info(b)->verify, TLS_VERIFY_OPTIONAL);
    assert_true(tls_info(b)->http2);
    assert_int_equal(SSL_CTX_get_verify_mode(b), SSL_VERIFY_PEER);
    assert_ptr_equal(tls_sni_find(gi->sni, "x.wild.test", 11), b);
    assert_null(tls_sni_find(gi->sni, "wild.test", 9)); /* "*.": subdomains only */
    assert_ptr_equal(tls_sni_find(gi->sni, "dot.test", 8), b);
    assert_ptr_equal(tls_sni_find(gi->sni, "a.b.dot.test", 12), b);
    assert_null(tls_sni_find(gi->sni, "unknown.test", 12)); /* the default's, by the caller */
    conf_free(&c);
}

static void test_print_round_trip(void **state)
{
    (void)state;
    struct conf c;
    char err[CONF_ERR_MAX];
    int rc = load(&c,
                  "ssl_session_cache builtin:1000 shared:SSL:10m;\n"
                  "server { listen 127.0.0.1:0 ssl; root /tmp; " CERT "\n"
                  "  ssl_protocols TLSv1.3 TLSv1.2; ssl_conf_command Options -SessionTicket;\n"
                  "  ssl_session_ticket_key tests/data/tls/ticket.key; }\n",
                  err, sizeof(err));
    if (rc < 0) {
        fail_msg("%s", err);
    }
    char *out = print(&c);
    assert_non_null(strstr(out, "ssl_session_cache builtin:1000 shared:SSL:10m;"));
    assert_non_null(strstr(out, "ssl_protocols TLSv1.2 TLSv1.3;"));
    assert_non_null(strstr(out, "ssl_conf_command Options -SessionTicket;"));
    assert_non_null(strstr(out, "/tests/data/tls/ticket.key;"));
    assert_non_null(strstr(out, "ssl_session_timeout 5m;"));
    free(out);
    conf_free(&c);
}

static void test_errors_name_the_line(void **state)
{
    (void)state;
    expect_error("server { listen 127.0.0.1:0 ssl;\n root /tmp; }\n",
                 "t.conf:1: no \"ssl_certificate\" is defined for the \"listen ... ssl\"");
    expect_error("server { listen 127.0.0.1:0 ssl; root /tmp;\n"
                 " ssl_certificate tests/data/tls/nope.pem; ssl_certificate_key x; }\n",
                 "t.conf:2: cannot read certificate");
    expect_error("server { listen 127.0.0.1:0 ssl; root /tmp;\n"
                 " ssl_certificate tests/data/tls/rsa.pem; }\n",
                 "t.conf:2: no \"ssl_certificate_key\" is defined");
    expect_error("server { listen 127.0.0.1:0 ssl; root /tmp;\n"
                 " ssl_certificate tests/data/tls/rsa.pem;\n"
                 " ssl_certificate_key tests/data/tls/rsa.pem; }\n",
                 "t.conf:3: cannot load certificate key");
    expect_error("server { listen 127.0.0.1:0 ssl; root /tmp; " CERT "\n ssl_ciphers NOPE; }\n",
                 "t.conf:2: ssl_ciphers \"NOPE\"");
    expect_error("server { listen 127.0.0.1:0 ssl; root /tmp; " CERT "\n"
                 " ssl_protocols SSLv3; }\n",
                 "t.conf:2: ssl_protocols: SSLv3 is not supported");
    expect_error("server { listen 127.0.0.1:0 ssl; root /tmp; " CERT "\n"
                 " ssl_session_ticket_key tests/data/tls/ca.pem; }\n",
                 "must be 48 or 80 bytes");
    expect_error("server { listen 127.0.0.1:0 ssl; root /tmp; " CERT "\n"
                 " ssl_verify_client on; }\n",
                 "t.conf:2: no ssl_client_certificate or ssl_trusted_certificate");
    expect_error("server { listen 127.0.0.1:0 ssl; root /tmp; " CERT "\n"
                 " ssl_conf_command NoSuchCommand x; }\n",
                 "t.conf:2: ssl_conf_command \"NoSuchCommand\"");
    expect_error("ssl_session_cache shared:SSL;\n", "t.conf:1: ssl_session_cache: invalid zone");
    expect_error("server { ssl on; }\n", "t.conf:1: \"ssl\" is not supported");
    expect_error("server { ssl_crl x; }\n", "t.conf:1: \"ssl_crl\" is not supported yet");
}

/* A certificate on a server no ssl address reaches is not read (no error for a missing one). */
static void test_plain_server_reads_nothing(void **state)
{
    (void)state;
    struct conf c;
    char err[CONF_ERR_MAX];
    int rc = load(&c,
                  "server { listen 127.0.0.1:0; root /tmp; ssl_certificate /nonexistent.pem;"
                  " ssl_certificate_key /nonexistent.key; }\n",
                  err, sizeof(err));
    if (rc < 0) {
        fail_msg("%s", err);
    }
    conf_free(&c);
}

/* ---------------------------------------------------------------- ticket keys */

static void test_ticket_key_files(void **state)
{
    (void)state;
    unsigned char buf[80];
    for (unsigned i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char)i;
    }
    struct tls_ticket_key k;
    assert_int_equal(tls_ticket_key_parse(buf, 48, &k), 0);
    assert_int_equal(k.aes_len, 16);
    assert_int_equal(k.hmac_len, 16);
    assert_memory_equal(k.name, buf, 16);
    assert_memory_equal(k.aes, buf + 16, 16); /* nginx: name, AES key, HMAC key */
    assert_memory_equal(k.hmac, buf + 32, 16);
    assert_int_equal(tls_ticket_key_parse(buf, 80, &k), 0);
    assert_int_equal(k.aes_len, 32);
    assert_memory_equal(k.hmac, buf + 16, 32); /* nginx: name, HMAC key, AES key */
    assert_memory_equal(k.aes, buf + 48, 32);
    assert_int_equal(tls_ticket_key_parse(buf, 47, &k), -EINVAL);
    assert_int_equal(tls_ticket_key_parse(buf, 79, &k), -EINVAL);
}

static void test_ticket_key_derivation(void **state)
{
    (void)state;
    unsigned char secret[TLS_TICKET_SECRET_LEN];
    memset(secret, 7, sizeof(secret));
    struct tls_ticket_key a, b, c;
    tls_ticket_key_derive(secret, 1000, &a);
    tls_ticket_key_derive(secret, 1000, &b);
    tls_ticket_key_derive(secret, 1001, &c);
    assert_memory_equal(&a, &b, sizeof(a));      /* every worker derives the same */
    assert_memory_not_equal(a.name, c.name, 16); /* each epoch its own */
    assert_memory_not_equal(a.aes, c.aes, 32);
    assert_memory_not_equal(a.hmac, a.aes, 32);
    assert_int_equal(a.aes_len, 32);
    /* the documented construction: HMAC-SHA256(secret, label || be64(epoch) || part) */
    unsigned char msg[25] = "spate ticket key";
    msg[22] = 1000 >> 8;
    msg[23] = 1000 & 255;
    msg[24] = 2;
    unsigned char want[32];
    unsigned len = sizeof(want);
    HMAC(EVP_sha256(), secret, sizeof(secret), msg, sizeof(msg), want, &len);
    assert_memory_equal(a.aes, want, 32);
    msg[24] = 0;
    HMAC(EVP_sha256(), secret, sizeof(secret), msg, sizeof(msg), want, &len);
    assert_memory_equal(a.name + 8, want, 8); /* the name: the epoch, then a tag */
    assert_int_equal(tls_ticket_name_epoch(a.name), 1000);
    assert_int_equal(tls_ticket_name_epoch(c.name), 1001);
    secret[0] ^= 1;
    tls_ticket_key_derive(secret, 1000, &b);
    assert_memory_not_equal(a.name, b.name, 16); /* another process's secret */
    assert_memory_equal(a.name, b.name, 8);      /* the same epoch */
    assert_int_equal(tls_ticket_epoch(3599), 0);
    assert_int_equal(tls_ticket_epoch(3600), 1);
    assert_int_equal(tls_ticket_window(5 * 60 * 1000), 1); /* this hour's and the last */
    assert_int_equal(tls_ticket_window(3600 * 1000), 1);
    assert_int_equal(tls_ticket_window(3601 * 1000), 2);
    assert_int_equal(tls_ticket_window(24 * 3600 * 1000), 24);
}

int main(void)
{
    if (chdir(SPATE_SRC_DIR) < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_gets_default_servers_context),
        cmocka_unit_test(test_inheritance_and_sni),
        cmocka_unit_test(test_print_round_trip),
        cmocka_unit_test(test_errors_name_the_line),
        cmocka_unit_test(test_plain_server_reads_nothing),
        cmocka_unit_test(test_ticket_key_files),
        cmocka_unit_test(test_ticket_key_derivation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
