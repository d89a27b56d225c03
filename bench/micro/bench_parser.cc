// bench_parser - request-head parsing throughput (bytes/s and requests/s).
#include "c_api.h"

#ifdef HAVE_HTTP_PARSER
// ref_http_parser.cc: the reference parser lives in its own file (its enum http_method
// collides with ours)
size_t ref_http_parser_parse(const char *buf, size_t len, int *nheaders);
#endif

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

#ifdef HAVE_HTTP_PARSER
void run_reference(benchmark::State &state, const std::string &req)
{
    for (auto _ : state) {
        int nheaders = 0;
        size_t n = ref_http_parser_parse(req.data(), req.size(), &nheaders);
        benchmark::DoNotOptimize(n);
        benchmark::DoNotOptimize(nheaders);
        if (n != req.size()) {
            state.SkipWithError("http_parser did not consume the head");
        }
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(req.size()));
    state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_httpparser_minimal(benchmark::State &state)
{
    run_reference(state, samples::minimal);
}

BENCHMARK(BM_httpparser_minimal);

void BM_httpparser_browser(benchmark::State &state)
{
    run_reference(state, samples::browser);
}

BENCHMARK(BM_httpparser_browser);

void BM_httpparser_pipelined16(benchmark::State &state)
{
    std::string buf;
    for (int i = 0; i < 16; i++) {
        buf += samples::minimal;
    }
    for (auto _ : state) {
        size_t off = 0;
        while (off < buf.size()) {
            int nheaders = 0;
            size_t n = ref_http_parser_parse(buf.data() + off, buf.size() - off, &nheaders);
            if (n == 0) {
                state.SkipWithError("http_parser stopped");
                break;
            }
            off += n;
        }
        benchmark::DoNotOptimize(off);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(buf.size()));
    state.SetItemsProcessed(int64_t(state.iterations()) * 16);
}

BENCHMARK(BM_httpparser_pipelined16);
#endif

} // namespace
