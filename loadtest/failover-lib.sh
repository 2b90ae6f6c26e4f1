# Helpers shared by loadtest/failover-ab.sh, failover-spread.sh and hop-spread.sh
# (sourced, not run). Expects `id` (the run id) to be set; engines listen on 127.0.0.1:818x.

# A keyspace name for this run: PREFIX, the run id with anything but [a-z0-9] made
# `_` (CQL names allow no `-`), and the time.
keyspace() { # prefix
  echo "${1}_$(echo "$id" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '_')_$(date +%s)"
}

# Kills every benchmark engine and waits until their ports are free.
clean() {
  pkill -9 -f -- "--listen 127.0.0.1:818[0-9] --data-dir /tmp/fo/"
  for i in $(seq 1 50); do ss -ltn | grep -qE ":818[0-9] " || return 0; sleep 0.2; done
}

# Waits (at most 3 minutes) until PORT's /readyz answers CODE.
waitcode() { # port code
  for i in $(seq 1 900); do
    c=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$1/readyz)
    [ "$c" = "$2" ] && return 0; sleep 0.2
  done; echo "run $id: timeout waiting $1 for $2"; return 1
}

# Starts three engines with spread placement (node-a 127.0.0.1:8181, node-b :8182,
# node-c :8183; 256 shards) on keyspace KEYSPACE of the Cassandra at 127.0.0.11 with
# configuration CONFIG, logging to /tmp/fo/$id-818x.log, and waits until every key is
# held and each node holds some. Sets `pid[a|b|c]` and `token` (an admin's). Returns
# non-zero (everything stopped) if a node never got ready.
declare -A pid
start_spread() { # keyspace secret config
  local n p i owners
  for n in a b c; do
    case $n in a) p=8181;; b) p=8182;; c) p=8183;; esac
    rm -rf /tmp/fo/data-$p; mkdir -p /tmp/fo/data-$p
    SWITCHBOARD_PLACEMENT=spread SWITCHBOARD_CLUSTER_SECRET=$2 \
    $bin --config $3 --listen 127.0.0.1:$p --data-dir /tmp/fo/data-$p \
      --node-name node-$n --store scylla --scylla-contact-points 127.0.0.11 \
      --scylla-keyspace $1 --scylla-replication-factor 1 \
      --admin-password loadtest-admin > /tmp/fo/$id-$p.log 2>&1 &
    pid[$n]=$!
    # The first node makes the keyspace; the others start once it is ready.
    [ $n = a ] && { waitcode 8181 200 || { clean; return 1; }; }
  done
  for p in 8182 8183; do waitcode $p 200 || { clean; return 1; }; done
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
    [ "$owners" = "256 3" ] && return 0; sleep 0.2
  done
}
