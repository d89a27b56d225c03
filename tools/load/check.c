/* check.c - see check.h. */
#include "tools/load/check.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int check_file_digest(const char *path, unsigned char out[32])
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return -1;
    }
    struct check_ctx *c = check_new();
    check_begin(c);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        check_update(c, buf, n);
    }
    int bad = ferror(f);
    fclose(f);
    unsigned int len = 32;
    EVP_DigestFinal_ex((EVP_MD_CTX *)c, out, &len);
    check_free(c);
    return bad ? -1 : 0;
}

int check_parse_hex(const char *s, unsigned char out[32])
{
    if (strlen(s) != 64) {
        return -1;
    }
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = s[2 * i + k];
            unsigned d;
            if (ch >= '0' && ch <= '9') {
                d = (unsigned)(ch - '0');
            } else if (ch >= 'a' && ch <= 'f') {
                d = (unsigned)(ch - 'a' + 10);
            } else if (ch >= 'A' && ch <= 'F') {
                d = (unsigned)(ch - 'A' + 10);
            } else {
                return -1;
            }
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

struct check_ctx *check_new(void)
{
    return (struct check_ctx *)EVP_MD_CTX_new();
}

void check_free(struct check_ctx *c)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)c);
}

void check_begin(struct check_ctx *c)
{
    EVP_DigestInit_ex((EVP_MD_CTX *)c, EVP_sha256(), NULL);
}

void check_update(struct check_ctx *c, const void *p, size_t n)
{
    EVP_DigestUpdate((EVP_MD_CTX *)c, p, n);
}

int check_end(struct check_ctx *c, const unsigned char want[32])
{
    unsigned char got[32];
    unsigned int len = sizeof(got);
    EVP_DigestFinal_ex((EVP_MD_CTX *)c, got, &len);
    return memcmp(got, want, 32) == 0;
}
