/*
 * fuzz_chunked - libFuzzer target for the chunked decoder (proto/chunked.c).
 *
 * The first input byte picks a read size; the rest is decoded once whole and once in
 * pieces of that size. Both must give the same verdict, the same payload and stop at the
 * same byte (input split at any point decodes identically).
 */
#include "proto/chunked.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    int rc;
    size_t consumed, outn;
    uint64_t hash;
};

static struct result run(const char *in, size_t n, size_t step)
{
    struct http_chunked d;
    http_chunked_init(&d, 1 << 20);
    struct result r = {HTTP_CHUNKED_MORE, 0, 0, 1469598103934665603ull};
    size_t off = 0;
    while (off < n) {
        size_t end = off + step < n ? off + step : n;
        size_t pos = off;
        while (pos < end) {
            size_t used;
            struct slice out;
            int rc = http_chunked_decode(&d, in + pos, end - pos, &used, &out);
            if (used > end - pos ||
                (out.len && (out.ptr < in + pos || out.ptr + out.len > in + end))) {
                abort();
            }
            for (size_t i = 0; i < out.len; i++) {
                r.hash = (r.hash ^ (uint8_t)out.ptr[i]) * 1099511628211ull;
            }
            r.outn += out.len;
            pos += used;
            if (rc < 0 || rc == HTTP_CHUNKED_DONE) {
                r.rc = rc;
                r.consumed = pos;
                return r;
            }
            if (rc == HTTP_CHUNKED_MORE) {
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
    size_t step = (size_t)data[0] % 16 + 1;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    struct result whole = run(in, n, n ? n : 1);
    struct result parts = run(in, n, step);
    if (whole.rc != parts.rc || whole.outn != parts.outn || whole.hash != parts.hash) {
        abort();
    }
    if (whole.rc == HTTP_CHUNKED_DONE && whole.consumed != parts.consumed) {
        abort();
    }
    return 0;
}
