#!/usr/bin/env bash
# The 5,000 msg/s `loadtest messages` reference run against the engine on each store,
# one after the other on this machine: the embedded redb store, then the CQL store on a
# single-node Apache Cassandra started by scripts/cassandra.sh (BENCHMARKS.md).
# Prints the harness's report for each and Cassandra's CPU and RSS over its run.
#
#   cargo build --release -p switchboard -p loadtest
#   loadtest/bench-store.sh [extra loadtest messages flags]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./target/release
LOAD=(messages --admin-password loadtest-admin --agents 50 --customers 500
      --rate 5000 --duration 30s --warmup 5s "$@")
CASS_DIR=/tmp/sb-bench-cassandra

engine_pid=""
cleanup() {
  [ -n "$engine_pid" ] && kill "$engine_pid" 2>/dev/null || true
  scripts/cassandra.sh stop --dir "$CASS_DIR" || true
}
trap cleanup EXIT

wait_ready() {
  for _ in $(seq 1 600); do
    curl -sf http://127.0.0.1:8080/readyz >/dev/null && return 0
    sleep 0.1
  done
  echo "engine not ready" >&2; return 1
}

# /proc/PID/stat utime+stime in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "=== engine on the embedded store (redb) ==="
rm -rf /tmp/sb-load
$BIN/switchboard --config loadtest/engine.toml --admin-password loadtest-admin \
  --data-dir /tmp/sb-load > /tmp/sb-bench-redb.log 2>&1 &
engine_pid=$!
wait_ready
$BIN/loadtest "${LOAD[@]}" --engine-pid "$engine_pid" --json /tmp/bench-redb.json
kill "$engine_pid"; wait "$engine_pid" 2>/dev/null || true; engine_pid=""

echo "=== engine on the CQL store (Apache Cassandra, one node, RF 1) ==="
points="$(scripts/cassandra.sh start --nodes 1 --first 11 --heap 2g --dir "$CASS_DIR")"
cass_pid="$(cat "$CASS_DIR/node1/pid")"
rm -rf /tmp/sb-load-cql
$BIN/switchboard --config loadtest/engine.toml --admin-password loadtest-admin \
  --data-dir /tmp/sb-load-cql --store scylla --scylla-contact-points "$points" \
  --scylla-keyspace bench --scylla-replication-factor 1 > /tmp/sb-bench-cql.log 2>&1 &
engine_pid=$!
wait_ready
t0=$(date +%s.%N); c0=$(cpu_ticks "$cass_pid")
$BIN/loadtest "${LOAD[@]}" --engine-pid "$engine_pid" --json /tmp/bench-cql.json
t1=$(date +%s.%N); c1=$(cpu_ticks "$cass_pid")
hz=$(getconf CLK_TCK)
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$hz" \
  'BEGIN { printf "cassandra: mean CPU %.0f%% of one core over the harness run (%.1f s)\n", 100 * (c1 - c0) / hz / (t1 - t0), t1 - t0 }'
echo "cassandra: RSS $(awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$cass_pid/status"), peak $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$cass_pid/status")"
