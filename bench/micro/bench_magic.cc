// bench_magic - what mime_magic adds to a cache fill: one fs_magic_type over a 4 KiB peek
// (a PNG, an HTML page, plain text, random bytes), and the per-thread database load that
// a worker's first sniff (or fs_magic_warm) pays.
extern "C" {
#include "fs/magic.h"
}

#include <benchmark/benchmark.h>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace
{

std::vector<unsigned char> random_bytes(size_t n)
{
    std::vector<unsigned char> v(n);
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (auto &c : v) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        c = static_cast<unsigned char>(s >> 32);
    }
    return v;
}

std::vector<unsigned char> png_peek()
{
    static const unsigned char head[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,   0, 0, 13,
                                         'I',  'H', 'D', 'R', 0,    0,    1,    0,    0,   0, 1, 0,
                                         8,    6,   0,   0,   0,    0x1f, 0x15, 0xc4, 0x89};
    auto v = random_bytes(FS_MAGIC_PEEK);
    std::memcpy(v.data(), head, sizeof(head));
    return v;
}

std::vector<unsigned char> text_peek(const std::string &head, const std::string &line)
{
    std::string s = head;
    while (s.size() + line.size() <= FS_MAGIC_PEEK) {
        s += line;
    }
    return std::vector<unsigned char>(s.begin(), s.end());
}

void run(benchmark::State &state, const std::vector<unsigned char> &buf, const char *want)
{
    const char *t = fs_magic_type(buf.data(), buf.size()); // loads the database, untimed
    if ((want == nullptr) != (t == nullptr) || (want && std::strcmp(t, want) != 0)) {
        state.SkipWithError(("unexpected type " + std::string(t ? t : "NULL")).c_str());
        return;
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(fs_magic_type(buf.data(), buf.size()));
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(buf.size()));
}

void BM_magic_png(benchmark::State &state)
{
    run(state, png_peek(), "image/png");
}

BENCHMARK(BM_magic_png);

void BM_magic_html(benchmark::State &state)
{
    run(state,
        text_peek("<!DOCTYPE html>\n<html lang=\"en\">\n<head><title>x</title></head>\n<body>\n",
                  "<p>A paragraph of the page, long enough to fill a peek.</p>\n"),
        "text/html");
}

BENCHMARK(BM_magic_html);

void BM_magic_text(benchmark::State &state)
{
    run(state, text_peek("", "The quick brown fox jumps over the lazy dog.\n"), "text/plain");
}

BENCHMARK(BM_magic_text);

void BM_magic_random(benchmark::State &state)
{
    run(state, random_bytes(FS_MAGIC_PEEK), nullptr);
}

BENCHMARK(BM_magic_random);

// open + load (reads /usr/share/misc/magic.mgc) + close: a thread's first sniff
void BM_magic_load(benchmark::State &state)
{
    for (auto _ : state) {
        fs_magic_thread_end();
        if (fs_magic_warm() != 0) {
            state.SkipWithError(fs_magic_error());
            return;
        }
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_magic_load)->Unit(benchmark::kMillisecond);

} // namespace
