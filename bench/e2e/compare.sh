#!/usr/bin/env bash
# bench/e2e/compare.sh [compare.py options] - Spate against nginx, lighttpd and h2o with the
# project's own harness (bench/e2e/compare.py: same pinning, server on CPU 0 and the client on
# CPU 1, interleaved rounds, medians and ratios to nginx). Installs the peers (tools/deps
# bench), builds Release (build-rel: spate and spate-load) and runs every benchmark under
# flock /tmp/spate-bench.lock, so two benchmarks never share the machine.
#   bench/e2e/compare.sh --scenarios small,pipe --rounds 3
#   bench/e2e/compare.sh --servers spate,nginx --client wrk --json /tmp/cmp.json
#   bench/e2e/compare.sh --server base='/tmp/old/spate --root {ROOT} --listen 127.0.0.1:{PORT} --workers 1'
set -euo pipefail
cd "$(dirname "$0")/../.."
./tools/deps bench
cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPATE_TESTS=OFF >/dev/null
cmake --build build-rel --target spate spate-load >/dev/null
exec flock /tmp/spate-bench.lock python3 bench/e2e/compare.py "$@"
