#!/usr/bin/env bash
# bench/e2e/compare.sh [harness options] - Spate against nginx and lighttpd through the shared
# side-by-side harness (../shared/bench, see its README): same pinning (server on CPU 0, wrk on
# CPU 1), interleaved rounds, medians and ratios.
#   bench/e2e/compare.sh --scenarios small,pipe --rounds 3
#   PEERS="nginx lighttpd h2o sol-uring" bench/e2e/compare.sh
# Builds Release first. Set HARNESS to the harness directory if it is elsewhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
HARNESS=${HARNESS:-../shared/bench}
if [ ! -x "$HARNESS/compare.sh" ]; then
  echo "compare.sh: no harness at $HARNESS (set HARNESS=...); bench/e2e/wrkbench.py runs without it" >&2
  exit 2
fi
./tools/deps bench
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null
read -r -a peers <<< "${PEERS:-nginx lighttpd}"
exec "$HARNESS/compare.sh" "${peers[@]}" \
  spate="$PWD/build/spate --root {ROOT} --listen 127.0.0.1:{PORT} --workers 1 ${SPATE_ARGS:-}" "$@"
