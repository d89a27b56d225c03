/* htpasswd.c - parsing a password file (see htpasswd.h). */
#include "fs/htpasswd.h"

#include "core/base/alloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool crypt64(char c)
{
    return c == '.' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z');
}

static bool starts(struct slice s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len > n && memcmp(s.ptr, prefix, n) == 0;
}

/* The part after a "$id$" prefix: "[rounds=N$]salt$digest" with a digest of crypt64. */
static bool crypt_body_ok(struct slice s, size_t prefix)
{
    const char *d = memrchr(s.ptr + prefix, '$', s.len - prefix);
    if (!d || d == s.ptr + prefix) {
        return false; /* no salt */
    }
    size_t n = s.len - (size_t)(d + 1 - s.ptr);
    if (n < 16) {
        return false; /* the shortest digest here (MD5's) is 22 characters */
    }
    for (size_t i = 0; i < n; i++) {
        if (!crypt64(d[1 + i])) {
            return false;
        }
    }
    return true;
}

enum htpasswd_kind htpasswd_kind_of(struct slice h)
{
    if (starts(h, "$apr1$")) {
        return crypt_body_ok(h, 6) ? HTPW_APR1 : HTPW_UNKNOWN;
    }
    if (starts(h, "$1$")) {
        return crypt_body_ok(h, 3) ? HTPW_MD5 : HTPW_UNKNOWN;
    }
    if (starts(h, "$5$")) {
        return crypt_body_ok(h, 3) ? HTPW_SHA256 : HTPW_UNKNOWN;
    }
    if (starts(h, "$6$")) {
        return crypt_body_ok(h, 3) ? HTPW_SHA512 : HTPW_UNKNOWN;
    }
    if (starts(h, "$y$")) {
        return crypt_body_ok(h, 3) ? HTPW_YESCRYPT : HTPW_UNKNOWN;
    }
    if (h.len == 60 && h.ptr[0] == '$' && h.ptr[1] == '2' &&
        (h.ptr[2] == 'y' || h.ptr[2] == 'b' || h.ptr[2] == 'a') && h.ptr[3] == '$' &&
        h.ptr[4] >= '0' && h.ptr[4] <= '3' && h.ptr[5] >= '0' && h.ptr[5] <= '9' &&
        h.ptr[6] == '$') {
        /* $2y$NN$ then 22 characters of salt and 31 of digest */
        for (size_t i = 7; i < h.len; i++) {
            if (!crypt64(h.ptr[i])) {
                return HTPW_UNKNOWN;
            }
        }
        return HTPW_BCRYPT;
    }
    if (h.len == 5 + 28 && starts(h, "{SHA}")) {
        for (size_t i = 5; i < h.len; i++) {
            char c = h.ptr[i];
            bool b64 = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                       c == '+' || c == '/' || (c == '=' && i == 32);
            if (!b64) {
                return HTPW_UNKNOWN;
            }
        }
        return h.ptr[32] == '=' ? HTPW_SHA1 : HTPW_UNKNOWN;
    }
    if (h.len == 13) {
        for (size_t i = 0; i < 13; i++) {
            if (!crypt64(h.ptr[i])) {
                return HTPW_UNKNOWN;
            }
        }
        return HTPW_DES;
    }
    return HTPW_UNKNOWN;
}

const char *htpasswd_kind_name(enum htpasswd_kind k)
{
    static const char *const names[] = {
        [HTPW_UNKNOWN] = "plaintext",   [HTPW_APR1] = "apr1-md5",
        [HTPW_MD5] = "md5-crypt",       [HTPW_BCRYPT] = "bcrypt",
        [HTPW_SHA1] = "sha1",           [HTPW_SHA256] = "sha256-crypt",
        [HTPW_SHA512] = "sha512-crypt", [HTPW_YESCRYPT] = "yescrypt",
        [HTPW_DES] = "des-crypt",
    };
    return (unsigned)k < ARRAY_SIZE(names) ? names[k] : "?";
}

static int refuse(struct htpasswd_error *err, unsigned line, const char *msg)
{
    err->line = line;
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
    return -EINVAL;
}

static int by_user(const void *a, const void *b)
{
    const struct htpasswd_entry *x = a, *y = b;
    int c = strcmp(x->user, y->user);
    if (c) {
        return c;
    }
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Parses the line [p, end) (its line ending removed) into *e: 0 (an account), 1 (skipped), or
 * -EINVAL. The line is cut in place (NULs after the user and after the hash). */
static int parse_line(char *p, char *end, unsigned line, struct htpasswd_entry *e,
                      struct htpasswd_error *err)
{
    if (end > p && end[-1] == '\r') {
        *--end = '\0';
    }
    const char *q = p;
    while (q < end && (*q == ' ' || *q == '\t')) {
        q++;
    }
    if (q == end || *q == '#') {
        return 1;
    }
    char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon) {
        return refuse(err, line, "no \"user:hash\" on this line");
    }
    if (colon == p) {
        return refuse(err, line, "an account without a user name");
    }
    for (const char *c = p; c < colon; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            return refuse(err, line, "a user name with a control character");
        }
    }
    *colon = '\0';
    char *hash = colon + 1;
    char *hend = memchr(hash, ':', (size_t)(end - hash));
    if (!hend) {
        hend = end;
    }
    *hend = '\0';
    e->user = p;
    e->user_len = (uint32_t)(colon - p);
    e->hash = hash;
    e->line = line;
    e->kind = (uint8_t)htpasswd_kind_of(slice_make(hash, (size_t)(hend - hash)));
    if (e->kind == HTPW_UNKNOWN) {
        char msg[HTPASSWD_MSG_MAX];
        snprintf(msg, sizeof(msg),
                 "the password of \"%.40s\" is not a hash spate can check (a plaintext "
                 "password, htpasswd -p, is refused: use htpasswd -B)",
                 p);
        return refuse(err, line, msg);
    }
    return 0;
}

int htpasswd_parse(const char *text, size_t len, struct htpasswd **out, struct htpasswd_error *err)
{
    *out = NULL;
    err->line = 0;
    err->msg[0] = '\0';
    if (memchr(text, '\0', len)) {
        const char *z = memchr(text, '\0', len);
        unsigned line = 1;
        for (const char *c = text; c < z; c++) {
            line += *c == '\n';
        }
        return refuse(err, line, "a NUL byte in the file");
    }
    struct htpasswd *h = sp_calloc(1, sizeof(*h));
    if (!h || !(h->text = sp_malloc(len + 1))) {
        sp_free(h);
        return -ENOMEM;
    }
    memcpy(h->text, text, len);
    h->text[len] = '\0';
    unsigned lines = 1;
    for (size_t i = 0; i < len; i++) {
        lines += h->text[i] == '\n';
    }
    if (!(h->v = sp_calloc(lines, sizeof(*h->v)))) {
        htpasswd_free(h);
        return -ENOMEM;
    }
    char *p = h->text, *end = h->text + len;
    for (unsigned line = 1; p < end; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        *le = '\0';
        int rc = parse_line(p, le, line, &h->v[h->n], err);
        if (rc < 0) {
            htpasswd_free(h);
            return rc;
        }
        h->n += rc == 0;
        p = le + 1;
    }
    qsort(h->v, h->n, sizeof(*h->v), by_user);
    unsigned k = 0; /* keep the first line of each name, as Apache and nginx read it */
    for (unsigned i = 0; i < h->n; i++) {
        if (k == 0 || strcmp(h->v[k - 1].user, h->v[i].user) != 0) {
            h->v[k++] = h->v[i];
        }
    }
    h->n = k;
    *out = h;
    return 0;
}

void htpasswd_free(struct htpasswd *h)
{
    if (h) {
        sp_free(h->v);
        sp_free(h->text);
        sp_free(h);
    }
}

const struct htpasswd_entry *htpasswd_find(const struct htpasswd *h, struct slice user)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct htpasswd_entry *e = &h->v[mid];
        size_t n = e->user_len < user.len ? e->user_len : user.len;
        int c = memcmp(e->user, user.ptr, n);
        if (c == 0) {
            c = e->user_len < user.len ? -1 : e->user_len > user.len;
        }
        if (c == 0) {
            return e;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}
