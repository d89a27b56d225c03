// bench_histogram.cc - what recording one latency costs (the per-request price of histograms).
#include "core/base/histogram.h"

#include <benchmark/benchmark.h>
#include <cstdint>
#include <cstdlib>

static void BM_hist_record(benchmark::State &state)
{
    auto *h = static_cast<struct hist *>(calloc(1, sizeof(struct hist)));
    uint64_t v = 12345, x = 88172645463325252ull;
    for (auto _ : state) {
        // a spread of values (20 us .. 1 ms), so that the bucket walk is not one cache line
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v = 20000 + (x & 0xfffff);
        hist_record(h, v);
    }
    benchmark::DoNotOptimize(h->count);
    free(h);
}

BENCHMARK(BM_hist_record);

static void BM_hist_snapshot_p99(benchmark::State &state)
{
    auto *h = static_cast<struct hist *>(calloc(1, sizeof(struct hist)));
    auto *s = static_cast<struct hist_snap *>(calloc(1, sizeof(struct hist_snap)));
    for (uint64_t i = 0; i < 100000; i++) {
        hist_record(h, 1000 + i * 37);
    }
    for (auto _ : state) {
        hist_snapshot(h, s);
        benchmark::DoNotOptimize(hist_percentile(s, 99.0));
    }
    free(s);
    free(h);
}

BENCHMARK(BM_hist_snapshot_p99);
