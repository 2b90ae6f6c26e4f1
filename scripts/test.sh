#!/usr/bin/env bash
# The test command (README.md): installs what the tests need if missing — Debian's
# chromium, Node.js/npm, Japanese fonts for the browser screenshots, the pinned
# playwright-core and typescript, Debian's prometheus package for `promtool` (the
# /metrics lint in tests/api/prometheus.rs), openapi-spec-validator from PyPI (the
# OpenAPI document test) and mecab-ipadic (the knowledge base's
# Japanese dictionary sources), Java 17 and Maven for Apache Cassandra, libfaketime
# (an engine under a moved clock) — then
# type-checks the web clients, starts a real Apache Cassandra (scripts/cassandra.sh:
# fetched from Maven Central, one node on 127.0.0.11) for the CQL store's tests, runs
# every test, and stops Cassandra.
# With SCYLLA_URI already set, the CQL tests run against that database instead.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -d /usr/share/fonts/opentype/ipafont-gothic ] || missing+=(fonts-ipafont-gothic)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# The knowledge base's Japanese dictionary sources (IPADIC, compiled at run time).
[ -d /usr/share/mecab/dic/ipadic ] || missing+=(mecab-ipadic)
# Apache Cassandra for the CQL store's tests: Java 17 runs it, Maven fetches it.
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# libfaketime: an engine under a moved wall clock (tests/api_cql/clock_skew.rs).
command -v faketime >/dev/null 2>&1 || missing+=(faketime)
# iproute2: network namespaces, veth pairs and routes for the partition tests
# (tests/api_cql/netns.rs).
PATH="$PATH:/usr/sbin:/sbin" command -v ip >/dev/null 2>&1 || missing+=(iproute2)
# A virtual environment for the OpenAPI validator (below).
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages for the browser and metrics tests: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -d clients/node_modules/playwright-core ] || [ ! -x clients/node_modules/.bin/tsc ] \
  || [ clients/package-lock.json -nt clients/node_modules/.package-lock.json ]; then
  echo "installing playwright-core and typescript (npm) for the browser tests and the type check"
  npm ci --prefix clients --no-audit --no-fund --loglevel=error
fi

# The OpenAPI 3.1 validator that checks the served document (tests/api/openapi.rs),
# pinned, from PyPI, in a virtual environment of its own.
validator_env=".cache/openapi-validator"
if [ ! -x "$validator_env/bin/openapi-spec-validator" ]; then
  echo "installing openapi-spec-validator (PyPI) for the OpenAPI document test"
  python3 -m venv "$validator_env"
  "$validator_env/bin/pip" install --quiet --disable-pip-version-check 'openapi-spec-validator==0.9.0'
fi
export OPENAPI_VALIDATOR="$PWD/$validator_env/bin/openapi-spec-validator"

# The web clients are plain JavaScript with JSDoc types: a type error fails the run
# before any Rust test (clients/tsconfig.json, clients/tests/tsconfig.json).
echo "type-checking the web clients (tsc)"
clients/node_modules/.bin/tsc -p clients
clients/node_modules/.bin/tsc -p clients/tests

if [ -z "${SCYLLA_URI:-}" ]; then
  cassandra_dir=".cache/cassandra/test-1node"
  trap 'scripts/cassandra.sh stop --dir "$cassandra_dir"' EXIT
  echo "starting Apache Cassandra for the CQL store tests (scripts/cassandra.sh)"
  # A 2 GiB heap: the multi-process cluster tests leave their keyspaces (about 30
  # tables, ~1 MiB each) until the run ends, and 1 GiB ran out of heap under a day's
  # repeated runs here.
  contact_points="$(scripts/cassandra.sh start --nodes 1 --first 11 --unsafe-schema --heap 2g --dir "$cassandra_dir")"
  export SCYLLA_URI="$contact_points"
fi
echo "CQL tests run against SCYLLA_URI=$SCYLLA_URI"

cargo test --workspace
