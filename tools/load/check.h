/*
 * check.h - body verification for --check FILE / --sha256 HEX: each response body's SHA-256
 * (OpenSSL's EVP, Debian's libssl) is compared with the expected one. A digest rather than the
 * bytes, so a 1 GiB file costs no memory and the two options share one path.
 */
#pragma once

#include <stddef.h>

struct check_ctx; /* an EVP_MD_CTX */

/* The SHA-256 of a file's bytes into out; -1 if it cannot be read. */
int check_file_digest(const char *path, unsigned char out[32]);

/* 64 hex digits into out; -1 if s is anything else. */
int check_parse_hex(const char *s, unsigned char out[32]);

struct check_ctx *check_new(void);
void check_free(struct check_ctx *c);
void check_begin(struct check_ctx *c);
void check_update(struct check_ctx *c, const void *p, size_t n);
/* 1 when the body fed since check_begin has the digest want, else 0. */
int check_end(struct check_ctx *c, const unsigned char want[32]);
