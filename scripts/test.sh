#!/usr/bin/env bash
# The test command (README.md): installs what the tests need if missing — Debian's
# chromium, Node.js/npm, Japanese fonts for the browser screenshots, the pinned
# playwright-core, Debian's prometheus package for `promtool` (the /metrics lint
# in tests/api/prometheus.rs) and mecab-ipadic (the knowledge base's Japanese
# dictionary sources) — then runs every test.
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
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages for the browser and metrics tests: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -d clients/node_modules/playwright-core ] || [ clients/package-lock.json -nt clients/node_modules/.package-lock.json ]; then
  echo "installing playwright-core (npm) for the browser test"
  npm ci --prefix clients --no-audit --no-fund --loglevel=error
fi

cargo test --workspace
