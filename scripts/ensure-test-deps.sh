#!/usr/bin/env bash
# Installs the system packages the test suite needs when they are missing
# (Debian/apt machines): redis-server (the Redis-backed tests start their own),
# Chromium at /usr/bin/chromium (the browser tests drive it with playwright-core),
# Firefox ESR at /usr/bin/firefox-esr (tests/e2e/firefox-streams.test.ts drives it over WebDriver BiDi)
# and iproute2's ss.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/firefox-esr ] || need+=(firefox-esr)
# tests/integration/server-process.test.ts reads the listen backlog with iproute2's ss.
command -v ss >/dev/null 2>&1 || need+=(iproute2)

if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]} (install with your package manager; the test run fails without them unless SKIP_REDIS=1 / SKIP_BROWSER=1)" >&2
  fi
fi
