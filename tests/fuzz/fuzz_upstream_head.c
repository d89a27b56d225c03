/*
 * fuzz_upstream_head - libFuzzer target for the upstream response-head parser
 * (proto/upstream_head.c).
 *
 * Properties checked beyond "no crash, no sanitizer report":
 *   - a head consumes at most the input, and its slices lie inside it;
 *   - a verdict reached on a prefix is final: every longer prefix, and the whole input, gets
 *     the same error, or the same head (a response split across reads parses identically);
 *   - 1xx heads are skipped as the proxy skips them, and the final head's framing is one of
 *     the four kinds, with no body for a HEAD request.
 */
#include "core/base/arena.h"
#include "core/base/hash.h"
#include "proto/upstream_head.h"

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
    if (size < 1) {
        return 0;
    }
    bool head_req = data[0] & 1;
    const char *buf = (const char *)data + 1;
    size_t n = size - 1;
    struct upstream_head_limits lim = {1024, 32};
    size_t off = 0;
    while (off < n) {
        struct upstream_head h;
        int whole = upstream_head_parse(buf + off, n - off, &lim, head_req, &arena, &h);
        if (whole > 0) {
            if ((size_t)whole > n - off || h.status < 100 || h.status > 599 ||
                h.body > UPSTREAM_BODY_CLOSE || (head_req && h.body != UPSTREAM_BODY_NONE)) {
                abort();
            }
            check_slice(h.reason, buf + off, n - off);
            for (uint32_t i = 0; i < h.headers.count; i++) {
                check_slice(h.headers.entries[i].name, buf + off, n - off);
                check_slice(h.headers.entries[i].value, buf + off, n - off);
            }
        }
        /* every prefix: an error is final, a head is the same head */
        for (size_t cut = 0; cut < n - off; cut++) {
            struct upstream_head p;
            int rc = upstream_head_parse(buf + off, cut, &lim, head_req, &arena, &p);
            if (rc == -EAGAIN) {
                continue;
            }
            if (rc != whole || (rc > 0 && (p.status != h.status || p.body != h.body))) {
                abort();
            }
        }
        arena_reset(&arena);
        if (whole <= 0 || h.status >= 200) {
            break;
        }
        off += (size_t)whole; /* an interim response: the next head follows */
    }
    arena_reset(&arena);
    return 0;
}
