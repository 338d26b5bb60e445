#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/deps.sh
preset=${MEDPERF_PRESET:-release}
jobs=$(nproc)
cmake --preset "$preset"
cmake --build --preset "$preset" -j"$jobs"
ctest --preset "$preset" -j"$jobs"
