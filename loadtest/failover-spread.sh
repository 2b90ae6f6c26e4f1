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
declare -A pid
for n in a b c; do
  case $n in a) p=8181;; b) p=8182;; c) p=8183;; esac
  rm -rf /tmp/fo/data-$p; mkdir -p /tmp/fo/data-$p
  SWITCHBOARD_PLACEMENT=spread SWITCHBOARD_CLUSTER_SECRET=$secret \
  $bin --config ${FAILOVER_CONFIG:-loadtest/engine.toml} --listen 127.0.0.1:$p --data-dir /tmp/fo/data-$p \
    --node-name node-$n --store scylla --scylla-contact-points 127.0.0.11 \
    --scylla-keyspace $ks --scylla-replication-factor 1 \
    --admin-password loadtest-admin > /tmp/fo/$id-$p.log 2>&1 &
  pid[$n]=$!
  # The first node makes the keyspace; the others start once it is ready.
  [ $n = a ] && { waitcode 8181 200 || { clean; exit 1; }; }
done
for p in 8182 8183; do waitcode $p 200 || { clean; exit 1; }; done
token=$(curl -s -X POST http://127.0.0.1:8181/api/v1/login -H 'content-type: application/json' \
  -d '{"agent_id":"admin","password":"loadtest-admin"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
# Settled: every shard held, each node holding some.
for i in $(seq 1 300); do
  owners=$(curl -s -H "authorization: Bearer $token" http://127.0.0.1:8181/api/v1/cluster | python3 -c '
import json,sys
v=json.load(sys.stdin)
live=[l for l in v["leases"] if l["live"]]
shards=[l for l in live if l["key"].startswith("shard/")]
print(len(shards), len({l["holder"].split("#")[0] for l in live}))')
  [ "$owners" = "256 3" ] && break; sleep 0.2
done
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
