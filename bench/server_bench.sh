#!/bin/sh
# Requests/s and p50/p99 latency of medperf-server on loopback: GET /api/v0/benchmarks/
# with 1,000 benchmarks, and association creation, 16 concurrent clients.
# Usage: bench/server_bench.sh [--benchmarks N] [--clients N] [--seconds S]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${MEDPERF_BUILD_DIR:-$here/build/srv}
if [ ! -x "$build/bench/server_bench" ] || [ ! -x "$build/server/medperf-server" ]; then
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j2 --target server_bench medperf-server >/dev/null
fi
exec "$build/bench/server_bench" --server "$build/server/medperf-server" "$@"
