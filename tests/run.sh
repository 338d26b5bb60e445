#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the whole test suite: the release
# build's tests, a short fuzzing smoke run of every parser, and the whole suite again
# under AddressSanitizer + UndefinedBehaviorSanitizer.
#   MEDPERF_QUICK=1 bash tests/run.sh    # release tests only (for development)
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/deps.sh --tests
jobs=$(nproc)

run_preset() {
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1" -j"$jobs"
  ctest --preset "$1" -j"$jobs"
}

run_preset release
if [ "${MEDPERF_QUICK:-0}" != 1 ]; then
  bash tests/fuzz/smoke.sh
  run_preset asan
fi
