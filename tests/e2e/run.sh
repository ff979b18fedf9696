#!/usr/bin/env bash
# End-to-end suite: the official supabase-js client against alpaca-server's /rest/v1.
# Installs tests/e2e/node_modules from the lock file when it is missing or the lock changed,
# then runs every tests/e2e/*.e2e.test.mjs one file at a time (each starts its own server).
# Environment: as tests/integration (ALPACA_SERVER_BIN, ALPACA_DATABASE_PLUGIN, ...).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

lock=tests/e2e/package-lock.json
stamp=tests/e2e/node_modules/.alpaca-lock.sha256
want="$(sha256sum "$lock" | cut -d' ' -f1)"
if [[ ! -d tests/e2e/node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "e2e: npm ci (node_modules missing or $lock changed)"
  npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

exec node --test --test-concurrency=1 tests/e2e/
