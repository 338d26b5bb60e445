#!/usr/bin/env bash
# The local end-to-end demo: a seeded medperf-server, medperfd in user mode, and the
# MedPerf data-owner tutorial walked with medperfctl and the example containers, which
# run in the bubblewrap sandbox (no container engine, no internet needed).
#
#   bash examples/demo.sh            # builds if needed, runs the tutorial
#   KEEP=1 bash examples/demo.sh     # leave the server and daemon running afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash packaging/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" >/dev/null

bin=$root/build/release
examples=$bin/examples/chestxray
work=$(mktemp -d /tmp/medperf-demo.XXXXXX)
export XDG_STATE_HOME=$work/state XDG_RUNTIME_DIR=$work/run XDG_CONFIG_HOME=$work/config
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
socket=$XDG_RUNTIME_DIR/medperfd.sock
pids=()
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "Left running (pids ${pids[*]}); state in $work"
    return
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
  printf '\033[36m$ medperfctl %s\033[0m\n' "$*"
  "$bin/ctl/medperfctl" --socket "$socket" "$@"
}
token_of() { sed -n "s/.*\"$1@example.com\": *\"\([0-9a-f]*\)\".*/\1/p" "$work/tokens.json"; }

say "Starting medperf-server (seeded with the tutorial's benchmark, containers and models)"
"$bin/server/medperf-server" seed --db "$work/server.db" --demo data \
  --tokens-out "$work/tokens.json" --assets "$examples" --allow-list-out "$work/allow-list.yaml"
for who in testdo testbo; do
  (umask 077 && token_of "$who" >"$work/$who.token")
done
"$bin/server/medperf-server" serve --db "$work/server.db" --port 0 2>"$work/server.log" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/server.log" | head -n1)
[ -n "$url" ] || { cat "$work/server.log"; exit 1; }
echo "server: $url"

say "Allow-listing the example containers in medperfd's config"
# The example containers are LocalProcess ones: they run host executables, so medperfd
# runs them only when the site's config lists them by server id and image hash
# (docs/security.md). In user mode the config is $XDG_CONFIG_HOME/medperfd/medperfd.yaml.
mkdir -p "$XDG_CONFIG_HOME/medperfd"
cp "$work/allow-list.yaml" "$XDG_CONFIG_HOME/medperfd/medperfd.yaml"
echo "$XDG_CONFIG_HOME/medperfd/medperfd.yaml:"
sed 's/^/    /' "$XDG_CONFIG_HOME/medperfd/medperfd.yaml"

say "Starting medperfd in user mode as the data owner (testdo@example.com)"
"$bin/daemon/medperfd" --user --server-url "$url" --token-file "$work/testdo.token" \
  2>"$work/medperfd.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
run status

say "1. Register your data information (the tutorial confirms interactively; -y here)"
run benchmark ls
run dataset submit --name "mytestdata" --description "A tutorial dataset" \
  --location "My machine" --data_path "$examples/sample_raw_data/images" \
  --labels_path "$examples/sample_raw_data/labels" --benchmark 1 -y
run dataset ls --mine

say "2. Prepare your data"
run dataset prepare --data_uid 1

say "3. Mark your dataset as operational"
run dataset set_operational --data_uid 1 -y

say "4. Request participation (runs the reference model first)"
run dataset associate --benchmark_uid 1 --data_uid 1 -y
run association ls
say "   The benchmark committee (testbo@example.com) approves the association"
run --token-file "$work/testbo.token" association approve --benchmark 1 --dataset_uid 1
run association ls

say "5. Execute the benchmark"
run benchmark run --benchmark 1 --data_uid 1
run result view b1m4d1

say "6. Submit a result"
run result submit --result b1m4d1 -y
run result ls

say "The result as the MedPerf server now holds it"
curl -fsS -H "Authorization: Bearer $(cat "$work/testdo.token")" "$url/api/v0/me/results/" |
  sed -e 's/,"/,\n  "/g'
echo
say "Events the daemon recorded"
run watch --limit 100

echo
echo "Demo finished. Server, daemon and state are in $work"
