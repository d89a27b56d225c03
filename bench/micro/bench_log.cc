// bench_log - cost of one access-log line: phase 1 (request fields into the capture, when the
// response is queued), phase 2 (completion fields, into the ring), and the ring push itself.
#include <benchmark/benchmark.h>

#include <cstring>

extern "C" {
#include "log/format.h"
#include "log/ring.h"
}

namespace {

log_req_info sample()
{
    log_req_info ri;
    std::memset(&ri, 0, sizeof(ri));
    ri.request_line = slice_cstr("GET /static/app.js?v=3 HTTP/1.1");
    ri.method = slice_cstr("GET");
    ri.target = slice_cstr("/static/app.js?v=3");
    ri.path = slice_cstr("/static/app.js");
    ri.query = slice_cstr("v=3");
    ri.protocol = slice_cstr("HTTP/1.1");
    ri.host = slice_cstr("www.example.com");
    ri.referer = slice_cstr("https://www.example.com/");
    ri.user_agent =
        slice_cstr("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0");
    ri.status = 200;
    ri.client_addr = "203.0.113.77";
    ri.client_port = 51234;
    ri.worker = 1;
    ri.connection = 123456;
    ri.conn_requests = 7;
    return ri;
}

log_done_info done()
{
    log_done_info di = {1350, 1024, 87, "26/Nov/2026:01:44:04 +0000", "2026-11-26T01:44:04+00:00",
                        "2026-11-26T01:44:04.123Z", 1795658644123ull};
    return di;
}

void run(benchmark::State &state, const char *name)
{
    log_format f;
    log_escape esc;
    char err[256];
    const char *text = log_format_builtin(name, &esc);
    if (log_format_compile(&f, name, text, esc, err, sizeof(err)) != 0) {
        state.SkipWithError(err);
        return;
    }
    log_ring ring;
    if (log_ring_init(&ring, 1 << 20) != 0) {
        state.SkipWithError("ring");
        return;
    }
    log_req_info ri = sample();
    log_done_info di = done();
    static char capture[32768];
    size_t bytes = 0;
    for (auto _ : state) {
        size_t need = log_capture_bound(&f, &ri);
        size_t n = log_render_request(&f, &ri, capture, need);
        size_t max = log_done_bound(capture, n);
        char *p = log_ring_reserve(&ring, max);
        size_t m = log_render_done(capture, n, &di, p, max);
        log_ring_commit(&ring, m, LOG_REC_ACCESS, 0);
        bytes += m;
        // consumer side (normally the flusher thread): free the record again
        const log_rec *rec = log_ring_peek(&ring);
        log_ring_release_through(&ring, rec);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.SetBytesProcessed(int64_t(bytes));
    log_ring_destroy(&ring);
    log_format_free(&f);
}

void BM_log_line_common(benchmark::State &state)
{
    run(state, "common");
}
BENCHMARK(BM_log_line_common);

void BM_log_line_combined(benchmark::State &state)
{
    run(state, "combined");
}
BENCHMARK(BM_log_line_combined);

void BM_log_line_json(benchmark::State &state)
{
    run(state, "json");
}
BENCHMARK(BM_log_line_json);

} // namespace
