// bench_h1 - one request through the whole HTTP/1 path without a socket: parse, route, the
// method policy, the static handler (a cache hit), the response writer, the response record
// and its completion. What the seams cost per request shows here; the kernel's part does not.
#include "h1_rig.h"

#include <benchmark/benchmark.h>
#include <cstdlib>
#include <string>

namespace
{

void run(benchmark::State &state, const char *main, const char *extra, const std::string &req,
         size_t copies)
{
    if (h1_rig_init_main(main, extra) != 0) {
        state.SkipWithError("h1_rig_init failed");
        return;
    }
    std::string batch;
    for (size_t i = 0; i < copies; i++) {
        batch += req;
    }
    size_t out = 0;
    for (auto _ : state) {
        out += h1_rig_feed(batch.data(), batch.size());
    }
    h1_rig_fini();
    state.SetItemsProcessed(int64_t(state.iterations() * copies));
    state.SetBytesProcessed(int64_t(out));
}

void run(benchmark::State &state, const char *extra, const std::string &req, size_t copies)
{
    run(state, nullptr, extra, req, copies);
}

const std::string small = "GET /small.bin HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

void BM_h1_small_file(benchmark::State &state)
{
    run(state, "", small, 1);
}

void BM_h1_small_file_pipelined16(benchmark::State &state)
{
    run(state, "", small, 16);
}

void BM_h1_small_file_location_headers(benchmark::State &state)
{
    run(state,
        "location / { expires 1h; add_header X-Served-By spate; }\n"
        "location /other/ { }",
        small, 1);
}

/* issue 15, bench/e2e/hist_variants.sh's variants against BM_h1_small_file (off): hist, the
 * worker's histograms (service time, queueing delay) */
void BM_h1_small_file_latency(benchmark::State &state)
{
    run(state, "latency_histograms on;", "", small, 1);
}

/* reports: and the metrics and status locations (exact ones: the path is hashed whole) */
#define REPORTS "location = /metrics { metrics; } location = /status { status; }\n"

void BM_h1_small_file_reports(benchmark::State &state)
{
    run(state, "latency_histograms on;", REPORTS, small, 1);
}

/* on: and a location of its own with its histograms, which every request takes */
void BM_h1_small_file_on(benchmark::State &state)
{
    run(state, "latency_histograms on;", REPORTS "location / { location_latency on; }", small, 1);
}

/* what `on` adds besides histograms: the location match alone */
void BM_h1_small_file_location(benchmark::State &state)
{
    run(state, "", REPORTS "location / { }", small, 1);
}

void BM_h1_not_found(benchmark::State &state)
{
    run(state, "", "GET /missing HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", 1);
}

} // namespace

BENCHMARK(BM_h1_small_file);
BENCHMARK(BM_h1_small_file_pipelined16);
BENCHMARK(BM_h1_small_file_location_headers);
BENCHMARK(BM_h1_small_file_latency);
BENCHMARK(BM_h1_small_file_reports);
BENCHMARK(BM_h1_small_file_on);
BENCHMARK(BM_h1_small_file_location);
BENCHMARK(BM_h1_not_found);
