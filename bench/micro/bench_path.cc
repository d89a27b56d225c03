// bench_path - percent-decoding and normalization of request paths.
#include "c_api.h"

#include <benchmark/benchmark.h>

namespace
{

void run(benchmark::State &state, const char *p)
{
    slice in = slice_cstr(p);
    char out[512];
    for (auto _ : state) {
        benchmark::DoNotOptimize(http_path_normalize(in, out, sizeof(out), 0));
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(in.len));
}

void BM_path_plain(benchmark::State &state)
{
    run(state, "/tree/d42/e07/f003.html");
}

BENCHMARK(BM_path_plain);

void BM_path_encoded_dots(benchmark::State &state)
{
    run(state, "/a/b/%2e%2e/c/./d//e/caf%C3%A9/f%20g.html");
}

BENCHMARK(BM_path_encoded_dots);

} // namespace
