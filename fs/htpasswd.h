/*
 * htpasswd.h - the text of a password file, as Apache's htpasswd and `openssl passwd` write it.
 *
 * One account a line: `user:hash`, optionally followed by `:comment` (nginx reads the same
 * file and ignores what follows a second colon). Lines that are empty, hold only blanks, or
 * start with '#' are skipped; a trailing CR is dropped. The hash must be one a library can
 * check (see enum htpasswd_kind); anything else is taken for a plaintext password
 * (`htpasswd -p`) and refused with the whole file, as is a line without a user or a colon:
 * a file that says something other than what its writer meant is not half used.
 *
 * Pure parsing: no I/O, no verification (http/auth_basic.c checks passwords with libaprutil).
 * The result is immutable and may be read by any thread.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stddef.h>
#include <stdint.h>

enum htpasswd_kind {
    HTPW_UNKNOWN,  /* not a hash we know: a plaintext password, refused */
    HTPW_APR1,     /* $apr1$: Apache's MD5 (htpasswd's default, -m; openssl passwd -apr1) */
    HTPW_MD5,      /* $1$: MD5-crypt (openssl passwd -1) */
    HTPW_BCRYPT,   /* $2y$, $2b$, $2a$: bcrypt (htpasswd -B) */
    HTPW_SHA1,     /* {SHA}: base64 of SHA-1, unsalted (htpasswd -s) */
    HTPW_SHA256,   /* $5$: SHA-256-crypt (htpasswd -2; openssl passwd -5) */
    HTPW_SHA512,   /* $6$: SHA-512-crypt (htpasswd -5; openssl passwd -6) */
    HTPW_YESCRYPT, /* $y$: yescrypt (mkpasswd; libcrypt checks it) */
    HTPW_DES,      /* 13 characters of [./0-9A-Za-z]: traditional crypt (htpasswd -d) */
};

/* The kind of a hash string, HTPW_UNKNOWN when it is none we can check. */
enum htpasswd_kind htpasswd_kind_of(struct slice hash);

/* A short name for a kind ("apr1", "bcrypt", ...). */
const char *htpasswd_kind_name(enum htpasswd_kind k);

struct htpasswd_entry {
    const char *user; /* NUL-terminated, in the file's copy */
    const char *hash; /* NUL-terminated */
    uint32_t user_len;
    uint32_t line;
    uint8_t kind; /* enum htpasswd_kind */
};

/* A parsed file: the accounts sorted by user name (the first line of a name wins). */
struct htpasswd {
    struct htpasswd_entry *v;
    unsigned n;
    char *text; /* the copy the entries point into */
};

#define HTPASSWD_MSG_MAX 200

/* Why a file was refused: the line (1-based) and a sentence without file or line. */
struct htpasswd_error {
    unsigned line;
    char msg[HTPASSWD_MSG_MAX];
};

/*
 * Parses text[0..len). 0 with *out (free with htpasswd_free); -EINVAL with *err filled (the
 * file is refused: a plaintext password, a line without "user:", a user name with a control
 * byte); -ENOMEM. An empty file (no account) is valid: nobody gets in.
 */
int htpasswd_parse(const char *text, size_t len, struct htpasswd **out,
                   struct htpasswd_error *err) MUST_CHECK;

void htpasswd_free(struct htpasswd *h);

/* The account named user, or NULL. */
const struct htpasswd_entry *htpasswd_find(const struct htpasswd *h, struct slice user);
