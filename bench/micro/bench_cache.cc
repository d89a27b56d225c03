// bench_cache - open-file cache: a hit (the common case) and a revalidation.
#include "c_api.h"

#include <benchmark/benchmark.h>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace
{

struct Tree {
    char dir[64] = "/tmp/spate-bench-XXXXXX";
    fs_root root;

    Tree()
    {
        hash_init();
        if (!mkdtemp(dir)) {
            std::abort();
        }
        for (int i = 0; i < 64; i++) {
            std::string p = std::string(dir) + "/f" + std::to_string(i) + ".html";
            FILE *f = std::fopen(p.c_str(), "w");
            std::fputs("<p>benchmark file</p>\n", f);
            std::fclose(f);
        }
        if (fs_root_open(&root, dir) != 0) {
            std::abort();
        }
    }

    ~Tree()
    {
        fs_root_close(&root);
        std::string cmd = std::string("rm -rf ") + dir;
        if (std::system(cmd.c_str()) != 0) {
            std::perror("rm");
        }
    }
};

void BM_cache_hit(benchmark::State &state)
{
    Tree t;
    fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    fs_cache *c = fs_cache_new(&lim, nullptr);
    std::string paths[64];
    for (int i = 0; i < 64; i++) {
        paths[i] = "/f" + std::to_string(i) + ".html";
        fs_entry_release(fs_cache_get(c, &t.root, 0, slice_cstr(paths[i].c_str()), 0));
    }
    int i = 0;
    for (auto _ : state) {
        fs_entry *e = fs_cache_get(c, &t.root, 0, slice_cstr(paths[i++ & 63].c_str()), 1);
        benchmark::DoNotOptimize(e->body);
        fs_entry_release(e);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    fs_cache_free(c);
}

BENCHMARK(BM_cache_hit);

// A hit once the cache has filled: the admission sketch is on and every lookup counts in it.
void BM_cache_hit_full(benchmark::State &state)
{
    Tree t;
    fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.max_entries = 32; // half the tree: the cache fills, the sketch starts
    fs_cache *c = fs_cache_new(&lim, nullptr);
    std::string paths[64];
    for (int i = 0; i < 64; i++) {
        paths[i] = "/f" + std::to_string(i) + ".html";
        fs_entry_release(fs_cache_get(c, &t.root, 0, slice_cstr(paths[i].c_str()), 0));
    }
    fs_cache_stats st;
    fs_cache_get_stats(c, &st);
    uint64_t hits = st.hits;
    int i = 0;
    for (auto _ : state) {
        fs_entry *e = fs_cache_get(c, &t.root, 0, slice_cstr(paths[i++ & 31].c_str()), 1);
        benchmark::DoNotOptimize(e->body);
        fs_entry_release(e);
    }
    fs_cache_get_stats(c, &st);
    if (st.hits - hits != uint64_t(state.iterations())) {
        state.SkipWithError("not all hits: the benchmark measures something else");
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    fs_cache_free(c);
}

BENCHMARK(BM_cache_hit_full);

void BM_cache_revalidate(benchmark::State &state)
{
    Tree t;
    fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.valid_ms = 0; // every lookup re-checks the file (openat2 O_PATH + fstat)
    fs_cache *c = fs_cache_new(&lim, nullptr);
    uint64_t now = 0;
    for (auto _ : state) {
        fs_entry *e = fs_cache_get(c, &t.root, 0, slice_cstr("/f1.html"), now++);
        benchmark::DoNotOptimize(e->body);
        fs_entry_release(e);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    fs_cache_free(c);
}

BENCHMARK(BM_cache_revalidate);

// A hit seen through a configured typing (a location with its own types, charset or etag
// settings) and through a precompressed variant's view: the key mixes the typing id and the
// coding in, which must cost no more than the default view's (BM_cache_hit).
void BM_cache_hit_view(benchmark::State &state)
{
    Tree t;
    fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    fs_cache *c = fs_cache_new(&lim, nullptr);
    fs_typing ty = fs_typing_default;
    ty.charset = "utf-8";
    fs_typing_seal(&ty);
    fs_view v = {0, uint8_t(state.range(0)), &ty};
    std::string paths[64];
    for (int i = 0; i < 64; i++) {
        paths[i] = "/f" + std::to_string(i) + ".html";
        fs_entry_release(fs_cache_get_view(c, &t.root, &v, slice_cstr(paths[i].c_str()), 0));
    }
    int i = 0;
    for (auto _ : state) {
        fs_entry *e = fs_cache_get_view(c, &t.root, &v, slice_cstr(paths[i++ & 63].c_str()), 1);
        benchmark::DoNotOptimize(e->body);
        fs_entry_release(e);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    fs_cache_free(c);
}

BENCHMARK(BM_cache_hit_view)->Arg(FS_ENC_NONE)->Arg(FS_ENC_BR);

void BM_cache_off(benchmark::State &state)
{
    Tree t;
    fs_cache_limits lim = FS_CACHE_LIMITS_DEFAULT;
    lim.enabled = false; // open + fstat + read + close per lookup
    fs_cache *c = fs_cache_new(&lim, nullptr);
    for (auto _ : state) {
        fs_entry *e = fs_cache_get(c, &t.root, 0, slice_cstr("/f1.html"), 0);
        benchmark::DoNotOptimize(e->body);
        fs_entry_release(e);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    fs_cache_free(c);
}

BENCHMARK(BM_cache_off);

} // namespace
