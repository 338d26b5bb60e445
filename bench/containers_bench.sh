#!/usr/bin/env bash
# A whole `medperfctl test run` of the example benchmark (data preparator: prepare,
# sanity_check, statistics; model_linear: infer; metrics: evaluate) with its three
# containers packaged three ways, through the real medperfd:
#   docker      DockerImage, images already loaded in the engine (the reference);
#   docker-tar  DockerArchive (three `docker save` tarballs), the Docker runner;
#   sandbox-tar the same tarballs, the bubblewrap sandbox (no engine).
# The three images share one base layer (BASE_MIB MiB of incompressible bytes standing
# for a Python/torch runtime, plus the programs' libraries); each adds one small layer.
# Each variant runs once cold (fetch, hash, load or unpack) and then RUNS times warm
# (`--no-cache`, so every task really runs); printed: the cold run, the warm median,
# each task's median ("<task> finished in N ms" from the job's progress), the ratio to
# the docker reference, and the disk used by the sandbox's image store against one
# unpacked image plus the differing layers.
# Needs root and docker.io: a private dockerd is started with its own socket and data
# root (`--iptables=false --bridge=none`, as the tests do), and removed afterwards.
# Usage: bench/containers_bench.sh [build dir]   (medperfd, medperfctl, chestxray_example)
# Environment: BASE_MIB (default 256), RUNS (default 5).
# Output ends with "ROW|<figure>|<ours>|<reference>|<ratio>" lines for bench/run.sh.
set -euo pipefail
BUILD=$(cd "${1:-${MEDPERF_BUILD_DIR:-build/release}}" && pwd)
BASE_MIB=${BASE_MIB:-256}
RUNS=${RUNS:-5}
CXR="$BUILD/examples/chestxray"
for f in "$BUILD/daemon/medperfd" "$BUILD/ctl/medperfctl" "$CXR/data_preparator/container_config.yaml"; do
  [ -e "$f" ] || { echo "missing $f: cmake --build $BUILD --target medperfd medperfctl chestxray_example" >&2; exit 1; }
done
not_measured() {
  echo "containers bench not measured: $1"
  echo "ROW|Whole test run, warm: docker-tar and sandbox-tar vs pre-loaded docker images|not measured ($1)|—|—"
  exit 0
}
[ "$(id -u)" = 0 ] || not_measured "needs root to start a private dockerd"
PATH=$PATH:/usr/sbin
command -v dockerd >/dev/null && command -v docker >/dev/null || not_measured "docker.io is not installed"

WORK=$(mktemp -d /tmp/mpcb-XXXXXX)  # short: unix socket paths are limited to 107 bytes
dockerd_pid="" daemon_pid=""
stop_daemon() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""
}
cleanup() {
  stop_daemon
  if [ -n "$dockerd_pid" ]; then
    docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1 || true
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 -- "-$dockerd_pid" 2>/dev/null || true
  fi
  grep " $WORK/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "—"; else if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "—" }'; }

# --- a private engine --------------------------------------------------------------------
echo '{}' >"$WORK/daemon.json"
ns="medperf-bench-$(basename "$WORK")"
setsid dockerd --host "unix://$WORK/docker.sock" --data-root "$WORK/docker-data" \
  --exec-root "$WORK/docker-exec" --pidfile "$WORK/dockerd.pid" --config-file "$WORK/daemon.json" \
  --containerd-namespace "$ns" --containerd-plugins-namespace "$ns-plugins" \
  --iptables=false --ip-masq=false --bridge=none --userland-proxy=false >"$WORK/dockerd.log" 2>&1 &
dockerd_pid=$!
export DOCKER_HOST="unix://$WORK/docker.sock"
for _ in $(seq 300); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
docker info >/dev/null 2>&1 || not_measured "dockerd did not start: $(tail -c 300 "$WORK/dockerd.log" | tr '\n|' '  ')"
echo "engine: $(docker version --format '{{.Server.Version}}') storage driver $(docker info --format '{{.Driver}}')"

# --- three images sharing a base layer ---------------------------------------------------
declare -A EXE=([data_preparator]=chestxray_prep [model_linear]=chestxray_model_linear [metrics]=chestxray_metrics)
base="$WORK/base"
mkdir -p "$base/bin" "$base/tmp" "$base/opt/runtime"
chmod 1777 "$base/tmp"
copy_libs() {  # exe: every library ldd lists, at its host path
  ldd "$1" | grep -o '/[^ ]*' | while read -r lib; do
    mkdir -p "$base$(dirname "$lib")"
    cp -L "$lib" "$base$lib"
  done
}
cp -L /bin/dash "$base/bin/sh"
copy_libs /bin/dash
for name in "${!EXE[@]}"; do copy_libs "$CXR/../bin/${EXE[$name]}"; done
head -c $((BASE_MIB << 20)) /dev/urandom >"$base/opt/runtime/runtime.bin"
tar -C "$base" -cf - . | docker import - medperf-bench/base:1 >/dev/null
for name in "${!EXE[@]}"; do
  ctx="$WORK/ctx-$name"
  mkdir -p "$ctx"
  cp "$CXR/../bin/${EXE[$name]}" "$ctx/program"
  printf 'FROM medperf-bench/base:1\nCOPY program /opt/cxr/%s\n' "${EXE[$name]}" >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "medperf-bench/$name:1" "$ctx" >/dev/null 2>"$WORK/build-$name.log" ||
    { cat "$WORK/build-$name.log" >&2; exit 1; }
  docker save -o "$WORK/$name.tar" "medperf-bench/$name:1"
done
echo "images: base layer ${BASE_MIB} MiB; tarballs: $(du -ch "$WORK"/*.tar | tail -1 | cut -f1) in all"

# --- the container folders of each variant -----------------------------------------------
# The example's LocalProcess config with another type and image; the program becomes the
# entrypoint (it sits in /opt/cxr inside the image: not under /tmp, which every container
# gets as a tmpfs).
variant_folder() {  # variant name type image -> folder
  local dir="$WORK/$1/$2" exe=/opt/cxr/${EXE[$2]}
  mkdir -p "$dir"
  cp -r "$CXR/$2/." "$dir/"
  sed -e "s|^container_type: .*|container_type: $3|" -e "s|^image: .*|image: $4|" \
    -e "s|^    run_args:|    run_args:\n      entrypoint: $exe|" "$CXR/$2/container_config.yaml" \
    >"$dir/container_config.yaml"
}
for name in "${!EXE[@]}"; do
  variant_folder docker "$name" DockerImage "medperf-bench/$name:1"
  variant_folder docker-tar "$name" DockerArchive "$WORK/$name.tar"
  variant_folder sandbox-tar "$name" DockerArchive "$WORK/$name.tar"
done

# --- one variant: a fresh medperfd, one cold run, RUNS warm runs --------------------------
declare -A WARM COLD TASKS
TASK_NAMES="prepare sanity_check statistics infer evaluate"
run_variant() {  # variant engine
  local v=$1 state="$WORK/state-$1" sock="$WORK/d-$1.sock"
  cat >"$WORK/medperfd-$v.yaml" <<YAML
runner:
  engine: $2
  docker: {host: "$DOCKER_HOST"}
log_level: warning
server: {url: "http://127.0.0.1:9"}
poll: {interval_seconds: 86400}
YAML
  "$BUILD/daemon/medperfd" --config "$WORK/medperfd-$v.yaml" --state-dir "$state" \
    --socket "$sock" >"$WORK/medperfd-$v.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 200); do "$BUILD/ctl/medperfctl" --socket "$sock" status >/dev/null 2>&1 && break; sleep 0.05; done
  local i t0 ms out
  for i in $(seq 0 "$RUNS"); do
    t0=$(now_ms)
    if ! out=$("$BUILD/ctl/medperfctl" --socket "$sock" test run --no-cache \
      --data_preparator "$WORK/$v/data_preparator" --model "$WORK/$v/model_linear" \
      --evaluator "$WORK/$v/metrics" --data_path "$CXR/demo_data/images" \
      --labels_path "$CXR/demo_data/labels" 2>&1); then
      echo "$v: test run failed:" >&2; echo "$out" | tail -20 >&2; exit 1
    fi
    ms=$(($(now_ms) - t0))
    if [ "$i" = 0 ]; then COLD[$v]=$ms; continue; fi
    WARM[$v]+="$ms "
    for t in $TASK_NAMES; do
      TASKS[$v.$t]+="$(echo "$out" | sed -n "s/.*\b$t finished in \([0-9]*\) ms.*/\1/p" | head -1) "
    done
  done
  if [ "$v" = sandbox-tar ]; then
    local first store
    store=$(du -sb "$state/images" | cut -f1)
    first=$(find "$state/images" -maxdepth 3 -type d -name rootfs -path '*/rootfs/*' | head -1)
    local one; one=$(du -sb "$first" | cut -f1)
    local diff=0 name
    for name in model_linear metrics; do diff=$((diff + $(stat -c %s "$(readlink -f "$CXR/../bin/${EXE[$name]}")"))); done
    STORE_OURS=$store STORE_REF=$((one + diff))
  fi
  stop_daemon
}
run_variant docker docker
run_variant docker-tar docker
run_variant sandbox-tar sandbox

# --- the table ----------------------------------------------------------------------------
printf '\n%-28s %12s %12s %12s\n' "whole test run (ms)" docker docker-tar sandbox-tar
printf '%-28s %12s %12s %12s\n' "cold (first run)" "${COLD[docker]}" "${COLD[docker-tar]}" "${COLD[sandbox-tar]}"
declare -A MED
for v in docker docker-tar sandbox-tar; do MED[$v]=$(echo "${WARM[$v]}" | tr ' ' '\n' | grep . | median); done
ref=${MED[docker]}
printf '%-28s %12s %12s %12s\n' "warm (median of $RUNS)" "${MED[docker]}" "${MED[docker-tar]}" "${MED[sandbox-tar]}"
for t in $TASK_NAMES; do
  printf '%-28s %12s %12s %12s\n' "  $t" \
    "$(echo "${TASKS[docker.$t]}" | tr ' ' '\n' | grep . | median)" \
    "$(echo "${TASKS[docker-tar.$t]}" | tr ' ' '\n' | grep . | median)" \
    "$(echo "${TASKS[sandbox-tar.$t]}" | tr ' ' '\n' | grep . | median)"
done
printf '%-28s %12s %12s %12s\n' "ratio to docker (warm)" 1.00 "$(ratio "${MED[docker-tar]}" "$ref")" "$(ratio "${MED[sandbox-tar]}" "$ref")"
echo "sandbox image store: $((STORE_OURS >> 20)) MiB for three images; one unpacked image + the differing layers: $((STORE_REF >> 20)) MiB; ratio $(ratio "$STORE_OURS" "$STORE_REF")"
echo "ROW|Whole test run, warm, Docker runner from image tarballs vs pre-loaded images (ms)|${MED[docker-tar]}|${MED[docker]}|$(ratio "${MED[docker-tar]}" "$ref")"
echo "ROW|Whole test run, warm, sandbox from image tarballs vs pre-loaded Docker images (ms)|${MED[sandbox-tar]}|${MED[docker]}|$(ratio "${MED[sandbox-tar]}" "$ref")"
echo "ROW|Sandbox image store, three tarballs sharing a ${BASE_MIB} MiB base (MiB) vs one unpacked image + differing layers|$((STORE_OURS >> 20))|$((STORE_REF >> 20))|$(ratio "$STORE_OURS" "$STORE_REF")"
