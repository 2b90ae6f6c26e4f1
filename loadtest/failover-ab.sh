#!/bin/bash
# One run of BENCHMARKS.md "Failover: active/standby on Cassandra", A/B section:
#   loadtest/failover-ab.sh ENGINE_BINARY kill|term|stop RUN_ID
# Starts two engines (127.0.0.1:8181 active, :8182 standby) on a fresh keyspace of the
# Cassandra at 127.0.0.11, runs `loadtest failover` against both, signals the active
# one 10 s in, and stops both. Output: /tmp/fo/RUN_ID.{json,out} and the engines' logs.
# Run from the repository root after `cargo build --release -p loadtest`.
set -u
bin=$1 sig=$2 id=$3
lt=target/release/loadtest
. "$(dirname "$0")/failover-lib.sh"
ks=$(keyspace fo)
mkdir -p /tmp/fo
clean
for p in 8181 8182; do rm -rf /tmp/fo/data-$p; mkdir -p /tmp/fo/data-$p; done
$bin --config loadtest/engine.toml --listen 127.0.0.1:8181 --data-dir /tmp/fo/data-8181 \
  --store scylla --scylla-contact-points 127.0.0.11 --scylla-keyspace $ks \
  --scylla-replication-factor 1 --admin-password loadtest-admin > /tmp/fo/$id-8181.log 2>&1 &
a=$!
waitcode 8181 200 || { clean; exit 1; }
$bin --config loadtest/engine.toml --listen 127.0.0.1:8182 --data-dir /tmp/fo/data-8182 \
  --store scylla --scylla-contact-points 127.0.0.11 --scylla-keyspace $ks \
  --scylla-replication-factor 1 --admin-password loadtest-admin > /tmp/fo/$id-8182.log 2>&1 &
waitcode 8182 503 || { clean; exit 1; }
sleep 2
echo "run $id $bin $sig: active pid $a keyspace $ks"
$lt failover --url http://127.0.0.1:8181,http://127.0.0.1:8182 --admin-password loadtest-admin \
  --agents 20 --customers 200 --rate 500 --duration 30s --kill-after 10s --signal $sig \
  --kill-pid $a --drain 10s --json /tmp/fo/$id.json > /tmp/fo/$id.out 2>&1
echo "run $id exit $?"
clean
