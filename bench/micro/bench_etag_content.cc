// bench_etag_content - content ETags (XXH3-128): of buffers, and of a file in the page cache.
extern "C" {
#include "fs/etag_content.h"
}

#include <benchmark/benchmark.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

namespace
{

std::vector<unsigned char> bytes(size_t n)
{
    std::vector<unsigned char> v(n);
    uint64_t x = 1;
    for (auto &b : v) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        b = (unsigned char)(x >> 56);
    }
    return v;
}

// 1 KiB (a small page or script), 64 KiB, 1 MiB: the hash alone, no I/O.
void BM_etag_buffer(benchmark::State &state)
{
    auto v = bytes(size_t(state.range(0)));
    char out[FS_ETAG_CONTENT_LEN];
    for (auto _ : state) {
        fs_etag_content_of(v.data(), v.size(), out);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(v.size()));
}

BENCHMARK(BM_etag_buffer)->Arg(1 << 10)->Arg(64 << 10)->Arg(1 << 20);

// A file already in the page cache, through fs_etag_content_fd: the hash plus the copies
// out of the cache (pread; one buffer per call, at most 256 KiB): what a helper thread spends.
void BM_etag_fd_cached(benchmark::State &state)
{
    size_t n = size_t(state.range(0));
    auto v = bytes(n);
    char path[] = "/tmp/spate-bench-etag-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, v.data(), n) != ssize_t(n)) {
        state.SkipWithError("cannot write a temporary file");
        return;
    }
    unlink(path);
    char out[FS_ETAG_CONTENT_LEN];
    for (auto _ : state) {
        if (fs_etag_content_fd(fd, n, out) != 0) {
            state.SkipWithError("fs_etag_content_fd failed");
            break;
        }
        benchmark::DoNotOptimize(out);
    }
    close(fd);
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n));
}

BENCHMARK(BM_etag_fd_cached)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20);

} // namespace
