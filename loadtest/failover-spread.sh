#!/bin/bash
# One run of BENCHMARKS.md "Failover: three spread nodes on Cassandra":
#   loadtest/failover-spread.sh ENGINE_BINARY kill|term VICTIM(a|b|c) RUN_ID
# Starts three engines with spread placement (node-a 127.0.0.1:8181, node-b :8182,
# node-c :8183; 256 shards, default [cluster] timing) on a fresh keyspace of the
# Cassandra at 127.0.0.11, waits until every key is held and each node holds some,
# runs `loadtest failover` against all three (agents and customers spread over them),
# signals the VICTIM 10 s in, and stops everything. Output: /tmp/fo/RUN_ID.{json,out},
# the engines' logs, and the victim's keys before the signal (/tmp/fo/RUN_ID.keys).
# Run from the repository root after `cargo build --release -p switchboard -p loadtest`.
# FAILOVER_CONFIG names another engine configuration (default loadtest/engine.toml),
# e.g. one with a [cluster] section of other lease timings.
set -u
bin=$1 sig=$2 victim=$3 id=$4
lt=target/release/loadtest
. "$(dirname "$0")/failover-lib.sh"
ks=$(keyspace fs)
secret="failover-spread-benchmark-secret"
mkdir -p /tmp/fo
clean
start_spread $ks $secret ${FAILOVER_CONFIG:-loadtest/engine.toml} || exit 1
curl -s -H "authorization: Bearer $token" http://127.0.0.1:8181/api/v1/cluster | python3 -c '
import json,sys
v=json.load(sys.stdin)
live=[l for l in v["leases"] if l["live"]]
for n in "abc":
  keys=[l["key"] for l in live if l["holder"].split("#")[0]=="node-"+n]
  print("node-"+n, len([k for k in keys if k.startswith("shard/")]), "shards", " ".join(k for k in keys if not k.startswith("shard/")))' > /tmp/fo/$id.keys
sleep 2
echo "run $id $bin $sig: victim node-$victim pid ${pid[$victim]} keyspace $ks"
cat /tmp/fo/$id.keys
$lt failover --url http://127.0.0.1:8181,http://127.0.0.1:8182,http://127.0.0.1:8183 \
  --admin-password loadtest-admin \
  --agents 20 --customers 200 --rate 500 --duration 30s --kill-after 10s --signal $sig \
  --kill-pid ${pid[$victim]} --drain 10s --json /tmp/fo/$id.json > /tmp/fo/$id.out 2>&1
echo "run $id exit $?"
clean
