#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, separate build dir) and runs each one
# briefly on the seed corpus in tests/fuzz/corpus. Exits non-zero if a build fails or a
# target finds a crash, leak, timeout or property violation (the input is kept in
# $OUT/<target>/ and printed).
# Usage: tests/fuzz/smoke.sh [seconds per target, default 10]
# Env:   MEDPERF_FUZZ_BUILD_DIR (default build/fuzz), MEDPERF_FUZZ_OUT (default: a temp dir)
# Installs clang and libclang-rt-14-dev with apt-get when they are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-10}
build=${MEDPERF_FUZZ_BUILD_DIR:-$here/build/fuzz}
targets="container_config daemon_config entities demo_paths archive yaml_json"

# libFuzzer's runtime ships in libclang-rt-14-dev, not in the clang package itself.
need_pkgs=""
command -v clang++ >/dev/null 2>&1 || need_pkgs="clang"
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 \
  && ! ls /usr/lib/llvm-*/lib/clang/*/lib/*/libclang_rt.fuzzer*.a >/dev/null 2>&1; then
  need_pkgs="$need_pkgs libclang-rt-14-dev"
fi
if [ -n "$need_pkgs" ]; then
  echo "fuzz smoke: installing$need_pkgs" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq $need_pkgs >/dev/null
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMEDPERF_FUZZ=ON -DMEDPERF_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j"${MEDPERF_FUZZ_JOBS:-2}" --target medperf_fuzzers

out=${MEDPERF_FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/medperf-fuzz-smoke-XXXXXX")}
mkdir -p "$out"
failed=""
for t in $targets; do
  mkdir -p "$out/$t/corpus"
  # New inputs go to the temp corpus (first dir); the repo's seeds are only read.
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$out/$t/")
  [ "$t" = archive ] && args+=(-max_len=16384)
  echo "== fuzz_$t for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$build/tests/fuzz/fuzz_$t" "${args[@]}" "$out/$t/corpus" "$here/tests/fuzz/corpus/$t" \
       > "$out/$t/log.txt" 2>&1; then
    failed="$failed $t"
    echo "FAILED: fuzz_$t (log: $out/$t/log.txt)" >&2
    grep -E "ERROR|PROPERTY|SUMMARY|Test unit written|#[0-9]+ 0x" "$out/$t/log.txt" | head -40 >&2
  else
    grep -E "^stat::number_of_executed_units|^Done" "$out/$t/log.txt" | tr '\n' ' '
    echo
  fi
done
if [ -n "$failed" ]; then
  echo "fuzz smoke: crashes in:$failed (artifacts in $out)" >&2
  exit 1
fi
[ -z "${MEDPERF_FUZZ_OUT:-}" ] && rm -rf "$out"
echo "fuzz smoke: all targets ran ${seconds}s without findings"
