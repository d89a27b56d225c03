#!/bin/sh
# scrape_cost.sh [VARIANT [SECONDS]] (bench/RESULTS.md, issue 15): what one GET /metrics costs the
# server: hist_variants.sh VARIANT (on) alone on CPU 0, wrk -c1 fetching /metrics on one
# keep-alive connection from CPU 1 for SECONDS (5), the server's CPU time (utime+stime, all its
# threads) over the scrapes answered. Run under flock /tmp/spate-bench.lock.
v=${1:-on}; secs=${2:-5}; port=18990; dir=$(mktemp -d)
head -c 1024 /dev/zero | tr '\0' x > "$dir/small.bin"
TMPDIR=$dir taskset -c 0 "$(dirname "$0")/hist_variants.sh" "$v" $port "$dir" >/dev/null 2>&1 &
pid=$!
for i in 1 2 3 4 5 6 7 8 9 10; do curl -s -o /dev/null http://127.0.0.1:$port/small.bin && break; sleep 0.2; done
curl -s http://127.0.0.1:$port/metrics > "$dir/metrics.txt"
t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
n=$(taskset -c 1 wrk -t1 -c1 -d${secs}s http://127.0.0.1:$port/metrics | awk '/requests in/ {print $1}')
t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
hz=$(getconf CLK_TCK)
echo "$v: $n scrapes of $(wc -c < "$dir/metrics.txt") bytes, $((t1 - t0)) ticks:" \
  "$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.0f us a scrape", t * 1e6 / hz / n}')"
kill $pid; wait $pid 2>/dev/null; rm -rf "$dir"
