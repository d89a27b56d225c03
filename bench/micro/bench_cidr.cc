// bench_cidr - allow/deny address lookups (core/base/cidr.h) with 10, 1,000 and 10,000 rules,
// against the linear first-match scan nginx does, for IPv4 clients that match no rule (the
// costly case: every rule is looked at by the scan) and for IPv6 ones. The client addresses
// rotate over 4,096 values so the branch predictor cannot learn one path.
extern "C" {
#include "core/base/cidr.h"
}

#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <array>
#include <cstring>
#include <vector>

namespace
{

struct rule4 {
    uint32_t net, mask;
};

uint64_t rng = 0x2545f4914f6cdd1dull;
uint32_t rnd()
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return uint32_t(rng >> 16);
}

// n deny rules in 10.0.0.0/8, /16 to /32, none covering 192.168.0.0/16 where the clients are
std::vector<rule4> make_rules(unsigned n)
{
    std::vector<rule4> v;
    for (unsigned i = 0; i < n; i++) {
        unsigned bits = 16 + rnd() % 17;
        uint32_t mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
        v.push_back({(0x0a000000u | (rnd() & 0x00ffffffu)) & mask, mask});
    }
    return v;
}

cidr_table *make_table(const std::vector<rule4> &v)
{
    cidr_table *t = cidr_table_new();
    for (size_t i = v.size(); i-- > 0;) {
        cidr_prefix p{};
        p.family = CIDR_V4;
        p.bits = uint8_t(__builtin_popcount(v[i].mask));
        uint32_t be = htonl(v[i].net);
        memcpy(p.addr, &be, 4);
        if (cidr_table_add(t, &p, uint32_t(i + 1)) < 0) {
            abort();
        }
    }
    return t;
}

std::vector<uint32_t> clients()
{
    std::vector<uint32_t> c;
    for (unsigned i = 0; i < 4096; i++) {
        c.push_back(htonl(0xc0a80000u | (rnd() & 0xffffu)));
    }
    return c;
}

void BM_trie_v4(benchmark::State &state)
{
    auto rules = make_rules(unsigned(state.range(0)));
    cidr_table *t = make_table(rules);
    auto c = clients();
    size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(cidr_lookup_raw(t, (const uint8_t *)&c[i++ & 4095], false));
    }
    state.counters["nodes"] = double(cidr_table_nodes(t));
    cidr_table_free(t);
}

BENCHMARK(BM_trie_v4)->Arg(10)->Arg(1000)->Arg(10000);

// clients inside 10.0.0.0/8, among the rules: the walks go deep (8 levels at most)
void BM_trie_v4_inside(benchmark::State &state)
{
    auto rules = make_rules(unsigned(state.range(0)));
    cidr_table *t = make_table(rules);
    std::vector<uint32_t> c;
    for (unsigned k = 0; k < 4096; k++) {
        // half on a rule's network, half anywhere in 10/8
        uint32_t a = k & 1 ? rules[rnd() % rules.size()].net | (rnd() & 0xff)
                           : 0x0a000000u | (rnd() & 0xffffffu);
        c.push_back(htonl(a));
    }
    size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(cidr_lookup_raw(t, (const uint8_t *)&c[i++ & 4095], false));
    }
    cidr_table_free(t);
}

BENCHMARK(BM_trie_v4_inside)->Arg(10)->Arg(1000)->Arg(10000);

// nginx's way: every rule in order until one matches
void BM_linear_v4(benchmark::State &state)
{
    auto rules = make_rules(unsigned(state.range(0)));
    auto c = clients();
    size_t i = 0;
    for (auto _ : state) {
        uint32_t a = ntohl(c[i++ & 4095]);
        unsigned hit = 0;
        for (size_t k = 0; k < rules.size(); k++) {
            if ((a & rules[k].mask) == rules[k].net) {
                hit = unsigned(k + 1);
                break;
            }
        }
        benchmark::DoNotOptimize(hit);
    }
}

BENCHMARK(BM_linear_v4)->Arg(10)->Arg(1000)->Arg(10000);

// IPv6 clients against 10,000 IPv6 /48../64 rules: the deepest walk (32 levels at most)
void BM_trie_v6(benchmark::State &state)
{
    cidr_table *t = cidr_table_new();
    for (unsigned k = unsigned(state.range(0)); k > 0; k--) {
        cidr_prefix p{};
        p.family = CIDR_V6;
        p.bits = uint8_t(48 + rnd() % 17);
        p.addr[0] = 0x20;
        p.addr[1] = 0x01;
        for (unsigned b = 2; b < p.bits / 8u; b++) {
            p.addr[b] = uint8_t(rnd());
        }
        if (cidr_table_add(t, &p, k) < 0) {
            abort();
        }
    }
    std::vector<std::array<uint8_t, 16>> c(4096);
    for (auto &a : c) {
        for (auto &b : a) {
            b = uint8_t(rnd());
        }
        a[0] = 0x20;
        a[1] = 0x01;
    }
    size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(cidr_lookup_raw(t, c[i++ & 4095].data(), true));
    }
    cidr_table_free(t);
}

BENCHMARK(BM_trie_v6)->Arg(10)->Arg(10000);

} // namespace
