#!/usr/bin/env bash
# Installs the system packages the test suite needs when they are missing
# (Debian/apt machines). The Redis-backed tests start their own redis-server.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)

if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]} (install with your package manager; the Redis tests are skipped without it, and fail under CI=true)" >&2
  fi
fi
