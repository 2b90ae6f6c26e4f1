#!/bin/bash
# One run of BENCHMARKS.md "The cost of a cross-node hop at the reference load":
#   loadtest/hop-spread.sh ENGINE_BINARY RUN_ID [RATE]
# Starts three engines with spread placement (node-a 127.0.0.1:8181, node-b :8182,
# node-c :8183; 256 shards, default [cluster] timing) on a fresh keyspace of the
# Cassandra at 127.0.0.11, waits until every key is held and each node holds some,
# then runs the reference load (`loadtest messages`, 50 agents, 500 customers, RATE
# msg/s, default 5000, 30 s after a 5 s warm-up) with agents and customers spread
# over the three. The report splits customer -> agent latency by placement: all on
# one node against the customer's actor, the queue and the agent's socket on three
# nodes (loadtest/src/placement.rs). Output: /tmp/fo/RUN_ID.{json,out} and the
# engines' logs. Run from the repository root after
# `cargo build --release -p switchboard -p loadtest`.
set -u
bin=$1 id=$2 rate=${3:-5000}
lt=target/release/loadtest
. "$(dirname "$0")/failover-lib.sh"
ks=$(keyspace hop)
secret="hop-spread-benchmark-secret"
mkdir -p /tmp/fo
clean
start_spread $ks $secret loadtest/engine.toml || exit 1
sleep 2
echo "run $id $bin: $rate msg/s over three spread nodes, keyspace $ks"
$lt messages --url http://127.0.0.1:8181,http://127.0.0.1:8182,http://127.0.0.1:8183 \
  --admin-password loadtest-admin --agents 50 --customers 500 --rate "$rate" \
  --duration 30s --warmup 5s --json /tmp/fo/$id.json > /tmp/fo/$id.out 2>&1
echo "run $id exit $?"
clean
