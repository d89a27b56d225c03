/*
 * fuzz_fastcgi - libFuzzer target for the FastCGI answer decoder (proto/fastcgi.c).
 *
 * The first input byte picks a read size; the rest is decoded once whole and once in pieces
 * of that size (request id 1). Both must give the same verdict, the same STDOUT and STDERR
 * bytes, and stop at the same byte; no slice may point outside the input it came from. The
 * name-value pair decoder runs over the same bytes and must stay inside them.
 */
#include "proto/fastcgi.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    int rc;
    size_t consumed, outn, errn;
    uint64_t hash;
};

static struct result run(const char *in, size_t n, size_t step)
{
    struct fcgi_decoder d;
    fcgi_decoder_init(&d, 1);
    struct result r = {FCGI_DEC_MORE, 0, 0, 0, 1469598103934665603ull};
    size_t off = 0;
    while (off < n) {
        size_t end = off + step < n ? off + step : n;
        size_t pos = off;
        while (pos < end) {
            size_t used;
            struct slice out;
            int rc = fcgi_decode(&d, in + pos, end - pos, &used, &out);
            if (used > end - pos ||
                (out.len && (out.ptr < in + pos || out.ptr + out.len > in + end))) {
                abort();
            }
            for (size_t i = 0; i < out.len; i++) {
                r.hash = (r.hash ^ (uint8_t)out.ptr[i] ^ (unsigned)rc << 8) * 1099511628211ull;
            }
            if (rc == FCGI_DEC_STDOUT) {
                r.outn += out.len;
            } else if (rc == FCGI_DEC_STDERR) {
                r.errn += out.len;
            }
            pos += used;
            if (rc < 0 || rc == FCGI_DEC_END) {
                r.rc = rc;
                r.consumed = pos;
                return r;
            }
            if (rc == FCGI_DEC_MORE) {
                if (pos != end) {
                    abort(); /* MORE means all of it was taken */
                }
                break;
            }
        }
        off = end;
    }
    r.consumed = n;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t step = (size_t)data[0] % 17 + 1;
    size_t n = size - 1;
    char *in = malloc(n ? n : 1);
    if (!in) {
        return 0;
    }
    memcpy(in, data + 1, n);
    struct result a = run(in, n, n ? n : 1), b = run(in, n, step);
    if (a.rc != b.rc || a.consumed != b.consumed || a.outn != b.outn || a.errn != b.errn ||
        a.hash != b.hash) {
        abort();
    }
    size_t pos = 0;
    struct slice name, value;
    size_t used;
    while (pos < n && fcgi_pair_decode(in + pos, n - pos, &name, &value, &used) == 1) {
        if (used == 0 || used > n - pos || name.ptr + name.len > in + n ||
            value.ptr + value.len > in + n) {
            abort();
        }
        pos += used;
    }
    free(in);
    return 0;
}
