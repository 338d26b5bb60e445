#!/usr/bin/env bash
# medperfd under load: a seeded medperf-server, a daemon with the data owner's token
# that keeps running jobs (dataset submit + prepare of fresh synthetic data, in a loop),
# and bench/load_driver's concurrent control-socket clients issuing status, job ls,
# result ls, watch (no follow) and dataset ls --mine. Prints per-call p50/p99 and fails
# on any error.
# Usage: bench/load.sh [--clients N (32)] [--seconds S (60)] [--reconnect] [--no-jobs]
# Env:   MEDPERF_BUILD_DIR (default build/rel; built if needed)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${MEDPERF_BUILD_DIR:-$here/build/rel}
clients=32 seconds=60 reconnect="" jobs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --reconnect) reconnect=--reconnect; shift ;;
    --no-jobs) jobs=0; shift ;;
    *) echo "usage: $0 [--clients N] [--seconds S] [--reconnect] [--no-jobs]" >&2; exit 2 ;;
  esac
done
need="medperfd medperfctl medperf-server chestxray_example load_driver"
for t in daemon/medperfd ctl/medperfctl server/medperf-server bench/load_driver \
         examples/bin/chestxray_datagen; do
  if [ ! -x "$build/$t" ]; then
    [ -f "$build/CMakeCache.txt" ] || cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j2 --target $need >/dev/null
    break
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/medperf-load-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
srv="$build/server/medperf-server"
ctl() { "$build/ctl/medperfctl" --socket "$work/run/medperfd.sock" "$@"; }

"$srv" seed --db "$work/db.sqlite" --demo data --tokens-out "$work/tokens.json" \
  --assets "$build/examples/chestxray" --allow-list-out "$work/allow.yaml" 2>/dev/null
"$srv" serve --db "$work/db.sqlite" --port 0 >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/server.log" 2>/dev/null && break; sleep 0.05; done
url=$(grep -o "http://[0-9.]*:[0-9]*" "$work/server.log" | head -1)
[ -n "$url" ] || { cat "$work/server.log" >&2; exit 1; }
mkdir -p "$work/secrets"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["testdo@example.com"])' \
  "$work/tokens.json" >"$work/secrets/do.token"
chmod 600 "$work/secrets/do.token"
printf 'poll:\n  enabled: false\npolicy:\n  max_concurrent_jobs: 2\n' >"$work/medperfd.yaml"
cat "$work/allow.yaml" >>"$work/medperfd.yaml"  # the seeded LocalProcess containers
"$build/daemon/medperfd" --config "$work/medperfd.yaml" --state-dir "$work/state" \
  --socket "$work/run/medperfd.sock" --server-url "$url" \
  --token-file "$work/secrets/do.token" >"$work/medperfd.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do ctl status >/dev/null 2>&1 && break; sleep 0.05; done
ctl status >/dev/null

# Keeps the daemon busy: register and prepare fresh synthetic datasets one after another.
busy() {
  local i=0
  while [ -e "$work/busy" ]; do
    i=$((i + 1))
    local d="$work/data$i"
    "$build/examples/bin/chestxray_datagen" --out="$d" --seed="$i" --count=200 --prefix="l$i" >/dev/null 2>&1
    local out
    out=$(ctl --json dataset submit --name "load$i" --data_path "$d/images" \
          --labels_path "$d/labels" --benchmark 1 -y 2>&1) || { echo "$out" >>"$work/busy.log"; continue; }
    local id
    id=$(echo "$out" | grep -o '"id": *[0-9]*' | head -1 | grep -o '[0-9]*$' || true)
    [ -n "$id" ] && ctl dataset prepare --data_uid "$id" >>"$work/busy.log" 2>&1 || true
  done
}
if [ "$jobs" = 1 ]; then
  touch "$work/busy"
  busy &
  pids+=($!)
  sleep 1
fi
rc=0
"$build/bench/load_driver" --socket "$work/run/medperfd.sock" --clients "$clients" \
  --seconds "$seconds" $reconnect || rc=$?
rm -f "$work/busy"
echo "jobs in the daemon after the run: $(ctl job ls --all 2>/dev/null | tail -n +2 | wc -l)" \
     "($(ctl job ls --all 2>/dev/null | grep -c -i done || true) done)"
exit $rc
