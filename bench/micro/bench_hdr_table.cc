// bench_hdr_table - header table build and lookups (hit, miss, known name).
#include "c_api.h"

#include <benchmark/benchmark.h>
#include <cstdlib>

namespace
{

struct Table {
    arena_pool pool;
    arena a;
    http_request r;

    Table()
    {
        hash_init();
        hdr_known_init();
        arena_pool_init(&pool, 4096, 64);
        arena_init(&a, &pool, 1 << 20);
        http_limits lim = HTTP_LIMITS_DEFAULT;
        if (http_parse_request(samples::browser.data(), samples::browser.size(), 0, &lim, &a, &r) <
            0) {
            std::abort();
        }
    }

    ~Table()
    {
        arena_release(&a);
        arena_pool_destroy(&pool);
    }
};

void BM_lookup_known(benchmark::State &state)
{
    Table t;
    for (auto _ : state) {
        benchmark::DoNotOptimize(hdr_get_known(&t.r.headers, HDR_IF_NONE_MATCH));
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_lookup_known);

void BM_lookup_by_name_hit(benchmark::State &state)
{
    Table t;
    slice name = slice_cstr("sec-fetch-mode");
    for (auto _ : state) {
        benchmark::DoNotOptimize(hdr_get(&t.r.headers, name));
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_lookup_by_name_hit);

void BM_lookup_by_name_miss(benchmark::State &state)
{
    Table t;
    slice name = slice_cstr("x-not-there");
    for (auto _ : state) {
        benchmark::DoNotOptimize(hdr_get(&t.r.headers, name));
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_lookup_by_name_miss);

void BM_build_index_15(benchmark::State &state)
{
    Table t;
    for (auto _ : state) {
        hdr_table tab;
        int rc = hdr_table_init(&tab, &t.a, 16);
        for (uint32_t i = 0; i < t.r.headers.count; i++) {
            const http_header &h = t.r.headers.entries[i];
            rc |= hdr_table_add(&tab, &t.a, h.name, h.value, h.hash);
        }
        rc |= hdr_table_index(&tab, &t.a);
        benchmark::DoNotOptimize(rc);
        benchmark::DoNotOptimize(tab.slots);
        arena_reset(&t.a);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_build_index_15);

void BM_hash_name(benchmark::State &state)
{
    hash_init();
    const char name[] = "Accept-Encoding";
    for (auto _ : state) {
        benchmark::DoNotOptimize(hash_bytes_lower(name, sizeof(name) - 1));
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_hash_name);

} // namespace
