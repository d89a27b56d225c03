// bench_negotiate - content negotiation per request (proto/negotiate.h): parsing Chromium's
// Accept and choosing between text/html and application/json (what MultiViews does for a
// page with both), and parsing "Accept-Encoding: gzip, deflate, br, zstd" and choosing among
// the precompressed br, zstd, gzip and identity (what a static file with .br/.zst/.gz
// siblings costs). Items live on the stack as a handler would keep them; "ns per call" is
// the time per iteration.
extern "C" {
#include "proto/negotiate.h"
}

#include <benchmark/benchmark.h>

namespace
{

const slice chromium_accept =
    SLICE_LIT("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
              "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7");
const slice browser_encoding = SLICE_LIT("gzip, deflate, br, zstd");
const slice offered[] = {SLICE_LIT("br"), SLICE_LIT("zstd"), SLICE_LIT("gzip"),
                         SLICE_LIT("identity")};

void BM_accept_parse(benchmark::State &state)
{
    for (auto _ : state) {
        http_neg_item items[HTTP_NEG_ITEMS_MAX];
        http_neg_list l;
        http_neg_init(&l, HTTP_NEG_ACCEPT, items, HTTP_NEG_ITEMS_MAX);
        http_neg_add(&l, chromium_accept);
        benchmark::DoNotOptimize(l.count);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(chromium_accept.len));
}

BENCHMARK(BM_accept_parse);

// parse + http_neg_choose_variant over {application/json, text/html}: picks text/html
void BM_accept_choose_variant(benchmark::State &state)
{
    http_neg_variant v[2] = {};
    v[0].type = SLICE_LIT("application/json");
    v[0].qs = HTTP_NEG_Q_ONE;
    v[1].type = SLICE_LIT("text/html; charset=utf-8");
    v[1].qs = HTTP_NEG_Q_ONE;
    for (auto _ : state) {
        http_neg_item items[HTTP_NEG_ITEMS_MAX];
        http_neg_list l;
        http_neg_init(&l, HTTP_NEG_ACCEPT, items, HTTP_NEG_ITEMS_MAX);
        http_neg_add(&l, chromium_accept);
        http_neg_request req = {&l, nullptr, nullptr};
        unsigned vary;
        int pick = http_neg_choose_variant(&req, v, 2, &vary);
        if (pick != 1) {
            state.SkipWithError("chose the wrong variant");
            break;
        }
        benchmark::DoNotOptimize(pick);
    }
}

BENCHMARK(BM_accept_choose_variant);

// http_neg_type_q alone against an already parsed list: the matching cost per variant
void BM_accept_type_q(benchmark::State &state)
{
    http_neg_item items[HTTP_NEG_ITEMS_MAX];
    http_neg_list l;
    http_neg_init(&l, HTTP_NEG_ACCEPT, items, HTTP_NEG_ITEMS_MAX);
    http_neg_add(&l, chromium_accept);
    for (auto _ : state) {
        benchmark::DoNotOptimize(http_neg_type_q(&l, SLICE_LIT("application/json")));
    }
}

BENCHMARK(BM_accept_type_q);

// parse + http_neg_choose_coding with the server's order br, zstd, gzip, identity: picks br
void BM_encoding_choose(benchmark::State &state)
{
    for (auto _ : state) {
        http_neg_item items[HTTP_NEG_ITEMS_MAX];
        http_neg_list l;
        http_neg_init(&l, HTTP_NEG_ACCEPT_ENCODING, items, HTTP_NEG_ITEMS_MAX);
        http_neg_add(&l, browser_encoding);
        int pick = http_neg_choose_coding(&l, offered, 4);
        if (pick != 0) {
            state.SkipWithError("chose the wrong coding");
            break;
        }
        benchmark::DoNotOptimize(pick);
    }
}

BENCHMARK(BM_encoding_choose);

} // namespace
