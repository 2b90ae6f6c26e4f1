#!/usr/bin/env bash
# The test command (README.md): installs what the tests need if missing — Debian's
# chromium and the pinned playwright-core — then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian package) for the browser test"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d clients/node_modules/playwright-core ] || [ clients/package-lock.json -nt clients/node_modules/.package-lock.json ]; then
  echo "installing playwright-core (npm) for the browser test"
  npm ci --prefix clients --no-audit --no-fund --loglevel=error
fi

cargo test --workspace
