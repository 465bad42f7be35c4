#!/usr/bin/env bash
# Installs what the test suite needs beyond Go modules: Debian's chromium for
# the browser test and playwright-core (npm) to drive it, and Debian's
# prometheus-node-exporter and prometheus-blackbox-exporter for the scrape
# source's tests, and Debian's clickhouse-server (18.16) that the
# store/clickhouse tests start on a free port themselves, and Debian's
# prometheus-alertmanager that the alert package's round-trip test starts.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
if ! command -v prometheus-node-exporter >/dev/null 2>&1 || ! command -v prometheus-blackbox-exporter >/dev/null 2>&1; then
  echo "installing prometheus-node-exporter and prometheus-blackbox-exporter (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus-node-exporter prometheus-blackbox-exporter >/dev/null
fi
if ! command -v clickhouse-server >/dev/null 2>&1 && ! command -v clickhouse >/dev/null 2>&1; then
  echo "installing clickhouse-server (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends clickhouse-server >/dev/null
fi
if ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  echo "installing prometheus-alertmanager (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
fi
if [ ! -d ui/e2e/node_modules/playwright-core ]; then
  echo "installing playwright-core (npm)"
  (cd ui/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
go mod download
