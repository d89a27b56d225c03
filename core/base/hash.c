/* hash.c - see hash.h. xxHash is included only here. */
#include "core/base/hash.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static uint64_t g_seed = 0x9e3779b97f4a7c15ull;

int hash_init(void)
{
    uint64_t s;
    ssize_t r = getrandom(&s, sizeof(s), GRND_NONBLOCK);
    if (r != (ssize_t)sizeof(s)) {
        /* no entropy yet (early boot): mix time and pid, still unpredictable enough */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid();
        s = XXH3_64bits(&s, sizeof(s));
    }
    g_seed = s;
    return 0;
}

void hash_set_seed(uint64_t seed)
{
    g_seed = seed;
}

uint64_t hash_seed(void)
{
    return g_seed;
}

uint64_t hash_bytes(const void *p, size_t n)
{
    return XXH3_64bits_withSeed(p, n, g_seed);
}

uint64_t hash_bytes_lower(const void *p, size_t n)
{
    const unsigned char *s = p;
    char buf[128];
    if (n <= sizeof(buf)) {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = s[i];
            buf[i] = (char)((c >= 'A' && c <= 'Z') ? (c | 0x20) : c);
        }
        return XXH3_64bits_withSeed(buf, n, g_seed);
    }
    /* long names: stream in pieces */
    XXH3_state_t st;
    memset(&st, 0, sizeof(st));
    XXH3_64bits_reset_withSeed(&st, g_seed);
    while (n) {
        size_t k = n < sizeof(buf) ? n : sizeof(buf);
        for (size_t i = 0; i < k; i++) {
            unsigned char c = s[i];
            buf[i] = (char)((c >= 'A' && c <= 'Z') ? (c | 0x20) : c);
        }
        XXH3_64bits_update(&st, buf, k);
        s += k;
        n -= k;
    }
    return XXH3_64bits_digest(&st);
}

uint64_t hash_mix(uint64_t h, uint64_t v)
{
    uint64_t in[2] = {h, v};
    return XXH3_64bits_withSeed(in, sizeof(in), g_seed);
}
