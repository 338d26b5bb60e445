#!/usr/bin/env bash
# Compares the runners layer with the standard tools on this machine:
#   Sha256File vs sha256sum on a 1 GiB file,
#   ExtractArchive vs tar -xzf on a ~500 MiB tar.gz,
#   a no-op task's start-to-exit: run directly, in the hardened bubblewrap sandbox
#   (SandboxRunner with the daemon's default infer limits, one input and one output),
#   in a plain pre-hardening bwrap command line, and with `docker run --network none`
#   when a docker engine answers and a small image (busybox, alpine, ...) is loaded.
# Usage: bench/runners_bench.sh [build dir]   (needs the runners_bench target built)
# Environment: MEDPERF_BENCH_DOCKER_IMAGE=<local image> picks the docker image (never
# pulled); SANDBOX_RUNS (default 30); SANDBOX_BREAKDOWN=1 also times the parts of the
# hardened start (runners_bench sandbox --breakdown).
set -euo pipefail
BUILD=${1:-${MEDPERF_BUILD_DIR:-build/run}}
BIN="$BUILD/bench/runners_bench"
[ -x "$BIN" ] || { echo "build it first: cmake --build $BUILD --target runners_bench" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/medperf-bench-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "== SHA-256 of a 1 GiB file"
head -c $((1 << 30)) /dev/urandom > "$WORK/big.bin"
cat "$WORK/big.bin" > /dev/null  # warm the page cache for both
t0=$(now); sha256sum "$WORK/big.bin" > "$WORK/sum.txt"; t1=$(now)
ref=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
ours=$("$BIN" hash "$WORK/big.bin")
echo "sha256sum:  ${ref} s"
echo "Sha256File: ${ours#* }"
[ "${ours%% *}" = "$(cut -d' ' -f1 "$WORK/sum.txt")" ] || { echo "HASH MISMATCH" >&2; exit 1; }
ours_s=$(echo "$ours" | awk '{ print $2 }')
echo "ratio ours/sha256sum: $(ratio "$ours_s" "$ref")"
rm -f "$WORK/big.bin"

echo "== Extracting a ~500 MiB tar.gz"
mkdir -p "$WORK/src"
# Half incompressible, half text-like data, in 250 files of 2 MiB.
for i in $(seq 1 125); do head -c $((2 << 20)) /dev/urandom > "$WORK/src/r$i.bin"; done
for i in $(seq 1 125); do (yes "medperf benchmark line $i" || true) | head -c $((2 << 20)) > "$WORK/src/t$i.txt"; done
tar -czf "$WORK/data.tar.gz" -C "$WORK/src" .
rm -rf "$WORK/src"
echo "archive: $(du -h "$WORK/data.tar.gz" | cut -f1) compressed"
mkdir -p "$WORK/tar_out"
t0=$(now); tar -xzf "$WORK/data.tar.gz" -C "$WORK/tar_out"; t1=$(now)
ref=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
ours=$("$BIN" extract "$WORK/data.tar.gz" "$WORK/our_out")
ours_s=$(echo "$ours" | awk '{ print $5 }')
echo "tar -xzf:       ${ref} s"
echo "ExtractArchive: $ours"
echo "ratio ours/tar: $(ratio "$ours_s" "$ref")"
diff -r "$WORK/tar_out" "$WORK/our_out" > /dev/null && echo "outputs identical"
rm -rf "$WORK/tar_out" "$WORK/our_out" "$WORK/data.tar.gz"

echo "== Sandbox image store: three image tarballs sharing a ${IMAGE_BASE_MIB:-256} MiB base layer"
"$BIN" images "$WORK/images" "${IMAGE_BASE_MIB:-256}"

echo "== Sandbox start-to-exit for a no-op task (direct, hardened, unhardened, docker)"
sandbox_args=("${SANDBOX_RUNS:-30}")
[ -n "${MEDPERF_BENCH_DOCKER_IMAGE:-}" ] && sandbox_args+=(--docker-image "$MEDPERF_BENCH_DOCKER_IMAGE")
[ "${SANDBOX_BREAKDOWN:-0}" = 1 ] && sandbox_args+=(--breakdown)
"$BIN" sandbox "${sandbox_args[@]}"
