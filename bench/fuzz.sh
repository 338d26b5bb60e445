#!/usr/bin/env bash
# Runs every libFuzzer target for a fixed time (default 60 s each) and keeps what they
# find: the corpus each one grows and any crashing input stay in the output dir.
# Usage: bench/fuzz.sh [seconds per target] [output dir]
# Same build as tests/fuzz/smoke.sh (build/fuzz, clang, ASan+UBSan).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
out=${2:-$here/build/fuzz-runs/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
MEDPERF_FUZZ_OUT="$out" exec "$here/tests/fuzz/smoke.sh" "$seconds"
