// bench_location - one route lookup, without a request around it: loc_find (location.h) for a
// path among 10 or 500 prefix locations, an exact one, 50 regexes where the last one matches,
// and route_server_for (route.h) among 1, 2 or 1,000 server_names on one address. The same
// path or Host every iteration, so this is the warm-cache cost; a real request adds the
// parse and the answer around it (bench/e2e/routebench.py measures that whole).
#include "bench_location_rig.h"

#include <benchmark/benchmark.h>
#include <cstring>
#include <map>
#include <string>

namespace
{

// Configurations are built once per text and kept for the whole run.
const loc_rig *rig_for(const std::string &text)
{
    static std::map<std::string, loc_rig *> made;
    auto it = made.find(text);
    if (it != made.end()) {
        return it->second;
    }
    loc_rig *r = loc_rig_new(text.c_str());
    made[text] = r;
    return r;
}

// "/p7/", or zero-padded to three digits ("/p007/") so that every prefix has one length
std::string prefix(int i, bool padded)
{
    std::string d = std::to_string(i);
    return "/p" + (padded ? std::string(3 - d.size(), '0') : std::string()) + d + "/";
}

// One server: `location / { }`, then n prefix locations /p0/ ... /p{n-1}/, nregex regex
// locations ~ ^/r0/ ... in file order, and an exact = /ping when asked.
std::string locations_conf(int n, int nregex, bool exact, bool padded = false)
{
    std::string s = "server {\n listen 127.0.0.1:0;\n root /tmp;\n location / { }\n";
    for (int i = 0; i < n; i++) {
        s += " location " + prefix(i, padded) + " { }\n";
    }
    for (int i = 0; i < nregex; i++) {
        s += " location ~ ^/r" + std::to_string(i) + "/ { }\n";
    }
    if (exact) {
        s += " location = /ping { return 200 \"ok\"; }\n";
    }
    return s + "}\n";
}

// n servers on one address, server_name h0.example.com ... h{n-1}.example.com.
std::string hosts_conf(int n)
{
    std::string s;
    for (int i = 0; i < n; i++) {
        s += "server {\n listen 127.0.0.1:0;\n server_name h" + std::to_string(i) +
             ".example.com;\n root /tmp;\n}\n";
    }
    return s;
}

void find(benchmark::State &state, const std::string &conf, const std::string &path,
          const char *want)
{
    const loc_rig *r = rig_for(conf);
    if (!r) {
        state.SkipWithError("configuration refused");
        return;
    }
    const char *text = nullptr;
    loc_rig_find(r, path.data(), path.size(), &text);
    if (std::strcmp(text, want) != 0) {
        state.SkipWithError(("chose " + std::string(text) + ", not " + want).c_str());
        return;
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(loc_rig_find(r, path.data(), path.size(), &text));
    }
}

// range(0): number of prefix locations
void BM_loc_prefix(benchmark::State &state)
{
    int n = int(state.range(0));
    find(state, locations_conf(n, 0, false), "/p7/x.bin", "/p7/");
}

// the lookup probes once per distinct prefix length (4, 5 and 6 bytes above): with every
// prefix the same length, 10 and 500 cost one probe each
void BM_loc_prefix_samelen(benchmark::State &state)
{
    int n = int(state.range(0));
    find(state, locations_conf(n, 0, false, true), "/p007/x.bin", "/p007/");
}

void BM_loc_prefix_last(benchmark::State &state)
{
    int n = int(state.range(0));
    std::string p = "/p" + std::to_string(n - 1) + "/";
    find(state, locations_conf(n, 0, false), p + "x.bin", p.c_str());
}

void BM_loc_only_root(benchmark::State &state)
{
    find(state, locations_conf(int(state.range(0)), 0, false), "/zz/x.bin", "/");
}

void BM_loc_exact(benchmark::State &state)
{
    find(state, locations_conf(int(state.range(0)), 0, true), "/ping", "/ping");
}

// range(0): number of regex locations; the path matches the last one
void BM_loc_regex_last(benchmark::State &state)
{
    int n = int(state.range(0));
    std::string re = "^/r" + std::to_string(n - 1) + "/";
    find(state, locations_conf(10, n, false), "/r" + std::to_string(n - 1) + "/x.bin", re.c_str());
}

void BM_loc_regex_first(benchmark::State &state)
{
    find(state, locations_conf(10, int(state.range(0)), false), "/r0/x.bin", "^/r0/");
}

// the same path with no regex locations at all: only the prefix lookup
void BM_loc_regex_none(benchmark::State &state)
{
    find(state, locations_conf(10, 0, false), "/r49/x.bin", "/");
}

void server_for(benchmark::State &state, int n, int which)
{
    const loc_rig *r = rig_for(hosts_conf(n));
    if (!r) {
        state.SkipWithError("configuration refused");
        return;
    }
    std::string host = "h" + std::to_string(which) + ".example.com";
    unsigned want = which < n ? unsigned(which) : 0; // an unknown name: the default (first)
    if (loc_rig_server(r, host.data(), host.size()) != want) {
        state.SkipWithError("wrong server");
        return;
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(loc_rig_server(r, host.data(), host.size()));
    }
}

// range(0): number of servers; the Host names the one in the middle, the last, or none
void BM_server_for_middle(benchmark::State &state)
{
    int n = int(state.range(0));
    server_for(state, n, n / 2);
}

void BM_server_for_last(benchmark::State &state)
{
    int n = int(state.range(0));
    server_for(state, n, n - 1);
}

void BM_server_for_unknown(benchmark::State &state)
{
    int n = int(state.range(0));
    server_for(state, n, n);
}

} // namespace

BENCHMARK(BM_loc_prefix)->Arg(10)->Arg(500);
BENCHMARK(BM_loc_prefix_samelen)->Arg(10)->Arg(500);
BENCHMARK(BM_loc_prefix_last)->Arg(10)->Arg(500);
BENCHMARK(BM_loc_only_root)->Arg(10)->Arg(500);
BENCHMARK(BM_loc_exact)->Arg(10)->Arg(500);
BENCHMARK(BM_loc_regex_last)->Arg(50);
BENCHMARK(BM_loc_regex_first)->Arg(50);
BENCHMARK(BM_loc_regex_none);
BENCHMARK(BM_server_for_middle)->Arg(1)->Arg(2)->Arg(1000);
BENCHMARK(BM_server_for_last)->Arg(2)->Arg(1000);
BENCHMARK(BM_server_for_unknown)->Arg(2)->Arg(1000);
