# Sourced by the bench scripts: start_server PLUGINS starts the release alpaca-server on an
# embedded PostgreSQL in a temp dir with an admin token, creates a project, and sets
#   dir (temp dir), pid, base (http://127.0.0.1:PORT), token, id (project id).
# Everything it started is stopped, and the dir removed, on exit (define bench_cleanup for more).
bin=${ALPACA_SERVER_BIN:-build/release/bin/alpaca-server}

bench_exit() {
  declare -F bench_cleanup >/dev/null && bench_cleanup
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "${dir:-}" ] && rm -rf "$dir"
}

start_server() { # plugins (ALPACA_PLUGINS)
  local port=${BENCH_PORT:-18999}
  token="bench-admin-token-$(head -c8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  dir=$(mktemp -d /tmp/alpaca-bench.XXXXXX)
  chmod 755 "$dir"  # the embedded PostgreSQL's account must reach it
  trap bench_exit EXIT
  ALPACA_DATA_DIR="$dir" ALPACA_HTTP_PORT=$port ALPACA_ADMIN_TOKEN=$token \
    ALPACA_LOG_REQUESTS=${ALPACA_LOG_REQUESTS:-true} ALPACA_PLUGINS="$1" \
    "$bin" >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do curl -sf "localhost:$port/health" >/dev/null && break; sleep 0.1; done
  base="http://127.0.0.1:$port"
  id=$(curl -sf -X POST "$base/projects" -H "Authorization: Bearer $token" -d '{"name":"bench"}' |
    sed -E 's/.*"id":"([a-z0-9]+)".*/\1/')
  [ -n "$id" ] || { echo "server start or project creation failed" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
}
