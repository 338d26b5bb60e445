#!/usr/bin/env bash
# medperfd unattended-loop figures (a measurement, not a test):
#   1. idle daemon CPU time and RSS over IDLE_SECONDS (default 60) while following 10
#      benchmarks, polling every POLL_SECONDS (default 5);
#   2. time from a model's approval on the server to its job starting (≈ one poll
#      interval at most; SAMPLES runs, default 3);
#   3. `medperfctl status` latency, median (and p90) over 200 calls.
# Real binaries on loopback: medperf-server seeded with the chest X-ray demo, medperfd,
# medperfctl. Needs curl and python3 (JSON). Usage: bench/daemon_bench.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${MEDPERF_BUILD_DIR:-$here/build/una}
POLL_SECONDS=${POLL_SECONDS:-5}
IDLE_SECONDS=${IDLE_SECONDS:-60}
SAMPLES=${SAMPLES:-3}
BENCHMARKS=10
if [ ! -x "$build/daemon/medperfd" ] || [ ! -x "$build/ctl/medperfctl" ] ||
   [ ! -x "$build/server/medperf-server" ] || [ ! -d "$build/examples/chestxray" ]; then
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j2 --target medperfd medperfctl medperf-server chestxray_example >/dev/null
fi
work=$(mktemp -d /tmp/medperfd-bench.XXXXXX)
server_pid=""; daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
assets="$build/examples/chestxray"
ctl() { "$build/ctl/medperfctl" --socket "$work/medperfd.sock" "$@"; }
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
now_ms() { date +%s%3N; }

# --- server ---
"$build/server/medperf-server" seed --db "$work/server.db" --demo data \
  --tokens-out "$work/tokens.json" --assets "$assets" --allow-list-out "$work/allow.yaml" \
  2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/server/medperf-server" serve --db "$work/server.db" --port "$port" >"$work/server.log" 2>&1 &
server_pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.05; done
tok() { jget "[\"$1\"]" <"$work/tokens.json"; }
BO=$(tok testbo@example.com); MO=$(tok testmo@example.com); DO=$(tok testdo@example.com)
ADMIN=$(tok testadmin@example.com)
api() { # method token path [json]
  curl -sS -f -X "$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    ${4:+--data "$4"} "$url/api/v0$3"
}
( umask 077; echo "$DO" >"$work/do.token" )

# --- daemon: models 2 and 4 denied so the site stays idle ---
cat >"$work/medperfd.yaml" <<YAML
runner: sandbox
log_level: warning
server: {url: "$url", token_file: "$work/do.token"}
poll: {interval_seconds: $POLL_SECONDS, jitter: 0.1, max_backoff_seconds: 60}
policy: {models: {deny: [2, 4]}}
YAML
# The seeded example containers are LocalProcess ones: allow-list them (docs/security.md).
cat "$work/allow.yaml" >>"$work/medperfd.yaml"
"$build/daemon/medperfd" --config "$work/medperfd.yaml" --state-dir "$work/state" \
  --socket "$work/medperfd.sock" >"$work/medperfd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 200); do ctl status >/dev/null 2>&1 && break; sleep 0.05; done

# --- one dataset approved in 10 benchmarks ---
raw="$assets/sample_raw_data"
ctl dataset submit --name bench --data_path "$raw/images" --labels_path "$raw/labels" \
  --benchmark 1 -y >/dev/null 2>&1
ctl dataset prepare --data_uid 1 >/dev/null 2>&1
ctl dataset set_operational --data_uid 1 -y >/dev/null 2>&1
ctl dataset associate --benchmark_uid 1 --data_uid 1 -y >/dev/null 2>&1
api PUT "$BO" /datasets/1/benchmarks/1/ '{"approval_status":"APPROVED"}' >/dev/null
bench1=$(api GET "$BO" /benchmarks/1/)
for i in $(seq 2 $BENCHMARKS); do
  body=$(printf '%s' "$bench1" | python3 -c '
import json,sys
b=json.load(sys.stdin); keep=["description","docs_url","demo_dataset_tarball_url",
 "demo_dataset_tarball_hash","demo_dataset_generated_uid","data_preparation_mlcube",
 "reference_model","data_evaluator_mlcube","state"]
o={k:b[k] for k in keep if k in b}; o["name"]="bench_"+sys.argv[1]
o["metadata"]={"skip_compatibility_tests": True}; print(json.dumps(o))' "$i")
  id=$(api POST "$BO" /benchmarks/ "$body" | jget '["id"]')
  api PUT "$ADMIN" "/benchmarks/$id/" '{"approval_status":"APPROVED"}' >/dev/null
  ctl dataset associate --benchmark_uid "$id" --data_uid 1 -y >/dev/null 2>&1
  api PUT "$BO" "/datasets/1/benchmarks/$id/" '{"approval_status":"APPROVED"}' >/dev/null
done
followed=$(ctl sync)
echo "setup: $followed"

# --- 1. idle CPU and RSS ---
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$daemon_pid/stat"; }
c0=$(cpu); t0=$(now_ms)
sleep "$IDLE_SECONDS"
c1=$(cpu); t1=$(now_ms)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")
awk -v c=$((c1 - c0)) -v hz="$ticks" -v ms=$((t1 - t0)) -v rss="$rss" -v hwm="$hwm" -v p="$POLL_SECONDS" \
  -v b="$BENCHMARKS" 'BEGIN { printf "idle (%d benchmarks, poll %d s, %.0f s): CPU %.2f s = %.3f%% of one core; RSS %.1f MiB (peak %.1f MiB)\n", b, p, ms/1000, c/hz, 100*c/hz/(ms/1000), rss/1024, hwm/1024 }'

# --- 2. approval -> job start ---
model4=$(api GET "$MO" /models/4/)
for s in $(seq "$SAMPLES"); do
  # The server wants each container unique: a copy of the model binary with one byte
  # appended (harmless to an ELF file) gives a new image and image_hash.
  mdir="$work/models/$s"; mkdir -p "$mdir"; chmod 755 "$work/models" "$mdir"
  cp "$build/examples/bin/chestxray_model_linear" "$mdir/model"; printf '%s' "$s" >>"$mdir/model"
  hash=$(sha256sum "$mdir/model" | cut -d' ' -f1)
  body=$(printf '%s' "$model4" | python3 -c '
import json,sys
m=json.load(sys.stdin); c=m["container"]; n, image, h = sys.argv[1:4]
keep=["container_config","parameters_config","additional_files_tarball_url",
 "additional_files_tarball_hash"]
cc={k:c[k] for k in keep}; cc["name"]=n; cc["state"]="OPERATION"
cc["container_config"]["image"]=image; cc["image_hash"]="sha256:"+h
print(json.dumps({"name":n,"type":"CONTAINER","state":"OPERATION","container":cc}))' \
    "bench-model-$s" "$mdir/model" "$hash")
  mid=$(api POST "$MO" /models/ "$body" | jget '["id"]')
  api POST "$MO" /models/benchmarks/ "{\"model\":$mid,\"benchmark\":1,\"approval_status\":\"PENDING\",\"metadata\":{}}" >/dev/null
  t0=$(now_ms)
  api PUT "$BO" "/models/$mid/benchmarks/1/" '{"approval_status":"APPROVED"}' >/dev/null
  while ! ctl --json job ls --all | python3 -c '
import json,sys
d=json.load(sys.stdin); m=sys.argv[1]
sys.exit(0 if any(j.get("model")==m and j.get("state")!="QUEUED" for j in d.get("items",[])) else 1)' "$mid"; do
    sleep 0.05
  done
  t1=$(now_ms)
  echo "approval -> job start (model $mid): $(( t1 - t0 )) ms (poll interval $POLL_SECONDS s)"
  while ctl --json job ls | grep -q '"model": "'"$mid"'"'; do sleep 0.1; done
done

# --- 3. status latency ---
lat="$work/lat.txt"; : >"$lat"
for _ in $(seq 200); do
  a=$(date +%s%N); ctl status >/dev/null; b=$(date +%s%N); echo $(( (b - a) / 1000 )) >>"$lat"
done
sort -n "$lat" | awk '{v[NR]=$1} END { printf "medperfctl status: median %.2f ms, p90 %.2f ms over %d calls (process start included)\n", v[int((NR+1)/2)]/1000, v[int(NR*0.9)]/1000, NR }'
