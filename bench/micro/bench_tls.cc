// bench_tls - the TLS transport's encrypt-and-queue path (core/net/tls.c) on a real io_uring
// loop: a response queued as memory segments (a small one, and 1 MiB) or a file range, sealed
// into 16 KiB records in the pooled send buffer and sent; the peer drops the ciphertext
// unread, so only the server's side is measured (sealing, sends, the loop).
#include "tls_rig.h"

#include <benchmark/benchmark.h>

namespace
{

void run(benchmark::State &state, const char *cipher, size_t head, size_t body, bool file)
{
    if (tls_rig_init(cipher) != 0) {
        state.SkipWithError("tls_rig_init failed");
        return;
    }
    size_t out = 0;
    for (auto _ : state) {
        out += file ? tls_rig_file_response(head, body) : tls_rig_response(head, body);
    }
    tls_rig_fini();
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.SetBytesProcessed(int64_t(out));
}

void BM_tls_small_aes128(benchmark::State &state)
{
    run(state, "TLS_AES_128_GCM_SHA256", 250, 1024, false);
}

void BM_tls_small_chacha(benchmark::State &state)
{
    run(state, "TLS_CHACHA20_POLY1305_SHA256", 250, 1024, false);
}

void BM_tls_1m_memory_aes128(benchmark::State &state)
{
    run(state, "TLS_AES_128_GCM_SHA256", 250, 1 << 20, false);
}

void BM_tls_1m_file_aes128(benchmark::State &state)
{
    run(state, "TLS_AES_128_GCM_SHA256", 250, 1 << 20, true);
}

void BM_tls_1m_file_aes256(benchmark::State &state)
{
    run(state, "TLS_AES_256_GCM_SHA384", 250, 1 << 20, true);
}

} // namespace

BENCHMARK(BM_tls_small_aes128);
BENCHMARK(BM_tls_small_chacha);
BENCHMARK(BM_tls_1m_memory_aes128);
BENCHMARK(BM_tls_1m_file_aes128);
BENCHMARK(BM_tls_1m_file_aes256);
