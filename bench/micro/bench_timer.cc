// bench_timer - cost of the per-connection timeout bookkeeping: arming (append), re-arming
// (move to the tail, what every read or write does), cancelling, and finding the next deadline.
#include <benchmark/benchmark.h>
#include <vector>

extern "C" {
#include "core/io/timer.h"
}

namespace
{

void BM_timer_rearm(benchmark::State &state)
{
    const size_t n = size_t(state.range(0));
    timer_list l;
    timer_list_init(&l, 60000, 0);
    std::vector<timer_node> nodes(n);
    for (auto &t : nodes) {
        t = timer_node{};
        timer_arm(&l, &t, 0);
    }
    uint64_t now = 0;
    size_t i = 0;
    for (auto _ : state) {
        timer_arm(&l, &nodes[i], ++now); // activity on one connection
        i = i + 1 == n ? 0 : i + 1;
        benchmark::DoNotOptimize(timer_first(&l));
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_timer_rearm)->Arg(100)->Arg(10000)->Arg(100000);

void BM_timer_arm_cancel(benchmark::State &state)
{
    timer_list l;
    timer_list_init(&l, 60000, 0);
    timer_node t{};
    for (auto _ : state) {
        timer_arm(&l, &t, 1);
        timer_cancel(&t);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_timer_arm_cancel);

} // namespace
