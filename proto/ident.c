/* ident.c - see ident.h. */
#include "proto/ident.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

size_t ident_query(char *buf, unsigned client_port, unsigned server_port)
{
    int n = snprintf(buf, 16, "%u , %u\r\n", client_port & 0xffffu, server_port & 0xffffu);
    return n > 0 ? (size_t)n : 0;
}

static bool space(char c)
{
    return c == ' ' || c == '\t';
}

/* [p, e) without the blanks around it */
static struct slice trim(const char *p, const char *e)
{
    while (p < e && space(*p)) {
        p++;
    }
    while (e > p && space(e[-1])) {
        e--;
    }
    return slice_make(p, (size_t)(e - p));
}

static bool port_is(struct slice s, unsigned want)
{
    if (s.len == 0 || s.len > 5) {
        return false;
    }
    unsigned v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(s.ptr[i] - '0');
    }
    return v == want;
}

static bool token_is(struct slice s, const char *word)
{
    size_t n = strlen(word);
    if (s.len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s.ptr[i];
        if (c >= 'a' && c <= 'z') {
            c = (char)(c - 32);
        }
        if (c != word[i]) {
            return false;
        }
    }
    return true;
}

/* A token of the RFC's kind: printable ASCII without blanks or the separators ":" and ",". */
static bool token_ok(struct slice s)
{
    if (s.len == 0 || s.len > 64) {
        return false;
    }
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c <= ' ' || c >= 0x7f || c == ':' || c == ',') {
            return false;
        }
    }
    return true;
}

enum ident_status ident_parse(const char *buf, size_t len, unsigned client_port,
                              unsigned server_port, struct ident_reply *out)
{
    memset(out, 0, sizeof(*out));
    const char *nl = memchr(buf, '\n', len);
    if (!nl) {
        return len > IDENT_REPLY_MAX ? IDENT_TOO_LONG : IDENT_MORE;
    }
    if ((size_t)(nl - buf) + 1 > IDENT_REPLY_MAX) {
        return IDENT_TOO_LONG;
    }
    const char *end = nl > buf && nl[-1] == '\r' ? nl - 1 : nl;
    if (memchr(buf, '\0', (size_t)(end - buf)) || memchr(buf, '\r', (size_t)(end - buf))) {
        return IDENT_MALFORMED;
    }
    /* <port> , <port> : */
    const char *c1 = memchr(buf, ':', (size_t)(end - buf));
    if (!c1) {
        return IDENT_MALFORMED;
    }
    const char *comma = memchr(buf, ',', (size_t)(c1 - buf));
    if (!comma || !port_is(trim(buf, comma), client_port) ||
        !port_is(trim(comma + 1, c1), server_port)) {
        return IDENT_MALFORMED;
    }
    const char *c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
    struct slice type = trim(c1 + 1, c2 ? c2 : end);
    if (!c2) {
        return IDENT_MALFORMED;
    }
    if (token_is(type, "ERROR")) {
        struct slice err = trim(c2 + 1, end);
        if (!token_ok(err)) {
            return IDENT_MALFORMED;
        }
        out->error = err;
        return IDENT_ERROR;
    }
    if (!token_is(type, "USERID")) {
        return IDENT_MALFORMED;
    }
    /* USERID : <opsys>[,<charset>] : <user id>: the id is everything after the third colon
     * (it may hold colons of its own); blanks before it are taken as padding */
    const char *c3 = memchr(c2 + 1, ':', (size_t)(end - c2 - 1));
    if (!c3) {
        return IDENT_MALFORMED;
    }
    const char *cs = memchr(c2 + 1, ',', (size_t)(c3 - c2 - 1));
    out->opsys = trim(c2 + 1, cs ? cs : c3);
    out->charset = cs ? trim(cs + 1, c3) : SLICE_NULL;
    if (!token_ok(out->opsys) || (cs && !token_ok(out->charset))) {
        return IDENT_MALFORMED;
    }
    const char *u = c3 + 1;
    while (u < end && space(*u)) {
        u++;
    }
    if (u == end || (size_t)(end - u) > IDENT_USER_MAX) {
        return IDENT_MALFORMED;
    }
    out->user = slice_make(u, (size_t)(end - u));
    return IDENT_USERID;
}
