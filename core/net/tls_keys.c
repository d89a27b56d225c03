/*
 * tls_keys.c - collecting a TLS connection's secrets and record counts (tls_keys.h).
 *
 * The key-log callback gets a formatted line per secret ("LABEL <client random> <hex>"), five
 * per TLS 1.3 handshake; only the two application traffic secrets are kept. The message
 * callback runs for every record header OpenSSL writes or reads (SSL3_RT_HEADER) and for every
 * message: the counts restart where the keys change (the server's application secret is
 * logged right after its Finished is written; TLS 1.2's ChangeCipherSpec; tls.c restarts the
 * receive count at the end of the handshake, where the client's TLS 1.3 keys change).
 */
#include "core/net/tls_keys.h"

#include "core/net/tls_conn.h"
#include "core/net/tls_seal.h"

#include <string.h>

static struct tls_conn *conn_of(const SSL *ssl)
{
    struct transport *t = SSL_get_app_data(ssl);
    struct tls_conn *tc = t ? tls_of(t) : NULL;
    return tc && tc->ssl && !(tc->flags & TLS_KTLS) ? tc : NULL;
}

static void on_msg(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg)
{
    (void)version;
    (void)arg;
    struct tls_conn *tc = conn_of(ssl);
    if (!tc) {
        return;
    }
    if (tc->flags & TLS_SEALED) {
        /* OpenSSL's own record of it goes nowhere (the BIO drops it): ours goes instead */
        if (write_p && (content_type == SSL3_RT_HANDSHAKE || content_type == SSL3_RT_ALERT)) {
            tls_seal_control(SSL_get_app_data(ssl), (uint8_t)content_type, buf, len);
        }
        return;
    }
    if (content_type == SSL3_RT_HEADER) {
        if (write_p) {
            tc->tx_records++;
        } else {
            tc->rx_records++;
        }
    } else if (content_type == SSL3_RT_CHANGE_CIPHER_SPEC) {
        /* TLS 1.2: the records after it are the first under the new keys */
        if (write_p) {
            tc->tx_records = 0;
        } else {
            tc->rx_records = 0;
        }
    }
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "LABEL <client random> <secret>": the secret's bytes into out; their count, 0 if malformed. */
static size_t parse_secret(const char *line, uint8_t *out, size_t cap)
{
    const char *p = strchr(line, ' ');
    p = p ? strchr(p + 1, ' ') : NULL;
    if (!p) {
        return 0;
    }
    p++;
    size_t n = 0;
    while (p[0] && p[1] && n < cap) {
        int hi = unhex(p[0]), lo = unhex(p[1]);
        if (hi < 0 || lo < 0) {
            return 0;
        }
        out[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    return n;
}

static void on_keylog(const SSL *ssl, const char *line)
{
    struct tls_conn *tc = conn_of(ssl);
    if (!tc) {
        return;
    }
    static const char tx[] = "SERVER_TRAFFIC_SECRET_0 ", rx[] = "CLIENT_TRAFFIC_SECRET_0 ";
    if (strncmp(line, tx, sizeof(tx) - 1) == 0) {
        tc->secret_len = (uint8_t)parse_secret(line, tc->tx_secret, sizeof(tc->tx_secret));
        tc->tx_records = 0; /* what we write from now on is under this secret */
    } else if (strncmp(line, rx, sizeof(rx) - 1) == 0) {
        parse_secret(line, tc->rx_secret, sizeof(tc->rx_secret));
    }
}

void tls_keys_prepare_ctx(SSL_CTX *ctx)
{
    SSL_CTX_set_msg_callback(ctx, on_msg);
    SSL_CTX_set_keylog_callback(ctx, on_keylog);
}
