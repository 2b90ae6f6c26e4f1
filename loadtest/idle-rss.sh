#!/bin/bash
# The resident memory of an idle engine, for BENCHMARKS.md "Idle engine memory":
#   loadtest/idle-rss.sh ENGINE_BINARY [PORT]
# Starts ENGINE_BINARY with loadtest/engine.toml on an empty embedded store (no
# knowledge-base article) on 127.0.0.1:PORT (default 8191), reads VmRSS 5 s after it is
# ready, then logs in as the admin and asks one Japanese knowledge-base question (with
# nothing to search it is not analysed) and reads VmRSS again. Prints both in KiB, and
# whether the engine logged loading the Japanese dictionary.
# Run from the repository root.
set -u
bin=$1 port=${2:-8191}
d=$(mktemp -d)
"$bin" --config loadtest/engine.toml --listen 127.0.0.1:$port --data-dir "$d" \
  --admin-password loadtest-admin > "$d/log" 2>&1 &
pid=$!
for i in $(seq 1 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/readyz)" = 200 ] && break
  sleep 0.1
done
sleep 5 # settle: start-up work done (a measurement pause, not a synchronisation)
idle=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
tok=$(curl -s -X POST http://127.0.0.1:$port/api/v1/login -H 'content-type: application/json' \
  -d '{"agent_id":"admin","password":"loadtest-admin"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl -s -o /dev/null -G --data-urlencode "q=返品したい" -H "authorization: Bearer $tok" \
  http://127.0.0.1:$port/api/v1/kb/search
after=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
loaded=$(grep -c "loaded the IPADIC dictionary" "$d/log")
echo "$bin idle_rss_kib=$idle after_login_and_ja_search_kib=$after dictionary_loaded=$loaded"
kill $pid; wait $pid 2>/dev/null; rm -rf "$d"
