/*
 * fuzz_request - libFuzzer target for the request parser (proto/request.c).
 *
 * Properties checked beyond "no crash, no sanitizer report":
 *   - a successful parse consumes at most the input, and every slice lies inside it;
 *   - pipelined parsing over the rest of the input never goes backwards;
 *   - splitting the input at any byte and resuming with prev_len gives the same result
 *     as parsing it whole (a request split across reads parses identically);
 *   - a verdict on the first part of the input is final: the whole input gets the same
 *     success or error (a head refused before it is complete was rightly refused).
 */
#include "core/base/arena.h"
#include "core/base/hash.h"
#include "proto/request.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct arena_pool pool;
static struct arena arena;
static int ready;

static void check_slice(struct slice s, const char *buf, size_t len)
{
    if (s.len && (s.ptr < buf || s.ptr + s.len > buf + len)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        hash_set_seed(42);
        hdr_known_init();
        arena_pool_init(&pool, 4096, 64);
        arena_init(&arena, &pool, 1 << 22);
        ready = 1;
    }
    const char *buf = (const char *)data;
    struct http_limits lim = {512, 2048, 32};
    size_t off = 0;
    while (off < size) {
        struct http_request r;
        int rc = http_parse_request(buf + off, size - off, 0, &lim, &arena, &r);
        /* two cuts, picked by the input itself: one in the first 256 bytes, one anywhere */
        size_t n = size - off;
        size_t c2 = size > 1 ? (size_t)data[size - 1] << 8 | data[size - 2] : 0;
        size_t cuts[2] = {n > 1 ? (size_t)data[off] % n : 0, n > 1 ? c2 % n : 0};
        for (int i = 0; i < 2; i++) {
            struct http_request a;
            int rc1 = http_parse_request(buf + off, cuts[i], 0, &lim, &arena, &a);
            if (rc1 == -EAGAIN) {
                rc1 = http_parse_request(buf + off, n, cuts[i], &lim, &arena, &a);
            }
            if (rc1 != rc) {
                abort();
            }
        }
        if (rc <= 0) {
            break;
        }
        if ((size_t)rc > size - off || r.head_len != (uint32_t)rc) {
            abort();
        }
        const char *b = buf + off;
        n = (size_t)rc;
        check_slice(r.request_line, b, n);
        check_slice(r.target, b, n);
        check_slice(r.host, b, n);
        for (uint32_t i = 0; i < r.headers.count; i++) {
            check_slice(r.headers.entries[i].name, b, n);
            check_slice(r.headers.entries[i].value, b, n);
            if (hdr_get(&r.headers, r.headers.entries[i].name) == NULL) {
                abort(); /* every field is found by its own name */
            }
        }
        off += n;
        arena_release(&arena);
    }
    arena_release(&arena);
    return 0;
}
