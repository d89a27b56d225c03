// bench_parser - request-head parsing throughput (bytes/s and requests/s).
#include "c_api.h"

#include <benchmark/benchmark.h>
#include <cerrno>
#include <cstring>

namespace
{

struct Env {
    arena_pool pool;
    arena a;
    http_limits lim = HTTP_LIMITS_DEFAULT;

    Env()
    {
        hash_init();
        hdr_known_init();
        arena_pool_init(&pool, 4096, 64);
        arena_init(&a, &pool, 1 << 20);
    }

    ~Env()
    {
        arena_release(&a);
        arena_pool_destroy(&pool);
    }
};

void run(benchmark::State &state, const std::string &req)
{
    Env env;
    for (auto _ : state) {
        http_request r;
        int rc = http_parse_request(req.data(), req.size(), 0, &env.lim, &env.a, &r);
        benchmark::DoNotOptimize(rc);
        benchmark::DoNotOptimize(r.headers.count);
        arena_release(&env.a);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(req.size()));
    state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_parse_minimal(benchmark::State &state)
{
    run(state, samples::minimal);
}

BENCHMARK(BM_parse_minimal);

void BM_parse_browser(benchmark::State &state)
{
    run(state, samples::browser);
}

BENCHMARK(BM_parse_browser);

// a request arriving in two pieces: incomplete call, then the resumed one
void BM_parse_browser_split(benchmark::State &state)
{
    Env env;
    const std::string &req = samples::browser;
    for (auto _ : state) {
        http_request r;
        int rc = http_parse_request(req.data(), req.size() / 2, 0, &env.lim, &env.a, &r);
        benchmark::DoNotOptimize(rc);
        rc = http_parse_request(req.data(), req.size(), req.size() / 2, &env.lim, &env.a, &r);
        benchmark::DoNotOptimize(rc);
        arena_release(&env.a);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(req.size()));
    state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_parse_browser_split);

// 16 pipelined minimal requests in one buffer (the harness's pipe scenario)
void BM_parse_pipelined16(benchmark::State &state)
{
    Env env;
    std::string buf;
    for (int i = 0; i < 16; i++) {
        buf += samples::minimal;
    }
    for (auto _ : state) {
        size_t off = 0;
        while (off < buf.size()) {
            http_request r;
            int rc =
                http_parse_request(buf.data() + off, buf.size() - off, 0, &env.lim, &env.a, &r);
            off += size_t(rc);
        }
        arena_release(&env.a);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(buf.size()));
    state.SetItemsProcessed(int64_t(state.iterations()) * 16);
}

BENCHMARK(BM_parse_pipelined16);

} // namespace
