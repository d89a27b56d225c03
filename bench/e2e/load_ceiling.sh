#!/usr/bin/env bash
# bench/e2e/load_ceiling.sh [ROUNDS] [SECONDS] - spate-load's own ceiling against wrk's, on one
# core each side: the shared harness's sol-uring (a precomputed 1 KiB answer, no parsing, no
# files) pinned to CPU 0, the client pinned to CPU 1, -c64 keep-alive and pipelined 16 deep,
# rounds interleaved (wrk, then spate-load). Prints req/s and the client's CPU us per request
# (user+sys from /usr/bin/time), so a run where the server is the limit still compares clients.
#   bench/e2e/load_ceiling.sh 3 5
# Needs wrk (tools/deps bench), ../shared/bench (HARNESS=...) and a Release build of spate-load
# in build-rel/ (made here when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3} secs=${2:-5}
HARNESS=${HARNESS:-../shared/bench}
work=$(mktemp -d /tmp/load-ceiling.XXXX)
trap 'kill "$sol" 2>/dev/null || true; rm -rf "$work"' EXIT
[ -x build-rel/tools/load/spate-load ] || {
  cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPATE_TESTS=OFF >/dev/null
  ninja -C build-rel spate-load >/dev/null; }
make -s -C "$HARNESS" BUILD="$work" "$work/sol-uring" >/dev/null
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/small.bin"
(echo "depth = 16"; cat "$HARNESS/lua/pipeline.lua") > "$work/pipe16.lua"
port=$((20000 + RANDOM % 20000))
taskset -c 0 "$work/sol-uring" "$port" "$work/small.bin" >/dev/null 2>&1 & sol=$!
sleep 0.5
url=http://127.0.0.1:$port/small.bin
L=build-rel/tools/load/spate-load
hz=$(getconf CLK_TCK)
srv_ticks() { awk '{ print $14 + $15 }' "/proc/$sol/stat"; }
# one run: prints req/s, the client's and the server's CPU us per request
one() {
  local out cpu rps s0 s1
  s0=$(srv_ticks)
  out=$( { /usr/bin/time -f "CPU %U %S" "$@"; } 2>&1 )
  s1=$(srv_ticks)
  rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<< "$out")
  cpu=$(sed -n 's/^CPU \([0-9.]*\) \([0-9.]*\)/\1 \2/p' <<< "$out")
  awk -v r="$rps" -v c="$cpu" -v s="$secs" -v t=$((s1 - s0)) -v hz="$hz" 'BEGIN { split(c, a, " ");
    printf "%10.0f req/s  client %5.2f us/req  server %5.2f us/req (busy %3.0f%%)\n", r,
           (a[1] + a[2]) * 1e6 / (r * s), t / hz * 1e6 / (r * s), t / hz / s * 100 }'
}
for r in $(seq "$rounds"); do
  echo "round $r"
  echo "  keep-alive wrk        $(one taskset -c 1 wrk -t1 -c64 -d${secs}s "$url")"
  echo "  keep-alive spate-load $(one $L -t1 -c64 -d${secs}s --cpus 1 "$url")"
  echo "  pipe16     wrk        $(one taskset -c 1 wrk -t1 -c64 -d${secs}s -s "$work/pipe16.lua" "$url")"
  echo "  pipe16     spate-load $(one $L -t1 -c64 -d${secs}s --cpus 1 --pipeline 16 "$url")"
done
