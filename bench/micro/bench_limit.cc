// bench_limit - what limit_req costs per request in its shared zone (core/base/keyslots.h with
// core/base/bucket.h): the key's XXH3, one compare-and-swap of its packed state word. One key
// (every request from one client: all threads on the same word, the contended case) and 65,536
// keys rotating through a 4 MiB zone (262,144 slots: a cache miss per request).
#include "core/base/atomic.h" // <atomic>, outside the extern "C"
extern "C" {
#include "core/base/bucket.h"
#include "core/base/hash.h"
#include "core/base/keyslots.h"
}

#include <benchmark/benchmark.h>
#include <cstring>

namespace
{

struct arg {
    const bucket_rule *b;
    uint32_t now;
};

bool step(uint64_t old, uint64_t *out, void *p)
{
    auto *a = static_cast<arg *>(p);
    bucket_state s{keyslots_value(old), keyslots_time(old)}, n;
    uint32_t w;
    if (bucket_take(a->b, s, a->now, &n, &w) == BUCKET_BUSY) {
        return false;
    }
    *out = keyslots_pack(keyslots_gen(old), n.excess, n.last);
    return true;
}

bool idle(uint64_t st, void *p)
{
    auto *a = static_cast<arg *>(p);
    bucket_state s{keyslots_value(st), keyslots_time(st)};
    return bucket_idle(a->b, s, a->now);
}

const keyslots_ops ops = {step, idle, true};
const bucket_rule huge = {1000000000u, 10000, 10000}; // 1M r/s: every request passes
keyslots zone;

void setup(const benchmark::State &)
{
    hash_set_seed(1);
    if (keyslots_init(&zone, 4 << 20) != 0) {
        abort();
    }
}

void teardown(const benchmark::State &)
{
    keyslots_fini(&zone);
}

void BM_one_key(benchmark::State &st)
{
    unsigned char addr[4] = {127, 0, 0, 1};
    arg a{&huge, 1};
    uint32_t i = 0;
    for (auto _ : st) {
        a.now = 1 + (i++ >> 16);
        uint64_t h = hash_bytes(addr, sizeof(addr));
        benchmark::DoNotOptimize(keyslots_apply(&zone, h, a.now, &ops, &a));
    }
}
BENCHMARK(BM_one_key)->Setup(setup)->Teardown(teardown)->Threads(1)->Threads(2)->UseRealTime();

void BM_many_keys(benchmark::State &st)
{
    arg a{&huge, 1};
    uint32_t i = 0;
    for (auto _ : st) {
        a.now = 1 + (i >> 16);
        uint32_t k = (i++ * 2654435761u) & 0xffff;
        unsigned char addr[4] = {10, 0, uint8_t(k >> 8), uint8_t(k)};
        uint64_t h = hash_bytes(addr, sizeof(addr));
        benchmark::DoNotOptimize(keyslots_apply(&zone, h, a.now, &ops, &a));
    }
}
BENCHMARK(BM_many_keys)->Setup(setup)->Teardown(teardown)->Threads(1)->Threads(2)->UseRealTime();

} // namespace
