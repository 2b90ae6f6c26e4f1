#!/usr/bin/env bash
# Apache Cassandra for the CQL store's tests and for running the engine on the CQL
# backend locally: fetches Cassandra from Maven Central (pinned by version and by the
# sha256 of every jar), starts N nodes on loopback addresses, waits until each answers
# the CQL native protocol and sees its peers, and stops them by pid.
#
#   scripts/cassandra.sh fetch                 resolve the jars into the cache (no start)
#   scripts/cassandra.sh start [options]       start a cluster, print its contact points
#   scripts/cassandra.sh stop  [--dir D]       stop every node of the cluster in D
#   scripts/cassandra.sh kill  I [--dir D]     kill -9 node I (1-based) — fault tests
#   scripts/cassandra.sh restart I [--dir D]   start node I again on its data, wait for CQL
#   scripts/cassandra.sh status [--dir D]      one line per node: index, address, pid, state
#
# start options:
#   --nodes N        nodes in the cluster (default 1)
#   --ip-base A.B.C  loopback prefix; node I listens on A.B.C.(10*base_octet+I) — see --first
#   --first K        last octet of node 1 (default 11; node I gets K+I-1)
#   --dir D          working directory of this cluster: configs, data, logs, pids
#                    (default .cache/cassandra/cluster-<first>)
#   --heap SIZE      JVM heap of each node (default 1g; each live table costs ~1 MiB)
#   --unsafe-schema  do not fsync schema changes (fast keyspace churn; never for a
#                    cluster whose nodes a test kills)
#   --commitlog-sync MODE
#                    periodic (default: fsync every 10 s, like a stock node) or batch
#                    (fsync before a write is acknowledged). A write acknowledged at
#                    QUORUM survives kill -9 of a quorum of its replicas only in batch
#                    mode: periodic replays nothing after the last sync.
#
# Environment: CASSANDRA_CACHE (default <repo>/.cache/cassandra) holds the jars;
# JAVA (default: the Java 17 or 11 found first) runs the nodes.
#
# Cassandra 5.0 runs on Java 11 or 17. Without Java or Maven this script fails with a
# message saying what to install: the CQL tests are never skipped.
set -euo pipefail

VERSION=5.0.6
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE="${CASSANDRA_CACHE:-$REPO/.cache/cassandra}"
LIB="$CACHE/$VERSION/lib"

say() { echo "cassandra.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

find_java() {
  if [ -n "${JAVA:-}" ]; then echo "$JAVA"; return; fi
  for j in /usr/lib/jvm/java-17-openjdk-amd64/bin/java /usr/lib/jvm/java-17-openjdk-arm64/bin/java \
           /usr/lib/jvm/temurin-17-jdk-amd64/bin/java /usr/lib/jvm/java-11-openjdk-amd64/bin/java; do
    [ -x "$j" ] && { echo "$j"; return; }
  done
  command -v java || true
}

check_java() {
  local java; java="$(find_java)"
  [ -n "$java" ] || die "no Java found: Cassandra $VERSION needs Java 17 (or 11). Install it: apt-get install openjdk-17-jre-headless"
  local v; v="$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
  case "$v" in
    11|17) ;;
    *) die "$java is Java $v; Cassandra $VERSION runs on Java 17 or 11 (set JAVA=/path/to/java)";;
  esac
  echo "$java"
}

fetch() {
  if [ -f "$LIB/.verified" ]; then return; fi
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is missing: it fetches Cassandra $VERSION from Maven Central. Install it: apt-get install maven"
  say "fetching Apache Cassandra $VERSION (cassandra-all and its dependencies) from Maven Central into $LIB"
  rm -rf "$LIB"; mkdir -p "$LIB"
  # -C: fail on a checksum mismatch against Maven Central's own checksums.
  mvn -B -q -C -Dstyle.color=never -f "$HERE/cassandra/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$LIB" -DincludeScope=runtime >&2 \
    || die "Maven could not resolve org.apache.cassandra:cassandra-all:$VERSION"
  say "checking every jar against scripts/cassandra/lib.sha256"
  (cd "$LIB" && sha256sum --quiet -c "$HERE/cassandra/lib.sha256") \
    || die "a Cassandra jar does not match its pinned sha256 (scripts/cassandra/lib.sha256)"
  local extra; extra="$(cd "$LIB" && ls *.jar | sort | comm -23 - <(awk '{print $2}' "$HERE/cassandra/lib.sha256" | sort))"
  [ -z "$extra" ] || die "jars not pinned in lib.sha256: $extra"
  touch "$LIB/.verified"
}

# Cassandra's own conf/jvm17-server.options (GC and module access), plus a small heap,
# and what Cassandra's own test clusters (ccm) use to start and change schema fast: no
# wait for gossip to settle, a short ring delay, and `unsafesystem` (system tables, i.e.
# schema, not fsynced) only with --unsafe-schema: the suite's single node, where the
# tests create and drop a keyspace per test and no node is ever killed.
jvm_opts() {
  local heap="$1" # $2: the node's directory
  cat <<EOF
-Xms$heap
-Xmx$heap
-Xss512k
-XX:+UseG1GC
-XX:+ParallelRefProcEnabled
-XX:MaxTenuringThreshold=1
-XX:G1HeapRegionSize=4m
-XX:MaxGCPauseMillis=300
-XX:+AlwaysPreTouch
-XX:+CrashOnOutOfMemoryError
-XX:ErrorFile=$2/log/hs_err_%p.log
-XX:ActiveProcessorCount=2
-Djdk.attach.allowAttachSelf=true
--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED
--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED
--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED
--add-exports=java.sql/java.sql=ALL-UNNAMED
--add-exports=java.base/java.lang.ref=ALL-UNNAMED
--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED
--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
--add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED
--add-opens=java.base/java.lang.module=ALL-UNNAMED
--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED
--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED
--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED
--add-opens=java.base/jdk.internal.math=ALL-UNNAMED
--add-opens=java.base/jdk.internal.module=ALL-UNNAMED
--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED
--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED
--add-opens=java.base/sun.nio.ch=ALL-UNNAMED
--add-opens=java.base/java.io=ALL-UNNAMED
--add-opens=java.base/java.lang.reflect=ALL-UNNAMED
--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
--add-opens=java.base/java.lang=ALL-UNNAMED
--add-opens=java.base/java.util=ALL-UNNAMED
-Dio.netty.tryReflectionSetAccessible=true
-Dio.netty.allocator.useCacheForAllThreads=true
-Dio.netty.allocator.maxOrder=11
-Dcassandra-foreground=yes
-Dcassandra.skip_wait_for_gossip_to_settle=0
-Dcassandra.ring_delay_ms=1000
-javaagent:$(ls "$LIB"/jamm-*.jar | head -1)
EOF
  # Schema (system tables) not fsynced: fast keyspace churn for a throwaway test node.
  # Never with a node that a test kills: its commit log replay would skip the writes of
  # keyspaces whose creation was not flushed.
  if [ "$(cat "$2/../unsafe_schema" 2>/dev/null)" = yes ]; then echo "-Dcassandra.unsafesystem=true"; fi
}

# The commit log's durability: see --commitlog-sync.
commitlog_sync_config() {
  case "$1" in
    periodic) printf 'commitlog_sync: periodic\ncommitlog_sync_period: 10000ms';;
    batch) printf 'commitlog_sync: batch';;
    *) die "--commitlog-sync: periodic or batch, not '$1'";;
  esac
}

write_config() {
  local dir="$1" ip="$2" seeds="$3" sync="$4"
  mkdir -p "$dir/data" "$dir/commitlog" "$dir/saved_caches" "$dir/hints" "$dir/cdc_raw" "$dir/log"
  cat > "$dir/cassandra.yaml" <<EOF
# Written by scripts/cassandra.sh: a small test node on $ip.
cluster_name: switchboard-test
num_tokens: 16
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$seeds"
auto_bootstrap: false
listen_address: $ip
rpc_address: $ip
storage_port: 7000
native_transport_port: 9042
start_native_transport: true
data_file_directories: [$dir/data]
commitlog_directory: $dir/commitlog
saved_caches_directory: $dir/saved_caches
hints_directory: $dir/hints
cdc_raw_directory: $dir/cdc_raw
$(commitlog_sync_config "$sync")
concurrent_reads: 8
concurrent_writes: 8
concurrent_counter_writes: 4
concurrent_compactors: 1
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
auto_snapshot: false
snapshot_on_duplicate_row_detection: false
hinted_handoff_enabled: true
max_hint_window: 3h
EOF
  cat > "$dir/logback.xml" <<EOF
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$dir/log/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE" /></root>
</configuration>
EOF
}

# Does ADDR:9042 answer a CQL OPTIONS request with SUPPORTED?
cql_answers() {
  python3 - "$1" <<'EOF'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], 9042), timeout=2)
    s.sendall(bytes([0x04, 0, 0, 0, 0x05, 0, 0, 0, 0]))  # v4 OPTIONS, stream 0
    head = s.recv(9)
    sys.exit(0 if len(head) >= 5 and head[0] == 0x84 and head[4] == 0x06 else 1)
except OSError:
    sys.exit(1)
EOF
}

node_ip() { sed -n "${2}p" "$1/nodes" | awk '{print $1}'; }

launch() {
  local cdir="$1" i="$2" java; java="$(check_java)"
  local ip; ip="$(node_ip "$cdir" "$i")"
  local heap; heap="$(cat "$cdir/heap")"
  local ndir="$cdir/node$i"
  local opts; mapfile -t opts < <(jvm_opts "$heap" "$ndir")
  say "starting node $i on $ip (heap $heap, logs in $ndir/log)"
  nohup "$java" "${opts[@]}" \
    -Dcassandra.config="file://$ndir/cassandra.yaml" \
    -Dcassandra.logdir="$ndir/log" -Dcassandra.storagedir="$ndir" \
    -Dlogback.configurationFile="file://$ndir/logback.xml" \
    -cp "$LIB/*" org.apache.cassandra.service.CassandraDaemon \
    > "$ndir/log/stdout.log" 2>&1 < /dev/null &
  echo $! > "$ndir/pid"
}

wait_cql() {
  local cdir="$1" i="$2" deadline=$((SECONDS + ${CASSANDRA_START_TIMEOUT:-180}))
  local ip; ip="$(node_ip "$cdir" "$i")"
  local pid; pid="$(cat "$cdir/node$i/pid")"
  until cql_answers "$ip"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$cdir/node$i/log/stdout.log" >&2 || true
      grep -E "ERROR|Exception" "$cdir/node$i/log/system.log" 2>/dev/null | tail -10 >&2 || true
      die "node $i ($ip) exited before answering CQL (see $cdir/node$i/log)"
    fi
    [ $SECONDS -lt $deadline ] || die "node $i ($ip) did not answer CQL within ${CASSANDRA_START_TIMEOUT:-180} s (see $cdir/node$i/log)"
    sleep 0.5
  done
  say "node $i ($ip) answers CQL"
}

# Every node has logged every other node UP since its last start.
wait_peers() {
  local cdir="$1" n; n="$(wc -l < "$cdir/nodes")"
  [ "$n" -gt 1 ] || return 0
  local deadline=$((SECONDS + ${CASSANDRA_START_TIMEOUT:-180}))
  for i in $(seq 1 "$n"); do
    local log="$cdir/node$i/log/system.log" ok=0
    while [ $ok -eq 0 ]; do
      ok=1
      for j in $(seq 1 "$n"); do
        [ "$i" = "$j" ] && continue
        local pip; pip="$(node_ip "$cdir" "$j")"
        # Only lines since this node's latest start count (one awk, no pipe: a
        # `grep -q` that quits early would SIGPIPE the reader under pipefail).
        local from; from="$(grep -n 'Configuration location:' "$log" | tail -1 | cut -d: -f1)"
        awk -v start="${from:-0}" -v pat="/$pip:7000 is now UP" \
          'NR >= start + 0 && index($0, pat) { found = 1 } END { exit !found }' "$log" || ok=0
      done
      if [ $ok -eq 0 ]; then
        [ $SECONDS -lt $deadline ] || die "node $i does not see all its peers UP (see $log)"
        sleep 0.5
      fi
    done
  done
  say "all $n nodes see each other UP"
}

cmd_start() {
  local nodes=1 first=11 base=127.0.0 dir="" heap=1g unsafe=no sync=periodic
  while [ $# -gt 0 ]; do
    case "$1" in
      --nodes) nodes="$2"; shift 2;;
      --first) first="$2"; shift 2;;
      --ip-base) base="$2"; shift 2;;
      --dir) dir="$2"; shift 2;;
      --heap) heap="$2"; shift 2;;
      --unsafe-schema) unsafe=yes; shift;;
      --commitlog-sync) sync="$2"; shift 2;;
      *) die "unknown option $1";;
    esac
  done
  dir="$(realpath -m "${dir:-$CACHE/cluster-$first}")"
  commitlog_sync_config "$sync" >/dev/null
  command -v python3 >/dev/null 2>&1 || die "python3 is missing (it probes the CQL port)"
  check_java >/dev/null
  fetch
  if [ -f "$dir/nodes" ]; then
    say "stopping what is left of an earlier cluster in $dir"
    cmd_stop --dir "$dir" || true
  fi
  rm -rf "$dir"; mkdir -p "$dir"
  echo "$heap" > "$dir/heap"
  echo "$unsafe" > "$dir/unsafe_schema"
  local seeds=""
  for i in $(seq 1 "$nodes"); do
    local ip="$base.$((first + i - 1))"
    echo "$ip" >> "$dir/nodes"
    seeds="${seeds:+$seeds,}$ip:7000"
  done
  for i in $(seq 1 "$nodes"); do
    write_config "$dir/node$i" "$(node_ip "$dir" "$i")" "$seeds" "$sync"
  done
  local t0=$SECONDS
  for i in $(seq 1 "$nodes"); do launch "$dir" "$i"; done
  for i in $(seq 1 "$nodes"); do wait_cql "$dir" "$i"; done
  wait_peers "$dir"
  say "cluster of $nodes up in $((SECONDS - t0)) s; contact points: $(paste -sd, "$dir/nodes")"
  paste -sd, "$dir/nodes"
}

cmd_stop() {
  local dir="$CACHE/cluster-11"
  [ "${1:-}" = "--dir" ] && dir="$(realpath -m "$2")"
  [ -f "$dir/nodes" ] || return 0
  local n; n="$(wc -l < "$dir/nodes")"
  for i in $(seq 1 "$n"); do
    local pf="$dir/node$i/pid"
    [ -f "$pf" ] || continue
    local pid; pid="$(cat "$pf")"
    if kill -0 "$pid" 2>/dev/null; then
      say "stopping node $i (pid $pid)"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pf"
  done
}

cmd_kill() {
  local i="$1"; shift; local dir="$CACHE/cluster-11"
  [ "${1:-}" = "--dir" ] && dir="$(realpath -m "$2")"
  local pid; pid="$(cat "$dir/node$i/pid")"
  say "kill -9 node $i (pid $pid)"
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$dir/node$i/pid"
}

cmd_restart() {
  local i="$1"; shift; local dir="$CACHE/cluster-11"
  [ "${1:-}" = "--dir" ] && dir="$(realpath -m "$2")"
  if [ -f "$dir/node$i/pid" ] && kill -0 "$(cat "$dir/node$i/pid")" 2>/dev/null; then
    die "node $i is running"
  fi
  launch "$dir" "$i"
  wait_cql "$dir" "$i"
  wait_peers "$dir"
}

cmd_status() {
  local dir="$CACHE/cluster-11"
  [ "${1:-}" = "--dir" ] && dir="$(realpath -m "$2")"
  [ -f "$dir/nodes" ] || { echo "no cluster in $dir"; return 0; }
  local n; n="$(wc -l < "$dir/nodes")"
  for i in $(seq 1 "$n"); do
    local ip pid state; ip="$(node_ip "$dir" "$i")"; pid="$(cat "$dir/node$i/pid" 2>/dev/null || echo -)"
    if [ "$pid" != "-" ] && kill -0 "$pid" 2>/dev/null; then
      if cql_answers "$ip"; then state=up; else state=starting; fi
    else state=down; fi
    echo "$i $ip $pid $state"
  done
}

case "${1:-}" in
  fetch) check_java >/dev/null; fetch; say "Cassandra $VERSION jars in $LIB";;
  start) shift; cmd_start "$@";;
  stop) shift; cmd_stop "$@";;
  kill) shift; cmd_kill "$@";;
  restart) shift; cmd_restart "$@";;
  status) shift; cmd_status "$@";;
  *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2;;
esac
