# Helpers shared by loadtest/failover-ab.sh and loadtest/failover-spread.sh (sourced,
# not run). Expects `id` (the run id) to be set; engines listen on 127.0.0.1:818x.

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
