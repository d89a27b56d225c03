// bench_h2 - one request through the whole HTTP/2 path without a socket: a HEADERS frame in
// (nghttp2's parsing and HPACK), the request built, routed, the static handler (a cache hit),
// HEADERS and DATA out through nghttp2 into the output queue, the stream closed and logged.
// What the session costs per request beside bench_h1's HTTP/1; the kernel's part does not show.
#include "h2_rig.h"

#include <benchmark/benchmark.h>

namespace
{

void run(benchmark::State &state, const char *extra, unsigned per_feed)
{
    if (h2_rig_init(extra) != 0) {
        state.SkipWithError("h2_rig_init failed");
        return;
    }
    size_t out = 0;
    for (auto _ : state) {
        out += h2_rig_requests(per_feed);
    }
    h2_rig_fini();
    state.SetItemsProcessed(int64_t(state.iterations() * per_feed));
    state.SetBytesProcessed(int64_t(out));
}

void BM_h2_small_file(benchmark::State &state)
{
    run(state, "", 1);
}

void BM_h2_small_file_16_streams(benchmark::State &state)
{
    run(state, "", 16);
}

void BM_h2_small_file_location_headers(benchmark::State &state)
{
    run(state, "location / { expires 1h; add_header X-Served-By spate; }", 1);
}

} // namespace

BENCHMARK(BM_h2_small_file);
BENCHMARK(BM_h2_small_file_16_streams);
BENCHMARK(BM_h2_small_file_location_headers);
