/* tls_tickets.c - session ticket keys and OpenSSL's ticket callback (see tls_tickets.h). */
#include "core/http/tls_tickets.h"

#include "core/base/alloc.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct tls_tickets {
    struct tls_ticket_key *keys; /* from files; keys[0] makes tickets */
    unsigned nkeys;
    uint64_t window; /* derived keys (nkeys == 0): epochs back a ticket is accepted */
};

/*
 * Drawn once, on the main thread, before the first context uses it; read-only afterwards. The
 * only process-wide state of the TLS configuration: it outlives configurations on purpose.
 */
static unsigned char secret[TLS_TICKET_SECRET_LEN];
static bool have_secret;

int tls_ticket_key_parse(const unsigned char *buf, size_t n, struct tls_ticket_key *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->name, buf, n >= 16 ? 16 : 0);
    if (n == 48) {
        memcpy(out->aes, buf + 16, 16);
        memcpy(out->hmac, buf + 32, 16);
        out->aes_len = out->hmac_len = 16;
    } else if (n == 80) {
        memcpy(out->hmac, buf + 16, 32);
        memcpy(out->aes, buf + 48, 32);
        out->aes_len = out->hmac_len = 32;
    } else {
        return -EINVAL;
    }
    return 0;
}

void tls_ticket_key_derive(const unsigned char s[TLS_TICKET_SECRET_LEN], uint64_t epoch,
                           struct tls_ticket_key *out)
{
    /* HMAC-SHA256(secret, label || epoch || part): three independent 32-byte blocks */
    unsigned char msg[32];
    static const char label[] = "spate ticket key";
    memcpy(msg, label, 16);
    for (int i = 0; i < 8; i++) {
        msg[16 + i] = (unsigned char)(epoch >> (56 - 8 * i));
    }
    unsigned char *dst[3] = {NULL, out->hmac, out->aes};
    unsigned char block[32];
    for (unsigned char part = 0; part < 3; part++) {
        msg[24] = part;
        unsigned len = sizeof(block);
        HMAC(EVP_sha256(), s, TLS_TICKET_SECRET_LEN, msg, 25, block, &len);
        if (part == 0) {
            memcpy(out->name, msg + 16, 8); /* the epoch, in clear: no search when opening */
            memcpy(out->name + 8, block, 8);
        } else {
            memcpy(dst[part], block, 32);
        }
    }
    OPENSSL_cleanse(block, sizeof(block));
    out->hmac_len = out->aes_len = 32;
}

uint64_t tls_ticket_name_epoch(const unsigned char name[16])
{
    uint64_t e = 0;
    for (int i = 0; i < 8; i++) {
        e = e << 8 | name[i];
    }
    return e;
}

static int read_key(const struct tls_file *f, struct tls_ticket_key *k, char *err, size_t errlen)
{
    FILE *fp = fopen(f->path, "rb");
    if (!fp) {
        return conf_fail_at(err, errlen, f->where, "cannot read ticket key \"%s\": %s", f->path,
                            strerror(errno));
    }
    unsigned char buf[81];
    size_t n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    int rc = tls_ticket_key_parse(buf, n, k);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (rc < 0) {
        return conf_fail_at(err, errlen, f->where, "\"%s\" must be 48 or 80 bytes", f->path);
    }
    return 0;
}

struct tls_tickets *tls_tickets_new(const struct tls_ctx_params *p, char *err, size_t errlen)
{
    const struct tls_files *files = &p->ts->ticket_keys;
    struct tls_tickets *t = sp_calloc(1, sizeof(*t));
    if (!t || (files->n && !(t->keys = sp_calloc(files->n, sizeof(*t->keys))))) {
        sp_free(t);
        conf_fail_at(err, errlen, p->block->where, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < files->n; i++) {
        if (read_key(&files->v[i], &t->keys[i], err, errlen) < 0) {
            tls_tickets_free(t);
            return NULL;
        }
        t->nkeys++;
    }
    t->window = tls_ticket_window(p->ts->session_timeout_ms);
    if (!have_secret) {
        if (RAND_bytes(secret, sizeof(secret)) != 1) {
            tls_tickets_free(t);
            conf_fail_at(err, errlen, p->block->where, "no random bytes for ticket keys");
            return NULL;
        }
        have_secret = true;
    }
    return t;
}

void tls_tickets_free(struct tls_tickets *t)
{
    if (!t) {
        return;
    }
    if (t->keys) {
        OPENSSL_cleanse(t->keys, t->nkeys * sizeof(*t->keys));
    }
    sp_free(t->keys);
    sp_free(t);
}

static int use_key(const struct tls_ticket_key *k, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                   EVP_MAC_CTX *hctx, int enc)
{
    const EVP_CIPHER *c = k->aes_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, k->hmac_len),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(hctx, params) != 1) {
        return -1;
    }
    int ok = enc ? EVP_EncryptInit_ex(ectx, c, NULL, k->aes, iv)
                 : EVP_DecryptInit_ex(ectx, c, NULL, k->aes, iv);
    return ok == 1 ? 0 : -1;
}

/* The ex_data slot of a context's struct tls_tickets (made once, on the main thread). */
static int tickets_index = -1;

static void tickets_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                            void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    tls_tickets_free(ptr);
}

/*
 * A derivation costs about 11 us (three HMACs, each fetching its algorithm), several times per
 * handshake: each worker thread keeps the last two epochs' keys it derived. Per thread, so
 * nothing is shared or locked; the secret never changes, so an entry never goes stale.
 */
struct key_cache {
    uint64_t epoch[2];
    bool used[2];
    struct tls_ticket_key key[2];
    unsigned next;
};

static _Thread_local struct key_cache cache;

static const struct tls_ticket_key *derived_key(uint64_t epoch)
{
    for (unsigned i = 0; i < 2; i++) {
        if (cache.used[i] && cache.epoch[i] == epoch) {
            return &cache.key[i];
        }
    }
    unsigned i = cache.next;
    cache.next ^= 1;
    tls_ticket_key_derive(secret, epoch, &cache.key[i]);
    cache.epoch[i] = epoch;
    cache.used[i] = true;
    return &cache.key[i];
}

/* 1: the key is set; 2: set, and the ticket should be renewed (an older key); 0: unknown
 * key (a full handshake); -1: error. */
static int on_ticket(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                     EVP_MAC_CTX *hctx, int enc)
{
    const struct tls_tickets *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tickets_index);
    if (!t) {
        return 0; /* no keys here: no ticket made, none opened */
    }
    const struct tls_ticket_key *keys = t->keys;
    unsigned n = t->nkeys;
    bool old = false;
    if (n == 0) {
        uint64_t now = tls_ticket_epoch((uint64_t)time(NULL));
        uint64_t e = enc ? now : tls_ticket_name_epoch(name);
        if (e > now || now - e > t->window) {
            return 0; /* not one of ours, or too old: a full handshake */
        }
        keys = derived_key(e);
        n = 1;
        old = e != now;
    }
    int rc = -1;
    if (enc) {
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) == 1) {
            memcpy(name, keys[0].name, 16);
            rc = use_key(&keys[0], iv, ectx, hctx, 1) == 0 ? 1 : -1;
        }
    } else {
        rc = 0;
        for (unsigned i = 0; i < n; i++) {
            if (memcmp(name, keys[i].name, 16) == 0) {
                rc = use_key(&keys[i], iv, ectx, hctx, 0) < 0 ? -1 : i == 0 && !old ? 1 : 2;
                break;
            }
        }
    }
    return rc;
}

int tls_tickets_attach(SSL_CTX *ctx, struct tls_tickets *t)
{
    if (tickets_index < 0) {
        tickets_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tickets_ex_free);
    }
    if (tickets_index < 0 || SSL_CTX_set_ex_data(ctx, tickets_index, t) != 1) {
        tls_tickets_free(t);
        return -1;
    }
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
    return 0;
}
