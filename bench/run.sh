#!/usr/bin/env bash
# Every performance figure the project tracks, in ONE markdown table, each as a ratio to
# its reference where one exists (ratio = ours / reference; < 1 is better for times).
#   bench/run.sh [--quick] [--build DIR]
# --quick: smaller sizes and shorter runs (a minute or two instead of several).
# Sources: bench/runners_bench.sh (hashing, extraction, sandbox start: hardened vs
# unhardened bwrap, vs a direct run, vs docker run where docker works),
# bench/server_bench.sh (server throughput), bench/containers_bench.sh (a whole test run
# from image tarballs vs pre-loaded Docker images), bench/load.sh (ctl calls under load) and
# bench/daemon_bench.sh (idle footprint, approval-to-start, status latency) when it
# exists (its human-readable lines are parsed; lines "ROW|<figure>|<ours>|<reference>|
# <ratio>" would replace them). Figures that could not be measured say so in the table.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
quick=0
build=${MEDPERF_BUILD_DIR:-$here/build/release}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: $0 [--quick] [--build DIR]" >&2; exit 2 ;;
  esac
done
export MEDPERF_BUILD_DIR=$build
[ -f "$build/CMakeCache.txt" ] || cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
echo "building bench targets in $build ..." >&2
cmake --build "$build" -j2 --target runners_bench server_bench load_driver medperf-server \
  medperfd medperfctl chestxray_example >/dev/null

work=$(mktemp -d "${TMPDIR:-/var/tmp}/medperf-run-XXXXXX")
trap 'rm -rf "$work"' EXIT
rows=()
row() { rows+=("| $1 | $2 | ${3:-—} | ${4:-—} |"); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "—" }'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
log() { echo "== $*" >&2; }

# --- hashing, extraction, sandbox ------------------------------------------------------
if [ "$quick" = 0 ]; then
  log "bench/runners_bench.sh (1 GiB hash, ~500 MiB tar.gz, 30 sandbox runs)"
  "$here/bench/runners_bench.sh" "$build" | tee "$work/runners.txt" >&2
  hash_mib=1024 extract_desc="~500 MiB tar.gz"
else
  # The same measurements as runners_bench.sh, on smaller inputs.
  log "runners (quick: 128 MiB hash, ~64 MiB tar.gz, 10 sandbox runs)"
  bin="$build/bench/runners_bench"
  {
    head -c $((128 << 20)) /dev/urandom >"$work/big.bin"
    cat "$work/big.bin" >/dev/null
    t0=$(now); sha256sum "$work/big.bin" >/dev/null; echo "sha256sum:  $(since "$t0") s"
    echo "Sha256File: $("$bin" hash "$work/big.bin" | cut -d' ' -f2-)"
    rm -f "$work/big.bin"
    mkdir -p "$work/src"
    for i in $(seq 1 16); do head -c $((2 << 20)) /dev/urandom >"$work/src/r$i.bin"; done
    for i in $(seq 1 16); do (yes "medperf benchmark line $i" || true) | head -c $((2 << 20)) >"$work/src/t$i.txt"; done
    tar -czf "$work/data.tar.gz" -C "$work/src" . && rm -rf "$work/src"
    mkdir -p "$work/tar_out"
    t0=$(now); tar -xzf "$work/data.tar.gz" -C "$work/tar_out"; echo "tar -xzf:       $(since "$t0") s"
    echo "ExtractArchive: $("$bin" extract "$work/data.tar.gz" "$work/our_out")"
    rm -rf "$work/tar_out" "$work/our_out" "$work/data.tar.gz"
    "$bin" sandbox 10 ${MEDPERF_BENCH_DOCKER_IMAGE:+--docker-image "$MEDPERF_BENCH_DOCKER_IMAGE"}
  } | tee "$work/runners.txt" >&2
  hash_mib=128 extract_desc="~64 MiB tar.gz"
fi
ref=$(awk '/^sha256sum:/ { print $2 }' "$work/runners.txt")
ours=$(awk '/^Sha256File:/ { print $2 }' "$work/runners.txt")
row "SHA-256 of ${hash_mib} MiB (Sha256File vs sha256sum)" "$ours s" "$ref s" "$(ratio "$ours" "$ref")"
ref=$(awk '/^tar -xzf:/ { print $3 }' "$work/runners.txt")
ours=$(awk '/^ExtractArchive:/ { print $6 }' "$work/runners.txt")
row "Extract $extract_desc (ExtractArchive vs tar -xzf)" "$ours s" "$ref s" "$(ratio "$ours" "$ref")"
# Sandbox: "sandbox <variant> median M ms  p90 P ms ..." lines (runners_bench sandbox).
sbv() {  # $1 = variant name prefix, $2 = median | p90
  awk -v v="sandbox $1" -v f="$2" 'index($0, v) == 1 {
    for (i = 1; i < NF; i++) if ($i == f) { print $(i + 1); exit } }' "$work/runners.txt"
}
sh=$(sbv hardened median) shp=$(sbv hardened p90)
su=$(sbv unhardened median) sup=$(sbv unhardened p90) sd=$(sbv direct median)
if [ -n "$sh" ] && [ -n "$su" ] && [ -n "$sd" ]; then
  over=$(awk -v a="$sh" -v b="$sd" 'BEGIN { printf "%.1f", a - b }')
  uover=$(awk -v a="$su" -v b="$sd" 'BEGIN { printf "%.1f", a - b }')
  row "No-op task start: hardened sandbox vs unhardened bwrap (median / p90)" \
    "$sh / $shp ms" "$su / $sup ms" "$(ratio "$sh" "$su")"
  row "No-op task start: hardened sandbox vs run directly (overhead $over ms, target < 25 ms; unhardened $uover ms)" \
    "$sh ms" "$sd ms" "$(ratio "$sh" "$sd")"
  sk=$(sbv "docker run" median)
  if [ -n "$sk" ]; then
    img=$(sed -n 's/^sandbox docker run (\([^)]*\)).*/\1/p' "$work/runners.txt" | head -1)
    row "No-op task start: hardened sandbox vs docker run --network none ($img)" \
      "$sh ms" "$sk ms" "$(ratio "$sh" "$sk")"
  else
    why=$(sed -n 's/^sandbox docker not available: //p' "$work/runners.txt" | head -1)
    row "No-op task start: hardened sandbox vs docker run" "$sh ms" \
      "not measured (docker not available${why:+: $(echo "$why" | tr '|' '/' | cut -c1-80)})"
  fi
else
  row "Sandbox start overhead per task" "not measured (sandbox bench failed, see log)"
fi

# --- server throughput -----------------------------------------------------------------
if [ "$quick" = 0 ]; then sargs=(); else sargs=(--benchmarks 200 --gets-per-client 50); fi
log "bench/server_bench.sh ${sargs[*]:-}"
"$here/bench/server_bench.sh" "${sargs[@]}" | tee "$work/server.txt" >&2
while IFS= read -r line; do
  name=$(echo "${line:0:48}" | sed 's/ *$//')
  rps=$(echo "$line" | grep -o '[0-9.]* req/s' | awk '{ print $1 }')
  p99=$(echo "$line" | grep -o 'p99 *[0-9.]* ms' | awk '{ print $2 }')
  errs=$(echo "$line" | grep -o 'errors [0-9]*' | awk '{ print $2 }')
  row "medperf-server $name" "$rps req/s, p99 $p99 ms, $errs errors"
done < <(grep 'req/s' "$work/server.txt" | grep -v filling)

# --- daemon: idle footprint, approval-to-start, status latency -------------------------
not_measured() {
  for f in "medperfctl status latency" "medperfd idle footprint (RSS, CPU)" \
           "Approval-to-start latency"; do
    row "$f" "not measured ($1)"
  done
}
if [ -x "$here/bench/daemon_bench.sh" ]; then
  denv=(); [ "$quick" = 1 ] && denv=(IDLE_SECONDS=10 SAMPLES=1)
  log "bench/daemon_bench.sh ${denv[*]:-}"
  env "${denv[@]}" "$here/bench/daemon_bench.sh" >"$work/daemon.txt" 2>&1 || true
  cat "$work/daemon.txt" >&2
  d="$work/daemon.txt"
  if grep -q '^ROW|' "$d"; then
    while IFS='|' read -r _ f o r q; do row "$f" "$o" "$r" "$q"; done < <(grep '^ROW|' "$d")
  elif grep -q '^medperfctl status: median' "$d"; then
    # Its own lines: "medperfctl status: median X ms, p90 Y ms ...", "idle (...): CPU ...
    # = P% of one core; RSS R MiB ...", "approval -> job start (model M): T ms (poll
    # interval I s)".
    med=$(sed -n 's/^medperfctl status: median \([0-9.]*\) ms, p90 \([0-9.]*\) ms.*/\1/p' "$d")
    p90=$(sed -n 's/^medperfctl status: median \([0-9.]*\) ms, p90 \([0-9.]*\) ms.*/\2/p' "$d")
    # Reference: a trivial gRPC client process start-to-exit (build-notes.md), ~30 ms.
    row "medperfctl status, process start to exit (median / p90)" "$med / $p90 ms" \
      "30 ms (trivial gRPC client process)" "$(ratio "$med" 30)"
    idle=$(grep '^idle (' "$d" | head -1)
    if [ -n "$idle" ]; then
      what=$(echo "$idle" | sed -n 's/^idle (\(.*\)): CPU.*/\1/p')
      cpu=$(echo "$idle" | grep -o '[0-9.]*% of one core')
      rss=$(echo "$idle" | grep -o 'RSS [0-9.]* MiB' | head -1)
      row "medperfd idle footprint ($what)" "$rss, CPU $cpu"
    else
      row "medperfd idle footprint (RSS, CPU)" "not measured (see daemon_bench.sh output)"
    fi
    lat=$(sed -n 's/^approval -> job start (model [0-9]*): \([0-9]*\) ms (poll interval \([0-9]*\) s).*/\1 \2/p' "$d")
    if [ -n "$lat" ]; then
      max=$(echo "$lat" | awk 'BEGIN { m = 0 } { if ($1 > m) m = $1 } END { print m }')
      avg=$(echo "$lat" | awk '{ s += $1; n++ } END { printf "%.0f", s / n }')
      poll=$(echo "$lat" | awk 'NR == 1 { print $2 * 1000 }')
      row "Approval-to-start latency ($(echo "$lat" | wc -l) samples; mean / max)" \
        "$avg / $max ms" "$poll ms (one poll interval)" "$(ratio "$max" "$poll")"
    else
      row "Approval-to-start latency" "not measured (see daemon_bench.sh output)"
    fi
  else
    not_measured "daemon_bench.sh printed none of its figures; see its output"
  fi
else
  not_measured "bench/daemon_bench.sh not present"
fi

# --- whole test run: pre-loaded Docker images vs image tarballs (Docker, sandbox) --------
cenv=(); [ "$quick" = 1 ] && cenv=(BASE_MIB=64 RUNS=2)
log "bench/containers_bench.sh ${cenv[*]:-}"
env "${cenv[@]}" "$here/bench/containers_bench.sh" "$build" >"$work/containers.txt" 2>&1 || true
cat "$work/containers.txt" >&2
if grep -q '^ROW|' "$work/containers.txt"; then
  while IFS='|' read -r _ f o r q; do row "$f" "$o" "$r" "$q"; done < <(grep '^ROW|' "$work/containers.txt")
else
  row "Whole test run from image tarballs" "not measured (bench/containers_bench.sh failed, see log)"
fi

# --- ctl calls under load ----------------------------------------------------------------
secs=60; [ "$quick" = 1 ] && secs=10
log "bench/load.sh --clients 32 --seconds $secs"
"$here/bench/load.sh" --clients 32 --seconds "$secs" | tee "$work/load.txt" >&2 || true
l=$(grep '^LOAD ' "$work/load.txt" || true)
if [ -n "$l" ]; then
  get() { echo "$l" | grep -o "$1=[0-9.]*" | cut -d= -f2; }
  row "Control calls, 32 clients for ${secs} s, daemon running jobs (p50 / p99)" \
    "$(get p50_ms) / $(get p99_ms) ms, $(get rps) calls/s, $(get errors) errors"
else
  row "Control calls under load" "not measured (bench/load.sh failed, see log)"
fi

# --- the table ---------------------------------------------------------------------------
echo
echo "| Figure | Ours | Reference | Ratio |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1); $(date -u +%Y-%m-%dT%H:%MZ)$([ "$quick" = 1 ] && echo ' (--quick)')"
